"""OpenSSF Model Signing (OMS) bundles: a pure, strict model of the on-disk format.

Layers, outermost first (DESIGN.md §5.4):

* Sigstore bundle v0.3 JSON (``mediaType`` ``application/vnd.dev.sigstore.bundle.v0.3+json``)
  carrying ``verificationMaterial`` (a key ``hint``, an X.509 chain, or one certificate) and
* a DSSE envelope (``payloadType`` ``application/vnd.in-toto+json``) whose signatures cover
  ``PAE(payloadType, payload)``, around
* an in-toto Statement v1 with predicate ``https://model_signing/signature/v1.0`` listing one
  resource (name, algorithm, hex digest) per file or shard.

Facts established from model_signing 1.0.0-1.1.1 and the vectors in tests/vectors/oms:

* Subject digest: SHA-256 over the concatenated *raw* resource digests in predicate order;
  signers list resources sorted by path components (then shard start, end). It binds neither
  names nor algorithms, which is a known weakness this module only reproduces.
* ``publicKey.hint``: lowercase hex SHA-256 of the SubjectPublicKeyInfo *PEM text* exactly as
  pyca/cryptography writes it (64-column base64, trailing newline), not of the DER.
* model_signing verifies only ``signatures[0]``, with ECDSA and the hash matching the curve
  (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512); additional signatures are ignored by it.
* model_signing 1.1 parses bundles with pydantic ``extra="forbid"``: any unknown bundle key
  makes it reject the file, so this module rejects them too and never writes any.
* A single-file model has exactly one resource named ``"."`` (``".:start:end"`` shards).
* The ``shards`` method names resources ``path:start:end`` with algorithm
  ``<hash>-sharded-<shard_size>`` and skips empty files. model_signing 1.1.1 writes
  ``shard_size`` as a float (``2.0``), so its API's guessed configuration then fails with a
  ``TypeError``; and its CLI ``verify`` always re-hashes with the ``files`` method and
  SHA-256. Only ``files`` + ``sha256`` bundles are verifiable by its CLI, so pqml signs
  those whenever the bundle must stay verifiable by model_signing.

Formats are pure: bytes in, objects out. Nothing here reads files, touches the network or
imports a cryptographic backend; signing and verification happen in pqml.signing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pqml.formats.errors import BundleFormatError

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"

SERIALIZATION_METHODS = ("files", "shards")

# Digest sizes (bytes) of the algorithm names model_signing records; shard digests are
# named "<hash>-sharded-<shard_size>". Unknown names are accepted with any length so a
# future hash does not need a format change, but known ones must have the right size.
_DIGEST_SIZES = {
    "sha256": 32,
    "sha384": 48,
    "sha512": 64,
    "sha3-256": 32,
    "sha3-384": 48,
    "blake2b": 64,
    "blake3": 32,
}
# Always used with fullmatch: "$" alone would also accept a trailing newline.
_SHARDED = re.compile(r"(?P<base>[a-z0-9-]+?)-sharded-(?P<size>[1-9][0-9]*)")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_DRIVE = re.compile(r"^[A-Za-z]:")




def _fail(where: str, problem: str) -> NoReturn:
    raise BundleFormatError(f"OMS bundle: {where}: {problem}")


# ---------------------------------------------------------------------------------------------
# Primitive encodings


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, the exact bytes every DSSE signature covers.

    ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` with LEN the ASCII decimal *byte*
    length (UTF-8 for the type). Binding the type into the signed bytes is what stops a
    signature over one payload type being replayed as another.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def key_hint(public_key_der: bytes) -> str:
    """The ``publicKey.hint`` model_signing 1.1 writes and checks for a verification key.

    It is SHA-256 over the SPKI in PEM form as pyca/cryptography serialises it, so the DER
    is re-armoured here (RFC 7468 strict: 64-column lines, LF endings) rather than hashing
    whatever PEM file the user holds, which may carry text before the armour.
    """
    if not public_key_der or public_key_der[0] != 0x30:
        raise BundleFormatError("OMS key hint: public key is not a DER SubjectPublicKeyInfo")
    b64 = base64.b64encode(public_key_der).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    pem = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"
    return hashlib.sha256(pem.encode("ascii")).hexdigest()


def subject_digest(resources: Iterable[Resource]) -> str:
    """model_signing's root digest: SHA-256 over the raw resource digests, in list order."""
    hasher = hashlib.sha256()
    for resource in resources:
        hasher.update(resource.digest_bytes)
    return hasher.hexdigest()


