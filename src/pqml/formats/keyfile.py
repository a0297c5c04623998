"""Key files: PEM / DER PKCS#8 and SubjectPublicKeyInfo for every registry algorithm.

Algorithms pyca/cryptography can parse itself (ML-KEM, ML-DSA, X25519, Ed25519, ECDSA,
RSA) are serialized and parsed by it, so its RFC seed forms (RFC 9935 / RFC 9881), SEC1,
PKCS#1 and OpenSSL's encrypted forms all work and our PEMs load in pyca and OpenSSL.
The others use the raw forms their specifications define, written here with a few lines
of strict DER:

- X-Wing (1.3.6.1.4.1.62253.25722): privateKey OCTET STRING = 32-byte seed,
  public BIT STRING = 1216-byte key (draft-connolly-cfrg-xwing-kem, its x509 vectors).
- SLH-DSA (RFC 9909): privateKey OCTET STRING = raw sk, BIT STRING = raw pk.
- Composite ML-DSA (draft-ietf-lamps-pq-composite-sigs): OCTET STRING = mldsaSeed ‖ tradSK,
  BIT STRING = mldsaPK ‖ tradPK.
- Falcon (OQS provisional OIDs): OCTET STRING = our stored private bytes.

Every AlgorithmIdentifier of these has absent parameters. An algorithm with no OID in the
registry (MLKEM1024-P384 today) cannot be written as PEM: we refuse rather than invent an
OID in an arc pqml does not own.

Encrypted private keys are PKCS#8 EncryptedPrivateKeyInfo with PBES2 (RFC 8018):
PBKDF2-HMAC-SHA-256 (600 000 iterations, 16-byte salt) and AES-256-CBC, the combination
OpenSSL and pyca read and FIPS SP 800-132 approves. Reading also accepts PBES2 with scrypt
and other AES key sizes, and hands the legacy PBES1 / PKCS#12 PBE schemes pyca runs to it.
Every scheme's cost is read from the DER and bounded first (iterations, scrypt's memory and
N * r * p), so a hostile key file cannot keep the loader busy for hours; a scheme whose
cost cannot be read is refused.

Parsing is pure (bytes in, objects out). The two ``write_*`` helpers are the only I/O.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pqml.formats import der
from pqml.formats.errors import PassphraseRequiredError, WrongKeyPassphraseError
from pqml.primitives.base import PrivateKey, PublicKey
from pqml.primitives.errors import KeyFileExistsError, KeyFormatError, WrongKeyTypeError

T = TypeVar("T")




# ---- OIDs ----------------------------------------------------------------------------

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
ED25519 = "1.3.101.112"
X25519 = "1.3.101.110"
_MLKEM = {"2.16.840.1.101.3.4.4.2": "ML-KEM-768", "2.16.840.1.101.3.4.4.3": "ML-KEM-1024"}
_MLDSA = {f"2.16.840.1.101.3.4.3.{17 + i}": f"ML-DSA-{n}" for i, n in enumerate((44, 65, 87))}

# OIDs whose keys pyca parses and serializes itself.
PYCA_OIDS = frozenset({RSA_ENCRYPTION, RSASSA_PSS, EC_PUBLIC_KEY, ED25519, X25519,
                       *_MLKEM, *_MLDSA})
PYCA_ALGORITHMS = frozenset({
    "ML-KEM-768", "ML-KEM-1024", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87", "X25519", "Ed25519",
    "ECDSA-P256", "ECDSA-P384", "ECDSA-P521", "RSA-PSS", "RSA-OAEP",
})
# Recognized so the error can name them, but not supported by pqml.
_UNSUPPORTED = {
    "1.3.101.113": "Ed448", "1.3.101.111": "X448", "2.16.840.1.101.3.4.4.1": "ML-KEM-512",
    "1.2.840.10040.4.1": "DSA", "1.2.840.10046.2.1": "Diffie-Hellman",
}

PBES2 = "1.2.840.113549.1.5.13"
PBKDF2 = "1.2.840.113549.1.5.12"
SCRYPT = "1.3.6.1.4.1.11591.4.11"
HMAC_SHA1 = "1.2.840.113549.2.7"
_HMAC = {HMAC_SHA1: "SHA1", "1.2.840.113549.2.8": "SHA224", "1.2.840.113549.2.9": "SHA256",
         "1.2.840.113549.2.10": "SHA384", "1.2.840.113549.2.11": "SHA512"}
HMAC_SHA256 = "1.2.840.113549.2.9"
AES256_CBC = "2.16.840.1.101.3.4.1.42"
_AES_CBC = {"2.16.840.1.101.3.4.1.2": 16, "2.16.840.1.101.3.4.1.22": 24, AES256_CBC: 32}

PBKDF2_ITERATIONS = 600_000  # OWASP 2023 figure for PBKDF2-HMAC-SHA-256
_MAX_PBKDF2_ITERATIONS = 10_000_000  # reading: bound the work a hostile file can demand
_MAX_SCRYPT_MEMORY = 1 << 30  # 128 * N * r bytes
_MAX_SCRYPT_WORK = 1 << 23  # N * r * p: one pass over 1 GiB (p multiplies the time)
# PBES1 (RFC 8018 A.3) and PKCS#12 (RFC 7292 C) PBE: PBEParameter is (salt, iterations).
# pyca runs the first group; the others are named only to refuse them clearly.
_LEGACY_PBE = {"1.2.840.113549.1.5.3": "pbeWithMD5AndDES-CBC",
               "1.2.840.113549.1.12.1.1": "pbeWithSHAAnd128BitRC4",
               "1.2.840.113549.1.12.1.3": "pbeWithSHAAnd3-KeyTripleDES-CBC",
               "1.2.840.113549.1.12.1.6": "pbeWithSHAAnd40BitRC2-CBC"}
_UNRUN_PBE = {"1.2.840.113549.1.5.1": "pbeWithMD2AndDES-CBC",
              "1.2.840.113549.1.5.4": "pbeWithMD2AndRC2-CBC",
              "1.2.840.113549.1.5.6": "pbeWithMD5AndRC2-CBC",
              "1.2.840.113549.1.5.10": "pbeWithSHA1AndDES-CBC",
              "1.2.840.113549.1.5.11": "pbeWithSHA1AndRC2-CBC",
              "1.2.840.113549.1.12.1.2": "pbeWithSHAAnd40BitRC4",
              "1.2.840.113549.1.12.1.4": "pbeWithSHAAnd2-KeyTripleDES-CBC",
              "1.2.840.113549.1.12.1.5": "pbeWithSHAAnd128BitRC2-CBC"}

# ---- PEM -----------------------------------------------------------------------------

PRIVATE_LABELS = frozenset({"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY",
                            "EC PRIVATE KEY"})
PUBLIC_LABELS = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})
_SKIPPED_LABELS = frozenset({"EC PARAMETERS"})  # `openssl ecparam -genkey` writes it first
_TRADITIONAL = frozenset({"RSA PRIVATE KEY", "EC PRIVATE KEY", "RSA PUBLIC KEY"})
_BEGIN = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----$")
_END = re.compile(r"^-----END ([A-Z0-9 ]+)-----$")


@dataclass(frozen=True)
class PemBlock:
    label: str
    der: bytes  # decoded body (empty when ``headers`` is true)
    text: bytes  # the whole block, for pyca
    headers: bool  # RFC 1421 headers such as OpenSSL's legacy "Proc-Type: 4,ENCRYPTED"


def is_pem(data: bytes) -> bool:
    return b"-----BEGIN " in data


def pem_encode(label: str, der_bytes: bytes) -> bytes:
    body = base64.b64encode(der_bytes)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        f"-----BEGIN {label}-----\n".encode()
        + b"".join(line + b"\n" for line in lines)
        + f"-----END {label}-----\n".encode()
    )


def pem_blocks(data: bytes) -> list[PemBlock]:
    """Every PEM block in ``data`` (RFC 7468; text between blocks is ignored)."""
    text = data.decode("latin-1")  # non-ASCII inside a block then fails base64 validation
    blocks: list[PemBlock] = []
    label: str | None = None
    body: list[str] = []
    start: list[str] = []
    headers = False
    for raw in text.splitlines():
        line = raw.strip()
        if label is None:
            match = _BEGIN.match(line)
            if match:
                label, body, start, headers = match.group(1), [], [line], False
            elif line.startswith("-----END "):
                raise KeyFormatError("malformed PEM: END line without BEGIN")
            continue
        start.append(line)
        end = _END.match(line)
        if end:
            if end.group(1) != label:
                raise KeyFormatError(
                    f"malformed PEM: BEGIN {label!r} closed by END {end.group(1)!r}"
                )
            blocks.append(_finish_block(label, body, start, headers))
            label = None
        elif line.startswith("-----"):
            raise KeyFormatError(f"malformed PEM: unexpected line inside {label!r} block")
        elif ":" in line:
            if body:
                raise KeyFormatError(f"malformed PEM: header after base64 in {label!r} block")
            headers = True
        else:
            body.append(line)
    if label is not None:
        raise KeyFormatError(f"truncated PEM: no '-----END {label}-----' line")
    return blocks


def _finish_block(label: str, body: list[str], lines: list[str], headers: bool) -> PemBlock:
    text = ("\n".join(lines) + "\n").encode()
    if headers:
        if label not in _TRADITIONAL:
            raise KeyFormatError(f"malformed PEM: {label!r} blocks must not have headers")
        return PemBlock(label, b"", text, True)
    joined = "".join(body)
    try:
        decoded = base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(
            f"PEM {label!r}: body is not valid base64 (truncated or corrupted)"
        ) from None
    if not decoded:
        raise KeyFormatError(f"PEM {label!r}: empty body")
    return PemBlock(label, decoded, text, False)


def _key_block(data: bytes) -> PemBlock:
    blocks = [b for b in pem_blocks(data) if b.label not in _SKIPPED_LABELS]
    if not blocks:
        raise KeyFormatError("no PEM key block found")
    if len(blocks) > 1:
        labels = ", ".join(repr(b.label) for b in blocks)
        raise KeyFormatError(f"PEM data holds {len(blocks)} blocks ({labels}); expected one key")
    block = blocks[0]
    if block.label not in PRIVATE_LABELS | PUBLIC_LABELS:
        raise KeyFormatError(f"PEM label {block.label!r} is not a key (expected PRIVATE KEY, "
                             "ENCRYPTED PRIVATE KEY or PUBLIC KEY)")
    return block


# ---- registry and pyca glue ----------------------------------------------------------


def _entry(name: str) -> Any:
    from pqml.primitives import registry

    return registry.get(name)


def _resolve(candidates: tuple[str, ...], hint: str | None) -> str:
    """Pick the algorithm among ``candidates`` (first is the default) that ``hint`` names."""
    if hint is None:
        return candidates[0]
    wanted = hint.strip().lower()
    if wanted in ("kem", "signature"):
        for name in candidates:
            if _entry(name).family == wanted:
                return name
        raise WrongKeyTypeError(f"this key is {candidates[0]}, not a {wanted} key")
    entry = _entry(hint)
    if entry.name in candidates:
        return str(entry.name)
    what = " or ".join(candidates)
    raise WrongKeyTypeError(f"this key is {what}, not {entry.name}")


def _pyca_call(what: str, fn: Callable[..., T], *args: Any) -> T:
    """Run a pyca loader, turning its exceptions into one-line typed errors."""
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        return fn(*args)
    except TypeError as exc:
        if "not given" in str(exc):
            raise PassphraseRequiredError(
                f"{what} is passphrase-protected; a passphrase is required"
            ) from None
        if "not encrypted" in str(exc):
            raise KeyFormatError(
                f"a passphrase was given but the {what} is not encrypted"
            ) from None
        raise
    except UnsupportedAlgorithm as exc:
        raise KeyFormatError(f"unsupported {what}: {exc}") from None
    except ValueError as exc:
        message = str(exc)
        # With a passphrase, any failure is a decryption failure: a wrong passphrase on a
        # CBC-encrypted key leaves valid padding about 1 time in 256, and the garbage then
        # fails as ASN.1 rather than as "bad decrypt".
        given_passphrase = len(args) > 1 and args[1] is not None
        if given_passphrase or "password" in message.lower() or "decrypt" in message.lower():
            raise WrongKeyPassphraseError(
                f"could not decrypt the {what}: wrong passphrase or corrupted file"
            ) from None
        detail = message.split("Details:", 1)[-1].strip() if "Details:" in message else message
        raise KeyFormatError(f"could not parse the {what}: {detail}") from None


def _classify_pyca(obj: Any, oid: str | None, hint: str | None) -> str:
    """The registry name for a pyca key object (hint picks RSA-PSS vs RSA-OAEP)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, rsa, x25519

    table: list[tuple[tuple[type, ...], str]] = [
        ((mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey), "ML-KEM-768"),
        ((mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey), "ML-KEM-1024"),
        ((mldsa.MLDSA44PrivateKey, mldsa.MLDSA44PublicKey), "ML-DSA-44"),
        ((mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey), "ML-DSA-65"),
        ((mldsa.MLDSA87PrivateKey, mldsa.MLDSA87PublicKey), "ML-DSA-87"),
        ((x25519.X25519PrivateKey, x25519.X25519PublicKey), "X25519"),
        ((ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey), "Ed25519"),
    ]
    for classes, name in table:
        if isinstance(obj, classes):
            return _resolve((name,), hint)
    if isinstance(obj, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        curves = {"secp256r1": "ECDSA-P256", "secp384r1": "ECDSA-P384",
                  "secp521r1": "ECDSA-P521"}
        name = curves.get(obj.curve.name)
        if name is None:
            raise KeyFormatError(
                f"EC curve {obj.curve.name} is not supported (P-256, P-384, P-521 are)"
            )
        return _resolve((name,), hint)
    if isinstance(obj, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if oid == RSASSA_PSS:
            return _resolve(("RSA-PSS",), hint)
        return _resolve(("RSA-PSS", "RSA-OAEP"), hint)
    raise KeyFormatError(f"unsupported key type {type(obj).__name__}")


def _stored_private_bytes(obj: Any, name: str) -> bytes:
    """The contract's stored form of a pyca private key (fallback when no wrap_private)."""
    from cryptography.hazmat.primitives import serialization as ser

    if name.startswith("ECDSA-"):
        return int(obj.private_numbers().private_value).to_bytes(
            (obj.curve.key_size + 7) // 8, "big"
        )
    if name.startswith("RSA-"):
        return bytes(obj.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8,
                                       ser.NoEncryption()))
    return bytes(obj.private_bytes_raw())


def _wrap_private(obj: Any, oid: str | None, hint: str | None) -> PrivateKey:
    name = _classify_pyca(obj, oid, hint)
    scheme = _entry(name).scheme()
    if hasattr(scheme, "wrap_private"):
        key = scheme.wrap_private(obj)
    else:
        key = scheme.private_from_bytes(_stored_private_bytes(obj, name))
    if name.startswith(("ML-KEM", "ML-DSA")):
        try:  # pqml stores seeds; a key without one cannot be saved again
            key.private_bytes()
        except Exception:
            raise KeyFormatError(
                f"{name} private key has no seed; pqml needs the RFC seed form"
            ) from None
    return key  # type: ignore[no-any-return]


def _wrap_public(obj: Any, oid: str | None, hint: str | None) -> PublicKey:
    from cryptography.hazmat.primitives import serialization as ser

    name = _classify_pyca(obj, oid, hint)
    scheme = _entry(name).scheme()
    if hasattr(scheme, "wrap_public"):
        return scheme.wrap_public(obj)  # type: ignore[no-any-return]
    if name.startswith("ECDSA-"):
        raw = obj.public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)
    elif name.startswith("RSA-"):
        raise KeyFormatError(f"{name} scheme cannot adopt a cryptography key (no wrap_public)")
    else:
        raw = obj.public_bytes_raw()
    return scheme.public_from_bytes(raw)  # type: ignore[no-any-return]


