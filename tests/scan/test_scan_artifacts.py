"""ML artifacts: formats from magic bytes, pickle imports from opcodes (never by loading),
protection status from pqml/v1 and age headers and from OMS bundles next to the model."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from pqml.scan import ScanOptions, scan

from conftest import vector


class _Reduce:
    """Pickles to a call of ``os.system`` (pickling never runs it; loading would)."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.fixture(autouse=True)
def never_unpickle(monkeypatch):
    """Any unpickling during these tests is a bug: the scanner must only read opcodes."""

    def refuse(*args, **kwargs):
        raise AssertionError("the scanner tried to unpickle a file")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


def artifacts_of(root: Path) -> dict[str, object]:
    result = scan([str(root)], ScanOptions(jobs=1))
    return {f.path: f for f in result.findings if f.kind == "artifact"}


def _safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * 4


def test_formats_from_magic_bytes(tmp_path: Path) -> None:
    (tmp_path / "m.safetensors").write_bytes(_safetensors())
    (tmp_path / "m.gguf").write_bytes(b"GGUF" + b"\0" * 20)
    (tmp_path / "part-0.parquet").write_bytes(b"PAR1" + b"x" * 10 + b"PAR1")
    (tmp_path / "eval.arrow").write_bytes(b"ARROW1\0\0" + b"x" * 10)
    (tmp_path / "shard.tfrecord-00001-of-00004").write_bytes(b"\x10" + b"\0" * 23)
    (tmp_path / "model.tflite").write_bytes(b"\x1c\0\0\0TFL3" + b"\0" * 20)
    (tmp_path / "model.onnx").write_bytes(b"\x08\x08\x12\x07pytorch")
    (tmp_path / "notes.txt").write_text("not an artifact")
    arts = artifacts_of(tmp_path)
    formats = {p: f.details["artifact"]["format"] for p, f in arts.items()}
    assert formats == {"m.safetensors": "safetensors", "m.gguf": "gguf",
                       "part-0.parquet": "parquet", "eval.arrow": "arrow",
                       "shard.tfrecord-00001-of-00004": "tfrecord", "model.tflite": "tflite",
                       "model.onnx": "onnx"}
    cats = {p: f.details["artifact"]["category"] for p, f in arts.items()}
    assert cats["part-0.parquet"] == "dataset" and cats["m.gguf"] == "model"
    for f in arts.values():
        assert f.details["protection"]["status"] == "none" and f.algorithm == "none"
        assert f.details["artifact"]["code_execution_risk"] is False
        assert f.risk.category == "unprotected-model"


def test_pickle_formats_are_code_execution_risks_and_imports_are_listed(tmp_path: Path) -> None:
    (tmp_path / "clean.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"model": _Reduce()}, protocol=4))
    (tmp_path / "old.pkl").write_bytes(pickle.dumps(_Reduce(), protocol=0))
    (tmp_path / "scaler.joblib").write_bytes(zlib.compress(pickle.dumps(_Reduce(), protocol=2)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"layer": _Reduce()}, protocol=2))
        zf.writestr("archive/version", "3\n")
    (tmp_path / "model.pt").write_bytes(buf.getvalue())
    # raw float32 weights: not a pickle, not a zip (fixed bytes: about 1 in 2,000 random
    # .bin files does parse as a short pickle, and is then reported, failing closed)
    (tmp_path / "raw.bin").write_bytes(struct.pack("<64f", *(i / 7 for i in range(64))))
    arts = artifacts_of(tmp_path)
    assert "raw.bin" not in arts
    assert arts["clean.pkl"].details["artifact"]["dangerous_imports"] == []
    assert arts["clean.pkl"].risk.category == "pickle-code-execution"
    system = f"{os.system.__module__}.system"  # posix.system on Linux
    for name in ("evil.pkl", "old.pkl", "scaler.joblib", "model.pt"):
        art = arts[name].details["artifact"]
        assert art["pickle_based"] and art["code_execution_risk"], name
        assert system in art["dangerous_imports"], name
        assert arts[name].risk.category == "malicious-pickle"
        assert arts[name].risk.level == "critical"
    assert arts["model.pt"].details["artifact"]["format"] == "torch"
    assert arts["scaler.joblib"].details["artifact"]["format"] == "joblib"


def test_keras_lambda_and_numpy_object_arrays_run_code(tmp_path: Path) -> None:
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64 +
                                        b'{"class_name": "Lambda", "config": {}}')
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
    header += b" " * (118 - len(header)) + b"\n"
    (tmp_path / "objs.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header))
                                        + header + b"\x80\x04N.")
    arts = artifacts_of(tmp_path)
    assert arts["model.h5"].details["artifact"]["lambda_layers"] is True
    assert arts["model.h5"].details["artifact"]["code_execution_risk"] is True
    assert arts["objs.npy"].details["artifact"]["pickle_based"] is True


