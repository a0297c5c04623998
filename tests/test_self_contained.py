"""The suite stands alone: a plain clone tests itself, and nothing reads beside the repo."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import GUARD, REPO, VECTORS, OutsideRepositoryError, ReadGuard

# Assembled from pieces so that no text of this file names the folder it looks for.
_SIBLING = "shared"
SHARED_REFERENCE = re.compile(re.escape("..") + "/" + _SIBLING + "|" + _SIBLING + "_vector")


def test_guard_refuses_siblings_of_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (tmp_path / "beside" / "vectors").mkdir(parents=True)
    guard = ReadGuard.beside(repo)
    assert guard.forbidden == {tmp_path / "beside"}
    with pytest.raises(OutsideRepositoryError, match="outside the repository"):
        guard.check(str(tmp_path / "beside" / "vectors" / "x.json"))
    with pytest.raises(OutsideRepositoryError):
        guard.check(repo / ".." / "beside")  # not fooled by "..": the path is normalised
    guard.check(str(repo / "tests" / "x.py"))
    guard.check(str(tmp_path / "made-later"))  # created after the snapshot: a test's own
    guard.check(3)  # file descriptors are not paths


def test_a_clone_in_the_temporary_directory_guards_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cloned straight into the temporary directory, the repository's siblings are other
    programs' scratch space (Ray keeps /tmp/ray there), not a workspace to guard."""
    import tempfile

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    repo = tmp_path / "clone"
    repo.mkdir()
    (tmp_path / "ray").mkdir()
    guard = ReadGuard.beside(repo)
    assert guard.forbidden == set()
    guard.check(str(tmp_path / "ray" / "ray_current_cluster"))


def test_guard_is_installed_for_every_test(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_bytes(b"x")
    monkeypatch.setattr(GUARD, "forbidden", {*GUARD.forbidden, outside})
    with pytest.raises(OutsideRepositoryError):
        (outside / "f").read_bytes()
    with pytest.raises(OutsideRepositoryError):
        os.listdir(outside)


def _project_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "Makefile", REPO / "pyproject.toml"]
    for top in ("src", "tests", "bench", "examples", "docs", ".ci"):
        for path in (REPO / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and \
                    not path.is_relative_to(VECTORS) and path.suffix != ".pyc" and \
                    not path.name.endswith(".egg-info") and \
                    not any(p.endswith(".egg-info") for p in path.parts):
                files.append(path)
    return files


def test_no_project_file_refers_to_a_folder_beside_it() -> None:
    offenders = []
    for path in _project_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{path.relative_to(REPO)}:{n}" for n, line in
                      enumerate(text.splitlines(), 1) if SHARED_REFERENCE.search(line)]
    assert offenders == []


def test_every_vector_set_says_where_it_came_from() -> None:
    sets = [d for d in VECTORS.iterdir() if d.is_dir()]
    assert {d.name for d in sets} >= {"age-cctv", "composite-sigs", "oms", "xwing"}
    readme = (VECTORS / "README.md").read_text()
    for d in sets:
        source = (d / "SOURCE").read_text()
        assert re.search(r"\b[0-9a-f]{7,40}\b", source), f"{d.name}: SOURCE names no commit"
        assert f"`{d.name}/`" in readme, f"{d.name}: not listed in tests/vectors/README.md"
