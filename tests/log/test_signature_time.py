"""Time-aware validity: a signature by a key marked compromised at T verifies only when
the transparency log proves it existed before T, and verify says which case applied.

Checkpoint times are whole seconds, so a signature is proven before T only if its
checkpoint's second ended by T: the tests date the compromise a few seconds ahead
(``now+3s``) rather than wait."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import cli_run as run


@pytest.fixture
def signed(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x01" * 4096)
    res = run("keys", "new", "-a", "ML-DSA-65", "--label", "signer")
    assert res.exit_code == 0, res.output
    res = run("sign", model, "-k", "signer")
    assert res.exit_code == 0, res.output
    return model


def test_signed_before_the_compromise_is_accepted_and_says_why(signed: Path) -> None:
    assert run("verify", signed, "-k", "signer").exit_code == 0
    assert run("keys", "revoke", "signer", "--compromised-at", "now+3s").exit_code == 0
    res = run("verify", signed, "-k", "signer")
    assert res.exit_code == 0, res.output
    assert "compromised at" in res.stderr and "accepted: log entry" in res.stderr
    assert "before the compromise" in res.stderr


def test_signed_after_the_compromise_is_refused(signed: Path) -> None:
    # The compromise is dated a minute before the log first checkpointed the signature.
    at = f"@{int(time.time()) - 60}"
    assert run("keys", "revoke", "signer", "--compromised-at", at).exit_code == 0
    res = run("verify", signed, "-k", "signer")
    assert res.exit_code == 1
    assert "refused: log entry" in res.stderr and "after the compromise" in res.stderr


def test_a_signature_the_log_never_saw_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"w")
    assert run("keys", "new", "-a", "ML-DSA-44", "--label", "s").exit_code == 0
    monkeypatch.setenv("PQML_LOG", "off")
    assert run("sign", model, "-k", "s").exit_code == 0
    monkeypatch.delenv("PQML_LOG")
    assert run("keys", "revoke", "s", "--compromised-at", "now").exit_code == 0
    res = run("verify", model, "-k", "s")
    assert res.exit_code == 1
    assert "no log entry proves it was made before then" in res.stderr


def test_an_offline_proof_decides_with_only_the_logs_key(signed: Path,
                                                         tmp_path: Path) -> None:
    proof, vkey = tmp_path / "sig.tlog-proof", tmp_path / "log.vkey"
    res = run("log", "proof", signed, "-o", proof)
    assert res.exit_code == 0, res.output
    res = run("log", "key")
    assert res.exit_code == 0
    vkey.write_text(res.stdout)
    assert run("keys", "revoke", "signer", "--compromised-at", "now+3s").exit_code == 0
    res = run("verify", signed, "-k", "signer", "--log-proof", proof, "--log-key", vkey)
    assert res.exit_code == 0, res.output
    assert "accepted: log entry" in res.stderr


def test_a_proof_for_another_bundle_vouches_for_nothing(signed: Path, tmp_path: Path) -> None:
    second = tmp_path / "second"
    second.mkdir()
    (second / "w.bin").write_bytes(b"other weights")
    assert run("sign", second, "-k", "signer").exit_code == 0
    proof, vkey = tmp_path / "first.tlog-proof", tmp_path / "log.vkey"
    assert run("log", "proof", signed, "-o", proof).exit_code == 0
    vkey.write_text(run("log", "key").stdout)
    assert run("keys", "revoke", "signer", "--compromised-at", "now+3s").exit_code == 0
    res = run("verify", second, "-k", "signer", "--log-proof", proof, "--log-key", vkey)
    assert res.exit_code == 1
    assert "the proof is for another entry than this bundle's signature" in res.stderr
    # the local log still proves the second one
    assert run("verify", second, "-k", "signer").exit_code == 0


def test_a_tampered_proof_is_one_line(signed: Path, tmp_path: Path) -> None:
    proof, vkey = tmp_path / "p", tmp_path / "k"
    assert run("log", "proof", signed, "-o", proof).exit_code == 0
    vkey.write_text(run("log", "key").stdout)
    data = bytearray(proof.read_bytes())
    data[len(data) // 2] ^= 1
    proof.write_bytes(bytes(data))
    assert run("keys", "revoke", "signer", "--compromised-at", "now+3s").exit_code == 0
    res = run("verify", signed, "-k", "signer", "--log-proof", proof, "--log-key", vkey)
    assert res.exit_code == 1
    # one line naming the proof; which check trips depends on where the flipped byte
    # landed (the base64 of a signature line, or a signature that no longer verifies)
    assert res.stderr.count("\n") == 1
    assert res.stderr.startswith("pqml: error: log proof: ")


def test_log_proof_and_log_key_go_together(signed: Path, tmp_path: Path) -> None:
    proof = tmp_path / "p"
    proof.write_text("x")
    res = run("verify", signed, "-k", "signer", "--log-proof", proof)
    assert res.exit_code == 2
    assert "--log-proof and --log-key go together" in res.stderr


def test_a_checkpoint_in_the_same_second_proves_nothing(signed: Path) -> None:
    """The checkpoint is signed somewhere within its whole second t: a compromise at t
    is not proven to come after it; one at t + 1 is."""
    from pqml.log.store import LogStore, default_directory

    with LogStore(default_directory()) as store:
        latest = store.latest_checkpoint()
    assert latest is not None
    assert run("keys", "revoke", "signer", "--compromised-at",
               f"@{latest.timestamp}").exit_code == 0
    res = run("verify", signed, "-k", "signer")
    assert res.exit_code == 1 and "after the compromise" in res.stderr


def test_a_checkpoint_a_second_earlier_is_proof(signed: Path) -> None:
    from pqml.log.store import LogStore, default_directory

    with LogStore(default_directory()) as store:
        latest = store.latest_checkpoint()
    assert latest is not None
    assert run("keys", "revoke", "signer", "--compromised-at",
               f"@{latest.timestamp + 1}").exit_code == 0
    res = run("verify", signed, "-k", "signer")
    assert res.exit_code == 0 and "before the compromise" in res.stderr


def test_a_proof_from_another_log_is_refused_where_a_log_is_kept(
        signed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker holding the signing key can start a log of their own with a backdated
    clock; a machine that keeps a log trusts only its own log's checkpoints."""
    victim_home = os.environ["PQML_HOME"]
    monkeypatch.setenv("PQML_HOME", str(tmp_path / "attacker-home"))
    model = tmp_path / "evil"
    model.mkdir()
    (model / "w.bin").write_bytes(b"evil")
    key = tmp_path / "k.pem"
    assert run("keygen", "-a", "ML-DSA-44", "-o", key).exit_code == 0
    assert run("sign", model, "-k", key).exit_code == 0
    proof, vkey = tmp_path / "evil.proof", tmp_path / "evil.vkey"
    assert run("log", "proof", model, "-o", proof).exit_code == 0
    vkey.write_text(run("log", "key").stdout)
    monkeypatch.setenv("PQML_HOME", victim_home)  # which keeps its own log
    assert run("keys", "import", key, "--label", "stolen").exit_code == 0
    assert run("keys", "revoke", "stolen", "--compromised-at", "now+30s").exit_code == 0
    res = run("verify", model, "-k", "stolen", "--log-proof", proof, "--log-key", vkey)
    assert res.exit_code == 1
    assert "not this machine's log" in res.stderr


