"""Key generation and hashing done by command line: ``openssl`` and ``ssh-keygen`` calls.

ML repositories mint their TLS and signing keys in shell scripts, Dockerfiles, Makefiles
and CI workflows (``openssl req -newkey rsa:2048``, ``ssh-keygen -t ed25519``). These are
key generations as real as ``rsa.generate_private_key``, so they are inventoried too.
Lines over the config detectors' length bound are skipped with a warning, like theirs.
"""

from __future__ import annotations

import re

from pqml.scan.algorithm_names import curve_name, hash_name
from pqml.scan.facts import lookup
from pqml.scan.files.configs import MAX_LINE, Tick, Warnings, skipped_lines_warning
from pqml.scan.model import Finding

# The whole command (possessive: it ends where the command does); its last word is the key
# size. A lazy gap followed by a ``(?=\s*...)`` lookahead was quadratic in a run of spaces.
_GENRSA = re.compile(r"\bopenssl\s+genrsa\b([^\n;&|]*+)")
_GENRSA_BITS = re.compile(r"\s(\d{3,5})\s*+$")
_NEWKEY = re.compile(r"\bopenssl\s+req\b[^\n;&|]*?-newkey\s+(rsa|ec|ed25519|ed448|dsa)"
                     r"(?::(\d{3,5}))?")
_PARAMGEN_CURVE = re.compile(r"ec_paramgen_curve:(\S+)")
_ECPARAM = re.compile(r"\bopenssl\s+ecparam\b[^\n;&|]*?-name\s+(\S+)")
_GENPKEY = re.compile(r"\bopenssl\s+genpkey\b[^\n;&|]*?-algorithm\s+([\w-]+)")
_RSA_BITS = re.compile(r"rsa_keygen_bits:(\d+)")
_SSH_KEYGEN = re.compile(r"\bssh-keygen\b[^\n;&|]*?-t\s+(rsa|dsa|ecdsa|ed25519|ecdsa-sk|ed25519-sk)"
                         r"(?:[^\n;&|]*?-b\s+(\d+))?")
_DGST = re.compile(r"\bopenssl\s+dgst\b[^\n;&|]*?\s-(md5|sha1|sha224|sha256|sha384|sha512"
                   r"|sha3-256|sha3-512)\b")
_KEY_OUT = re.compile(r"\s-(?:keyout|out)\s+(\S+)")
_SIGN_WITH = re.compile(r"\bopenssl\s+(?:dgst|pkeyutl)\b[^\n;&|]*?\s-(?:sign|inkey)\s+(\S+)")
_ENC = re.compile(r"\bopenssl\s+enc\b[^\n;&|]*?\s-(aes-(?:128|192|256)-(?:cbc|ctr|gcm|ecb)"
                  r"|des3|des-ede3-cbc|des|rc4|bf-cbc)\b")

_GENPKEY_ALGS = {"RSA": "RSA", "RSA-PSS": "RSA-PSS", "EC": "ECDSA", "ED25519": "Ed25519",
                 "ED448": "Ed448", "X25519": "X25519", "X448": "X448", "DSA": "DSA",
                 "DH": "DH", "ML-DSA-44": "ML-DSA-44", "ML-DSA-65": "ML-DSA-65",
                 "ML-DSA-87": "ML-DSA-87", "ML-KEM-768": "ML-KEM-768",
                 "ML-KEM-1024": "ML-KEM-1024", "ML-KEM-512": "ML-KEM-512"}
_ENC_ALGS = {"des3": "3DES", "des-ede3-cbc": "3DES", "des": "DES", "rc4": "RC4",
             "bf-cbc": "Blowfish"}


def _f(path: str, line: int, raw: str, algorithm: str, usage: str, param: str | None,
       command: str) -> Finding:
    facts = lookup(algorithm, param, usage)
    return Finding(path=path, line=line, kind="config", algorithm=algorithm,
                   primitive=facts.primitive, usage=usage, evidence=raw.strip()[:240],
                   parameter=param, quantum_vulnerable=facts.quantum_vulnerable,
                   status=facts.status, details={"command": command})


