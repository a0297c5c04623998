"""Push trained models to edge boxes over SSH/SFTP."""

from __future__ import annotations

from pathlib import Path

import paramiko
from paramiko import DSSKey, ECDSAKey, Ed25519Key, RSAKey


def client(host: str, key_file: Path) -> paramiko.SSHClient:
    key = RSAKey.from_private_key_file(str(key_file))
    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    ssh.connect(host, username="deploy", pkey=key)
    return ssh


def edge_key(path: Path) -> Ed25519Key:
    return Ed25519Key.from_private_key_file(str(path))


def legacy_router_key(path: Path) -> DSSKey:
    return DSSKey.from_private_key_file(str(path))


def new_host_key() -> ECDSAKey:
    return ECDSAKey.generate(bits=384)


def new_rsa_key() -> RSAKey:
    return RSAKey.generate(bits=4096)


def upload(host: str, key_file: Path, local: Path, remote: str) -> None:
    transport = paramiko.Transport((host, 22))
    transport.connect(username="deploy", pkey=RSAKey.from_private_key_file(str(key_file)))
    sftp = paramiko.SFTPClient.from_transport(transport)
    sftp.put(str(local), remote)
    transport.close()
