"""joblib and torch objects to and from encrypted files (pqml/v1 or age), streaming.

``dump_joblib`` / ``save_torch`` serialize straight into an encrypting writer over an
atomic output, so the plaintext never touches the disk and a failure leaves no file.
``load_joblib`` / ``load_torch`` read through :func:`pqml.open` (random access, every
chunk authenticated before its bytes reach the deserializer).

Both formats are pickle-based: unpickling runs whatever code the file's author chose, and
decrypting proves only that someone holding a recipient key wrote it. So loading needs
the caller to name the source they trust (``trusted_source="our training pipeline"``);
without it the load is refused before anything is decrypted.

Or pass ``trusted=[keys]`` (and/or ``verify=VerifyOptions(...)``, e.g. a ``policy`` or
``certificate_chain``): verify before load on the encrypted file. The plaintext model's
OMS bundle (``model.sig`` beside the encrypted files, or ``x.joblib.sig``; see
:mod:`pqml.signing.verified_load`) is authenticated before anything is decrypted, the
plaintext is hashed while it is decrypted into memory, and only bytes equal to what the
signer signed reach joblib or torch. A verified signature replaces ``trusted_source``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pqml.encryption.encryption_keys import Format, check_format, resolve_recipients
from pqml.encryption.errors import UntrustedSourceError

if TYPE_CHECKING:
    from pqml.signing.verify_options import VerifyOptions


class _EncryptingWriter:
    """A write-only file object (write, tell, flush) encrypting into ``dst``."""

    def __init__(self, recipients: list[Any], dst: Any, format: Format,
                 allow_classical: bool) -> None:
        from pqml.encryption.encrypted_formats import prepare_recipients

        objs, self.recipients = prepare_recipients(format, recipients,
                                                   allow_classical=allow_classical)
        if format == "pqml":
            from pqml.formats import pqml_v1

            self._w: Any = pqml_v1.PqmlWriter(objs, dst, allow_classical=True)
        else:
            from pqml.formats import age

            self._w = age.AgeWriter(objs, dst, allow_mixed_pq=True)
        self._pos = 0

    def write(self, data: Any) -> int:
        n = len(memoryview(data).cast("B"))
        self._w.write(data)
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        return None

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._w.close()


def _write(path: str | os.PathLike[str], recipients: Iterable[Any], format: str,
           allow_classical: bool, serialize: Any) -> None:
    from pqml._internal.output_file import atomic_output

    fmt = check_format(format)
    resolved = resolve_recipients(recipients)
    with atomic_output(path, mode=0o644) as out:
        writer = _EncryptingWriter(resolved, out, fmt, allow_classical)
        serialize(writer)
        writer.close()


def _verified_plaintext(path: str | os.PathLike[str], identities: Any, trusted: Any,
                        verify: VerifyOptions | None) -> bytes | None:
    """The verified plaintext if the caller asked for verification (``trusted`` or
    ``verify`` given), else None (then a trusted source is required)."""
    if trusted is None and verify is None:
        return None
    from pqml.signing.verified_load import read_verified_encrypted

    return read_verified_encrypted(path, identities, trusted, verify=verify)


def require_trusted_source(path: str | os.PathLike[str], trusted_source: str | None,
                           kind: str) -> str:
    """Refuse pickle-based loads unless the caller named the source they trust."""
    if not isinstance(trusted_source, str) or not trusted_source.strip():
        raise UntrustedSourceError(
            f"{path}: refusing to load a {kind} file (pickle runs code chosen by its "
            "author) without trusted_source='…' naming who you trust it from; verify its "
            "signature first (pqml verify) if you are unsure"
        )
    return trusted_source


# ---- joblib ---------------------------------------------------------------------------------


def dump_joblib(obj: Any, path: str | os.PathLike[str], recipients: Iterable[Any], *,
                format: str = "pqml", allow_classical: bool = False, **kwargs: Any) -> None:
    """``joblib.dump`` into an encrypted file (atomic; plaintext never on disk);
    ``kwargs`` (``compress``, ``protocol``) go to joblib.dump."""
    import joblib

    _write(path, recipients, format, allow_classical, lambda f: joblib.dump(obj, f, **kwargs))


def load_joblib(path: str | os.PathLike[str], identities: Any, *,
                trusted_source: str | None = None, trusted: Any = None,
                verify: VerifyOptions | None = None) -> Any:
    """``joblib.load`` from an encrypted file. Needs either ``trusted=[keys]`` and/or
    ``verify=VerifyOptions(...)`` (e.g. with a ``policy``): verify before load, only the
    signed plaintext is unpickled; or ``trusted_source='…'``: decrypt and unpickle
    unverified. Options without any trust (no keys, policy or chain) raise PolicyError."""
    import joblib

    data = _verified_plaintext(path, identities, trusted, verify)
    if data is not None:
        return joblib.load(io.BytesIO(data))
    require_trusted_source(path, trusted_source, "joblib")
    from pqml.encryption.random_access import open as open_encrypted

    with open_encrypted(path, identities) as f:
        return joblib.load(f)


# ---- torch ----------------------------------------------------------------------------------


def save_torch(obj: Any, path: str | os.PathLike[str], recipients: Iterable[Any], *,
               format: str = "pqml", allow_classical: bool = False, **kwargs: Any) -> None:
    """``torch.save`` into an encrypted file (atomic; plaintext never on disk)."""
    import torch

    _write(path, recipients, format, allow_classical, lambda f: torch.save(obj, f, **kwargs))


def load_torch(path: str | os.PathLike[str], identities: Any, *,
               trusted_source: str | None = None, trusted: Any = None,
               verify: VerifyOptions | None = None, **kwargs: Any) -> Any:
    """``torch.load`` from an encrypted file. ``trusted=[keys]`` and/or ``verify=``:
    verified plaintext, decrypted into memory while hashed, as for :func:`load_joblib`;
    else ``trusted_source`` is required (random access, as torch seeks in the zip).
    torch's ``weights_only=True`` default stays on unless the caller passes
    ``weights_only=False``; other ``kwargs`` go to torch.load."""
    from pqml.signing.verify_options import reject_verify_keywords

    reject_verify_keywords(kwargs)
    import torch

    kwargs.setdefault("weights_only", True)
    data = _verified_plaintext(path, identities, trusted, verify)
    if data is not None:
        return torch.load(io.BytesIO(data), **kwargs)
    require_trusted_source(path, trusted_source, "torch")
    from pqml.encryption.random_access import open as open_encrypted

    with open_encrypted(path, identities) as f:
        return torch.load(f, **kwargs)