def _raw_entry(oid: str, hint: str | None, params: bytes | None) -> Any:
    """The registry entry for a key OID pqml encodes itself; errors name the OID."""
    from pqml.primitives import registry

    entry = registry.by_oid(oid)
    if entry is None or entry.family not in ("kem", "signature"):
        if oid in _UNSUPPORTED:
            raise KeyFormatError(f"{_UNSUPPORTED[oid]} keys (OID {oid}) are not supported")
        raise KeyFormatError(f"unknown key algorithm OID {oid}")
    _resolve((entry.name,), hint)
    if params is not None:
        raise KeyFormatError(f"{entry.name} AlgorithmIdentifier must have absent parameters")
    return entry


def _raw_oid(entry: Any) -> str:
    if not entry.oids:
        raise KeyFormatError(
            f"{entry.name} has no standard key OID yet, so it cannot be written as "
            "PKCS#8/SPKI; keep it in memory or use another algorithm"
        )
    return str(entry.oids[0])


# ---- PKCS#8 / SPKI structure ---------------------------------------------------------


@dataclass(frozen=True)
class _PrivateKeyInfo:
    oid: str
    params: bytes | None
    private_key: bytes
    public_key: bytes | None


def _parse_pkcs8(data: bytes) -> _PrivateKeyInfo:
    """OneAsymmetricKey (RFC 5958): version, algorithm, privateKey, [0] attrs, [1] publicKey."""
    items = der.parse_children(der.parse_one(data, der.SEQUENCE, "PKCS#8 private key"))
    if len(items) < 3 or [t for t, _ in items[:3]] != [der.INTEGER, der.SEQUENCE,
                                                       der.OCTET_STRING]:
        raise der.DERError("malformed PKCS#8 private key: wrong structure")
    version = der.decode_integer(items[0][1], "PKCS#8 version")
    if version not in (0, 1):
        raise der.DERError(f"malformed PKCS#8 private key: unknown version {version}")
    oid, params = der.parse_algorithm_identifier(items[1][1])
    public = None
    rest = items[3:]
    if rest and rest[0][0] == der.context(0, constructed=True):
        rest = rest[1:]  # attributes: allowed, ignored
    if rest and rest[0][0] == der.context(1, constructed=False):
        if version != 1:
            raise der.DERError("malformed PKCS#8 private key: publicKey requires version 1")
        public = der.decode_bit_string(rest[0][1], "PKCS#8 publicKey")
        rest = rest[1:]
    if rest:
        raise der.DERError("malformed PKCS#8 private key: unexpected trailing fields")
    return _PrivateKeyInfo(oid, params, items[2][1], public)


