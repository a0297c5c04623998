"""The key schedule keeps the public (mode, psk_id, info) context per suite: the results
must be exactly those of a fresh suite, for every mode, and the cache must stay bounded."""

from __future__ import annotations

import os

import pytest

from pqml.primitives import hpke
from pqml.primitives.errors import HPKEError

SUITE_IDS = (hpke.KEMId.DHKEM_X25519_HKDF_SHA256, hpke.KDFId.HKDF_SHA256,
             hpke.AEADId.AES_128_GCM)


def test_cached_schedule_equals_a_fresh_one_in_every_mode() -> None:
    warm = hpke.Suite(*SUITE_IDS)
    secret, psk, psk_id = os.urandom(32), os.urandom(32), b"id"
    for mode, p, pid in ((hpke.Mode.BASE, b"", b""), (hpke.Mode.PSK, psk, psk_id),
                         (hpke.Mode.AUTH, b"", b""), (hpke.Mode.AUTH_PSK, psk, psk_id)):
        for info in (b"", b"a", b"b"):
            first = warm.key_schedule(mode, secret, info, p, pid)
            again = warm.key_schedule(int(mode), secret, info, p, pid)  # from the cache
            fresh = hpke.Suite(*SUITE_IDS).key_schedule(mode, secret, info, p, pid)
            assert first == again == fresh
    # a different info or psk_id must not reuse another's context
    assert warm.key_schedule(hpke.Mode.BASE, secret, b"a", b"", b"") != \
        warm.key_schedule(hpke.Mode.BASE, secret, b"b", b"", b"")


def test_cache_is_bounded_and_checks_still_run() -> None:
    suite = hpke.Suite(*SUITE_IDS)
    for i in range(200):
        suite.key_schedule(hpke.Mode.BASE, b"s" * 32, b"info %d" % i, b"", b"")
    assert len(suite._contexts) <= hpke._CONTEXT_CACHE
    suite.key_schedule(hpke.Mode.PSK, b"s" * 32, b"", b"p" * 32, b"id")
    with pytest.raises(HPKEError, match="without a PSK"):  # cached context, checks intact
        suite.key_schedule(hpke.Mode.BASE, b"s" * 32, b"", b"p" * 32, b"id")
    with pytest.raises(HPKEError, match="unknown HPKE mode"):
        suite.key_schedule(7, b"s" * 32, b"", b"", b"")
