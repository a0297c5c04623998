"""TLS and SSH configuration, and JWT algorithm settings, in the files services ship with.

Covered: nginx (``ssl_protocols``, ``ssl_ciphers``, ``ssl_ecdh_curve`` and their
``proxy_``/``grpc_`` variants), Apache (``SSLProtocol``, ``SSLCipherSuite``,
``SSLOpenSSLConfCmd Curves|Groups``), HAProxy (``ssl-default-bind-*``, ``ssl-min-ver``),
``openssl.cnf`` (``default_bits``, ``default_md``, ``MinProtocol``, ``CipherString``,
``Ciphersuites``, ``Groups``), ``sshd_config`` / ``ssh_config`` (``KexAlgorithms``,
``HostKeyAlgorithms``, ``PubkeyAcceptedAlgorithms``, ``Ciphers``, ``MACs``, ``HostKey``),
and ``*alg*`` keys holding a JOSE algorithm in ``.env``, YAML, INI, TOML and JSON files.

Each detector only runs on the file type it belongs to, so the word "Ciphers" in a README
is never read as an sshd directive. Comments (``#``) are skipped.

Hostile input is bounded: every pattern here runs in linear time per line (possessive
quantifiers where two unbounded ones meet), and a line longer than :data:`MAX_LINE` is
skipped with a warning in the ``warnings`` list the caller passes, never silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from pqml.scan.algorithm_names import JOSE_ALGS, JWS_NAMES, hash_name
from pqml.scan.facts import lookup
from pqml.scan.files.cipher_suites import (
    Selected,
    parse_cipher_string,
    parse_groups,
    parse_ssh_list,
    parse_tls_versions,
    suite_names,
    tls_version,
)
from pqml.scan.model import Finding

#: Longest line a config detector reads: far above any real directive or cipher list.
MAX_LINE = 16384

#: Where a detector reports skipped lines: the scan passes its file's warning list.
Warnings = list[str] | None
#: Called before each line; the scan's per-file time budget raises from it when spent.
Tick = Callable[[], None] | None


def skipped_lines_warning(count: int, first: int) -> str:
    """One warning per file for its over-long lines (several detectors say the same)."""
    return (f"{count} line(s) over {MAX_LINE} characters not analysed by the config "
            f"detectors (first: line {first})")


def _lines(text: str, warnings: Warnings = None,
           tick: Tick = None) -> Iterator[tuple[int, str, str]]:
    """(line number, raw line, line without comment) for non-empty lines; lines over
    :data:`MAX_LINE` are skipped and counted into one warning."""
    long_lines = 0
    first_long = 0
    for i, raw in enumerate(text.splitlines(), 1):
        if tick is not None:
            tick()
        if len(raw) > MAX_LINE:
            long_lines += 1
            first_long = first_long or i
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        yield i, raw, stripped.split(" #", 1)[0].strip()
    if long_lines and warnings is not None:
        msg = skipped_lines_warning(long_lines, first_long)
        if msg not in warnings:
            warnings.append(msg)


def _matching(text: str, directive: re.Pattern[str], warnings: Warnings = None,
              tick: Tick = None) -> Iterator[tuple[int, str, re.Match[str]]]:
    """(line number, raw line, match) for the lines that start with ``directive``."""
    for i, raw, stripped in _lines(text, warnings, tick):
        m = directive.match(stripped)
        if m:
            yield i, raw, m


def _finding(path: str, line: int, raw: str, algorithm: str, usage: str,
             parameter: str | None, details: dict, confidence: str = "high") -> Finding:
    facts = lookup(algorithm, parameter, usage)
    return Finding(
        path=path, line=line, kind="config", algorithm=algorithm, primitive=facts.primitive,
        usage=usage, evidence=raw.strip()[:240], confidence=confidence,  # type: ignore[arg-type]
        parameter=parameter, quantum_vulnerable=facts.quantum_vulnerable,
        asset_type="protocol" if usage == "protocol" else "algorithm", status=facts.status,
        details=details,
    )


def _selected(path: str, line: int, raw: str, items: Iterable[Selected], directive: str,
              extra: dict | None = None) -> list[Finding]:
    out = []
    for s in items:
        details = {"directive": directive, "token": s.source, **(extra or {})}
        out.append(_finding(path, line, raw, s.algorithm, s.usage, s.parameter, details))
    return out


def _cipher_string(path: str, line: int, raw: str, value: str, directive: str) -> list[Finding]:
    """What an OpenSSL cipher string selects, with its explicit suite names for the CBOM."""
    return _selected(path, line, raw, parse_cipher_string(value), directive,
                     {"cipher_suites": suite_names(value)})


def _tls(path: str, line: int, raw: str, versions: list[str], directive: str,
         protocol: str = "TLS") -> list[Finding]:
    if not versions:
        return []
    return [_finding(path, line, raw, protocol, "protocol", ",".join(versions),
                     {"directive": directive, "versions": versions})]


def _value(stripped: str, directive_len: int) -> str:
    return stripped[directive_len:].strip().rstrip(";").strip().strip("'\"")


# ---- nginx ---------------------------------------------------------------------------------

_NGINX = re.compile(r"^((?:proxy_|grpc_|uwsgi_|zone_sync_)?ssl_(?:protocols|ciphers|ecdh_curve"
                    r"|conf_command))\s+(.+?);?$")


def nginx(text: str, path: str, warnings: Warnings = None, tick: Tick = None
          ) -> list[Finding]:
    if "ssl_" not in text:
        return []
    out: list[Finding] = []
    for line, raw, m in _matching(text, _NGINX, warnings, tick):
        directive, value = m.group(1), m.group(2).strip().rstrip(";").strip("'\"")
        if directive.endswith("ssl_protocols"):
            out += _tls(path, line, raw, parse_tls_versions(value), directive)
        elif directive.endswith("ssl_ciphers"):
            out += _cipher_string(path, line, raw, value, directive)
        elif directive.endswith("ssl_ecdh_curve"):
            out += _selected(path, line, raw, parse_groups(value), directive)
        elif directive.endswith("ssl_conf_command"):
            name, _, arg = value.partition(" ")
            if name.lower() in ("groups", "curves"):
                out += _selected(path, line, raw, parse_groups(arg), directive)
            elif name.lower() == "ciphersuites":
                out += _selected(path, line, raw, parse_cipher_string(arg), directive)
    return out


# ---- Apache httpd --------------------------------------------------------------------------

_APACHE = re.compile(r"^(SSL(?:Proxy)?Protocol|SSL(?:Proxy)?CipherSuite|SSLOpenSSLConfCmd)\s+"
                     r"(.+)$", re.I)


def apache(text: str, path: str, warnings: Warnings = None, tick: Tick = None
          ) -> list[Finding]:
    if "SSL" not in text:
        return []
    out: list[Finding] = []
    for line, raw, m in _matching(text, _APACHE, warnings, tick):
        directive, value = m.group(1), m.group(2).strip().strip("'\"")
        low = directive.lower()
        if low.endswith("protocol"):
            out += _tls(path, line, raw, parse_tls_versions(value), directive)
        elif low.endswith("ciphersuite"):
            words = value.split()
            if len(words) == 2 and words[0].upper() in ("SSL", "TLSV1.3"):
                value = words[1]  # "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384"
            out += _cipher_string(path, line, raw, value, directive)
        else:
            name, _, arg = value.partition(" ")
            if name.lower() in ("curves", "groups"):
                out += _selected(path, line, raw, parse_groups(arg), directive)
    return out


# ---- HAProxy -------------------------------------------------------------------------------

_HAPROXY_CIPHERS = re.compile(r"^ssl-default-(?:bind|server)-cipher(?:s|suites)\s+(\S+)")
_HAPROXY_MINVER = re.compile(r"\bssl-(min|max)-ver\s+(\S+)")
_HAPROXY_CURVES = re.compile(r"\b(?:curves|ssl-default-bind-curves)\s+(\S+)")


def haproxy(text: str, path: str, warnings: Warnings = None, tick: Tick = None
          ) -> list[Finding]:
    if "ssl" not in text:
        return []
    out: list[Finding] = []
    for line, raw, stripped in _lines(text, warnings, tick):
        m = _HAPROXY_CIPHERS.match(stripped)
        if m:
            out += _cipher_string(path, line, raw, m.group(1), stripped.split()[0])
            continue
        for mv in _HAPROXY_MINVER.finditer(stripped):
            v = tls_version(mv.group(2))
            if v:
                out += _tls(path, line, raw, [v], f"ssl-{mv.group(1)}-ver")
        for mc in _HAPROXY_CURVES.finditer(stripped):
            out += _selected(path, line, raw, parse_groups(mc.group(1)), "curves")
    return out


# ---- openssl.cnf ---------------------------------------------------------------------------

_CNF = re.compile(r"^([A-Za-z_]+)\s*=\s*(.+)$")


def openssl_cnf(text: str, path: str, warnings: Warnings = None, tick: Tick = None
          ) -> list[Finding]:
    out: list[Finding] = []
    section = ""
    for line, raw, stripped in _lines(text, warnings, tick):
        if stripped.startswith("["):
            section = stripped.strip("[] ").lower()
            continue
        m = _CNF.match(stripped)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip().strip("'\"")
        low = key.lower()
        if low == "default_bits" and value.isdigit():
            out.append(_finding(path, line, raw, "RSA", "keygen", value,
                                {"directive": key, "section": section}))
        elif low == "default_md" and (h := hash_name(value)) is not None:
            out.append(_finding(path, line, raw, h, "digest", None,
                                {"directive": key, "section": section,
                                 "purpose": "certificate/CSR signature digest"}))
        elif low in ("minprotocol", "maxprotocol"):
            v = tls_version(value)
            if v:
                out += _tls(path, line, raw, [v], key)
        elif low in ("cipherstring", "ciphersuites"):
            out += _cipher_string(path, line, raw, value, key)
        elif low in ("groups", "curves"):
            out += _selected(path, line, raw, parse_groups(value), key)
    return out


# ---- sshd_config / ssh_config ----------------------------------------------------------------

_SSH_LISTS = {"kexalgorithms", "hostkeyalgorithms", "pubkeyacceptedalgorithms",
              "pubkeyacceptedkeytypes", "hostbasedacceptedalgorithms",
              "hostbasedkeytypes", "casignaturealgorithms", "ciphers", "macs"}
_HOSTKEY_FILE = re.compile(r"ssh_host_(rsa|dsa|ecdsa|ed25519)_key")


def sshd(text: str, path: str, warnings: Warnings = None, tick: Tick = None
          ) -> list[Finding]:
    out: list[Finding] = []
    for line, raw, stripped in _lines(text, warnings, tick):
        parts = stripped.split(None, 1)
        if len(parts) != 2:
            continue
        key, value = parts[0], parts[1].strip()
        low = key.lower()
        if low in _SSH_LISTS:
            out += _selected(path, line, raw, parse_ssh_list(value), key)
        elif low == "hostkey":
            m = _HOSTKEY_FILE.search(value)
            if m:
                algorithm = {"rsa": "RSA", "dsa": "DSA", "ecdsa": "ECDSA",
                             "ed25519": "Ed25519"}[m.group(1)]
                out.append(_finding(path, line, raw, algorithm, "key-load", None,
                                    {"directive": key, "host_key": value}, "medium"))
    return out


# ---- algorithm and TLS settings in application config --------------------------------------

# Possessive (``*+``, ``++``): each run is followed by something it cannot contain, so giving
# characters back never helps, and without it ``\s*,?\s*$`` is quadratic in a run of spaces.
_SETTING = re.compile(
    r"""^\s*+(?:export\s++)?["']?([\w.\-]++)["']?\s*+[:=]\s*+["']?([A-Za-z0-9_.+\-]++)["']?"""
    r"""\s*+,?\s*+$""")