def _b64decode(value: object, where: str) -> bytes:
    """Standard base64 with padding, canonical only, so one bundle has one spelling.

    model_signing decodes with ``base64.b64decode`` without validation, which silently drops
    characters outside the alphabet (URL-safe ``-``/``_`` included); refusing them here keeps
    us from accepting a bundle whose bytes it would read differently.
    """
    if not isinstance(value, str):
        _fail(where, "expected a base64 string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        _fail(where, "invalid base64")
    if base64.b64encode(raw).decode("ascii") != value:
        _fail(where, "non-canonical base64")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_hex_digest(value: object, algorithm: str, where: str) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        _fail(where, "digest must be non-empty lowercase hex")
    match = _SHARDED.fullmatch(algorithm)
    size = _DIGEST_SIZES.get(match.group("base") if match else algorithm)
    if size is not None and len(value) != 2 * size:
        _fail(where, f"{algorithm} digest must be {size} bytes, got {len(value) // 2}")
    return value


def check_relative_path(path: str, where: str) -> None:
    """Reject any name that could leave the model directory or alias another name.

    Names are POSIX paths relative to the model root, in the canonical form model_signing
    produces (``PurePosixPath`` normalises away ``.`` and empty segments). Absolute paths,
    ``..`` segments, backslashes, NUL, empty or ``.`` segments and Windows drive prefixes are
    refused: the traversal hole fixed by model_signing PR #647 came from joining such names
    onto the model path unchecked.
    """
    if not path:
        _fail(where, "empty path")
    if "\x00" in path:
        _fail(where, "path contains NUL")
    if "\\" in path:
        _fail(where, f"path {path!r} contains a backslash")
    if path.startswith("/"):
        _fail(where, f"path {path!r} is absolute")
    if _DRIVE.match(path):
        _fail(where, f"path {path!r} starts with a drive letter")
    for segment in path.split("/"):
        if segment == "":
            _fail(where, f"path {path!r} has an empty segment")
        if segment == "..":
            _fail(where, f"path {path!r} has a '..' segment")
        if segment == ".":
            _fail(where, f"path {path!r} has a '.' segment")


# ---------------------------------------------------------------------------------------------
# in-toto statement


@dataclass(frozen=True)
class Resource:
    """One predicate resource: a file (``files``) or ``path:start:end`` shard (``shards``)."""

    name: str
    digest: str
    algorithm: str = "sha256"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            _fail("resource", "name must be a string")
        if not isinstance(self.algorithm, str) or not self.algorithm:
            _fail(f"resource {self.name!r}", "algorithm must be a non-empty string")
        _check_hex_digest(self.digest, self.algorithm, f"resource {self.name!r}")

    @property
    def digest_bytes(self) -> bytes:
        return bytes.fromhex(self.digest)


@dataclass(frozen=True)
class Serialization:
    """How the model was turned into resources; verifiers must re-serialise the same way."""

    method: str = "files"
    hash_type: str = "sha256"
    allow_symlinks: bool = False
    ignore_paths: tuple[str, ...] = ()
    shard_size: int | None = None

    def __post_init__(self) -> None:
        where = "predicate.serialization"
        if self.method not in SERIALIZATION_METHODS:
            _fail(where, f"unsupported method {self.method!r}")
        if not isinstance(self.hash_type, str) or not self.hash_type:
            _fail(where, "hash_type must be a non-empty string")
        if type(self.allow_symlinks) is not bool:
            _fail(where, "allow_symlinks must be a boolean")
        if self.method == "shards":
            if type(self.shard_size) is not int or self.shard_size <= 0:
                _fail(where, "shards needs a positive integer shard_size")
        elif self.shard_size is not None:
            _fail(where, "shard_size is only valid with method 'shards'")
        if not isinstance(self.ignore_paths, tuple):
            _fail(where, "ignore_paths must be a tuple")
        for i, path in enumerate(self.ignore_paths):
            if not isinstance(path, str):
                _fail(f"{where}.ignore_paths[{i}]", "expected a string")
            # "." or "" would ignore the whole model; anything escaping it is meaningless.
            check_relative_path(path, f"{where}.ignore_paths[{i}]")
        if len(set(self.ignore_paths)) != len(self.ignore_paths):
            _fail(where, "duplicate ignore_paths entry")

    def to_json_obj(self) -> dict[str, Any]:
        """Key order as model_signing's ``serialization_parameters``; empty lists omitted."""
        obj: dict[str, Any] = {"method": self.method, "hash_type": self.hash_type}
        if self.shard_size is not None:
            obj["shard_size"] = self.shard_size
        obj["allow_symlinks"] = self.allow_symlinks
        if self.ignore_paths:
            obj["ignore_paths"] = list(self.ignore_paths)
        return obj


def _split_resource_name(name: str, method: str, where: str) -> tuple[str, int, int]:
    """Return ``(path, start, end)``; files have no range (0, 0)."""
    if method == "files":
        return name, 0, 0
    parts = name.split(":")
    if len(parts) != 3:
        _fail(where, f"shard name {name!r} is not 'path:start:end'")
    path, start_s, end_s = parts
    if not _DECIMAL.fullmatch(start_s) or not _DECIMAL.fullmatch(end_s):
        _fail(where, f"shard name {name!r} has a non-canonical offset")
    start, end = int(start_s), int(end_s)
    if start > end:
        _fail(where, f"shard name {name!r} has start > end")
    return path, start, end


def _resource_sort_key(name: str, method: str) -> tuple[tuple[str, ...], int, int]:
    """model_signing's manifest order: path components, then shard start and end."""
    path, start, end = _split_resource_name(name, method, "resource")
    return tuple(path.split("/")), start, end


@dataclass(frozen=True)
class Statement:
    """The in-toto Statement v1 with the model_signing v1.0 predicate.

    ``extensions`` holds predicate keys other than ``serialization`` and ``resources``: the
    v1.0 predicate tells verifiers to ignore them, so they are kept but carry no meaning
    here. Construction checks every resource name and that ``subject_digest`` is the
    root digest of ``resources`` (model_signing rejects the statement otherwise).
    """

    subject_name: str
    subject_digest: str
    serialization: Serialization
    resources: tuple[Resource, ...]
    extensions: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.subject_name, str) or "\x00" in self.subject_name:
            _fail("subject[0].name", "must be a string without NUL")
        _check_hex_digest(self.subject_digest, "sha256", "subject[0].digest.sha256")
        if not isinstance(self.resources, tuple) or not self.resources:
            _fail("predicate.resources", "must be a non-empty tuple")
        method = self.serialization.method
        # model_signing re-hashes with hash_type and compares (algorithm, digest) pairs, so a
        # resource recorded under any other algorithm name can never verify there.
        expected_algorithm = self.serialization.hash_type
        if method == "shards":
            expected_algorithm += f"-sharded-{self.serialization.shard_size}"
        seen: set[str] = set()
        paths: set[str] = set()
        for i, resource in enumerate(self.resources):
            where = f"predicate.resources[{i}].name"
            if not isinstance(resource, Resource):
                _fail(f"predicate.resources[{i}]", "expected a Resource")
            if resource.algorithm != expected_algorithm:
                _fail(
                    f"predicate.resources[{i}].algorithm",
                    f"{resource.algorithm!r} does not match serialization {expected_algorithm!r}",
                )
            if resource.name in seen:
                _fail(where, f"duplicate resource name {resource.name!r}")
            seen.add(resource.name)
            path, _, _ = _split_resource_name(resource.name, method, where)
            paths.add(path)
            if path != ".":
                check_relative_path(path, where)
        # "." names the model itself, which is only meaningful for a single-file model.
        if "." in paths and len(paths) != 1:
            _fail("predicate.resources", "'.' (single-file model) mixed with other paths")
        if subject_digest(self.resources) != self.subject_digest:
            _fail("subject[0].digest.sha256", "does not match the resources' root digest")
        for key in self.extensions:
            if key in ("serialization", "resources"):
                _fail("predicate", f"extension key {key!r} is reserved")

    def to_json_obj(self) -> dict[str, Any]:
        predicate: dict[str, Any] = {
            "serialization": self.serialization.to_json_obj(),
            "resources": [
                {"name": r.name, "algorithm": r.algorithm, "digest": r.digest}
                for r in self.resources
            ],
        }
        predicate.update(self.extensions)
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.subject_name, "digest": {"sha256": self.subject_digest}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": predicate,
        }

    def to_payload(self) -> bytes:
        """DSSE payload bytes, laid out like model_signing's (2-space indent, UTF-8)."""
        return json.dumps(self.to_json_obj(), indent=2, ensure_ascii=False).encode("utf-8")


