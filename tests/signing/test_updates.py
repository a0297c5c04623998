"""Over-the-air updates: a verified version swapped in atomically, refused updates leaving
the old one in service, SIGKILL between every two steps (real processes), the lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import pqml
from pqml.errors import IntegrityError, SignatureVerificationError, TrustPolicyError
from pqml.signing import edge_verify, signing, updates
from pqml.signing.errors import UpdateError, UpdateInProgressError


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("keys")
    out = {}
    for label in ("release", "attacker"):
        sk = pqml.generate_key("ML-DSA-44")
        pqml.save_private_key(sk, tmp / f"{label}.pem")
        pqml.save_public_key(sk, tmp / f"{label}.pub")
        out[label], out[f"{label}.pub"] = tmp / f"{label}.pem", tmp / f"{label}.pub"
    return out


def release(tmp: Path, version: str, keys: dict[str, Path], *, name: str = "detector",
            signer: str = "release", files: int = 3) -> Path:
    """A signed model directory ``tmp/<version>/<name>`` whose files say ``version``."""
    root = tmp / version / name
    root.mkdir(parents=True)
    for i in range(files):
        (root / f"part-{i}.bin").write_bytes(version.encode() * 1000 + os.urandom(64))
    (root / "VERSION").write_text(version)
    signing.sign_model(root, [keys[signer]])
    return root


def served(directory: Path) -> str:
    return (directory / "current" / "VERSION").read_text()


def assert_serving(directory: Path, version: str, keys: dict[str, Path]) -> None:
    """``DIR/current`` is a complete version that verifies, and it is ``version``."""
    edge_verify.verify_model(directory / "current", None, [keys["release.pub"]])
    assert served(directory) == version


def test_apply_swaps_and_keeps_previous(tmp_path: Path, keys: dict[str, Path]) -> None:
    d = tmp_path / "device"
    first = updates.apply_update(release(tmp_path, "v1", keys), d, [keys["release.pub"]])
    assert first.changed and first.previous is None and first.current.name == "detector"
    assert os.readlink(d / "current") == "versions/1"
    second = updates.apply_update(release(tmp_path, "v2", keys), d, [keys["release.pub"]])
    assert (second.current.version, second.previous.version) == (2, 1)
    assert_serving(d, "v2", keys)
    assert (d / "previous" / "VERSION").read_text() == "v1"
    assert second.report is not None and second.report.model == d / "versions" / "2"
    third = updates.apply_update(release(tmp_path, "v3", keys), d, [keys["release.pub"]])
    assert third.current.version == 3
    assert sorted(os.listdir(d / "versions")) == ["2", "3"]  # only current and previous kept
    assert updates.served_path(d) == d / "versions" / "3"
    same = updates.apply_update(tmp_path / "v3" / "detector", d, [keys["release.pub"]])
    assert not same.changed and os.readlink(d / "current") == "versions/3"


def test_rollback_verifies_and_toggles(tmp_path: Path, keys: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", keys), d, [keys["release.pub"]])
    updates.apply_update(release(tmp_path, "v2", keys), d, [keys["release.pub"]])
    back = updates.rollback(d, [keys["release.pub"]])
    assert (back.current.version, back.previous.version) == (1, 2)
    assert_serving(d, "v1", keys)
    updates.rollback(d, [keys["release.pub"]])
    assert_serving(d, "v2", keys)
    (d / "versions" / "1" / "part-0.bin").write_bytes(b"changed on disk")
    with pytest.raises(IntegrityError, match=r"part-0\.bin"):
        updates.rollback(d, [keys["release.pub"]])
    assert_serving(d, "v2", keys)


def test_replayed_old_version_is_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    d = tmp_path / "device"
    v1, v2 = release(tmp_path, "v1", keys), release(tmp_path, "v2", keys)
    updates.apply_update(v1, d, [keys["release.pub"]])
    updates.apply_update(v2, d, [keys["release.pub"]])
    with pytest.raises(UpdateError, match=f"{v1}: version sha256:[0-9a-f]{{64}} was "
                                          "replaced by a later update"):
        updates.apply_update(v1, d, [keys["release.pub"]])
    assert_serving(d, "v2", keys)
    # rollback is the way back, and going forward again after it is no replay
    updates.rollback(d, [keys["release.pub"]])
    assert updates.apply_update(v2, d, [keys["release.pub"]]).changed
    assert_serving(d, "v2", keys)
    done = updates.apply_update(v1, d, [keys["release.pub"]], allow_downgrade=True)
    assert done.changed
    assert_serving(d, "v1", keys)


def test_unreadable_bundle_in_service_fails_closed(tmp_path: Path,
                                                   keys: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", keys), d, [keys["release.pub"]])
    (d / "versions" / "1" / "model.sig").write_text("{}")
    other = release(tmp_path, "cam", keys, name="camera")
    with pytest.raises(UpdateError, match="model name in service is unknown"):
        updates.apply_update(other, d, [keys["release.pub"]])
    assert os.readlink(d / "current") == "versions/1"


def test_rollback_without_previous(tmp_path: Path, keys: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", keys), d, [keys["release.pub"]])
    with pytest.raises(UpdateError, match="no previous version"):
        updates.rollback(d, [keys["release.pub"]])


def _refused(d: Path, keys: dict[str, Path], exc: type[Exception], match: str,
             package: Path, **kw: object) -> None:
    before = sorted(os.listdir(d / "versions"))
    with pytest.raises(exc, match=match) as info:
        updates.apply_update(package, d, [keys["release.pub"]], **kw)
    assert "\n" not in str(info.value)
    assert_serving(d, "v1", keys)
    assert sorted(os.listdir(d / "versions")) == before  # no staging left behind


def test_refused_updates_leave_the_model_in_service(tmp_path: Path,
                                                    keys: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", keys), d, [keys["release.pub"]])
    forged = release(tmp_path, "forged", keys, signer="attacker")
    _refused(d, keys, SignatureVerificationError, "no signature verified", forged)
    camera = release(tmp_path, "cam", keys, name="camera")
    _refused(d, keys, TrustPolicyError,
             rf"{camera}: model.sig: the bundle signs model 'camera', expected 'detector'",
             camera)
    extra = release(tmp_path, "extra", keys)
    (extra / "payload.pkl").write_bytes(b"\x80\x04N.")
    _refused(d, keys, IntegrityError, "payload.pkl", extra)
    tampered = release(tmp_path, "tampered", keys)
    data = bytearray((tampered / "part-1.bin").read_bytes())
    data[10] ^= 0x40
    (tampered / "part-1.bin").write_bytes(data)
    _refused(d, keys, IntegrityError, f"{tampered}: integrity check failed.*part-1.bin",
             tampered)
    unsigned = tmp_path / "unsigned" / "detector"
    shutil.copytree(tmp_path / "v1" / "detector", unsigned)
    (unsigned / "model.sig").unlink()
    _refused(d, keys, UpdateError, "no model.sig in the update", unsigned)
    linked = release(tmp_path, "linked", keys)
    (linked / "escape").symlink_to("/etc/passwd")
    _refused(d, keys, pqml.errors.PqmlError, "escape", linked)
    with pytest.raises(UpdateError, match="serves model 'detector', not 'camera'"):
        updates.apply_update(camera, d, [keys["release.pub"]], name="camera")


def test_detached_signature_and_first_name_pin(tmp_path: Path, keys: dict[str, Path]) -> None:
    model = release(tmp_path, "v1", keys)
    sig = tmp_path / "v1.sig"
    (model / "model.sig").rename(sig)
    with pytest.raises(TrustPolicyError, match="expected 'camera'"):
        updates.apply_update(model, tmp_path / "d", [keys["release.pub"]], signature=sig,
                             name="camera")
    assert not (tmp_path / "d" / "current").exists()
    done = updates.apply_update(model, tmp_path / "d", [keys["release.pub"]], signature=sig)
    assert done.current.name == "detector" and not (model / "model.sig").exists()


def _tar(src: Path, out: Path, mode: str = "w:gz") -> Path:
    with tarfile.open(out, mode) as tar:
        tar.add(src, arcname=src.name)
    return out


def test_archives(tmp_path: Path, keys: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(_tar(release(tmp_path, "v1", keys), tmp_path / "v1.tar.gz"), d,
                         [keys["release.pub"]])
    assert_serving(d, "v1", keys)
    archive = _tar(release(tmp_path, "v2", keys), tmp_path / "v2.tar.gz")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    _refused(d, keys, UpdateError, "cut.tar.gz: cannot unpack the update", cut)
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../outside")
        info.size = 1
        import io

        tar.addfile(info, io.BytesIO(b"x"))
    _refused(d, keys, UpdateError, "evil.tar: cannot unpack", evil)
    assert not (tmp_path / "outside").exists()
    bomb = _tar(release(tmp_path, "v3", keys), tmp_path / "v3.tar", "w")
    _refused(d, keys, UpdateError, "unpacks to more than 1000 bytes", bomb, max_bytes=1000)
    plain = tmp_path / "notes.txt"
    plain.write_text("hello")
    _refused(d, keys, UpdateError, "not a directory or a tar archive", plain)
    updates.apply_update(archive, d, [keys["release.pub"]])
    assert_serving(d, "v2", keys)


def test_directory_checks(tmp_path: Path, keys: dict[str, Path]) -> None:
    v1 = release(tmp_path, "v1", keys)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "important.txt").write_text("mine")
    with pytest.raises(UpdateError, match="not an update directory"):
        updates.apply_update(v1, busy, [keys["release.pub"]])
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "current").symlink_to("/etc")
    with pytest.raises(UpdateError, match="not to versions/N"):
        updates.apply_update(v1, odd, [keys["release.pub"]])
    with pytest.raises(UpdateError, match="no trusted key"):
        updates.apply_update(v1, tmp_path / "new", [])
    st = updates.status(updates.apply_update(v1, tmp_path / "new",
                                             [keys["release.pub"]]).directory)
    assert st.current is not None and st.current.version == 1 and st.previous is None


# ---- real processes: SIGKILL at every step, and the lock -------------------------------------

DRIVER = """
import sys
from pqml.signing import updates

