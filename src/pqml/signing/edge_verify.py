"""Verify a model on a small device: the signature check and nothing else in memory.

An edge device that receives models over the air verifies them with little memory, one
slow core and a cold start each time. This module is that path: the same verification as
``pqml verify`` (:func:`pqml.signing.signing.verify_model`: signatures against the trusted
keys first, then every file, unsigned files and symlinks refused), reached without click,
rich, CycloneDX, the scanner, numpy or torch. Those are never imported here, and the
modules it uses load only the backend of the key's own algorithm (pypqc for Falcon,
pqcrypto for SLH-DSA, cryptography for ML-DSA and classical keys).

Memory stays bounded whatever the model's size: files are hashed through one reused
1 MiB buffer on one thread (``workers=1``: no thread pool, no per-thread buffers), and
the bundle is read with the same size cap as everywhere else. Measured peak RSS, start-up
and verify time on one core under a 64 MiB address-space limit: ``bench/edge.py``.

Run it as ``python -m pqml.signing.edge_verify MODEL -k KEY [--signature BUNDLE]``; it
prints one line (or JSON) and exits 0 when the model verified, 1 when it did not, 2 on a
wrong command line, errors as ``pqml-edge: error: …``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pqml.primitives.errors import PqmlError
from pqml.signing import signing
from pqml.signing.policy import KeySource, TrustedKey

PROGRAM = "pqml-edge"
MODULES_NEVER_LOADED = ("rich", "click", "cyclonedx", "pqml.scan.", "pqml.cli", "numpy",
                        "torch")
"""Prefixes of modules the edge path must not import (tests/signing/test_edge_verify.py)."""


@dataclass(frozen=True)
class EdgeReport:
    """What an edge verification established, small enough to log on the device."""

    model: Path
    signature: Path
    name: str | None  # the bundle's subject name: the signed directory's name
    root_digest: str | None
    algorithms: tuple[str, ...]
    files: int
    bytes: int
    seconds: float
    warnings: tuple[str, ...] = ()

    def line(self) -> str:
        algs = ", ".join(self.algorithms)
        return (f"verified {self.model}: model {self.name!r}, {self.files} files, "
                f"{self.bytes} bytes, {algs}, {self.root_digest} ({self.seconds:.3f} s)")

    def as_dict(self) -> dict[str, Any]:
        return {
            "verified": True,
            "model": str(self.model),
            "signature": str(self.signature),
            "name": self.name,
            "root_digest": self.root_digest,
            "algorithms": list(self.algorithms),
            "files": self.files,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "warnings": list(self.warnings),
        }


def verify_model(
    model_dir: str | os.PathLike[str],
    bundle: str | os.PathLike[str] | None,
    trusted_keys: Iterable[KeySource | TrustedKey],
    *,
    expect_name: str | None = None,
    expect_digest: str | None = None,
    require_pq: bool = False,
    workers: int = 1,
    certificate_chain: Iterable[str | os.PathLike[str]] = (),
    crls: Iterable[str | os.PathLike[str]] = (),
) -> EdgeReport:
    """Verify ``model_dir`` against ``bundle`` (default: its ``model.sig``) and the
    ``trusted_keys``; raise a VerificationError (or another PqmlError) on any failure.

    Strict, as a device that loads what it verified must be: every file must be signed and
    match, no symlink is followed, and ``expect_name`` / ``expect_digest`` pin the model
    and version the bundle must sign (an update for another model is refused before a
    byte of the files is read). ``workers`` 1 hashes on the calling thread only.
    ``certificate_chain`` and ``crls`` trust certificate bundles as ``pqml verify`` does.
    """
    start = time.perf_counter()
    result = signing.verify_model(
        model_dir, list(trusted_keys), signature=bundle, workers=workers,
        expect_name=expect_name, expect_digest=expect_digest, require_pq=require_pq,
        certificate_chain=tuple(certificate_chain), crls=tuple(crls),
    )
    return EdgeReport(
        model=result.model,
        signature=result.signature,
        name=_subject_name(result.signature),
        root_digest=result.root_digest,
        algorithms=tuple(c.algorithm or "?" for c in result.signatures
                         if c.status == "verified"),
        files=len(result.verified_files),
        bytes=sum(f.size or 0 for f in result.files if f.status == "ok"),
        seconds=time.perf_counter() - start,
        warnings=result.warnings,
    )


def _subject_name(bundle: Path) -> str | None:
    """The subject name of a bundle just verified (parsed again: it is small and cached
    by the OS; the verification result does not carry it)."""
    try:
        return signing.read_bundle(bundle).statement().subject_name
    except PqmlError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """``pqml-edge MODEL -k KEY …``: argparse, not click, to keep the import set small."""
    import argparse

    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Verify a signed model with only what verification needs.")
    parser.add_argument("model", help="model directory (or single file)")
    parser.add_argument("-k", "--key", dest="keys", action="append", required=True,
                        metavar="PUBKEY", help="trusted public key file (repeatable)")
    parser.add_argument("--signature", metavar="BUNDLE",
                        help="OMS bundle (default: MODEL/model.sig)")
    parser.add_argument("--expect-name", metavar="NAME", help="model name the bundle must sign")
    parser.add_argument("--expect-digest", metavar="DIGEST",
                        help="root digest the model must have")
    parser.add_argument("--require-pq", action="store_true",
                        help="a post-quantum signature must verify")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        report = verify_model(args.model, args.signature, args.keys,
                              expect_name=args.expect_name, expect_digest=args.expect_digest,
                              require_pq=args.require_pq)
    except PqmlError as exc:
        print(f"{PROGRAM}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        import json

        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.line())
    for warning in report.warnings:
        print(f"{PROGRAM}: warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
