"""How a verified loader verifies: one options object shared by every loader.

pqml's verified loaders (:func:`pqml.load`, :func:`pqml.joblib.load`,
:func:`pqml.torch.load`, :func:`pqml.safetensors.safe_open`, the encrypted loaders of
:mod:`pqml.encryption.encrypted_io`, and the cores in :mod:`pqml.signing.verified_load`)
all check a model the same way, so they all take the same two arguments:

* ``trusted``: the keys to trust (one key, or several);
* ``verify=VerifyOptions(...)``: everything else about *how* to verify: where the bundle
  is (``signature``, ``model_root``), what else to trust (``certificate_chain``,
  ``policy``), what to demand (``require_pq``) and whether signed symlinks may be followed
  (``allow_symlinks``).

Why one object rather than the same six keywords on every loader: a setting is added,
documented and validated once, and every loader gets it; a wrong value fails when the
options are built, before any file is opened; one object can be built once and passed to
every load of a model; and a verification setting cannot slip into the ``**kwargs`` a
loader hands to its deserializer (the loaders refuse the six names there, see
:func:`reject_verify_keywords`). Skipping verification is deliberately *not* an option:
it stays the explicit ``allow_unverified=True`` keyword of the loaders that offer it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pqml.primitives.errors import PqmlError
from pqml.signing.policy import TrustPolicy

__all__ = ["VerifyOptions", "as_options", "reject_verify_keywords"]

PathArg = str | os.PathLike[str]


def _path(name: str, value: object) -> Path:
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str):
            if not text:
                raise PqmlError(f"VerifyOptions: {name} is an empty path")
            return Path(text)
    raise TypeError(f"VerifyOptions: {name} must be a path (str or os.PathLike), "
                    f"not {type(value).__name__}")


def _optional_path(name: str, value: object) -> Path | None:
    return None if value is None else _path(name, value)


def _paths(name: str, value: object) -> tuple[Path, ...]:
    """One path or an iterable of them, as a tuple (a single path is a one-file list)."""
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike)):
        return (_path(name, value),)
    if isinstance(value, (bytes, bytearray, memoryview, Mapping)) or \
            not isinstance(value, Iterable):
        raise TypeError(f"VerifyOptions: {name} must be a path or an iterable of "
                        f"paths, not {type(value).__name__}")
    return tuple(_path(f"{name}[{i}]", item) for i, item in enumerate(value))


def _policy(value: object) -> TrustPolicy | Path | None:
    if value is None or isinstance(value, TrustPolicy):
        return value
    if isinstance(value, (str, os.PathLike)):
        return _path("policy", value)
    raise TypeError("VerifyOptions: policy must be a TrustPolicy or the path of a policy "
                    f"file, not {type(value).__name__}")


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"VerifyOptions: {name} must be True or False, "
                        f"not {type(value).__name__}")
    return value


@dataclass(frozen=True, init=False)
class VerifyOptions:
    """How to verify a model before loading it (the keys go in ``trusted``, separately).

    All arguments are keyword-only and checked here, so a wrong type raises TypeError (an
    empty path PqmlError) before any loader runs; paths are stored as :class:`~pathlib.
    Path` and ``certificate_chain`` as a tuple of them (a single path is a one-file chain).
    """

    signature: Path | None
    """The OMS bundle; default: ``x.sig`` beside the file, else the nearest ``model.sig``."""
    model_root: Path | None
    """The signed model's root directory; default: found from the file and its bundle."""
    certificate_chain: tuple[Path, ...]
    """Trust anchors (PEM files) for bundles signed with certificates."""
    policy: TrustPolicy | Path | None
    """A trust policy, or the path of a JSON/TOML policy file; it adds to ``trusted``."""
    require_pq: bool
    """Fail unless a post-quantum signature from a trusted key verified."""
    allow_symlinks: bool
    """Follow a signed symlink inside the model (refused by default)."""
    crls: tuple[Path, ...]
    """CRLs (PEM or DER) of the CAs in a certificate chain: a signing certificate they
    revoke fails the verification, as ``pqml verify --crl`` does."""

    def __init__(
        self,
        *,
        signature: PathArg | None = None,
        model_root: PathArg | None = None,
        certificate_chain: Iterable[PathArg] | PathArg | None = (),
        policy: TrustPolicy | PathArg | None = None,
        require_pq: bool = False,
        allow_symlinks: bool = False,
        crls: Iterable[PathArg] | PathArg | None = (),
    ) -> None:
        put = object.__setattr__
        put(self, "signature", _optional_path("signature", signature))
        put(self, "model_root", _optional_path("model_root", model_root))
        put(self, "certificate_chain", _paths("certificate_chain", certificate_chain))
        put(self, "policy", _policy(policy))
        put(self, "require_pq", _flag("require_pq", require_pq))
        put(self, "allow_symlinks", _flag("allow_symlinks", allow_symlinks))
        put(self, "crls", _paths("crls", crls))

    @property
    def adds_trust(self) -> bool:
        """True if these options trust something themselves (a policy or a certificate
        chain), so a load needs no ``trusted`` keys."""
        return self.policy is not None or bool(self.certificate_chain)


FIELD_NAMES = frozenset(f.name for f in fields(VerifyOptions))


def as_options(verify: VerifyOptions | None) -> VerifyOptions:
    """``verify`` itself, or the defaults for None; TypeError for anything else."""
    if verify is None:
        return VerifyOptions()
    if not isinstance(verify, VerifyOptions):
        raise TypeError("verify= must be a pqml.VerifyOptions (or None), "
                        f"not {type(verify).__name__}")
    return verify


def reject_verify_keywords(kwargs: Mapping[str, Any]) -> None:
    """TypeError if a loader's pass-through ``kwargs`` name a verification setting: it
    belongs in ``verify=VerifyOptions(...)``, and a deserializer (or a custom ``loader``
    taking ``**kwargs``) must never silently swallow, say, ``require_pq``."""
    misplaced = sorted(FIELD_NAMES.intersection(kwargs))
    if misplaced:
        given = ", ".join(f"{name}=" for name in misplaced)
        raise TypeError(f"{given} is a verification setting: pass "
                        f"verify=pqml.VerifyOptions({misplaced[0]}=...)")
