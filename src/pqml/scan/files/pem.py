"""PEM blocks anywhere: key files, configs, notebooks, and string literals in source code.

Keys and certificates are pasted into code as often as they are stored in files, written
as triple-quoted strings, as ``"...\\n"`` one-liners, or as concatenated string pieces.
So blocks are found in the raw text and the body between ``BEGIN`` and ``END`` is cleaned
of string syntax (escaped newlines, quotes, ``+`` between pieces) before base64 decoding.
A block whose body does not decode to a well-formed key or certificate is not reported:
documentation placeholders (``MIIB...``) are not keys.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pqml.scan.facts import lookup
from pqml.scan.files.key_material import describe_pkcs8, describe_spki, describe_traditional
from pqml.scan.model import Finding

_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 .]+)-----")
_END = re.compile(r"(?=-----END ([A-Z0-9 .]+)-----)")  # zero-width: markers may share dashes
_ESCAPES = re.compile(r"\\[nrt]")
# the seam between two string pieces: quote, optional ")" "+" "\\" "(", prefix, quote. The
# separators are atomic: five adjacent unbounded ``\s*`` that may backtrack into each other
# cost O(n^5) on a quote followed by spaces (175 bytes took 12 s). Giving back a space or
# separator can never let the closing ``[prefix]quote`` match, so this matches the same seams.
_CONCAT = re.compile(r"[\"'](?>\s*\)?\s*\+?\s*\\?\s*\(?\s*)[bBrRuU]{0,2}[\"']")
_NOT_B64 = re.compile(r"[^A-Za-z0-9+/=]")
_MAX_BLOCK = 1 << 20

CERT_LABELS = frozenset({"CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"})
CSR_LABELS = frozenset({"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"})


@dataclass(frozen=True, slots=True)
class Block:
    label: str
    der: bytes
    line: int
    encrypted: bool  # legacy "Proc-Type: 4,ENCRYPTED" headers


def _clean(body: str) -> tuple[str, bool]:
    encrypted = "Proc-Type:" in body and "ENCRYPTED" in body
    if "DEK-Info:" in body or "Proc-Type:" in body:
        body = "\n".join(ln for ln in re.split(r"\n|\\n", body) if ":" not in ln)
    body = _ESCAPES.sub("\n", body)
    body = _CONCAT.sub("", body)
    return _NOT_B64.sub("", body), encrypted


def blocks(text: str) -> Iterator[Block]:
    """Every decodable PEM block in ``text`` with the line of its BEGIN marker.

    END markers are indexed once: searching up to a megabyte ahead from every BEGIN that
    has no END made a file of bare BEGIN lines quadratic (1.3 MB: 50 s)."""
    ends: dict[str, list[int]] = {}
    for e in _END.finditer(text):
        ends.setdefault(e.group(1), []).append(e.start())
    pos = 0
    line = 1
    last = 0
    while True:
        m = _BEGIN.search(text, pos)
        if m is None:
            return
        label = m.group(1)
        end_marker = f"-----END {label}-----"
        positions = ends.get(label, [])
        k = bisect.bisect_left(positions, m.end())
        end = positions[k] if k < len(positions) else -1
        line += text.count("\n", last, m.start())
        last = m.start()
        if end < 0 or end > m.end() + _MAX_BLOCK:
            pos = m.end()
            continue
        pos = end + len(end_marker)
        body, encrypted = _clean(text[m.end():end])
        if encrypted:
            yield Block(label, b"", line, True)
            continue
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            continue
        if der:
            yield Block(label, der, line, False)


def findings(text: str, path: str, kind_hint: str = "pem",
             tick: Callable[[], None] | None = None) -> list[Finding]:
    """Findings for every key, certificate or parameter block in ``text``; ``tick`` is
    called before each block (the scan's time budget raises from it)."""
    if "-----BEGIN " not in text:
        return []
    from pqml.scan.files.ssh_keys import describe_openssh_private
    from pqml.scan.files.x509_certs import describe_certificate, describe_csr

    out: list[Finding] = []
    lines = None
    for block in blocks(text):
        if tick is not None:
            tick()
        if lines is None:
            lines = text.splitlines()
        evidence = lines[block.line - 1].strip()[:240] if block.line <= len(lines) else ""
        label = block.label
        if label in CERT_LABELS or label in CSR_LABELS:
            info = (describe_certificate(block.der) if label in CERT_LABELS
                    else describe_csr(block.der))
            if info is None or info.get("key_algorithm") is None:
                continue
            out.append(certificate_finding(info, path, block.line, evidence))
            continue
        if block.encrypted:
            algorithm = {"RSA PRIVATE KEY": "RSA", "EC PRIVATE KEY": "ECDSA",
                         "DSA PRIVATE KEY": "DSA"}.get(label)
            if algorithm:
                out.append(key_finding(algorithm, None, True, path, block.line, evidence,
                                       "pem", {"pem_label": label, "encrypted": True}))
            continue
        if label == "PUBLIC KEY":
            key = describe_spki(block.der)
        elif label == "PRIVATE KEY":
            key = describe_pkcs8(block.der)
        elif label == "OPENSSH PRIVATE KEY":
            key = describe_openssh_private(block.der)
        else:
            key = describe_traditional(label, block.der)
        if key is None:
            continue
        details = {"pem_label": label, "key_fingerprint": key.fingerprint}
        if label == "OPENSSH PRIVATE KEY" and getattr(key, "encrypted", False):
            details["encrypted"] = True
        usage = "private-key" if key.private else (
            "config" if "PARAMETERS" in label else "public-key")
        out.append(key_finding(key.algorithm, key.parameter, key.private, path, block.line,
                               evidence, "ssh-key" if "OPENSSH" in label else kind_hint,
                               details, usage))
    return out


def key_finding(algorithm: str, parameter: str | None, private: bool, path: str, line: int,
                evidence: str, kind: str, details: dict, usage: str | None = None) -> Finding:
    usage = usage or ("private-key" if private else "public-key")
    facts = lookup(algorithm, parameter, usage)
    return Finding(
        path=path, line=line, kind=kind, algorithm=algorithm, primitive=facts.primitive,
        usage=usage, evidence=evidence, parameter=parameter,
        quantum_vulnerable=facts.quantum_vulnerable, asset_type="related-crypto-material",
        status=facts.status, details=details,
    )


def certificate_finding(info: dict, path: str, line: int, evidence: str) -> Finding:
    algorithm = info["key_algorithm"]
    parameter = info["key_parameter"]
    facts = lookup(algorithm, parameter, "certificate")
    return Finding(
        path=path, line=line, kind="certificate", algorithm=algorithm,
        primitive=facts.primitive, usage="certificate", evidence=evidence, parameter=parameter,
        quantum_vulnerable=facts.quantum_vulnerable, asset_type="certificate",
        status=facts.status, details=info,
    )
