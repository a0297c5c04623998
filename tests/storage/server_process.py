"""What every storage server the tests start shares: a process on loopback whose output
is drained (so it never blocks on a full pipe), found ready by a line it prints or by an
answered request, both under a deadline, and stopped at the end; and environment
variables set for a session the way a user would set them, then put back."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence


class ServerProcess:
    """A started server process and the lines it printed so far."""

    def __init__(self, argv: Sequence[str], name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def tail(self) -> str:
        while not self._lines.empty():
            line = self._lines.get_nowait()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen[-5:])

    def wait_for_line(self, pattern: re.Pattern[str], deadline: float) -> re.Match[str]:
        """The first printed line matching ``pattern``; RuntimeError if the process exits
        or ``deadline`` (time.monotonic) passes first."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.name} not ready in time: {self.seen[-5:]}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"{self.name} exited ({self.proc.wait()}): "
                                   f"{self.seen[-5:]}")
            self.seen.append(line)
            match = pattern.search(line)
            if match:
                return match

    def wait_for_answer(self, url: str, deadline: float) -> bool:
        """True once ``url`` answers; False if the process exited first (the caller may
        retry on another port); RuntimeError once ``deadline`` passes."""
        while True:
            if self.proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen(url, timeout=5).read()
                return True
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready in time: {self.tail()}"
                                       ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def started(argv: Sequence[str], name: str) -> Iterator[ServerProcess]:
    server = ServerProcess(argv, name)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` set in os.environ while inside, the previous values (or absence) back
    after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
