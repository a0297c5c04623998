"""OMS bundle format against the bundles model_signing 1.0.0 and 1.1.0 wrote.

Signatures are checked here with pyca directly (the format layer does no crypto), so these
tests pin the facts the sign/verify feature relies on: P-384 keys sign with SHA-384 over
the DSSE PAE, the key hint is SHA-256 of the SPKI PEM, the subject digest is SHA-256 over
the raw resource digests.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from pqml.errors import PqmlError
from pqml.formats import oms
from pqml.formats.oms import BundleFormatError

from conftest import vector

VECTORS = ("v1.0.0-elliptic-key", "v1.1.0-elliptic-key", "v1.1.0-certificate")
KEY_VECTORS = ("v1.0.0-elliptic-key", "v1.1.0-elliptic-key")


def vector_dir(name: str) -> Path:
    return vector("oms", name)


def raw_bundle(name: str) -> bytes:
    return (vector_dir(name) / "model.sig").read_bytes()


def key_file(name: str) -> bytes:
    return vector("oms", "keys", name).read_bytes()


def public_key() -> ec.EllipticCurvePublicKey:
    # The PEM file starts with certtool's text dump; pyca skips to the armour.
    key = serialization.load_pem_public_key(key_file("signing-key-pub.pem"))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def ecdsa_hash(key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    """model_signing's rule: the hash follows the curve size."""
    return {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]


def verify_ecdsa(key: ec.EllipticCurvePublicKey, sig: bytes, payload: bytes) -> None:
    key.verify(sig, oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, payload), ec.ECDSA(ecdsa_hash(key)))


# --- parsing and the statement --------------------------------------------------------------


@pytest.mark.parametrize("name", VECTORS)
def test_parse_vector(name: str) -> None:
    bundle = oms.parse_bundle(raw_bundle(name))
    assert bundle.media_type == oms.BUNDLE_MEDIA_TYPE
    assert bundle.envelope.payload_type == oms.IN_TOTO_PAYLOAD_TYPE
    assert len(bundle.envelope.signatures) == 1
    statement = bundle.statement()
    assert statement.serialization.method == "files"
    assert statement.serialization.hash_type == "sha256"
    assert statement.serialization.allow_symlinks is False
    assert all(r.algorithm == "sha256" for r in statement.resources)