def _parse_spki(data: bytes) -> tuple[str, bytes | None, bytes]:
    items = der.parse_children(der.parse_one(data, der.SEQUENCE, "SubjectPublicKeyInfo"))
    if [t for t, _ in items] != [der.SEQUENCE, der.BIT_STRING]:
        raise der.DERError("malformed SubjectPublicKeyInfo: wrong structure")
    oid, params = der.parse_algorithm_identifier(items[0][1])
    return oid, params, der.decode_bit_string(items[1][1], "SubjectPublicKeyInfo key")


def _load_pkcs8(data: bytes, hint: str | None) -> PrivateKey:
    info = _parse_pkcs8(data)
    if info.oid in PYCA_OIDS:
        from cryptography.hazmat.primitives.serialization import load_der_private_key

        obj = _pyca_call("private key", load_der_private_key, data, None)
        return _wrap_private(obj, info.oid, hint)
    entry = _raw_entry(info.oid, hint, info.params)  # the scheme checks lengths and content
    key: PrivateKey = entry.scheme().private_from_bytes(info.private_key)
    if info.public_key is not None and not hmac.compare_digest(
        info.public_key, key.public_key().public_bytes()
    ):
        raise KeyFormatError(f"{entry.name} private key file: embedded public key does not match")
    return key


