"""Dependency files that name cryptographic libraries.

A dependency is not a use -- but a project that pins ``rsa`` or ``ecdsa`` can only do
classical public-key cryptography with them, and the pin is where a migration starts
(swap the library). Each crypto library becomes one finding and, in the CBOM, one
``library`` component with its PyPI purl. ``quantum_vulnerable`` is true for libraries
that offer only classical public-key algorithms.

Read: requirements*.txt / *.in, pyproject.toml (PEP 621 and Poetry tables), setup.cfg,
Pipfile, poetry.lock, environment.yml.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from pqml.scan.model import Finding, unique_by

# PyPI name (normalised) -> (what it provides, offers only classical public-key crypto?)
CRYPTO_LIBRARIES: dict[str, tuple[str, bool]] = {
    "cryptography": ("pyca: RSA, EC, Ed25519, X25519, AES, HMAC; ML-KEM/ML-DSA in recent "
                     "releases", False),
    "pyopenssl": ("OpenSSL bindings: TLS, X.509, RSA/EC keys", True),
    "pycryptodome": ("RSA, DSA, ECC, ElGamal, AES, 3DES, hashes", True),
    "pycryptodomex": ("RSA, DSA, ECC, ElGamal, AES, 3DES, hashes", True),
    "pycrypto": ("unmaintained: RSA, DSA, ElGamal, AES, DES", True),
    "rsa": ("pure-Python RSA (PKCS#1 v1.5)", True),
    "ecdsa": ("pure-Python ECDSA / ECDH", True),
    "pynacl": ("libsodium: Ed25519, X25519, XSalsa20-Poly1305", True),
    "paramiko": ("SSH: RSA, ECDSA, Ed25519 keys, classical key exchange", True),
    "asyncssh": ("SSH: classical and sntrup/ML-KEM hybrid key exchange", False),
    "pyjwt": ("JWT: HS/RS/PS/ES/EdDSA", True),
    "python-jose": ("JOSE: HS/RS/ES, RSA-OAEP", True),
    "authlib": ("OAuth/JOSE: RS/PS/ES/EdDSA", True),
    "jwcrypto": ("JOSE: RSA, EC, OKP keys", True),
    "josepy": ("JOSE for ACME: RS/ES", True),
    "m2crypto": ("OpenSSL bindings: RSA, DSA, EC, TLS", True),
    "tlslite-ng": ("pure-Python TLS", True),
    "pgpy": ("OpenPGP: RSA, ECDSA, EdDSA", True),
    "python-gnupg": ("GnuPG wrapper", True),
    "tink": ("Google Tink: AEAD, signatures (classical)", True),
    "model-signing": ("OpenSSF model signing: ECDSA", True),
    "sigstore": ("Sigstore signing: ECDSA", True),
    "liboqs-python": ("Open Quantum Safe: ML-KEM, ML-DSA, SLH-DSA, Falcon", False),
    "oqs": ("Open Quantum Safe: ML-KEM, ML-DSA, SLH-DSA, Falcon", False),
    "pqcrypto": ("post-quantum schemes (Rust)", False),
    "pypqc": ("post-quantum schemes (PQClean)", False),
    "kyber-py": ("ML-KEM (pure Python)", False),
    "dilithium-py": ("ML-DSA (pure Python)", False),
    "pqml": ("post-quantum protection for ML assets", False),
    "bcrypt": ("bcrypt password hashing", False),
    "argon2-cffi": ("Argon2 password hashing", False),
    "passlib": ("password hashing (incl. MD5-crypt, SHA-crypt)", False),
    "blake3": ("BLAKE3 hash", False),
}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;#]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _finding(path: str, line: int, raw: str, name: str, spec: str) -> Finding:
    key = normalize(name)
    provides, classical = CRYPTO_LIBRARIES[key]
    version = None
    m = re.search(r"==\s*([\w.+!-]+)", spec)
    if m:
        version = m.group(1)
    return Finding(
        path=path, line=line, kind="dependency", algorithm=key, primitive="other",
        usage="dependency", evidence=raw.strip()[:240], confidence="high",
        parameter=spec.strip() or None, quantum_vulnerable=classical, asset_type="library",
        library=key, status="legacy" if classical else "supported",
        details={"provides": provides, "version": version, "specifier": spec.strip()},
    )


def _requirement(path: str, line: int, raw: str, text: str) -> Finding | None:
    m = _NAME.match(text)
    if not m or text.lstrip().startswith(("-", "#")):
        return None
    if normalize(m.group(1)) in CRYPTO_LIBRARIES:
        return _finding(path, line, raw, m.group(1), m.group(3))
    return None


def requirements(text: str, path: str) -> list[Finding]:
    out = []
    for i, raw in enumerate(text.splitlines(), 1):
        f = _requirement(path, i, raw, raw.split(" #", 1)[0])
        if f:
            out.append(f)
    return out


def _line_of(text: str, needle: str, start: int = 0) -> tuple[int, str]:
    pattern = re.compile(rf"(?im)^[^\n#]*[\"']?\b{re.escape(needle)}\b[^\n]*$")
    m = pattern.search(text, start)
    if not m:
        return 1, needle
    return text.count("\n", 0, m.start()) + 1, m.group(0)


def _toml_requirements(text: str, path: str, items: list[str]) -> list[Finding]:
    out = []
    for item in items:
        m = _NAME.match(item)
        if m and normalize(m.group(1)) in CRYPTO_LIBRARIES:
            line, raw = _line_of(text, m.group(1))
            out.append(_finding(path, line, raw, m.group(1), m.group(3)))
    return out


def _poetry_table(text: str, path: str, table: Any) -> list[Finding]:
    out = []
    if isinstance(table, dict):
        for name, spec in table.items():
            if normalize(name) in CRYPTO_LIBRARIES:
                version = spec if isinstance(spec, str) else (
                    spec.get("version", "") if isinstance(spec, dict) else "")
                line, raw = _line_of(text, name)
                out.append(_finding(path, line, raw, name, str(version)))
    return out


def pyproject(text: str, path: str) -> list[Finding]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    items: list[str] = []
    project = doc.get("project", {})
    items += [d for d in project.get("dependencies", []) if isinstance(d, str)]
    for extra in project.get("optional-dependencies", {}).values():
        items += [d for d in extra if isinstance(d, str)]
    for group in doc.get("dependency-groups", {}).values():
        items += [d for d in group if isinstance(d, str)]
    out = _toml_requirements(text, path, items)
    poetry = doc.get("tool", {}).get("poetry", {})
    out += _poetry_table(text, path, poetry.get("dependencies"))
    for group in poetry.get("group", {}).values():
        out += _poetry_table(text, path, group.get("dependencies"))
    return _unique(out)


def pipfile(text: str, path: str) -> list[Finding]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    return _unique(_poetry_table(text, path, doc.get("packages"))
                   + _poetry_table(text, path, doc.get("dev-packages")))


def poetry_lock(text: str, path: str) -> list[Finding]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    out = []
    for pkg in doc.get("package", []):
        name = pkg.get("name", "")
        if normalize(name) in CRYPTO_LIBRARIES:
            m = re.search(rf'(?m)^name = "{re.escape(name)}"\s*$', text)
            line = text.count("\n", 0, m.start()) + 1 if m else 1
            out.append(_finding(path, line, f'name = "{name}"', name,
                                f"=={pkg.get('version', '')}"))
    return out


def setup_cfg(text: str, path: str) -> list[Finding]:
    out = []
    in_requires = False
    for i, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("["):
            in_requires = False
            continue
        if not raw[:1].isspace():  # a new "key = value" line
            key, sep, value = stripped.partition("=")
            in_requires = bool(sep) and key.strip() in (
                "install_requires", "tests_require", "setup_requires")
            stripped = value.strip()
            if not in_requires or not stripped:
                continue
        if in_requires:
            f = _requirement(path, i, raw, stripped)
            if f:
                out.append(f)
    return out


def environment_yml(text: str, path: str) -> list[Finding]:
    out = []
    for i, raw in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*-\s+([A-Za-z0-9][\w.-]*)\s*([=<>!~]=?[^\s#]*)?", raw)
        if m and normalize(m.group(1)) in CRYPTO_LIBRARIES:
            out.append(_finding(path, i, raw, m.group(1), m.group(2) or ""))
    return out


def _unique(findings: list[Finding]) -> list[Finding]:
    return unique_by(findings, lambda f: (f.line, f.algorithm))


def findings(name: str, text: str, path: str) -> list[Finding]:
    """Dispatch on the file name; an empty list for files that are not dependency files."""
    low = name.lower()
    if low == "pyproject.toml":
        return pyproject(text, path)
    if low == "pipfile":
        return pipfile(text, path)
    if low == "poetry.lock":
        return poetry_lock(text, path)
    if low == "setup.cfg":
        return setup_cfg(text, path)
    if low in ("environment.yml", "environment.yaml", "conda.yml", "conda.yaml"):
        return environment_yml(text, path)
    if is_requirements(low):
        return requirements(text, path)
    return []


def is_requirements(low: str) -> bool:
    return (low.startswith("requirements") and low.endswith((".txt", ".in"))) or low in (
        "constraints.txt", "requirements.lock")


def is_dependency_file(name: str) -> bool:
    low = name.lower()
    return low in ("pyproject.toml", "pipfile", "poetry.lock", "setup.cfg", "environment.yml",
                   "environment.yaml", "conda.yml", "conda.yaml") or is_requirements(low)
