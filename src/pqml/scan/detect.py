"""One file in, its findings out: pick the detectors that apply to this kind of file.

This runs in worker processes, so it takes plain paths and returns plain data. Detectors
are chosen by name first (cheap) and content second: binary files are only looked at as
ML artifacts or DER certificates; text files get PEM / SSH-key detection everywhere and
the language- or config-specific detector their name calls for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pqml.scan.files import artifacts
from pqml.scan.model import Finding, unique_by

MAX_TEXT = 8 << 20            # larger text files are skipped (generated data, logs)
_PY = (".py", ".pyw", ".pyi")
_CONF_TEXT = (".conf", ".cnf", ".cfg", ".ini", ".env", ".yaml", ".yml", ".toml",
              ".properties", ".json")
_SHELL = (".sh", ".bash", ".zsh", ".mk", ".ps1", ".yml", ".yaml")
_SHELL_NAMES = ("dockerfile", "makefile", "containerfile", "justfile", "procfile")
_DER_EXTS = (".der", ".cer", ".crt", ".cert")


@dataclass(slots=True)
class FileResult:
    rel: str
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bundle: object | None = None       # oms_bundles.BundleRecord
    python_lines: int = 0
    is_python: bool = False


def _is_text(head: bytes) -> bool:
    return b"\x00" not in head[:8192]


def scan_file(path: str, rel: str, size: int) -> FileResult:
    """Findings of one file. A detector failing on odd input costs that file's findings
    (reported as a warning), never the scan."""
    try:
        return _scan_file(path, rel, size)
    except Exception as exc:
        result = FileResult(rel)
        result.warnings.append(f"not analysed ({type(exc).__name__}: {str(exc)[:160]})")
        return result


def _scan_file(path: str, rel: str, size: int) -> FileResult:
    result = FileResult(rel)
    name = rel.rsplit("/", 1)[-1]
    low = name.lower()
    try:
        with open(path, "rb") as f:
            head = f.read(artifacts.HEAD_SIZE)
            if artifacts.is_candidate(name, head):
                _artifact(Path(path), name, head, size, result)
                return result
            if low.endswith(_DER_EXTS) and head[:1] == b"\x30":
                _der_certificate(head + f.read(), result)
                return result
            if not _is_text(head):
                return result
            if size > MAX_TEXT:
                result.warnings.append(f"text file over {MAX_TEXT >> 20} MiB, skipped")
                return result
            data = head + f.read()
    except OSError as exc:
        result.warnings.append(f"cannot read: {exc.strerror or exc}")
        return result
    text = data.decode("utf-8", errors="replace")
    _text(text, rel, name, low, result)
    return result


def _artifact(path: Path, name: str, head: bytes, size: int, result: FileResult) -> None:
    try:
        if artifacts.is_encrypted_header(head):
            if len(head) < size:  # post-quantum stanzas are long: read the whole header
                with path.open("rb") as f:
                    head = f.read(1 << 20)
            info = artifacts.encrypted_info(head, name)
        else:
            info = artifacts.identify(path, name, head, size)
    except (OSError, EOFError, ValueError, RuntimeError) as exc:  # corrupt archives, streams
        result.warnings.append(f"artifact not inspected: {str(exc)[:120] or type(exc).__name__}")
        return
    if info is None:
        return
    info["size_bytes"] = size
    result.findings.append(artifacts.finding(result.rel, info))


def _der_certificate(data: bytes, result: FileResult) -> None:
    from pqml.scan.files import pem
    from pqml.scan.files.x509_certs import describe_certificate, looks_like_der_certificate

    if not looks_like_der_certificate(data[:16]):
        return
    info = describe_certificate(data)
    if info is not None and info.get("key_algorithm"):
        result.findings.append(pem.certificate_finding(info, result.rel, 1,
                                                       f"DER certificate {info['subject']}"))


def _text(text: str, rel: str, name: str, low: str, result: FileResult) -> None:
    from pqml.scan.code import notebooks, shell_commands
    from pqml.scan.code.python_ast import scan_python
    from pqml.scan.files import configs, dependencies, jwk, oms_bundles, pem, ssh_keys

    out = result.findings
    if low.endswith(_PY):
        result.is_python = True
        result.python_lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        found, warning = scan_python(text, rel)
        out += found
        if warning:
            result.warnings.append(warning)
    elif low.endswith(".ipynb"):
        found, warnings = notebooks.findings(text, rel)
        out += found
        result.warnings += warnings
    out += pem.findings(text, rel)
    role = low if low in ("authorized_keys", "known_hosts", "authorized_keys2") else None
    out += ssh_keys.findings(text, rel, role)
    if low.endswith(_PY) or low.endswith(".ipynb"):
        return
    if oms_bundles.is_bundle_name(low):
        try:
            result.bundle = oms_bundles.parse(text.encode("utf-8"), rel)
        except ValueError as exc:  # BundleFormatError is a ValueError
            result.warnings.append(f"not a valid OMS bundle: {' '.join(str(exc).split())}")
        if result.bundle is not None:
            out += bundle_findings(result.bundle)  # type: ignore[arg-type]
            return
    jwk_file = False
    if low.endswith((".json", ".jwk", ".jwks")):
        found_keys = jwk.findings(text, rel)
        jwk_file = bool(found_keys)
        out += found_keys
    if dependencies.is_dependency_file(name):
        out += dependencies.findings(name, text, rel)
    parts = rel.lower().split("/")
    if low in ("sshd_config", "ssh_config") or (len(parts) > 1 and parts[-2] in (
            "sshd_config.d", "ssh_config.d")):
        out += configs.sshd(text, rel)
        return
    if low.endswith((".cnf",)) or low in ("openssl.conf", "openssl.cfg"):
        out += configs.openssl_cnf(text, rel)
        return
    if low.endswith((".conf", ".nginx", ".vhost", ".htaccess")) or "nginx" in parts or any(
            p in ("sites-available", "sites-enabled", "conf.d") for p in parts):
        out += configs.nginx(text, rel)
        out += configs.apache(text, rel)
    if "haproxy" in low and low.endswith((".cfg", ".conf")):
        out += configs.haproxy(text, rel)
    if (low.endswith(_CONF_TEXT) or low.startswith(".env") or low.endswith(".env")) and (
            not jwk_file):
        out += configs.jose_settings(text, rel)
    if low.endswith(_SHELL) or low.startswith(_SHELL_NAMES) or low.endswith(".dockerfile"):
        out += shell_commands.findings(text, rel)


def bundle_findings(record: object) -> list[Finding]:
    from pqml.scan.facts import lookup
    from pqml.scan.files.oms_bundles import BundleRecord

    assert isinstance(record, BundleRecord)
    out = []
    for sig in unique_by(record.signatures, lambda s: (s.algorithm, s.parameter)):
        facts = lookup(sig.algorithm, sig.parameter, "sign")
        out.append(Finding(
            path=record.path, line=1, kind="signature-bundle", algorithm=sig.algorithm,
            primitive=facts.primitive if facts.primitive != "unknown" else "signature",
            usage="sign", evidence=f"OMS bundle ({record.method}), subject "
                                   f"{record.subject_name!r}",
            confidence="high" if sig.source in ("certificate", "keyDetails") else "medium",
            parameter=sig.parameter, quantum_vulnerable=facts.quantum_vulnerable,
            asset_type="algorithm", library="model_signing", status=facts.status,
            details={"bundle": record.as_dict(), "signature_source": sig.source},
        ))
    return out
