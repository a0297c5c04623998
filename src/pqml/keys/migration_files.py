"""Migrating encrypted files (age v1, pqml/v1) from classical recipients: a header rewrite.

A file needs migrating when any recipient stanza is quantum-vulnerable (X25519, and age's
ssh-ed25519 / ssh-rsa): one such stanza lets a future quantum attacker recover the file
key from a recording of the file, whatever other stanzas it has. Files whose stanzas are
all post-quantum, or a passphrase alone (scrypt, Argon2id: symmetric), need nothing.

The migration is :func:`pqml.encryption.rekey.rekey` with ``reset``: the file key is
unwrapped with an identity given (``-i``), the header is rebuilt with exactly the target
recipients (``--to``) and a new MAC, and the payload is copied byte for byte (or, for a
pqml/v1 file with a header area, the header slots are rewritten in place) -- rekey's own
crash-safe write. ``reset`` drops every old stanza, post-quantum ones included, because
the classical ones cannot be picked out by key without their holders' public keys (age
stanzas name no recipient); the report lists the stanzas that will go, so a post-quantum
recipient to keep is given in ``--to`` too. After the rewrite the file is read back: its
recipients must be exactly the targets and its payload the same size and tail.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pqml.keys.errors import MigrationError
from pqml.primitives.errors import PqmlError

KINDS = {"pqml/v1": "pqml", "age": "age"}  # report kind -> rekey's format name
_KIND_OF = {"pqml/v1": "pqml/v1", "age-encryption.org/v1": "age"}  # inspect's format name


def _describe(stanzas: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for s in stanzas:
        name = s.get("kem") or s.get("passphrase") or s["type"]
        flag = " (quantum-vulnerable)" if s.get("quantum_vulnerable") else ""
        key = f"{name}{flag}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} x {k}" if n > 1 else k for k, n in counts.items()) or "no stanza"


def inspect_file(path: Path) -> dict[str, Any] | None:
    """The file's encryption facts (keyless), or None if it is not age or pqml/v1."""
    from pqml.encryption import encrypted_formats as fmts
    from pqml.encryption.inspect import inspect

    with open(path, "rb") as f:
        head = f.read(64)
    try:
        fmts.detect(head)
    except PqmlError:
        return None
    info = inspect(path)
    return info if info["format"] in _KIND_OF else None


def survey(path: Path, info: dict[str, Any], request: Any) -> dict[str, Any]:
    """What migrating this encrypted file means: the report's fields and the checks
    that can be made without writing (targets valid for the format, an identity opens
    the file key)."""
    from pqml.encryption import encrypted_formats as fmts

    kind = _KIND_OF[info["format"]]
    fmt = KINDS[kind]
    stanzas = info["stanzas"]
    now = f"{_describe(stanzas)} ({plural_recipients(len(stanzas))})"
    out: dict[str, Any] = {"kind": kind, "now": now,
                           "quantum_vulnerable": bool(info["quantum_vulnerable"])}
    if not info["quantum_vulnerable"]:
        passphrase = bool(stanzas) and all(s.get("passphrase") for s in stanzas)
        out.update(status="nothing to do", action="none",
                   reason="a passphrase (symmetric: not quantum-vulnerable)" if passphrase
                   else "every recipient is post-quantum")
        return out
    keep = [s for s in stanzas if s.get("post_quantum")]
    if not request.to:
        out.update(status="needs", action="rekey (needs --to RECIPIENT)",
                   reason="give the post-quantum recipients with --to")
        return out
    try:
        _, described = fmts.prepare_recipients(fmt, request.to, allow_classical=False)
    except PqmlError as exc:
        out.update(status="refused", action="none",
                   reason=f"--to cannot be a recipient of an {kind} file: {exc}")
        return out
    targets = _describe([{"kem": d.get("kem") or d.get("type"), "type": d.get("type")}
                         for d in described])
    out["becomes"] = f"{targets} ({plural_recipients(len(described))}), payload unchanged"
    out["action"] = (f"rekey --reset: header rewritten for {plural_recipients(len(described))}"
                     f", {len(stanzas)} old stanza{'s' if len(stanzas) != 1 else ''} dropped")
    if keep:
        out["warning"] = (f"{len(keep)} post-quantum stanza(s) are dropped too: give their "
                          "recipients in --to to keep them")
    if not request.identities:
        out.update(status="needs", reason="give an identity that opens it with -i")
        return out
    try:
        _open_file_key(path, fmt, request)
    except PqmlError as exc:
        out.update(status="refused", reason=_without_path(str(exc), path))
        return out
    out["status"] = "ready"
    return out


def plural_recipients(n: int) -> str:
    return f"{n} recipient{'s' if n != 1 else ''}"


def _without_path(text: str, path: Path) -> str:
    return text.removeprefix(f"{path}: ")


def _open_file_key(path: Path, fmt: str, request: Any) -> None:
    """Check that an identity opens the file key (the header MAC is checked too)."""
    from pqml.encryption import encrypted_formats as fmts
    from pqml.formats.age._io import Source

    identities = fmts.prepare_identities(fmt, request.resolved_identities())
    with open(path, "rb") as f:
        probe = Source(f)
        detected = fmts.detect(probe.peek(64))
        source = fmts.unarmored(detected, probe)
        located = fmts.open_header(detected.format, source, identities)
    if located.file_key is None:  # pragma: no cover - open_header raises instead
        raise MigrationError("no identity opens the file key")


def apply(path: Path, info: dict[str, Any], request: Any) -> dict[str, Any]:
    """Rewrite the header for the targets (rekey, crash-safe), then read the file back."""
    from pqml.encryption.rekey import rekey

    tail = min(4096, info["payload_size"])
    before_tail = _tail(path, tail)
    result = rekey(path, request.identity_inputs, add=request.to, reset=True)
    after = inspect_file(path)
    if after is None or after["format"] != info["format"]:
        raise MigrationError(f"{path}: after the rekey the file is no longer {info['format']}")
    if after["quantum_vulnerable"] or len(after["stanzas"]) != len(request.to_described(
            KINDS[_KIND_OF[info["format"]]])):
        raise MigrationError(f"{path}: after the rekey its recipients are not the targets")
    if after["payload_size"] != info["payload_size"] or (
            not info["armored"] and _tail(path, tail) != before_tail):
        raise MigrationError(f"{path}: the payload changed during the rekey")
    return {"in_place": result.in_place, "stanzas_before": result.stanzas_before,
            "stanzas_after": result.stanzas_after}


def _tail(path: Path, size: int) -> bytes:
    """The last ``size`` bytes (of the payload, when ``size`` is at most its size)."""
    with open(path, "rb") as f:
        end = os.fstat(f.fileno()).st_size
        f.seek(max(0, end - size))
        return f.read(size)