def build_statement(
    resources: Iterable[Resource], serialization: Serialization, subject_name: str
) -> Statement:
    """Build the statement model_signing would for these resources.

    Resources are put in model_signing's canonical order (path components, then shard
    offsets) and the subject digest is computed over that order, so the same model gives
    the same subject digest as ``model_signing sign``.
    """
    items = list(resources)
    for i, r in enumerate(items):
        if not isinstance(r, Resource):
            _fail(f"resources[{i}]", "expected a Resource")
        _split_resource_name(r.name, serialization.method, f"resources[{i}].name")
    ordered = tuple(sorted(items, key=lambda r: _resource_sort_key(r.name, serialization.method)))
    return Statement(
        subject_name=subject_name,
        subject_digest=subject_digest(ordered),
        serialization=serialization,
        resources=ordered,
    )


# ---------------------------------------------------------------------------------------------
# Strict JSON helpers


def _reject_constant(name: str) -> NoReturn:
    raise BundleFormatError(f"OMS bundle: JSON: non-standard constant {name}")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys are a parser-differential trap: Python keeps the last, others the first.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise BundleFormatError(f"OMS bundle: JSON: duplicate key {key!r}")
        obj[key] = value
    return obj


def _loads(data: bytes, where: str) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        _fail(where, "expected bytes")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        _fail(where, "not UTF-8")
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        _fail(where, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    except RecursionError:
        _fail(where, "JSON nested too deeply")


def _object(value: Any, where: str, required: Iterable[str], optional: Iterable[str] = ()) -> dict:
    if not isinstance(value, dict):
        _fail(where, "expected a JSON object")
    required = tuple(required)
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed:
            _fail(where, f"unknown key {key!r}")
    for key in required:
        if key not in value:
            _fail(where, f"missing key {key!r}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _fail(where, "expected a string")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        _fail(where, "expected a JSON array")
    return value


def _shard_size(value: Any) -> Any:
    """model_signing 1.1 writes ``shard_size`` through a protobuf Struct, so it reads back as
    a JSON float (``1000000000.0``); accept an integral float as the integer it stands for.
    Anything else is left for :class:`Serialization` to reject."""
    if type(value) is float and value.is_integer() and 0 < value <= 2**53:
        return int(value)
    return value


def statement_from_payload(payload: bytes) -> Statement:
    """Parse and validate the DSSE payload as a model_signing v1.0 in-toto statement.

    Does not check any signature: call it on the payload only after (or while) verifying,
    and never act on the result of an unverified payload.
    """
    obj = _object(
        _loads(payload, "dsseEnvelope.payload"),
        "statement",
        ("_type", "subject", "predicateType", "predicate"),
    )
    if obj["_type"] != STATEMENT_TYPE:
        _fail("statement._type", f"expected {STATEMENT_TYPE!r}, got {obj['_type']!r}")
    if obj["predicateType"] != PREDICATE_TYPE:
        _fail(
            "statement.predicateType",
            f"expected {PREDICATE_TYPE!r}, got {obj['predicateType']!r}",
        )
    subjects = _list(obj["subject"], "statement.subject")
    if len(subjects) != 1:
        _fail("statement.subject", f"expected exactly one subject, got {len(subjects)}")
    subject = _object(subjects[0], "subject[0]", ("name", "digest"))
    name = _string(subject["name"], "subject[0].name")
    digest_set = _object(subject["digest"], "subject[0].digest", ("sha256",))

    predicate = obj["predicate"]
    if not isinstance(predicate, dict):
        _fail("statement.predicate", "expected a JSON object")
    for key in ("serialization", "resources"):
        if key not in predicate:
            _fail("statement.predicate", f"missing key {key!r}")
    ser = _object(
        predicate["serialization"],
        "predicate.serialization",
        ("method", "hash_type", "allow_symlinks"),
        ("ignore_paths", "shard_size"),
    )
    ignore = ser.get("ignore_paths", [])
    serialization = Serialization(
        method=_string(ser["method"], "predicate.serialization.method"),
        hash_type=_string(ser["hash_type"], "predicate.serialization.hash_type"),
        allow_symlinks=ser["allow_symlinks"],
        ignore_paths=tuple(_list(ignore, "predicate.serialization.ignore_paths")),
        shard_size=_shard_size(ser.get("shard_size")),
    )
    resources = []
    for i, item in enumerate(_list(predicate["resources"], "predicate.resources")):
        where = f"predicate.resources[{i}]"
        res = _object(item, where, ("name", "algorithm", "digest"))
        resources.append(
            Resource(
                name=_string(res["name"], f"{where}.name"),
                algorithm=_string(res["algorithm"], f"{where}.algorithm"),
                digest=_string(res["digest"], f"{where}.digest"),
            )
        )
    extensions = {k: v for k, v in predicate.items() if k not in ("serialization", "resources")}
    return Statement(
        subject_name=name,
        subject_digest=_string(digest_set["sha256"], "subject[0].digest.sha256"),
        serialization=serialization,
        resources=tuple(resources),
        extensions=extensions,
    )


# ---------------------------------------------------------------------------------------------
# DSSE envelope


@dataclass(frozen=True)
class Signature:
    """One DSSE signature; ``keyid`` is an unauthenticated hint (model_signing writes "")."""

    sig: bytes
    keyid: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sig, bytes) or not self.sig:
            _fail("dsseEnvelope.signatures[].sig", "must be non-empty bytes")
        if self.keyid is not None and not isinstance(self.keyid, str):
            _fail("dsseEnvelope.signatures[].keyid", "must be a string")


@dataclass(frozen=True)
class Envelope:
    """DSSE envelope; only the in-toto payload type is accepted (model_signing's rule)."""

    payload: bytes
    signatures: tuple[Signature, ...]
    payload_type: str = IN_TOTO_PAYLOAD_TYPE

    def __post_init__(self) -> None:
        if self.payload_type != IN_TOTO_PAYLOAD_TYPE:
            _fail(
                "dsseEnvelope.payloadType",
                f"expected {IN_TOTO_PAYLOAD_TYPE!r}, got {self.payload_type!r}",
            )
        if not isinstance(self.payload, bytes):
            _fail("dsseEnvelope.payload", "must be bytes")
        if not isinstance(self.signatures, tuple) or not self.signatures:
            _fail("dsseEnvelope.signatures", "at least one signature is required")
        for sig in self.signatures:
            if not isinstance(sig, Signature):
                _fail("dsseEnvelope.signatures", "expected Signature objects")

    def pae(self) -> bytes:
        """The bytes each signature must verify over."""
        return pae(self.payload_type, self.payload)

    def statement(self) -> Statement:
        return statement_from_payload(self.payload)


# ---------------------------------------------------------------------------------------------
# Verification material and bundle


@dataclass(frozen=True)
class PublicKeyIdentifier:
    """``verificationMaterial.publicKey``: the key itself travels out of band.

    ``hint`` is what model_signing >= 1.1 writes (see :func:`key_hint`). ``raw_bytes`` and
    ``key_details`` are what 1.0.x wrote instead: base64 of the key's *PEM* text (not DER, as
    the Sigstore spec would have it) and e.g. ``PKIX_ECDSA_P384_SHA_384``. They are kept for
    round trips; 1.1 deletes them on read, and a verifier must never trust them as the key.
    """

    hint: str | None = None
    raw_bytes: bytes | None = None
    key_details: str | None = None

    def __post_init__(self) -> None:
        where = "verificationMaterial.publicKey"
        if self.hint is not None and not isinstance(self.hint, str):
            _fail(f"{where}.hint", "must be a string")
        if self.raw_bytes is not None and not isinstance(self.raw_bytes, bytes):
            _fail(f"{where}.rawBytes", "must be bytes")
        if self.key_details is not None and not isinstance(self.key_details, str):
            _fail(f"{where}.keyDetails", "must be a string")


def _check_der_certificate(der: object, where: str) -> None:
    if not isinstance(der, bytes) or len(der) < 2 or der[0] != 0x30:
        _fail(where, "not a DER certificate")


@dataclass(frozen=True)
class CertificateChain:
    """``verificationMaterial.x509CertificateChain``: DER certificates, signing leaf first.

    model_signing puts the leaf and then the intermediates it was given; the trust anchor is
    normally absent and must come from the verifier's own configuration.
    """

    certificates: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.certificates, tuple) or not self.certificates:
            _fail("verificationMaterial.x509CertificateChain", "needs at least one certificate")
        for i, der in enumerate(self.certificates):
            _check_der_certificate(
                der, f"verificationMaterial.x509CertificateChain.certificates[{i}]"
            )

    @property
    def leaf(self) -> bytes:
        return self.certificates[0]


