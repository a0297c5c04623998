"""Nightly sync of experiment logs to the archive host."""

import os

import paramiko


def open_session(host: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    key = paramiko.ECDSAKey.from_private_key_file(os.path.expanduser("~/.ssh/id_ecdsa"))
    client.connect(host, username="archiver", pkey=key, look_for_keys=False)
    return client