def _load_spki(data: bytes, hint: str | None) -> PublicKey:
    oid, params, raw = _parse_spki(data)
    if oid in PYCA_OIDS:
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        obj = _pyca_call("public key", load_der_public_key, data)
        return _wrap_public(obj, oid, hint)
    entry = _raw_entry(oid, hint, params)
    return entry.scheme().public_from_bytes(raw)  # type: ignore[no-any-return]


# ---- PBES2 ---------------------------------------------------------------------------


def _encrypt_pkcs8(plain: bytes, passphrase: bytes, iterations: int) -> bytes:
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt, iv = os.urandom(16), os.urandom(16)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    kdf = der.algorithm_identifier(PBKDF2, der.sequence(
        der.octet_string(salt), der.integer(iterations), der.integer(32),
        der.algorithm_identifier(HMAC_SHA256, der.null()),
    ))
    cipher = der.algorithm_identifier(AES256_CBC, der.octet_string(iv))
    scheme = der.algorithm_identifier(PBES2, der.sequence(kdf, cipher))
    return der.sequence(scheme, der.octet_string(ciphertext))


def _pbes2_key(kdf_oid: str, kdf_params: bytes | None, passphrase: bytes, size: int) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if kdf_params is None:
        raise der.DERError("malformed PBES2: KDF parameters missing")
    items = der.parse_children(der.parse_one(kdf_params, der.SEQUENCE, "PBES2 KDF parameters"))
    if not items or items[0][0] != der.OCTET_STRING:
        raise der.DERError("malformed PBES2: KDF salt missing")
    salt = items[0][1]
    if kdf_oid == PBKDF2:
        if len(items) < 2 or items[1][0] != der.INTEGER:
            raise der.DERError("malformed PBKDF2 parameters")
        iterations = der.decode_integer(items[1][1], "PBKDF2 iterations")
        rest = items[2:]
        if rest and rest[0][0] == der.INTEGER:
            if der.decode_integer(rest[0][1], "PBKDF2 keyLength") != size:
                raise der.DERError("malformed PBKDF2 parameters: keyLength mismatch")
            rest = rest[1:]
        prf = HMAC_SHA1
        if rest and rest[0][0] == der.SEQUENCE:
            prf, prf_params = der.parse_algorithm_identifier(rest[0][1])
            if prf_params not in (None, der.null()):
                raise der.DERError("malformed PBKDF2 parameters: PRF parameters")
            rest = rest[1:]
        if rest or prf not in _HMAC:
            raise KeyFormatError(f"unsupported PBKDF2 parameters (PRF OID {prf})")
        _check_iterations("PBKDF2", iterations)
        algorithm = getattr(hashes, _HMAC[prf])()
        return PBKDF2HMAC(algorithm, size, salt, iterations).derive(passphrase)
    if kdf_oid == SCRYPT:
        if len(items) not in (4, 5) or any(t != der.INTEGER for t, _ in items[1:]):
            raise der.DERError("malformed scrypt parameters")
        n, r, p = (der.decode_integer(v, "scrypt parameter") for _, v in items[1:4])
        if len(items) == 5 and der.decode_integer(items[4][1], "scrypt keyLength") != size:
            raise der.DERError("malformed scrypt parameters: keyLength mismatch")
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * r * n > _MAX_SCRYPT_MEMORY or (
            n * r * p > _MAX_SCRYPT_WORK
        ):
            raise KeyFormatError("scrypt parameters are out of the accepted range (N * r * p "
                                 "at most 2^23, 128 * N * r at most 1 GiB)")
        return Scrypt(salt, size, n, r, p).derive(passphrase)
    raise KeyFormatError(f"unsupported key-encryption KDF OID {kdf_oid}")


