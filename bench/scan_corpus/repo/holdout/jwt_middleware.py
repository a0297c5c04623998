"""Starlette middleware validating gateway tokens."""

import jwt
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse

_decoder = jwt.PyJWT()


class GatewayAuth(BaseHTTPMiddleware):
    def __init__(self, app, public_key: str, audience: str) -> None:
        super().__init__(app)
        self.public_key = public_key
        self.audience = audience

    async def dispatch(self, request, call_next):
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            request.state.claims = _decoder.decode(token, self.public_key,
                                                   algorithms=["ES512"],
                                                   audience=self.audience)
        except jwt.InvalidTokenError:
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        return await call_next(request)


def service_token(private_key: str, claims: dict) -> str:
    return jwt.encode(claims, private_key, algorithm="PS512")