# The key must contain "alg" (checked in code): ``[\w.\-]*?alg[\w.\-]*`` tried every split of a
# long key, quadratic on "algalgalg...".
_SETTING_LIST = re.compile(r"""^\s*+["']?([\w.\-]++)["']?\s*+[:=]\s*+\[(.+)\]\s*+,?$""")
# ``(?:tls|ssl).*(?:version|protocol)`` searched from every "tls" in a long key (quadratic);
# the first occurrence of the left word decides, so two linear searches say the same.
_TLS_WORD = re.compile(r"tls|ssl", re.I)
_VERSION_WORD = re.compile(r"version|protocol", re.I)
_MINMAX_WORD = re.compile(r"min|max", re.I)


def _tls_key(key: str) -> bool:
    """``key`` names a TLS version: tls/ssl then version/protocol, or min/max then tls/ssl."""
    for left, right in ((_TLS_WORD, _VERSION_WORD), (_MINMAX_WORD, _TLS_WORD)):
        m = left.search(key)
        if m and right.search(key, m.end()):
            return True
    return False
_TLS_VALUE = re.compile(r"(?:TLS|SSL)v?1[._]?([0-3])|1\.([0-3])|(?:TLS|SSL)v?([23])", re.I)


def _tls_setting(key: str, value: str, table: str) -> str | None:
    """``min_version = "TLSv1.2"`` under a TLS-ish key (or table) -> "TLSv1.2"."""
    if not (_tls_key(key) or (re.search(r"tls|ssl", table, re.I) and re.search(
            r"version|protocol", key, re.I))):
        return None
    v = tls_version(value)
    if v:
        return v
    m = _TLS_VALUE.fullmatch(value)
    if m and (m.group(1) or m.group(2)):
        return f"TLSv1.{m.group(1) or m.group(2)}"
    return None


