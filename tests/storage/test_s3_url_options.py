# ruff: noqa: F811 - the moto fixtures are imported, then named as parameters
"""The options that used to be refused for URLs, on a real S3 server (moto) and on
``memory://``, with the same meaning as on local paths: ignore paths, certificate-method
bundles and their chains, CRLs, partial verification (``verify --only``), and rekey's
``--new-file-key`` and ``--drop-revoked`` (an object rewritten as a new object that
appears only when complete)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml.encryption import encrypted_formats as fmts
from pqml.encryption.rekey import NEW_FILE_KEY_GUARANTEE, rekey, rekey_many, revoked_keys
from pqml.errors import (
    IntegrityError,
    NoIdentityMatchError,
    PqmlError,
    RekeyError,
    RekeyManyError,
    SignatureVerificationError,
)
from pqml.formats import oms, pqml_v1
from pqml.formats.age import stream
from pqml.formats.age._io import Source
from pqml.formats.keyfile import private_key_to_pem, public_key_to_pem
from pqml.keys import key_files
from pqml.keys.ca import CertificateAuthority, crl_pem
from pqml.keys.keyring import Keyring
from pqml.keys.states import KeyState
from pqml.primitives import registry
from pqml.signing.errors import UnsafePathError, UnsignedFileError
from pqml.signing.signing import digest_as_recorded
from pqml.storage import open_stream
from storage.moto_server import bucket, s3, s3_endpoint  # noqa: F401 - fixtures

from conftest import cli_run

A = registry.scheme("X-Wing").generate()
B = registry.scheme("X-Wing").generate()
C = registry.scheme("X-Wing").generate()
DATA = os.urandom(300_001)
TREE = {"config.json": b'{"arch": "tiny"}', "weights/w-0.bin": os.urandom(200_000),
        "weights/w-1.bin": os.urandom(50_000), "logs/run.txt": b"step 1\n",
        "notes.md": b"draft", "empty.bin": b""}


@dataclass
class Store:
    """One object store under test: URLs under ``base`` and raw access to its objects."""

    base: str  # URL prefix, no trailing slash
    put: Callable[[str, bytes], None]  # relative name -> bytes
    get: Callable[[str], bytes]
    names: Callable[[], list[str]]  # every object under base, relative
    uploads: Callable[[], list[Any]]  # incomplete multipart uploads ([] off S3)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture
def s3_store(s3: Any, bucket: str) -> Store:
    root = f"{bucket}/t"

    def names() -> list[str]:
        return sorted(p[len(root) + 1:] for p in s3.find(root))

    return Store(f"s3://{root}", lambda n, d: s3.pipe_file(f"{root}/{n}", d),
                 lambda n: s3.cat_file(f"{root}/{n}"), names,
                 lambda: s3.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []))


@pytest.fixture
def memory_store() -> Iterator[Store]:
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/pqml-{uuid.uuid4().hex[:12]}"

    def names() -> list[str]:
        return sorted(p[len(root) + 1:] for p in fs.find(root))

    yield Store(f"memory:/{root}", lambda n, d: fs.pipe_file(f"{root}/{n}", d),
                lambda n: fs.cat_file(f"{root}/{n}"), names, lambda: [])
    fs.rm(root, recursive=True)


@pytest.fixture(params=["s3", "memory"])
def store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


def put_tree(store: Store, prefix: str, local: Path | None = None) -> str:
    for name, data in TREE.items():
        store.put(f"{prefix}/{name}", data)
        if local is not None:
            (local / name).parent.mkdir(parents=True, exist_ok=True)
            (local / name).write_bytes(data)
    return store.url(prefix)


def statement_of(data: bytes) -> oms.Statement:
    return oms.parse_bundle(data).statement()


# ---- ignore paths -------------------------------------------------------------------------


def test_ignore_paths_sign_as_locally(tmp_path: Path, store: Store) -> None:
    url = put_tree(store, "model", tmp_path / "model")
    key = pqml.generate_key("ml-dsa-65")
    remote = pqml.sign_model(url, [key], ignore_paths=["logs", f"{url}/notes.md"])
    local = pqml.sign_model(tmp_path / "model", [key], ignore_paths=["logs", "notes.md"])
    assert remote.root_digest == local.root_digest
    assert remote.ignore_paths == local.ignore_paths
    assert "logs" in remote.ignore_paths and "notes.md" in remote.ignore_paths
    assert set(remote.manifest.files) == set(local.manifest.files) == {
        "config.json", "weights/w-0.bin", "weights/w-1.bin", "empty.bin"}
    ours = statement_of(store.get("model/model.sig"))
    theirs = statement_of((tmp_path / "model" / "model.sig").read_bytes())
    assert ours == theirs  # the very statement: resources, serialization, sizes, name
    # the ignored objects may change; the bundle still verifies, and digest agrees
    store.put("model/logs/run.txt", b"step 2\n")
    assert pqml.verify_model(url, [key.public_key()]).root_digest == local.root_digest
    assert digest_as_recorded(url).root_digest == local.root_digest
    given = digest_as_recorded(url, ignore_paths=["logs", "notes.md"])
    assert given.root_digest == local.root_digest and given.overridden == ("ignore paths",)
    # an ignore path that names nothing is said, as locally
    warned = pqml.sign_model(url, [key], ignore_paths=["nothing-here"], force=True)
    assert any("'nothing-here' matches nothing" in w for w in warned.warnings)


def test_ignore_paths_outside_the_model_are_refused(memory_store: Store) -> None:
    url = put_tree(memory_store, "model")
    key = pqml.generate_key("ml-dsa-65")
    for bad in ["../other", memory_store.url("elsewhere/x"), "/etc/passwd"]:
        with pytest.raises(UnsafePathError):
            pqml.sign_model(url, [key], ignore_paths=[bad])
    with pytest.raises(PqmlError, match="ignore paths apply only to a model directory"):
        pqml.sign_model(f"{url}/config.json", [key], ignore_paths=["x"])
    assert "model/model.sig" not in memory_store.names()


def test_allow_symlinks_is_a_no_op_for_objects(memory_store: Store) -> None:
    """No object is a link: the flag is accepted, nothing changes, the bundle says
    what happened (no link followed)."""
    url = put_tree(memory_store, "model")
    key = pqml.generate_key("ml-dsa-65")
    plain = pqml.sign_model(url, [key]).root_digest
    result = pqml.sign_model(url, [key], allow_symlinks=True, force=True)
    assert result.root_digest == plain
    assert statement_of(memory_store.get("model/model.sig")).serialization.allow_symlinks \
        is False
    assert pqml.verify_model(url, [key.public_key()], allow_symlinks=True).ok
    assert digest_as_recorded(url, allow_symlinks=True).root_digest == plain


# ---- partial verification -----------------------------------------------------------------


def test_verify_only_hashes_the_named_objects(store: Store) -> None:
    url = put_tree(store, "model")
    key = pqml.generate_key("ml-dsa-65")
    pqml.sign_model(url, [key])
    store.put("model/weights/w-0.bin", b"tampered")  # not asked for
    with pytest.raises(IntegrityError, match=r"w-0\.bin"):
        pqml.verify_model(url, [key.public_key()])
    result = pqml.verify_model(url, [key.public_key()], files=["config.json"])
    assert result.ok and result.partial and result.root_digest is None
    assert [(f.name, f.status) for f in result.files] == [("config.json", "ok")]
    by_url = pqml.verify_model(url, [key.public_key()],
                               files=[f"{url}/weights/w-1.bin", "empty.bin"])
    assert sorted(f.name for f in by_url.files) == ["empty.bin", "weights/w-1.bin"]
    with pytest.raises(IntegrityError, match=r"modified weights/w-0\.bin") as info:
        pqml.verify_model(url, [key.public_key()], files=["weights/w-0.bin"])
    assert info.value.report is not None and info.value.report.partial
    store.put("model/config.json", b'{"arch": "huge"}')  # same size? no matter: hashed
    with pytest.raises(IntegrityError, match=r"config\.json"):
        pqml.verify_model(url, [key.public_key()], files=["config.json"])
    store.put("model/unsigned.bin", b"x")
    with pytest.raises(UnsignedFileError, match="not covered by the signature"):
        pqml.verify_model(url, [key.public_key()], files=["unsigned.bin"])
    with pytest.raises(UnsafePathError):
        pqml.verify_model(url, [key.public_key()], files=["../model/config.json"])


def test_verify_only_a_missing_object_is_removed(memory_store: Store) -> None:
    import fsspec

    url = put_tree(memory_store, "model")
    key = pqml.generate_key("ml-dsa-65")
    pqml.sign_model(url, [key])
    fsspec.filesystem("memory").rm(url[len("memory:/"):] + "/weights/w-1.bin")
    with pytest.raises(IntegrityError, match=r"removed weights/w-1\.bin"):
        pqml.verify_model(url, [key.public_key()], files=["weights/w-1.bin"])
    assert pqml.verify_model(url, [key.public_key()], files=["config.json"]).ok


def test_cli_sign_ignore_and_verify_only_on_a_url(tmp_path: Path, s3_store: Store) -> None:
    url = put_tree(s3_store, "model")
    key = key_files.generate("ML-DSA-65")
    key_files.save_private(key, tmp_path / "k.pem")
    (tmp_path / "k.pub").write_bytes(public_key_to_pem(key.public_key()))
    res = cli_run("sign", url, "-k", tmp_path / "k.pem", "--ignore-paths", "logs",
                  "--allow-symlinks", "--json")
    assert res.exit_code == 0, res.output
    assert "logs" in json.loads(res.stdout)["ignore_paths"]
    s3_store.put("model/weights/w-0.bin", b"tampered")
    res = cli_run("verify", url, "-k", tmp_path / "k.pub", "--only", "config.json")
    assert res.exit_code == 0, res.output
    assert "partial: only the files asked for" in res.stdout
    res = cli_run("verify", url, "-k", tmp_path / "k.pub", "--only", "weights/w-0.bin")
    assert res.exit_code == 1 and "modified" in res.output


# ---- certificate-method bundles and CRLs ----------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    root = CertificateAuthority.init(d / "root", subject="CN=Model Root")
    CertificateAuthority.init(d / "rel", parent=root, subject="CN=Release CA")
    return {"root": d / "root", "rel": d / "rel"}


@pytest.fixture
def ca(pki: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    shutil.copytree(pki["root"], tmp_path / "root")
    shutil.copytree(pki["rel"], tmp_path / "rel")
    key = key_files.generate("ML-DSA-65")
    key_files.save_private(key, tmp_path / "bot.pem")
    issued = CertificateAuthority.open(tmp_path / "rel").issue(key.public_key(),
                                                               subject="CN=release-bot")
    (tmp_path / "bot.crt").write_bytes(issued.pem)
    return {"rel": tmp_path / "rel", "key": tmp_path / "bot.pem", "cert": tmp_path / "bot.crt",
            "anchor": tmp_path / "root" / "ca.cert.pem", "chain": tmp_path / "rel" / "chain.pem"}


def test_certificate_bundles_cross_between_objects_and_files(tmp_path: Path, s3_store: Store,
                                                             ca: dict[str, Path]) -> None:
    local = tmp_path / "model"
    url = put_tree(s3_store, "model", local)
    made = pqml.sign_model(url, [ca["key"]], certificate=ca["cert"],
                           certificate_chain=[ca["chain"]])
    bundle = s3_store.get("model/model.sig")
    raw = json.loads(bundle)["verificationMaterial"]
    assert len(raw["x509CertificateChain"]["certificates"]) == 2 and "publicKey" not in raw
    on_url = pqml.verify_model(url, certificate_chain=[ca["anchor"]])
    assert on_url.signatures[0].key_source == "certificate CN=release-bot"
    assert "CN=Release CA" in on_url.signatures[0].detail
    (local / "model.sig").write_bytes(bundle)  # the object's bundle verifies the files
    assert pqml.verify_model(local, certificate_chain=[ca["anchor"]]).root_digest \
        == made.root_digest
    (local / "model.sig").unlink()  # and the other way round
    pqml.sign_model(local, [ca["key"]], certificate=ca["cert"],
                    certificate_chain=[ca["chain"]])
    s3_store.put("model/model.sig", (local / "model.sig").read_bytes())
    assert pqml.verify_model(url, certificate_chain=[ca["anchor"]]).ok
    with pytest.raises(PqmlError, match="is not for the signing key"):
        pqml.sign_model(url, [pqml.generate_key("ml-dsa-65")], certificate=ca["cert"],
                        force=True)


def test_a_revoked_certificate_fails_on_a_url_as_locally(tmp_path: Path, s3_store: Store,
                                                         ca: dict[str, Path]) -> None:
    local = tmp_path / "model"
    url = put_tree(s3_store, "model", local)
    pqml.sign_model(url, [ca["key"]], certificate=ca["cert"], certificate_chain=[ca["chain"]])
    (local / "model.sig").write_bytes(s3_store.get("model/model.sig"))
    rel = CertificateAuthority.open(ca["rel"])
    (tmp_path / "empty.crl").write_bytes(crl_pem(rel.crl()))
    ok = pqml.verify_model(url, certificate_chain=[ca["anchor"]],
                           crls=[tmp_path / "empty.crl"])
    assert "not revoked (CRL 1 of CN=Release CA" in ok.signatures[0].detail
    rel.revoke(1, reason="key-compromise")
    (tmp_path / "rel.crl").write_bytes(crl_pem(rel.crl()))
    errors = []
    for model in (url, local):
        with pytest.raises(SignatureVerificationError, match=r"CN=release-bot \(serial 0x1\) "
                           r"is revoked since .*key_compromise") as info:
            pqml.verify_model(model, certificate_chain=[ca["anchor"]],
                              crls=[tmp_path / "rel.crl"])
        errors.append(str(info.value).split(": ", 1)[1])
    assert errors[0] == errors[1]  # the same failure, only the bundle's name differs
    res = cli_run("verify", url, "--certificate-chain", ca["anchor"], "--crl",
                  tmp_path / "rel.crl")
    assert res.exit_code == 1 and "is revoked since" in res.output


# ---- rekey: a new file key and dropped revoked keys ----------------------------------------


def encrypted(store: Store, name: str, recipients: list[Any], fmt: str = "pqml",
              data: bytes = DATA) -> str:
    with tempfile.TemporaryDirectory() as d:
        plain, sealed = Path(d) / "plain", Path(d) / "sealed"
        plain.write_bytes(data)
        pqml.encrypt_file(plain, sealed, recipients, format=fmt)  # type: ignore[arg-type]
        store.put(name, sealed.read_bytes())
    return store.url(name)


def file_key(url: str, identity: Any) -> bytes:
    """The file key ``identity`` unwraps: what a recipient can keep after decrypting once."""
    with open_stream(url) as f:
        probe = Source(f)
        detected = fmts.detect(probe.peek(64))
        located = fmts.open_header(detected.format, fmts.unarmored(detected, probe),
                                   fmts.prepare_identities(detected.format, [identity]))
    assert located.file_key is not None
    return located.file_key


def decrypt_with_file_key(url: str, key: bytes) -> bytes:
    """Decrypt an object's payload with a kept file key alone, as a removed holder could."""
    out = io.BytesIO()
    with open_stream(url) as f:
        probe = Source(f)
        detected = fmts.detect(probe.peek(64))
        source = fmts.unarmored(detected, probe)
        located = fmts.open_header(detected.format, source)
        if detected.format == "pqml":
            f.seek(located.payload_offset)
            pqml_v1.decrypt_payload(key, Source(f), out)
        else:
            stream.decrypt_payload(key, source.read(stream.NONCE_SIZE), source, out)
    return out.getvalue()