@dataclass(frozen=True)
class Certificate:
    """``verificationMaterial.certificate``: one leaf (Sigstore keyless bundles)."""

    raw_bytes: bytes

    def __post_init__(self) -> None:
        _check_der_certificate(self.raw_bytes, "verificationMaterial.certificate")


KeyMaterial = PublicKeyIdentifier | CertificateChain | Certificate


@dataclass(frozen=True)
class VerificationMaterial:
    """Exactly one kind of key material; transparency-log data is kept opaque.

    ``tlog_entries`` and ``timestamp_verification_data`` are preserved verbatim so a bundle
    round-trips, but nothing here interprets them: key and certificate bundles have none.
    """

    content: KeyMaterial
    tlog_entries: tuple[Any, ...] = ()
    timestamp_verification_data: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.content, PublicKeyIdentifier | CertificateChain | Certificate):
            _fail("verificationMaterial", "unsupported key material")
        if not isinstance(self.tlog_entries, tuple):
            _fail("verificationMaterial.tlogEntries", "must be a tuple")
        for i, entry in enumerate(self.tlog_entries):
            if not isinstance(entry, dict):
                _fail(f"verificationMaterial.tlogEntries[{i}]", "expected a JSON object")
        if self.timestamp_verification_data is not None and not isinstance(
            self.timestamp_verification_data, dict
        ):
            _fail("verificationMaterial.timestampVerificationData", "expected a JSON object")

    def to_json_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        content = self.content
        if isinstance(content, PublicKeyIdentifier):
            key: dict[str, Any] = {}
            if content.raw_bytes is not None:
                key["rawBytes"] = _b64encode(content.raw_bytes)
            if content.key_details is not None:
                key["keyDetails"] = content.key_details
            if content.hint is not None:
                key["hint"] = content.hint
            obj["publicKey"] = key
        elif isinstance(content, CertificateChain):
            obj["x509CertificateChain"] = {
                "certificates": [{"rawBytes": _b64encode(c)} for c in content.certificates]
            }
        else:
            obj["certificate"] = {"rawBytes": _b64encode(content.raw_bytes)}
        # model_signing 1.1 always writes tlogEntries and sigstore-models requires the key.
        obj["tlogEntries"] = list(self.tlog_entries)
        if self.timestamp_verification_data is not None:
            obj["timestampVerificationData"] = self.timestamp_verification_data
        return obj


