"""HTTP client with pinned TLS settings for the feature store."""

from __future__ import annotations

import socket
import ssl

import requests
from requests.adapters import HTTPAdapter

FEATURE_STORE_CIPHERS = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:!aNULL:!MD5"


class PinnedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        ctx = ssl.create_default_context(cafile="/etc/ml/ca.pem")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(FEATURE_STORE_CIPHERS)
        kwargs["ssl_context"] = ctx
        return super().init_poolmanager(*args, **kwargs)


def session() -> requests.Session:
    s = requests.Session()
    s.mount("https://", PinnedAdapter())
    return s


def legacy_probe(host: str, port: int = 443) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port)) as sock, ctx.wrap_socket(sock) as tls:
        return tls.version() or ""
