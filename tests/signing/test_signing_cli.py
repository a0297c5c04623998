"""``pqml sign`` / ``verify`` / ``digest`` end to end, with one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_run as run
from conftest import vector


def assert_one_line_error(result, match: str = "", code: int = 1) -> None:
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pqml: error: ") and "Traceback" not in result.stderr
    assert match in lines[0], lines[0]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name, args in {"ml": ["--alg", "ML-DSA-65"],
                       "ec": ["--alg", "ECDSA-P256", "--allow-classical"],
                       "ml87": ["--profile", "cnsa2", "--alg", "signature"]}.items():
        res = run("keygen", *args, "-o", d / f"{name}.pem")
        assert res.exit_code == 0, res.output
        (d / f"{name}.pub").write_text(res.stdout)
        out[name], out[f"{name}.pub"] = d / f"{name}.pem", d / f"{name}.pub"
    return out


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_text('{"hidden": 8}')
    (root / "weights" / "w.bin").write_bytes(bytes(range(256)) * 8)
    return root


def test_sign_verify_hybrid(model: Path, keys: dict[str, Path]) -> None:
    res = run("sign", model, "-k", keys["ec"], "-k", keys["ml"])
    assert res.exit_code == 0, res.output
    assert f"-> {model / 'model.sig'}" in res.stdout
    assert "ECDSA-P256 (quantum-vulnerable), ML-DSA-65" in res.stdout
    root = res.stdout.split("root digest: ")[1].strip()
    res = run("verify", model, "-k", keys["ec.pub"], "-k", keys["ml.pub"], "--require-pq")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("signature 1: verified   ECDSA-P256")
    assert lines[0].endswith("quantum-vulnerable")
    assert lines[1].startswith("signature 2: verified   ML-DSA-65")
    assert f"root digest: {root}" in res.stdout
    assert res.stderr == ""
    res = run("digest", model, "--method", "files")  # ECDSA first: sign chose files
    assert res.stdout.split()[0] == root
    assert run("digest", model).stdout.split()[0] == root  # auto: as the bundle records


def test_classical_only_warns(model: Path, keys: dict[str, Path]) -> None:
    assert run("sign", model, "-k", keys["ec"]).exit_code == 0
    res = run("verify", model, "-k", keys["ec.pub"])
    assert res.exit_code == 0
    assert "pqml: warning: only quantum-vulnerable signatures verified (ECDSA-P256)" in res.stderr
    res = run("verify", model, "-k", keys["ec.pub"], "--require-pq")
    assert_one_line_error(res, "no post-quantum signature from a trusted key verified")
    assert "signature 1: verified" in res.stdout


def test_json_report(model: Path, keys: dict[str, Path]) -> None:
    res = run("sign", model, "-k", keys["ml"], "--json")
    signed = json.loads(res.stdout)
    assert signed["method"] == "shards" and signed["signatures"][0]["algorithm"] == "ML-DSA-65"
    res = run("verify", model, "-k", keys["ml.pub"], "--json")
    report = json.loads(res.stdout)
    assert report["verified"] is True and report["root_digest"] == signed["root_digest"]
    assert report["signatures"][0]["quantum_vulnerable"] is False
    (model / "config.json").write_text('{"hidden": 9}')
    (model / "evil.pkl").write_bytes(b"\x80\x04.")
    res = run("verify", model, "-k", keys["ml.pub"], "--json")
    assert_one_line_error(res, "integrity check failed")
    report = json.loads(res.stdout)
    assert report["verified"] is False
    files = {f["name"]: f for f in report["files"]}
    assert files["config.json"]["status"] == "modified"
    assert files["evil.pkl"] == {"name": "evil.pkl", "status": "added", "size": 3,
                                 "pickle": True}


def test_tamper_diff(model: Path, keys: dict[str, Path]) -> None:
    run("sign", model, "-k", keys["ml"])
    (model / "config.json").rename(model / "cfg.json")
    (model / "weights" / "w.bin").write_bytes(b"x")
    res = run("verify", model, "-k", keys["ml.pub"])
    assert_one_line_error(res, "renamed config.json -> cfg.json; modified weights/w.bin")
    assert "renamed   config.json -> cfg.json" in res.stdout
    assert "modified  weights/w.bin  (size 1, signed 2048)" in res.stdout


def test_unsigned_files(model: Path, keys: dict[str, Path]) -> None:
    run("sign", model, "-k", keys["ml"])
    (model / "extra.joblib").write_bytes(b"\x80\x04.")
    assert_one_line_error(run("verify", model, "-k", keys["ml.pub"]),
                          "unsigned pickle file extra.joblib")
    res = run("verify", model, "-k", keys["ml.pub"], "--allow-unsigned-files")
    assert res.exit_code == 0
    assert "added     extra.joblib  (may hold a pickle)" in res.stdout
    assert "unsigned file allowed: extra.joblib (may hold a pickle" in res.stderr


def test_partial_only(model: Path, keys: dict[str, Path]) -> None:
    run("sign", model, "-k", keys["ml"])
    (model / "weights" / "w.bin").write_bytes(b"tampered")
    res = run("verify", model, "-k", keys["ml.pub"], "--only", "config.json")
    assert res.exit_code == 0 and "partial" in res.stdout
    assert_one_line_error(run("verify", model, "-k", keys["ml.pub"], "--only", "nope.bin"),
                          "nope.bin is not covered by the signature")


def test_cnsa2_and_options(model: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    sig = tmp_path / "out.sig"
    res = run("sign", model, "-k", keys["ml87"], "--profile", "cnsa2", "--signature", sig,
              "--ignore-paths", "weights", "--json")
    data = json.loads(res.stdout)
    assert data["hash_type"] == "sha384" and data["files"] == 1
    assert "weights" in data["ignore_paths"]
    res = run("verify", model, "-k", keys["ml87.pub"], "--signature", sig)
    assert res.exit_code == 0 and "ignored   weights" in res.stdout
    res = run("digest", model, "--profile", "cnsa2", "--ignore-paths", "weights")
    assert res.stdout.split()[0] == data["root_digest"]
    res = run("sign", model, "-k", keys["ml"], "--hash", "blake3", "--shard-size", "1K",
              "--json")
    assert json.loads(res.stdout)["method"] == "shards"
    assert_one_line_error(run("sign", model, "-k", keys["ml"], "--shard-size", "lots"),
                          "invalid shard size")


def test_policy_option(model: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    run("sign", model, "-k", keys["ec"], "-k", keys["ml"])
    policy = tmp_path / "trust.toml"
    policy.write_text(f'trusted_keys = ["{keys["ec.pub"]}", "{keys["ml.pub"]}"]\n'
                      "min_signatures = 2\nrequire_pq = true\n")
    assert run("verify", model, "--policy", policy).exit_code == 0
    policy.write_text("min_signatures = two\n")
    assert_one_line_error(run("verify", model, "--policy", policy), "invalid TOML", code=2)


@pytest.mark.parametrize(("args", "match", "code"), [
    (["verify", "{model}"], "no trusted key", 2),
    (["verify", "{model}", "-k", "{ml.pub}"], "no signature bundle there", 1),
    (["verify", "{tmp}/nope", "-k", "{ml.pub}"], "no such file or directory", 1),
    (["sign", "{tmp}/nope", "-k", "{ml}"], "no such file or directory", 1),
    (["sign", "{model}", "-k", "{ml.pub}"], "expected a private key", 1),
    (["sign", "{model}", "-k", "{tmp}/missing.pem"], "missing.pem: no such file", 1),
    (["sign", "{model}", "-k", "{ml}", "--profile", "cnsa2"], "not allowed by profile", 2),
    (["sign", "{model}", "-k", "{ml}", "--hash", "md5"], "cannot hash models", 2),
    (["digest", "{tmp}/nope"], "no such file or directory", 1),
])
def test_one_line_errors(model: Path, keys: dict[str, Path], tmp_path: Path,
                         args: list[str], match: str, code: int) -> None:
    values = {"model": model, "tmp": tmp_path, **{k: v for k, v in keys.items()}}
    argv = [a.format(**{k.replace(".", "_"): v for k, v in values.items()})
            if "{" in a else a for a in [a.replace("ml.pub", "ml_pub") for a in args]]
    assert_one_line_error(run(*argv), match, code)


def test_corrupt_bundle_is_one_line(model: Path, keys: dict[str, Path]) -> None:
    (model / "model.sig").write_text('{"mediaType": 1}')
    assert_one_line_error(run("verify", model, "-k", keys["ml.pub"]),
                          f"{model / 'model.sig'}: OMS bundle: bundle: missing key")


def test_symlink_refused_one_line(model: Path, keys: dict[str, Path]) -> None:
    (model / "link").symlink_to("config.json")
    assert_one_line_error(run("sign", model, "-k", keys["ml"]), "link is a symbolic link")
    assert run("sign", model, "-k", keys["ml"], "--allow-symlinks").exit_code == 0


def test_vectors_from_the_command_line() -> None:
    key = vector("oms", "keys", "signing-key-pub.pem")
    for name in ("v1.1.0-elliptic-key", "v1.0.0-elliptic-key/signme-1"):
        res = run("verify", vector("oms", name), "-k", key)
        assert res.exit_code == 0, res.output
        assert "signature 1: verified   ECDSA-P384" in res.stdout
    res = run("verify", vector("oms", "v1.1.0-certificate"), "--certificate-chain",
              vector("oms", "keys", "ca-cert.pem"))
    assert res.exit_code == 0, res.output
    assert "certificate CN=intermediate-ca" in res.stdout


def test_verify_path_imports_nothing_heavy(tmp_path: Path, keys: dict[str, Path]) -> None:
    """Start-up budget guard (timing lives in bench/): a verify must not pull in torch,
    numpy, rich, x509 or the thread pool for a tiny model."""
    model = tmp_path / "tiny"
    model.mkdir()
    (model / "w").write_bytes(b"abc")
    assert run("sign", model, "-k", keys["ec"], "-k", keys["ml"]).exit_code == 0
    code = (
        "import sys\n"
        "from pqml.cli.main import cli\n"
        f"try:\n cli(['verify', {str(model)!r}, '-k', {str(keys['ml.pub'])!r}])\n"
        "except SystemExit as e:\n assert e.code in (0, None), e.code\n"
        "heavy = ['torch', 'numpy', 'rich', 'cryptography.x509', 'concurrent.futures',"
        " 'joblib', 'safetensors', 'blake3']\n"
        "print('HEAVY:' + ','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"
