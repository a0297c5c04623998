"""``pqml gateway`` (key directory commands, start-up refusals) and ``pqml request``'s
refusals; the served path and ``pqml request`` over the wire are in
tests/gateway/test_gateway_e2e.py."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import click
import pytest

from pqml.cli.gateway import parse_duration

from conftest import cli_run, signing_key_files


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("pqml: error: "), output
    assert "Traceback" not in output
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("text,seconds", [("90", 90), ("45s", 45), ("30m", 1800),
                                          ("1h", 3600), ("2d", 172800), ("0.5s", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--grace") == seconds


@pytest.mark.parametrize("text", ["", "1w", "-1s", "soon", "1 h x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_duration(text, "--grace")


def test_keygen_makes_a_key_directory(tmp_path: Path) -> None:
    res = cli_run("gateway", "keygen", tmp_path / "gw", "--json")
    assert res.exit_code == 0, res.output
    facts = json.loads(res.stdout)
    assert facts["key_id"] == 1 and facts["algorithm"] == "X-Wing" and facts["live"]
    key_file = tmp_path / "gw" / facts["file"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in key_file.read_bytes()
    manifest = json.loads((tmp_path / "gw" / "gateway-keys.json").read_text())
    assert manifest["format"] == "pqml-ohttp-gateway-keys/v1"
    # never over an existing directory
    res = cli_run("gateway", "keygen", tmp_path / "gw")
    assert res.exit_code == 1
    assert "already a gateway key directory" in _one_error_line(res.output)


@pytest.mark.parametrize("alg", ["ML-KEM-768", "ML-KEM-1024"])
def test_keygen_other_kems(tmp_path: Path, alg: str) -> None:
    res = cli_run("gateway", "keygen", tmp_path / "gw", "--alg", alg, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["algorithm"] == alg


def test_keygen_refuses_classical_and_non_kems(tmp_path: Path) -> None:
    res = cli_run("gateway", "keygen", tmp_path / "a", "--alg", "X25519")
    assert res.exit_code == 2
    assert "quantum-vulnerable" in _one_error_line(res.output)
    res = cli_run("gateway", "keygen", tmp_path / "b", "--alg", "X25519", "--allow-classical")
    assert res.exit_code == 0, res.output
    res = cli_run("gateway", "keygen", tmp_path / "c", "--alg", "ML-DSA-65")
    assert res.exit_code == 1
    assert "not an Oblivious HTTP gateway KEM" in _one_error_line(res.output)


def test_rotate_list_prune(tmp_path: Path) -> None:
    directory = tmp_path / "gw"
    assert cli_run("gateway", "keygen", directory).exit_code == 0
    res = cli_run("gateway", "rotate", directory, "--grace", "10m", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["key_id"] == 2
    listing = json.loads(cli_run("gateway", "list", directory, "--json").stdout)
    assert [(k["key_id"], k["live"]) for k in listing] == [(1, True), (2, True)]
    assert listing[0]["retire_at"] is not None and listing[1]["retire_at"] is None
    text = cli_run("gateway", "list", directory).stdout
    assert "retiring" in text and "active" in text
    # nothing to prune during the grace period
    assert json.loads(cli_run("gateway", "prune", directory, "--json").stdout) == {
        "removed": []}
    # a rotation with no grace retires every older key at once
    assert cli_run("gateway", "rotate", directory, "--grace", "0").exit_code == 0
    res = cli_run("gateway", "prune", directory, "--json")
    assert json.loads(res.stdout) == {"removed": [1, 2]}
    assert sorted(p.name for p in directory.glob("key-*.pem")) == ["key-03.pem"]
    res = cli_run("gateway", "keygen", tmp_path / "other")
    assert cli_run("gateway", "rotate", tmp_path / "other", "--grace", "1h").exit_code == 0
    assert cli_run("gateway", "rotate", tmp_path / "other", "--grace", "2h").exit_code == 0
    listing = json.loads(cli_run("gateway", "list", tmp_path / "other", "--json").stdout)
    # an earlier retirement already set is kept; key 2 retires two hours from now
    assert listing[0]["retire_at"] < listing[1]["retire_at"] - 3000
    assert listing[2]["retire_at"] is None


def test_rotate_bad_grace_and_missing_directory(tmp_path: Path) -> None:
    assert cli_run("gateway", "keygen", tmp_path / "gw").exit_code == 0
    res = cli_run("gateway", "rotate", tmp_path / "gw", "--grace", "forever")
    assert res.exit_code == 2
    (tmp_path / "empty").mkdir()
    res = cli_run("gateway", "rotate", tmp_path / "empty")
    assert res.exit_code == 1
    assert "not a gateway key directory" in _one_error_line(res.output)


def test_corrupt_manifest_is_one_line(tmp_path: Path) -> None:
    directory = tmp_path / "gw"
    assert cli_run("gateway", "keygen", directory).exit_code == 0
    (directory / "gateway-keys.json").write_text('{"format": "pqml-ohttp-gateway-keys/v1", '
                                                 '"keys": [{"key_id": 900}]}')
    res = cli_run("gateway", "list", directory)
    assert res.exit_code == 1
    _one_error_line(res.output)
    (directory / "gateway-keys.json").write_text("{")
    assert "not JSON" in _one_error_line(cli_run("gateway", "list", directory).output)


def test_serving_needs_upstream_and_keys(tmp_path: Path) -> None:
    res = cli_run("gateway")
    assert res.exit_code == 2
    assert "--upstream" in _one_error_line(res.output)


def test_serving_refusals_before_listening(tmp_path: Path) -> None:
    directory = tmp_path / "gw"
    assert cli_run("gateway", "keygen", directory).exit_code == 0
    res = cli_run("gateway", "--upstream", "http://127.0.0.1:1", "--keys", tmp_path / "none")
    assert res.exit_code == 1
    assert "not a gateway key directory" in _one_error_line(res.output)
    res = cli_run("gateway", "--upstream", "ftp://example", "--keys", directory)
    assert res.exit_code == 2
    _one_error_line(res.output)
    res = cli_run("gateway", "--upstream", "http://127.0.0.1:1", "--keys", directory,
                  "--redis", "http://127.0.0.1:6379")
    assert res.exit_code == 2
    res = cli_run("gateway", "--upstream", "http://127.0.0.1:1", "--keys", directory,
                  "--redis", "redis://user:hunter2@127.0.0.1:" + str(_closed_port()) + "/0")
    assert res.exit_code == 1
    line = _one_error_line(res.output)
    assert "unreachable" in line and "hunter2" not in line


def test_signing_key_must_be_post_quantum(tmp_path: Path) -> None:
    directory = tmp_path / "gw"
    assert cli_run("gateway", "keygen", directory).exit_code == 0
    res = cli_run("keygen", "--alg", "Ed25519", "--allow-classical", "-o", tmp_path / "ed.pem")
    assert res.exit_code == 0, res.output
    res = cli_run("gateway", "--upstream", "http://127.0.0.1:1", "--keys", directory,
                  "--signing-key", tmp_path / "ed.pem")
    assert res.exit_code != 0
    assert "post-quantum" in _one_error_line(res.output)
    res = cli_run("keygen", "-o", tmp_path / "kem.pem")
    res = cli_run("gateway", "--upstream", "http://127.0.0.1:1", "--keys", directory,
                  "--signing-key", tmp_path / "kem.pem")
    assert res.exit_code == 1
    assert "not a signature key" in _one_error_line(res.output)


def test_request_needs_a_pin_or_explicit_trust(tmp_path: Path) -> None:
    res = cli_run("request", "http://m/x", "--gateway", "http://127.0.0.1:1")
    assert res.exit_code == 2
    assert "--config-key" in _one_error_line(res.output)


def test_request_to_nothing_is_one_line(tmp_path: Path) -> None:
    _, public = signing_key_files(tmp_path)
    res = cli_run("request", "http://m/x", "--gateway", f"http://127.0.0.1:{_closed_port()}",
                  "--config-key", public)
    assert res.exit_code == 1
    assert "ConnectError" in _one_error_line(res.output)


def test_request_bad_header_and_data_file(tmp_path: Path) -> None:
    _, public = signing_key_files(tmp_path)
    res = cli_run("request", "http://m/x", "--gateway", "http://127.0.0.1:1",
                  "--config-key", public, "-H", "no colon")
    assert res.exit_code == 2
    res = cli_run("request", "http://m/x", "--gateway", "http://127.0.0.1:1",
                  "--config-key", public, "-d", f"@{tmp_path / 'missing'}")
    assert res.exit_code == 1
    assert "no such file" in _one_error_line(res.output)
    assert not os.path.exists(tmp_path / "missing")


def test_keyring_keys_sign_and_pin(tmp_path: Path) -> None:
    """--signing-key and --config-key take keyring references as well as files."""
    from pqml.cli.gateway import _pinned_key, _signing_key
    from pqml.gateway.client import sign_key_config, verify_key_config
    from pqml.gateway.ohttp import ServerKey
    from pqml.keys.keyring import Keyring

    Keyring().new("ML-DSA-65", label="gw-sign", purpose="sign")
    signer = _signing_key("gw-sign", None)
    pinned = _pinned_key("gw-sign")
    from pqml.formats.ohttp import encode_key_configs

    body = encode_key_configs([ServerKey.generate(1).config])
    assert verify_key_config(body, sign_key_config(body, signer), pinned)
    res = cli_run("request", "http://m/x", "--gateway", "http://127.0.0.1:1",
                  "--config-key", "no-such-label")
    assert res.exit_code == 1
    assert "no-such-label" in _one_error_line(res.output)


def test_a_rotation_is_on_the_transparency_log(tmp_path: Path) -> None:
    from pqml.log.store import LogStore, default_directory

    directory = tmp_path / "gw"
    assert cli_run("gateway", "keygen", directory).exit_code == 0
    assert cli_run("gateway", "rotate", directory, "--grace", "10m").exit_code == 0
    with LogStore(default_directory()) as store:
        rotations = [e for _, e in store.entries() if e.operation == "gateway.key-rotate"]
    assert len(rotations) == 1
    assert rotations[0].details["key_id"] == 2 and rotations[0].details["grace_seconds"] == 600
    assert rotations[0].assets[0].path == str(directory.resolve())
