"""Replay protection for Oblivious HTTP requests (RFC 9458 §6.5).

An encapsulated request can be captured and sent again; the gateway would decrypt it and
forward it a second time. RFC 9458 §6.5 names the two defences composed here:

- the encapsulated KEM share (``enc``) is fresh for every request a client makes, so it is
  a nonce: the gateway remembers each one it accepted and refuses a second copy;
- the inner request's ``Date`` must lie within a window around the gateway's clock, so the
  nonce store only has to remember ``enc`` values for as long as the window is open, and a
  request captured earlier than that is refused by its date alone (400 with the ``date``
  problem type, the gateway's own ``Date`` in the response so an honest client with a
  skewed clock can correct it).

The nonce is checked only after the request decrypted, so a forged request cannot burn the
``enc`` of a genuine one in flight. Stores keep a 128-bit digest of ``enc`` (X-Wing shares
are 1120 bytes), never the share itself. :class:`MemoryReplayStore` serves one process;
:class:`RedisReplayStore` one shared Redis for several replicas (``SET NX PX``: atomic, and
Redis expires the entries itself).
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from pqml.gateway.errors import (
    ReplayedRequestError,
    ReplayStoreError,
    RequestDateError,
)
from pqml.primitives import hashes

if TYPE_CHECKING:
    from collections.abc import Callable

DATE_PROBLEM = "https://iana.org/assignments/http-problem-types#date"
DEFAULT_WINDOW = 60.0  # seconds either side of the gateway's clock
DEFAULT_MAX_ENTRIES = 1_000_000  # ≈ 8k requests/s sustained over a two-minute window
_MAX_DATE_LENGTH = 64  # an IMF-fixdate is 29 characters
NONCE_BYTES = 16


def nonce_of(enc: bytes) -> bytes:
    """The 128-bit digest of an encapsulated key that the stores remember."""
    return hashes.digest("SHA-256", b"pqml ohttp replay nonce\x00" + enc)[:NONCE_BYTES]


def http_date(when: float) -> str:
    """``when`` (Unix seconds) as an HTTP IMF-fixdate, e.g. for the response's ``Date``."""
    from datetime import UTC, datetime

    return format_datetime(datetime.fromtimestamp(int(when), UTC), usegmt=True)


