"""A model-inference API whose weights exist in clear only in memory, reached through an
Oblivious HTTP gateway so that its queries are readable only by this service.

    python examples/inference_service/service.py --model MODEL.safetensors.pqml \\
        --identity service.key [--host 127.0.0.1] [--port 9000] \\
        [--gateway-keys DIR [--signing-key KEY]]

The weights are read with ``pqml.safetensors.safe_open`` from the encrypted file (decrypted
chunk by chunk into memory, never to disk). Two ways to put it behind Oblivious HTTP:

- ``pqml gateway --upstream http://127.0.0.1:9000 --keys DIR`` in front of it (the service
  listens on loopback only), as the demo script does;
- ``--gateway-keys DIR``: the service wraps itself in :class:`pqml.gateway.middleware.
  OHTTPMiddleware`, one process, nothing in clear even on loopback.

Endpoints (JSON): ``GET /v1/model`` (shape, labels), ``POST /v1/infer`` with
``{"inputs": [[16 numbers], ...]}`` → scores and labels, ``POST /v1/generate`` with
``{"inputs": [16 numbers], "tokens": n}`` → a text stream, one token at a time (what a
chunked OHTTP client reads as it arrives).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

MAX_BATCH = 1024
MAX_TOKENS = 256


def load_weights(model: str | Path, identity: str | Path) -> tuple[dict[str, np.ndarray],
                                                                    dict[str, str]]:
    """Decrypt the model's tensors into memory (the plaintext never reaches the disk)."""
    import pqml.safetensors

    with pqml.safetensors.safe_open(model, [str(identity)], framework="numpy") as f:
        weights = {name: np.array(f.get_tensor(name)) for name in f.keys()}  # noqa: SIM118
        metadata = dict(f.metadata() or {})
    return weights, metadata


def create_app(model: str | Path, identity: str | Path, *,
               gateway_keys: str | Path | None = None, signer: Any = None) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    weights, metadata = load_weights(model, identity)
    weight, bias = weights["linear.weight"], weights["linear.bias"]
    labels = metadata.get("labels", "").split(",")

    def scores(inputs: Any) -> np.ndarray:
        x = np.asarray(inputs, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != weight.shape[1] or not 0 < x.shape[0] <= MAX_BATCH:
            raise ValueError(f"inputs must be a list of 1..{MAX_BATCH} rows of "
                             f"{weight.shape[1]} numbers")
        return x @ weight.T + bias

    async def read_json(request: Request) -> dict[str, Any]:
        try:
            doc = json.loads(await request.body())
        except ValueError:
            raise ValueError("body is not JSON") from None
        if not isinstance(doc, dict):
            raise ValueError("body must be a JSON object")
        return doc

    async def info(request: Request) -> JSONResponse:
        return JSONResponse({"inputs": int(weight.shape[1]), "classes": int(weight.shape[0]),
                             "labels": labels, "tensors": sorted(weights)})

    async def infer(request: Request) -> JSONResponse:
        try:
            out = scores((await read_json(request)).get("inputs"))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        best = out.argmax(axis=1)
        return JSONResponse({"scores": out.tolist(),
                             "labels": [labels[i] if i < len(labels) else str(i)
                                        for i in best]})

    async def generate(request: Request) -> Any:
        try:
            doc = await read_json(request)
            x = np.asarray([doc.get("inputs")], dtype=np.float32)
            count = int(doc.get("tokens", 8))
            if not 0 < count <= MAX_TOKENS:
                raise ValueError(f"tokens must be 1..{MAX_TOKENS}")
            scores(x)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)

        async def tokens() -> Any:
            state = x
            for _ in range(count):  # a toy "decoder": feed each step's scores back in
                out = scores(state)[0]
                yield (labels[int(out.argmax())] + " ").encode()
                state = np.roll(state, 1) + np.resize(out, state.shape) * 0.1
                await asyncio.sleep(0)

        return StreamingResponse(tokens(), media_type="text/plain")

    app: Any = Starlette(routes=[Route("/v1/model", info),
                                 Route("/v1/infer", infer, methods=["POST"]),
                                 Route("/v1/generate", generate, methods=["POST"])])
    if gateway_keys is not None:
        from pqml.gateway.key_configs import GatewayKeys
        from pqml.gateway.middleware import OHTTPMiddleware

        app = OHTTPMiddleware(app, GatewayKeys(gateway_keys), signer=signer)
    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="encrypted safetensors file")
    parser.add_argument("--identity", required=True, help="the service's private key file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--gateway-keys", help="serve through OHTTP in this process")
    parser.add_argument("--signing-key", help="ML-DSA key signing the key configurations")
    args = parser.parse_args(argv)
    signer = None
    if args.signing_key:
        from pqml.keys import key_files

        signer = key_files.load_private(args.signing_key)
    app = create_app(args.model, args.identity, gateway_keys=args.gateway_keys,
                     signer=signer)
    import uvicorn

    print(f"inference service: model loaded, serving http://{args.host}:{args.port}",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