def decrypts(url: str, identity: Any) -> bytes | None:
    try:
        with pqml.open(url, identity) as f:
            return f.read()  # type: ignore[no-any-return]
    except NoIdentityMatchError:
        return None


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_new_file_key_on_an_object_locks_a_removed_holder_out(store: Store, fmt: str) -> None:
    url = encrypted(store, f"f.{fmt}", [A.public_key(), C.public_key()], fmt)
    kept = file_key(url, C)  # C decrypted once and kept the file key
    assert decrypt_with_file_key(url, kept) == DATA
    result = rekey(url, [A], remove=[C.public_key()] if fmt == "pqml" else [],
                   reset=fmt == "age", add=[A.public_key(), B.public_key()] if fmt == "age"
                   else [B.public_key()], new_file_key=True)
    assert result.file_key_rotated and result.removed_may_still_decrypt is False
    assert result.guarantee == NEW_FILE_KEY_GUARANTEE and result.file == url
    with pytest.raises(PqmlError):
        decrypt_with_file_key(url, kept)  # the old file key opens nothing any more
    assert file_key(url, A) != kept
    assert decrypts(url, A) == DATA and decrypts(url, B) == DATA and decrypts(url, C) is None
    assert store.names() == [f"f.{fmt}"] and store.uploads() == []