@dataclass(frozen=True)
class Bundle:
    """A Sigstore bundle v0.3 holding a DSSE envelope (messageSignature is not supported)."""

    verification_material: VerificationMaterial
    envelope: Envelope
    media_type: str = BUNDLE_MEDIA_TYPE

    def __post_init__(self) -> None:
        if self.media_type != BUNDLE_MEDIA_TYPE:
            _fail("mediaType", f"expected {BUNDLE_MEDIA_TYPE!r}, got {self.media_type!r}")
        if not isinstance(self.verification_material, VerificationMaterial):
            _fail("verificationMaterial", "expected VerificationMaterial")
        if not isinstance(self.envelope, Envelope):
            _fail("dsseEnvelope", "expected Envelope")

    def statement(self) -> Statement:
        """The (unverified) statement inside the envelope."""
        return self.envelope.statement()

    def to_json_obj(self) -> dict[str, Any]:
        signatures = []
        for sig in self.envelope.signatures:
            entry: dict[str, Any] = {"sig": _b64encode(sig.sig)}
            if sig.keyid is not None:
                entry["keyid"] = sig.keyid
            signatures.append(entry)
        return {
            "mediaType": self.media_type,
            "verificationMaterial": self.verification_material.to_json_obj(),
            "dsseEnvelope": {
                "payload": _b64encode(self.envelope.payload),
                "payloadType": self.envelope.payload_type,
                "signatures": signatures,
            },
        }

    def to_json(self) -> bytes:
        """Compact JSON in model_signing 1.1's key order (byte-identical for its bundles)."""
        return json.dumps(self.to_json_obj(), separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )


