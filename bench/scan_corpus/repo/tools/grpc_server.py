"""gRPC inference front-end with mutual TLS."""

from concurrent import futures
from pathlib import Path

import grpc


def serve(cert_dir: Path, port: int = 8443) -> grpc.Server:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    creds = grpc.ssl_server_credentials(
        [((cert_dir / "server.key").read_bytes(), (cert_dir / "server.crt").read_bytes())],
        root_certificates=(cert_dir / "ca.crt").read_bytes(),
        require_client_auth=True,
    )
    server.add_secure_port(f"[::]:{port}", creds)
    return server


def channel(target: str, ca: bytes) -> grpc.Channel:
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca))