def hash_model(directory: Path, ignore: tuple[str, ...]) -> dict[str, str]:
    """Independent re-serialisation: sha256 of every file not under an ignored path."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if not path.is_file() or any(rel.is_relative_to(p) for p in ignore):
            continue
        out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("name", ["v1.1.0-elliptic-key", "v1.1.0-certificate"])
def test_resource_digests_match_directory(name: str) -> None:
    statement = oms.parse_bundle(raw_bundle(name)).statement()
    ignore = statement.serialization.ignore_paths
    assert {"ignore-me", "model.sig"} <= set(ignore)
    assert (vector_dir(name) / "ignore-me").is_file()  # present on disk, yet not signed
    assert statement.subject_name == name  # model_signing names the subject after the dir
    expected = {r.name: r.digest for r in statement.resources}
    assert hash_model(vector_dir(name), ignore) == expected
    assert "ignore-me" not in expected


def test_single_file_model_is_named_dot() -> None:
    """model_signing 1.0.0 signed the file signme-1 itself: one resource called '.'."""
    statement = oms.parse_bundle(raw_bundle("v1.0.0-elliptic-key")).statement()
    assert statement.subject_name == "signme-1"
    assert [r.name for r in statement.resources] == ["."]
    data = (vector_dir("v1.0.0-elliptic-key") / "signme-1").read_bytes()
    assert statement.resources[0].digest == hashlib.sha256(data).hexdigest()
    assert statement.serialization.ignore_paths == ()


@pytest.mark.parametrize("name", VECTORS)
def test_subject_digest_rule(name: str) -> None:
    bundle = oms.parse_bundle(raw_bundle(name))
    raw = json.loads(bundle.envelope.payload)
    concatenated = b"".join(bytes.fromhex(r["digest"]) for r in raw["predicate"]["resources"])
    expected = hashlib.sha256(concatenated).hexdigest()
    assert raw["subject"][0]["digest"]["sha256"] == expected
    statement = bundle.statement()
    assert oms.subject_digest(statement.resources) == expected == statement.subject_digest


@pytest.mark.parametrize("name", VECTORS)
def test_build_statement_reproduces_vector(name: str) -> None:
    statement = oms.parse_bundle(raw_bundle(name)).statement()
    shuffled = list(statement.resources)
    random.Random(4).shuffle(shuffled)
    built = oms.build_statement(reversed(shuffled), statement.serialization, statement.subject_name)
    assert built == statement
    assert oms.statement_from_payload(built.to_payload()) == built


def test_build_statement_sorts_like_model_signing() -> None:
    """Order is by path components: 'a/b' before 'a-b' although '-' < '/' as characters."""
    digest = "00" * 32
    names = ["a-b", "a/b", "B", "a/a/z", "a"]
    built = oms.build_statement([oms.Resource(n, digest) for n in names], oms.Serialization(), "m")
    assert [r.name for r in built.resources] == ["B", "a", "a/a/z", "a/b", "a-b"]
    shards = oms.Serialization(method="shards", shard_size=10)
    built = oms.build_statement(
        [oms.Resource(n, digest, "sha256-sharded-10") for n in ["f:10:12", "f:0:10", "e:0:0"]],
        shards,
        "m",
    )
    assert [r.name for r in built.resources] == ["e:0:0", "f:0:10", "f:10:12"]


# --- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KEY_VECTORS)
def test_key_method_signature_verifies(name: str) -> None:
    key = public_key()
    assert key.curve.name == "secp384r1"
    bundle = oms.parse_bundle(raw_bundle(name))
    verify_ecdsa(key, bundle.envelope.signatures[0].sig, bundle.envelope.payload)
    assert bundle.envelope.pae() == oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, bundle.envelope.payload)
    with pytest.raises(InvalidSignature):  # the curve fixes the hash: SHA-256 is wrong here
        key.verify(
            bundle.envelope.signatures[0].sig, bundle.envelope.pae(), ec.ECDSA(hashes.SHA256())
        )


def test_key_hint_matches_vector() -> None:
    content = oms.parse_bundle(raw_bundle("v1.1.0-elliptic-key")).verification_material.content
    assert isinstance(content, oms.PublicKeyIdentifier)
    der = public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert oms.key_hint(der) == content.hint
    # Not the DER hash, and not the hash of the PEM file as stored (it has a text preamble).
    assert content.hint != hashlib.sha256(der).hexdigest()
    assert content.hint != hashlib.sha256(key_file("signing-key-pub.pem")).hexdigest()


def test_key_hint_matches_pyca_pem_for_other_key_sizes() -> None:
    keys = [
        ec.generate_private_key(ec.SECP256R1()).public_key(),
        ec.generate_private_key(ec.SECP521R1()).public_key(),
        ed25519.Ed25519PrivateKey.generate().public_key(),
        rsa.generate_private_key(65537, 2048).public_key(),
    ]
    for key in keys:
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert oms.key_hint(der) == hashlib.sha256(pem).hexdigest()
    with pytest.raises(BundleFormatError):
        oms.key_hint(b"")


def test_legacy_v1_0_public_key_material() -> None:
    """1.0.0 wrote the key's PEM (not DER) base64'd into rawBytes, and keyid null."""
    bundle = oms.parse_bundle(raw_bundle("v1.0.0-elliptic-key"))
    content = bundle.verification_material.content
    assert isinstance(content, oms.PublicKeyIdentifier)
    assert content.hint is None
    assert content.key_details == "PKIX_ECDSA_P384_SHA_384"
    assert content.raw_bytes is not None and content.raw_bytes.startswith(b"-----BEGIN")
    assert serialization.load_pem_public_key(content.raw_bytes) == public_key()
    assert bundle.envelope.signatures[0].keyid is None
    assert bundle.verification_material.tlog_entries == ()


def load_chain(bundle: oms.Bundle) -> list[x509.Certificate]:
    content = bundle.verification_material.content
    assert isinstance(content, oms.CertificateChain)
    return [x509.load_der_x509_certificate(der) for der in content.certificates]


def test_certificate_method_signature_and_chain() -> None:
    bundle = oms.parse_bundle(raw_bundle("v1.1.0-certificate"))
    chain = load_chain(bundle)
    leaf, intermediate = chain  # model_signing writes leaf + given chain, not the root
    root = x509.load_pem_x509_certificate(key_file("ca-cert.pem"))
    assert leaf == x509.load_pem_x509_certificate(key_file("signing-key-cert.pem"))
    assert intermediate == x509.load_pem_x509_certificate(key_file("int-ca-cert.pem"))
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    with pytest.raises((ValueError, InvalidSignature)):
        leaf.verify_directly_issued_by(root)
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    key = leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key == public_key()  # the vectors reuse one P-384 key for both methods
    verify_ecdsa(key, bundle.envelope.signatures[0].sig, bundle.envelope.payload)


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("name", VECTORS)
def test_tampering_breaks_signature(name: str) -> None:
    bundle = oms.parse_bundle(raw_bundle(name))
    payload, sig = bundle.envelope.payload, bundle.envelope.signatures[0].sig
    key = public_key()
    verify_ecdsa(key, sig, payload)
    for index in (0, len(payload) // 2, len(payload) - 1):
        with pytest.raises(InvalidSignature):
            verify_ecdsa(key, sig, flip(payload, index))
    for index in (len(sig) // 2, len(sig) - 1):
        with pytest.raises(InvalidSignature):
            verify_ecdsa(key, flip(sig, index), payload)


def test_sign_new_bundle_round_trip() -> None:
    """What pqml sign will do for a model_signing-compatible ECDSA signature."""
    private = serialization.load_pem_private_key(key_file("signing-key.pem"), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    statement = oms.build_statement(
        [oms.Resource("w/model.bin", "11" * 32), oms.Resource("config.json", "22" * 32)],
        oms.Serialization(ignore_paths=("model.sig",)),
        "my-model",
    )
    payload = statement.to_payload()
    sig = private.sign(oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA384()))
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bundle = oms.Bundle(
        oms.VerificationMaterial(oms.PublicKeyIdentifier(hint=oms.key_hint(der))),
        oms.Envelope(payload, (oms.Signature(sig, keyid=""),)),
    )
    text = bundle.to_json()
    parsed = oms.parse_bundle(text)
    assert parsed == bundle
    assert parsed.statement() == statement
    verify_ecdsa(public_key(), parsed.envelope.signatures[0].sig, parsed.envelope.payload)
    obj = json.loads(text)
    assert list(obj) == ["mediaType", "verificationMaterial", "dsseEnvelope"]
    assert obj["verificationMaterial"] == {
        "publicKey": {"hint": oms.key_hint(der)},
        "tlogEntries": [],
    }


# --- JSON round trip --------------------------------------------------------------------------


@pytest.mark.parametrize("name", VECTORS)
def test_json_round_trip(name: str) -> None:
    bundle = oms.parse_bundle(raw_bundle(name))
    text = bundle.to_json()
    again = oms.parse_bundle(text)
    assert again == bundle
    assert again.to_json() == text


@pytest.mark.parametrize("name", ["v1.1.0-elliptic-key", "v1.1.0-certificate"])
def test_json_byte_identical_to_model_signing_1_1(name: str) -> None:
    raw = raw_bundle(name)
    assert oms.parse_bundle(raw).to_json() == raw


# --- PAE ----------------------------------------------------------------------------------------


def test_pae_spec_vector() -> None:
    # DSSE protocol.md worked example.
    assert (
        oms.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert oms.pae("t", b"") == b"DSSEv1 1 t 0 "
    assert oms.pae("é", "é".encode()) == "DSSEv1 2 é 2 é".encode()  # byte lengths


# --- malformed input ----------------------------------------------------------------------------


def base_obj() -> dict:
    return json.loads(raw_bundle("v1.1.0-elliptic-key"))


def base_statement() -> dict:
    return json.loads(base64.b64decode(base_obj()["dsseEnvelope"]["payload"]))


def encode(obj: dict) -> bytes:
    return json.dumps(obj).encode()


def with_statement(statement: dict, *, fix_subject: bool = True) -> bytes:
    if fix_subject:  # keep the subject consistent so the test hits the rule it targets
        try:
            resources = statement["predicate"]["resources"]
            concatenated = b"".join(bytes.fromhex(r["digest"]) for r in resources)
            statement["subject"][0]["digest"]["sha256"] = hashlib.sha256(concatenated).hexdigest()
        except (KeyError, IndexError, TypeError, ValueError):
            pass
    obj = base_obj()
    obj["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return encode(obj)


def rejects(data: bytes, match: str) -> None:
    with pytest.raises(BundleFormatError, match=match) as info:
        oms.parse_bundle(data)
    assert isinstance(info.value, PqmlError) and isinstance(info.value, ValueError)


def test_mutated_statement_baseline_parses() -> None:
    oms.parse_bundle(with_statement(base_statement()))


DELETE = object()


def set_at(obj: dict, dotted: str, value: object) -> None:
    """Set (or delete, with DELETE) the value at a dotted path; digits index lists."""
    keys: list[str | int] = [int(k) if k.isdigit() else k for k in dotted.split(".")]
    target: object = obj
    for key in keys[:-1]:
        target = target[key]  # type: ignore[index]
    if value is DELETE:
        del target[keys[-1]]  # type: ignore[index]
    else:
        target[keys[-1]] = value  # type: ignore[index]


SIG0 = "dsseEnvelope.signatures.0"
BUNDLE_MUTATIONS = [
    ("mediaType", "application/vnd.dev.sigstore.bundle+json;version=0.3", "mediaType"),
    ("dsseEnvelope.payloadType", "application/json", "payloadType"),
    ("dsseEnvelope.payload", "!!!!", "invalid base64"),
    ("dsseEnvelope.payload", "-_-_", "invalid base64"),  # URL-safe alphabet
    ("dsseEnvelope.payload", "YWI", "invalid base64"),  # missing padding
    ("dsseEnvelope.payload", "YWJ=", "non-canonical"),  # non-zero pad bits
    ("dsseEnvelope.payload", 5, "base64 string"),
    (f"{SIG0}.sig", "MEUCIQ*", "invalid base64"),
    ("dsseEnvelope.signatures", [], "at least one signature"),
    (f"{SIG0}.keyid", 7, "keyid"),
    (f"{SIG0}.extra", 1, "unknown key"),
    ("extra", 1, "unknown key"),
    ("verificationMaterial.extra", 1, "unknown key"),
    ("dsseEnvelope", DELETE, "dsseEnvelope"),
    ("messageSignature", {}, "messageSignature"),
    ("verificationMaterial.x509CertificateChain", {"certificates": []}, "exactly one"),
    ("verificationMaterial.publicKey", DELETE, "exactly one"),
    ("verificationMaterial.publicKey.hint", 1, "hint"),
    ("verificationMaterial.tlogEntries", {}, "tlogEntries"),
]


@pytest.mark.parametrize(
    ("path", "value", "match"), BUNDLE_MUTATIONS, ids=[f"{p}={v!r}" for p, v, _ in BUNDLE_MUTATIONS]
)
def test_rejects_bundle_mutation(path: str, value: object, match: str) -> None:
    obj = base_obj()
    set_at(obj, path, value)
    rejects(encode(obj), match)


def test_rejects_bad_certificate_material() -> None:
    obj = json.loads(raw_bundle("v1.1.0-certificate"))
    chain = obj["verificationMaterial"]["x509CertificateChain"]
    for certs, match in (
        ([], "at least one certificate"),
        ([{"rawBytes": "not base64!"}], "invalid base64"),
        ([{"rawBytes": base64.b64encode(b"\x01\x02").decode()}], "not a DER certificate"),
        ([{}], "missing key 'rawBytes'"),
    ):
        bad = copy.deepcopy(obj)
        bad["verificationMaterial"]["x509CertificateChain"]["certificates"] = certs
        rejects(encode(bad), match)
    assert chain["certificates"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "invalid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "expected a JSON object"),
        (b'{"mediaType": 1, "mediaType": 2}', "duplicate key"),
        (b'{"mediaType": NaN}', "non-standard constant"),
    ],
)
def test_rejects_bad_json(data: bytes, match: str) -> None:
    rejects(data, match)


BAD_NAMES = [
    ("/etc/passwd", "absolute"),
    ("../escape", "'..' segment"),
    ("a/../../b", "'..' segment"),
    ("..", "'..' segment"),
    ("a\\b", "backslash"),
    ("..\\..\\x", "backslash"),
    ("a\x00b", "NUL"),
    ("a//b", "empty segment"),
    ("a/", "empty segment"),
    ("", "empty path"),
    ("./a", "'.' segment"),
    ("a/./b", "'.' segment"),
    ("C:/Windows", "drive letter"),
]


@pytest.mark.parametrize(("name", "match"), BAD_NAMES, ids=[repr(n) for n, _ in BAD_NAMES])
def test_rejects_bad_resource_name(name: str, match: str) -> None:
    statement = base_statement()
    statement["predicate"]["resources"][0]["name"] = name
    rejects(with_statement(statement), match)


@pytest.mark.parametrize(("name", "match"), BAD_NAMES, ids=[repr(n) for n, _ in BAD_NAMES])
def test_rejects_bad_ignore_path(name: str, match: str) -> None:
    statement = base_statement()
    statement["predicate"]["serialization"]["ignore_paths"].append(name)
    rejects(with_statement(statement), match)


def test_rejects_bad_names_when_building() -> None:
    for name, match in BAD_NAMES:
        with pytest.raises(BundleFormatError, match=match):
            oms.build_statement([oms.Resource(name, "00" * 32)], oms.Serialization(), "m")


def test_dot_only_for_single_file_model() -> None:
    statement = base_statement()
    statement["predicate"]["resources"][0]["name"] = "."
    rejects(with_statement(statement), "single-file")
    statement = base_statement()
    statement["predicate"]["serialization"]["ignore_paths"].append(".")  # would skip everything
    rejects(with_statement(statement), "'.' segment")


SER = "predicate.serialization"
RES0 = "predicate.resources.0"
STATEMENT_MUTATIONS = [
    ("predicateType", "https://model_signing/Digests/v0.1", "predicateType"),
    ("_type", "https://in-toto.io/Statement/v0.1", "_type"),
    ("subject", [], "exactly one subject"),
    ("subject.0.digest.sha512", "00" * 64, "unknown key"),
    ("predicate.resources", [], "non-empty"),
    (SER, DELETE, "serialization"),
    (f"{SER}.method", "tree", "unsupported method"),
    (f"{SER}.allow_symlinks", 0, "boolean"),
    (f"{SER}.method", "shards", "shard"),
    (f"{SER}.shard_size", 10, "shard_size"),
    (f"{SER}.x", 1, "unknown key"),
    (f"{SER}.ignore_paths", "x", "array"),
    (f"{RES0}.uri", "x", "unknown key"),
    ("extra", 1, "unknown key"),
    (f"{RES0}.digest", "AB" * 32, "lowercase hex"),
    (f"{RES0}.digest", "ab" * 31, "32 bytes"),
    (f"{RES0}.digest", "abc", "lowercase hex"),
    (f"{RES0}.digest", "ab" * 32 + "\n", "lowercase hex"),
    (f"{RES0}.algorithm", "", "algorithm"),
    (f"{RES0}.algorithm", "blake3", "does not match serialization"),
    (f"{RES0}.name", 1, "expected a string"),
]


@pytest.mark.parametrize(
    ("path", "value", "match"),
    STATEMENT_MUTATIONS,
    ids=[f"{p}={v!r}"[:60] for p, v, _ in STATEMENT_MUTATIONS],
)
def test_rejects_statement_mutation(path: str, value: object, match: str) -> None:
    statement = base_statement()
    set_at(statement, path, value)
    rejects(with_statement(statement), match)


def test_rejects_duplicate_resource_name() -> None:
    statement = base_statement()
    resources = statement["predicate"]["resources"]
    resources.append(dict(resources[0]))
    rejects(with_statement(statement), "duplicate resource name")
    statement = base_statement()
    statement["predicate"]["resources"][1]["name"] = resources[0]["name"]
    rejects(with_statement(statement), "duplicate resource name")


def test_rejects_two_subjects() -> None:
    statement = base_statement()
    statement["subject"].append(statement["subject"][0])
    rejects(with_statement(statement), "exactly one subject")


def test_rejects_subject_digest_mismatch() -> None:
    statement = base_statement()
    statement["subject"][0]["digest"]["sha256"] = "00" * 32
    rejects(with_statement(statement, fix_subject=False), "root digest")
    statement["subject"][0]["digest"]["sha256"] += "\n"
    rejects(with_statement(statement, fix_subject=False), "lowercase hex")


def test_rejects_non_json_payload() -> None:
    obj = base_obj()
    obj["dsseEnvelope"]["payload"] = base64.b64encode(b"not json").decode()
    rejects(encode(obj), "invalid JSON")


def test_unknown_predicate_fields_are_kept_not_trusted() -> None:
    """The v1.0 predicate tells verifiers to ignore extra fields; they survive a round trip."""
    statement = base_statement()
    statement["predicate"]["note"] = {"x": [1, 2]}
    parsed = oms.parse_bundle(with_statement(statement)).statement()
    assert parsed.extensions == {"note": {"x": [1, 2]}}
    assert oms.statement_from_payload(parsed.to_payload()) == parsed


def test_shard_names() -> None:
    shards = oms.Serialization(method="shards", shard_size=1000)
    alg = "sha256-sharded-1000"
    ok = oms.build_statement(
        [oms.Resource("d/f:0:1000", "00" * 32, alg), oms.Resource("d/f:1000:1500", "11" * 32, alg)],
        shards,
        "m",
    )
    assert oms.statement_from_payload(ok.to_payload()) == ok
    for name, match in (
        ("d/f", "path:start:end"),
        ("d/f:1:2:3", "path:start:end"),
        ("d/f:01:2", "non-canonical"),
        ("d/f:+1:2", "non-canonical"),
        ("d/f:1:2\n", "non-canonical"),
        ("d/f:5:2", "start > end"),
        ("../f:0:1", "'..' segment"),
        ("/f:0:1", "absolute"),
    ):
        with pytest.raises(BundleFormatError, match=match):
            oms.build_statement([oms.Resource(name, "00" * 32, alg)], shards, "m")


def test_constructors_validate() -> None:
    """Objects built in code obey the same rules as parsed ones (writers cannot emit junk)."""
    with pytest.raises(BundleFormatError):
        oms.Envelope(b"{}", (oms.Signature(b"s"),), payload_type="text/plain")
    with pytest.raises(BundleFormatError):
        oms.Envelope(b"{}", ())
    with pytest.raises(BundleFormatError):
        oms.Signature(b"")
    with pytest.raises(BundleFormatError):
        oms.CertificateChain(())
    with pytest.raises(BundleFormatError):
        oms.Resource("a", "zz")
    with pytest.raises(BundleFormatError):
        oms.Serialization(ignore_paths=["a"])  # type: ignore[arg-type]
    good = oms.build_statement([oms.Resource("a", "00" * 32)], oms.Serialization(), "m")
    with pytest.raises(BundleFormatError, match="root digest"):
        oms.Statement("m", "11" * 32, good.serialization, good.resources)
    material = oms.VerificationMaterial(oms.PublicKeyIdentifier(hint="h"))
    envelope = oms.Envelope(good.to_payload(), (oms.Signature(b"s"),))
    with pytest.raises(BundleFormatError):
        oms.Bundle(material, envelope, media_type="application/json")


def test_single_certificate_and_opaque_log_data_round_trip() -> None:
    """Keyless-style material is modelled too; log data is carried verbatim, not trusted."""
    obj = json.loads(raw_bundle("v1.1.0-certificate"))
    vm = obj["verificationMaterial"]
    leaf = vm.pop("x509CertificateChain")["certificates"][0]
    vm["certificate"] = leaf
    vm["tlogEntries"] = [{"logIndex": "1", "kindVersion": {"kind": "dsse", "version": "0.0.1"}}]
    vm["timestampVerificationData"] = {"rfc3161Timestamps": []}
    bundle = oms.parse_bundle(encode(obj))
    assert isinstance(bundle.verification_material.content, oms.Certificate)
    assert bundle.verification_material.tlog_entries[0]["logIndex"] == "1"
    assert json.loads(bundle.to_json()) == obj
    assert oms.parse_bundle(bundle.to_json()) == bundle


_DRIVE_LIKE = re.compile(r"^[A-Za-z]:")
_segment = st.text(alphabet="abcXYZ019-_.: é", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..") and not _DRIVE_LIKE.match(s)
)


@settings(max_examples=60, deadline=None)
@given(
    names=st.sets(st.lists(_segment, min_size=1, max_size=3).map("/".join), min_size=1),
    data=st.data(),
)
def test_round_trip_property(names: set[str], data: st.DataObject) -> None:
    resources = [
        oms.Resource(n, data.draw(st.binary(min_size=32, max_size=32)).hex()) for n in names
    ]
    statement = oms.build_statement(resources, oms.Serialization(), "model")
    assert oms.statement_from_payload(statement.to_payload()) == statement
    bundle = oms.Bundle(
        oms.VerificationMaterial(oms.PublicKeyIdentifier(hint="x")),
        oms.Envelope(statement.to_payload(), (oms.Signature(b"\x30\x00", keyid=""),)),
    )
    assert oms.parse_bundle(bundle.to_json()) == bundle
