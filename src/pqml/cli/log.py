"""``pqml log``: show, verify, checkpoint and prove the transparency log from the shell.

A thin shell over :mod:`pqml.log.store` and :mod:`pqml.log.verify`. Tables are plain text
with every column at full width (nothing is cut when piped); ``--json`` prints JSON on
standard output. Failures, tampering included, are one line on stderr and exit 1.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pqml.cli.help import Group

if TYPE_CHECKING:
    from pqml.log.entry import LogEntry
    from pqml.log.store import LogStore

_LOG = click.option("--log", "log_dir", type=click.Path(file_okay=False, path_type=Path),
                    metavar="DIR", help="The log directory (default: $PQML_HOME/log).")
_JSON = click.option("--json", "as_json", is_flag=True,
                     help="Print the result as JSON on standard output.")
_FORCE = click.option("--force", is_flag=True, help="Overwrite an existing output file.")


def _store(log_dir: Path | None, *, must_exist: bool = True) -> LogStore:
    from pqml.log.errors import LogError
    from pqml.log.store import LogStore

    store = LogStore(log_dir)
    if must_exist and not store.exists():
        raise LogError(f"{store.directory}: no transparency log here (nothing was logged "
                       "yet, or give --log DIR)")
    return store


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as wide as their widest cell, two spaces apart; never cut."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    last = len(headers) - 1

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c if i == last else c.ljust(widths[i])
                         for i, c in enumerate(cells)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)]) + "\n"


def _read_input(path: str, what: str, limit: int = 1 << 20) -> bytes:
    from pqml.log.errors import LogError

    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise LogError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise LogError(f"{path}: too large for a {what} (over {limit} bytes)")
    return data


def _vkey(value: str, what: str):  # -> VerifierKey
    """A verifier key given as a file holding one, or as the key text itself."""
    from pqml.log.verify import load_vkey

    if os.path.isfile(value):
        return load_vkey(_read_input(value, what).decode("ascii", "replace"), f"{value}")
    return load_vkey(value, what)


def _write(output: str | None, data: bytes, force: bool) -> None:
    if output is None or output == "-":
        click.echo(data.decode(), nl=False)
        return
    from pqml._internal.output_file import write_atomic

    write_atomic(output, data, mode=0o644, overwrite=force)


@click.group(cls=Group)
def log() -> None:
    """Show, verify and prove entries of the transparency log.

    pqml records key generation and state changes, encryption, decryption, rekeying,
    migration, signing and verification in an append-only log in $PQML_HOME/log: JSON
    entries (who, what, which keys, which asset, outcome; never a secret) under an RFC
    6962 Merkle tree whose checkpoints are C2SP signed notes signed with the log's
    ML-DSA-44 key. PQML_LOG=off turns recording off.
    """


@log.command()
@click.option("--operation", "operations", multiple=True, metavar="OP",
              help="Only entries of this operation (repeatable), e.g. decrypt, key.state.")
@click.option("--key", "key_id", metavar="ID", help="Only entries naming this key id "
              "(or a prefix of 4 or more characters).")
@click.option("--asset", metavar="PATH", help="Only entries about this asset (its path as "
              "recorded, its absolute path, or its sha256: digest).")
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True,
              help="First index to show.")
@_JSON
@_LOG
def show(operations: tuple[str, ...], key_id: str | None, asset: str | None, start: int,
         as_json: bool, log_dir: Path | None) -> None:
    """List the log's entries, oldest first (filters combine)."""
    from pqml._internal.text import printable
    from pqml.log.entry import OPERATIONS

    unknown = sorted(set(operations) - OPERATIONS)
    if unknown:
        raise click.BadParameter(f"unknown operation {unknown[0]!r} (known: "
                                 f"{', '.join(sorted(OPERATIONS))})", param_hint="--operation")
    if key_id is not None and len(key_id) < 4:
        raise click.BadParameter("give 4 or more characters of the key id", param_hint="--key")
    store = _store(log_dir, must_exist=False)
    found = [(i, e) for i, e in (store.entries(start) if store.exists() else ())
             if _matches(e, operations, key_id, asset)]
    if as_json:
        _emit_json([{"index": i, **e.to_json()} for i, e in found])
        return
    rows = [[str(i), _when(e.time), e.operation, e.outcome,
             printable(f"{e.actor.user}@{e.actor.host}"), printable(",".join(e.key_ids)),
             printable(",".join(a.path for a in e.assets))] for i, e in found]
    click.echo(_table(["INDEX", "TIME", "OPERATION", "OUTCOME", "ACTOR", "KEYS", "ASSETS"],
                      rows), nl=False)


