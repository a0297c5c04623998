"""TLS and SSH algorithm names: OpenSSL cipher strings, IANA suites, groups, SSH lists.

Shared by the config detector (nginx, Apache, openssl.cnf, sshd_config) and the Python
detector (``SSLContext.set_ciphers``), so a cipher string means the same thing wherever it
is written. Only what a string *selects* is reported: excluded items (``!MD5``, ``-RC4``,
``-ssh-rsa``) and OpenSSL class keywords (``HIGH``, ``DEFAULT``) name no algorithm by
themselves and are skipped. MACs and PRF hashes inside suite names are not reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pqml.scan.model import unique_by


@dataclass(frozen=True, slots=True)
class Selected:
    """One algorithm a configuration string selects."""

    algorithm: str
    parameter: str | None
    usage: str
    source: str  # the token it came from (a suite name, alias or SSH algorithm name)


# ---- OpenSSL cipher strings ---------------------------------------------------------------

_KX = {
    "ECDHE": "ECDH", "EECDH": "ECDH", "KECDHE": "ECDH", "KEECDH": "ECDH", "ECDH": "ECDH",
    "DHE": "DH", "EDH": "DH", "KEDH": "DH", "KDHE": "DH", "DH": "DH", "KRSA": "RSA",
}
_AUTH = {"RSA": "RSA", "ARSA": "RSA", "ECDSA": "ECDSA", "AECDSA": "ECDSA", "DSS": "DSA",
         "ADSS": "DSA"}
_IGNORE = {
    "HIGH", "MEDIUM", "LOW", "DEFAULT", "ALL", "COMPLEMENTOFDEFAULT", "COMPLEMENTOFALL",
    "EXPORT", "SHA", "SHA1", "SHA256", "SHA384", "MD5", "PSK", "SRP", "TLSV1", "TLSV1.2",
    "SSLV3", "TLSV1.0", "FIPS", "SUITEB128", "SUITEB192", "SUITEB128ONLY", "AEAD", "NULL",
    "ENULL", "ANULL", "COMPLEMENTOFNULL", "KECDH", "AECDH", "ADH", "AECDHE",
}


def _cipher(parts: list[str]) -> tuple[str, str | None] | None:
    """The bulk cipher named by suite-name parts such as ['AES128', 'GCM', 'SHA256']."""
    joined = "-".join(parts)
    if "CHACHA20" in joined:
        return "ChaCha20-Poly1305", None
    if "DES-CBC3" in joined or "3DES" in joined or "DES-EDE3" in joined:
        return "3DES", None
    if joined.startswith("RC4") or "-RC4" in joined:
        return "RC4", None
    if "CAMELLIA" in joined:
        return "Camellia", None
    if "SEED" in parts:
        return "SEED", None
    if "IDEA" in parts:
        return "IDEA", None
    m = re.search(r"AES[_-]?(128|256)?", joined)
    if m:
        bits = m.group(1)
        mode = "GCM" if "GCM" in parts or "AESGCM" in joined else (
            "CCM" if "CCM" in joined else "CBC")
        return (f"AES-{bits}-{mode}" if bits else f"AES-{mode}"), None
    if "DES" in parts or joined.startswith("DES-CBC"):
        return "DES", None
    return None


def _suite(name: str) -> list[Selected]:
    """Algorithms of one OpenSSL or IANA suite name."""
    upper = name.upper()
    out: list[Selected] = []
    if upper.startswith("TLS_") and "_WITH_" not in upper:  # TLS 1.3 suites: cipher only
        c = _cipher(upper[4:].replace("_", "-").split("-"))
        if c:
            out.append(Selected(c[0], c[1], "encrypt", name))
        return out
    if "_WITH_" in upper:  # IANA TLS 1.2 names
        head, _, tail = upper.removeprefix("TLS_").removeprefix("SSL_").partition("_WITH_")
        kx_auth = head.split("_")
        cipher_parts = tail.replace("_", "-").split("-")
    else:
        parts = upper.split("-")
        kx_auth = [p for p in parts if p in _KX or p in _AUTH]
        cipher_parts = [p for p in parts if p not in _KX and p not in _AUTH]
    kx = next((_KX[p] for p in kx_auth if p in _KX and p != "KRSA"), None)
    auth = next((_AUTH[p] for p in kx_auth if p in _AUTH), None)
    if kx is None and (auth in (None, "RSA")) and kx_auth in ([], ["RSA"]):
        out.append(Selected("RSA", None, "key-exchange", name))  # static RSA key transport
    else:
        if kx:
            out.append(Selected(kx, None, "key-exchange", name))
        if auth:
            out.append(Selected(auth, None, "sign", name))
    c = _cipher(cipher_parts)
    if c:
        out.append(Selected(c[0], c[1], "encrypt", name))
    return out


def _alias(token: str) -> list[Selected]:
    upper = token.upper()
    if upper in _KX:
        return [Selected(_KX[upper], None, "key-exchange", token)]
    if upper in _AUTH:
        if upper == "RSA":  # OpenSSL: "RSA" selects suites with RSA key exchange
            return [Selected("RSA", None, "key-exchange", token)]
        return [Selected(_AUTH[upper], None, "sign", token)]
    aliases = {
        "AESGCM": "AES-GCM", "AES": "AES", "AES128": "AES-128", "AES256": "AES-256",
        "CHACHA20": "ChaCha20-Poly1305", "3DES": "3DES", "RC4": "RC4", "DES": "DES",
        "CAMELLIA": "Camellia", "IDEA": "IDEA", "SEED": "SEED", "AESCCM": "AES-CCM",
    }
    if upper in aliases:
        return [Selected(aliases[upper], None, "encrypt", token)]
    return []


_SPLIT = re.compile(r"[:,\s]+")


def parse_cipher_string(text: str) -> list[Selected]:
    """Algorithms selected by an OpenSSL cipher string or a list of suite names."""
    out: list[Selected] = []
    for raw in _SPLIT.split(text.strip().strip("'\"")):
        token = raw.strip().strip("'\";")
        if not token or token[0] in "!-+@" or token.upper() in _IGNORE:
            continue
        if "+" in token:  # "ECDHE+AESGCM": the intersection; report both halves
            for part in token.split("+"):
                if part.upper() not in _IGNORE:
                    out.extend(_alias(part))
            continue
        if "-" in token or token.upper().startswith("TLS_"):
            out.extend(_suite(token))
        else:
            out.extend(_alias(token))
    return _dedupe(out)


def _dedupe(items: list[Selected]) -> list[Selected]:
    return unique_by(items, lambda s: (s.algorithm, s.parameter))


def suite_names(text: str) -> list[str]:
    """The explicit suite names in a cipher string (for CBOM cipherSuites)."""
    return [t for t in (x.strip().strip("'\";") for x in _SPLIT.split(text))
            if t and t[0] not in "!-+@" and ("-" in t or t.upper().startswith("TLS_"))]


# ---- TLS protocol versions and groups ----------------------------------------------------

_TLS_VERSIONS = {
    "SSLV2": "SSLv2", "SSLV3": "SSLv3", "TLSV1": "TLSv1.0", "TLSV1.0": "TLSv1.0",
    "TLSV1.1": "TLSv1.1", "TLSV1.2": "TLSv1.2", "TLSV1.3": "TLSv1.3",
    "TLSV1_1": "TLSv1.1", "TLSV1_2": "TLSv1.2", "TLSV1_3": "TLSv1.3",
}
ALL_TLS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def tls_version(token: str) -> str | None:
    return _TLS_VERSIONS.get(token.strip().strip("'\";").upper())


def parse_tls_versions(text: str) -> list[str]:
    """Versions enabled by nginx ``ssl_protocols`` or Apache ``SSLProtocol`` values."""
    enabled: list[str] = []
    for raw in text.split():
        token = raw.strip().strip(";")
        if not token:
            continue
        sign, name = (token[0], token[1:]) if token[0] in "+-" else ("+", token)
        versions = list(ALL_TLS) if name.lower() == "all" else (
            [v] if (v := tls_version(name)) else [])
        for v in versions:
            if sign == "-" and v in enabled:
                enabled.remove(v)
            elif sign == "+" and v not in enabled:
                enabled.append(v)
    return enabled


def parse_groups(text: str) -> list[Selected]:
    """TLS key-exchange groups (nginx ``ssl_ecdh_curve``, OpenSSL ``Groups``)."""
    from pqml.scan.algorithm_names import curve_name

    out: list[Selected] = []
    for raw in re.split(r"[:,\s]+", text.strip().strip("'\";")):
        token = raw.strip().strip("'\";")
        low = token.lower()
        if not token or low == "auto" or token[0] in "!-":
            continue
        hybrid = {"x25519mlkem768": "X25519MLKEM768", "secp256r1mlkem768": "SecP256r1MLKEM768",
                  "secp384r1mlkem1024": "SecP384r1MLKEM1024", "mlkem768": "ML-KEM-768",
                  "mlkem1024": "ML-KEM-1024", "mlkem512": "ML-KEM-512",
                  "x25519kyber768draft00": "X25519MLKEM768"}
        if low in hybrid:
            out.append(Selected(hybrid[low], None, "key-exchange", token))
        elif low in ("x25519", "curve25519"):
            out.append(Selected("X25519", None, "key-exchange", token))
        elif low in ("x448", "curve448"):
            out.append(Selected("X448", None, "key-exchange", token))
        elif low.startswith("ffdhe") and low[5:].isdigit():
            out.append(Selected("DH", low[5:], "key-exchange", token))
        elif (c := curve_name(token)) is not None:
            out.append(Selected("ECDH", c, "key-exchange", token))
    return _dedupe(out)


# ---- SSH algorithm names (RFC 4253, 5656, 8332, 8709, 9142; OpenSSH) --------------------

_DH_GROUPS = {"group1": "1024", "group14": "2048", "group15": "3072", "group16": "4096",
              "group17": "6144", "group18": "8192"}


def ssh_algorithm(name: str) -> Selected | None:
    """Map one SSH algorithm name (KEX, host key, cipher or MAC) to what it uses."""
    n = name.strip().lower()
    base = n.split("@")[0]
    if base.startswith(("curve25519-sha256",)):
        return Selected("X25519", None, "key-exchange", name)
    if base.startswith("curve448-sha512"):
        return Selected("X448", None, "key-exchange", name)
    if base.startswith("ecdh-sha2-nistp"):
        return Selected("ECDH", f"P-{base.rsplit('nistp', 1)[1]}", "key-exchange", name)
    if base.startswith("diffie-hellman-group-exchange"):
        return Selected("DH", None, "key-exchange", name)
    if base.startswith("diffie-hellman-"):
        group = base.split("-")[2]
        return Selected("DH", _DH_GROUPS.get(group), "key-exchange", name)
    if base.startswith("sntrup761x25519"):
        return Selected("sntrup761x25519", None, "key-exchange", name)
    if base.startswith("mlkem768x25519"):
        return Selected("X25519MLKEM768", None, "key-exchange", name)
    key = base.removesuffix("-cert-v01")
    if key in ("ssh-rsa", "rsa-sha2-256", "rsa-sha2-512", "x509v3-ssh-rsa"):
        return Selected("RSA", None, "sign", name)
    if key in ("ssh-dss", "x509v3-ssh-dss"):
        return Selected("DSA", None, "sign", name)
    if key.startswith(("ecdsa-sha2-nistp", "sk-ecdsa-sha2-nistp")):
        return Selected("ECDSA", f"P-{key.rsplit('nistp', 1)[1]}", "sign", name)
    if key in ("ssh-ed25519", "sk-ssh-ed25519"):
        return Selected("Ed25519", None, "sign", name)
    if key == "ssh-ed448":
        return Selected("Ed448", None, "sign", name)
    m = re.fullmatch(r"aes(128|192|256)-(ctr|cbc|gcm)", base)
    if m:
        return Selected(f"AES-{m.group(1)}-{m.group(2).upper()}", None, "encrypt", name)
    if base == "chacha20-poly1305":
        return Selected("ChaCha20-Poly1305", None, "encrypt", name)
    if base == "3des-cbc":
        return Selected("3DES", None, "encrypt", name)
    if base.startswith("arcfour"):
        return Selected("RC4", None, "encrypt", name)
    if base == "blowfish-cbc":
        return Selected("Blowfish", None, "encrypt", name)
    if base == "cast128-cbc":
        return Selected("CAST5", None, "encrypt", name)
    m = re.fullmatch(r"hmac-(sha1|sha2-256|sha2-512|md5|ripemd160)(-96)?(-etm)?", base)
    if m:
        h = {"sha1": "SHA-1", "sha2-256": "SHA-256", "sha2-512": "SHA-512", "md5": "MD5",
             "ripemd160": "RIPEMD-160"}[m.group(1)]
        return Selected(f"HMAC-{h}", None, "mac", name)
    if base.startswith("umac-"):
        return Selected("UMAC", base.split("-")[1], "mac", name)
    return None


def parse_ssh_list(text: str) -> list[Selected]:
    """An sshd_config algorithm list; ``-name`` removes, ``+``/``^`` prefixes add."""
    out = []
    value = text.strip()
    if value[:1] in "+^":
        value = value[1:]
    elif value[:1] == "-":
        return []
    for item in value.split(","):
        s = ssh_algorithm(item)
        if s is not None:
            out.append(s)
    return _dedupe(out)