def pause(step):
    print(step, flush=True)
    if step == sys.argv[4]:
        sys.stdin.readline()  # parked here until the test kills the process

updates.stage_hook = pause
if sys.argv[1] == "rollback":
    updates.rollback(sys.argv[2], [sys.argv[3]])
else:
    updates.apply_update(sys.argv[1], sys.argv[2], [sys.argv[3]])
print("done", flush=True)
"""


def _start_paused(package: str, d: Path, pub: Path, step: str) -> subprocess.Popen[str]:
    """A real process running the update, stopped at ``step`` (it printed the step)."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, package, str(d), str(pub), step],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # ends at EOF if the process dies first
        seen.append(line.strip())
        if seen[-1] == step:
            return proc
    proc.wait(timeout=30)
    pytest.fail(f"never reached {step}: saw {seen}; stderr {proc.stderr.read()}")


APPLY_STEPS = ["staging", "copying", "copied", "flushed", "verified", "renamed",
               "previous-link", "previous", "current-link", "switched"]


@pytest.mark.parametrize("step", APPLY_STEPS)
def test_sigkill_at_every_step_of_apply(tmp_path: Path, keys: dict[str, Path],
                                        step: str) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", keys), d, [keys["release.pub"]])
    v2 = release(tmp_path, "v2", keys, files=4)
    proc = _start_paused(str(v2), d, keys["release.pub"], step)
    proc.kill()
    proc.wait(timeout=30)
    # the service sees a complete, verifying version: the old one until the final rename
    assert_serving(d, "v2" if step == "switched" else "v1", keys)
    # the next update cleans up whatever the killed one left and succeeds
    again = updates.apply_update(v2, d, [keys["release.pub"]])
    assert_serving(d, "v2", keys)
    assert (d / "previous" / "VERSION").read_text() == "v1"
    assert updates.status(d).leftovers == ()
    assert [n for n in os.listdir(d) if n.endswith(".pqml-tmp")] == []
    assert again.changed == (step != "switched")


@pytest.mark.parametrize("step", ["current-link", "switched", "previous-link"])
def test_sigkill_during_rollback(tmp_path: Path, keys: dict[str, Path], step: str) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", keys), d, [keys["release.pub"]])
    updates.apply_update(release(tmp_path, "v2", keys), d, [keys["release.pub"]])
    proc = _start_paused("rollback", d, keys["release.pub"], step)
    proc.kill()
    proc.wait(timeout=30)
    assert_serving(d, "v2" if step == "current-link" else "v1", keys)


def test_concurrent_update_is_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", keys), d, [keys["release.pub"]])
    v2, v3 = release(tmp_path, "v2", keys), release(tmp_path, "v3", keys)
    proc = _start_paused(str(v2), d, keys["release.pub"], "verified")
    try:
        with pytest.raises(UpdateInProgressError, match="another update or rollback"):
            updates.apply_update(v3, d, [keys["release.pub"]])
        assert proc.stdin is not None
        proc.stdin.write("go on\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
        assert "done" in out, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_serving(d, "v2", keys)
    updates.apply_update(v3, d, [keys["release.pub"]])  # the lock went with the process
    assert_serving(d, "v3", keys)