def jose_settings(text: str, path: str, warnings: Warnings = None, tick: Tick = None
                  ) -> list[Finding]:
    """Algorithm settings in app config: ``JWT_ALGORITHM=RS256`` (.env), ``algorithm:
    ES256`` (YAML), ``"alg": "PS256"``, KMS identifiers (``RSAES_OAEP_SHA_256``), and TLS
    protocol versions under TLS-named keys (``min_tls_version = "1.2"``)."""
    from pqml.scan.files.cloud_kms import kms_algorithm

    low_text = text.lower()
    if "alg" not in low_text and "tls" not in low_text and "ssl" not in low_text:
        return []
    out: list[Finding] = []
    table = ""
    parents: list[tuple[int, str]] = []  # YAML: (indent, key) of the enclosing mappings
    for line, raw, stripped in _lines(text, warnings, tick):
        if stripped.startswith("[") and stripped.endswith("]"):
            table = stripped.strip("[] ")
            continue
        indent = len(raw) - len(raw.lstrip())
        while parents and parents[-1][0] >= indent:
            parents.pop()
        if stripped.endswith(":") and " " not in stripped.rstrip(":"):
            parents.append((indent, stripped.rstrip(":").strip("'\"")))
            continue
        if parents:
            table = ".".join(k for _i, k in parents)
        match = _SETTING.match(stripped)
        if match:
            key, value = match.group(1), match.group(2)
            if "alg" in key.lower():
                known = JOSE_ALGS[value] if value in JWS_NAMES else kms_algorithm(value)
                if known is not None:
                    algorithm, param, usage = known
                    out.append(_finding(path, line, raw, algorithm, usage, param,
                                        {"setting": key, "jose_alg": value}, "medium"))
                continue
            version = _tls_setting(key, value, table)
            if version:
                out += [f for f in _tls(path, line, raw, [version], key)]
            continue
        listed = _SETTING_LIST.match(stripped)
        if listed and "alg" in listed.group(1).lower():
            for value in (v.strip().strip("'\"") for v in listed.group(2).split(",")):
                if value in JWS_NAMES:
                    algorithm, param, usage = JOSE_ALGS[value]
                    if usage == "sign":  # a list of accepted algorithms: a verifier's
                        usage = "verify"
                    out.append(_finding(path, line, raw, algorithm, usage, param,
                                        {"setting": listed.group(1), "jose_alg": value},
                                        "medium"))
    return out
