"""The layer picture of docs/ARCHITECTURE.md, enforced: imports point downward only.

Every ``import`` in ``src/pqml`` (function-local imports included: lazy loading must not
hide an upward dependency) is read from the AST and checked against the layers below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

SRC = REPO / "src"

# Highest first; a module may import from its own layer or any layer below it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("cli", ("pqml.cli",)),
    ("interfaces", ("pqml", "pqml.errors", "pqml.joblib", "pqml.torch", "pqml.safetensors")),
    ("services", ("pqml.gateway", "pqml.fl")),
    ("capabilities", ("pqml.encryption", "pqml.signing", "pqml.keys", "pqml.scan",
                      "pqml.bench", "pqml.log", "pqml.storage",
                      "pqml.distributed")),
    ("internal", ("pqml._internal",)),
    ("formats", ("pqml.formats",)),
    ("primitives", ("pqml.primitives",)),
]
BACKENDS = ("cryptography", "pqcrypto", "pqc", "blake3", "nacl", "bcrypt")
# Backend imports above primitives that are known and kept; see docs/ARCHITECTURE.md.
BACKEND_EXCEPTIONS = {
    "pqml.formats.keyfile",       # PKCS#8 / SPKI serialization and PBES2 key-file encryption
    "pqml.signing.certificates",  # X.509 path validation by pyca's verifier
    "pqml.scan.files.x509_certs",  # parses certificates to report them, never verifies
    "pqml.bench.primitives",      # reports the backend's version beside the timings
}


def layer_of(module: str) -> int:
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank is not None, module
    return rank


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "pqml" and {a.name for a in node.names} == {"__version__"}:
                continue  # the version string: no dependency on the API
            found.append((node.lineno, target))
            # ``from pqml.x import y`` may name a submodule y: check it as such too.
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names
                      if (SRC / Path(*f"{target}.{alias.name}".split("."))).exists()
                      or (SRC / Path(*f"{target}.{alias.name}".split("."))).with_suffix(
                          ".py").exists()]
    return found


MODULES = sorted(SRC.joinpath("pqml").rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    for path in MODULES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_downward(path: Path) -> None:
    module = module_name(path)
    own = layer_of(module)
    upward = []
    for line, target in imports_of(path, module):
        if target == "pqml" or target.startswith("pqml."):
            if layer_of(target) < own:
                upward.append(f"line {line}: {target} ({LAYERS[layer_of(target)][0]})")
        elif target.split(".")[0] in BACKENDS and LAYERS[own][0] != "primitives" \
                and module not in BACKEND_EXCEPTIONS:
            upward.append(f"line {line}: backend {target} above primitives")
    assert upward == [], f"{module} ({LAYERS[own][0]}) imports upward"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    path = SRC / "pqml" / "formats" / "der.py"
    tree_imports = imports_of(path, "pqml.formats.der")
    assert all(layer_of(t) >= layer_of("pqml.formats.der")
               for _, t in tree_imports if t.startswith("pqml."))
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from pqml.encryption import encrypt\n")
    found = imports_of(fake, "pqml.formats.fake")
    assert (2, "pqml.encryption") in found
    assert layer_of("pqml.encryption.encrypt") < layer_of("pqml.formats.fake")
