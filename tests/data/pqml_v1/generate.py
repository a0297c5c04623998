"""Generate the pqml/v1 example files in this directory (run once; the outputs are committed).

    python tests/data/pqml_v1/generate.py

Writes keys (PEM, age identity, a raw MLKEM1024-P384 seed), encrypted example files, and
``vectors.json`` listing for each file the identity that opens it, the expected result
("success" or the failure class), the plaintext's length and SHA-256 (plaintexts are
``bytes(i % 251 for i in range(n))``) and, for successes, the intermediate values another
implementation can compare against: file key, header MAC key, payload input key, the
C2SP salt, derived AES key, base nonce and commitment. Re-running makes new (equally
valid) files, since encapsulation and salts are random.

    python tests/data/pqml_v1/generate.py --header-area

makes only the header-area examples (``header-area*.pqml``), with the keys already here,
and replaces their entries in ``vectors.json``: how they were added without changing the
files committed before them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pqml.formats import age_keys, keyfile, pqml_v1
from pqml.formats.age.header import mac_key
from pqml.formats.pqml_v1 import argon2id, header_area
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


def encrypt(recipients: list[Any], data: bytes, allow_classical: bool = False,
            area: int = 0) -> tuple[bytes, bytes]:
    """The file and its file key (captured by wrapping a known key ourselves); ``area``:
    the header area's slot size, 0 for none."""
    file_key = os.urandom(pqml_v1.FILE_KEY_SIZE)
    header = pqml_v1.wrap_file_key(file_key, recipients, allow_classical=allow_classical,
                                   header_area=area)
    out = io.BytesIO()
    out.write(pqml_v1.marshal_header(header))
    pqml_v1.encrypt_payload(file_key, io.BytesIO(data), out)
    return out.getvalue(), file_key


def facts(blob: bytes, file_key: bytes, slot: int = 0) -> dict[str, Any]:
    size = header_area.declared_size(blob[:header_area.PREFIX_SIZE])
    area: dict[str, Any] = {}
    if size is None:
        header, rest = _split(blob)
    else:  # the header that opens is in ``slot``; the payload starts after both slots
        header, _ = _split(blob[slot * size:(slot + 1) * size])
        rest = blob[2 * size:]
        area = {"header_area": size, "slot": slot, "payload_offset": 2 * size}
    input_key = pqml_v1.payload_key(file_key)
    derived = chunked.derive(input_key, rest[:24], pqml_v1.PAYLOAD_CONTEXT)
    return {
        "file_key": file_key.hex(),
        "header_mac_key": mac_key(file_key).hex(),
        "header_size": len(header),
        **area,
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


Add = Callable[..., None]


def adder(vectors: list[dict[str, Any]]) -> Add:
    """``add(name, blob, identity, n, expect, file_key, comment, slot=0)``: write the file
    (or reuse it when ``blob`` is None) and record its vector."""

    def add(name: str, blob: bytes | None, identity: str, n: int | None, expect: str,
            file_key: bytes | None, comment: str, slot: int = 0) -> None:
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
            v.update(facts(blob, file_key, slot))
        vectors.append(v)

    return add


def header_area_examples(pub: dict[str, Any], add: Add) -> None:
    """A file with a 2 x 16 KiB header area, the state a crash in the middle of an in-place
    rekey leaves (slot 0 torn, slot 1 new), and a non-zero filler byte."""
    size = 16384
    blob, fk = encrypt([pub["xwing"], pub["mlkem768"]], plaintext(40000), area=size)
    for ident in ("xwing.pem", "mlkem768.pem"):
        add("header-area.pqml", blob, ident, 40000, "success", fk,
            "header area S = 16384: two identical 16 KiB slots (header, then zero bytes), "
            "payload at offset 32768")
    old = header_area.parse_slot(blob[:size], size, 0)
    stanzas = [*header_area.recipient_stanzas(old.stanzas),
               *pqml_v1.recipient_for(pub["mlkem1024"]).wrap(fk)]
    new = header_area.slot_bytes(pqml_v1.rewrap(old, fk, stanzas), size)
    cut = len(old.marshal()) + 100  # inside the added stanza's first body line
    torn = new[:cut] + blob[cut:size] + new + blob[2 * size:]
    for ident in ("xwing.pem", "mlkem768.pem", "mlkem1024.pem"):
        add("header-area-torn.pqml", torn, ident, 40000, "success", fk,
            "an in-place rekey adding ML-KEM-1024, cut while writing slot 0: slot 0 holds "
            f"the first {cut} bytes of the new header over the old one, slot 1 the new "
            "header, so slot 1 is used", 1)
    add("header-area-torn.pqml", None, "x25519.pem", None, "header failure", None,
        "neither slot opens: slot 0's error is reported (its torn header), not slot 1's "
        "no match")
    bad = bytearray(blob)
    for base in (0, size):
        bad[base + size - 1] = 1  # the last filler byte of both slots
    add("fail-header-area-filler.pqml", bytes(bad), "xwing.pem", None, "header failure", None,
        "the last filler byte of both slots is 0x01: the filler must be zero bytes")


def main() -> None:
    if sys.argv[1:] == ["--header-area"]:
        return only_header_area()
    k = keys()
    pub = {name: sk.public_key() for name, sk in k.items()}
    vectors: list[dict[str, Any]] = []
    add = adder(vectors)

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
    header_area_examples(pub, add)
    (HERE / "vectors.json").write_text(json.dumps({"vectors": vectors}, indent=1) + "\n")


def only_header_area() -> None:
    """The header-area examples alone, with the keys already in this directory."""
    pub = {name: keyfile.load_private_key((HERE / f"{name}.pem").read_bytes()).public_key()
           for name in ("xwing", "mlkem768", "mlkem1024")}
    path = HERE / "vectors.json"
    vectors = [v for v in json.loads(path.read_text())["vectors"]
               if "header-area" not in v["file"]]
    header_area_examples(pub, adder(vectors))
    path.write_text(json.dumps({"vectors": vectors}, indent=1) + "\n")


if __name__ == "__main__":
    main()