def _check_iterations(what: str, iterations: int) -> None:
    if not 1 <= iterations <= _MAX_PBKDF2_ITERATIONS:
        raise KeyFormatError(f"{what} iteration count {iterations} is out of range (at most "
                             f"{_MAX_PBKDF2_ITERATIONS})")


def _check_legacy_pbe(scheme: str, params: bytes | None) -> None:
    """Bound a PBES1 / PKCS#12 PBE key's iterations before pyca derives anything (it would
    run 2^31 - 1 of them for an hour); refuse every scheme whose cost we cannot read."""
    name = _LEGACY_PBE.get(scheme)
    if name is None:
        known = f" ({_UNRUN_PBE[scheme]})" if scheme in _UNRUN_PBE else ""
        raise KeyFormatError(f"unsupported key-encryption scheme OID {scheme}{known}")
    items = der.parse_children(der.parse_one(params or b"", der.SEQUENCE,
                                             f"{name} PBE parameters"))
    if [t for t, _ in items] != [der.OCTET_STRING, der.INTEGER]:
        raise der.DERError(f"malformed {name} PBE parameters")
    _check_iterations(name, der.decode_integer(items[1][1], f"{name} iterations"))


def _decrypt_pkcs8(data: bytes, passphrase: bytes) -> bytes | None:
    """Plain PKCS#8 DER, or None for a legacy PBE scheme whose cost was checked (left to
    pyca)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    items = der.parse_children(der.parse_one(data, der.SEQUENCE, "encrypted private key"))
    if [t for t, _ in items] != [der.SEQUENCE, der.OCTET_STRING]:
        raise der.DERError("malformed encrypted private key: wrong structure")
    scheme, params = der.parse_algorithm_identifier(items[0][1])
    if scheme != PBES2:
        _check_legacy_pbe(scheme, params)
        return None
    if params is None:
        raise der.DERError("malformed PBES2 parameters")
    pbes2 = der.parse_children(der.parse_one(params, der.SEQUENCE, "PBES2 parameters"))
    if [t for t, _ in pbes2] != [der.SEQUENCE, der.SEQUENCE]:
        raise der.DERError("malformed PBES2 parameters")
    kdf_oid, kdf_params = der.parse_algorithm_identifier(pbes2[0][1])
    enc_oid, enc_params = der.parse_algorithm_identifier(pbes2[1][1])
    size = _AES_CBC.get(enc_oid)
    if size is None:
        raise KeyFormatError(f"unsupported key-encryption cipher OID {enc_oid}")
    iv = der.parse_one(enc_params or b"", der.OCTET_STRING, "AES-CBC IV")
    ciphertext = items[1][1]
    if len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise der.DERError("malformed encrypted private key: bad IV or ciphertext length")
    key = _pbes2_key(kdf_oid, kdf_params, passphrase, size)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise _wrong_passphrase() from None


def _wrong_passphrase() -> KeyFormatError:
    return WrongKeyPassphraseError("could not decrypt the private key: wrong passphrase or "
                                   "corrupted file")


def _load_encrypted(data: bytes, passphrase: bytes | None, hint: str | None) -> PrivateKey:
    if passphrase is None:
        raise PassphraseRequiredError(
            "private key is passphrase-protected; a passphrase is required"
        )
    plain = _decrypt_pkcs8(data, passphrase)
    if plain is None:  # PBES1 and friends: pyca knows them for the algorithms it knows
        from cryptography.hazmat.primitives.serialization import load_der_private_key

        obj = _pyca_call("private key", load_der_private_key, data, passphrase)
        return _wrap_private(obj, None, hint)
    try:
        _parse_pkcs8(plain)
    except der.DERError:
        raise _wrong_passphrase() from None
    return _load_pkcs8(plain, hint)


# ---- writing -------------------------------------------------------------------------


def private_key_to_der(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER."""
    if not isinstance(key, PrivateKey):
        raise WrongKeyTypeError("expected a private key, got a public key")
    if key.algorithm in PYCA_ALGORITHMS:
        from cryptography.hazmat.primitives import serialization as ser

        backend = getattr(key, "backend_key", None)
        if backend is None:
            raise KeyFormatError(f"{key.algorithm} key exposes no backend key to serialize")
        return bytes(backend.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8,
                                           ser.NoEncryption()))
    oid = _raw_oid(_entry(key.algorithm))
    return der.sequence(der.integer(0), der.algorithm_identifier(oid),
                        der.octet_string(key.private_bytes()))