def test_cli_new_file_key_on_an_object(tmp_path: Path, s3_store: Store) -> None:
    url = encrypted(s3_store, "f.pqml", [A.public_key(), C.public_key()])
    (tmp_path / "a.pem").write_bytes(private_key_to_pem(A))
    (tmp_path / "b.pub").write_bytes(public_key_to_pem(B.public_key()))
    (tmp_path / "c.pub").write_bytes(public_key_to_pem(C.public_key()))
    res = cli_run("rekey", "-i", tmp_path / "a.pem", "--remove", tmp_path / "c.pub", "--add",
                  tmp_path / "b.pub", "--new-file-key", "--json", url)
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)[0]
    assert record["path"] == url and record["status"] == "changed"
    assert record["file_key_rotated"] is True and record["removed_may_still_decrypt"] is False
    assert record["guarantee"] == NEW_FILE_KEY_GUARANTEE
    assert "payload re-encrypted under a fresh file key" in res.stderr
    assert decrypts(url, B) == DATA and decrypts(url, C) is None


def test_drop_revoked_on_objects(tmp_path: Path, s3_store: Store) -> None:
    ring = Keyring()
    ok, bad = ring.new("X-Wing", label="ok"), ring.new("X-Wing", label="bad")
    ring.set_state("bad", KeyState.REVOKED, reason="left the team")
    mine = ring.private_key("ok", use="decrypt")
    pub = {r.label: ring.public_key(r.id) for r in (ok, bad)}
    both = encrypted(s3_store, "both.pqml", [pub["ok"], pub["bad"]])
    aged = encrypted(s3_store, "both.age", [pub["ok"], pub["bad"]], "age")
    clean = encrypted(s3_store, "clean.pqml", [pub["ok"]])
    clean_before = s3_store.get("clean.pqml")
    outcomes = rekey_many([both, aged, clean], [mine], drop=revoked_keys(ring))
    assert [o.status for o in outcomes] == ["changed", "changed", "skipped"]
    assert "no stanza of a revoked or compromised key" in (outcomes[2].reason or "")
    for o in outcomes[:2]:
        assert o.result is not None and o.result.dropped == [bad.id]
        assert o.result.removed_may_still_decrypt is True  # a rewrap: said honestly
    for url in (both, aged):
        assert decrypts(url, mine) == DATA
        assert decrypts(url, ring.private_key("bad", use="decrypt")) is None
    assert s3_store.get("clean.pqml") == clean_before
    with pytest.raises(RekeyError, match="no stanza of a revoked"):
        rekey(clean, [mine], drop=revoked_keys(ring))  # one object: nothing to do is said
    # with a new file key, the dropped holder's kept file key stops working too
    again = encrypted(s3_store, "again.pqml", [pub["ok"], pub["bad"]])
    kept = file_key(again, ring.private_key("bad", use="decrypt"))
    (tmp_path / "me.pem").write_bytes(private_key_to_pem(mine))
    res = cli_run("rekey", "-i", tmp_path / "me.pem", "--drop-revoked", "--new-file-key",
                  "--json", again)
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)[0]
    assert record["dropped"] == [bad.id] and record["removed_may_still_decrypt"] is False
    with pytest.raises(PqmlError):
        decrypt_with_file_key(again, kept)
    assert decrypts(again, mine) == DATA