def findings(text: str, path: str, warnings: Warnings = None,
             tick: Tick = None) -> list[Finding]:
    if "openssl" not in text and "ssh-keygen" not in text:
        return []
    out: list[Finding] = []
    key_files: dict[str, tuple[str, str | None]] = {}  # key file -> algorithm made into it
    long_lines = first_long = 0
    for i, raw in enumerate(text.splitlines(), 1):
        if "openssl" not in raw and "ssh-keygen" not in raw:
            continue
        if tick is not None:
            tick()
        if len(raw) > MAX_LINE:  # many commands in one line: each pattern is O(commands*len)
            long_lines += 1
            first_long = first_long or i
            continue
        if raw.lstrip().startswith("#"):
            continue
        made = len(out)
        for m in _GENRSA.finditer(raw):
            b = _GENRSA_BITS.search(m.group(1))
            out.append(_f(path, i, raw, "RSA", "keygen", b.group(1) if b else "2048",
                          "openssl genrsa"))
        for m in _NEWKEY.finditer(raw):
            kind, bits = m.group(1), m.group(2)
            if kind == "rsa":
                out.append(_f(path, i, raw, "RSA", "keygen", bits, "openssl req -newkey"))
            elif kind == "ec":
                c = _PARAMGEN_CURVE.search(raw)
                out.append(_f(path, i, raw, "ECDSA", "keygen",
                              curve_name(c.group(1)) if c else None, "openssl req -newkey"))
            else:
                out.append(_f(path, i, raw, {"ed25519": "Ed25519", "ed448": "Ed448",
                                             "dsa": "DSA"}[kind], "keygen", None,
                              "openssl req -newkey"))
        for m in _ECPARAM.finditer(raw):
            if "-genkey" in raw:
                out.append(_f(path, i, raw, "ECDSA", "keygen", curve_name(m.group(1)),
                              "openssl ecparam"))
        for m in _GENPKEY.finditer(raw):
            algorithm = _GENPKEY_ALGS.get(m.group(1).upper())
            if algorithm is None:
                continue
            param = None
            if algorithm.startswith("RSA"):
                b = _RSA_BITS.search(raw)
                param = b.group(1) if b else "2048"
            elif algorithm == "ECDSA":
                c = _PARAMGEN_CURVE.search(raw)
                param = curve_name(c.group(1)) if c else None
            out.append(_f(path, i, raw, algorithm, "keygen", param, "openssl genpkey"))
        for m in _SSH_KEYGEN.finditer(raw):
            t, bits = m.group(1), m.group(2)
            algorithm = {"rsa": "RSA", "dsa": "DSA", "ecdsa": "ECDSA", "ecdsa-sk": "ECDSA",
                         "ed25519": "Ed25519", "ed25519-sk": "Ed25519"}[t]
            if algorithm == "RSA":
                param = bits or "3072"
            elif algorithm == "ECDSA":
                param = f"P-{bits}" if bits in ("256", "384", "521") else "P-256"
            else:
                param = None
            out.append(_f(path, i, raw, algorithm, "keygen", param, "ssh-keygen"))
        keygens = [f for f in out[made:] if f.usage == "keygen"]
        if keygens:
            for m in _KEY_OUT.finditer(raw):
                if "-keyout" in raw and not m.group(0).lstrip().startswith("-keyout"):
                    continue  # "req -newkey ... -keyout K -out CERT": the key is K
                key_files[m.group(1)] = (keygens[0].algorithm, keygens[0].parameter)
        for m in _SIGN_WITH.finditer(raw):
            known = key_files.get(m.group(1))
            if known is not None:
                out.append(_f(path, i, raw, known[0], "sign", known[1], "openssl dgst -sign"))
        for m in _DGST.finditer(raw):
            h = hash_name(m.group(1))
            if h:
                out.append(_f(path, i, raw, h, "digest", None, "openssl dgst"))
        for m in _ENC.finditer(raw):
            name = m.group(1)
            algorithm = _ENC_ALGS.get(name) or name.upper().replace("AES-", "AES-", 1)
            if name.startswith("aes-"):
                bits, mode = name.split("-")[1:]
                algorithm = f"AES-{bits}-{mode.upper()}"
            out.append(_f(path, i, raw, algorithm, "encrypt", None, "openssl enc"))
    if long_lines and warnings is not None:
        msg = skipped_lines_warning(long_lines, first_long)
        if msg not in warnings:
            warnings.append(msg)
    return out
