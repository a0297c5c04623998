"""Migrating OMS signature bundles signed only classically: verify, then co-sign.

An OpenSSF model-signing bundle whose every DSSE signature is classical (ECDSA, as
model_signing makes them; also Ed25519 or RSA) can be forged by a quantum attacker.
Re-signing would need the classical private key and would change what existing verifiers
trust; co-signing does not: the DSSE envelope may carry several signatures over the same
payload, so pqml adds an ML-DSA (or any post-quantum) signature **after** the existing
ones. The payload, the classical signature and ``verificationMaterial`` stay byte for byte
what they were, so model_signing -- which checks only ``signatures[0]`` against the key the
hint names -- verifies the co-signed bundle exactly as before, and pqml verifies both.

Co-signing vouches for the signed statement, so the bundle is verified first against a
classical public key the user trusts (``--trust-key``): the signature over the payload,
then every file of the model against the manifest (:func:`pqml.signing.verify_model`). A
bundle that fails either is refused, unchanged. The new bundle is parsed back and each
of its signatures checked (the old ones with the trusted key, the new one with the
signing key's public key) before it replaces the old one atomically (same name, same
mode), as rekey replaces an encrypted file: the bundle's path is what verifiers look for.

Which bundles are post-quantum already is read from the signatures' lengths (a DSSE
signature does not name its algorithm): one of a post-quantum algorithm's size means
"nothing to do" (``pqml verify`` checks it). With trusted keys given, the verified
signatures say it exactly.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from pqml.keys.errors import MigrationError
from pqml.primitives.errors import PqmlError

KIND = "oms-bundle"


def looks_like_bundle(head: bytes) -> bool:
    """Cheap test on the first KiBs (a certificate chain can push ``dsseEnvelope`` past
    them; the media type comes first in every bundle writer we know)."""
    return head.lstrip()[:1] == b"{" and (
        b"dsseEnvelope" in head or b"application/vnd.dev.sigstore.bundle" in head)


def read(path: Path) -> Any:
    """The bundle at ``path`` (size-bounded, parsed, not verified), or None if the file is
    JSON but not a Sigstore bundle."""
    from pqml.formats import oms
    from pqml.signing.signing import read_bundle

    try:
        return read_bundle(path)
    except oms.BundleFormatError:
        return None


def _post_quantum_by_size(sig: bytes) -> str | None:
    """The post-quantum signature algorithm ``sig``'s length (or Falcon header) names."""
    from pqml.primitives import registry

    for alg in registry.all_algorithms("signature"):
        if not alg.quantum_vulnerable and alg.signature_size == len(sig):
            return alg.name
    if sig[:1] in (b"\x39", b"\x3a") and 600 <= len(sig) <= 1462:
        return "Falcon-512" if sig[:1] == b"\x39" else "Falcon-1024"
    return None


def model_for(path: Path, bundle: Any) -> Path:
    """The model a bundle signs: ``X`` for ``X.sig`` (pqml's single-file name), the file
    named by the subject beside the bundle (model_signing's ``model.sig`` beside a single
    file), else the bundle's directory (``MODEL/model.sig``)."""
    name = bundle.statement().subject_name
    if path.name.endswith(".sig") and path.name != "model.sig":
        single = path.with_name(path.name[:-4])
        if single.exists():
            return single
    beside = path.parent / name
    if name not in ("", ".", "..") and "/" not in name and beside.exists():
        return beside
    return path.parent


def _algorithms(bundle: Any) -> list[str | None]:
    return [_post_quantum_by_size(s.sig) for s in bundle.envelope.signatures]


def _trust(request: Any) -> Any:
    from pqml.signing.signing import build_trust

    return build_trust(request.trusted_keys, request.certificate_chain)


