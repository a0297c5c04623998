"""One name, one meaning, across every command: ``-p`` is a passphrase (age's), ``-k`` a
key (trusted, for verify, as for sign), ``--ignore`` what to leave out; ``--json`` says
where its JSON goes; ``-`` is standard input for inspect; and the key id ``pqml inspect``
shows is the one ``pqml keygen`` and ``pqml pubkey --json`` print."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from pqml.cli.main import cli

from conftest import cli_run as run
from conftest import signing_key_files


def commands() -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                yield f"{name} {sub}", cmd.get_command(ctx, sub)  # type: ignore[misc]
        else:
            yield name, cmd


def options(cmd: click.Command) -> Iterator[click.Option]:
    return (p for p in cmd.params if isinstance(p, click.Option))


def test_dash_p_is_a_passphrase_in_every_command() -> None:
    seen = []
    for name, cmd in commands():
        for opt in options(cmd):
            if "-p" in opt.opts:
                assert "--passphrase" in opt.opts, (name, opt.opts)
                seen.append(name)
    assert "encrypt" in seen and "decrypt" in seen


def test_dash_k_is_a_key_in_sign_and_verify() -> None:
    """-k is the signing key of sign and the trusted key of every command that verifies
    a signature (verify, and the update commands that verify before they swap)."""
    found = {name: opt.opts for name, cmd in commands() for opt in options(cmd)
             if "-k" in opt.opts}
    assert found == {name: ["-k", "--key"] for name in
                     ("sign", "verify", "update apply", "update rollback")}


def test_leaving_paths_out_is_spelled_ignore_in_every_command() -> None:
    seen = []
    for name, cmd in commands():
        for opt in options(cmd):
            if opt.multiple and any("ignore" in o for o in opt.opts):
                assert opt.opts[0] == "--ignore", (name, opt.opts)
                seen.append(name)
    assert {"scan", "sign", "digest"} <= set(seen)


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signing_key_files(tmp_path_factory.mktemp("signer"), "ML-DSA-44")


def make_model(root: Path) -> Path:
    model = root / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x01" * 100)
    (model / "notes.md").write_text("not signed")
    return model


def test_verify_takes_trusted_keys_with_dash_k(tmp_path: Path, signer: tuple[Path, Path]
                                               ) -> None:
    key, pub = signer
    model = make_model(tmp_path)
    assert run("sign", model, "-k", key).exit_code == 0
    res = run("verify", model, "-k", pub)
    assert res.exit_code == 0, res.output
    res = run("verify", model, "--key", pub, "--json")
    assert json.loads(res.stdout)["signatures"][0]["status"] == "verified"
    res = run("verify", model, "-p", pub)
    assert (res.exit_code, res.stderr.splitlines()[0]) == (2, "pqml: error: unknown option -p")


@pytest.mark.parametrize("spelling", ["--ignore", "--ignore-paths"])
def test_sign_ignore_and_model_signings_spelling(tmp_path: Path, signer: tuple[Path, Path],
                                                 spelling: str) -> None:
    """--ignore-paths stays: it is model_signing's documented option for the same thing."""
    from pqml.formats import oms

    key, _ = signer
    model = make_model(tmp_path)
    res = run("sign", model, "-k", key, spelling, "notes.md")
    assert res.exit_code == 0, res.output
    bundle = oms.parse_bundle((model / "model.sig").read_bytes())
    assert "notes.md" in bundle.statement().serialization.ignore_paths


def test_keygen_json_without_output_goes_to_standard_error() -> None:
    """stdout carries the private key, so the JSON facts go where the help says."""
    res = run("keygen", "--json")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("-----BEGIN PRIVATE KEY-----")
    facts = json.loads(res.stderr)
    assert facts["algorithm"] == "X-Wing" and facts["recipient"].startswith("age1pq1")


def test_json_help_says_where_the_json_goes() -> None:
    for name, cmd in commands():
        for opt in options(cmd):
            if "--json" in opt.opts and name in ("keygen", "encrypt", "decrypt"):
                text = " ".join((opt.help or "").split())
                assert "standard error" in text or "stderr" in text, name


def test_key_id_of_keygen_and_pubkey_is_the_one_inspect_shows(tmp_path: Path) -> None:
    key = tmp_path / "me.pem"
    res = run("keygen", "-o", key)
    assert res.exit_code == 0, res.output
    assert res.stderr.startswith("Key id: ")
    kid = res.stderr.split()[2]
    facts = json.loads(run("pubkey", "--json", key).stdout)
    assert facts["key_id"] == kid
    recipient = tmp_path / "me.txt"
    recipient.write_text(res.stdout)
    assert json.loads(run("pubkey", "--json", recipient).stdout)["key_id"] == kid
    (tmp_path / "p").write_text("plain")
    assert run("encrypt", "-r", recipient, "-o", tmp_path / "e", tmp_path / "p").exit_code == 0
    stanzas = json.loads(run("inspect", "--json", tmp_path / "e").stdout)["stanzas"]
    assert [s["key_id"] for s in stanzas] == [kid]
    assert f"key id {kid}" in run("inspect", tmp_path / "e").stdout
    res = run("keygen", "--alg", "ML-KEM-768", "--json", "-o", tmp_path / "mlkem.pem")
    mlkem = json.loads(res.stdout)["key_id"]
    assert json.loads(run("pubkey", "--json", tmp_path / "mlkem.pem").stdout)["key_id"] == mlkem
    signing = json.loads(run("keygen", "--alg", "ML-DSA-44", "--json", "-o",
                             tmp_path / "s.pem").stdout)
    assert "key_id" not in signing  # pqml/v1 key ids name encryption recipients


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_inspect_dash_reads_standard_input(tmp_path: Path, armor: bool) -> None:
    res = run("keygen", "-o", tmp_path / "me.pem")
    (tmp_path / "p").write_bytes(b"x" * 40000)
    enc = tmp_path / "e"
    assert run("encrypt", *(["-a"] if armor else []), "-r", res.stdout.strip(), "-o", enc,
               tmp_path / "p").exit_code == 0
    expected = json.loads(run("inspect", "--json", enc).stdout)
    expected["file"] = "<stdin>"
    argv = [sys.executable, "-m", "pqml.cli.main", "inspect", "--json", "-"]
    with enc.open("rb") as f:  # a file redirected: `pqml inspect - < e`
        redirected = subprocess.run(argv, stdin=f, capture_output=True, check=True)
    piped = subprocess.run(argv, input=enc.read_bytes(), capture_output=True, check=True)
    assert json.loads(redirected.stdout) == expected == json.loads(piped.stdout)
    res = run("inspect", "-", input=b"plain text")
    assert (res.exit_code, res.stderr) == (1, "pqml: error: <stdin>: not an encrypted file "
                                              "(expected pqml/v1 or age, binary or armored)\n")
