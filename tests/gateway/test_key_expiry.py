"""Signed key configurations carry a not-after: clients refuse an expired one with a typed
error after one refetch, never cache past it, and the gateway re-signs before it passes."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
from test_client import GATEWAY, PINNED, SIGNER, GatewayDouble, _client
from test_middleware import settled

from pqml.formats.ohttp import decode_key_configs
from pqml.gateway.client import SIGNATURE_HEADER, OHTTPTransport, sign_key_config
from pqml.gateway.errors import KeyConfigExpiredError, KeyConfigSignatureError
from pqml.gateway.key_configs import KeyStore, build_key_set
from pqml.gateway.key_trust import signature_not_after, verify_key_config


def test_not_after_is_signed_and_checked() -> None:
    body = GatewayDouble().configs()
    signature = sign_key_config(body, SIGNER, not_after=2_000_000_000)  # type: ignore[arg-type]
    assert signature_not_after(signature) == 2_000_000_000
    assert verify_key_config(body, signature, PINNED, now=1_999_999_999)
    with pytest.raises(KeyConfigExpiredError) as caught:
        verify_key_config(body, signature, PINNED, now=2_000_000_000)
    assert caught.value.not_after == 2_000_000_000
    assert isinstance(caught.value, KeyConfigSignatureError)  # not trusted, like a bad one
    # moving the not-after forward breaks the signature: it is covered, not just carried
    later = (2_100_000_000).to_bytes(8, "big") + signature[8:]
    with pytest.raises(KeyConfigSignatureError) as forged:
        verify_key_config(body, later, PINNED, now=0)
    assert not isinstance(forged.value, KeyConfigExpiredError)
    with pytest.raises(KeyConfigSignatureError, match="too short"):
        verify_key_config(body, signature[:8], PINNED)


def test_default_validity_is_in_the_future() -> None:
    body = GatewayDouble().configs()
    stamp = signature_not_after(sign_key_config(body, SIGNER))  # type: ignore[arg-type]
    assert time.time() + 3600 < stamp <= time.time() + 2 * 24 * 3600


class ExpiringGateway(GatewayDouble):
    """Hands out configs signed with the not-afters queued in ``not_afters``."""

    def __init__(self, *not_afters: float) -> None:
        super().__init__()
        self.not_afters = list(not_afters)
        self.revalidations = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and self.not_afters:
            self.revalidations += request.headers.get("cache-control") == "no-cache"
            self.signature_override = sign_key_config(
                self.configs(), self.signer, not_after=self.not_afters.pop(0))
        return super().handle(request)


def test_client_refetches_an_expired_config_once() -> None:
    gateway = ExpiringGateway(time.time() - 10, time.time() + 3600)
    with _client(gateway) as client:
        assert client.get("/ping").status_code == 200
    assert gateway.key_fetches == 2 and gateway.revalidations == 1


def test_client_refuses_a_config_that_stays_expired() -> None:
    gateway = ExpiringGateway(time.time() - 10, time.time() - 5)
    with _client(gateway) as client, pytest.raises(KeyConfigExpiredError):
        client.get("/ping")
    assert gateway.key_fetches == 2 and gateway.posts == 0  # nothing sent to a stale key


def test_async_client_refuses_a_config_that_stays_expired() -> None:
    import asyncio

    from pqml.gateway.client import AsyncOHTTPTransport

    gateway = ExpiringGateway(time.time() - 10, time.time() - 5)

    async def run() -> None:
        transport = AsyncOHTTPTransport(GATEWAY, pinned_key=PINNED,
                                        transport=httpx.MockTransport(gateway.ahandle))
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            with pytest.raises(KeyConfigExpiredError):
                await client.get("/ping")

    asyncio.run(run())
    assert gateway.key_fetches == 2 and gateway.posts == 0


def test_client_does_not_cache_past_the_not_after() -> None:
    # max-age=60, but the signature runs out in 2 s: the cache must not outlive it
    gateway = ExpiringGateway(time.time() + 2, time.time() + 3600)
    transport = OHTTPTransport(GATEWAY, pinned_key=PINNED,
                               transport=httpx.MockTransport(gateway.handle))
    transport.key_configs()
    cached = transport._settings.cached
    assert cached is not None and cached.expires <= time.monotonic() + 2


# ---- the gateway side ----------------------------------------------------------------------


def _signed_store(clock: list[float], validity: float) -> KeyStore:
    from gateway_support import key_set

    return KeyStore(key_set(), signer=SIGNER, signature_validity=validity,  # type: ignore
                    reload_interval=0, clock=lambda: clock[0])


def test_key_store_signs_a_fixed_set_and_resigns_at_half_validity() -> None:
    clock = [1_000_000.0]
    store = _signed_store(clock, 100)
    first = store.current()
    assert first.signature is not None and signature_not_after(first.signature) == 1_000_100
    verify_key_config(first.body, first.signature, PINNED, now=clock[0])
    clock[0] += 49  # before half-life: kept
    assert settled(store) is first
    clock[0] += 2  # past half-life: signed again, valid another 100 s
    again = settled(store)
    assert again is not first and again.body == first.body
    assert again.signature is not None
    assert signature_not_after(again.signature) == 1_000_151
    verify_key_config(again.body, again.signature, PINNED, now=clock[0] + 60)


def test_served_signature_header_verifies_with_expiry() -> None:
    from gateway_support import key_set
    from test_middleware import call

    from pqml.gateway.middleware import OHTTPMiddleware

    keys = key_set(signer=SIGNER)
    status, headers, body = call(OHTTPMiddleware(_noop, keys), "GET", media=None)
    assert status == 200
    signature = base64.b64decode(headers[SIGNATURE_HEADER.encode()])
    configs = verify_key_config(body, signature, PINNED)
    assert configs == decode_key_configs(body)[0]


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the key configuration is answered by the gateway itself")


def test_build_key_set_without_signer_has_no_expiry() -> None:
    from gateway_support import key_set

    keys = key_set()
    assert keys.signature is None and keys.signature_expires is None
    assert not keys.resign_due(1e12)
    signed = build_key_set([(k.entry, k.server_key.private_key) for k in keys.keys.values()],
                           signer=SIGNER, now=5000.0, signature_validity=10)  # type: ignore
    assert signed.signed_at == 5000.0 and signed.signature_expires == 5010.0
    assert signed.resign_due(5005.0) and not signed.resign_due(5004.9)


def test_served_max_age_never_outlives_the_signature() -> None:
    from test_middleware import call

    from pqml.gateway.middleware import OHTTPMiddleware

    clock = [1_000_000.0]
    app = OHTTPMiddleware(_noop, _signed_store(clock, 100), config_max_age=300)
    status, headers, _ = call(app, "GET", media=None)
    assert status == 200 and headers[b"cache-control"] == b"max-age=100"
