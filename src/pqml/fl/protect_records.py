"""How a protected update travels inside Flower records, and the header both sides sign.

A protected reply replaces the ClientApp's whole reply content (arrays, metrics and
configs: FedAvg weights by the ``num-examples`` metric, so it must be sealed too) with two
records Flower transports like any others::

    "pqml.sealed"   ArrayRecord {"update": Array(dtype="bytes", shape=(n,),
                                                 stype="pqml-fl-sealed/v1", data=ciphertext)}
    "pqml.protect"  ConfigRecord {"header": bytes, "signature": bytes}

The ciphertext is HPKE single-shot Base mode (RFC 9180) to the server's key, info
:data:`HPKE_INFO`, over the reply's RecordDict (:func:`encode_content`: array bytes
verbatim, metrics and configs in Flower's protobuf encoding), with the update's *context*
as associated data. The header is canonical JSON: the context (run id,
round, node id, message type, the instruction's message id, a fresh 128-bit nonce, a
millisecond timestamp, the signer's and the server's key ids, algorithms) plus the HPKE
``enc``, the ciphertext's length and SHA-256. The node signs the header's exact bytes with
ML-DSA and the context string :data:`SIGNATURE_CONTEXT`, so the signature covers the
ciphertext and its context; the server verifies before it decrypts anything.

Instructions from a protecting server carry an *offer* (``"pqml.protect"`` ConfigRecord:
version, round, the server key's id and KEM), which the client mod removes before the
ClientApp sees the message. Everything here is bytes in, objects out; the cryptography
lives in :mod:`pqml.fl.protect_mod` and :mod:`pqml.fl.protect_strategy`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pqml.fl.errors import UpdateRejectedError

if TYPE_CHECKING:
    from flwr.app import ConfigRecord, RecordDict

VERSION = 1
SEALED_RECORD = "pqml.sealed"
SEALED_ARRAY = "update"
SEALED_STYPE = "pqml-fl-sealed/v1"
PROTECT_RECORD = "pqml.protect"
HPKE_INFO = b"pqml fl update v1"
SIGNATURE_CONTEXT = b"pqml fl update v1"
MAX_HEADER = 16 * 1024
MAX_SIGNATURE = 16 * 1024
MAX_ID = 256
PLAINTEXT_MAGIC = b"pqml-fl-content/v1\n"

_CONTEXT_FIELDS = {
    "v": int, "kem": str, "sig": str, "run": int, "round": int, "node": int, "type": str,
    "reply_to": str, "nonce": str, "time_ms": int, "signer": str, "server_key": str,
}
_HEADER_FIELDS = {**_CONTEXT_FIELDS, "enc": str, "ct_len": int, "ct_sha256": str}


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class UpdateContext:
    """What one sealed update is about; the AEAD's associated data and part of the header."""

    v: int
    kem: str
    sig: str
    run: int
    round: int
    node: int
    type: str
    reply_to: str
    nonce: str
    time_ms: int
    signer: str
    server_key: str

    def aad(self) -> bytes:
        return _canonical(asdict(self))


@dataclass(frozen=True)
class UpdateHeader:
    """The signed header: the context plus the HPKE ``enc`` and the ciphertext's digest."""

    context: UpdateContext
    enc: bytes
    ct_len: int
    ct_sha256: bytes

    def encode(self) -> bytes:
        data = asdict(self.context)
        data.update(enc=base64.b64encode(self.enc).decode(), ct_len=self.ct_len,
                    ct_sha256=self.ct_sha256.hex())
        return _canonical(data)

    @classmethod
    def decode(cls, data: bytes) -> UpdateHeader:
        """Parse a header strictly (exact field set and types); ``malformed`` otherwise."""
        if len(data) > MAX_HEADER:
            raise UpdateRejectedError("malformed", f"update header is {len(data)} bytes, "
                                                   f"more than {MAX_HEADER}")
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise UpdateRejectedError("malformed", "update header is not JSON") from None
        if not isinstance(doc, dict) or set(doc) != set(_HEADER_FIELDS):
            raise UpdateRejectedError("malformed", "update header has the wrong fields")
        for name, kind in _HEADER_FIELDS.items():
            value = doc[name]
            if type(value) is not kind or (kind is str and len(value) > 4 * MAX_ID
                                           and name != "enc"):
                raise UpdateRejectedError("malformed", f"update header field {name!r} "
                                                       f"is not a valid {kind.__name__}")
        try:
            enc = base64.b64decode(doc["enc"], validate=True)
            digest = bytes.fromhex(doc["ct_sha256"])
        except ValueError:
            raise UpdateRejectedError("malformed", "update header enc or digest is not "
                                                   "valid base64 / hex") from None
        if len(digest) != 32 or doc["ct_len"] < 0:
            raise UpdateRejectedError("malformed", "update header digest or length is invalid")
        context = UpdateContext(**{name: doc[name] for name in _CONTEXT_FIELDS})
        return cls(context, enc, doc["ct_len"], digest)


