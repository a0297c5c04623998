"""Reverse tunnel for notebooks on the GPU cluster."""

import asyncssh


async def ephemeral_client_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-rsa", key_size=3072)


async def ed_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")
