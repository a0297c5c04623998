"""Rotate the feature-store encryption keys without downtime."""

from __future__ import annotations

from cryptography.fernet import Fernet, MultiFernet


class KeyRing:
    def __init__(self, keys: list[bytes]) -> None:
        self._fernets = [Fernet(k) for k in keys]
        self._multi = MultiFernet(self._fernets)

    def rotate(self, token: bytes) -> bytes:
        return self._multi.rotate(token)

    @staticmethod
    def fresh() -> bytes:
        return Fernet.generate_key()
