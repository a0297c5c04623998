"""Generate, load, save and convert keys of any registered algorithm.

Encoding choice lives here (PEM everywhere, age Bech32 where age defines one) so the CLI
and the Python API behave identically.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pqml._internal.text import with_article
from pqml.primitives import registry
from pqml.primitives.base import PrivateKey, PublicKey
from pqml.primitives.errors import KeyFormatError, PolicyError, WrongKeyTypeError

KeyFormat = Literal["pem", "age"]
AGE_ALGORITHMS = ("X-Wing", "X25519")


def generate(
    alg: str | None = None, profile: str = "default", *, allow_classical: bool = False
) -> PrivateKey:
    """A new private key for ``alg`` (an algorithm name or a role like 'kem').

    Quantum-vulnerable algorithms need ``allow_classical`` so nobody creates one by accident.
    """
    entry = registry.resolve(alg, profile)
    if entry.family not in ("kem", "signature"):
        raise PolicyError(
            f"{entry.name} is {with_article(entry.family)}, not a key-pair algorithm"
        )
    if entry.quantum_vulnerable and not allow_classical:
        raise PolicyError(
            f"{entry.name} is quantum-vulnerable; pass --allow-classical to generate it anyway"
        )
    return entry.scheme().generate()


def _read(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def load(source: str | Path | bytes, *, passphrase: bytes | None = None,
         hint: str | None = None) -> PrivateKey | PublicKey:
    """Any key: PEM (PKCS#8, SEC1, PKCS#1, SPKI), age identity file, or age recipient."""
    from pqml.formats import keyfile

    data = _read(source)
    try:
        return keyfile.load_key(data, passphrase=passphrase, hint=hint)
    except KeyFormatError as exc:
        if isinstance(source, (str, Path)):
            raise type(exc)(f"{source}: {exc}") from None
        raise


def load_private(source: str | Path | bytes, *, passphrase: bytes | None = None,
                 hint: str | None = None) -> PrivateKey:
    key = load(source, passphrase=passphrase, hint=hint)
    if not isinstance(key, PrivateKey):
        where = f"{source}: " if isinstance(source, (str, Path)) else ""
        raise WrongKeyTypeError(
            f"{where}expected a private key, found {with_article(key.algorithm)} public key"
        )
    return key


def load_public(source: str | Path | bytes, *, hint: str | None = None) -> PublicKey:
    """A public key; a private key file yields its public half."""
    key = load(source, hint=hint)
    return key.public_key() if isinstance(key, PrivateKey) else key


def _check_age(key: PrivateKey | PublicKey) -> None:
    if key.algorithm not in AGE_ALGORITHMS:
        raise KeyFormatError(
            f"age defines no encoding for {key.algorithm} keys (only X-Wing and X25519)"
        )


def public_text(key: PrivateKey | PublicKey, *, age: bool = False) -> str:
    """The public form: age recipient string, or PEM SubjectPublicKeyInfo."""
    from pqml.formats import age_keys, keyfile

    pub = key.public_key() if isinstance(key, PrivateKey) else key
    if age:
        _check_age(pub)
        return age_keys.encode_recipient(pub)
    return keyfile.public_key_to_pem(pub).decode()


def private_bytes(key: PrivateKey, fmt: KeyFormat = "pem", *,
                  passphrase: bytes | None = None) -> bytes:
    """The private key file contents in ``fmt`` (an age identity file mirrors age-keygen)."""
    from pqml.formats import age_keys, keyfile

    if fmt == "age":
        _check_age(key)
        if passphrase:
            raise KeyFormatError("age identity files cannot be passphrase-protected here; use PEM")
        created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return (
            f"# created: {created}\n"
            f"# public key: {age_keys.encode_recipient(key.public_key())}\n"
            f"{age_keys.encode_identity(key)}\n"
        ).encode()
    return keyfile.private_key_to_pem(key, passphrase=passphrase)


def conversion_passphrase(source: str | Path | bytes, fmt: KeyFormat,
                          passphrase: bytes | None, *, no_passphrase: bool = False) -> bytes | None:
    """The passphrase a converted private key is written with: the input's own, so a
    conversion never silently strips protection. ``no_passphrase`` writes it unencrypted
    (the caller says so); age identity files have no passphrase form, so an encrypted input
    becomes one only with ``no_passphrase``."""
    from pqml.formats import keyfile

    if no_passphrase or passphrase is None or not keyfile.is_encrypted(_read(source)):
        return None
    if fmt == "age":
        raise PolicyError("age identity files cannot be passphrase-protected; pass "
                          "--no-passphrase to write this encrypted key unencrypted")
    return passphrase


def save_private(key: PrivateKey, path: str | Path, fmt: KeyFormat = "pem", *,
                 passphrase: bytes | None = None) -> Path:
    """Write a new 0600 key file; never overwrites an existing one."""
    from pqml.formats import keyfile

    keyfile.write_private_key_file(Path(path), private_bytes(key, fmt, passphrase=passphrase))
    return Path(path)


def save_public(key: PrivateKey | PublicKey, path: str | Path, *, age: bool = False) -> Path:
    from pqml.formats import keyfile

    text = public_text(key, age=age)
    keyfile.write_public_file(Path(path), (text if text.endswith("\n") else text + "\n").encode())
    return Path(path)


def describe(key: PrivateKey | PublicKey) -> dict[str, object]:
    """Machine-readable facts about a key, for ``--json`` output."""
    entry = registry.get(key.algorithm)
    pub = key.public_key() if isinstance(key, PrivateKey) else key
    info: dict[str, object] = {
        "algorithm": entry.name,
        "family": entry.family,
        "private": isinstance(key, PrivateKey),
        "quantum_vulnerable": entry.quantum_vulnerable,
        "nist_category": entry.nist_category,
        "public_key_pem": public_text(pub),
    }
    if entry.name in AGE_ALGORITHMS:
        info["recipient"] = public_text(pub, age=True)
    return info
