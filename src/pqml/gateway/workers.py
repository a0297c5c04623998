"""Several gateway worker processes on one listening socket (``pqml gateway --workers N``).

Decapsulation is CPU work under the GIL, so one process uses one core. The supervisor binds
the socket, loads keys and signer once, and forks the workers, which inherit both (no key
material crosses an environment variable or a pipe). A worker that dies is replaced; one
that keeps dying (more deaths than workers within ``CRASH_WINDOW``) stops the gateway
rather than spin. SIGTERM or SIGINT stops the workers gracefully (uvicorn finishes the
requests in flight), SIGKILL after ``STOP_GRACE``. Workers die with the supervisor
(``PR_SET_PDEATHSIG`` on Linux) so a killed gateway leaves no process holding the port.

Workers do not share an in-process replay cache: the caller insists on Redis for N > 1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from typing import Any

logger = logging.getLogger("pqml.gateway")

CRASH_WINDOW = 10.0  # seconds
STOP_GRACE = 15.0  # seconds for the workers to finish their requests


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):  # no prctl in this libc
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker(config: Any, sock: Any, parent: int) -> None:
    """Run one uvicorn server on the inherited socket; never returns."""
    code = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        _die_with_parent(parent)
        import uvicorn

        uvicorn.Server(config).run(sockets=[sock])
        code = 0
    except BaseException:  # a worker reports by its exit status
        logger.exception("pqml gateway: worker %d failed", os.getpid())
    finally:
        logging.shutdown()
        os._exit(code)


class _Stop(Exception):
    """Raised by the supervisor's SIGTERM/SIGINT handler to leave its blocking wait."""


def supervise(config: Any, sock: Any, workers: int) -> int:
    """Fork ``workers`` servers of ``config`` on ``sock`` and keep them running until
    SIGTERM/SIGINT (exit status 0) or a crash loop (1)."""
    parent = os.getpid()
    children: set[int] = set()
    deaths: list[float] = []

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            _worker(config, sock, parent)
        children.add(pid)

    def stop(signum: int, _frame: Any) -> None:
        for s in (signal.SIGTERM, signal.SIGINT):  # once: the shutdown is not interrupted
            signal.signal(s, signal.SIG_IGN)
        raise _Stop

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        for _ in range(workers):
            spawn()
        logger.info("pqml gateway: %d workers (pids %s)", workers,
                    " ".join(map(str, sorted(children))))
        while children:
            try:
                pid, code = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid not in children:
                continue
            children.discard(pid)
            now = time.monotonic()
            deaths[:] = [t for t in deaths if now - t < CRASH_WINDOW] + [now]
            logger.warning("pqml gateway: worker %d exited (%s); starting another", pid,
                           _describe(code))
            if len(deaths) > workers:
                logger.error("pqml gateway: %d worker deaths within %.0f s: stopping",
                             len(deaths), CRASH_WINDOW)
                status = 1
                break
            spawn()
    except _Stop:
        pass
    finally:
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        _stop_all(children)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status


def _stop_all(children: set[int]) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while children and time.monotonic() < deadline:
        for pid in list(children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                children.discard(pid)
        if children:
            time.sleep(0.05)  # polling the workers' exit; bounded by STOP_GRACE
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
