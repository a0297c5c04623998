""".gitignore files are honoured (root and nested, ``!``, ``dir/``, ``/anchored``, ``**``),
also from above the scanned directory inside a git work tree, unless ``--no-gitignore``;
and no pattern -- from a .gitignore, pqml.toml or --ignore -- can stall the scan."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pqml.cli.main import cli
from pqml.scan.runner import collect
from pqml.scan.walk import IgnoreRules

CRYPTO = "import hashlib\nhashlib.md5(b'x')\n"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def walked(root: Path, *, gitignore: bool = True, ignore: tuple[str, ...] = ()) -> set[str]:
    warnings: list = []
    entries = collect([str(root)], IgnoreRules(ignore), True, gitignore, warnings)
    assert warnings == []
    return {e.rel for e in entries if e.rel.rsplit("/", 1)[-1] != ".gitignore"}


TREE = {
    ".gitignore": ("# generated output\n"
                   "build/\n"            # a directory, at any depth
                   "/generated\n"        # anchored at this directory
                   "*.log\n"
                   "!keep.log\n"
                   "docs/**/secret.py\n"  # ** spans zero or more directories
                   "out/**\n"            # everything inside out/, not out/ itself ...
                   "!out/keep.py\n"      # ... so this re-includes
                   "trailing.py   \n"    # trailing blanks do not count
                   "\\#hash.py\n"),      # an escaped # is a name, not a comment
    "sub/.gitignore": "local.py\n!important.log\n/anchored.py\n",
    "app.py": CRYPTO, "build/x.py": CRYPTO, "src/build/y.py": CRYPTO, "lib/build": CRYPTO,
    "generated/g.py": CRYPTO, "src/generated/g.py": CRYPTO,
    "a.log": "", "keep.log": "", "docs/a/b/secret.py": CRYPTO, "docs/secret.py": CRYPTO,
    "docs/public.py": CRYPTO, "out/x.py": CRYPTO, "out/deep/x.py": CRYPTO,
    "out/keep.py": CRYPTO, "trailing.py": CRYPTO, "#hash.py": CRYPTO,
    "sub/local.py": CRYPTO, "sub/deeper/local.py": CRYPTO, "sub/important.log": "",
    "sub/anchored.py": CRYPTO, "sub/deeper/anchored.py": CRYPTO,
}
KEPT = {"app.py", "lib/build", "src/generated/g.py", "keep.log", "docs/public.py",
        "out/keep.py", "sub/important.log", "sub/deeper/anchored.py"}


def test_gitignore_files_are_honoured_as_git_does(tmp_path: Path) -> None:
    write(tmp_path, TREE)
    assert walked(tmp_path) == KEPT
    assert walked(tmp_path, gitignore=False) == set(TREE) - {".gitignore", "sub/.gitignore"}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_same_files_as_git_itself(tmp_path: Path) -> None:
    """The oracle: what ``git ls-files --others --exclude-standard`` lists in a fresh
    repository (untracked files that no ignore rule excludes)."""
    write(tmp_path, TREE)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    out = subprocess.run(["git", "-C", str(tmp_path), "ls-files", "--others",
                          "--exclude-standard", "-z"], capture_output=True, check=True)
    by_git = {p for p in out.stdout.decode().split("\0") if p} - {".gitignore",
                                                                   "sub/.gitignore"}
    assert by_git == KEPT
    assert walked(tmp_path) == by_git


# Corners where a glob library and git part ways; git is the oracle. Each pattern is tried
# alone against the same tree. (Names are bytes to git: "?" is one byte, so "é" is two.)
TRICKY_NAMES = {"x[", "[[", "a\\", "a\\ ", "a ", "é", "f", "ab/c/f", "q/r/f", "#h", "!b"}
TRICKY_PATTERNS = [
    "x[", "[[", "a\\", "/a\\", "a\\\\ ", "a\\ ", "a\\\\\\ ", "?", "[^a]", "[!x]", "ab\\/c",
    "ab\\/", "ab//", "q//r", "/q/r/", "ab/c\\/", "**/", "\\#h", "\\!b", "!b", "ab/**",
    "**/f", "**/r/f", "\\/*",
]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_tricky_patterns_ignore_what_git_ignores(tmp_path: Path) -> None:
    write(tmp_path, dict.fromkeys(TRICKY_NAMES, ""))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    wrong = []
    for pattern in TRICKY_PATTERNS:
        (tmp_path / ".gitignore").write_text(pattern + "\n")
        out = subprocess.run(["git", "-C", str(tmp_path), "ls-files", "--others",
                              "--exclude-standard", "-z"], capture_output=True, check=True)
        by_git = set(out.stdout.decode().split("\0")) & TRICKY_NAMES
        if walked(tmp_path) != by_git:
            wrong.append((pattern, sorted(by_git), sorted(walked(tmp_path))))
    assert wrong == []


def test_work_tree_gitignores_above_the_scanned_directory_apply(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, {".gitignore": "gen/\n/src/tmp.py\n", ".git/info/exclude": "*.secret\n",
                 "src/gen/x.py": CRYPTO, "src/tmp.py": CRYPTO, "src/a.secret": CRYPTO,
                 "src/ok.py": CRYPTO, "src/deeper/tmp.py": CRYPTO})
    assert walked(repo / "src") == {"ok.py", "deeper/tmp.py"}
    assert walked(repo / "src", gitignore=False) == {"gen/x.py", "tmp.py", "a.secret",
                                                     "ok.py", "deeper/tmp.py"}
    shutil.rmtree(repo / ".git")  # not a work tree: only the scanned tree's own files count
    assert walked(repo / "src") == {"gen/x.py", "tmp.py", "a.secret", "ok.py",
                                    "deeper/tmp.py"}


def test_ignore_option_outranks_gitignore(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "*.log\n", "a.log": "", "b.log": "", "c.py": ""})
    assert walked(tmp_path, ignore=("!a.log", "c.py")) == {"a.log"}


def run(*args: str):
    return CliRunner().invoke(cli, ["scan", *args, "--no-progress"], catch_exceptions=False)


def test_cli_no_gitignore_and_config(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "build/\n", "build/gen.py": CRYPTO, "app.py": CRYPTO})

    def paths(*args: str) -> set[str]:
        res = run(str(tmp_path), "-f", "json", *args)
        assert res.exit_code == 0, res.output
        return {f["path"] for f in json.loads(res.stdout)["findings"]}

    assert paths() == {"app.py"}
    assert paths("--no-gitignore") == {"app.py", "build/gen.py"}
    (tmp_path / "pqml.toml").write_text("[scan]\ngitignore = false\n")
    assert paths() == {"app.py", "build/gen.py"}
    (tmp_path / "pqml.toml").write_text("[scan]\ngitignore = \"no\"\n")
    res = run(str(tmp_path))
    assert res.exit_code == 2 and "scan.gitignore must be true or false" in res.stderr
    # a file named on the command line is read even if a .gitignore excludes it
    (tmp_path / "pqml.toml").unlink()
    res = run(str(tmp_path / "build" / "gen.py"), "-f", "json")
    assert [f["path"] for f in json.loads(res.stdout)["findings"]] == ["gen.py"]


# Patterns that make a backtracking regex engine run for hours: stars that can split a
# long name in exponentially many ways, and ** that can split a deep path the same way.
STARS = "*a" * 24 + "*b"
DEEP = "**/a/" * 12 + "**/b"


def test_hostile_patterns_cannot_stall_the_scan(tmp_path: Path) -> None:
    """A pathological pattern in a scanned repository's .gitignore and pqml.toml, and on
    the command line, still lets the scan finish and decides correctly. Run in a child
    process so that a regression hangs only the child: the timeout is a hang guard, far
    above the second this takes."""
    deep = "/".join(["a"] * 40)
    write(tmp_path, {
        ".gitignore": f"{STARS}\n{DEEP}\n",
        "pqml.toml": f'[scan]\nignore = ["{STARS}", "{DEEP}"]\n',
        f"{'a' * 80}.py": CRYPTO,       # no "b" at the end: not ignored
        f"{'a' * 80}b": CRYPTO,         # ignored by STARS
        f"{deep}/x.py": CRYPTO,         # not ignored
        f"{deep}/b/x.py": CRYPTO,       # under a directory DEEP ignores
    })
    probe = ("import sys; from pqml.cli.main import cli; "
             "cli(['scan', *sys.argv[1:]], prog_name='pqml')")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path), "-f", "json",
                          "--no-progress", "--ignore", STARS, "--ignore", DEEP],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    paths = {f["path"] for f in json.loads(out.stdout)["findings"]}
    assert paths == {f"{'a' * 80}.py", f"{deep}/x.py"}


def test_many_class_patterns_cannot_stall_the_scan(tmp_path: Path) -> None:
    """A .gitignore within every limit (4000 patterns, under 256 KiB) whose patterns each
    have a long block of ``?`` to find inside a long name: hours of character-by-character
    search for a small tree. Child process and timeout as above (a hang guard)."""
    hostile = "*" + "?" * 61 + "b*"
    write(tmp_path, {".gitignore": f"{hostile}\n" * 4000,
                     **{f"{'a' * 200}{i}.py": CRYPTO for i in range(8)},
                     f"{'a' * 70}b.py": CRYPTO})
    probe = ("import sys; from pqml.cli.main import cli; "
             "cli(['scan', *sys.argv[1:]], prog_name='pqml')")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path), "-f", "json",
                          "--no-progress"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    paths = {f["path"] for f in json.loads(out.stdout)["findings"]}
    assert paths == {f"{'a' * 200}{i}.py" for i in range(8)}


def test_gitignore_over_the_limits_is_not_honoured_with_a_warning(tmp_path: Path) -> None:
    from pqml.scan.ignore_patterns import MAX_PATTERN_CHARS, MAX_PATTERNS
    from pqml.scan.walk import MAX_GITIGNORE_BYTES

    cases = {
        "long": "*.py\n" + "x" * (MAX_PATTERN_CHARS + 1) + "\n",
        "many": "*.py\n" + "".join(f"f{i}\n" for i in range(MAX_PATTERNS)),
        "big": "*.py\n" + "#" * MAX_GITIGNORE_BYTES + "\n",
    }
    for name, text in cases.items():
        write(tmp_path / name, {".gitignore": text, "x.py": CRYPTO})
    warnings: list = []
    entries = collect([str(tmp_path / n) for n in cases], IgnoreRules([]), True, True,
                      warnings)
    assert sorted(e.rel for e in entries if e.rel == "x.py") == ["x.py"] * 3  # fail open
    assert len(warnings) == 3 and {w.path for w in warnings} == {".gitignore"}
    text = " ".join(w.message for w in warnings)
    assert f"longer than {MAX_PATTERN_CHARS} characters" in text
    assert f"more than {MAX_PATTERNS} patterns" in text
    assert "larger than 256 KiB" in text
    assert all(w.message.startswith("not honoured") for w in warnings)
    res = run(str(tmp_path / "long"), "-f", "json")
    assert res.exit_code == 0
    assert "pqml: warning: .gitignore: not honoured" in res.stderr


def test_nested_gitignores_cannot_multiply_the_patterns_in_force(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pqml.scan import walk

    monkeypatch.setattr(walk, "MAX_ACTIVE_PATTERNS", 3)
    write(tmp_path, {".gitignore": "a.py\nb.py\n", "sub/.gitignore": "c.py\nd.py\n",
                     "a.py": "", "sub/b.py": "", "sub/c.py": "", "other/.gitignore": "e.py\n",
                     "other/e.py": ""})
    warnings: list = []
    entries = collect([str(tmp_path)], IgnoreRules([]), True, True, warnings)
    assert {e.rel for e in entries if not e.rel.endswith(".gitignore")} == {"sub/c.py"}
    assert [(w.path, w.message.split(":")[0]) for w in warnings] == [
        ("sub/.gitignore", "not honoured")]


def test_ignore_option_over_the_limit_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text(CRYPTO)
    res = run(str(tmp_path), "--ignore", "y" * 5000)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1
    assert lines[0].startswith("pqml: error: --ignore") and "longer than" in lines[0]
