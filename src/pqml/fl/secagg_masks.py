"""The arithmetic of secure aggregation: quantisation to integers modulo 2**k and masks.

Quantisation follows Flower's SecAgg+ exactly (``flwr.common.secure_aggregation``): clip to
[-c, c], shift and scale to [0, Q], round stochastically (unbiased), add modulo 2**k; the
server shifts and scales the sum back. Keeping its arithmetic keeps the aggregate equal to
what SecAgg+ gives for the same inputs.

Masks are where this module departs from SecAgg+, whose generator folds its 32-byte seed to
32 bits and draws from ``np.random.RandomState`` (Mersenne Twister: 2**32 possible masks,
and its state is recoverable from its output; Flower issue #7522). Here a mask is the
AES-256-CTR keystream under a key that HKDF-SHA-256 derives from the whole 256-bit seed and
a context naming the round and the nodes. The keystream comes from pqml.primitives'
AES-256-GCM sealing zero bytes: GCM's ciphertext is the plaintext XOR the CTR keystream
that starts at counter block inc32(J0) (NIST SP 800-38D §7.1), so zeros in give the
AES-256-CTR keystream out, at about 3 GB/s here. Each mask key is used once, so the
all-zero nonce is safe. Keystream words are read as unsigned integers and reduced modulo
2**k by masking off high bits — exact and unbiased because 2**k divides the word size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pqml.fl.errors import SecAggConfigError
from pqml.primitives.symmetric import AES256GCMKey, hkdf_sha256

if TYPE_CHECKING:
    import numpy as np

MASK_SALT = b"pqml-fl-secagg/v1 mask"
_ZERO_NONCE = bytes(12)
_TAG = 16


class Field:
    """Integers modulo ``modulus`` (a power of two, 2**1 to 2**64), held in the smallest
    unsigned numpy type that wraps at a multiple of it (uint32 or uint64)."""

    def __init__(self, modulus: int) -> None:
        if modulus < 2 or modulus > 1 << 64 or modulus & (modulus - 1):
            raise SecAggConfigError(f"modulus must be a power of two in 2..2**64, got {modulus}")
        import numpy as np

        self.modulus = modulus
        self.dtype: Any = np.uint32 if modulus <= 1 << 32 else np.uint64
        self._bits = self.dtype(modulus - 1)
        self.word_size = np.dtype(self.dtype).itemsize

    def reduce(self, values: np.ndarray) -> np.ndarray:
        """``values`` (already of this field's dtype, wrapped) reduced into [0, modulus)."""
        values &= self._bits
        return values

    def mask(self, seed: bytes, context: bytes, length: int) -> np.ndarray:
        """``length`` field elements of the AES-256-CTR keystream under HKDF(seed, context).

        ``seed`` must be 32 uniformly random bytes (a self-mask seed or a pairwise seed);
        ``context`` must be unique per use (round, purpose, node ids), so no key repeats.
        """
        import numpy as np

        if len(seed) != 32:
            raise SecAggConfigError(f"mask seed must be 32 bytes, got {len(seed)}")
        key = AES256GCMKey(hkdf_sha256(seed, MASK_SALT, context))
        size = length * self.word_size
        out = bytearray(size + _TAG)
        key.seal_into(_ZERO_NONCE, bytes(size), out)
        return self.reduce(np.frombuffer(out, dtype=self.dtype, count=length))


def quantize(values: np.ndarray, clipping_range: float, quantization_range: int,
             rng: np.random.Generator | None = None) -> np.ndarray:
    """Float values to integers in [0, quantization_range], as SecAgg+ does: clip to
    [-c, c], map linearly onto [0, Q], round stochastically (up with probability equal to
    the fractional part, so the rounding is unbiased). ``rng`` is rounding noise only; it
    guards nothing secret, so numpy's generator is the right tool."""
    import numpy as np

    rng = rng if rng is not None else np.random.default_rng()
    scaled = (np.clip(np.asarray(values, dtype=np.float64), -clipping_range, clipping_range)
              + clipping_range) * (quantization_range / (2 * clipping_range))
    rounded = np.ceil(scaled)
    rounded[rng.random(scaled.shape) < rounded - scaled] -= 1
    return rounded.astype(np.int64)


def dequantize(values: np.ndarray, clipping_range: float, quantization_range: int,
               summands: int = 1) -> np.ndarray:
    """The inverse map of :func:`quantize` for a sum of ``summands`` quantised values: each
    carried a shift of ``c``, so the sum carries ``summands * c`` (SecAgg+'s offset)."""
    import numpy as np

    return (np.asarray(values, dtype=np.float64) * (2 * clipping_range / quantization_range)
            - summands * clipping_range)
