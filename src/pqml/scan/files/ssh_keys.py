"""SSH keys: authorized_keys / known_hosts / *.pub lines, OpenSSH and PuTTY private keys.

The key blob (RFC 4253 wire format) is read directly: its first string names the type and,
for RSA and DSA, the following mpints give the modulus size. An encrypted OpenSSH private
key still carries its public key in clear, so its type and size are reported without the
passphrase. Public keys are matched by type name followed by an ``AAAA`` base64 blob whose
embedded type agrees, which keeps ordinary prose ("use ssh-rsa keys") out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from pqml.scan.files.cipher_suites import ssh_algorithm
from pqml.scan.model import Finding

_TYPES = (r"ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp(?:256|384|521)"
          r"|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com")
PUBKEY = re.compile(
    rf"(?<![\w-])((?:{_TYPES})(?:-cert-v01@openssh\.com)?)[ \t]+(AAAA[A-Za-z0-9+/]{{20,}}={{0,3}})"
)
_PUTTY = re.compile(r"^PuTTY-User-Key-File-\d+: (\S+)", re.M)


@dataclass(frozen=True, slots=True)
class SshKeyInfo:
    algorithm: str
    parameter: str | None
    private: bool
    fingerprint: str
    encrypted: bool = False
    ssh_type: str = ""


def _read_string(blob: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(blob):
        raise ValueError("truncated")
    n = int.from_bytes(blob[pos:pos + 4], "big")
    end = pos + 4 + n
    if end > len(blob):
        raise ValueError("truncated")
    return blob[pos + 4:end], end


def describe_blob(blob: bytes, private: bool = False) -> SshKeyInfo | None:
    """Type and size of an SSH public key blob."""
    try:
        ssh_type_b, pos = _read_string(blob, 0)
        ssh_type = ssh_type_b.decode("ascii")
        sel = ssh_algorithm(ssh_type)
        if sel is None:
            return None
        param = sel.parameter
        if ssh_type.endswith("-cert-v01@openssh.com"):
            _nonce, pos = _read_string(blob, pos)
        if sel.algorithm == "RSA":
            _e, pos = _read_string(blob, pos)
            n, pos = _read_string(blob, pos)
            param = str(int.from_bytes(n, "big").bit_length())
        elif sel.algorithm == "DSA":
            p, pos = _read_string(blob, pos)
            param = str(int.from_bytes(p, "big").bit_length())
    except (ValueError, UnicodeDecodeError):
        return None
    fp = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return SshKeyInfo(sel.algorithm, param, private, f"SHA256:{fp}", ssh_type=ssh_type)


def describe_openssh_private(data: bytes) -> SshKeyInfo | None:
    """``openssh-key-v1``: cipher, KDF, then the public key in clear."""
    magic = b"openssh-key-v1\x00"
    if not data.startswith(magic):
        return None
    try:
        cipher, pos = _read_string(data, len(magic))
        _kdf, pos = _read_string(data, pos)
        _kdf_opts, pos = _read_string(data, pos)
        pos += 4  # number of keys
        public, pos = _read_string(data, pos)
    except ValueError:
        return None
    info = describe_blob(public, private=True)
    if info is None:
        return None
    return SshKeyInfo(info.algorithm, info.parameter, True, info.fingerprint,
                      encrypted=cipher != b"none", ssh_type=info.ssh_type)


def findings(text: str, path: str, role: str | None = None) -> list[Finding]:
    """SSH public keys (any text) and PuTTY private keys in ``text``."""
    from pqml.scan.files.pem import key_finding

    out: list[Finding] = []
    if "AAAA" in text:
        for m in PUBKEY.finditer(text):
            try:
                blob = base64.b64decode(m.group(2), validate=True)
            except (binascii.Error, ValueError):
                continue
            info = describe_blob(blob)
            if info is None or info.ssh_type != m.group(1):  # the blob must agree
                continue
            line = text.count("\n", 0, m.start()) + 1
            line_text = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0]
            details = {"ssh_type": info.ssh_type, "key_fingerprint": info.fingerprint}
            if role:
                details["role"] = role
            out.append(key_finding(info.algorithm, info.parameter, False, path, line,
                                   line_text.strip()[:240], "ssh-key", details))
    if text.startswith("PuTTY-User-Key-File"):
        m = _PUTTY.search(text)
        sel = ssh_algorithm(m.group(1)) if m else None
        if sel is not None:
            encrypted = "Encryption: none" not in text
            out.append(key_finding(sel.algorithm, sel.parameter, True, path, 1,
                                   text.split("\n", 1)[0][:240], "ssh-key",
                                   {"ssh_type": m.group(1) if m else "", "putty": True,
                                    "encrypted": encrypted}))
    return out
