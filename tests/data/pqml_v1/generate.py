"""Generate the pqml/v1 example files in this directory (run once; the outputs are committed).

    python tests/data/pqml_v1/generate.py

Writes keys (PEM, age identity, a raw MLKEM1024-P384 seed), encrypted example files, and
``vectors.json`` listing for each file the identity that opens it, the expected result
("success" or the failure class), the plaintext's length and SHA-256 (plaintexts are
``bytes(i % 251 for i in range(n))``) and, for successes, the intermediate values another
implementation can compare against: file key, header MAC key, payload input key, the
C2SP salt, derived AES key, base nonce and commitment. Re-running makes new (equally
valid) files, since encapsulation and salts are random.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

from pqml.formats import age_keys, keyfile, pqml_v1
from pqml.formats.age.header import mac_key
from pqml.formats.pqml_v1 import argon2id
from pqml.primitives import chunked, registry

HERE = Path(__file__).resolve().parent
PASSPHRASE = "correct horse battery staple"
FAST_ARGON2 = argon2id.Argon2Params(iterations=1, memory_kib=1024, lanes=1)


def plaintext(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def keys() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for alg, name in (("X-Wing", "xwing"), ("ML-KEM-768", "mlkem768"),
                      ("ML-KEM-1024", "mlkem1024"), ("X25519", "x25519")):
        sk = registry.scheme(alg).generate()
        (HERE / f"{name}.pem").write_bytes(keyfile.private_key_to_pem(sk))
        out[name] = sk
    sk = registry.scheme("MLKEM1024-P384").generate()
    (HERE / "mlkem1024p384.seed.hex").write_text(sk.private_bytes().hex() + "\n")
    out["mlkem1024p384"] = sk
    (HERE / "xwing.agekey").write_text(age_keys.format_identity_file(out["xwing"]))
    (HERE / "passphrase.txt").write_text(PASSPHRASE + "\n")
    return out


def encrypt(recipients: list[Any], data: bytes, allow_classical: bool = False
            ) -> tuple[bytes, bytes]:
    """The file and its file key (captured by wrapping a known key ourselves)."""
    file_key = os.urandom(pqml_v1.FILE_KEY_SIZE)
    header = pqml_v1.wrap_file_key(file_key, recipients, allow_classical=allow_classical)
    out = io.BytesIO()
    out.write(header.marshal())
    pqml_v1.encrypt_payload(file_key, io.BytesIO(data), out)
    return out.getvalue(), file_key


def facts(blob: bytes, file_key: bytes) -> dict[str, Any]:
    header, rest = _split(blob)
    input_key = pqml_v1.payload_key(file_key)
    derived = chunked.derive(input_key, rest[:24], pqml_v1.PAYLOAD_CONTEXT)
    return {
        "file_key": file_key.hex(),
        "header_mac_key": mac_key(file_key).hex(),
        "header_size": len(header),
        "payload_input_key": input_key.hex(),
        "salt": rest[:24].hex(),
        "aead_key": derived.key.hex(),
        "base_nonce": derived.base_nonce.hex(),
        "commitment": derived.commitment.hex(),
    }


def _split(blob: bytes) -> tuple[bytes, bytes]:
    end = blob.index(b"\n---") + 1
    end = blob.index(b"\n", end) + 1
    return blob[:end], blob[end:]


def main() -> None:
    k = keys()
    pub = {name: sk.public_key() for name, sk in k.items()}
    vectors: list[dict[str, Any]] = []

    def add(name: str, blob: bytes | None, identity: str, n: int | None, expect: str,
            file_key: bytes | None, comment: str) -> None:
        if blob is not None:
            (HERE / name).write_bytes(blob)
        else:
            blob = (HERE / name).read_bytes()
        v: dict[str, Any] = {"file": name, "identity": identity, "expect": expect,
                             "comment": comment}
        if n is not None:
            v.update(plaintext_length=n,
                     plaintext_sha256=hashlib.sha256(plaintext(n)).hexdigest())
        if expect == "success" and file_key is not None:
            v.update(facts(blob, file_key))
        vectors.append(v)

    blob, fk = encrypt([pub["xwing"]], plaintext(11))
    add("xwing.pqml", blob, "xwing.pem", 11, "success", fk, "one X-Wing recipient, one chunk")
    add("xwing.pqml", None, "xwing.agekey", 11, "success", fk,
        "the same file, opened with the age-encoded identity")
    many, fk = encrypt([pub[n] for n in ("xwing", "mlkem768", "mlkem1024", "mlkem1024p384")],
                       plaintext(40000))
    for ident in ("xwing.pem", "mlkem768.pem", "mlkem1024.pem", "mlkem1024p384.seed.hex"):
        add("four-kems.pqml", many, ident, 40000, "success", fk,
            "X-Wing, ML-KEM-768, ML-KEM-1024 and MLKEM1024-P384 stanzas; three chunks")
    blob, fk = encrypt([pub["xwing"]], b"")
    add("empty.pqml", blob, "xwing.pem", 0, "success", fk, "empty plaintext: one empty chunk")
    blob, fk = encrypt([pub["xwing"]], plaintext(16384))
    add("one-full-chunk.pqml", blob, "xwing.pem", 16384, "success", fk,
        "exactly one full chunk, then the empty final chunk")
    blob, fk = encrypt([pub["x25519"]], plaintext(100), allow_classical=True)
    add("x25519.pqml", blob, "x25519.pem", 100, "success", fk,
        "legacy X25519 stanza (quantum-vulnerable, written only with allow_classical)")
    blob, fk = encrypt([argon2id.Argon2idRecipient(PASSPHRASE, FAST_ARGON2)], plaintext(100))
    add("passphrase.pqml", blob, "passphrase.txt", 100, "success", fk,
        "argon2id stanza with t=1, m=1024 KiB, p=1 (fast, for tests only)")

    # failures, each derived from four-kems.pqml
    header, payload = _split(many)
    add("four-kems.pqml", None, "x25519.pem", None, "no match", None,
        "no stanza for this identity")
    bad_mac = bytearray(header)
    pos = bad_mac.index(b"--- ") + 4
    bad_mac[pos] = ord("A") if bad_mac[pos] != ord("A") else ord("B")
    add("fail-header-mac.pqml", bytes(bad_mac) + payload, "xwing.pem", None, "hmac failure",
        None, "one character of the header MAC changed")
    add("fail-commitment.pqml", header + payload[:30] + bytes([payload[30] ^ 1]) +
        payload[31:], "xwing.pem", None, "payload failure", None,
        "one bit of the key commitment flipped")
    swapped = payload[:56] + payload[56 + 16400:56 + 32800] + payload[56:56 + 16400] + \
        payload[56 + 32800:]
    add("fail-swapped-chunks.pqml", header + swapped, "xwing.pem", None, "payload failure",
        None, "chunks 0 and 1 swapped")
    add("fail-truncated.pqml", header + payload[:56 + 32800], "xwing.pem", None,
        "payload failure", None, "cut after two full chunks (final chunk missing)")
    add("fail-extended.pqml", header + payload + b"\x00" * 16, "xwing.pem", None,
        "payload failure", None, "16 zero bytes appended")
    (HERE / "vectors.json").write_text(json.dumps({"vectors": vectors}, indent=1) + "\n")


if __name__ == "__main__":
    main()
