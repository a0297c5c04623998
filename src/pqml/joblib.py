"""joblib with verify-before-load: ``pqml.joblib.load(path, trusted=[...])``.

``load`` checks the file against its model's OMS signature (see :mod:`pqml.features.
verified_load`) and only then unpickles the exact bytes it verified; an unsigned, modified
or untrusted file raises before joblib sees a byte. ``dump`` writes through a temporary
file and a rename, so a reader never finds half a file. Sign the model after dumping.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import Any

from pqml.features.verified_load import Trusted, read_verified

__all__ = ["dump", "load"]


def load(
    path: str | os.PathLike[str],
    trusted: Trusted = None,
    *,
    signature: str | os.PathLike[str] | None = None,
    model_root: str | os.PathLike[str] | None = None,
    certificate_chain: Iterable[str | os.PathLike[str]] = (),
    policy: Any = None,
    require_pq: bool = False,
    allow_symlinks: bool = False,
    allow_unverified: bool = False,
    **kwargs: Any,
) -> Any:
    """``joblib.load`` of ``path`` after verifying it; ``kwargs`` go to joblib.load.

    ``allow_unverified=True`` is the explicit opt-out: it loads without any check and
    emits an UnverifiedLoadWarning.
    """
    import joblib

    data = read_verified(
        path, trusted, signature=signature, model_root=model_root,
        certificate_chain=certificate_chain, policy=policy, require_pq=require_pq,
        allow_symlinks=allow_symlinks, allow_unverified=allow_unverified,
    )
    return joblib.load(io.BytesIO(data), **kwargs)


def dump(value: Any, path: str | os.PathLike[str], **kwargs: Any) -> list[str]:
    """``joblib.dump`` to ``path`` atomically (temporary file beside it, then rename);
    compression is still chosen from the suffix unless ``compress=`` is given."""
    import joblib

    from pqml.features.atomic_file import atomic_path

    with atomic_path(path) as tmp:
        joblib.dump(value, tmp, **kwargs)
    return [os.fspath(path)]
