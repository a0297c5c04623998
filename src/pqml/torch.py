"""torch with verify-before-load: ``pqml.torch.load(path, trusted=[...])``.

``load`` checks the checkpoint against its model's OMS signature (see
:mod:`pqml.signing.verified_load`), then calls ``torch.load`` on the exact bytes it
verified, with ``weights_only=True`` unless the caller asks otherwise: even a verified
checkpoint is unpickled with torch's restricted unpickler by default. ``save`` writes
through a temporary file and a rename.

With ``recipients=`` / ``identities=`` the checkpoint is encrypted (pqml/v1 or age); torch
reads it through a seekable decrypting view, and an encrypted load also needs
``trusted_source='…'`` naming who you trust it from.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import Any

from pqml.signing.verified_load import Trusted, read_verified
from pqml.signing.verify_options import VerifyOptions, reject_verify_keywords

__all__ = ["load", "save"]


def load(
    path: str | os.PathLike[str],
    trusted: Trusted = None,
    *,
    weights_only: bool = True,
    map_location: Any = None,
    verify: VerifyOptions | None = None,
    allow_unverified: bool = False,
    identities: Any = None,
    trusted_source: str | None = None,
    **kwargs: Any,
) -> Any:
    """``torch.load`` of ``path`` after verifying it; other ``kwargs`` go to torch.load.

    ``trusted`` are the keys to trust; ``verify`` (a :class:`~pqml.VerifyOptions`) says
    how. ``allow_unverified=True`` is the explicit opt-out (UnverifiedLoadWarning); even
    then ``weights_only`` stays True unless set to False. ``identities=`` decrypts first
    (with ``trusted=`` or ``verify=``: verified against the signature before torch sees a
    byte).
    """
    reject_verify_keywords(kwargs)
    if identities is not None:
        from pqml.encryption.encrypted_io import load_torch

        return load_torch(
            path, identities, trusted_source=trusted_source, trusted=trusted, verify=verify,
            weights_only=weights_only, map_location=map_location, **kwargs,
        )
    import torch

    data = read_verified(path, trusted, verify=verify, allow_unverified=allow_unverified)
    return torch.load(io.BytesIO(data), map_location=map_location, weights_only=weights_only,
                      **kwargs)


def save(
    obj: Any,
    path: str | os.PathLike[str],
    *,
    recipients: Iterable[Any] | None = None,
    format: str = "pqml",
    allow_classical: bool = False,
    **kwargs: Any,
) -> None:
    """``torch.save`` to ``path`` atomically (temporary file beside it, then rename);
    with ``recipients=`` encrypted to them."""
    if recipients is not None:
        from pqml.encryption.encrypted_io import save_torch

        save_torch(obj, path, recipients, format=format, allow_classical=allow_classical,
                   **kwargs)
        return
    import torch

    from pqml._internal.output_file import atomic_path

    with atomic_path(path) as tmp:
        torch.save(obj, tmp, **kwargs)
