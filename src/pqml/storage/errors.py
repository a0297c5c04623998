"""Errors of object storage (re-exported by :mod:`pqml.errors`)."""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class StorageError(PqmlError):
    """An object store could not be read, listed or written (network, permission, a
    missing object); the message names the URL and the problem."""


class StorageURLError(StorageError, ValueError):
    """A URL pqml cannot use: an unknown scheme, no bucket or object name, or an
    operation the store cannot do (``rekey`` in place on an object)."""


class MissingExtraError(StorageError):
    """The URL's storage backend is not installed; the message names the pqml extra
    (``pip install 'pqml[s3]'``) that brings it."""