def _parse_key_material(vm: dict) -> KeyMaterial:
    kinds = [k for k in ("publicKey", "x509CertificateChain", "certificate") if k in vm]
    if len(kinds) != 1:
        _fail(
            "verificationMaterial",
            "exactly one of publicKey, x509CertificateChain or certificate is required",
        )
    kind = kinds[0]
    where = f"verificationMaterial.{kind}"
    if kind == "publicKey":
        pk = _object(vm[kind], where, (), ("hint", "rawBytes", "keyDetails"))
        hint = pk.get("hint")
        if hint is not None:
            _string(hint, f"{where}.hint")
        details = pk.get("keyDetails")
        if details is not None:
            _string(details, f"{where}.keyDetails")
        raw = pk.get("rawBytes")
        return PublicKeyIdentifier(
            hint=hint,
            raw_bytes=None if raw is None else _b64decode(raw, f"{where}.rawBytes"),
            key_details=details,
        )
    if kind == "x509CertificateChain":
        chain = _object(vm[kind], where, ("certificates",))
        certs = []
        for i, item in enumerate(_list(chain["certificates"], f"{where}.certificates")):
            cwhere = f"{where}.certificates[{i}]"
            cert = _object(item, cwhere, ("rawBytes",))
            certs.append(_b64decode(cert["rawBytes"], f"{cwhere}.rawBytes"))
        return CertificateChain(tuple(certs))
    cert = _object(vm[kind], where, ("rawBytes",))
    return Certificate(_b64decode(cert["rawBytes"], f"{where}.rawBytes"))


