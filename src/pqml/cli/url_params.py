"""Click parameters that take a local path or a storage URL (``s3://bucket/key``).

URLs pass through untouched (the storage layer checks them and names a missing extra);
anything else is checked exactly as ``click.Path(**same options)`` would.
"""

from __future__ import annotations

import os
from typing import Any

import click

from pqml.storage.urls import is_url


class PathOrURL(click.Path):
    """A click.Path (so the CLI reports its problems as it does for any path) that lets
    URLs through untouched."""

    name = "path_or_url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if isinstance(value, str) and is_url(value):
            return value
        return super().convert(value, param, ctx)


def path_or_url(**path_options: Any) -> PathOrURL:
    """``click.Path(**path_options)`` that also accepts URLs."""
    return PathOrURL(**path_options)


def input_size(target: str | os.PathLike[str]) -> int | None:
    """Size of a local file or object (for progress bars); None if it cannot be told."""
    from pqml.primitives.errors import PqmlError
    from pqml.storage.listing import stat

    try:
        return stat(target).size
    except (OSError, PqmlError):
        return None
