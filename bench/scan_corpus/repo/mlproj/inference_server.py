"""Inference API: JWT-authenticated, TLS-terminated in-process for the edge build."""

from __future__ import annotations

import ssl

import jwt
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException

app = FastAPI()
PUBLIC_KEY = open("/etc/ml/jwt-public.pem").read()  # noqa: SIM115


def caller(authorization: str = Header(...)) -> dict:
    token = authorization.removeprefix("Bearer ")
    try:
        return jwt.decode(token, PUBLIC_KEY, algorithms=["ES256"], audience="inference")
    except jwt.PyJWTError as exc:
        raise HTTPException(status_code=401, detail=str(exc)) from None


@app.post("/predict")
def predict(payload: dict, who: dict = Depends(caller)) -> dict:
    return {"score": 0.5, "caller": who.get("sub")}


def run() -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain("/etc/ml/tls.crt", "/etc/ml/tls.key")
    uvicorn.run(app, host="0.0.0.0", port=8443, ssl_certfile="/etc/ml/tls.crt",
                ssl_keyfile="/etc/ml/tls.key")
