"""RFC 9457 problem details the gateway answers with, and sending them over ASGI.

Every refusal is a small ``application/problem+json`` body with a fixed title: never the
exception text of a parser or a decryption (it could echo request bytes), never a
traceback. RFC 9458 defines two problem types (``ohttp-key`` for a key configuration the
gateway does not have, ``date`` for a request outside its Date window); other refusals use
``about:blank`` with the status code's meaning, as RFC 9457 §4.2.1 prescribes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from pqml.formats.ohttp import DATE_PROBLEM_TYPE, KEY_PROBLEM_TYPE

PROBLEM_MEDIA_TYPE = "application/problem+json"
BLANK = "about:blank"

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Problem:
    status: int
    title: str
    type: str = BLANK

    def body(self) -> bytes:
        return json.dumps({"type": self.type, "title": self.title,
                           "status": self.status}).encode()

    def headers(self, extra: Iterable[tuple[bytes, bytes]] = ()) -> list[tuple[bytes, bytes]]:
        body = self.body()
        return [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"), *extra]


# Outside the encapsulation (the relay sees them; none says anything about the content).
KEY_UNKNOWN = Problem(422, "key configuration unknown or outdated; fetch it again",
                      KEY_PROBLEM_TYPE)
MALFORMED = Problem(400, "malformed encapsulated request")
UNDECRYPTABLE = Problem(400, "encapsulated request does not decrypt")
REPLAYED = Problem(400, "replayed request")
TOO_LARGE = Problem(413, "encapsulated request too large")
MEDIA_TYPE = Problem(415, "expected message/ohttp-req or message/ohttp-chunked-req")
METHOD = Problem(405, "method not allowed here")
NOT_ACCEPTABLE = Problem(406, "the gateway answers key configurations as "
                              "application/ohttp-keys only")
TIMEOUT = Problem(408, "the encapsulated request did not arrive in time")
UNAVAILABLE = Problem(503, "the gateway cannot check requests for replay now; retry later")
INTERNAL = Problem(500, "the gateway failed to handle the request")
# Inside the encapsulation (only the client reads them).
DATE = Problem(400, "date field in request outside of acceptable range", DATE_PROBLEM_TYPE)
INNER_MALFORMED = Problem(400, "malformed Binary HTTP request")
UPSTREAM_UNREACHABLE = Problem(502, "the upstream service did not answer")
UPSTREAM_TIMEOUT = Problem(504, "the upstream service did not answer in time")


async def send_problem(send: Send, problem: Problem,
                       extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": problem.status,
                "headers": problem.headers(extra)})
    await send({"type": "http.response.body", "body": problem.body()})