def parse_bundle(data: bytes) -> Bundle:
    """Parse and validate a bundle, including the statement inside its envelope.

    Validation is structural only (media and payload types, base64, names, digests); the
    caller must still verify signatures, trust the key and compare the model's files.
    """
    obj = _object(
        _loads(data, "bundle"),
        "bundle",
        ("mediaType", "verificationMaterial"),
        ("dsseEnvelope", "messageSignature"),
    )
    media_type = _string(obj["mediaType"], "mediaType")
    if media_type != BUNDLE_MEDIA_TYPE:
        _fail("mediaType", f"expected {BUNDLE_MEDIA_TYPE!r}, got {media_type!r}")
    if "messageSignature" in obj:
        _fail("messageSignature", "only DSSE envelopes are supported for model signatures")
    if "dsseEnvelope" not in obj:
        _fail("bundle", "missing key 'dsseEnvelope'")

    vm = _object(
        obj["verificationMaterial"],
        "verificationMaterial",
        (),
        (
            "publicKey",
            "x509CertificateChain",
            "certificate",
            "tlogEntries",
            "timestampVerificationData",
        ),
    )
    content = _parse_key_material(vm)
    tlog = _list(vm.get("tlogEntries", []), "verificationMaterial.tlogEntries")
    tsv = vm.get("timestampVerificationData")
    material = VerificationMaterial(
        content=content, tlog_entries=tuple(tlog), timestamp_verification_data=tsv
    )

    env = _object(obj["dsseEnvelope"], "dsseEnvelope", ("payload", "payloadType", "signatures"))
    payload_type = _string(env["payloadType"], "dsseEnvelope.payloadType")
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        _fail(
            "dsseEnvelope.payloadType",
            f"expected {IN_TOTO_PAYLOAD_TYPE!r}, got {payload_type!r}",
        )
    payload = _b64decode(env["payload"], "dsseEnvelope.payload")
    signatures = []
    for i, item in enumerate(_list(env["signatures"], "dsseEnvelope.signatures")):
        where = f"dsseEnvelope.signatures[{i}]"
        sig = _object(item, where, ("sig",), ("keyid",))
        keyid = sig.get("keyid")
        if keyid is not None:
            _string(keyid, f"{where}.keyid")
        signatures.append(Signature(sig=_b64decode(sig["sig"], f"{where}.sig"), keyid=keyid))
    envelope = Envelope(payload=payload, signatures=tuple(signatures), payload_type=payload_type)
    bundle = Bundle(verification_material=material, envelope=envelope, media_type=media_type)
    bundle.statement()  # strict: a bundle whose statement is malformed is malformed
    return bundle
