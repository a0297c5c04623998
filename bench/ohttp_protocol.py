"""Oblivious HTTP protocol costs, in process (no network): what pqml adds per request.

Run: .venv/bin/python bench/ohttp_protocol.py [--repeat 200] [--json OUT]

For each suite (X-Wing, ML-KEM-768, ML-KEM-1024 with HKDF-SHA256 / AES-256-GCM; X25519 as the
classical baseline) and body size (1 KiB, 64 KiB): the client's request encapsulation, the
gateway's decapsulation, its response encapsulation, the client's response decapsulation,
and the four together; plus Binary HTTP encode + decode of the same bodies, and chunked
OHTTP streaming (a 500-token answer, 8 bytes a token: per-token seal + open). Medians of
--repeat runs, interleaved round-robin so drift hits every case alike. Prints Markdown for
docs/PERFORMANCE.md with the command, machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pqml.formats import bhttp
from pqml.gateway import ohttp
from pqml.gateway.chunked import ChunkedRequestReader, ChunkedRequestSender

SUITES = [ohttp.XWING, ohttp.MLKEM768, ohttp.MLKEM1024, ohttp.X25519_LEGACY]
SIZES = {"1 KiB": 1024, "64 KiB": 64 * 1024}
TOKENS = 500


def _cases() -> dict[str, Callable[[], object]]:
    cases: dict[str, Callable[[], object]] = {}
    for suite in SUITES:
        key = ohttp.ServerKey.generate(1, suite, allow_legacy=True)
        for label, size in SIZES.items():
            request = bhttp.encode_request(bhttp.Request("POST", "https", "model.internal",
                                                         "/v1/completions", content=b"p" * size))
            response = bhttp.encode_response(bhttp.Response(200, content=b"r" * size))
            enc_request, client = ohttp.encapsulate_request(key.config, request,
                                                            allow_legacy=True)
            _, server = key.decapsulate_request(enc_request)
            enc_response = server.encapsulate_response(response)

            def seal_request(key=key, request=request):  # type: ignore[no-untyped-def]
                return ohttp.encapsulate_request(key.config, request, allow_legacy=True)

            def open_request(key=key, enc_request=enc_request):  # type: ignore[no-untyped-def]
                return key.decapsulate_request(enc_request)

            def seal_response(key=key, enc_request=enc_request,  # type: ignore[no-untyped-def]
                              response=response):
                return key.decapsulate_request(enc_request)[1].encapsulate_response(response)

            def open_response(key=key, request=request,  # type: ignore[no-untyped-def]
                              response=response):
                enc, ctx = ohttp.encapsulate_request(key.config, request, allow_legacy=True)
                answer = key.decapsulate_request(enc)[1].encapsulate_response(response)
                return ctx.decapsulate_response(answer)

            name = f"{suite.name} {label}"
            cases[f"{name}: client seal request"] = seal_request
            cases[f"{name}: gateway open request"] = open_request
            cases[f"{name}: gateway open + seal response"] = seal_response
            cases[f"{name}: full exchange"] = open_response
            del client, enc_response
    for label, size in SIZES.items():
        message = bhttp.Request("POST", "https", "model.internal", "/v1/completions",
                                ((b"content-type", b"application/json"),), b"p" * size)
        cases[f"Binary HTTP encode + decode {label}"] = (
            lambda message=message: bhttp.decode_request(bhttp.encode_request(message)))
    key = ohttp.ServerKey.generate(1)

    def stream() -> None:
        sender = ChunkedRequestSender(key.config)
        reader = ChunkedRequestReader(key)
        reader.feed(sender.encapsulate([b"prompt"]))
        reader.close()
        writer = reader.response_writer()
        client = sender.response_reader()
        client.feed(writer.start())
        for _ in range(TOKENS):
            client.feed(writer.seal(b"token-01"))
        client.feed(writer.seal_final())
        client.close()

    cases[f"chunked OHTTP X-Wing: {TOKENS}-token stream"] = stream
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--json", help="write the medians (seconds) here")
    args = parser.parse_args()
    cases = _cases()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print("### Oblivious HTTP protocol costs (in process)\n")
    print(f"Command: `.venv/bin/python bench/ohttp_protocol.py --repeat {args.repeat}`  ")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
          f"Python {sys.version.split()[0]}  ")
    print(f"Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n")
    print("| case | median | vs X25519 |")
    print("|---|---:|---:|")
    for name, median in medians.items():
        ratio = ""
        for suite in SUITES[:-1]:
            if name.startswith(suite.name + " "):
                base = medians.get(name.replace(suite.name, "X25519", 1))
                if base:
                    ratio = f"{median / base:.2f}x"
        if name.startswith("chunked"):
            per_token = median / TOKENS * 1e6
            print(f"| {name} | {median * 1e3:.2f} ms ({per_token:.1f} µs/token) | |")
        else:
            print(f"| {name} | {median * 1e6:.0f} µs | {ratio} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(medians, f, indent=2)


if __name__ == "__main__":
    main()
