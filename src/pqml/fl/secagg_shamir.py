"""Shamir secret sharing (Shamir 1979) over the prime field GF(2**521 - 1).

Secure aggregation shares two 32-byte secrets per client and round, so that the server can
rebuild them from ``threshold`` survivors and from no fewer. Shamir's scheme is a standard
algorithm, not a cryptographic primitive: a random polynomial of degree ``threshold - 1``
whose constant term is the secret, evaluated at x = 1..count; any ``threshold`` points give
the secret back by Lagrange interpolation at 0, fewer give no information about it (every
secret is equally likely). The randomness comes from :mod:`secrets` (the OS CSPRNG).

The Mersenne prime 2**521 - 1 holds any secret of up to 64 bytes in one field element, so a
share is ``x`` (2 bytes, big-endian) followed by ``y`` (66 bytes) — 68 bytes in all. Unlike
Flower's SecAgg+ (which shares 16-byte chunks), a share here carries no padding or length
to parse: the secret's size is a parameter of :func:`combine`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from pqml.fl.errors import SecAggConfigError, SecAggMessageError

PRIME = (1 << 521) - 1
_Y_SIZE = 66  # ceil(521 / 8)
SHARE_SIZE = 2 + _Y_SIZE
MAX_SECRET_SIZE = 64
MAX_SHARES = 0xFFFF


def split(secret: bytes, threshold: int, count: int) -> list[bytes]:
    """``count`` shares of ``secret``; any ``threshold`` of them rebuild it."""
    if not 0 < len(secret) <= MAX_SECRET_SIZE:
        raise SecAggConfigError(f"Shamir secret must be 1..{MAX_SECRET_SIZE} bytes, "
                                f"got {len(secret)}")
    if not 1 <= threshold <= count <= MAX_SHARES:
        raise SecAggConfigError(f"Shamir threshold {threshold} and share count {count} "
                                f"must satisfy 1 <= threshold <= count <= {MAX_SHARES}")
    coefficients = [int.from_bytes(secret, "big")]
    coefficients += [secrets.randbelow(PRIME) for _ in range(threshold - 1)]
    shares = []
    for x in range(1, count + 1):
        y = 0
        for coefficient in reversed(coefficients):  # Horner's rule
            y = (y * x + coefficient) % PRIME
        shares.append(x.to_bytes(2, "big") + y.to_bytes(_Y_SIZE, "big"))
    return shares


def share_index(share: bytes) -> int:
    """The x coordinate of ``share`` (1..count): which holder it belongs to."""
    return _parse(share)[0]


def combine(shares: Sequence[bytes], threshold: int, secret_size: int) -> bytes:
    """The secret of size ``secret_size`` from the first ``threshold`` of ``shares``.

    Raises SecAggMessageError for a malformed share or two shares with the same x, and
    SecAggConfigError when fewer than ``threshold`` shares are given. A wrong share (a
    valid point of another polynomial) cannot be detected here: it gives a wrong secret,
    which callers check against the owner's commitment.
    """
    if len(shares) < threshold or threshold < 1:
        raise SecAggConfigError(f"Shamir needs {threshold} shares, got {len(shares)}")
    points = [_parse(share) for share in shares[:threshold]]
    if len({x for x, _ in points}) != len(points):
        raise SecAggMessageError("Shamir shares repeat an index")
    secret = 0
    for i, (x_i, y_i) in enumerate(points):
        numerator, denominator = 1, 1
        for j, (x_j, _) in enumerate(points):
            if i != j:
                numerator = numerator * x_j % PRIME
                denominator = denominator * (x_j - x_i) % PRIME
        secret = (secret + y_i * numerator * pow(denominator, -1, PRIME)) % PRIME
    if secret >> (8 * secret_size):
        raise SecAggMessageError(f"Shamir shares do not combine to a {secret_size}-byte "
                                 f"secret (a share is wrong)")
    return secret.to_bytes(secret_size, "big")


def _parse(share: bytes) -> tuple[int, int]:
    if len(share) != SHARE_SIZE:
        raise SecAggMessageError(f"Shamir share must be {SHARE_SIZE} bytes, got {len(share)}")
    x, y = int.from_bytes(share[:2], "big"), int.from_bytes(share[2:], "big")
    if x == 0 or y >= PRIME:
        raise SecAggMessageError("Shamir share is outside the field")
    return x, y
