"""Several gateway worker processes on one listening socket (``pqml gateway --workers N``).

Decapsulation is CPU work under the GIL, so one process uses one core. The supervisor binds
the socket, loads keys and signer once, and forks the workers, which inherit both (no key
material crosses an environment variable or a pipe). A worker that dies is replaced; more
deaths (or failed forks) than workers within ``CRASH_WINDOW`` stop the gateway rather than
spin. SIGTERM, SIGINT or SIGHUP stops the workers gracefully (uvicorn finishes the requests
in flight), SIGKILL after ``STOP_GRACE``. Workers die with the supervisor
(``PR_SET_PDEATHSIG`` on Linux) so a killed gateway leaves no process holding the port.

The supervisor keeps those signals and SIGCHLD blocked and waits for them with
``sigwaitinfo``: no handler runs between a fork and the bookkeeping of its pid, or in the
middle of stopping. Workers do not share an in-process replay cache: the caller insists on
Redis for N > 1.
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
FORK_RETRY = 1.0  # seconds before another fork after one failed
_STOP = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
_WATCHED = _STOP | {signal.SIGCHLD}
STARTUP_FAILED = 3  # a worker's server did not start (uvicorn's own status for that)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):  # no prctl in this libc
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker(config: Any, sock: Any, parent: int, mask: Any) -> None:
    """Run one uvicorn server on the inherited socket; never returns."""
    code = 1
    try:
        # still blocked, as forked: set what a signal will do, then let them in
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a hang-up stops us via the parent
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _die_with_parent(parent)
        import uvicorn

        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        code = 0 if server.started else STARTUP_FAILED
    except BaseException:  # a worker reports by its exit status
        logger.exception("pqml gateway: worker %d failed", os.getpid())
    finally:
        logging.shutdown()
        os._exit(code)


class _Deaths:
    """Worker deaths and failed forks in the last ``CRASH_WINDOW`` seconds."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: list[float] = []

    def add(self) -> bool:
        """Count one; True when there are too many (a crash loop)."""
        now = time.monotonic()
        self._times = [t for t in self._times if now - t < CRASH_WINDOW] + [now]
        if len(self._times) > self.limit:
            logger.error("pqml gateway: %d worker failures within %.0f s: stopping",
                         len(self._times), CRASH_WINDOW)
            return True
        return False


def supervise(config: Any, sock: Any, workers: int) -> int:
    """Fork ``workers`` servers of ``config`` on ``sock`` and keep them running until
    SIGTERM/SIGINT/SIGHUP (exit status 0) or a crash loop (1)."""
    parent = os.getpid()
    children: set[int] = set()
    deaths = _Deaths(workers)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    child_action = signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # SIG_IGN would auto-reap
    missing, retry_at = workers, 0.0
    try:
        while True:
            while missing and time.monotonic() >= retry_at:
                try:
                    pid = os.fork()
                except OSError as exc:
                    logger.warning("pqml gateway: cannot start a worker (%s); trying again "
                                   "in %.0f s", exc.strerror or exc, FORK_RETRY)
                    if deaths.add():
                        return 1
                    retry_at = time.monotonic() + FORK_RETRY
                    break
                if pid == 0:
                    _worker(config, sock, parent, mask)
                children.add(pid)
                missing -= 1
            if missing:
                got = signal.sigtimedwait(_WATCHED, max(0.0, retry_at - time.monotonic()))
            else:
                got = signal.sigwaitinfo(_WATCHED)
            if got is None:  # time to fork again
                continue
            if got.si_signo in _STOP:
                return 0
            for pid, status in _reaped(children):
                logger.warning("pqml gateway: worker %d exited (%s); starting another",
                               pid, _describe(status))
                if deaths.add():
                    return 1
                missing += 1
    finally:
        _stop_all(children)
        while signal.sigtimedwait(_STOP, 0) is not None:
            pass  # a second Ctrl-C during the stop: already done, not an interruption
        signal.signal(signal.SIGCHLD, child_action)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _reaped(children: set[int]) -> list[tuple[int, int]]:
    """Every child that has exited (SIGCHLD coalesces: reap until none is left)."""
    out = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid in children:
            children.discard(pid)
            out.append((pid, status))
    return out


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
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    children.clear()


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
