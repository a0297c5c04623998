"""The client side of update protection: a Flower Mod that seals and signs every reply.

Use it like Flower's own mods::

    from pqml.fl import ProtectUpdatesMod
    app = ClientApp(mods=[ProtectUpdatesMod()])       # keys from node_config
    app = ClientApp(mods=[ProtectUpdatesMod(node_key="node.pem",
                                            server_key="server.pub")])

Put it first in ``mods``: Flower runs the first mod outermost, so the reply is sealed after
every other mod (DP clipping, size metrics) has produced it.

For each instruction of a protected type (``train`` and ``evaluate`` by default) the mod
checks the server's offer (round and server key id, added by
:class:`pqml.fl.ProtectedStrategy`), removes it so the ClientApp sees the instruction as
plain Flower would send it, runs the ClientApp, then replaces the reply's content with the
sealed form of :mod:`pqml.fl.protect_records`. It fails closed on the side that can act: an
instruction without an offer, a server key other than the pinned one, or a node without
keys get an error reply (``MOD_FAILED_PRECONDITION``) naming the problem, logged here and
reported by the server, and no update leaves the node in clear.

Keys: explicit (key object, file or keyring reference) or, by default, from the SuperNode's
``--node-config``: ``pqml-node-key`` (the node's ML-DSA private key) and
``pqml-server-key`` (the server's X-Wing or ML-KEM-1024 public key). A callable
``(Context) -> source`` chooses per node in simulations.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pqml.fl import protect_records as records
from pqml.fl.errors import FLKeyError, FLProtectionError
from pqml.fl.protect_keys import (
    KeySource,
    key_id,
    load_server_public_key,
    load_signing_key,
)
from pqml.primitives import hashes, hpke
from pqml.primitives.base import KEMPublicKey, SigningKey

if TYPE_CHECKING:
    from flwr.app import Context, Message, RecordDict

log = logging.getLogger("pqml.fl")

NODE_KEY_CONFIG = "pqml-node-key"
SERVER_KEY_CONFIG = "pqml-server-key"
PROTECTED_TYPES = ("train", "evaluate")

KeyChoice = KeySource | Callable[["Context"], Any] | None


def seal_update(content: RecordDict, *, node_key: SigningKey, server_key: KEMPublicKey,
                run_id: int, server_round: int, node_id: int, message_type: str,
                reply_to: str, now: float | None = None,
                key_ids: tuple[str, str] | None = None) -> RecordDict:
    """The sealed, signed form of a reply's ``content`` (see :mod:`protect_records`).
    ``key_ids``: the node's and the server's key ids, if the caller has them already."""
    signer_id, server_id = key_ids or (key_id(node_key), key_id(server_key))
    context = records.UpdateContext(
        v=records.VERSION, kem=server_key.algorithm, sig=node_key.algorithm, run=run_id,
        round=server_round, node=node_id, type=message_type, reply_to=reply_to,
        nonce=secrets.token_hex(16), time_ms=int((time.time() if now is None else now) * 1000),
        signer=signer_id, server_key=server_id)
    suite = hpke.Suite(server_key.algorithm)
    enc, sender = suite.setup_base_s(server_key, records.HPKE_INFO)
    ciphertext = sender.seal(records.encode_content(content), context.aad())
    header = records.UpdateHeader(context, enc, len(ciphertext),
                                  hashes.digest("SHA-256", ciphertext)).encode()
    signature = node_key.sign(header, records.SIGNATURE_CONTEXT)
    return records.sealed_content(records.SealedUpdate(header, signature, ciphertext))


class ProtectUpdatesMod:
    """A Flower client Mod: HPKE-seal each reply to the server's key, sign it with the
    node's ML-DSA key. Keys load once per node and are cached."""

    def __init__(self, *, node_key: KeyChoice | SigningKey = None,
                 server_key: KeyChoice | KEMPublicKey = None,
                 message_types: tuple[str, ...] = PROTECTED_TYPES) -> None:
        self._node_key = node_key
        self._server_key = server_key
        self.message_types = message_types
        self._cache: dict[tuple[str, str], Any] = {}

    # -- keys ---------------------------------------------------------------------------------

    def _source(self, choice: Any, context: Context, config_name: str) -> Any:
        if callable(choice) and not isinstance(choice, (SigningKey, KEMPublicKey)):
            choice = choice(context)
        if choice is None:
            choice = context.node_config.get(config_name)
        if choice is None or choice == "":
            raise FLKeyError(f"node has no {config_name.removeprefix('pqml-')} configured "
                             f"(pass it to ProtectUpdatesMod or set node_config "
                             f"'{config_name}')")
        return choice

    def _key(self, kind: str, choice: Any, context: Context, config_name: str) -> Any:
        source = self._source(choice, context, config_name)
        if not isinstance(source, (str, os.PathLike)):
            return load_signing_key(source) if kind == "node" \
                else load_server_public_key(source)
        cache_key = (kind, os.fspath(source))
        if cache_key not in self._cache:
            self._cache[cache_key] = load_signing_key(source) if kind == "node" \
                else load_server_public_key(source)
        return self._cache[cache_key]

    def keys(self, context: Context) -> tuple[SigningKey, KEMPublicKey]:
        """The node's signing key and the pinned server key for this node's context."""
        return (self._key("node", self._node_key, context, NODE_KEY_CONFIG),
                self._key("server", self._server_key, context, SERVER_KEY_CONFIG))

    def _key_ids(self, node_key: SigningKey, server_key: KEMPublicKey) -> tuple[str, str]:
        cache_key = ("ids", f"{id(node_key)}:{id(server_key)}")
        cached = self._cache.get(cache_key)
        if cached is None or cached[0] is not node_key or cached[1] is not server_key:
            cached = (node_key, server_key, (key_id(node_key), key_id(server_key)))
            self._cache[cache_key] = cached
        return cached[2]  # type: ignore[no-any-return]

    # -- the mod --------------------------------------------------------------------------------

    def __call__(self, msg: Message, context: Context,
                 call_next: Callable[[Message, Context], Message]) -> Message:
        kind = msg.metadata.message_type.split(".", 1)[0]
        if kind not in self.message_types:
            return call_next(msg, context)
        try:
            offer = self._take_offer(msg)
            node_key, server_key = self.keys(context)
            ids = self._key_ids(node_key, server_key)
            if offer.server_key != ids[1] or offer.kem != server_key.algorithm:
                raise FLKeyError(
                    f"server offers {offer.kem} key {offer.server_key}, but this node pins "
                    f"{server_key.algorithm} key {ids[1]}: wrong server key, no update sent")
        except FLProtectionError as exc:
            return self._refuse(msg, str(exc))
        reply = call_next(msg, context)
        if reply.has_error():
            return reply
        try:
            reply.content = seal_update(
                reply.content, node_key=node_key, server_key=server_key,
                run_id=msg.metadata.run_id, server_round=offer.round,
                node_id=msg.metadata.dst_node_id, message_type=msg.metadata.message_type,
                reply_to=msg.metadata.message_id, key_ids=ids)
        except Exception as exc:
            return self._refuse(msg, f"cannot seal the update ({type(exc).__name__}: {exc})")
        return reply

    @staticmethod
    def _take_offer(msg: Message) -> records.Offer:
        if not msg.has_content() or records.PROTECT_RECORD not in msg.content:
            raise FLProtectionError(
                "the server did not ask for pqml update protection (no pqml.protect offer; "
                "wrap its strategy in ProtectedStrategy): refusing to send the update in "
                "clear")
        try:
            offer = records.Offer.from_record(msg.content[records.PROTECT_RECORD])
        except ValueError as exc:
            raise FLProtectionError(f"{exc}: refusing to send the update") from None
        del msg.content[records.PROTECT_RECORD]
        return offer

    @staticmethod
    def _refuse(msg: Message, reason: str) -> Message:
        from flwr.app import Error, Message
        from flwr.common.constant import ErrorCode

        text = f"pqml: node {msg.metadata.dst_node_id}, round message " \
               f"{msg.metadata.message_id[:12]}: {reason}"
        log.error("%s", text)
        return Message(Error(code=ErrorCode.MOD_FAILED_PRECONDITION, reason=text), reply_to=msg)
