"""Trees as jobs see them: a local directory or every object under a URL prefix.

A tree source is a local directory or a URL ending in ``/`` (see
:func:`pqml.storage.listing.names_tree`: the slash is what says "prefix"; a URL without
it that only a prefix answers is refused with that hint). A tree destination is a local
directory (built with :func:`~pqml._internal.output_file.atomic_tree`) or a URL prefix
(``s3://bucket/enc`` and ``s3://bucket/enc/`` alike: the source decides that it is a
tree). The rules are those of local trees (:mod:`pqml.encryption.encrypt`): the output
may not overlap the input, a destination must hold nothing yet unless ``force`` (for a
prefix: no object under it; ``force`` then replaces same-named objects and leaves the
others), signature bundles pass in clear, and on decryption objects that are not
encrypted are skipped and listed.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from pqml.distributed.planner import Input, list_tree
from pqml.primitives.errors import PqmlError

BUNDLE_MAX = 256 << 20  # as is_signature_bundle: a larger .sig is data, not a bundle


def names_tree(source: str) -> bool:
    """Whether ``source`` is a tree (see :func:`pqml.storage.listing.names_tree`)."""
    from pqml.storage.listing import names_tree as names

    return names(source)


def inputs(source: str, *, allow_symlinks: bool = False) -> list[Input]:
    """The files of the tree ``source`` with their tree-relative (``/``) names, sorted;
    a URL prefix with no object under it is refused (a typo, most likely)."""
    from pqml.storage.listing import walk
    from pqml.storage.urls import is_url

    if not is_url(source):
        return list_tree(source, allow_symlinks=allow_symlinks)
    found = [Input(info.url, info.rel, info.size) for info in walk(source)]
    if not found:
        raise PqmlError(f"{source}: no objects under this prefix")
    return found


def read_small(inp: Input) -> bytes:
    """A whole (small) input: a signature bundle being copied."""
    from pqml.storage.reader import open_input

    with open_input(inp.location) as f:
        data = f.pread(inp.size, 0) if inp.size else b""
    if len(data) != inp.size:
        raise PqmlError(f"{inp.location}: changed while being copied")
    return data


def is_bundle(inp: Input) -> bool:
    """A model signature bundle (``model.sig`` or ``*.sig`` that parses as one), local
    or in an object store; as :func:`pqml.encryption.encrypt.is_signature_bundle`."""
    from pqml.storage.urls import is_url

    if not is_url(inp.location):
        from pqml.encryption.encrypt import is_signature_bundle

        return is_signature_bundle(Path(inp.location))
    name = PurePosixPath(inp.name).name
    if (name != "model.sig" and not name.endswith(".sig")) or inp.size > BUNDLE_MAX:
        return False
    from pqml.formats import oms

    try:
        oms.parse_bundle(read_small(inp))
    except PqmlError:
        return False
    return True


def head(inp: Input, size: int = 64) -> bytes:
    """The first bytes of an input (format detection: one range request for an object)."""
    from pqml.storage.reader import open_input

    with open_input(inp.location) as f:
        return f.pread(size, 0)


def _store_path(url: str) -> tuple[str, str]:
    """``(scheme family, bucket/key)`` of a URL, without a trailing slash, for overlap
    checks (``s3`` and ``s3a`` name the same store)."""
    from pqml.storage.urls import BACKENDS, scheme_of

    scheme = scheme_of(url)
    family = BACKENDS.get(scheme, ("", "", scheme))[2]
    return family, url[len(scheme) + 3:].strip("/")


def _inside(child: str, parent: str) -> bool:
    return child == parent or not parent or child.startswith(parent + "/")


def check_destination(source: str, dst: str, *, force: bool) -> None:
    """Refuse a destination that overlaps the source tree, and (unless ``force``) a
    destination prefix that already holds objects; before any work is done. Local
    directories are checked as local trees are (and again by atomic_tree)."""
    from pqml.storage.urls import is_url

    if not is_url(dst):
        if not is_url(source):
            from pqml.encryption.encrypt import _check_tree_output

            _check_tree_output(Path(source), Path(dst))
        elif os.path.exists(dst) and not os.path.isdir(dst):
            from pqml._internal.errors import OutputPathError

            raise OutputPathError(f"{dst}: exists and is not a directory")
        return
    if is_url(source):
        (s_fam, s_path), (d_fam, d_path) = _store_path(source), _store_path(dst)
        if s_fam == d_fam and (_inside(d_path, s_path) or _inside(s_path, d_path)):
            from pqml._internal.errors import OutputPathError

            raise OutputPathError(f"{dst}: the output prefix overlaps the input tree "
                                  f"{source}; choose an output outside it")
    if not force:
        from pqml._internal.errors import OutputExistsError
        from pqml.storage.listing import walk

        first = next(iter(walk(dst)), None)
        if first is not None:
            raise OutputExistsError(f"{dst.rstrip('/')}/: the output prefix is not empty "
                                    f"({first.url} exists); use --force to replace "
                                    "same-named objects")


def object_url(prefix: str, rel: str) -> str:
    return f"{prefix.rstrip('/')}/{rel}"