def survey(path: Path, bundle: Any, request: Any) -> dict[str, Any]:
    """The report's fields for one bundle; with trusted keys, its signatures are checked
    (not the model's files: that is done when applying)."""
    from pqml.signing.signing import check_signatures

    sigs = bundle.envelope.signatures
    pq = [a for a in _algorithms(bundle) if a]
    out: dict[str, Any] = {"kind": KIND, "quantum_vulnerable": not pq}
    checks = []
    if request.has_trust:
        try:
            checks, _ = check_signatures(bundle, _trust(request))
        except PqmlError as exc:
            out.update(now=f"{len(sigs)} signature(s)", status="refused", action="none",
                       reason=str(exc))
            return out
    verified = [c for c in checks if c.status == "verified"]
    if verified:
        names = [c.algorithm or "?" for c in verified]
        pq = pq or [c.algorithm for c in verified if c.quantum_vulnerable is False]
        others = len(sigs) - len(verified)
        now = ", ".join(f"{n} (quantum-vulnerable)" if c.quantum_vulnerable else n
                        for n, c in zip(names, verified, strict=True))
        now += f" verified by a trusted key{f', {others} other' if others else ''}"
    else:
        now = f"{len(sigs)} classical signature(s)" if not pq else \
            f"{len(sigs)} signature(s), {', '.join(pq)} among them"
    out["now"] = now
    out["quantum_vulnerable"] = not pq
    if pq:
        out.update(status="nothing to do", action="none",
                   reason=f"already has a post-quantum signature ({pq[0]})")
        return out
    sign_alg = request.sign_algorithm()
    out["becomes"] = (f"the same signature(s) + {sign_alg or 'ML-DSA-65'} in the same "
                      "envelope (model_signing still checks the first)")
    out["action"] = (f"verify against the trusted key (signature and every file of "
                     f"{model_for(path, bundle)}), then co-sign")
    if not request.has_trust:
        out.update(status="needs", reason="give the trusted classical public key with "
                                          "--trust-key (or --certificate-chain)")
        return out
    if not verified or checks[0].status != "verified":
        failed = [c for c in checks if c.status == "failed"]
        out.update(status="refused", reason="the classical signature does not verify with "
                   "the trusted key" if failed else "no signature is by a trusted key")
        return out
    if sign_alg is None:
        out.update(status="needs", reason="give a post-quantum signing key with --sign-key")
        return out
    out["status"] = "ready"
    return out


def apply(path: Path, bundle: Any, request: Any, expected: str) -> dict[str, Any]:
    """Verify the model against the bundle, co-sign, check the result, replace the bundle
    (the file a symlink names, still of fingerprint ``expected``, under an exclusive
    lock: two migrations of one bundle cannot both add a signature)."""
    from pqml.keys.migration_journal import fingerprint

    target = Path(os.path.realpath(path))
    with open(target, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        if fingerprint(target) != expected:
            raise MigrationError(f"{path}: the bundle changed since it was checked; it was "
                                 "not co-signed: run again")
        return _cosign(path, target, bundle, request)


def _cosign(path: Path, target: Path, bundle: Any, request: Any) -> dict[str, Any]:
    from pqml._internal.output_file import write_atomic
    from pqml.formats import oms
    from pqml.signing import policy
    from pqml.signing.signing import check_signatures, verify_model

    model = model_for(path, bundle)
    verify_model(model, request.trusted_keys, certificate_chain=request.certificate_chain,
                 signature=path)
    key = request.signing_key()
    pae = bundle.envelope.pae()
    hint = policy.key_hint(key.public_key())
    new_sig = oms.Signature(key.sign(pae), keyid=hint)
    envelope = oms.Envelope(bundle.envelope.payload, (*bundle.envelope.signatures, new_sig))
    new = oms.Bundle(bundle.verification_material, envelope)
    data = new.to_json()
    reparsed = oms.parse_bundle(data)
    if reparsed.envelope.payload != bundle.envelope.payload:
        raise MigrationError(f"{path}: the co-signed bundle's payload differs")  # pragma: no cover
    from pqml.signing.signing import build_trust

    checks, _ = check_signatures(reparsed, build_trust([*request.trusted_keys,
                                                        key.public_key()],
                                                       request.certificate_chain))
    if [c.status for c in checks] != ["verified"] * len(checks):
        raise MigrationError(f"{path}: the co-signed bundle does not verify; it was not "
                             "written")
    mode = os.stat(target).st_mode & 0o7777
    write_atomic(target, data, mode=mode, overwrite=True)
    return {"model": str(model), "signatures": len(checks), "algorithm": key.algorithm,
            "key_id": hint}

