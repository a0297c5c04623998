"""The edge verification path: what it verifies, what it refuses, what it imports, and
that a model larger than the process's whole address space verifies in bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pqml
from pqml.errors import IntegrityError, SignatureVerificationError, TrustPolicyError
from pqml.primitives import registry
from pqml.signing import edge_verify, signing

ALGS = ["ML-DSA-44", "ML-DSA-65", "Falcon-512", "SLH-DSA-SHA2-128f"]


def _keys(tmp: Path, alg: str) -> tuple[Path, Path]:
    if not registry.get(alg).available:
        pytest.skip(f"{alg}: backend not installed")
    sk = pqml.generate_key(alg)
    priv, pub = tmp / f"{alg}.pem", tmp / f"{alg}.pub"
    pqml.save_private_key(sk, priv)
    pqml.save_public_key(sk, pub)
    return priv, pub


def _model(tmp: Path, name: str = "detector") -> Path:
    root = tmp / name
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(200_000))
    (root / "config.json").write_text('{"layers": 3}')
    return root


@pytest.mark.parametrize("alg", ALGS)
def test_verifies_each_edge_algorithm(tmp_path: Path, alg: str) -> None:
    priv, pub = _keys(tmp_path, alg)
    model = _model(tmp_path)
    signing.sign_model(model, [priv])
    report = edge_verify.verify_model(model, None, [pub])
    assert report.algorithms == (alg,)
    assert report.name == "detector"
    assert report.files == 2
    assert report.bytes == 200_000 + len('{"layers": 3}')
    assert report.root_digest == signing.verify_model(model, [pub]).root_digest


def test_refuses_tampering_wrong_key_and_other_model(tmp_path: Path) -> None:
    priv, pub = _keys(tmp_path, "ML-DSA-44")
    other = tmp_path / "other"
    other.mkdir()
    _, wrong = _keys(other, "ML-DSA-44")
    model = _model(tmp_path)
    signing.sign_model(model, [priv])
    with pytest.raises(SignatureVerificationError):
        edge_verify.verify_model(model, None, [wrong])
    with pytest.raises(TrustPolicyError, match="signs model 'detector', expected 'camera'"):
        edge_verify.verify_model(model, None, [pub], expect_name="camera")
    (model / "stray.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(IntegrityError, match=r"stray\.pkl"):
        edge_verify.verify_model(model, None, [pub])
    (model / "stray.pkl").unlink()
    data = bytearray((model / "weights.bin").read_bytes())
    data[1234] ^= 1
    (model / "weights.bin").write_bytes(data)
    with pytest.raises(IntegrityError, match=r"weights\.bin"):
        edge_verify.verify_model(model, None, [pub])


def test_detached_bundle_and_truncated_bundle(tmp_path: Path) -> None:
    priv, pub = _keys(tmp_path, "Falcon-512")
    model = _model(tmp_path)
    sig = tmp_path / "release.sig"
    signing.sign_model(model, [priv], signature=sig)
    assert edge_verify.verify_model(model, sig, [pub]).signature == sig
    sig.write_bytes(sig.read_bytes()[:-40])
    with pytest.raises(pqml.errors.PqmlError, match=r"release\.sig"):
        edge_verify.verify_model(model, sig, [pub])


def _run(code: str, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, timeout=120, env=env)


IMPORT_PROBE = """
import json, sys
from pqml.signing import edge_verify
report = edge_verify.verify_model(sys.argv[1], None, [sys.argv[2]])
print(json.dumps({"ok": report.root_digest is not None, "modules": sorted(sys.modules)}))
"""


def _forbidden(modules: list[str]) -> list[str]:
    """Modules of MODULES_NEVER_LOADED: a prefix ending in '.' names submodules only
    (``pqml.scan.``: ``import pqml`` loads the scanner's lazy package stub, no scan code)."""
    return [m for m in modules if any(
        m.startswith(p) if p.endswith(".") else m == p or m.startswith(p + ".")
        for p in edge_verify.MODULES_NEVER_LOADED)]


@pytest.mark.parametrize("alg", ["ML-DSA-65", "Falcon-512"])
def test_imports_only_what_verification_needs(tmp_path: Path, alg: str) -> None:
    priv, pub = _keys(tmp_path, alg)
    model = _model(tmp_path)
    signing.sign_model(model, [priv])
    out = _run(IMPORT_PROBE, str(model), str(pub))
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["ok"]
    assert _forbidden(found["modules"]) == []
    # the probe sees what it should: the verifying backend did load
    assert ("cryptography" if alg.startswith("ML-DSA") else "pqc") in found["modules"]


def test_probe_would_see_a_heavy_import(tmp_path: Path) -> None:
    """The import test is not blind: the full CLI's verify command loads click."""
    out = _run("import sys, json; import pqml.cli.sign, pqml.scan.runner; "
               "print(json.dumps(sorted(sys.modules)))")
    found = _forbidden(json.loads(out.stdout))
    assert "click" in found and "pqml.scan.runner" in found


MEMORY_PROBE = """
import resource, sys
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from pqml.signing import edge_verify
report = edge_verify.verify_model(sys.argv[1], None, [sys.argv[2]])
try:
    bytearray(limit)  # the limit is real: the whole model could never be held in memory
except MemoryError:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from a big parent across exec
    hwm = next(line.split()[1] for line in open("/proc/self/status")
               if line.startswith("VmHWM:"))
    print("bounded", report.bytes, hwm)
"""


def test_model_larger_than_the_address_space_verifies(tmp_path: Path) -> None:
    priv, pub = _keys(tmp_path, "ML-DSA-44")
    model = tmp_path / "big"
    model.mkdir()
    limit = 96 << 20
    with open(model / "weights.bin", "wb") as f:  # sparse: no disk, all bytes hashed
        f.truncate(limit + (32 << 20))
        f.seek(5 << 20)
        f.write(b"edge")
    signing.sign_model(model, [priv], method="files")
    out = _run(MEMORY_PROBE, str(model), str(pub), str(limit))
    assert out.returncode == 0, out.stderr
    word, size, maxrss_kib = out.stdout.split()
    assert word == "bounded"
    assert int(size) == limit + (32 << 20)
    assert int(maxrss_kib) * 1024 < limit
    # and the same file, one byte changed, fails under the same limit
    with open(model / "weights.bin", "r+b") as f:
        f.seek(5 << 20)
        f.write(b"EDGE")
    out = _run(MEMORY_PROBE, str(model), str(pub), str(limit))
    assert out.returncode != 0 and "IntegrityError" in out.stderr


def test_runner_one_line_and_exit_codes(tmp_path: Path) -> None:
    priv, pub = _keys(tmp_path, "Falcon-512")
    model = _model(tmp_path)
    signing.sign_model(model, [priv])
    cmd = [sys.executable, "-m", "pqml.signing.edge_verify", str(model), "-k", str(pub)]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"verified {model}: model 'detector', 2 files")
    js = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=60)
    assert json.loads(js.stdout)["algorithms"] == ["Falcon-512"]
    (model / "config.json").write_text("{}")
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.startswith("pqml-edge: error: ") and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr
    usage = subprocess.run(cmd[:4], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2


def test_accepts_loaded_key_objects(tmp_path: Path) -> None:
    """The trusted key can be given as a loaded key object too (the library API)."""
    priv, pub = _keys(tmp_path, "ML-DSA-44")
    model = _model(tmp_path)
    signing.sign_model(model, [priv])
    key = pqml.load_public_key(pub)
    report = edge_verify.verify_model(model, model / "model.sig", [key])
    assert report.algorithms == ("ML-DSA-44",)
