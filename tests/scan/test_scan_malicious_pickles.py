"""Malicious pickles must not pass ``pqml scan`` unseen (issue 18, items 1, 9 and 10).

Every pickle here is written opcode by opcode (never produced or read by ``pickle``), and
each is checked through the real CLI: ``--fail-on code-execution`` must exit 1 and the
finding must name what the pickle would import.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from pqml.cli.main import cli
from pqml.scan import detect
from pqml.scan.files import artifacts

# SHORT_BINUNICODE "os", "system", STACK_GLOBAL, "id", TUPLE1, REDUCE -- no PROTO opcode,
# so the first byte is 0x8c; pickle, joblib and torch.load(weights_only=False) all run it.
NO_PROTO = b"\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."
# the plain protocol 4 os.system pickle (for items 9 and 10, which are not about evasion)
PROTO_OS = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."
# protocol 4 os.system payload, then a BINBYTES8 claiming 2**62 bytes
HUGE_BYTES8 = (b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R"
               + b"\x8e" + struct.pack("<Q", 1 << 62))
# "os", "system", decoy string, POP, STACK_GLOBAL: the loader imports os.system
DECOY_POP = b"\x80\x04\x8c\x02os\x8c\x06system\x8c\x05decoy0\x93\x8c\x02id\x85R."
# the same decoy behind MARK ... POP_MARK, and module / name fetched back from the memo
DECOY_MARK_MEMO = (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94(\x8c\x05decoy\x8c\x04evil1"
                   b"h\x00h\x01\x93\x8c\x02id\x85R.")
# module name built by a call (operator.add("o", "s")): not resolvable by reading strings
COMPUTED_MODULE = (b"\x80\x04\x8c\x08operator\x8c\x03add\x93\x8c\x01o\x8c\x01s\x86R"
                   b"\x8c\x06system\x93\x8c\x02id\x85R.")
# protocol 0, all text, under a name no artifact detector would look at
PROTOCOL0_TEXT = b"cos\nsystem\n(S'id'\ntR."


def scan_json(root: Path, *extra: str):
    res = CliRunner().invoke(cli, ["scan", str(root), "-f", "json", "--no-progress",
                                   "--fail-on", "code-execution", *extra],
                             catch_exceptions=False)
    return res, json.loads(res.stdout)


def artifact(doc: dict, path: str) -> dict:
    found = [f for f in doc["findings"] if f["path"] == path and f["kind"] == "artifact"]
    assert len(found) == 1, doc["findings"]
    return found[0]["details"]["artifact"]


@pytest.mark.parametrize("name", ["evil.pkl", "evil.bin", "evil.pt", "evil.joblib"])
def test_pickle_without_proto_opcode_is_found(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(NO_PROTO)
    res, doc = scan_json(tmp_path)
    assert res.exit_code == 1, res.output
    art = artifact(doc, name)
    assert art["code_execution_risk"] and "os.system" in art["dangerous_imports"]


def test_protocol0_pickle_under_any_name_is_found(tmp_path: Path) -> None:
    (tmp_path / "notes.dat").write_bytes(PROTOCOL0_TEXT)
    res, doc = scan_json(tmp_path)
    assert res.exit_code == 1, res.output
    assert "os.system" in artifact(doc, "notes.dat")["dangerous_imports"]


def test_huge_bytes8_length_neither_allocates_nor_hides_the_import(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(HUGE_BYTES8)
    res, doc = scan_json(tmp_path)
    assert res.exit_code == 1, res.output
    art = artifact(doc, "model.pkl")
    assert "os.system" in art["dangerous_imports"]
    assert art["analysis"].startswith("could not be analysed: treat as code execution")


@pytest.mark.parametrize("payload", [DECOY_POP, DECOY_MARK_MEMO], ids=["pop", "mark-memo"])
def test_decoy_strings_do_not_rename_stack_global(tmp_path: Path, payload: bytes) -> None:
    (tmp_path / "model.pkl").write_bytes(payload)
    res, doc = scan_json(tmp_path)
    assert res.exit_code == 1, res.output
    art = artifact(doc, "model.pkl")
    assert "os.system" in art["dangerous_imports"]
    assert not any("decoy" in i or "evil" in i for i in art["pickle"]["imports"])


def test_unresolvable_stack_global_operand_is_dangerous(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(COMPUTED_MODULE)
    res, doc = scan_json(tmp_path, "--fail-on", "critical")
    assert res.exit_code == 1, res.output
    art = artifact(doc, "model.pkl")
    assert "<unresolved>.<unresolved>" in art["dangerous_imports"]
    assert "operator.add" in art["pickle"]["imports"]


def test_pickle_named_file_that_does_not_parse_is_a_code_execution_risk(
        tmp_path: Path) -> None:
    (tmp_path / "weights.pkl").write_bytes(b"\xff\xfe not a pickle \x00\x01")
    res, doc = scan_json(tmp_path)
    assert res.exit_code == 1, res.output
    art = artifact(doc, "weights.pkl")
    assert art["code_execution_risk"]
    assert "could not be analysed: treat as code execution" in art["analysis"]


def test_analysis_exception_becomes_a_finding(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(DECOY_POP)

    def explode(*_args: object) -> None:
        raise MemoryError

    monkeypatch.setattr(artifacts, "identify", explode)
    result = detect.scan_file(str(path), "model.pt", path.stat().st_size)
    assert len(result.findings) == 1
    art = result.findings[0].details["artifact"]
    assert art["code_execution_risk"]
    assert art["analysis"].startswith("could not be analysed: treat as code execution")


def test_random_bytes_and_text_are_still_not_pickles(tmp_path: Path) -> None:
    (tmp_path / "raw.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "app.py").write_text("class A:\n    pass\n")
    (tmp_path / "README").write_text("N.\n")
    res, doc = scan_json(tmp_path)
    assert res.exit_code == 0, res.output
    assert [f for f in doc["findings"] if f["kind"] == "artifact"] == []


# a benign-looking pickle: collections.OrderedDict(), no dangerous import, still runs code
BENIGN = b"\x80\x04\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R."


def _sign_with_own_key(model: Path, name: str) -> None:
    """An OMS bundle signed by a key made up on the spot: anyone can write one."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import mldsa

    from pqml.formats import oms

    digest = hashlib.sha256((model / name).read_bytes()).hexdigest()
    statement = oms.build_statement([oms.Resource(name, digest)], oms.Serialization(), "m")
    payload = statement.to_payload()
    sig = mldsa.MLDSA65PrivateKey.generate().sign(oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, payload))
    bundle = oms.Bundle(oms.VerificationMaterial(oms.PublicKeyIdentifier(hint="00" * 32)),
                        oms.Envelope(payload, (oms.Signature(sig),)))
    (model / "model.sig").write_bytes(bundle.to_json())


