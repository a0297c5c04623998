"""pqml/v1 recipient stanzas that seal the file key with RFC 9180 HPKE, one type per KEM.

::

    -> TYPE KEYID
    base64(enc || ct)

    enc || ct = HPKE SealBase(pkR, info = "pqml/v1/" || TYPE, aad = "", pt = file key)
    suite     = (KEM of TYPE, HKDF-SHA256, AES-256-GCM)
    KEYID     = lower-case hex of SHA-256("pqml/v1/keyid" || 0x00 || TYPE || 0x00 || pkR)[:8]

=================  =================  ========  ==========  ===============================
TYPE               KEM                HPKE id   body bytes  status
=================  =================  ========  ==========  ===============================
``xwing``          X-Wing             0x647a    1168        post-quantum hybrid (default)
``mlkem768``       ML-KEM-768         0x0041    1136        post-quantum
``mlkem1024``      ML-KEM-1024        0x0042    1616        post-quantum (CNSA 2.0)
``mlkem1024p384``  MLKEM1024-P384     0x0051    1713        post-quantum hybrid (CNSA 2.0)
``x25519``         DHKEM(X25519)      0x0020    80          classical, quantum-vulnerable
=================  =================  ========  ==========  ===============================

Binding ``info`` to the format and the type keeps a stanza from being replayed as another
type or into another format. AES-256-GCM is the HPKE AEAD because it is the payload's
too (one AEAD family per file, and the CNSA 2.0 profile requires it). The key id names
the recipient, so ``pqml rekey --remove`` and ``pqml inspect`` can tell stanzas apart
without a private key; the price is that a file reveals which keys it is encrypted to
(as OpenPGP key ids do), which for stored models is a feature, not a leak.

An identity ignores other types and stanzas whose key id is not its own; a stanza of its
type with a malformed key id, a body of the wrong size, or an ``enc`` the KEM rejects
(low-order X25519 share, invalid P-384 point) is a header error. A matching key id whose
HPKE open fails is "not ours" (a key id collision), never a header error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pqml.formats.age.errors import HeaderError
from pqml.formats.age.header import Stanza
from pqml.primitives import hashes, hpke
from pqml.primitives.base import KEMPrivateKey, KEMPublicKey
from pqml.primitives.errors import DecryptionError, WrongKeyTypeError

INFO_PREFIX = b"pqml/v1/"
KEYID_LABEL = b"pqml/v1/keyid"
KEYID_SIZE = 8
FILE_KEY_SIZE = 32
_KEYID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class KEMType:
    """One stanza type: its name in the header and the registry KEM it uses."""

    stanza_type: str
    algorithm: str
    post_quantum: bool

    def suite(self) -> hpke.Suite:
        return hpke.Suite.for_algorithm(self.algorithm, hpke.KDFId.HKDF_SHA256,
                                        hpke.AEADId.AES_256_GCM)

    @property
    def info(self) -> bytes:
        return INFO_PREFIX + self.stanza_type.encode("ascii")


TYPES: tuple[KEMType, ...] = (
    KEMType("xwing", "X-Wing", True),
    KEMType("mlkem768", "ML-KEM-768", True),
    KEMType("mlkem1024", "ML-KEM-1024", True),
    KEMType("mlkem1024p384", "MLKEM1024-P384", True),
    KEMType("x25519", "X25519", False),
)
BY_STANZA_TYPE = {t.stanza_type: t for t in TYPES}
BY_ALGORITHM = {t.algorithm: t for t in TYPES}


def kem_type_for(algorithm: str) -> KEMType:
    try:
        return BY_ALGORITHM[algorithm]
    except KeyError:
        names = ", ".join(t.algorithm for t in TYPES)
        raise WrongKeyTypeError(
            f"pqml/v1 has no recipient type for {algorithm} keys (supported: {names})"
        ) from None


def key_id(kem_type: KEMType, public_key: KEMPublicKey) -> str:
    data = (KEYID_LABEL + b"\x00" + kem_type.stanza_type.encode("ascii") + b"\x00"
            + public_key.public_bytes())
    return hashes.digest("SHA-256", data)[:KEYID_SIZE].hex()


def check_stanza(stanza: Stanza) -> KEMType:
    """Validate the shape of a stanza of one of these types (header-wide rule)."""
    kem_type = BY_STANZA_TYPE[stanza.type]
    if len(stanza.args) != 1:
        raise HeaderError(f"{stanza.type} stanza must have exactly one argument (the key id)")
    if not _KEYID.fullmatch(stanza.args[0]):
        raise HeaderError(f"{stanza.type} stanza key id must be 16 lower-case hex digits")
    suite = kem_type.suite()
    size = suite.kem.n_enc + FILE_KEY_SIZE + suite.aead.nt
    if len(stanza.body) != size:
        raise HeaderError(f"{stanza.type} stanza body must be {size} bytes, "
                          f"got {len(stanza.body)}")
    return kem_type


class HPKERecipient:
    """Wraps file keys to one KEM public key of a supported algorithm."""

    must_be_alone = False

    def __init__(self, public_key: KEMPublicKey) -> None:
        self.kem_type = kem_type_for(public_key.algorithm)
        self.public_key = public_key
        self.post_quantum = self.kem_type.post_quantum
        self.key_id = key_id(self.kem_type, public_key)
        self._suite = self.kem_type.suite()

    def wrap(self, file_key: bytes) -> list[Stanza]:
        sealed = self._suite.seal(self.public_key, file_key, info=self.kem_type.info)
        return [Stanza(self.kem_type.stanza_type, (self.key_id,), sealed)]

    def __repr__(self) -> str:
        return f"<pqml/v1 {self.kem_type.stanza_type} recipient {self.key_id}>"


class HPKEIdentity:
    """Unwraps this type's stanzas addressed (by key id) to one KEM private key."""

    def __init__(self, private_key: KEMPrivateKey) -> None:
        self.kem_type = kem_type_for(private_key.algorithm)
        self.private_key = private_key
        self.key_id = key_id(self.kem_type, private_key.public_key())
        self._suite = self.kem_type.suite()

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        n_enc = self._suite.kem.n_enc
        for stanza in stanzas:
            if stanza.type != self.kem_type.stanza_type:
                continue
            check_stanza(stanza)
            if stanza.args[0] != self.key_id:
                continue
            enc, ct = stanza.body[:n_enc], stanza.body[n_enc:]
            try:
                ctx = self._suite.setup_base_r(enc, self.private_key, self.kem_type.info)
            except DecryptionError as exc:
                raise HeaderError(f"{stanza.type} stanza has an invalid encapsulation: "
                                  f"{exc}") from None
            try:
                return ctx.open(ct)
            except DecryptionError:
                continue
        return None

    def __repr__(self) -> str:
        return f"<pqml/v1 {self.kem_type.stanza_type} identity {self.key_id}>"
