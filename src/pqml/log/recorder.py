"""``record(entry)``: the one call every feature makes to log a sensitive operation.

It appends to the log in ``$PQML_HOME/log`` (or ``<home>/log``) and returns the entry's
index; :func:`record_many` appends several under one lock. ``PQML_LOG=off`` turns logging
off (``record`` then returns -1); any other value, or none, leaves it on. A failure to log
raises :class:`LogError`: an operation that must be on the record does not silently go
unrecorded, and the caller decides whether that stops it.

It is cheap enough for every command (goal: under a millisecond added to ``pqml decrypt``;
``bench/log.py`` measures it): a few system calls under the log's lock, no signature
unless a batched checkpoint falls due (see :mod:`pqml.log.store`). One store per log
directory is kept open for the life of the process, so a long-running service pays the
file opening once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pqml.log.entry import LogEntry
from pqml.log.errors import LogError

if TYPE_CHECKING:  # imported on first record(): a command that logs nothing never loads it
    from pqml.log.store import LogStore

DISABLED_VALUES = frozenset({"off", "0", "false", "no"})
_stores: dict[Path, LogStore] = {}  # one per log directory; each is thread-safe
_lock = threading.Lock()


def enabled() -> bool:
    """False when ``$PQML_LOG`` says ``off`` (also ``0``, ``false``, ``no``)."""
    return os.environ.get("PQML_LOG", "").strip().lower() not in DISABLED_VALUES


def record(entry: LogEntry, *, home: str | os.PathLike[str] | None = None) -> int:
    """Append ``entry`` to the log under ``home`` (default ``$PQML_HOME``); return its
    index, or -1 when logging is off."""
    if not enabled():
        return -1
    if not isinstance(entry, LogEntry):
        raise TypeError("record() takes a LogEntry")
    return _append([entry], home)[0]


def _append(entries: list[LogEntry], home: str | os.PathLike[str] | None) -> range:
    from pqml.log.store import LogStore, default_directory

    directory = default_directory(home)
    with _lock:  # one store per log directory for the life of the process
        store = _stores.get(directory)
        if store is None:
            store = _stores[directory] = LogStore(directory)
    try:
        return store.append_many(entries)
    except LogError:
        raise
    except OSError as exc:
        raise LogError(f"{directory}: cannot record {entries[0].operation}: "
                       f"{exc.strerror or exc}") from None


def record_many(entries: Iterable[LogEntry], *,
                home: str | os.PathLike[str] | None = None) -> range:
    """Append several entries at once (one lock, one write per file: a directory tree's
    files); return their indices, or an empty range when logging is off."""
    items = list(entries)
    if not enabled() or not items:
        return range(0)
    if not all(isinstance(e, LogEntry) for e in items):
        raise TypeError("record_many() takes LogEntry objects")
    return _append(items, home)


def forget() -> None:
    """Close the stores ``record`` keeps open (tests; a process that changes homes)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()


def record_or_warn(build: Callable[[], LogEntry | Sequence[LogEntry]], *,
                   home: str | os.PathLike[str] | None = None) -> int | None:
    """Record what ``build`` makes (built only when logging is on) after an operation
    that has already happened: a failure to log cannot undo it, so it becomes a warning
    on the ``pqml`` logger (the CLI prints it as ``pqml: warning: not logged: …``) and
    the operation's result stands. Returns the last index, or None."""
    if not enabled():
        return None
    from pqml.primitives.errors import PqmlError

    try:
        made = build()
        entries = [made] if isinstance(made, LogEntry) else list(made)
        last = None
        for entry in entries:
            last = record(entry, home=home)
        return last
    except (PqmlError, OSError) as exc:
        import logging

        logging.getLogger("pqml").warning("not logged: %s", " ".join(str(exc).split()))
        return None
