"""Encrypted key files cannot make loading run for hours: every key-encryption scheme's cost
(PBES2's PBKDF2 and scrypt, PBES1 and PKCS#12 PBE) is read from the DER and bounded before
any key derivation, and a scheme whose cost pqml cannot read is refused.

Loading runs in a child process: before these bounds, the hostile files below kept the
backend busy for minutes to hours, and a hang in native code cannot be interrupted in
process. The deadline only turns such a hang into a failure; the files are refused at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pqml.errors import KeyFormatError
from pqml.formats import der, keyfile

DEADLINE = 120  # seconds; guards against a hang only

_CHILD = """
import json, sys
from pqml.formats import keyfile
try:
    keyfile.load_private_key(bytes.fromhex(sys.argv[1]), b"pw")
except Exception as exc:
    print(json.dumps([type(exc).__name__, str(exc)]))
else:
    print(json.dumps(None))
"""

# Legacy schemes pyca runs: PBES1 pbeWithMD5AndDES-CBC and PKCS#12 SHA-1 PBE.
LEGACY_RUN_BY_PYCA = ["1.2.840.113549.1.5.3", "1.2.840.113549.1.12.1.1",
                      "1.2.840.113549.1.12.1.3", "1.2.840.113549.1.12.1.6"]


def _load_in_child(data: bytes) -> tuple[str, str] | None:
    proc = subprocess.run([sys.executable, "-c", _CHILD, data.hex()], capture_output=True,
                          text=True, timeout=DEADLINE, check=True)
    result = json.loads(proc.stdout)
    return None if result is None else (result[0], result[1])


def _legacy(oid: str, iterations: int) -> bytes:
    """EncryptedPrivateKeyInfo with PBES1 / PKCS#12 PBE parameters (salt, iterations)."""
    params = der.sequence(der.octet_string(b"\x01" * 8), der.integer(iterations))
    return der.sequence(der.algorithm_identifier(oid, params), der.octet_string(b"\0" * 64))


def _scrypt(n: int, r: int, p: int) -> bytes:
    kdf = der.algorithm_identifier(keyfile.SCRYPT, der.sequence(
        der.octet_string(b"\x01" * 16), der.integer(n), der.integer(r), der.integer(p)))
    cipher = der.algorithm_identifier(keyfile.AES256_CBC, der.octet_string(b"\0" * 16))
    scheme = der.algorithm_identifier(keyfile.PBES2, der.sequence(kdf, cipher))
    return der.sequence(scheme, der.octet_string(b"\0" * 64))


@pytest.mark.parametrize("oid", LEGACY_RUN_BY_PYCA)
def test_legacy_pbe_iterations_bounded(oid: str) -> None:
    """2^31 - 1 iterations: about an hour of backend work before the bound."""
    got = _load_in_child(_legacy(oid, 2**31 - 1))
    assert got is not None and got[0] == "KeyFormatError", got
    assert "iteration count 2147483647 is out of range" in got[1]
    pem = keyfile.pem_encode("ENCRYPTED PRIVATE KEY", _legacy(oid, 2**31 - 1))
    got = _load_in_child(pem)
    assert got is not None and got[0] == "KeyFormatError", got


@pytest.mark.parametrize(("n", "r", "p"), [
    (1 << 15, 32, 16),  # 128 MiB, but 2^24 block mixes: the old bound let p multiply it
    (1 << 10, 1, 1 << 20),  # tiny memory, 2^30 block mixes
])
def test_scrypt_total_work_bounded(n: int, r: int, p: int) -> None:
    got = _load_in_child(_scrypt(n, r, p))
    assert got is not None and got[0] == "KeyFormatError", got
    assert "scrypt parameters" in got[1]


def test_scrypt_memory_still_bounded() -> None:
    with pytest.raises(KeyFormatError, match="scrypt parameters"):
        keyfile.load_private_key(_scrypt(1 << 24, 8, 1), b"pw")  # 16 GiB


def test_scrypt_with_p_above_one_still_reads() -> None:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = keyfile.load_private_key(keyfile.pem_encode(
        "PRIVATE KEY", bytes.fromhex("302e020100300506032b657004220420" + "11" * 32)))
    salt, iv = os.urandom(16), os.urandom(16)
    wrap = Scrypt(salt, 32, 1 << 10, 8, 4).derive(b"pw")
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(wrap), modes.CBC(iv)).encryptor()
    plain = keyfile.private_key_to_der(key)
    ct = enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()
    kdf = der.algorithm_identifier(keyfile.SCRYPT, der.sequence(
        der.octet_string(salt), der.integer(1 << 10), der.integer(8), der.integer(4)))
    scheme = der.algorithm_identifier(keyfile.PBES2, der.sequence(
        kdf, der.algorithm_identifier(keyfile.AES256_CBC, der.octet_string(iv))))
    data = der.sequence(scheme, der.octet_string(ct))
    assert keyfile.load_private_key(data, b"pw").private_bytes() == key.private_bytes()


def test_pbkdf2_iterations_bounded() -> None:
    kdf = der.algorithm_identifier(keyfile.PBKDF2, der.sequence(
        der.octet_string(b"\x01" * 16), der.integer(2**31 - 1)))
    scheme = der.algorithm_identifier(keyfile.PBES2, der.sequence(
        kdf, der.algorithm_identifier(keyfile.AES256_CBC, der.octet_string(b"\0" * 16))))
    with pytest.raises(KeyFormatError, match="iteration count 2147483647 is out of range"):
        keyfile.load_private_key(der.sequence(scheme, der.octet_string(b"\0" * 64)), b"pw")


@pytest.mark.parametrize("oid", ["1.2.840.113549.1.5.10", "1.2.3.4"])
def test_schemes_whose_cost_is_unknown_are_refused(oid: str) -> None:
    """pbeWithSHA1AndDES-CBC (which pyca cannot run) and an unknown OID: named, not passed
    on to the backend and not reported as a wrong passphrase."""
    data = (_legacy(oid, 1) if oid.startswith("1.2.840") else
            der.sequence(der.algorithm_identifier(oid), der.octet_string(b"\0" * 64)))
    with pytest.raises(KeyFormatError, match=f"unsupported key-encryption scheme.*{oid}") as info:
        keyfile.load_private_key(data, b"pw")
    assert type(info.value) is KeyFormatError


@pytest.mark.parametrize("params", [
    der.sequence(der.octet_string(b"\x01" * 8)),
    der.sequence(der.integer(1), der.octet_string(b"\x01" * 8)),
    der.sequence(der.octet_string(b"\x01" * 8), der.integer(1), der.integer(1)),
    der.octet_string(b"\x01" * 8),
])
def test_malformed_legacy_parameters_refused(params: bytes) -> None:
    data = der.sequence(der.algorithm_identifier(LEGACY_RUN_BY_PYCA[2], params),
                        der.octet_string(b"\0" * 64))
    with pytest.raises(KeyFormatError, match="PBE parameters") as info:
        keyfile.load_private_key(data, b"pw")
    assert type(info.value) is not keyfile.WrongKeyPassphraseError


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_legacy_pkcs12_3des_key_at_a_normal_count_still_reads(tmp_path: Path) -> None:
    plain = tmp_path / "k.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(plain)],
                   check=True, capture_output=True)
    enc = subprocess.run(["openssl", "pkcs8", "-topk8", "-in", str(plain), "-passout",
                          "pass:pw", "-v1", "PBE-SHA1-3DES"], check=True,
                         capture_output=True).stdout
    key = keyfile.load_private_key(enc, b"pw")
    assert key.private_bytes() == keyfile.load_private_key(plain.read_bytes()).private_bytes()