def test_a_revoked_keys_later_signature_is_refused(signed: Path, tmp_path: Path) -> None:
    """Revocation removes a holder who still has the key: what they sign afterwards,
    with the key exported before, is refused like a compromised key's."""
    exported = tmp_path / "signer.pem"
    res = run("keys", "export", "signer", "--private", "-o", exported)
    if res.exit_code != 0:
        pytest.skip(f"keys export has no private export here: {res.stderr.strip()}")
    assert run("keys", "revoke", "signer").exit_code == 0
    later = tmp_path / "later"
    later.mkdir()
    (later / "w.bin").write_bytes(b"after")
    assert run("sign", later, "-k", exported).exit_code == 0
    res = run("verify", later, "-k", "signer")
    assert res.exit_code == 1
    assert "revoked at" in res.stderr and "refused" in res.stderr


def test_marking_a_compromise_again_never_moves_it_later() -> None:
    from pqml.keys.keyring import Keyring

    assert run("keys", "new", "-a", "ML-DSA-44", "--label", "k").exit_code == 0
    early = int(time.time()) - 86400
    assert run("keys", "revoke", "k", "--compromised-at", f"@{early}").exit_code == 0
    assert run("keys", "disable", "k").exit_code == 0
    assert run("keys", "revoke", "k", "--compromised-at", "now").exit_code == 0
    assert Keyring().get("k").compromised_at == early