def public_key_to_der(key: PublicKey) -> bytes:
    """SubjectPublicKeyInfo DER."""
    if isinstance(key, PrivateKey):
        raise WrongKeyTypeError("expected a public key, got a private key")
    if key.algorithm in PYCA_ALGORITHMS:
        from cryptography.hazmat.primitives import serialization as ser

        backend = getattr(key, "backend_key", None)
        if backend is None:
            raise KeyFormatError(f"{key.algorithm} key exposes no backend key to serialize")
        return bytes(backend.public_bytes(ser.Encoding.DER,
                                          ser.PublicFormat.SubjectPublicKeyInfo))
    oid = _raw_oid(_entry(key.algorithm))
    return der.sequence(der.algorithm_identifier(oid), der.bit_string(key.public_bytes()))


def private_key_to_pem(key: PrivateKey, passphrase: bytes | None = None, *,
                       iterations: int = PBKDF2_ITERATIONS) -> bytes:
    """PEM ``PRIVATE KEY``, or ``ENCRYPTED PRIVATE KEY`` (PBES2) when a passphrase is given."""
    plain = private_key_to_der(key)
    if passphrase is None:
        return pem_encode("PRIVATE KEY", plain)
    if not passphrase:
        raise KeyFormatError("empty passphrase; give a real one or none")
    if iterations < 1:
        raise ValueError("iterations must be positive")
    return pem_encode("ENCRYPTED PRIVATE KEY", _encrypt_pkcs8(plain, passphrase, iterations))


