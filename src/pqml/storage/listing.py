"""What is at a path or URL: :func:`stat` for one object, :func:`walk` for a tree.

Object stores have no directories, only keys with ``/`` in them: a "tree" is every
object under a prefix, and its relative names are the key remainders. :func:`walk`
yields them in a stable (sorted) order, like the local tree walkers, so planners and
manifests built from a listing are reproducible. Local paths work too (regular files
only; symbolic links are the local walkers' business, not this one's).

Which URL names a tree is explicit (:func:`names_tree`): one ending in ``/``. A URL
without the slash is one object; if only a prefix answers to it, the caller is told to
add the slash rather than guessed at, since ``s3://b/data`` may be an object and a
prefix at once.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_module
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pqml.storage.errors import StorageError, StorageURLError
from pqml.storage.reader import storage_error
from pqml.storage.urls import is_url, local_path, locate


@dataclass(frozen=True)
class Info:
    """One entry: its full path or URL, its name relative to the walked root (``/``
    separated; ``""`` for :func:`stat`), its size, whether it is a directory/prefix,
    and the store's version tag (ETag) where it has one."""

    url: str
    rel: str
    size: int
    is_dir: bool = False
    etag: str | None = None


def stat(target: str | os.PathLike[str]) -> Info:
    """Size and kind of a path or URL; StorageError (URLs) / OSError (paths) if absent."""
    if not is_url(target):
        path = local_path(target)
        st = os.stat(path)
        return Info(path, "", st.st_size, stat_module.S_ISDIR(st.st_mode))
    loc = locate(str(target))
    try:
        info = loc.fs.info(loc.path)
    except Exception as exc:  # every backend raises its own
        raise storage_error(exc, loc.url, "read it") from None
    return Info(loc.url, "", int(info.get("size") or 0), info.get("type") == "directory",
                info.get("ETag") or info.get("etag"))


def exists(target: str | os.PathLike[str]) -> bool:
    if not is_url(target):
        return os.path.lexists(local_path(target))
    loc = locate(str(target))
    try:
        return bool(loc.fs.exists(loc.path))
    except Exception as exc:
        raise storage_error(exc, loc.url, "look it up") from None


def is_dir(target: str | os.PathLike[str]) -> bool:
    """A local directory, or a URL that is a prefix with objects under it (or a bucket)."""
    if not is_url(target):
        return os.path.isdir(local_path(target))
    loc = locate(str(target))
    try:
        return bool(loc.fs.isdir(loc.path))
    except Exception as exc:
        raise storage_error(exc, loc.url, "look it up") from None


def names_tree(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` names a tree: a local directory, or a URL ending in ``/``
    (``s3://bucket/data/``, ``memory://b/``). A URL without the trailing slash names one
    object; when no object but a prefix answers to it, StorageURLError says to add the
    slash (one metadata request; a missing object is left to the reader to report)."""
    if not is_url(target):
        return os.path.isdir(local_path(target))
    text = str(target)
    if text.endswith("/"):
        return True
    try:
        found = stat(text)
    except StorageError:
        return False
    if found.is_dir:
        raise StorageURLError(f"{text}: is a prefix, not an object; to take every object "
                              f"under it as a tree, write {text}/ (with a trailing slash)")
    return False


def _forget(fs: Any, prefix: str) -> None:
    """Drop fsspec's cached listings at and under ``prefix`` (s3fs caches them per
    filesystem instance, which lives as long as the process: a stale size would make a
    later range read of a rewritten object look truncated)."""
    cache = getattr(fs, "dircache", None)
    if cache is None:
        return
    with contextlib.suppress(Exception):
        for key in [k for k in list(cache) if k == prefix or k.startswith(prefix + "/")]:
            cache.pop(key, None)
        fs.invalidate_cache(prefix)


def walk(root: str | os.PathLike[str]) -> Iterator[Info]:
    """Every object (regular file) under ``root``, sorted by relative name."""
    if not is_url(root):
        base = local_path(root)
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if stat_module.S_ISREG(st.st_mode):
                    found.append(Info(path, os.path.relpath(path, base).replace(os.sep, "/"),
                                      st.st_size))
        yield from sorted(found, key=lambda i: i.rel)
        return
    loc = locate(str(root))
    prefix = loc.path.rstrip("/")
    _forget(loc.fs, prefix)  # list what is there now, not what an earlier listing saw
    try:
        listed = loc.fs.find(prefix, detail=True, withdirs=False)
    except Exception as exc:
        raise storage_error(exc, loc.url, "list it") from None
    finally:
        _forget(loc.fs, prefix)  # nor let later reads take sizes from this listing
    base_url = loc.url.rstrip("/")
    entries = []
    for path, info in listed.items():
        path = path if loc.scheme != "memory" else "/" + path.lstrip("/")
        if not path.startswith(prefix + "/"):
            continue  # the prefix itself, when it is an object
        rel = path[len(prefix) + 1:]
        if not rel or rel.endswith("/") or info.get("type") == "directory":
            continue
        if any(part in (".", "..", "") for part in rel.split("/")):
            raise StorageError(f"{base_url}/{rel}: unsafe object name "
                               "(empty, '.' or '..' path segment)")
        entries.append(Info(f"{base_url}/{rel}", rel, int(info.get("size") or 0), False,
                            info.get("ETag") or info.get("etag")))
    yield from sorted(entries, key=lambda i: i.rel)
