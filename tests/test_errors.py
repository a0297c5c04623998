"""pqml.errors re-exports every error pqml defines, and its drawn hierarchy is the real one."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pqml
from pqml import errors


def _defined_errors() -> dict[str, type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(pqml.__path__, "pqml."):
        if info.name.startswith(("pqml.cli", "pqml.joblib", "pqml.torch")):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, errors.PqmlError) and \
                    value.__module__ == info.name:
                found[name] = value
    return found


def test_every_error_is_re_exported() -> None:
    defined = _defined_errors()
    assert sorted(errors.__all__) == errors.__all__
    assert set(errors.__all__) == set(defined)
    for name, cls in defined.items():
        assert getattr(errors, name) is cls


def test_the_drawn_tree_matches_the_classes() -> None:
    doc = errors.__doc__ or ""
    rows = re.findall(r"^    ([│ ]*(?:[├└]── )?)(\w+)[^\n]*?(\S+)$", doc, re.M)
    assert rows, "no tree in the docstring"
    parents: list[str] = []
    drawn = set()
    for indent, name, home in rows:
        depth = len(indent) // 4
        cls = getattr(errors, name)
        drawn.add(name)
        assert cls.__module__ == f"pqml.{home}", f"{name} lives in {cls.__module__}"
        del parents[depth:]
        if parents:
            assert issubclass(cls, getattr(errors, parents[-1])), f"{name} under {parents[-1]}"
        parents.append(name)
    assert drawn == set(errors.__all__)
