"""The public surface of ``import pqml``: every exported name resolves, and importing the
package or its capability packages loads no backend (start-up stays cheap)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import pqml

HEAVY = ("cryptography", "pqcrypto", "pqc", "blake3", "numpy", "torch", "joblib",
         "safetensors", "rich", "cyclonedx")


def test_all_is_exactly_the_exported_names() -> None:
    assert len(pqml.__all__) == len(set(pqml.__all__))
    assert set(pqml.__all__) == {"__version__", *pqml._LAZY}


@pytest.mark.parametrize("name", sorted(pqml._LAZY))
def test_every_exported_name_resolves(name: str) -> None:
    module, _, attr = pqml._LAZY[name].partition(":")
    target = importlib.import_module(module)
    assert getattr(pqml, name) is (getattr(target, attr) if attr else target)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'encrypt_files'"):
        pqml.encrypt_files  # noqa: B018


@pytest.mark.parametrize("module", ["pqml", "pqml.errors", "pqml.encryption", "pqml.signing",
                                    "pqml.keys", "pqml.scan", "pqml.bench", "pqml._internal"])
def test_importing_a_package_loads_no_backend(module: str) -> None:
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_scan_function_survives_importing_the_scan_package() -> None:
    code = ("import pqml, pqml.scan.runner, pqml.scan.report.cbom; "
            "from pqml.scan import runner; "
            "print(callable(pqml.scan), pqml.scan.__module__, runner.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["True", "pqml.scan", "pqml.scan.runner"]
