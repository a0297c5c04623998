"""Replay protection (RFC 9458 §6.5): Date window, in-process and Redis nonce stores."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from gateway_support import free_port, redis_server  # noqa: F401  (fixture)

from pqml.gateway import replay
from pqml.gateway.errors import ReplayedRequestError, ReplayStoreError, RequestDateError
from pqml.gateway.replay import DateWindow, MemoryReplayStore, RedisReplayStore, ReplayGuard

NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---- Date window -------------------------------------------------------------------------


def test_http_date_round_trips() -> None:
    text = replay.http_date(NOW)
    assert text == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert replay.parse_http_date(text) == NOW


def test_obsolete_date_forms_are_read() -> None:
    # RFC 9110 §5.6.7: recipients accept rfc850-date and asctime-date too
    assert replay.parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777.0
    assert replay.parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777.0


@pytest.mark.parametrize("offset", [-60.0, -1.0, 0.0, 59.0, 60.0])
def test_dates_inside_the_window_pass(offset: float) -> None:
    DateWindow(past=60, future=60).check(replay.http_date(NOW + offset), NOW)


@pytest.mark.parametrize("offset,word", [(-61.0, "past"), (-86400.0, "past"),
                                         (61.0, "future"), (86400 * 365.0, "future")])
def test_dates_outside_the_window_fail(offset: float, word: str) -> None:
    with pytest.raises(RequestDateError, match=word):
        DateWindow(past=60, future=60).check(replay.http_date(NOW + offset), NOW)


@pytest.mark.parametrize("value", ["", "yesterday", "Mon, 99 Feb 2022 00:28:05 GMT",
                                   "Mon, 07 Feb 99999 00:28:05 GMT", "x" * 65,
                                   b"\xff\xfe", "Tue, 14 Nov 2023 22:13:20 GMT\x00"])
def test_malformed_dates_are_date_errors(value: str | bytes) -> None:
    with pytest.raises(RequestDateError):
        DateWindow().check(value, NOW)


def test_missing_date_is_refused_unless_optional() -> None:
    with pytest.raises(RequestDateError, match="no Date"):
        DateWindow().check(None, NOW)
    DateWindow(required=False).check(None, NOW)


def test_negative_window_is_refused() -> None:
    with pytest.raises(ValueError):
        DateWindow(past=-1)


def test_retention_covers_the_whole_window() -> None:
    assert DateWindow(past=30, future=10).retention == 40


# ---- in-process store ---------------------------------------------------------------------


def test_memory_store_refuses_a_second_claim_until_expiry() -> None:
    clock = Clock()
    store = MemoryReplayStore(clock=clock)
    assert store.claim_now(b"n1", 10)
    assert not store.claim_now(b"n1", 10)
    assert store.claim_now(b"n2", 10)
    clock.now = 9.999
    assert not store.claim_now(b"n1", 10)
    clock.now = 10.0
    assert store.claim_now(b"n1", 10)  # expired: the Date window now refuses old copies
    assert len(store) == 1  # n1 again; n2 (expired at 10) purged


def test_memory_store_is_bounded_and_fails_closed() -> None:
    clock = Clock()
    store = MemoryReplayStore(max_entries=3, clock=clock)
    for n in (b"a", b"b", b"c"):
        assert store.claim_now(n, 5)
    with pytest.raises(ReplayStoreError, match="3 live nonces"):
        store.claim_now(b"d", 5)
    assert not store.claim_now(b"a", 5)  # a live nonce was not forgotten to make room
    clock.now = 5.0
    assert store.claim_now(b"d", 5)  # room again once entries expire
    assert len(store) == 1


def test_memory_store_purges_so_memory_stays_bounded() -> None:
    clock = Clock()
    store = MemoryReplayStore(max_entries=100, clock=clock)
    for i in range(10_000):
        clock.now = float(i)
        assert store.claim_now(i.to_bytes(4, "big"), 50)
    assert len(store) == 50
    assert len(store._heap) <= 51


def test_memory_store_concurrent_claims_one_winner() -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = MemoryReplayStore()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: store.claim_now(b"same", 60), range(64)))
    assert results.count(True) == 1


# ---- the guard ----------------------------------------------------------------------------


def test_guard_accepts_fresh_and_refuses_replays() -> None:
    guard = ReplayGuard(window=DateWindow(past=60, future=60), clock=lambda: NOW)
    enc = os.urandom(1120)
    date = replay.http_date(NOW)
    asyncio.run(guard.check(enc, date))
    with pytest.raises(ReplayedRequestError):
        asyncio.run(guard.check(enc, date))
    asyncio.run(guard.check(os.urandom(1120), date))


def test_guard_checks_the_date_before_spending_the_nonce() -> None:
    guard = ReplayGuard(window=DateWindow(past=60, future=60), clock=lambda: NOW)
    enc = os.urandom(32)
    with pytest.raises(RequestDateError):
        asyncio.run(guard.check(enc, replay.http_date(NOW - 3600)))
    asyncio.run(guard.check(enc, replay.http_date(NOW)))  # nonce was not spent


def test_nonce_is_a_short_digest_of_enc() -> None:
    enc = os.urandom(1120)
    assert replay.nonce_of(enc) == replay.nonce_of(bytes(enc))
    assert len(replay.nonce_of(enc)) == replay.NONCE_BYTES
    assert replay.nonce_of(enc) != replay.nonce_of(enc[:-1] + bytes([enc[-1] ^ 1]))
    assert enc[:16] not in replay.nonce_of(enc)


def test_open_store_chooses_by_url() -> None:
    assert isinstance(replay.open_store(None), MemoryReplayStore)
    assert isinstance(replay.open_store("redis://127.0.0.1:1/0"), RedisReplayStore)
    with pytest.raises(ValueError, match="not a Redis URL"):
        replay.open_store("http://user:hunter2@example/")
    with pytest.raises(ValueError) as info:
        replay.open_store("http://user:hunter2@example/")
    assert "hunter2" not in str(info.value)


# ---- Redis (a real redis-server on loopback) ----------------------------------------------


def test_redis_store_claims_once_and_expires(redis_url: str) -> None:
    async def scenario() -> None:
        store = RedisReplayStore(redis_url, prefix=f"t{os.urandom(4).hex()}:")
        try:
            nonce = os.urandom(16)
            assert await store.claim(nonce, 0.3)
            assert not await store.claim(nonce, 0.3)
            import redis.asyncio as aioredis

            raw = aioredis.Redis.from_url(redis_url)
            key = store.prefix + nonce.hex().encode()
            ttl_ms = await raw.pttl(key)
            assert 0 < ttl_ms <= 300  # Redis itself expires the entry
            deadline = time.monotonic() + 5
            while await raw.exists(key) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await raw.aclose()
            assert await store.claim(nonce, 0.3)
        finally:
            await store.aclose()

    asyncio.run(scenario())


def test_redis_store_is_shared_between_replicas(redis_url: str) -> None:
    """Two gateways (two stores, two connections) racing on the same nonces: each nonce is
    accepted exactly once."""

    async def scenario() -> list[bool]:
        prefix = f"t{os.urandom(4).hex()}:"
        stores = [RedisReplayStore(redis_url, prefix=prefix) for _ in range(2)]
        nonces = [os.urandom(16) for _ in range(50)]
        try:
            results = await asyncio.gather(
                *(s.claim(n, 60) for n in nonces for s in stores))
        finally:
            for s in stores:
                await s.aclose()
        return list(results)

    results = asyncio.run(scenario())
    assert results.count(True) == 50
    assert all(results[i] != results[i + 1] for i in range(0, 100, 2))


def test_guard_over_redis_refuses_replay_on_another_replica(redis_url: str) -> None:
    async def scenario() -> None:
        prefix = f"t{os.urandom(4).hex()}:"
        first = ReplayGuard(RedisReplayStore(redis_url, prefix=prefix))
        second = ReplayGuard(RedisReplayStore(redis_url, prefix=prefix))
        enc = os.urandom(1120)
        date = replay.http_date(time.time())
        try:
            await first.check(enc, date)
            with pytest.raises(ReplayedRequestError):
                await second.check(enc, date)
        finally:
            await first.aclose()
            await second.aclose()

    asyncio.run(scenario())


def test_redis_password_never_in_messages() -> None:
    async def scenario() -> None:
        store = RedisReplayStore(f"redis://user:hunter2@127.0.0.1:{free_port()}/0",
                                 timeout=0.5)
        try:
            with pytest.raises(ReplayStoreError) as info:
                await store.ping()
            assert "hunter2" not in str(info.value)
            assert "***" in str(info.value)
            with pytest.raises(ReplayStoreError, match="unreachable"):
                await store.claim(os.urandom(16), 60)
        finally:
            await store.aclose()

    asyncio.run(scenario())
