"""Small work items grouped into tasks big enough to pay for their scheduling (a thread
pool's or Ray's): the scanner's file batches and the distributed planner's share it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def size_batches(items: Iterable[T], size: Callable[[T], int], *, max_items: int,
                 max_bytes: int) -> list[list[T]]:
    """``items`` in order, cut into runs that end at ``max_items`` items or once they
    reach ``max_bytes`` (by ``size``): one large item makes a batch of its own."""
    out: list[list[T]] = []
    batch: list[T] = []
    total = 0
    for item in items:
        batch.append(item)
        total += size(item)
        if len(batch) >= max_items or total >= max_bytes:
            out.append(batch)
            batch, total = [], 0
    if batch:
        out.append(batch)
    return out