@pytest.mark.parametrize("payload", [BENIGN, PROTO_OS], ids=["benign", "os-system"])
def test_unverified_bundle_does_not_lower_code_execution_risk(tmp_path: Path,
                                                              payload: bytes) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "signed").mkdir()
    for d in ("plain", "signed"):
        (tmp_path / d / "model.pkl").write_bytes(payload)
    _sign_with_own_key(tmp_path / "signed", "model.pkl")
    _res, plain = scan_json(tmp_path / "plain")
    res, signed = scan_json(tmp_path / "signed", "--fail-on", "critical,high")
    f_plain = next(f for f in plain["findings"] if f["path"] == "model.pkl")
    f_signed = next(f for f in signed["findings"] if f["path"] == "model.pkl")
    assert f_signed["details"]["protection"]["status"] == "signed"
    assert f_signed["risk"]["score"] >= f_plain["risk"]["score"]
    assert f_signed["risk"]["level"] in ("critical", "high")
    assert res.exit_code == 1, res.output


@pytest.fixture
def hiding_repo(tmp_path: Path) -> Path:
    """A repository whose own pqml.toml tries to hide its malicious pickle."""
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "evil.pkl").write_bytes(PROTO_OS)
    (repo / "tests").mkdir()
    (repo / "tests" / "old.py").write_text("import hashlib\nhashlib.md5(b'x')\n")
    (repo / "pqml.toml").write_text('[scan]\nignore = ["*.pkl", "models/", "tests/"]\n')
    return repo


def test_repository_config_cannot_ignore_its_pickle(hiding_repo: Path) -> None:
    res, doc = scan_json(hiding_repo)
    assert res.exit_code == 1, res.output
    assert artifact(doc, "models/evil.pkl")["dangerous_imports"] == ["os.system"]
    assert not any(f["path"] == "tests/old.py" for f in doc["findings"])  # code: still ignored
    assert doc["summary"]["repository_config"] == str(hiding_repo / "pqml.toml")
    assert f"pqml: applied repository config {hiding_repo / 'pqml.toml'}" in res.stderr


def test_repository_baseline_cannot_accept_its_pickle(hiding_repo: Path) -> None:
    (hiding_repo / "pqml.toml").write_text("")
    res, _ = scan_json(hiding_repo)
    assert res.exit_code == 1
    baseline = hiding_repo / ".pqml-baseline.json"
    CliRunner().invoke(cli, ["scan", str(hiding_repo), "--write-baseline", str(baseline)],
                       catch_exceptions=False)
    (hiding_repo / "pqml.toml").write_text(f'[scan]\nbaseline = "{baseline}"\n')
    res, doc = scan_json(hiding_repo)
    assert res.exit_code == 1, res.output
    assert artifact(doc, "models/evil.pkl")["dangerous_imports"] == ["os.system"]
    assert not any(f["path"] == "tests/old.py" for f in doc["findings"])  # baselined
    # the user's own --baseline is trusted as before
    res, doc = scan_json(hiding_repo, "--baseline", str(baseline))
    assert res.exit_code == 0, res.output


def test_no_repo_config_skips_it(hiding_repo: Path) -> None:
    res, doc = scan_json(hiding_repo, "--no-repo-config")
    assert res.exit_code == 1, res.output
    assert any(f["path"] == "tests/old.py" for f in doc["findings"])
    assert doc["summary"]["repository_config"] is None
    assert "repository config" not in res.stderr


def test_text_padded_with_opcodes_is_still_read_as_text(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    (tmp_path / "notes.txt").write_bytes(b"(" * 70_000 + b"\n" + pem)
    _res, doc = scan_json(tmp_path)
    assert any(f["path"] == "notes.txt" and f["kind"] != "artifact" for f in doc["findings"])
