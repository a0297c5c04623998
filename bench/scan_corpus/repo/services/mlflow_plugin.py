"""MLflow artifact repository that talks to the object store over mutual TLS."""

from __future__ import annotations

import http.client
import ssl


class MTLSArtifactRepository:
    def __init__(self, host: str, cert: str, key: str, ca: str) -> None:
        self.host = host
        self.context = ssl.create_default_context(cafile=ca)
        self.context.load_cert_chain(cert, key)

    def put(self, path: str, data: bytes) -> int:
        conn = http.client.HTTPSConnection(self.host, context=self.context)
        conn.request("PUT", path, body=data)
        return conn.getresponse().status
