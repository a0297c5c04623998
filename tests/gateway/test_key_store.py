"""Key reloads happen off the request path (a background thread), and a broken key
directory is retried with exponential backoff, not in a tight loop."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from gateway_support import bhttp_request, demo_app, encapsulate
from test_middleware import call, settled

from pqml.gateway.key_configs import GatewayKeys, KeySet, KeyStore
from pqml.gateway.middleware import OHTTPMiddleware


class BlockingKeys(GatewayKeys):
    """A key directory whose loads wait until the test lets them go (a slow disk)."""

    def __init__(self, directory: Any) -> None:
        super().__init__(directory)
        self.gate = threading.Event()
        self.block = False
        self.loads = 0

    def load(self, **options: Any) -> KeySet:
        self.loads += 1
        if self.block:
            assert self.gate.wait(10), "the test never released the load"
        return super().load(**options)


def test_a_slow_reload_does_not_stall_requests(tmp_path: Any) -> None:
    directory = BlockingKeys(tmp_path / "keys")
    directory.create()
    store = KeyStore(directory, reload_interval=0)
    app = OHTTPMiddleware(demo_app(), store)
    old = store.current()
    store.wait()
    directory.rotate(grace=60)
    directory.block = True
    loaded = directory.loads  # the store's first load, at construction
    # The rotation starts a reload that now hangs on the disk; requests keep being
    # answered with the keys the store has (were the load on this thread, this would
    # wait on a gate only the test opens, and fail after 10 s).
    for _ in range(3):
        body, read = encapsulate(old.get(1).config, bhttp_request("GET", "/echo"))
        status, _, out = call(app, "POST", body=body)
        assert status == 200 and read(out).status == 200
    assert directory.loads == loaded + 1  # one reload in flight at a time
    directory.gate.set()
    assert sorted(settled(store).keys) == [1, 2]


def test_a_broken_key_file_backs_off_exponentially(tmp_path: Any) -> None:
    clock = [1000.0]
    failures: list[Exception] = []
    directory = GatewayKeys(tmp_path / "keys")
    directory.create(now=clock[0])
    store = KeyStore(directory, reload_interval=0.5, max_backoff=8.0,
                     clock=lambda: clock[0], on_error=failures.append)
    app = OHTTPMiddleware(demo_app(), store)
    good = store.current()
    entry = directory.rotate(grace=600, now=clock[0])
    (tmp_path / "keys" / entry.file).write_bytes(b"not a key")  # a broken key file
    times = []
    for _ in range(120):  # a request every 0.5 s for a minute
        clock[0] += 0.5
        before = store.attempts
        assert store.current() is good  # the last good set, at once
        store.wait()
        if store.attempts > before:
            times.append(clock[0])
        body, read = encapsulate(good.get(1).config, bhttp_request("GET", "/echo"))
        assert read(call(app, "POST", body=body)[2]).status == 200
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 1, 2, 4, 8 s, then capped at 8 s: about a dozen attempts in a minute, not 120
    assert gaps[:4] == pytest.approx([1.0, 2.0, 4.0, 8.0], abs=0.51)
    assert all(g <= 8.51 for g in gaps) and 8 <= len(times) <= 14
    assert len(failures) == len(times)
    # repaired: the next attempt loads it, and checks go back to the normal interval
    from pqml.keys import key_files

    path = tmp_path / "keys" / entry.file
    path.unlink()
    key_files.save_private(key_files.generate("X-Wing"), path)
    clock[0] += 8.5
    assert sorted(settled(store).keys) == [1, 2]
    attempts = store.attempts
    directory.rotate(grace=600, now=clock[0])
    clock[0] += 0.5  # back to the 0.5 s interval, not the 8 s backoff
    assert sorted(settled(store).keys) == [1, 2, 3]
    assert store.attempts == attempts + 1