def _asset_names(asset: str) -> set[str]:
    return {asset, os.path.abspath(asset)}


def _matches(entry: LogEntry, operations: tuple[str, ...], key_id: str | None,
             asset: str | None) -> bool:
    if operations and entry.operation not in operations:
        return False
    if key_id is not None and not any(k.startswith(key_id) for k in entry.key_ids):
        return False
    if asset is not None:
        names = _asset_names(asset)
        if not any(a.path in names or a.digest == asset for a in entry.assets):
            return False
    return True


@log.command()
@click.option("--checkpoint", "saved", metavar="FILE",
              help="A checkpoint of this log saved elsewhere: the log must still extend it "
                   "(detects truncation and rollback).")
@click.option("--key", "key", metavar="VKEY",
              help="The log's verifier key as you know it (a file or the text); by "
                   "default the log directory's own log.vkey is trusted.")
@click.option("--no-sign", is_flag=True,
              help="Do not sign a checkpoint of the verified log afterwards.")
@_JSON
@_LOG
def verify(saved: str | None, key: str | None, no_sign: bool, as_json: bool,
           log_dir: Path | None) -> None:
    """Check every entry, record and checkpoint; name the first entry that was changed.

    Detects an edited, deleted, inserted or reordered entry (even with the record file
    rewritten to match) and names its index; with --checkpoint, a log truncated or
    rolled back since that checkpoint was saved. Exit 1 on any of them.
    """
    from pqml.log.errors import LogTamperedError
    from pqml.log.verify import verify_log

    note = _read_input(saved, "checkpoint") if saved else None
    try:
        report = verify_log(_store(log_dir), checkpoint=note,
                            checkpoint_name=saved or "checkpoint",
                            key=_vkey(key, "--key") if key else None, sign=not no_sign)
    except LogTamperedError as exc:
        if as_json:  # machines get the finding on stdout too; the error line follows
            problem = getattr(exc, "problem", None)
            _emit_json({"ok": False, "error": str(exc),
                        "index": getattr(problem, "index", None),
                        "kind": getattr(problem, "kind", None)})
        raise
    if as_json:
        _emit_json(report.to_json())
        return
    for warning in report.warnings:
        click.echo(f"pqml: warning: {warning}", err=True)
    latest = report.latest
    head = (f"checkpoint {latest.size} signed {_when(latest.timestamp)}" if latest
            else "no checkpoint yet")
    click.echo(f"ok: {report.size} entries verified ({report.checkpoints} checkpoints; "
               f"newest: {head})")
    if report.saved is not None:
        click.echo(f"ok: the log extends {saved} (checkpoint {report.saved[0]} signed "
                   f"{_when(report.saved[1])})")


@log.command()
@click.option("-o", "--output", metavar="FILE", help="Write the checkpoint to FILE "
              "(save it somewhere else: `pqml log verify --checkpoint FILE` detects "
              "a log truncated or rolled back since).")
@_FORCE
@_LOG
def checkpoint(output: str | None, force: bool, log_dir: Path | None) -> None:
    """Sign a checkpoint of the whole log now and print it (a C2SP signed note)."""
    _write(output, _store(log_dir, must_exist=False).checkpoint(), force)


@log.command()
@click.argument("asset", required=False)
@click.option("--index", type=click.IntRange(min=0), help="Prove this entry instead.")
@click.option("--operation", metavar="OP",
              help="With ASSET: the newest entry of this operation (e.g. sign).")
@click.option("-o", "--output", metavar="FILE", required=True,
              help="Where to write the proof (.tlog-proof; - for standard output).")
@_FORCE
@_LOG
def proof(asset: str | None, index: int | None, operation: str | None, output: str,
          force: bool, log_dir: Path | None) -> None:
    """Write an offline inclusion proof (C2SP tlog-proof) of an entry.

    ASSET picks the newest entry about that file (path as recorded, absolute path or
    sha256: digest). The proof carries the entry and a signed checkpoint, so another
    machine checks it with only the log's public key: pqml log check-proof.
    """
    from pqml.log.errors import LogError

    if (asset is None) == (index is None):
        raise click.UsageError("give an ASSET or --index N (one of them)")
    store = _store(log_dir)
    if index is None:
        assert asset is not None
        ops = (operation,) if operation else ()
        matches = [i for i, e in store.entries() if _matches(e, ops, None, asset)]
        if not matches:
            raise LogError(f"{asset}: no log entry names this asset"
                           + (f" with operation {operation}" if operation else ""))
        index = matches[-1]
    data = store.prove(index)
    _write(output, data, force)
    if output not in (None, "-"):
        click.echo(f"entry {index}: proof written to {output}", err=True)


