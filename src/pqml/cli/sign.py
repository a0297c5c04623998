"""``pqml sign``, ``pqml verify``, ``pqml digest``: OMS model signatures from the shell.

A thin shell over :mod:`pqml.signing.signing` and :mod:`pqml.signing.manifest`: the same
options exist as keyword arguments there. Reports go to stdout (``--json`` for machines);
warnings and the one-line error go to stderr; verification failures exit 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from pqml.cli import audit
from pqml.cli import engine as cli_engine
from pqml.cli.keys import key_passphrase
from pqml.cli.url_params import path_or_url

_SIZE = re.compile(r"(?i)^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _size(text: str | None) -> int | None:
    """``64M``, ``64MiB``, ``1G`` or a byte count (binary units)."""
    if text is None:
        return None
    match = _SIZE.match(text)
    if not match or int(match.group(1)) <= 0:
        from pqml.primitives.errors import PqmlError

        raise PqmlError(f"invalid shard size {text!r} (e.g. 64M, 1G or a byte count)")
    return int(match.group(1)) * _UNITS[match.group(2)[:1].lower()]


def _root_digest(value: str | None) -> str | None:
    from pqml.signing.errors import PolicyFileError
    from pqml.signing.policy import parse_root_digest

    if value is None:
        return None
    try:
        return parse_root_digest(value, "--expect-digest")
    except PolicyFileError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None


def _warn(message: str) -> None:
    from pqml._internal.text import printable

    click.echo(f"pqml: warning: {printable(message)}", err=True)  # may name model files


_method = click.option(
    "--method", type=click.Choice(["auto", "files", "shards"]), default="auto",
    show_default=True,
    help="OMS serialization. auto: files when the first key is ECDSA (model_signing can "
         "then verify it) or the hash is BLAKE3, else shards.",
)
_shard_size = click.option(
    "--shard-size", metavar="SIZE",
    help="Shard size for the shards method (e.g. 64M, the default; 1G).",
)
_hash = click.option(
    "--hash", "hash_name", metavar="NAME",
    help="sha256 (default), sha384 (default under cnsa2), sha512, blake3.",
)
_ignore = click.option(  # --ignore as in pqml scan; --ignore-paths is model_signing's
    "--ignore", "--ignore-paths", "ignore_paths", multiple=True, metavar="PATH",
    help="Path to leave out, relative to the model directory (repeatable); recorded in the "
         "signed statement. --ignore-paths is model_signing's spelling.",
)
_ignore_git = click.option(
    "--ignore-git-paths/--no-ignore-git-paths", default=True, show_default=True,
    help="Leave out .git, .github, .gitattributes, .gitignore (as model_signing does).",
)
_symlinks = click.option(
    "--allow-symlinks", is_flag=True,
    help="Follow symbolic links to files inside the model (refused otherwise).",
)



def _timestamp_signature() -> None:
    """Have the log sign a checkpoint over the signature just logged: its proof of time,
    should the key be compromised later (see pqml.log.signature_time)."""
    from pqml.log import signature_time
    from pqml.log.errors import LogError

    try:
        signature_time.checkpoint_now()
    except LogError as exc:
        _warn(f"the log did not timestamp the signature: {' '.join(str(exc).split())}")


def _compromise_times(bundle: Path, result: Any, refs: Any, proof: str | None,
                      vkey: str | None) -> dict[str, tuple[Any, Any]]:
    """For each verified signature whose key the keyring knows as compromised or revoked
    (however the trusted key was given: keyring reference, key file, certificate): was it
    logged before that time? (pqml.log.signature_time; a proof file needs the log's key.)
    Maps key id -> (keyring record, SignatureTime)."""
    from pqml.keys.errors import UnknownKeyError
    from pqml.log import signature_time

    if (proof is None) != (vkey is None):
        raise click.UsageError("--log-proof and --log-key go together")
    ring = refs.keyring
    if not ring.exists():
        return {}
    out = {}
    for check in result.signatures:
        if check.status != "verified" or not check.key_id or check.key_id in out:
            continue
        try:
            record = ring.get(check.key_id)
        except UnknownKeyError:
            continue
        if record.id != check.key_id:  # a prefix or label match is not this key
            continue
        distrusted = ring.distrusted_since(record.id)
        if distrusted is None:
            continue
        when, cause = distrusted
        if proof is not None and vkey is not None:
            judged = signature_time.from_proof(Path(proof).read_bytes(), Path(vkey).read_text(),
                                               bundle, record.id, when, cause=cause)
        else:
            judged = signature_time.from_log(bundle, record.id, when, cause=cause)
        out[record.id] = (record, judged)
    return out


def _check_compromised(result: Any, times: dict[str, Any], require_pq: bool) -> None:
    """Refuse when only signatures by keys compromised before they were logged verified
    (or, with --require-pq, no post-quantum one is left)."""
    from pqml.signing.errors import VerificationError

    refused = {kid for kid, (_, t) in times.items() if not t.accepted}
    if not refused:
        return
    good = [c for c in result.signatures if c.status == "verified" and c.key_id not in refused]
    reason = next(t.describe(record.name) for record, t in times.values() if not t.accepted)
    if not good:
        raise VerificationError(reason, report=result)
    if require_pq and not any(c.quantum_vulnerable is False for c in good):
        raise VerificationError(f"{reason}; no other post-quantum signature verified",
                                report=result)


def _file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a signature bundle: its log entry binds this very bundle."""
    import hashlib

    from pqml.storage import open_stream  # a path, or the bundle object's URL

    with open_stream(path) as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


@click.command()
@click.argument("model", type=path_or_url(path_type=Path))
@click.option("-k", "--key", "keys", multiple=True, required=True, metavar="KEY",
              help="Private key file or keyring key (id, id prefix or label); repeat for "
                   "several signatures, in this order (ECDSA first keeps the bundle "
                   "verifiable by model_signing).")
@click.option("--signature", type=path_or_url(dir_okay=False, path_type=Path),
              metavar="PATH", help="Bundle to write. Default: MODEL/model.sig for a "
                                   "directory, MODEL.sig beside a single file.")
@click.option("--force", is_flag=True,
              help="Replace an existing signature bundle (re-sign); refused otherwise.")
@click.option("--profile", default="default", show_default=True,
              help="Algorithm profile: default or cnsa2 (SHA-384, CNSA 2.0 keys only).")
@_hash
@_method
@_shard_size
@_ignore
@_ignore_git
@_symlinks
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Passphrase for encrypted private key files.")
@click.option("--certificate", metavar="PEM",
              help="X.509 certificate of the first key (pqml ca issue): writes a "
                   "certificate-method bundle.")
@click.option("--certificate-chain", "certificate_chain", multiple=True, metavar="PEM",
              help="Intermediate certificates for the bundle (self-signed roots are left "
                   "out); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@cli_engine.engine_options
@audit.logged("sign", lambda params: [params.get("model")])
def sign(model: Path, keys: tuple[str, ...], signature: Path | None, force: bool,
         profile: str, hash_name: str | None, method: str, shard_size: str | None,
         ignore_paths: tuple[str, ...], ignore_git_paths: bool, allow_symlinks: bool,
         passphrase_file: str | None, certificate: str | None,
         certificate_chain: tuple[str, ...], as_json: bool, engine: str,
         address: str | None) -> None:
    """Sign a model into an OpenSSF Model Signing bundle.

    MODEL is a directory or a single file; each -k key adds one signature to the bundle.

    \b
    Examples:
      pqml sign my-model -k signer.pem                 # ML-DSA-65 (pqml keygen --alg ML-DSA-65)
      pqml sign my-model -k ecdsa.pem -k mldsa.pem     # hybrid: model_signing checks the first
      pqml sign my-model --profile cnsa2 -k mldsa87.pem  # SHA-384 + ML-DSA-87
      pqml sign my-model -k signer.pem --force         # re-sign: replace model.sig
      pqml sign my-model -k bot.pem --certificate bot.crt --certificate-chain ca/chain.pem
    """
    from pqml.keys.key_refs import KeyringUse
    from pqml.log import events
    from pqml.signing import signing

    if certificate_chain and certificate is None:
        raise click.UsageError("--certificate-chain needs --certificate")
    passphrase = key_passphrase(passphrase_file)
    refs = KeyringUse(passphrase=passphrase)  # keyring references: active keys only
    with cli_engine.hashing(engine, address):  # --engine ray: workers hash, keys stay here
        result = signing.sign_model(
            model, refs.signing_keys(keys), signature=signature, profile=profile,
            hash=hash_name, method=method,  # type: ignore[arg-type]
            shard_size=_size(shard_size), ignore_paths=ignore_paths,
            ignore_git_paths=ignore_git_paths, allow_symlinks=allow_symlinks,
            passphrase=passphrase, force=force, certificate=certificate,
            certificate_chain=certificate_chain,
        )
    refs.record("sign", model, sum(f.size or 0 for f in result.manifest.files.values()))
    audit.done(lambda: events.signed(
        str(model), result.root_digest, result.key_ids, result.algorithms,
        str(result.signature), _file_digest(result.signature)))
    _timestamp_signature()
    for message in result.warnings:
        _warn(message)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    from pqml._internal.text import plural
    from pqml.primitives import registry

    signers = ", ".join(
        alg + (" (quantum-vulnerable)" if registry.get(alg).quantum_vulnerable else "")
        for alg in result.algorithms
    )
    m = result.manifest
    how = m.hash_type + (f", shards of {m.shard_size} bytes" if m.method == "shards" else "")
    click.echo(f"Signed {model} -> {result.signature}")
    click.echo(f"  {plural(len(m.files), 'file')} ({how}); signatures: {signers}")
    click.echo(f"  root digest: {result.root_digest}")


def _print_report(report: Any, as_json: bool, *, failed: bool,
                  key_notes: list[tuple[Any, str]] | None = None) -> None:
    """The report; ``key_notes`` are (keyring key, notice) for trusted keyring keys
    that are revoked, compromised or expired."""
    from pqml._internal.text import printable

    key_notes = key_notes or []
    if as_json:
        data = report.as_dict()
        if key_notes:
            data["key_states"] = [{"key_id": r.id, "label": r.label, "state": str(r.state),
                                   "compromised_at": r.compromised_at,
                                   "not_after": r.not_after, "notice": note}
                                  for r, note in key_notes]
        click.echo(json.dumps(data, indent=2))
        return
    for check in report.signatures:
        click.echo(check.describe())
    for _, note in key_notes:
        click.echo(printable(f"key state: {note}"))
    shown = [f for f in report.files if not (f.status == "ok" and failed)]
    for entry in shown:
        click.echo(entry.describe(report.model))
    if not failed:
        counts: dict[str, int] = {}
        for entry in report.files:
            counts[entry.status] = counts.get(entry.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        kind = "partial: only the files asked for" if report.partial else "every file"
        click.echo(printable(f"Verified {report.model} ({kind}; {summary})"))
        if report.root_digest:
            click.echo(f"  root digest: {report.root_digest}")


@click.command()
@click.argument("model", type=path_or_url(path_type=Path))
@click.option("-k", "--key", "public_keys", multiple=True, metavar="PUBKEY",
              help="Trusted public key file (a private key file gives its public half) or "
                   "keyring key (id, id prefix or label; revoked, compromised and expired "
                   "ones are reported as such); repeatable.")
@click.option("--certificate-chain", "certificate_chain", multiple=True, metavar="PEM",
              help="Trusted certificates for certificate bundles (chain and root); repeatable.")
@click.option("--signature", type=path_or_url(dir_okay=False, path_type=Path),
              metavar="PATH", help="Bundle to check (default as for sign; for a single file "
                                   "also model.sig beside it).")
@click.option("--crl", "crls", multiple=True, metavar="FILE",
              help="CRL (pqml ca crl) of a CA in the certificate chain: fail if it revokes a "
                   "certificate of the chain; repeatable.")
@click.option("--require-pq", is_flag=True,
              help="Fail unless a post-quantum signature from a trusted key verified.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Trust policy, JSON or TOML (trusted_keys, required_algorithms, "
                   "min_signatures, require_pq, certificate_chain, subject_name, "
                   "root_digest).")
@click.option("--allow-unsigned-files", is_flag=True,
              help="Accept files the signature does not cover (they are still listed).")
@_symlinks
@click.option("--only", "only", multiple=True, metavar="FILE",
              help="Partial verification: check the signature, then hash only this file "
                   "(relative to MODEL; repeatable).")
@click.option("--expect-name", "expect_name", metavar="NAME",
              help="Fail unless the bundle signs the model named NAME (its subject: the "
                   "signed directory's name); stops another model's bundle and files.")
@click.option("--expect-digest", "expect_digest", metavar="DIGEST",
              callback=lambda ctx, param, value: _root_digest(value),
              help="Fail unless the signed root digest is DIGEST (as sign, verify and "
                   "digest print it); stops an older signed version (rollback).")
@click.option("--log-proof", "log_proof", type=click.Path(exists=True, dir_okay=False),
              metavar="FILE",
              help="tlog-proof (pqml log proof) that the signature was logged before its "
                   "key's compromise; checked with --log-key. Default: the local log.")
@click.option("--log-key", "log_key", type=click.Path(exists=True, dir_okay=False),
              metavar="VKEY", help="The log's verifier key (pqml log key) for --log-proof.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@cli_engine.engine_options
@audit.logged("verify", lambda params: [params.get("model")])
def verify(model: Path, public_keys: tuple[str, ...], certificate_chain: tuple[str, ...],
           signature: Path | None, crls: tuple[str, ...], require_pq: bool, policy_file: str | None,
           allow_unsigned_files: bool, allow_symlinks: bool, only: tuple[str, ...],
           expect_name: str | None, expect_digest: str | None, log_proof: str | None,
           log_key: str | None, as_json: bool, engine: str, address: str | None) -> None:
    """Verify a model's signature bundle, then every file it covers.

    Checks MODEL against its OMS bundle: signatures first, then every file. Reports each
    signature (algorithm, key, verified or not, quantum-vulnerable) and each file that
    differs (modified, added, removed, renamed). Exit status 1 on any failure.

    \b
    Examples:
      pqml verify my-model -k signer.pub.pem
      pqml verify my-model -k ecdsa.pub -k mldsa.pub --require-pq
      pqml verify my-model --certificate-chain ca.pem --crl crl.pem
      pqml verify my-model --policy trust.toml --only model.safetensors
      pqml verify my-model -k signer.pub.pem --expect-name my-model --expect-digest sha256:…
    """
    from pqml.keys.key_refs import KeyringUse
    from pqml.log import events
    from pqml.signing import signing
    from pqml.signing.errors import VerificationError

    refs = KeyringUse()  # keyring references: any state that verifies; notices below
    try:
        with cli_engine.hashing(engine, address):  # --engine ray: workers hash the files
            result = signing.verify_model(
                model, refs.trusted_keys(public_keys), certificate_chain=certificate_chain,
                signature=signature, policy=policy_file, require_pq=require_pq,
                allow_unsigned_files=allow_unsigned_files, allow_symlinks=allow_symlinks,
                files=list(only) if only else None, expect_name=expect_name,
                expect_digest=expect_digest, crls=crls,
            )
    except VerificationError as exc:
        if exc.report is not None:
            _print_report(exc.report, as_json, failed=True)
        raise
    signers = {c.key_id for c in result.signatures if c.status == "verified"}
    refs.used = [r for r in refs.used if r.id in signers]  # the keys that verified
    times = _compromise_times(result.signature, result, refs, log_proof, log_key)
    try:
        _check_compromised(result, times, require_pq)
    except VerificationError:
        _print_report(result, as_json, failed=True)
        raise
    notes = [(r, note) for r, note in refs.notices() if r.id not in times]
    notes += [(record, judged.describe(record.name)) for record, judged in times.values()]
    _print_report(result, as_json, failed=False, key_notes=notes)
    for message in result.warnings:
        _warn(message)
    for _, note in notes:
        _warn(note)
    refs.record("verify", model)
    verified = [c for c in result.signatures if c.status == "verified"]
    audit.done(lambda: events.verified(
        str(model), result.root_digest, [c.key_id for c in verified if c.key_id],
        [c.algorithm for c in verified if c.algorithm], ok=True))


@click.command()
@click.argument("model", type=path_or_url(path_type=Path))
@click.option("--signature", type=path_or_url(dir_okay=False, path_type=Path),
              metavar="PATH", help="Bundle whose hashing to follow (default: the one verify "
                                   "finds, e.g. MODEL/model.sig).")
@_hash
@click.option("--profile", default="default", show_default=True,
              help="Profile whose default hash to use without a bundle (cnsa2: SHA-384).")
@click.option("--method", type=click.Choice(["auto", "files", "shards"]), default="auto",
              show_default=True,
              help="OMS serialization. auto: the bundle's; without one, what pqml sign picks "
                   "for a post-quantum first key (shards; files for BLAKE3).")
@_shard_size
@_ignore
@_ignore_git
@_symlinks
@click.option("--json", "as_json", is_flag=True,
              help="Print the manifest: every file's size and digest, and both roots.")
def digest(model: Path, signature: Path | None, hash_name: str | None, profile: str,
           method: str, shard_size: str | None, ignore_paths: tuple[str, ...],
           ignore_git_paths: bool, allow_symlinks: bool, as_json: bool) -> None:
    """Print a model's root digest, the value pqml sign records.

    One value binds every file of MODEL: its name, size and digest. MODEL is hashed as its
    signature bundle records (hash, method, shard size, ignore paths; options given here
    override them), so an unchanged model prints the root digest pqml sign recorded; with
    no bundle, the defaults. Standard error says which. The bundle's signatures are not
    checked (pqml verify does). docs/FORMAT.md defines the digest byte by byte.
    """
    from pqml.primitives import registry
    from pqml.signing import manifest, signing

    default_hash = registry.profile(profile).default("hash").name
    blake3 = manifest.hash_type(hash_name or default_hash) == "blake3"
    result = signing.digest_as_recorded(
        model, signature=signature, hash=hash_name,
        method=None if method == "auto" else method,  # type: ignore[arg-type]
        shard_size=_size(shard_size), ignore_paths=ignore_paths or None,
        ignore_git_paths=ignore_git_paths, allow_symlinks=allow_symlinks,
        default_hash=default_hash, default_method="files" if blake3 else "shards",
    )
    click.echo(f"pqml: digest: {result.parameters()}", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(f"{result.root_digest}  {model}")