def public_key_to_pem(key: PublicKey) -> bytes:
    """PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo)."""
    return pem_encode("PUBLIC KEY", public_key_to_der(key))


# ---- reading -------------------------------------------------------------------------


def _der_kind(data: bytes) -> str:
    """'pkcs8', 'encrypted', 'spki', 'traditional' (PKCS#1/SEC1) or 'rsa-public'."""
    items = der.parse_children(der.parse_one(data, der.SEQUENCE, "DER key"))
    tags = [t for t, _ in items]
    if tags[:3] == [der.INTEGER, der.SEQUENCE, der.OCTET_STRING]:
        return "pkcs8"
    if tags == [der.SEQUENCE, der.BIT_STRING]:
        return "spki"
    if tags == [der.SEQUENCE, der.OCTET_STRING]:
        return "encrypted"
    if tags == [der.INTEGER, der.INTEGER]:
        return "rsa-public"
    if len(tags) > 2 and tags[0] == der.INTEGER and tags[1] in (der.INTEGER, der.OCTET_STRING):
        return "traditional"
    raise KeyFormatError("DER data is not a PKCS#8, SubjectPublicKeyInfo, PKCS#1 or SEC1 key")


def _load_private_block(block: PemBlock, passphrase: bytes | None,
                        hint: str | None) -> PrivateKey:
    if block.label in PUBLIC_LABELS:
        raise WrongKeyTypeError(f"expected a private key, got a public key (PEM {block.label!r})")
    if block.label == "ENCRYPTED PRIVATE KEY":
        return _load_encrypted(block.der, passphrase, hint)
    if block.label == "PRIVATE KEY":
        if passphrase is not None:
            raise KeyFormatError("a passphrase was given but the private key is not encrypted")
        return _load_pkcs8(block.der, hint)
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    obj = _pyca_call("private key", load_pem_private_key, block.text, passphrase)
    return _wrap_private(obj, None, hint)


def _load_public_block(block: PemBlock, hint: str | None) -> PublicKey:
    if block.label in PRIVATE_LABELS:
        raise WrongKeyTypeError(f"expected a public key, got a private key (PEM {block.label!r})")
    if block.label == "PUBLIC KEY":
        return _load_spki(block.der, hint)
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    obj = _pyca_call("public key", load_pem_public_key, block.text)
    return _wrap_public(obj, None, hint)


def _load_der(data: bytes, passphrase: bytes | None, hint: str | None) -> PrivateKey | PublicKey:
    kind = _der_kind(data)
    if kind == "spki":
        return _load_spki(data, hint)
    if kind == "rsa-public":
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        return _wrap_public(_pyca_call("public key", load_der_public_key, data), None, hint)
    if kind == "encrypted":
        return _load_encrypted(data, passphrase, hint)
    if passphrase is not None:
        raise KeyFormatError("a passphrase was given but the private key is not encrypted")
    if kind == "pkcs8":
        return _load_pkcs8(data, hint)
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return _wrap_private(_pyca_call("private key", load_der_private_key, data, None), None, hint)


