"""A small post-quantum certificate authority for model signing (``pqml ca``).

Release pipelines sign with short-lived keys under a long-lived root, so a leaked signing
key expires (or is revoked) without re-distributing trust. This CA issues exactly what
that needs, as X.509 v3 (RFC 5280) with the standard OIDs:

* the **root**: SLH-DSA-SHA2-128s by default (FIPS 205, hash-based: its security rests on
  SHA-256 alone, the conservative choice for a key that must stay trustworthy for decades).
  Its signature rides in every bundle's chain, and certificates are issued rarely, so the
  small "s" set wins (bench/ca.py: a leaf under it is 10,082 bytes and takes 0.5 s to issue;
  -128f 19,314 bytes / 35 ms; -192s 18,450 bytes / 1.2 s; chain checks ~1 ms for all);
  ML-DSA-87 under ``profile='cnsa2'``;
* **signing certificates**: digitalSignature, the code-signing EKU (1.3.6.1.5.5.7.3.3),
  30 days by default, for ML-DSA, composite ML-DSA (or ECDSA / Ed25519, flagged
  quantum-vulnerable, for model_signing interop);
* **intermediate CAs** (keyCertSign, cRLSign, a path length), each a CA directory of its
  own (:meth:`CertificateAuthority.init` with ``parent``);
* **revocation** (:meth:`revoke`) published as a signed CRL (:meth:`crl`).

Certificates are assembled by :mod:`pqml.formats.x509` and signed by the CA key through
the registry, so SLH-DSA and composite keys sign exactly as ML-DSA ones do.

A CA directory holds ``ca.key.pem`` (0600, optionally passphrase-protected),
``ca.cert.pem``, ``chain.pem`` (this CA's certificate, then its issuers up to the root),
``ca.json`` (next serial, CRL number, every issued certificate and its revocation) and
``issued/SERIAL.pem``. Every write is atomic; changes hold an exclusive lock on
``.lock``, so two ``pqml ca`` runs never hand out one serial twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pqml.keys.errors import CertificateAuthorityError
from pqml.primitives.base import PrivateKey, PublicKey, SigningKey
from pqml.primitives.errors import KeyFormatError, PolicyError

ROOT_ALGORITHM = "SLH-DSA-SHA2-128s"
CNSA2_ALGORITHM = "ML-DSA-87"
LEAF_ALGORITHM = "ML-DSA-65"
ROOT_DAYS = 20 * 365
INTERMEDIATE_DAYS = 3 * 365
LEAF_DAYS = 30
CRL_DAYS = 7

KEY_FILE, CERT_FILE, CHAIN_FILE = "ca.key.pem", "ca.cert.pem", "chain.pem"
STATE_FILE, LOCK_FILE, ISSUED_DIR, CRL_FILE = "ca.json", ".lock", "issued", "crl.pem"
STATE_VERSION = 1
MAX_STATE_SIZE = 64 << 20

# RFC 5280 §5.3.1 CRLReason codes, by the names the CLI accepts.
REASONS = {
    "unspecified": 0, "key-compromise": 1, "ca-compromise": 2, "affiliation-changed": 3,
    "superseded": 4, "cessation-of-operation": 5, "privilege-withdrawn": 9,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_identifier(spki: bytes) -> bytes:
    """RFC 7093 §2 method 1: the leftmost 160 bits of SHA-256 of the subjectPublicKey."""
    from pqml.formats import x509 as x509f

    return hashlib.sha256(x509f.spki_parts(spki)[1]).digest()[:20]


def pem(der_bytes: bytes) -> bytes:
    from pqml.formats import keyfile

    return keyfile.pem_encode("CERTIFICATE", der_bytes)


@dataclass(frozen=True)
class IssuedCertificate:
    serial: int
    subject: str
    der: bytes
    not_before: dt.datetime
    not_after: dt.datetime
    algorithm: str
    ca: bool

    @property
    def pem(self) -> bytes:
        return pem(self.der)

    def as_dict(self) -> dict[str, Any]:
        from pqml.primitives import registry

        return {"serial": self.serial, "serial_hex": f"{self.serial:#x}",
                "subject": self.subject, "not_before": _iso(self.not_before),
                "not_after": _iso(self.not_after), "algorithm": self.algorithm,
                "quantum_vulnerable": registry.get(self.algorithm).quantum_vulnerable,
                "kind": "intermediate" if self.ca else "signing", "bytes": len(self.der)}


@dataclass(frozen=True)
class Revocation:
    serial: int
    subject: str
    revoked_at: dt.datetime
    reason: str


def _build(signer: SigningKey, issuer_name: bytes, issuer_key_id: bytes, *, serial: int,
           subject: bytes, spki: bytes, not_before: dt.datetime, not_after: dt.datetime,
           ca: bool, path_length: int | None, san: Sequence[str]) -> bytes:
    """One certificate: the TBS encoded, then signed by ``signer`` through its scheme."""
    from pqml.formats import x509 as x509f
    from pqml.primitives import x509

    parts = [x509.basic_constraints(ca, path_length), x509.key_usage(ca=ca)]
    exts = [x509f.Extension(oid, value, critical=True) for oid, value in parts]
    if not ca:
        exts.append(x509f.Extension(*x509.code_signing_eku()))
    exts.append(x509f.Extension(*x509.subject_key_identifier(key_identifier(spki))))
    exts.append(x509f.Extension(*x509.authority_key_identifier(issuer_key_id)))
    if san:
        exts.append(x509f.Extension(*x509.subject_alt_names(san)))
    oid = x509f.signature_oid(signer.algorithm)
    tbs = x509f.TBSCertificate(serial, oid, issuer_name, not_before, not_after, subject, spki,
                               tuple(exts)).encode()
    return x509f.signed(tbs, oid, signer.sign(tbs))


def _signing_algorithm(key: PublicKey | PrivateKey, *, ca: bool) -> str:
    from pqml.formats import x509 as x509f

    try:
        x509f.signature_oid(key.algorithm)
    except ValueError as exc:
        role = "a CA" if ca else "a signing certificate"
        raise CertificateAuthorityError(f"{key.algorithm} key cannot be {role}: {exc}") \
            from None
    return key.algorithm


class CertificateAuthority:
    """An opened CA directory: its key, its certificate and its chain."""

    def __init__(self, path: Path, key: SigningKey, der: bytes, chain: tuple[bytes, ...]):
        from pqml.primitives import x509

        self.path = path
        self.key = key
        self.der = der
        self.chain = chain  # this CA's certificate first, then its issuers
        self.facts = x509.parse_certificate(der)

    # ---- creating and opening -------------------------------------------------------------

    @classmethod
    def init(cls, path: str | os.PathLike[str], *, subject: str = "CN=pqml model-signing root",
             algorithm: str | None = None, profile: str = "default", days: int | None = None,
             parent: CertificateAuthority | None = None, path_length: int | None = None,
             passphrase: bytes | None = None, now: dt.datetime | None = None
             ) -> CertificateAuthority:
        """Create a CA directory at ``path`` (which must not exist or be empty): a root
        (self-signed) or, with ``parent``, an intermediate that ``parent`` certifies.
        The directory appears whole or not at all."""
        from pqml._internal.output_file import atomic_tree
        from pqml.formats import keyfile
        from pqml.keys import key_files

        name = cls._name(subject)
        default = CNSA2_ALGORITHM if profile.lower() == "cnsa2" else (
            ROOT_ALGORITHM if parent is None else LEAF_ALGORITHM)
        key = key_files.generate(algorithm or default, profile, allow_classical=True)
        assert isinstance(key, SigningKey)
        _signing_algorithm(key, ca=True)
        spki = keyfile.public_key_to_der(key.public_key())
        start = (now or _now()).replace(microsecond=0)
        if parent is None:
            lifetime = dt.timedelta(days=days or ROOT_DAYS)
            der = _build(key, name, key_identifier(spki), serial=1, subject=name, spki=spki,
                         not_before=start, not_after=start + lifetime, ca=True,
                         path_length=path_length, san=())
            chain: tuple[bytes, ...] = (der,)
        else:
            issued = parent.issue(key.public_key(), subject=subject, intermediate=True,
                                  days=days or INTERMEDIATE_DAYS, path_length=path_length,
                                  now=start)
            chain = (issued.der, *parent.chain)
            der = issued.der
        state = {"version": STATE_VERSION, "next_serial": 2 if parent is None else 1,
                 "crl_number": 0, "certificates": []}
        with atomic_tree(path) as tree:
            with tree.file(KEY_FILE, mode=0o600) as out:
                out.write(keyfile.private_key_to_pem(key, passphrase))
            with tree.file(CERT_FILE, mode=0o644) as out:
                out.write(pem(der))
            with tree.file(CHAIN_FILE, mode=0o644) as out:
                out.write(b"".join(pem(c) for c in chain))
            with tree.file(STATE_FILE, mode=0o600) as out:
                out.write(json.dumps(state, indent=2).encode() + b"\n")
            with tree.file(LOCK_FILE, mode=0o600):
                pass
        return cls(Path(path), key, der, chain)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, passphrase: bytes | None = None
             ) -> CertificateAuthority:
        """Open a CA directory made by :meth:`init`; the key must match the certificate."""
        from pqml.formats import keyfile
        from pqml.formats import x509 as x509f
        from pqml.primitives import x509

        root = Path(path)
        if not (root / STATE_FILE).is_file() or not (root / KEY_FILE).is_file():
            raise CertificateAuthorityError(f"{root}: not a pqml CA directory (run pqml ca "
                                            "init first)")
        try:
            key = keyfile.load_private_key((root / KEY_FILE).read_bytes(), passphrase)
            chain = tuple(x509.load_pem_der((root / CHAIN_FILE).read_bytes(), "CERTIFICATE"))
            der = x509.load_pem_der((root / CERT_FILE).read_bytes(), "CERTIFICATE")[0]
            spki = x509f.subject_public_key_info(x509f.split_signed(der).tbs)
        except (KeyFormatError, OSError) as exc:
            raise CertificateAuthorityError(f"{root}: cannot open the CA: {exc}") from None
        if not isinstance(key, SigningKey) or keyfile.public_key_to_der(key.public_key()) != spki:
            raise CertificateAuthorityError(f"{root / KEY_FILE}: does not match "
                                            f"{root / CERT_FILE}")
        if not chain or chain[0] != der:
            raise CertificateAuthorityError(f"{root / CHAIN_FILE}: does not start with "
                                            f"{CERT_FILE}")
        return cls(root, key, der, chain)

    @staticmethod
    def _name(subject: str) -> bytes:
        from pqml.primitives import x509

        try:
            return x509.encode_name(subject)
        except ValueError as exc:
            raise CertificateAuthorityError(str(exc)) from None

    # ---- state ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked_state(self) -> Iterator[dict[str, Any]]:
        """The state, under the directory's exclusive lock; written back atomically if the
        block completes."""
        from pqml._internal.output_file import write_atomic

        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = self._read_state()
            yield state
            write_atomic(self.path / STATE_FILE,
                         json.dumps(state, indent=2).encode() + b"\n", mode=0o600)
        finally:
            os.close(fd)

    def _read_state(self) -> dict[str, Any]:
        where = self.path / STATE_FILE
        try:
            with open(where, "rb") as f:
                state = json.loads(f.read(MAX_STATE_SIZE + 1))
        except (OSError, ValueError) as exc:
            raise CertificateAuthorityError(f"{where}: unreadable CA state: {exc}") from None
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION or \
                not isinstance(state.get("next_serial"), int) or \
                not isinstance(state.get("certificates"), list):
            raise CertificateAuthorityError(f"{where}: not a pqml CA state file "
                                            f"(version {STATE_VERSION})")
        return state

    def certificates(self) -> list[dict[str, Any]]:
        """Every certificate this CA issued, as recorded (revocations included)."""
        return list(self._read_state()["certificates"])

    # ---- issuing --------------------------------------------------------------------------

    def issue(self, public_key: PublicKey, *, subject: str, san: Sequence[str] = (),
              days: float = LEAF_DAYS, intermediate: bool = False,
              path_length: int | None = None, now: dt.datetime | None = None,
              not_before: dt.datetime | None = None) -> IssuedCertificate:
        """Certify ``public_key``: a code-signing certificate valid for ``days`` or, with
        ``intermediate``, a CA certificate (``path_length`` 0 by default: it may issue
        signing certificates only). Its validity must end before this CA's own."""
        from pqml.formats import keyfile

        if isinstance(public_key, PrivateKey):
            public_key = public_key.public_key()
        algorithm = _signing_algorithm(public_key, ca=intermediate)
        if days <= 0:
            raise CertificateAuthorityError(f"validity must be positive, got {days} days")
        if self.facts.path_length is not None and intermediate and self.facts.path_length < 1:
            raise CertificateAuthorityError(
                f"{self.path}: this CA's path length is {self.facts.path_length}: it may "
                "not issue intermediate CAs")
        if path_length is None and intermediate:
            path_length = 0
        if path_length is not None and (path_length < 0 or not intermediate):
            raise CertificateAuthorityError("a path length applies to intermediates only "
                                            "and must not be negative")
        name = self._name(subject)
        start = (not_before or now or _now()).replace(microsecond=0)
        end = start + dt.timedelta(days=days)
        if end > self.facts.not_after:
            raise CertificateAuthorityError(
                f"{subject}: validity until {_iso(end)} outlasts the CA certificate "
                f"{self.facts.label}, valid until {_iso(self.facts.not_after)}")
        if start < self.facts.not_before:
            raise CertificateAuthorityError(f"{subject}: validity starts before the CA's")
        try:
            spki = keyfile.public_key_to_der(public_key)
        except KeyFormatError as exc:
            raise CertificateAuthorityError(f"{subject}: {exc}") from None
        ca_key_id = self.facts.subject_key_id or key_identifier(self._spki())
        with self._locked_state() as state:
            serial = state["next_serial"]
            try:
                der = _build(self.key, self.facts.subject_der, ca_key_id, serial=serial,
                             subject=name, spki=spki, not_before=start, not_after=end,
                             ca=intermediate, path_length=path_length, san=san)
            except ValueError as exc:
                raise CertificateAuthorityError(f"{subject}: {exc}") from None
            self._save_issued(serial, der)
            state["next_serial"] = serial + 1
            state["certificates"].append({
                "serial": serial, "subject": subject, "algorithm": algorithm,
                "kind": "intermediate" if intermediate else "signing",
                "not_before": _iso(start), "not_after": _iso(end),
                "revoked_at": None, "reason": None,
            })
        return IssuedCertificate(serial, subject, der, start, end, algorithm, intermediate)

    def _spki(self) -> bytes:
        from pqml.formats import x509 as x509f

        return x509f.subject_public_key_info(x509f.split_signed(self.der).tbs)

    def _save_issued(self, serial: int, der: bytes) -> None:
        from pqml._internal.output_file import write_atomic

        folder = self.path / ISSUED_DIR
        folder.mkdir(mode=0o755, exist_ok=True)
        write_atomic(folder / f"{serial}.pem", pem(der), mode=0o644, overwrite=False)

    # ---- revoking -------------------------------------------------------------------------

    def revoke(self, serial: int, *, reason: str = "unspecified",
               now: dt.datetime | None = None) -> Revocation:
        """Mark ``serial`` revoked; the next :meth:`crl` lists it."""
        if reason not in REASONS:
            raise PolicyError(f"unknown revocation reason {reason!r} (reasons: "
                              f"{', '.join(REASONS)})")
        when = (now or _now()).replace(microsecond=0)
        with self._locked_state() as state:
            entry = next((c for c in state["certificates"] if c.get("serial") == serial),
                         None)
            if entry is None:
                raise CertificateAuthorityError(f"{self.path}: no certificate with serial "
                                                f"{serial} ({serial:#x}) was issued here")
            if entry.get("revoked_at"):
                raise CertificateAuthorityError(
                    f"certificate {entry['subject']} (serial {serial:#x}) is already "
                    f"revoked since {entry['revoked_at']}")
            entry["revoked_at"], entry["reason"] = _iso(when), reason
        return Revocation(serial, entry["subject"], when, reason)

    def crl(self, *, days: float = CRL_DAYS, now: dt.datetime | None = None) -> bytes:
        """A new signed CRL (DER) listing every revoked certificate, valid ``days``."""
        from pqml.formats import x509 as x509f

        start = (now or _now()).replace(microsecond=0)
        with self._locked_state() as state:
            number = int(state.get("crl_number", 0)) + 1
            revoked = tuple(
                x509f.RevokedEntry(c["serial"], _parse_iso(c["revoked_at"]),
                                   REASONS[c["reason"]] if c["reason"] != "unspecified"
                                   else None)
                for c in state["certificates"] if c.get("revoked_at"))
            oid = x509f.signature_oid(self.key.algorithm)
            tbs = x509f.TBSCertList(
                oid, self.facts.subject_der, start, start + dt.timedelta(days=days), revoked,
                number, self.facts.subject_key_id or key_identifier(self._spki()),
            ).encode()
            der = x509f.signed(tbs, oid, self.key.sign(tbs))
            state["crl_number"] = number
        return der


def _parse_iso(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def crl_pem(der_bytes: bytes) -> bytes:
    from pqml.formats import keyfile

    return keyfile.pem_encode("X509 CRL", der_bytes)
