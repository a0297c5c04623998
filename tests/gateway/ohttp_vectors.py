"""Read the example values of RFC 9292, RFC 9458 and chunked OHTTP out of their kramdown
sources in tests/vectors/ (copied byte for byte; see each set's SOURCE)."""

from __future__ import annotations

import re

from conftest import vector

_BLOCK = re.compile(r"^~~~ hex-dump\n(.*?)^~~~\n(\{: #([\w-]+))?", re.M | re.S)


def _hex(block: str) -> bytes:
    # RFC 9292 dumps carry an ASCII column after two spaces; the others are bare hex.
    return bytes.fromhex("".join(line.split("  ")[0].replace(" ", "")
                                 for line in block.splitlines()))


def hex_blocks(set_name: str, file: str, *, after: str | None = None) -> list[bytes]:
    """The hex-dump blocks of a document, in order (only those after heading ``after``)."""
    text = vector(set_name, file).read_text()
    if after is not None:
        text = text[text.index(after):]
    return [_hex(m.group(1)) for m in _BLOCK.finditer(text)]


def anchored_blocks(set_name: str, file: str) -> dict[str, bytes]:
    """The hex-dump blocks that carry an ``{: #anchor}``, by anchor."""
    text = vector(set_name, file).read_text()
    return {m.group(3): _hex(m.group(1)) for m in _BLOCK.finditer(text) if m.group(3)}


def rfc9458_example() -> dict[str, bytes]:
    names = ["server_sk", "key_config", "request", "client_sk", "client_pk", "info",
             "enc_request", "response", "secret", "salt", "prk", "aead_key", "aead_nonce",
             "enc_response"]
    blocks = hex_blocks("rfc9458", "draft-ietf-ohai-ohttp.md",
                        after="# Complete Example of a Request and Response")
    assert len(blocks) == len(names), len(blocks)
    return dict(zip(names, blocks, strict=True))


def chunked_example() -> dict[str, bytes]:
    names = ["server_sk", "key_config", "request", "client_sk", "client_pk", "info",
             "enc_request", "response", "secret", "salt", "prk", "aead_key", "aead_nonce",
             "enc_response", "nonces"]
    blocks = hex_blocks("chunked-ohttp", "draft-ietf-ohai-chunked-ohttp.md", after="# Example")
    assert len(blocks) == len(names), len(blocks)
    return dict(zip(names, blocks, strict=True))


def rfc9292_examples() -> dict[str, bytes]:
    return anchored_blocks("rfc9292", "draft-ietf-httpbis-binary-message.md")