@dataclass(frozen=True)
class SealedUpdate:
    """The three pieces a protected reply carries, as bytes."""

    header: bytes
    signature: bytes
    ciphertext: bytes


def encode_content(content: RecordDict) -> bytes:
    """The plaintext of a sealed update: every record of ``content``, in order, exactly.

    Layout: :data:`PLAINTEXT_MAGIC`, a 4-byte length and a JSON index (record keys and
    kinds in order; per array its key, dtype, shape, stype and data length), an 8-byte
    length and Flower's own protobuf encoding of the metric and config records, then the
    arrays' data bytes back to back. Array data is copied once, verbatim, instead of
    through protobuf (three times faster at 4 MB); metrics and configs keep Flower's types.
    """
    from flwr.app import ArrayRecord, RecordDict
    from flwr.common.serde import recorddict_to_proto

    index: list[list[Any]] = []
    others = RecordDict()
    blobs: list[bytes] = []
    for key, record in content.items():
        if isinstance(record, ArrayRecord):
            items = []
            for name, array in record.items():
                items.append([name, array.dtype, list(array.shape), array.stype,
                              len(array.data)])
                blobs.append(array.data)
            index.append([key, "array", items])
        else:
            index.append([key, "other"])
            others[key] = record
    head = _canonical({"records": index})
    rest = recorddict_to_proto(others).SerializeToString(deterministic=True)
    return b"".join([PLAINTEXT_MAGIC, len(head).to_bytes(4, "big"), head,
                     len(rest).to_bytes(8, "big"), rest, *blobs])


def decode_content(plaintext: bytes) -> RecordDict:
    """The RecordDict back from :func:`encode_content`; ``malformed`` if it does not parse.
    (It was signed by a registered node and decrypted, but is still checked strictly.)"""
    try:
        return _decode_content(memoryview(plaintext))
    except UpdateRejectedError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise UpdateRejectedError("malformed", f"decrypted update is not a Flower "
                                               f"RecordDict ({type(exc).__name__})") from None


def _decode_content(view: memoryview) -> RecordDict:
    from flwr.app import Array, ArrayRecord, RecordDict
    from flwr.common.serde import recorddict_from_proto
    from flwr.proto.recorddict_pb2 import RecordDict as ProtoRecordDict
    from google.protobuf.message import DecodeError

    def bad(why: str) -> UpdateRejectedError:
        return UpdateRejectedError("malformed", f"decrypted update: {why}")

    magic = len(PLAINTEXT_MAGIC)
    if bytes(view[:magic]) != PLAINTEXT_MAGIC or len(view) < magic + 12:
        raise bad("unknown plaintext format")
    head_len = int.from_bytes(view[magic:magic + 4], "big")
    pos = magic + 4 + head_len
    if head_len > MAX_HEADER * 64 or pos + 8 > len(view):
        raise bad("index length out of range")
    index = json.loads(bytes(view[magic + 4:pos]))
    rest_len = int.from_bytes(view[pos:pos + 8], "big")
    pos += 8
    if pos + rest_len > len(view):
        raise bad("record length out of range")
    try:
        others = recorddict_from_proto(ProtoRecordDict.FromString(bytes(view[pos:pos + rest_len])))
    except DecodeError:
        raise bad("metric/config records do not parse") from None
    pos += rest_len
    content = RecordDict()
    for entry in index["records"]:
        key, kind = entry[0], entry[1]
        if kind == "other":
            content[key] = others[key]
            continue
        if kind != "array":
            raise bad(f"unknown record kind {kind!r}")
        arrays = {}
        for name, dtype, shape, stype, size in entry[2]:
            if type(size) is not int or size < 0 or pos + size > len(view):
                raise bad("array length out of range")
            arrays[name] = Array(dtype=dtype, shape=tuple(shape), stype=stype,
                                 data=bytes(view[pos:pos + size]))
            pos += size
        content[key] = ArrayRecord(arrays, keep_input=False)
    if pos != len(view) or set(content.keys()) != set(others.keys()) | {
            e[0] for e in index["records"] if e[1] == "array"}:
        raise bad("trailing bytes or records missing from the index")
    return content