def parse_http_date(value: str | bytes) -> float:
    """Unix seconds of an HTTP date (IMF-fixdate or the two obsolete forms RFC 9110 allows
    recipients to read); :class:`RequestDateError` if it is none of them."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise RequestDateError("the request's Date is not ASCII") from None
    if len(value) > _MAX_DATE_LENGTH:
        raise RequestDateError("the request's Date is too long to be an HTTP date")
    return _parse_date_text(value)


@lru_cache(maxsize=256)
def _parse_date_text(value: str) -> float:
    # Cached: clients stamp whole seconds, so a busy gateway sees the same few values.
    # Errors are not cached (lru_cache does not keep exceptions).
    if not value.isprintable():
        raise RequestDateError("the request's Date is not an HTTP date")
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise RequestDateError("the request's Date is not an HTTP date") from None
    if parsed.tzinfo is None:  # "-0000" or no zone: RFC 9110 dates are always GMT
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError, OSError):
        raise RequestDateError("the request's Date is out of range") from None


@dataclass(frozen=True)
class DateWindow:
    """How far a request's ``Date`` may be from the gateway's clock (seconds, each way).

    ``required`` refuses requests without a ``Date``: without one, a request captured now
    could be replayed once its nonce has expired from the store.
    """

    past: float = DEFAULT_WINDOW
    future: float = DEFAULT_WINDOW
    required: bool = True

    def __post_init__(self) -> None:
        if not (self.past >= 0 and self.future >= 0):
            raise ValueError("a Date window cannot be negative")

    @property
    def retention(self) -> float:
        """How long a nonce must be remembered: a Date accepted now stays acceptable for
        at most ``past + future`` seconds."""
        return self.past + self.future

    def check(self, date: str | bytes | None, now: float) -> None:
        """Accept ``date`` (the inner request's Date, or None) at gateway time ``now``."""
        if date is None:
            if self.required:
                raise RequestDateError("the request has no Date; the gateway requires one")
            return
        when = parse_http_date(date)
        if when < now - self.past:
            raise RequestDateError("the request's Date is too far in the past")
        if when > now + self.future:
            raise RequestDateError("the request's Date is too far in the future")


class ReplayStore(Protocol):
    """Remembers nonces; ``claim`` is atomic: of two concurrent claims of one nonce,
    exactly one succeeds."""

    async def claim(self, nonce: bytes, ttl: float) -> bool:
        """True if ``nonce`` was not seen within its lifetime (and records it for ``ttl``
        seconds); False if it was: the request is a replay."""
        ...

    async def aclose(self) -> None: ...


class MemoryReplayStore:
    """Nonces of one process, bounded and expiring.

    Entries expire after their ttl; when ``max_entries`` unexpired nonces are held, new
    requests are refused (:class:`ReplayStoreError`, a 503) rather than forgetting a live
    nonce, which would reopen the replay it guards against.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        heap, expiry = self._heap, self._expiry
        while heap and heap[0][0] <= now:
            when, nonce = heapq.heappop(heap)
            if expiry.get(nonce) == when:
                del expiry[nonce]

    def claim_now(self, nonce: bytes, ttl: float) -> bool:
        """The synchronous form of :meth:`claim`."""
        with self._lock:
            now = self._clock()
            self._purge(now)
            if nonce in self._expiry:
                return False
            if len(self._expiry) >= self.max_entries:
                raise ReplayStoreError(
                    f"the replay cache holds {self.max_entries} live nonces; "
                    "refusing new requests until some expire")
            when = now + ttl
            self._expiry[nonce] = when
            heapq.heappush(self._heap, (when, nonce))
            return True

    async def claim(self, nonce: bytes, ttl: float) -> bool:
        return self.claim_now(nonce, ttl)

    async def aclose(self) -> None:
        return None


class RedisReplayStore:
    """Nonces in a Redis shared by every replica of a gateway.

    ``SET key 1 NX PX ttl`` is one atomic command: of replicas racing on one nonce exactly
    one gets OK. An unreachable Redis fails closed (:class:`ReplayStoreError`, a 503): no
    request is forwarded that could not be checked.
    """

    def __init__(self, url: str, *, prefix: str = "pqml:ohttp:replay:",
                 timeout: float = 2.0, client: Any = None) -> None:
        self.url = url
        self.prefix = prefix.encode()
        self._timeout = timeout
        self._client = client

    def _redis(self) -> Any:
        if self._client is None:
            try:
                import redis.asyncio as aioredis
            except ImportError:
                from pqml.primitives.errors import UnavailableAlgorithmError

                raise UnavailableAlgorithmError(
                    "a Redis replay cache needs the redis package: "
                    "pip install 'pqml[redis]'") from None
            self._client = aioredis.Redis.from_url(
                self.url, socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout)
        return self._client

    async def claim(self, nonce: bytes, ttl: float) -> bool:
        from redis.exceptions import RedisError

        client = self._redis()
        try:
            done = await client.set(self.prefix + nonce.hex().encode(), b"1",
                                    nx=True, px=max(1, int(ttl * 1000)))
        except (RedisError, OSError) as exc:
            raise ReplayStoreError(
                f"the Redis replay cache is unreachable ({type(exc).__name__})") from None
        return bool(done)

    async def ping(self) -> None:
        """Check the connection now (at start-up) rather than on the first request."""
        from redis.exceptions import RedisError

        try:
            await self._redis().ping()
        except (RedisError, OSError) as exc:
            raise ReplayStoreError(
                f"the Redis replay cache at {_redacted(self.url)} is unreachable "
                f"({type(exc).__name__})") from None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _redacted(url: str) -> str:
    """``url`` without a password (redis://user:secret@host → redis://user:***@host)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def open_store(url: str | None, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> ReplayStore:
    """A Redis store for ``redis://`` / ``rediss://`` / ``unix://`` URLs, else (None) the
    in-process one."""
    if url is None:
        return MemoryReplayStore(max_entries)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"not a Redis URL: {_redacted(url)}")
    return RedisReplayStore(url)


class ReplayGuard:
    """The gateway's replay check: Date window first (cheap, no state), then the nonce."""

    def __init__(self, store: ReplayStore | None = None, window: DateWindow | None = None,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.store: ReplayStore = store if store is not None else MemoryReplayStore()
        self.window = window or DateWindow()
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    async def check(self, enc: bytes, date: str | bytes | None) -> None:
        """Accept a decrypted request whose encapsulated key is ``enc`` and whose inner
        Date is ``date``; :class:`RequestDateError` or :class:`ReplayedRequestError` if not."""
        self.window.check(date, self.now())
        if not await self.store.claim(nonce_of(enc), self.window.retention):
            raise ReplayedRequestError("this encapsulated request was already received")

    async def aclose(self) -> None:
        await self.store.aclose()
