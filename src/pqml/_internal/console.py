"""The rich console pqml prints tables and plans with (``pqml scan``, ``algorithms``,
``bench``), shared by the CLI and the scan reports.

Two rich defaults lose data off a terminal. rich sizes output to the terminal and, when
there is none (a pipe, ``> f.txt``, ``-o plan.txt``), to 80 columns, so cells were cut
("deadlin", years "203") and long lines broken; off a terminal this console is as wide as
the content, so nothing is cut, folded or dropped. And rich turns a broken pipe into
``SystemExit(1)``, which for ``pqml scan`` means "findings matched --fail-on"; here it
stays a ``BrokenPipeError``, which the CLI ends quietly with its own exit code.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, TextIO

# Off a terminal: wider than any line pqml prints, so rich never wraps or crops. Tables
# are as wide as their content (expand=False); text is not padded to this width.
UNBOUNDED_WIDTH = 1 << 20


def is_terminal(file: TextIO | None) -> bool:
    """Whether ``file`` (None: standard output) is a terminal a person reads."""
    target = sys.stdout if file is None else file
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):  # closed or not a real file
        return False


def data_console(file: TextIO | None = None) -> Any:
    """A rich ``Console`` writing to ``file`` (None: standard output): the terminal's width
    on a terminal, unbounded elsewhere; no highlighting; broken pipes raised."""
    from rich.console import Console

    class _DataConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    width = None if is_terminal(file) else UNBOUNDED_WIDTH
    return _DataConsole(file=file, highlight=False, soft_wrap=False, width=width)
