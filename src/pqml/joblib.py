"""joblib with verify-before-load: ``pqml.joblib.load(path, trusted=[...])``.

``load`` checks the file against its model's OMS signature (see :mod:`pqml.signing.
verified_load`) and only then unpickles the exact bytes it verified; an unsigned, modified
or untrusted file raises before joblib sees a byte. ``dump`` writes through a temporary
file and a rename, so a reader never finds half a file. Sign the model after dumping.

With ``recipients=`` / ``identities=`` the file is encrypted (pqml/v1 or age) and the
plaintext never touches the disk (:mod:`pqml.encryption.encrypted_io`); decrypting proves
only that a recipient-key holder wrote it, so an encrypted load also needs the caller to
name the source they trust.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import Any

from pqml.signing.verified_load import Trusted, read_verified
from pqml.signing.verify_options import VerifyOptions, reject_verify_keywords

__all__ = ["dump", "load"]


def load(
    path: str | os.PathLike[str],
    trusted: Trusted = None,
    *,
    verify: VerifyOptions | None = None,
    allow_unverified: bool = False,
    identities: Any = None,
    trusted_source: str | None = None,
    **kwargs: Any,
) -> Any:
    """``joblib.load`` of ``path`` after verifying it; ``kwargs`` go to joblib.load.

    ``trusted`` are the keys to trust; ``verify`` (a :class:`~pqml.VerifyOptions`) says
    how: bundle location, certificate chain, policy, ``require_pq``, symlinks.
    ``allow_unverified=True`` is the explicit opt-out: it loads without any check and
    emits an UnverifiedLoadWarning. ``identities=`` decrypts an encrypted file first:
    with ``trusted=`` (or ``verify=``) its plaintext must match the model's signature
    before unpickling, otherwise ``trusted_source='…'`` must name who you trust it from.
    """
    reject_verify_keywords(kwargs)
    if identities is not None:
        from pqml.encryption.encrypted_io import load_joblib

        return load_joblib(path, identities, trusted_source=trusted_source, trusted=trusted,
                           verify=verify)
    import joblib

    data = read_verified(path, trusted, verify=verify, allow_unverified=allow_unverified)
    return joblib.load(io.BytesIO(data), **kwargs)


def dump(
    value: Any,
    path: str | os.PathLike[str],
    *,
    recipients: Iterable[Any] | None = None,
    format: str = "pqml",
    allow_classical: bool = False,
    **kwargs: Any,
) -> list[str]:
    """``joblib.dump`` to ``path`` atomically (temporary file beside it, then rename);
    compression is still chosen from the suffix unless ``compress=`` is given. With
    ``recipients=`` the file is encrypted to them (``format`` pqml or age)."""
    if recipients is not None:
        from pqml.encryption.encrypted_io import dump_joblib

        dump_joblib(value, path, recipients, format=format, allow_classical=allow_classical,
                    **kwargs)
        return [os.fspath(path)]
    import joblib

    from pqml._internal.output_file import atomic_path

    with atomic_path(path) as tmp:
        joblib.dump(value, tmp, **kwargs)
    return [os.fspath(path)]