def _b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode().rstrip("=")


def test_pqml_v1_header_lists_kems_and_weakest_wins(tmp_path: Path) -> None:
    header = (f"pqml/v1\n-> xwing {_b64(1120)}\n{_b64(32)}\n"
              f"-> X25519 {_b64(32)}\n{_b64(32)}\n--- {_b64(32)}\n").encode()
    (tmp_path / "weights.safetensors.pqml").write_bytes(header + os.urandom(64))
    pq_only = f"pqml/v1\n-> mlkem1024 {_b64(1568)}\n{_b64(32)}\n--- {_b64(32)}\n".encode()
    (tmp_path / "train.parquet.pqml").write_bytes(pq_only + os.urandom(64))
    arts = artifacts_of(tmp_path)
    mixed = arts["weights.safetensors.pqml"]
    enc = mixed.details["protection"]["encryption"]
    assert enc["format"] == "pqml/v1" and enc["kems"] == ["X-Wing", "X25519"]
    assert mixed.details["protection"]["status"] == "encrypted"
    assert (mixed.algorithm, mixed.quantum_vulnerable) == ("X25519", True)
    assert mixed.details["artifact"]["category"] == "model"
    pq = arts["train.parquet.pqml"]
    assert (pq.algorithm, pq.quantum_vulnerable) == ("ML-KEM-1024", False)
    assert pq.details["artifact"]["category"] == "dataset"


@pytest.mark.skipif(shutil.which("age") is None or shutil.which("age-keygen") is None,
                    reason="Debian's age is not installed (apt-get install age)")
def test_real_age_files_binary_and_armored(tmp_path: Path) -> None:
    keys = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True)
    recipient = next(ln.split(": ")[1] for ln in (keys.stdout + keys.stderr).splitlines()
                     if "public key" in ln.lower()).strip()
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes(_safetensors())
    for args, name in (([], "model.safetensors.age"), (["-a"], "ckpt.pt.age")):
        subprocess.run(["age", *args, "-r", recipient, "-o", str(tmp_path / name), str(plain)],
                       check=True)
    plain.unlink()
    arts = artifacts_of(tmp_path)
    for name, armored in (("model.safetensors.age", False), ("ckpt.pt.age", True)):
        enc = arts[name].details["protection"]["encryption"]
        assert (enc["format"], enc["armored"], enc["stanzas"]) == ("age", armored, ["X25519"])
        assert arts[name].algorithm == "X25519" and arts[name].quantum_vulnerable


def test_hand_written_armored_age_with_passphrase(tmp_path: Path) -> None:
    inner = f"age-encryption.org/v1\n-> scrypt {_b64(16)} 18\n{_b64(32)}\n--- {_b64(32)}\n"
    armored = base64.b64encode(inner.encode() + os.urandom(40)).decode()
    (tmp_path / "secrets.env.age").write_text(
        "-----BEGIN AGE ENCRYPTED FILE-----\n" + armored + "\n-----END AGE ENCRYPTED FILE-----\n")
    f = artifacts_of(tmp_path)["secrets.env.age"]
    assert f.details["protection"]["encryption"]["kems"] == ["scrypt"]
    assert f.quantum_vulnerable is False and f.details["artifact"]["category"] == "file"


@pytest.mark.parametrize("set_name,algorithm", [
    ("v1.1.0-elliptic-key", "ECDSA"), ("v1.1.0-certificate", "ECDSA")])
def test_oms_vector_bundle_marks_its_files_signed(tmp_path: Path, set_name: str,
                                                  algorithm: str) -> None:
    model = tmp_path / set_name
    shutil.copytree(vector("oms", set_name), model)
    (model / "extra.safetensors").write_bytes(_safetensors())  # not in the bundle
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    by_path = {f.path: f for f in result.findings}
    bundle = by_path[f"{set_name}/model.sig"]
    assert (bundle.kind, bundle.algorithm, bundle.parameter) == ("signature-bundle", algorithm,
                                                                 "P-384")
    assert sorted(bundle.details["bundle"]["covered_files"]) == [f"{set_name}/signme-1",
                                                                 f"{set_name}/signme-2"]
    for name in ("signme-1", "signme-2"):
        f = by_path[f"{set_name}/{name}"]
        assert f.details["protection"]["status"] == "signed"
        assert (f.algorithm, f.quantum_vulnerable) == (algorithm, True)
    assert f"{set_name}/ignore-me" not in by_path
    assert by_path[f"{set_name}/extra.safetensors"].details["protection"]["status"] == "none"