@log.command("check-proof")
@click.argument("proof_file", metavar="PROOF")
@click.option("--key", "key", required=True, metavar="VKEY",
              help="The log's verifier key (pqml log key prints it): a file or the text.")
@click.option("--cosigner", "cosigners", multiple=True, metavar="VKEY",
              help="A cosigner's verifier key that must also have signed (repeatable).")
@_JSON
def check_proof(proof_file: str, key: str, cosigners: tuple[str, ...], as_json: bool) -> None:
    """Check an inclusion proof offline, with only the log's public key."""
    from pqml._internal.text import printable
    from pqml.log.verify import check_proof as check

    proven = check(_read_input(proof_file, "proof"), _vkey(key, "--key"),
                   what=proof_file, cosigners=[_vkey(c, "--cosigner") for c in cosigners])
    if as_json:
        _emit_json(proven.to_json())
        return
    e = proven.entry
    assets = printable(", ".join(a.path for a in e.assets)) or "-"
    click.echo(f"ok: entry {proven.index} of {proven.origin} (tree of {proven.tree_size} "
               f"signed {_when(proven.timestamp)}): {e.operation} {e.outcome} at "
               f"{_when(e.time)} by {printable(e.actor.user)}@{printable(e.actor.host)}; "
               f"assets: {assets}")


@log.command()
@_LOG
def key(log_dir: Path | None) -> None:
    """Print the log's verifier key (C2SP vkey) for check-proof and other machines."""
    click.echo(str(_store(log_dir).vkey))


@log.command()
@click.argument("checkpoint_file", metavar="CHECKPOINT")
@click.option("--key", "key_file", required=True, metavar="FILE",
              help="The cosigner's ML-DSA-44 private key (pqml keygen --alg ML-DSA-44).")
@click.option("--name", required=True, metavar="NAME",
              help="The cosigner's name (a schema-less URL, e.g. audit.example.com/w1).")
@click.option("--log-key", metavar="VKEY",
              help="The log's verifier key (a file or the text), to cosign away from the "
                   "log; by default the local log's key.")
@click.option("-o", "--output", metavar="FILE", help="Write the cosigned checkpoint here.")
@_FORCE
@_LOG
def cosign(checkpoint_file: str, key_file: str, name: str, log_key: str | None,
           output: str | None, force: bool, log_dir: Path | None) -> None:
    """Add a second key's ML-DSA-44 cosignature to a checkpoint this log signed.

    The checkpoint is verified with the log's key first; the cosigner's verifier key is
    printed on standard error (give it to check-proof --cosigner).
    """
    from pqml.formats.signed_note import Note, parse_note, serialize_note
    from pqml.formats.tlog import cosign_mldsa44, mldsa44_vkey
    from pqml.keys.key_files import load_private
    from pqml.log.errors import LogError
    from pqml.log.store import check_checkpoint
    from pqml.primitives.errors import PqmlError

    note = _read_input(checkpoint_file, "checkpoint")
    log_vkey = _vkey(log_key, "--log-key") if log_key else _store(log_dir).vkey
    head, _ = check_checkpoint(note, log_vkey, what=checkpoint_file)
    signer = load_private(key_file)
    try:
        sig = cosign_mldsa44(head, name, signer, int(time.time()))
    except PqmlError as exc:
        raise LogError(f"{key_file}: cannot cosign: {exc}") from None
    parsed = parse_note(note)
    signed = serialize_note(Note(parsed.text, (*parsed.signatures, sig)))
    _write(output, signed, force)
    click.echo(f"cosigner key: {mldsa44_vkey(name, signer.public_key().public_bytes())}",
               err=True)


@log.command()
@_LOG
def recover(log_dir: Path | None) -> None:
    """Cut a partial record left by a power loss or full disk, so appends can go on.

    Only bytes that never formed a complete entry are removed, and each removal is
    written to recovery.log in the log directory first. Committed entries are never
    touched.
    """
    done = _store(log_dir).recover()
    for line in done:
        click.echo(line)
    if not done:
        click.echo("nothing to recover")