def _as_text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def load_key(data: bytes | str, passphrase: bytes | None = None,
             hint: str | None = None) -> PrivateKey | PublicKey:
    """Any key: PEM (PKCS#8, encrypted PKCS#8, SEC1, PKCS#1, SPKI), an age identity file,
    an age recipient, or DER. ``hint`` names the algorithm where the encoding is ambiguous
    (RSA-PSS vs RSA-OAEP; 'kem' / 'signature' also work) and is checked otherwise."""
    from pqml.formats import age_keys

    if isinstance(data, str):
        data = data.encode()
    if is_pem(data):
        block = _key_block(data)
        if block.label in PUBLIC_LABELS:  # a passphrase is irrelevant here, not an error
            return _load_public_block(block, hint)
        return _load_private_block(block, passphrase, hint)
    if data[:1] == b"\x30":  # a DER SEQUENCE; no age key or key file starts with "0"
        return _load_der(data, passphrase, hint)
    text = _as_text(data)
    if text is not None and age_keys.looks_like_identity_file(text):
        return _single(age_keys.parse_identity_file(text), "identities", hint)
    if text is not None and age_keys.looks_like_recipient(text):
        return _single(age_keys.parse_recipients_file(text), "recipients", hint)
    raise KeyFormatError(
        "unrecognized key format (expected PEM, DER, an age identity file or an age recipient)"
    )


def _single(keys: list[Any], what: str, hint: str | None) -> Any:
    if len(keys) != 1:
        raise KeyFormatError(
            f"file holds {len(keys)} age {what}; expected exactly one key here"
        )
    _resolve((keys[0].algorithm,), hint)
    return keys[0]


def load_private_key(data: bytes | str, passphrase: bytes | None = None,
                     hint: str | None = None) -> PrivateKey:
    """A private key from PEM, DER or an age identity file; a public key is an error."""
    key = load_key(data, passphrase, hint)
    if not isinstance(key, PrivateKey):
        raise WrongKeyTypeError(f"expected a private key, got a public key ({key.algorithm})")
    return key


def load_public_key(data: bytes | str, hint: str | None = None) -> PublicKey:
    """A public key from PEM SPKI / PKCS#1, DER or an age recipient; a private key is an error
    (checked before any decryption, so an encrypted private key is not mistaken for one)."""
    if isinstance(data, str):
        data = data.encode()
    if is_pem(data) and _key_block(data).label in PRIVATE_LABELS:
        raise WrongKeyTypeError(
            f"expected a public key, got a private key (PEM {_key_block(data).label!r})"
        )
    if data[:1] == b"\x30" and _der_kind(data) in ("pkcs8", "encrypted", "traditional"):
        raise WrongKeyTypeError("expected a public key, got a DER private key")
    key = load_key(data, None, hint)
    if isinstance(key, PrivateKey):
        raise WrongKeyTypeError(f"expected a public key, got a private key ({key.algorithm})")
    return key


def is_encrypted(data: bytes) -> bool:
    """True if ``data`` is a passphrase-protected private key (so a caller can prompt)."""
    if is_pem(data):
        try:
            block = _key_block(data)
        except KeyFormatError:
            return False
        return block.label == "ENCRYPTED PRIVATE KEY" or (
            block.headers and b"ENCRYPTED" in block.text
        )
    try:
        return data[:1] == b"\x30" and _der_kind(data) == "encrypted"
    except KeyFormatError:
        return False


# ---- files (the only I/O in formats) -------------------------------------------------


def write_private_key_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; never replace an existing file."""
    _write_new(Path(path), data, 0o600)


def write_public_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Create ``path`` with mode 0644 atomically; never replace an existing file."""
    _write_new(Path(path), data, 0o644)


def _exists_error(path: Path) -> KeyFileExistsError:
    return KeyFileExistsError(f"{path}: file exists; refusing to overwrite it")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write a complete temp file beside ``path`` (0600 from birth), then hard-link it into
    place: link() fails if the name exists, so nothing is overwritten and no reader ever
    sees a partial file. Falls back to O_CREAT|O_EXCL where hard links are unsupported."""
    if os.path.lexists(path):
        raise _exists_error(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        _write_fd(fd, data)
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise _exists_error(path) from None
        except OSError:
            _write_exclusive(path, data, mode)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the new file ``fd``, sync it to disk and close it."""
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise _exists_error(path) from None
    try:
        _write_fd(fd, data)
        os.chmod(path, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
