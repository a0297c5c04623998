"""No silent overwrite: ``encrypt``, ``decrypt`` and ``sign`` refuse an existing output
(file or directory tree) with one line naming it and ``--force``; ``--force`` /
``force=True`` replaces it whole. ``-o DIR/`` writes inside DIR."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pqml.cli.main import cli
from pqml.encryption import encrypt as feature
from pqml.errors import OutputExistsError, OutputPathError
from pqml.formats import age_keys
from pqml.formats.keyfile import private_key_to_pem
from pqml.primitives import registry
from pqml.signing import signing

from conftest import cli_run as run

ALICE = registry.scheme("X-Wing").generate()
BOB = registry.scheme("X-Wing").generate()
SIGNER = registry.scheme("ML-DSA-44").generate()


def refused(res, output: Path | str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"pqml: error: {output}: "), res.stderr
    assert "--force" in lines[0]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "keys"
    d.mkdir()
    (d / "alice.pem").write_bytes(private_key_to_pem(ALICE))
    (d / "alice.txt").write_text(age_keys.encode_recipient(ALICE.public_key()) + "\n")
    (d / "bob.txt").write_text(age_keys.encode_recipient(BOB.public_key()) + "\n")
    (d / "signer.pem").write_bytes(private_key_to_pem(SIGNER))
    return {p.name: p for p in d.iterdir()}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(50_000))
    (root / "sub" / "config.json").write_text('{"a": 1}')
    return root


# ---- files ----------------------------------------------------------------------------------


def test_encrypt_refuses_an_existing_file_unless_force(tmp_path: Path,
                                                       keys: dict[str, Path]) -> None:
    (tmp_path / "p").write_bytes(b"plain")
    out = tmp_path / "p.pqml"
    out.write_bytes(b"precious")
    refused(run("encrypt", "-r", keys["alice.txt"], "-o", out, tmp_path / "p"), out)
    assert out.read_bytes() == b"precious"
    assert run("encrypt", "-r", keys["alice.txt"], "--force", "-o", out,
               tmp_path / "p").exit_code == 0
    run("decrypt", "-i", keys["alice.pem"], "-o", tmp_path / "back", out)
    assert (tmp_path / "back").read_bytes() == b"plain"


def test_decrypt_refuses_an_existing_file_unless_force(tmp_path: Path,
                                                       keys: dict[str, Path]) -> None:
    (tmp_path / "p").write_bytes(b'{"new": 1}')
    run("encrypt", "-r", keys["alice.txt"], "-o", tmp_path / "e", tmp_path / "p")
    existing = tmp_path / "existing.json"
    existing.write_text('{"old": 1}')
    refused(run("decrypt", "-i", keys["alice.pem"], "-o", existing, tmp_path / "e"), existing)
    assert existing.read_text() == '{"old": 1}'
    assert run("decrypt", "-i", keys["alice.pem"], "-o", existing, "--force",
               tmp_path / "e").exit_code == 0
    assert existing.read_text() == '{"new": 1}'


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_standard_input_to_an_existing_file(tmp_path: Path, keys: dict[str, Path],
                                            command: str) -> None:
    (tmp_path / "p").write_bytes(b"data")
    run("encrypt", "-r", keys["alice.txt"], "-o", tmp_path / "e", tmp_path / "p")
    out = tmp_path / "out"
    out.write_bytes(b"precious")
    key = ["-r", keys["alice.txt"]] if command == "encrypt" else ["-i", keys["alice.pem"]]
    feed = (tmp_path / ("p" if command == "encrypt" else "e")).read_bytes()
    res = CliRunner().invoke(cli, [command, *map(str, key), "-o", str(out)], input=feed)
    refused(res, out)
    assert out.read_bytes() == b"precious"
    res = CliRunner().invoke(cli, [command, *map(str, key), "--force", "-o", str(out)],
                             input=feed)
    assert res.exit_code == 0 and out.read_bytes() != b"precious"


def test_api_force(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"data")
    (tmp_path / "e").write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match=f"^{tmp_path / 'e'}: already exists.*force"):
        feature.encrypt_file(tmp_path / "p", tmp_path / "e", [ALICE.public_key()])
    (tmp_path / "p.pqml").write_bytes(b"precious")  # the default output name
    with pytest.raises(FileExistsError):  # also the standard library's class
        feature.encrypt_file(tmp_path / "p", None, [ALICE.public_key()])
    assert (tmp_path / "e").read_bytes() == b"precious"
    feature.encrypt_file(tmp_path / "p", tmp_path / "e", [ALICE.public_key()], force=True)
    (tmp_path / "o").write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        feature.decrypt_file(tmp_path / "e", tmp_path / "o", [ALICE])
    assert (tmp_path / "o").read_bytes() == b"precious"
    feature.decrypt_file(tmp_path / "e", tmp_path / "o", [ALICE], force=True)
    assert (tmp_path / "o").read_bytes() == b"data"


def test_an_output_that_appears_during_the_work_is_not_clobbered(tmp_path: Path) -> None:
    """The final step is a link, which fails if the name was taken meanwhile."""
    (tmp_path / "p").write_bytes(os.urandom(200_000))
    target = tmp_path / "e"

    def appear(n: int) -> None:
        if not target.exists():
            target.write_bytes(b"written by someone else meanwhile")

    with pytest.raises(OutputExistsError, match=f"^{target}: already exists"):
        feature.encrypt_file(tmp_path / "p", target, [ALICE.public_key()], progress=appear)
    assert target.read_bytes() == b"written by someone else meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e", "p"]


# ---- -o DIR/ --------------------------------------------------------------------------------


def test_trailing_slash_writes_inside_a_directory(tmp_path: Path, keys: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("README.md").write_text("# hello\n")
    assert run("encrypt", "-r", keys["alice.txt"], "-o", "enc2/", "README.md").exit_code == 0
    assert Path("enc2").is_dir() and sorted(os.listdir("enc2")) == ["README.md.pqml"]
    assert run("decrypt", "-i", keys["alice.pem"], "-o", "dec/",
               "enc2/README.md.pqml").exit_code == 0
    assert Path("dec/README.md").read_text() == "# hello\n"
    # an existing directory, without the slash, takes the file inside too
    assert run("encrypt", "-r", keys["alice.txt"], "--format", "age", "-o", "enc2",
               "README.md").exit_code == 0
    assert sorted(os.listdir("enc2")) == ["README.md.age", "README.md.pqml"]
    # and the file inside is not overwritten silently either
    refused(run("encrypt", "-r", keys["alice.txt"], "-o", "enc2/", "README.md"),
            "enc2/README.md.pqml")


def test_trailing_slash_failures(tmp_path: Path, keys: dict[str, Path]) -> None:
    (tmp_path / "p").write_bytes(b"x")
    run("encrypt", "-r", keys["alice.txt"], "-o", tmp_path / "e", tmp_path / "p")
    res = run("decrypt", "-i", keys["bob.txt"], "-o", f"{tmp_path}/new/", tmp_path / "e")
    assert res.exit_code == 1 and not (tmp_path / "new").exists()  # made, then removed
    with pytest.raises(OutputPathError, match=r"does not end in \.pqml or \.age"):
        feature.decrypt_file(tmp_path / "e", f"{tmp_path}/d/", [ALICE])
    with pytest.raises(OutputPathError, match="a stream has no name"):
        feature.encrypt_to_path(open(tmp_path / "p", "rb"), f"{tmp_path}/s/",  # noqa: SIM115
                                [ALICE.public_key()])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e", "keys", "p"]


# ---- directory trees ------------------------------------------------------------------------


def test_encrypt_tree_refuses_an_existing_tree_unless_force(tmp_path: Path, model: Path,
                                                            keys: dict[str, Path]) -> None:
    """The reported case: a 3-recipient enc/ silently replaced by a 1-recipient one."""
    enc = tmp_path / "enc"
    assert run("encrypt", "-r", keys["alice.txt"], "-r", keys["bob.txt"], "-o", enc,
               model).exit_code == 0
    (enc / "stale-extra.pqml").write_bytes(b"from an older run")
    before = tree(enc)
    refused(run("encrypt", "-r", keys["alice.txt"], "-o", f"{enc}/", model), enc)
    assert tree(enc) == before
    assert run("encrypt", "-r", keys["alice.txt"], "--force", "-o", enc, model).exit_code == 0
    assert sorted(tree(enc)) == ["sub/config.json.pqml", "weights.bin.pqml"]  # replaced whole
    assert not any(TEMP in p.name for p in tmp_path.iterdir())


TEMP = ".pqml-tmp"


def test_decrypt_tree_refuses_an_existing_tree_unless_force(tmp_path: Path, model: Path,
                                                            keys: dict[str, Path]) -> None:
    enc, dec = tmp_path / "enc", tmp_path / "dec"
    run("encrypt", "-r", keys["alice.txt"], "-o", enc, model)
    dec.mkdir()
    (dec / "mine.txt").write_text("keep")
    refused(run("decrypt", "-i", keys["alice.pem"], "-o", dec, enc), dec)
    assert tree(dec) == {"mine.txt": b"keep"}
    assert run("decrypt", "-i", keys["alice.pem"], "-o", dec, "--force", enc).exit_code == 0
    assert tree(dec) == tree(model)


def test_an_empty_output_directory_is_filled(tmp_path: Path, model: Path) -> None:
    (tmp_path / "enc").mkdir()
    feature.encrypt_tree(model, tmp_path / "enc", [ALICE.public_key()])
    feature.decrypt_tree(tmp_path / "enc", tmp_path / "dec", [ALICE])
    assert tree(tmp_path / "dec") == tree(model)


def test_tree_api_force(tmp_path: Path, model: Path) -> None:
    enc = tmp_path / "enc"
    feature.encrypt_tree(model, enc, [ALICE.public_key()])
    before = tree(enc)
    with pytest.raises(OutputExistsError, match=f"^{enc}: already exists.*force"):
        feature.encrypt_tree(model, enc, [BOB.public_key()])
    assert tree(enc) == before
    feature.encrypt_tree(model, enc, [BOB.public_key()], force=True)
    feature.decrypt_tree(enc, tmp_path / "dec", [BOB])
    with pytest.raises(OutputExistsError):
        feature.decrypt_tree(enc, tmp_path / "dec", [BOB])
    feature.decrypt_tree(enc, tmp_path / "dec", [BOB], force=True)
    assert tree(tmp_path / "dec") == tree(model)


def test_a_tree_never_shows_partly_under_its_name(tmp_path: Path, model: Path) -> None:
    seen = []

    def look(n: int) -> None:
        seen.append((tmp_path / "enc").exists())

    feature.encrypt_tree(model, tmp_path / "enc", [ALICE.public_key()], progress=look)
    assert seen and not any(seen) and (tmp_path / "enc").is_dir()


def test_a_tree_that_fails_leaves_nothing(tmp_path: Path, model: Path) -> None:
    enc = tmp_path / "enc"
    feature.encrypt_tree(model, enc, [ALICE.public_key()])
    (enc / "weights.bin.pqml").write_bytes((enc / "weights.bin.pqml").read_bytes()[:-100])
    with pytest.raises(Exception, match="truncated"):
        feature.decrypt_tree(enc, tmp_path / "dec", [ALICE])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc", "model"]


def test_two_inputs_for_one_output_are_refused(tmp_path: Path) -> None:
    enc = tmp_path / "enc"
    enc.mkdir()
    (tmp_path / "p").write_bytes(b"x")
    feature.encrypt_file(tmp_path / "p", enc / "a.pqml", [ALICE.public_key()])
    feature.encrypt_file(tmp_path / "p", enc / "a.age", [ALICE.public_key()], format="age")
    with pytest.raises(OutputPathError, match="two inputs map to this output"):
        feature.decrypt_tree(enc, tmp_path / "dec", [ALICE])
    assert not (tmp_path / "dec").exists()


def test_an_output_containing_the_input_is_refused(tmp_path: Path, model: Path) -> None:
    with pytest.raises(OutputPathError, match="contains the input tree"):
        feature.encrypt_tree(model, tmp_path, [ALICE.public_key()], force=True)
    assert tree(model)


# ---- signature bundles ----------------------------------------------------------------------


def test_sign_refuses_an_existing_bundle_unless_force(model: Path,
                                                      keys: dict[str, Path]) -> None:
    assert run("sign", model, "-k", keys["signer.pem"]).exit_code == 0
    bundle = (model / "model.sig").read_bytes()
    refused(run("sign", model, "-k", keys["signer.pem"]), model / "model.sig")
    assert (model / "model.sig").read_bytes() == bundle
    (model / "weights.bin").write_bytes(b"retrained")
    assert run("sign", model, "-k", keys["signer.pem"], "--force").exit_code == 0
    assert (model / "model.sig").read_bytes() != bundle
    signing.verify_model(model, [SIGNER.public_key()])


def test_sign_api_refuses_before_hashing(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signing.sign_model(model, [SIGNER])
    from pqml.signing import manifest

    def no_hashing(*args: object, **kw: object) -> None:
        raise AssertionError("hashed a model whose bundle exists")

    monkeypatch.setattr(manifest, "hash_listing", no_hashing)
    with pytest.raises(OutputExistsError, match=r"signature bundle already exists.*force"):
        signing.sign_model(model, [SIGNER])
