"""Ray Serve deployment guarded by HMAC-signed requests."""

import hashlib
import hmac
import time

from ray import serve

MAX_SKEW = 30


@serve.deployment
class Scorer:
    def __init__(self, shared_secret: bytes) -> None:
        self.secret = shared_secret

    def _valid(self, body: bytes, ts: str, sig: str) -> bool:
        if abs(time.time() - int(ts)) > MAX_SKEW:
            return False
        expected = hmac.new(self.secret, ts.encode() + body, hashlib.sha384).hexdigest()
        return hmac.compare_digest(expected, sig)

    async def __call__(self, request):
        body = await request.body()
        if not self._valid(body, request.headers["x-ts"], request.headers["x-sig"]):
            return {"error": "bad signature"}
        return {"score": len(body)}
