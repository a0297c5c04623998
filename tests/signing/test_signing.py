"""Sign and verify through the Python API: every signature family, hybrids, trust policy,
integrity diffs, symlinks, traversal, and the model_signing vectors."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

import pqml
from pqml.errors import (
    IntegrityError,
    PolicyError,
    PolicyFileError,
    PqmlError,
    SignatureVerificationError,
    TrustPolicyError,
    UnsafePathError,
    UnsignedFileError,
)
from pqml.formats import keyfile, oms
from pqml.primitives import registry
from pqml.signing import signing
from pqml.signing.policy import key_hint

from conftest import vector as repo_vector

_KEYS: dict[str, object] = {}


def key(alg: str):
    """One key per algorithm for the whole run (RSA and SLH-DSA keygen are slow)."""
    if alg not in _KEYS:
        if not registry.get(alg).available:
            pytest.skip(f"{alg}: backend not installed")
        _KEYS[alg] = pqml.generate_key(alg, allow_classical=True)
    return _KEYS[alg]


def make_model(root: Path, files: dict[str, bytes] | None = None) -> Path:
    files = files or {
        "config.json": b'{"hidden": 8}',
        "weights/model.safetensors": bytes(range(256)) * 64,
        "tokenizer.json": b'{"vocab": []}',
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model")


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


ALGORITHMS = [
    "ML-DSA-44", "ML-DSA-65", "ML-DSA-87", "SLH-DSA-SHA2-128f", "SLH-DSA-SHAKE-192f",
    "Falcon-512", "MLDSA65-Ed25519-SHA512", "MLDSA44-ECDSA-P256-SHA256", "Ed25519",
    "ECDSA-P256", "ECDSA-P384", "ECDSA-P521", "RSA-PSS",
]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_round_trip_every_family(model: Path, alg: str) -> None:
    sk = key(alg)
    before = snapshot(model)
    result = signing.sign_model(model, [sk])
    assert result.signature == model / "model.sig"
    assert snapshot(model) == {**before, "model.sig": snapshot(model)["model.sig"]}
    verified = signing.verify_model(model, [sk.public_key()])
    assert verified.ok and [c.status for c in verified.signatures] == ["verified"]
    check = verified.signatures[0]
    assert check.algorithm == alg
    assert check.quantum_vulnerable == registry.get(alg).quantum_vulnerable
    assert verified.root_digest == result.root_digest
    assert {f.name for f in verified.files if f.status == "ok"} == {
        "config.json", "weights/model.safetensors", "tokenizer.json"}
    classical = registry.get(alg).quantum_vulnerable
    assert any("quantum-vulnerable" in w for w in verified.warnings) == classical
    assert any("quantum-vulnerable" in w for w in result.warnings) == classical


def test_hybrid_envelope(model: Path) -> None:
    ec, ml, slh = key("ECDSA-P256"), key("ML-DSA-65"), key("SLH-DSA-SHA2-128f")
    result = signing.sign_model(model, [ec, ml, slh])
    bundle = oms.parse_bundle(result.signature.read_bytes())
    sigs = bundle.envelope.signatures
    assert [s.keyid for s in sigs] == [key_hint(k.public_key()) for k in (ec, ml, slh)]
    material = bundle.verification_material.content
    assert isinstance(material, oms.PublicKeyIdentifier)
    der = keyfile.public_key_to_der(ec.public_key())
    assert material.hint == oms.key_hint(der)  # model_signing checks this against its key
    assert bundle.statement().serialization.method == "files"  # ECDSA first: auto -> files
    verified = signing.verify_model(model, [ml.public_key(), ec.public_key(),
                                            slh.public_key()], require_pq=True)
    assert [(c.index, c.algorithm, c.status) for c in verified.signatures] == [
        (0, "ECDSA-P256", "verified"), (1, "ML-DSA-65", "verified"),
        (2, "SLH-DSA-SHA2-128f", "verified")]
    assert not any("quantum-vulnerable" in w for w in verified.warnings)
    # Trusting only the PQ key: the ECDSA signature is simply not one of ours.
    only_pq = signing.verify_model(model, [ml.public_key()], require_pq=True)
    assert [c.status for c in only_pq.signatures] == ["untrusted", "verified", "untrusted"]


def test_require_pq(model: Path) -> None:
    ec, ml = key("ECDSA-P256"), key("ML-DSA-65")
    signing.sign_model(model, [ec, ml])
    with pytest.raises(TrustPolicyError, match="no post-quantum signature") as info:
        signing.verify_model(model, [ec.public_key()], require_pq=True)
    report = info.value.report
    assert [c.status for c in report.signatures] == ["verified", "untrusted"]
    assert report.files == ()  # the policy fails before any file is read
    classical = signing.verify_model(model, [ec.public_key()])
    assert any("quantum-vulnerable" in w for w in classical.warnings)


def test_bad_signature_from_trusted_key_fails_even_if_another_verifies(model: Path) -> None:
    ec, ml = key("ECDSA-P256"), key("ML-DSA-65")
    sig = signing.sign_model(model, [ec, ml]).signature
    obj = json.loads(sig.read_bytes())
    raw = bytearray(base64.b64decode(obj["dsseEnvelope"]["signatures"][1]["sig"]))
    raw[10] ^= 1
    obj["dsseEnvelope"]["signatures"][1]["sig"] = base64.b64encode(raw).decode()
    sig.write_text(json.dumps(obj))
    with pytest.raises(SignatureVerificationError, match=r"signature 2 .*does not verify") as info:
        signing.verify_model(model, [ec.public_key(), ml.public_key()])
    assert [c.status for c in info.value.report.signatures] == ["verified", "failed"]
    # Not trusting the ML-DSA key, the bundle is just ECDSA-signed.
    signing.verify_model(model, [ec.public_key()])


def test_wrong_key_and_tampered_payload(model: Path) -> None:
    ml = key("ML-DSA-65")
    sig = signing.sign_model(model, [ml]).signature
    with pytest.raises(SignatureVerificationError, match="no signature verified"):
        signing.verify_model(model, [key("ML-DSA-87").public_key()])
    obj = json.loads(sig.read_bytes())
    payload = json.loads(base64.b64decode(obj["dsseEnvelope"]["payload"]))
    payload["subject"][0]["name"] = "other"
    obj["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    sig.write_text(json.dumps(obj))
    with pytest.raises(SignatureVerificationError, match="does not verify"):
        signing.verify_model(model, [ml.public_key()])


def test_no_trusted_key_is_a_usage_error(model: Path) -> None:
    signing.sign_model(model, [key("ML-DSA-65")])
    with pytest.raises(PolicyError, match="no trusted key"):
        signing.verify_model(model)


def test_keys_from_files(model: Path, tmp_path: Path) -> None:
    ml = key("ML-DSA-65")
    priv, pub = tmp_path / "ml.pem", tmp_path / "ml.pub"
    pqml.save_private_key(ml, priv)
    pqml.save_public_key(ml, pub)
    signing.sign_model(model, [priv])
    result = signing.verify_model(model, [pub])
    assert result.signatures[0].key_source == str(pub)
    kem = tmp_path / "kem.pem"
    pqml.save_private_key(pqml.generate_key("X-Wing"), kem)
    with pytest.raises(PqmlError, match="not a signature key"):
        signing.sign_model(model, [kem])
    with pytest.raises(PqmlError, match="not a signature key"):
        signing.verify_model(model, [kem])


# ---- hashing choices ----------------------------------------------------------------------


def statement(sig: Path) -> oms.Statement:
    return oms.parse_bundle(sig.read_bytes()).statement()


def test_method_auto_and_explicit(model: Path) -> None:
    ml, ec = key("ML-DSA-65"), key("ECDSA-P256")
    s = statement(signing.sign_model(model, [ml]).signature).serialization
    assert (s.method, s.shard_size) == ("shards", 64 * 1024 * 1024)
    s = statement(signing.sign_model(model, [ec, ml], force=True).signature).serialization
    assert s.method == "files"
    s = statement(signing.sign_model(model, [ml], hash="blake3", force=True).signature
                  ).serialization
    assert (s.method, s.hash_type) == ("files", "blake3")
    s = statement(signing.sign_model(model, [ml], method="files", force=True).signature
                  ).serialization
    assert s.method == "files"
    result = signing.sign_model(model, [ec], shard_size=1000, force=True)
    s = statement(result.signature).serialization
    assert (s.method, s.shard_size) == ("shards", 1000)
    assert any("model_signing 1.1.1's verify command cannot" in w for w in result.warnings)
    signing.verify_model(model, [ec.public_key()])


def test_cnsa2_profile(model: Path) -> None:
    result = signing.sign_model(model, [key("ML-DSA-87")], profile="cnsa2")
    assert statement(result.signature).serialization.hash_type == "sha384"
    assert result.root_digest.startswith("sha384:")
    signing.verify_model(model, [key("ML-DSA-87").public_key()], require_pq=True)
    with pytest.raises(PolicyError, match="not allowed by profile 'cnsa2'"):
        signing.sign_model(model, [key("ML-DSA-65")], profile="cnsa2")
    with pytest.raises(PolicyError, match="not allowed"):
        signing.sign_model(model, [key("ML-DSA-87")], profile="cnsa2", hash="sha256")


def test_ecdsa_not_first_warns(model: Path) -> None:
    result = signing.sign_model(model, [key("ML-DSA-65"), key("ECDSA-P256")])
    assert any("first signature" in w for w in result.warnings)


# ---- integrity ----------------------------------------------------------------------------


@pytest.fixture
def signed(model: Path) -> Path:
    signing.sign_model(model, [key("ML-DSA-65")], method="files")
    return model


def verify_fails(model: Path, **kwargs) -> dict[str, str]:
    with pytest.raises(IntegrityError) as info:
        signing.verify_model(model, [key("ML-DSA-65").public_key()], **kwargs)
    report = info.value.report
    assert report is not None and not report.ok
    return {f.name: f.status for f in report.files}


def test_modified_same_size(signed: Path) -> None:
    path = signed / "weights/model.safetensors"
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    assert verify_fails(signed)["weights/model.safetensors"] == "modified"


def test_modified_size_is_caught_without_hashing(signed: Path) -> None:
    (signed / "config.json").write_bytes(b"{}")
    with pytest.raises(IntegrityError, match=r"modified config\.json") as info:
        signing.verify_model(signed, [key("ML-DSA-65").public_key()])
    entry = next(f for f in info.value.report.files if f.name == "config.json")
    assert entry.detail == "size 2, signed 13"


def test_removed(signed: Path) -> None:
    (signed / "tokenizer.json").unlink()
    assert verify_fails(signed)["tokenizer.json"] == "removed"


def test_renamed(signed: Path) -> None:
    (signed / "tokenizer.json").rename(signed / "vocab.json")
    statuses = verify_fails(signed)
    assert statuses["vocab.json"] == "renamed" and "tokenizer.json" not in statuses


def test_added_pickle_fails_unless_allowed(signed: Path) -> None:
    (signed / "extra.pkl").write_bytes(b"\x80\x04K\x01.")
    (signed / "notes.txt").write_text("hi")
    with pytest.raises(IntegrityError, match=r"unsigned pickle file extra\.pkl") as info:
        signing.verify_model(signed, [key("ML-DSA-65").public_key()])
    added = {f.name: f.pickle for f in info.value.report.files if f.status == "added"}
    assert added == {"extra.pkl": True, "notes.txt": False}
    result = signing.verify_model(signed, [key("ML-DSA-65").public_key()],
                                  allow_unsigned_files=True)
    assert any("extra.pkl (may hold a pickle" in w for w in result.warnings)
    assert {f.name for f in result.files if f.status == "added"} == {"extra.pkl", "notes.txt"}
    # Allowing unsigned files never excuses a modified one.
    (signed / "config.json").write_bytes(b'{"hidden": 9}')
    with pytest.raises(IntegrityError, match=r"modified config\.json"):
        signing.verify_model(signed, [key("ML-DSA-65").public_key()],
                             allow_unsigned_files=True)


def test_sharded_modification_and_empty_files(tmp_path: Path) -> None:
    model = make_model(tmp_path / "m", {"big.bin": bytes(5000), "empty": b""})
    signing.sign_model(model, [key("ML-DSA-65")], shard_size=1024)
    signing.verify_model(model, [key("ML-DSA-65").public_key()])
    (model / "empty").write_bytes(b"x")  # no shard covers it: the size record does
    assert verify_fails(model)["empty"] == "modified"
    (model / "empty").write_bytes(b"")
    data = bytearray((model / "big.bin").read_bytes())
    data[4500] = 1
    (model / "big.bin").write_bytes(bytes(data))
    assert verify_fails(model)["big.bin"] == "modified"


def test_ignore_paths_recorded_and_honored(model: Path) -> None:
    (model / "logs").mkdir()
    (model / "logs" / "run.txt").write_text("1")
    result = signing.sign_model(model, [key("ML-DSA-65")], ignore_paths=["logs"])
    assert set(statement(result.signature).serialization.ignore_paths) == {
        "logs", "model.sig", ".git", ".gitattributes", ".github", ".gitignore"}
    (model / "logs" / "run.txt").write_text("changed")
    (model / "logs" / "new.pkl").write_bytes(b"\x80\x04.")
    verified = signing.verify_model(model, [key("ML-DSA-65").public_key()])
    assert ("logs", "ignored") in {(f.name, f.status) for f in verified.files}
    with pytest.raises(UnsafePathError):
        signing.sign_model(model, [key("ML-DSA-65")], ignore_paths=["../elsewhere"])
    warned = signing.sign_model(model, [key("ML-DSA-65")], ignore_paths=["nothing-here"],
                                force=True)
    assert any("matches nothing" in w for w in warned.warnings)


def test_signature_outside_and_inside(model: Path, tmp_path: Path) -> None:
    outside = tmp_path / "sigs" / "m.sig"
    outside.parent.mkdir()
    result = signing.sign_model(model, [key("ML-DSA-65")], signature=outside)
    assert "m.sig" not in statement(outside).serialization.ignore_paths
    assert not (model / "model.sig").exists()
    signing.verify_model(model, [key("ML-DSA-65").public_key()], signature=outside)
    assert result.signature == outside
    with pytest.raises(PqmlError, match="no signature bundle"):
        signing.verify_model(model, [key("ML-DSA-65").public_key()])
    # A bundle kept inside the model under another name is never taken for a model file.
    inside = model / "sig.json"
    shutil.copy(outside, inside)
    signing.verify_model(model, [key("ML-DSA-65").public_key()], signature=inside)


def test_symlinks(model: Path, tmp_path: Path) -> None:
    (model / "alias.json").symlink_to("config.json")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        signing.sign_model(model, [key("ML-DSA-65")])
    signing.sign_model(model, [key("ML-DSA-65")], allow_symlinks=True)
    assert statement(model / "model.sig").serialization.allow_symlinks is True
    with pytest.raises(UnsafePathError, match="--allow-symlinks"):
        signing.verify_model(model, [key("ML-DSA-65").public_key()])
    signing.verify_model(model, [key("ML-DSA-65").public_key()], allow_symlinks=True)
    secret = tmp_path / "secret"
    secret.write_text('{"hidden": 8}')
    (model / "alias.json").unlink()
    (model / "alias.json").symlink_to(secret)  # same content, but outside the model
    with pytest.raises(UnsafePathError, match="outside"):
        signing.verify_model(model, [key("ML-DSA-65").public_key()], allow_symlinks=True)


def forged_bundle(model: Path, names: list[str]) -> Path:
    """A correctly signed bundle whose resource names try to escape the model."""
    sk = key("ML-DSA-65")
    digest = "00" * 32
    import hashlib

    subject = hashlib.sha256(bytes(32) * len(names)).hexdigest()
    payload = json.dumps({
        "_type": oms.STATEMENT_TYPE,
        "subject": [{"name": "m", "digest": {"sha256": subject}}],
        "predicateType": oms.PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            "resources": [{"name": n, "algorithm": "sha256", "digest": digest} for n in names],
        },
    }).encode()
    sig = sk.sign(oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, payload))
    bundle = {
        "mediaType": oms.BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": "x"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": oms.IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}],
        },
    }
    path = model / "model.sig"
    path.write_text(json.dumps(bundle))
    return path


@pytest.mark.parametrize("name", ["../secret", "/etc/passwd", "a\\..\\..\\secret",
                                  "weights/../../secret"])
def test_traversal_names_are_rejected_even_when_signed(model: Path, name: str) -> None:
    forged_bundle(model, ["config.json", name])
    with pytest.raises(oms.BundleFormatError, match=r"model\.sig: OMS bundle: predicate"):
        signing.verify_model(model, [key("ML-DSA-65").public_key()])


def test_single_file_model(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00" * 100)
    result = signing.sign_model(weights, [key("ML-DSA-65")])
    assert result.signature == tmp_path / "weights.bin.sig"
    signing.verify_model(weights, [key("ML-DSA-65").public_key()])
    weights.write_bytes(b"\x00" * 99 + b"\x01")
    with pytest.raises(IntegrityError, match="modified"):
        signing.verify_model(weights, [key("ML-DSA-65").public_key()])
    with pytest.raises(PqmlError, match="ignore paths apply only"):
        signing.sign_model(weights, [key("ML-DSA-65")], ignore_paths=["x"])


def test_shape_mismatch(tmp_path: Path, model: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"1")
    sig = signing.sign_model(weights, [key("ML-DSA-65")]).signature
    with pytest.raises(IntegrityError, match="covers a single file, but this is a directory"):
        signing.verify_model(model, [key("ML-DSA-65").public_key()], signature=sig)


def test_empty_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PqmlError, match="no files to sign"):
        signing.sign_model(tmp_path / "empty", [key("ML-DSA-65")])


def test_partial_verification(signed: Path) -> None:
    (signed / "tokenizer.json").write_text("tampered, but not asked for")
    (signed / "stray.pkl").write_bytes(b"\x80\x04.")
    result = signing.verify_model(signed, [key("ML-DSA-65").public_key()],
                                  files=["config.json"])
    assert result.partial and [f.name for f in result.files] == ["config.json"]
    with pytest.raises(IntegrityError):
        signing.verify_model(signed, [key("ML-DSA-65").public_key()], files=["tokenizer.json"])
    with pytest.raises(UnsignedFileError, match=r"stray\.pkl is not covered"):
        signing.verify_model(signed, [key("ML-DSA-65").public_key()], files=["stray.pkl"])


# ---- policy files -------------------------------------------------------------------------


def write_keys(tmp_path: Path) -> tuple[Path, Path]:
    ec_pub, ml_pub = tmp_path / "keys" / "ec.pub", tmp_path / "keys" / "ml.pub"
    ec_pub.parent.mkdir(exist_ok=True)
    if not ec_pub.exists():
        pqml.save_public_key(key("ECDSA-P256"), ec_pub)
        pqml.save_public_key(key("ML-DSA-65"), ml_pub)
    return ec_pub, ml_pub


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_policy_file(model: Path, tmp_path: Path, fmt: str) -> None:
    write_keys(tmp_path)
    signing.sign_model(model, [key("ECDSA-P256"), key("ML-DSA-65")])
    rules = {"trusted_keys": ["keys/ec.pub", "keys/ml.pub"], "require_pq": True,
             "required_algorithms": ["mldsa65"], "min_signatures": 2}
    path = tmp_path / f"policy.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(rules))
    else:
        path.write_text('trusted_keys = ["keys/ec.pub", "keys/ml.pub"]\nrequire_pq = true\n'
                        'required_algorithms = ["mldsa65"]\nmin_signatures = 2\n')
    result = signing.verify_model(model, policy=path)
    assert [c.status for c in result.signatures] == ["verified", "verified"]
    signing.sign_model(model, [key("ECDSA-P256")], force=True)
    with pytest.raises(TrustPolicyError, match="requires 2") as info:
        signing.verify_model(model, policy=path)
    assert "no verified ML-DSA-65 signature" in str(info.value)


@pytest.mark.parametrize("keyid", ["copied", "dropped"])
def test_duplicated_signature_entry_counts_once(model: Path, tmp_path: Path,
                                                keyid: str) -> None:
    """``min_signatures`` counts distinct trusted keys, not entries: copying the one
    signature in ``model.sig`` (with or without its key id) must not satisfy 2 (issue 18,
    item 13)."""
    write_keys(tmp_path)
    signing.sign_model(model, [key("ML-DSA-65")])
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"trusted_keys": ["keys/ec.pub", "keys/ml.pub"],
                                  "min_signatures": 2}))
    sig_path = model / "model.sig"
    obj = json.loads(sig_path.read_text())
    entries = obj["dsseEnvelope"]["signatures"]
    assert len(entries) == 1
    copy = dict(entries[0])
    if keyid == "dropped":
        copy.pop("keyid", None)
    entries.append(copy)
    sig_path.write_text(json.dumps(obj))
    with pytest.raises(TrustPolicyError, match="1 trusted key verified, the policy requires 2"
                       ) as info:
        signing.verify_model(model, policy=policy)
    assert [c.status for c in info.value.report.signatures] == ["verified", "verified"]


@pytest.mark.parametrize(("text", "match"), [
    ('{"trusted_keys": "keys/ec.pub"}', "list of strings"),
    ('{"trusted_key": []}', "unknown policy key 'trusted_key'"),
    ('{"require_pq": "yes"}', "true or false"),
    ('{"min_signatures": 0}', "positive integer"),
    ('{"required_algorithms": ["X-Wing"]}', "not a signature"),
    ('{"required_algorithms": ["nope"]}', "unknown algorithm"),
    ('{"version": 2}', "version"),
    ("{not json", "invalid JSON"),
    ("require_pq = [", "invalid TOML"),
    ("[1, 2]", "invalid TOML"),
])
def test_bad_policy_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / ("p.json" if text.startswith("{") else "p.toml")
    path.write_text(text)
    with pytest.raises(PolicyFileError, match=match) as info:
        pqml.load_policy(path)
    assert str(path) in str(info.value)


# ---- the model_signing vectors -------------------------------------------------------------


def vector(name: str) -> Path:
    return repo_vector("oms", name)


def vector_key(name: str) -> Path:
    return repo_vector("oms", "keys", name)


@pytest.mark.parametrize("name", ["v1.1.0-elliptic-key", "v1.0.0-elliptic-key/signme-1"])
def test_vectors_key_method(name: str) -> None:
    result = signing.verify_model(vector(name), [vector_key("signing-key-pub.pem")])
    assert result.ok and result.signatures[0].algorithm == "ECDSA-P384"
    assert any("quantum-vulnerable" in w for w in result.warnings)
    statuses = {f.name: f.status for f in result.files}
    if "elliptic-key/signme-1" in name:
        assert statuses == {".": "ok"}
    else:
        assert statuses == {"signme-1": "ok", "signme-2": "ok", "ignore-me": "ignored",
                            "model.sig": "ignored"}


@pytest.mark.parametrize("anchors", [["ca-cert.pem"], ["int-ca-cert.pem", "ca-cert.pem"]])
def test_vector_certificate_method(anchors: list[str]) -> None:
    result = signing.verify_model(vector("v1.1.0-certificate"),
                                  certificate_chain=[vector_key(a) for a in anchors])
    assert result.signatures[0].key_source == "certificate CN=intermediate-ca"
    assert result.signatures[0].status == "verified"


def test_vector_certificate_untrusted_anchor(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "other-ca")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(other.public_key()).serial_number(1)
            .not_valid_before(now - timedelta(days=3650)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(other, hashes.SHA256()))
    anchor = tmp_path / "other.pem"
    anchor.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(SignatureVerificationError, match="does not chain"):
        signing.verify_model(vector("v1.1.0-certificate"), certificate_chain=[anchor])


def test_vector_wrong_key_and_tampered_copy(tmp_path: Path) -> None:
    with pytest.raises(SignatureVerificationError):
        signing.verify_model(vector("v1.1.0-elliptic-key"), [key("ECDSA-P384").public_key()])
    copy = tmp_path / "v"
    shutil.copytree(vector("v1.1.0-elliptic-key"), copy)
    (copy / "signme-1").chmod(0o644)
    (copy / "signme-1").write_bytes(b"tampered!")
    with pytest.raises(IntegrityError, match="signme-1"):
        signing.verify_model(copy, [vector_key("signing-key-pub.pem")])
    shutil.copy(vector("v1.1.0-elliptic-key") / "signme-1", copy / "signme-1")
    (copy / "ignore-me").chmod(0o644)
    (copy / "ignore-me").write_bytes(b"ignored by the signer: fine")
    signing.verify_model(copy, [vector_key("signing-key-pub.pem")])


def test_colon_names_and_shards(tmp_path: Path) -> None:
    """Shard resources are 'path:start:end', so a ':' in a name forces the files method."""
    model = make_model(tmp_path / "m", {"epoch:3.ckpt": b"weights", "config.json": b"{}"})
    result = signing.sign_model(model, [key("ML-DSA-65")])
    assert result.manifest.method == "files"
    signing.verify_model(model, [key("ML-DSA-65").public_key()])
    with pytest.raises(UnsafePathError, match="names with ':'"):
        signing.sign_model(model, [key("ML-DSA-65")], shard_size=1024, force=True)