def test_single_file_vector_bundle_and_pq_signature_by_length(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import mldsa

    from pqml.formats import oms

    shutil.copytree(vector("oms", "v1.0.0-elliptic-key"), tmp_path / "v1")
    model = tmp_path / "pq"
    model.mkdir()
    (model / "model.safetensors").write_bytes(_safetensors())
    statement = oms.build_statement(
        [oms.Resource("model.safetensors",
                      hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest())],
        oms.Serialization(), "pq")
    payload = statement.to_payload()
    sig = mldsa.MLDSA65PrivateKey.generate().sign(oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, payload))
    bundle = oms.Bundle(oms.VerificationMaterial(oms.PublicKeyIdentifier(hint="00" * 32)),
                        oms.Envelope(payload, (oms.Signature(sig),)))
    (model / "model.sig").write_bytes(bundle.to_json())
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    by_path = {f.path: f for f in result.findings}
    v1 = by_path["v1/signme-1"]  # resource "." with subject name signme-1
    assert v1.details["protection"]["status"] == "signed" and v1.parameter == "P-384"
    pq = by_path["pq/model.safetensors"]
    assert (pq.algorithm, pq.quantum_vulnerable) == ("ML-DSA-65", False)
    assert pq.details["protection"]["signatures"][0]["signatures"][0]["source"] == "length"


def test_malformed_bundle_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "model.sig").write_text('{"mediaType": "nope", "dsseEnvelope": {}}')
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    assert result.findings == []
    assert any("OMS bundle" in w.message for w in result.warnings)


def test_file_encrypted_by_pqml_itself(tmp_path: Path) -> None:
    """The header pqml's own encryption writes (when that feature is installed)."""
    encrypt = pytest.importorskip("pqml.encryption.encrypt")
    import pqml

    src = tmp_path / "model.safetensors"
    src.write_bytes(_safetensors())
    keys = [pqml.generate_key("X-Wing"), pqml.generate_key("ML-KEM-1024")]
    encrypt.encrypt_file(src, tmp_path / "model.safetensors.pqml", keys)
    src.unlink()
    f = artifacts_of(tmp_path)["model.safetensors.pqml"]
    enc = f.details["protection"]["encryption"]
    assert enc["format"] == "pqml/v1" and enc["kems"] == ["X-Wing", "ML-KEM-1024"]
    assert f.quantum_vulnerable is False and f.details["protection"]["status"] == "encrypted"


def test_hybrid_bundle_signed_by_pqml_itself(tmp_path: Path) -> None:
    """A bundle ``pqml sign`` writes with an ECDSA key first and ML-DSA-65 second."""
    signing = pytest.importorskip("pqml.signing.signing")
    from pqml.keys import key_files as keys

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(_safetensors())
    (model / "config.json").write_text("{}")
    ecdsa_key = keys.generate("ECDSA-P256", "default", allow_classical=True)
    mldsa_key = keys.generate("ML-DSA-65", "default")
    signing.sign_model(model, [ecdsa_key, mldsa_key], signature=model / "model.sig")
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    weights = next(f for f in result.findings if f.path == "model/model.safetensors")
    (bundle,) = weights.details["protection"]["signatures"]
    assert [s["algorithm"] for s in bundle["signatures"]] == ["ECDSA", "ML-DSA-65"]
    assert weights.algorithm == "ECDSA" and weights.quantum_vulnerable  # weakest link
    algs = {f.algorithm for f in result.findings if f.kind == "signature-bundle"}
    assert algs == {"ECDSA", "ML-DSA-65"}


def test_header_area_is_layout_not_a_recipient(tmp_path: Path) -> None:
    """A large pqml/v1 file's reserved header area is not reported as a KEM."""
    pytest.importorskip("pqml.encryption.encrypt")
    import pqml
    from pqml.formats import pqml_v1
    from pqml.formats.pqml_v1.header_area import STANZA_TYPE
    from pqml.scan.files.protection import AREA_STANZA

    assert AREA_STANZA == STANZA_TYPE
    key = pqml.generate_key("X-Wing")
    data = pqml_v1.encrypt_bytes([key.public_key()], b"weights", header_area=16384)
    (tmp_path / "model.bin.pqml").write_bytes(data)
    f = artifacts_of(tmp_path)["model.bin.pqml"]
    enc = f.details["protection"]["encryption"]
    assert enc["stanzas"] == ["xwing"] and enc["kems"] == ["X-Wing"]