def test_several_objects_are_all_checked_before_any_is_rewritten(s3_store: Store) -> None:
    good = encrypted(s3_store, "good.pqml", [A.public_key()])
    unknown = encrypted(s3_store, "unknown.pqml", [C.public_key()])
    before = (s3_store.get("good.pqml"), s3_store.get("unknown.pqml"))
    with pytest.raises(RekeyManyError) as info:
        rekey_many([good, unknown], [A], add=[B.public_key()], new_file_key=True)
    assert [o.status for o in info.value.outcomes] == ["unchanged", "failed"]
    assert (s3_store.get("good.pqml"), s3_store.get("unknown.pqml")) == before


# ---- failure midway: the original object stays, no new object appears ----------------------


def test_wrong_identity_changes_nothing(s3_store: Store) -> None:
    url = encrypted(s3_store, "f.pqml", [A.public_key()])
    before = s3_store.get("f.pqml")
    with pytest.raises(NoIdentityMatchError):
        rekey(url, [C], add=[B.public_key()], new_file_key=True)
    assert s3_store.get("f.pqml") == before
    assert s3_store.names() == ["f.pqml"] and s3_store.uploads() == []


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_a_tampered_chunk_aborts_the_upload(s3_store: Store, fmt: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Large enough that upload parts went up before the bad chunk (near the end) fails
    authentication: the multipart upload is aborted, and the object is the one it was."""
    from pqml.storage import writer

    url = encrypted(s3_store, f"big.{fmt}", [A.public_key(), C.public_key()], fmt,
                    data=os.urandom(16 * 1024 * 1024))
    tampered = bytearray(s3_store.get(f"big.{fmt}"))
    tampered[-100] ^= 1
    s3_store.put(f"big.{fmt}", bytes(tampered))
    aborted: list[str] = []
    real_abort = writer.MultipartUpload.abort

    def abort(self: writer.MultipartUpload) -> None:
        aborted.append(self.upload_id)
        real_abort(self)

    monkeypatch.setattr(writer.MultipartUpload, "abort", abort)
    with pytest.raises(PqmlError):
        rekey(url, [A], reset=True, add=[B.public_key()], new_file_key=True)
    assert len(aborted) == 1  # a part had gone up; the upload was dropped
    assert s3_store.get(f"big.{fmt}") == bytes(tampered)
    assert s3_store.names() == [f"big.{fmt}"] and s3_store.uploads() == []
    assert decrypts(url, B) is None  # B was never given the (old) file key


def test_an_object_changed_after_its_check_is_not_rewritten(s3_store: Store) -> None:
    from pqml.encryption.rekey import _resolve_job
    from pqml.storage.encrypted_objects import apply_object, check_object

    url = encrypted(s3_store, "f.pqml", [A.public_key()])
    ids_in, job = _resolve_job([A], [B.public_key()], (), False, False, False, "",
                               new_file_key=True)
    plan = check_object(url, ids_in, job)
    other = encrypted(s3_store, "f.pqml", [A.public_key()])  # another writer, same name
    assert other == url
    now = s3_store.get("f.pqml")
    with pytest.raises(RekeyError, match="changed since it was checked"):
        apply_object(plan)
    assert s3_store.get("f.pqml") == now and s3_store.uploads() == []