def sealed_content(sealed: SealedUpdate) -> RecordDict:
    """The reply content that carries ``sealed`` and nothing else."""
    from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

    array = Array(dtype="bytes", shape=(len(sealed.ciphertext),), stype=SEALED_STYPE,
                  data=sealed.ciphertext)
    return RecordDict({
        SEALED_RECORD: ArrayRecord({SEALED_ARRAY: array}),
        PROTECT_RECORD: ConfigRecord({"header": sealed.header, "signature": sealed.signature}),
    })


def split_sealed(content: RecordDict) -> SealedUpdate:
    """The sealed pieces of a reply; ``unsigned`` if it carries none, ``malformed`` if
    they are there but not as :func:`sealed_content` writes them."""
    from flwr.app import ArrayRecord, ConfigRecord

    record = content.get(PROTECT_RECORD)
    sealed = content.get(SEALED_RECORD)
    if record is None and sealed is None:
        raise UpdateRejectedError("unsigned", "reply carries no pqml signature or sealed "
                                              "update (is the pqml mod missing on the node?)")
    if set(content.keys()) != {PROTECT_RECORD, SEALED_RECORD} \
            or not isinstance(record, ConfigRecord) or not isinstance(sealed, ArrayRecord):
        raise UpdateRejectedError("malformed", "reply must carry exactly the pqml.sealed "
                                               "ArrayRecord and the pqml.protect ConfigRecord")
    header, signature = record.get("header"), record.get("signature")
    if set(record.keys()) != {"header", "signature"} or not isinstance(header, bytes) \
            or not isinstance(signature, bytes):
        raise UpdateRejectedError("malformed", "pqml.protect record needs bytes 'header' "
                                               "and 'signature' and nothing else")
    if len(signature) > MAX_SIGNATURE:
        raise UpdateRejectedError("malformed", f"signature is {len(signature)} bytes, "
                                               f"more than {MAX_SIGNATURE}")
    if list(sealed.keys()) != [SEALED_ARRAY]:
        raise UpdateRejectedError("malformed", "pqml.sealed record must hold one 'update'")
    array = sealed[SEALED_ARRAY]
    if array.stype != SEALED_STYPE or array.dtype != "bytes" \
            or tuple(array.shape) != (len(array.data),):
        raise UpdateRejectedError("malformed", "pqml.sealed update has the wrong "
                                               "dtype, stype or shape")
    return SealedUpdate(header, signature, bytes(array.data))


# ---- the offer a protecting server adds to each instruction ---------------------------------


@dataclass(frozen=True)
class Offer:
    """What the server tells each node: protect replies for this round to this key."""

    round: int
    server_key: str
    kem: str

    def record(self) -> ConfigRecord:
        from flwr.app import ConfigRecord

        return ConfigRecord({"v": VERSION, "round": self.round, "server-key": self.server_key,
                             "kem": self.kem})

    @classmethod
    def from_record(cls, record: object) -> Offer:
        from flwr.app import ConfigRecord

        if not isinstance(record, ConfigRecord):
            raise ValueError("the pqml.protect offer is not a ConfigRecord")
        values = {name: record.get(name) for name in ("v", "round", "server-key", "kem")}
        if values["v"] != VERSION or type(values["round"]) is not int \
                or not isinstance(values["server-key"], str) \
                or not isinstance(values["kem"], str) or len(values["server-key"]) > MAX_ID:
            raise ValueError("the pqml.protect offer is malformed or of another version")
        return cls(values["round"], values["server-key"], values["kem"])
