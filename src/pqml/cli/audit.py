"""Put what a command did on the transparency log (``$PQML_HOME/log``).

Commands call :func:`done` after they act and wrap themselves in :func:`logged` so a
failure or refusal is recorded too (a burst of failed decryptions or verifications is what
a monitor looks for). ``PQML_LOG=off`` turns it off.

If the log cannot be written the operation has already happened, so undoing it is not an
option; the command still succeeds and says so on standard error (``pqml: warning: not
logged: …``). Refusing to act unless the log is writable (as Vault does with its
audit devices) would need the entry written before the act; that is a follow-up.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def done(build: Callable[[], Any]) -> None:
    """Record the entry (or entries) ``build`` makes; built only when logging is on, so a
    command with logging off pays nothing. A failure to log is a warning (see above)."""
    from pqml.log import recorder

    recorder.record_or_warn(build)


def logged(operation: str, paths: Callable[[dict[str, Any]], Iterable[Any]]) -> Callable[[F], F]:
    """Decorate a click callback: a pqml error it raises is recorded as a failed (or,
    for a key-state or policy refusal, refused) ``operation`` on ``paths(params)``."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **params: Any) -> Any:
            from pqml.primitives.errors import PqmlError

            try:
                return func(*args, **params)
            except PqmlError as exc:
                from pqml.log import events

                error = exc  # the name ``exc`` is gone once this block ends
                names = [os.fspath(p) for p in paths(params) if p is not None]
                done(lambda: events.failed(operation, names or ["-"], error))
                raise

        return run  # type: ignore[return-value]

    return wrap
