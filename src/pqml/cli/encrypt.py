"""``pqml encrypt``, ``pqml decrypt``, ``pqml rekey``, ``pqml inspect``: age's flags over
pqml/v1 and age v1 files, files or whole directory trees.

A thin shell over :mod:`pqml.encryption.encrypt`, :mod:`~pqml.encryption.rekey` and
:mod:`~pqml.encryption.inspect`: argument parsing, stdin/stdout, warnings, JSON and a
``rich`` progress bar when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from pqml.cli import audit
from pqml.cli import engine as cli_engine
from pqml.cli.url_params import input_size, path_or_url


def _warn(message: str) -> None:
    click.echo(f"pqml: warning: {message}", err=True)


def _warn_classical(recipients: list[dict[str, Any]]) -> None:
    for r in recipients:
        if not r.get("post_quantum"):
            kid = f" (key id {r['key_id']})" if r.get("key_id") else ""
            _warn(f"recipient {r['type']}{kid} is quantum-vulnerable: a future quantum "
                  "attacker can decrypt this file through it")


@contextlib.contextmanager
def _progress(total: int | None, label: str) -> Iterator[Any]:
    """A byte-count callback drawing a rich progress bar on a terminal; None otherwise."""
    if not total or not sys.stderr.isatty() or total < 8 * 1024 * 1024:
        yield None
        return
    with byte_bar(label, total) as (bar, task):
        yield lambda n: bar.advance(task, n)


@contextlib.contextmanager
def byte_bar(label: str, total: int | None) -> Iterator[tuple[Any, Any]]:
    """A transient rich bar of bytes on stderr (``total`` None: not known yet); yields
    the progress display and its task."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        yield bar, bar.add_task(label, total=total)


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _passphrase(file: str | None, prompt: bool, confirm: bool) -> Any:
    from pqml.encryption.encryption_keys import Passphrase

    if file is not None:
        return Passphrase.from_file(file)
    if not prompt:
        return None
    import getpass
    import warnings

    from pqml.primitives.errors import PqmlError

    # Without a terminal, getpass warns (GetPassWarning, a Python warning on stderr) and
    # reads standard input, which may be the data itself, with echo on. Refuse instead.
    no_terminal = click.UsageError("-p/--passphrase needs a terminal to ask the passphrase "
                                   "on: use --passphrase-file FILE")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", getpass.GetPassWarning)
            value = getpass.getpass("Passphrase: ")
            if confirm and getpass.getpass("Confirm passphrase: ") != value:
                raise PqmlError("the passphrases do not match")
    except getpass.GetPassWarning:
        raise no_terminal from None
    except EOFError:
        raise PqmlError("no passphrase given (no terminal to ask on)") from None
    return Passphrase(value.encode("utf-8"))


def _with_passphrase(given: list[Any], file: str | None, ask: bool, *, confirm: bool,
                     missing: str) -> list[Any]:
    """The recipients (-r, -R) or identities (-i) given, plus the passphrase if one was;
    the error ``missing`` if that is nothing."""
    from pqml.primitives.errors import PqmlError

    pw = _passphrase(file, ask, confirm)
    found = [*given, *([pw] if pw is not None else [])]
    if not found:
        raise PqmlError(missing)
    return found


_KEY_PASSPHRASE = click.option(
    "--key-passphrase-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
    help="Passphrase of passphrase-protected -i key files (as keygen --passphrase-file "
         "wrote it). Without it, pqml asks on the terminal, as age does.")


def _ask_key_passphrase(name: str) -> bytes:
    """The passphrase of the encrypted key file ``name``, typed at the terminal (asked
    only once the key turns out to be encrypted); where there is no terminal, an error
    saying how to give it."""
    import getpass

    from pqml.formats.errors import PassphraseRequiredError

    no_terminal = PassphraseRequiredError("the private key is passphrase-protected: give "
                                          "--key-passphrase-file FILE (no terminal to ask on)")
    try:  # getpass would fall back to standard input, which may carry the ciphertext
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        raise no_terminal from None
    try:
        return getpass.getpass(f"Passphrase for key file {name}: ").encode("utf-8")
    except EOFError:
        raise no_terminal from None


def _identity_files(identities: tuple[str, ...], key_passphrase_file: str | None,
                    refs: Any = None) -> list[Any]:
    """The -i files, each with what unlocks it if it is a passphrase-protected key; a
    keyring reference (no such file) becomes the keyring key, its state checked (``refs``,
    a :class:`~pqml.keys.key_refs.KeyringUse`, keeps it to count the use)."""
    from pqml.cli.keys import key_passphrase
    from pqml.encryption.encryption_keys import IdentityFile
    from pqml.keys.key_refs import KeyringUse

    given = key_passphrase(key_passphrase_file) if key_passphrase_file is not None else None
    unlock: Any = given if given is not None else _ask_key_passphrase
    refs = refs if refs is not None else KeyringUse()
    refs.passphrase = given
    # a missing file that is no keyring key stays a name, for the usual "no such key file"
    return [IdentityFile(i, unlock) if os.path.isfile(i) else refs.identity(i) or i
            for i in identities]


def _emit_json(data: Any, to_stderr: bool) -> None:
    click.echo(json.dumps(data, indent=2), err=to_stderr)


STDIN = "<stdin>"


def _is_stdio(name: str | None) -> bool:
    return name is None or name == "-"


_INPUT = click.argument("input", required=False, metavar="[INPUT]",
                        type=path_or_url(allow_dash=True))
_OUTPUT = click.option("-o", "--output", metavar="OUT", type=path_or_url(allow_dash=True),
                       help="Output file, or directory: for a directory INPUT, or OUT/ (made "
                            "if missing) to write INPUT's file inside. Default: standard "
                            "output. An existing output is refused unless --force.")
_FORCE = click.option("--force", is_flag=True,
                      help="Replace an existing output file or directory tree.")
_ALLOW_SYMLINKS = click.option(
    "--allow-symlinks", is_flag=True,
    help="For a directory INPUT: follow symbolic links that resolve inside it (refused by "
         "default; a link out of the tree is always refused).")
_JSON = click.option("--json", "as_json", is_flag=True,
                     help="Print a JSON summary (to stderr when stdout carries the data).")


def _report_encrypted_tree(results: list[Any], refs: Any, as_json: bool) -> None:
    """What a tree's encryption reports (local or object-store tree alike)."""
    from pqml.log import events

    refs.record_many("encrypt", [(r.output, r.plaintext_size) for r in results])
    audit.done(lambda: [events.encrypted(r.to_dict()) for r in results])
    if results:
        _warn_classical(results[0].recipients)
    if as_json:
        _emit_json([r.to_dict() for r in results], False)


def _report_decrypted_tree(results: list[Any], skipped: list[str], refs: Any,
                           as_json: bool) -> None:
    """What a tree's decryption reports: skipped files named, one warning each."""
    from pqml.log import events

    refs.record_many("decrypt", [(r.input, r.plaintext_size) for r in results])
    audit.done(lambda: [events.decrypted(r.to_dict(), refs.ids()) for r in results])
    for path in skipped:
        _warn(f"{path}: not an encrypted file, skipped")
    if as_json:
        _emit_json({"decrypted": [r.to_dict() for r in results], "skipped": skipped}, False)


@click.command()
@click.option("-r", "--recipient", "recipients", multiple=True, metavar="RECIPIENT",
              help="age recipient (age1pq1…, age1…), key file (PEM public or private key, "
                   "age recipients or identity file) or keyring key (id, id prefix or "
                   "label; active keys only). Repeatable.")
@click.option("-R", "--recipients-file", "recipient_files", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="File of recipients (age recipients file, age identity file or PEM). "
                   "Repeatable.")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Encrypt to the passphrase on the first line of this file "
                   "(Argon2id for pqml, scrypt for age); must be the only recipient.")
@click.option("-p", "--passphrase", "ask_passphrase", is_flag=True,
              help="Encrypt to a passphrase asked on the terminal.")
@click.option("--format", "fmt", type=click.Choice(["pqml", "age"]), default="pqml",
              show_default=True, help="pqml/v1 (AES-256-GCM, random access) or age v1.")
@click.option("-a", "--armor", is_flag=True,
              help="ASCII-armored output (PEM-style text, either format).")
@_OUTPUT
@_FORCE
@click.option("--allow-classical", is_flag=True,
              help="Accept quantum-vulnerable (X25519) recipients; they are reported.")
@_ALLOW_SYMLINKS
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes (default 1: serial measured faster on disk here; "
                   "see docs/PERFORMANCE.md).")
@cli_engine.engine_options
@_JSON
@_INPUT
@audit.logged("encrypt", lambda params: [params.get("input")])
def encrypt(recipients: tuple[str, ...], recipient_files: tuple[str, ...],
            passphrase_file: str | None, ask_passphrase: bool, fmt: str, armor: bool,
            output: str | None, force: bool, allow_classical: bool, allow_symlinks: bool,
            jobs: int | None, engine: str, address: str | None, as_json: bool,
            input: str | None) -> None:
    """Encrypt a file, a directory or standard input to recipients.

    INPUT is a file, a directory (encrypted file by file into -o OUTDIR), an object
    URL, a URL prefix ending in "/" (every object under it, as a tree, into -o OUTDIR or
    -o PREFIX/) or, when absent or "-", standard input. The output is pqml/v1 (the
    default) or age v1; trees in object stores are binary pqml/v1.

    \b
    Examples:
      pqml encrypt -r age1pq1… -o model.safetensors.pqml model.safetensors
      pqml encrypt -r alice.pub.pem -r bob.pem -o out/ model-dir/
      pqml encrypt -r alice.pub.pem -o s3://bucket/enc/ s3://bucket/data/
      pqml encrypt --format age -a -r age1pq1… < notes.txt > notes.txt.age
    """
    from pqml.encryption import encrypt as feature
    from pqml.keys.key_refs import KeyringUse
    from pqml.log import events
    from pqml.primitives.errors import PqmlError

    refs = KeyringUse()  # keyring references among -r / -R: active keys only
    recips = _with_passphrase(
        refs.recipients([*recipients, *recipient_files]), passphrase_file, ask_passphrase,
        confirm=True, missing="no recipients: give -r RECIPIENT, -R FILE or --passphrase-file")
    kw: dict[str, Any] = {"format": fmt, "armor": armor, "allow_classical": allow_classical}
    if not cli_engine.is_local(engine, address):  # --engine ray: pqml.distributed
        cli_engine.encrypt(input, output, recips, fmt=fmt, armor=armor, force=force,
                           allow_classical=allow_classical, jobs=jobs, engine=engine,
                           allow_symlinks=allow_symlinks, address=address, as_json=as_json,
                           refs=refs)
        return
    if cli_engine.object_tree(input, output):  # s3://b/data/ or DIR -o s3://b/enc/
        if fmt != "pqml" or armor:
            raise PqmlError("trees in object stores are encrypted to binary pqml/v1 only "
                            "(no --format age, no --armor)")
        results, _ = cli_engine.run_tree("encrypt", input, output, recips,  # type: ignore[arg-type]
                                         jobs=jobs, allow_classical=allow_classical,
                                         force=force, allow_symlinks=allow_symlinks)
        _report_encrypted_tree(results, refs, as_json)
        return
    if not _is_stdio(input) and Path(input).is_dir():  # type: ignore[arg-type]
        if _is_stdio(output):
            raise PqmlError(f"{input}: is a directory: give -o OUTDIR for the encrypted tree")
        with _progress(_tree_size(Path(input)), "encrypting") as cb:  # type: ignore[arg-type]
            results = feature.encrypt_tree(input, output, recips, progress=cb,  # type: ignore[arg-type]
                                           jobs=jobs, force=force,
                                           allow_symlinks=allow_symlinks, **kw)
        _report_encrypted_tree(results, refs, as_json)
        return
    if not _is_stdio(input) and not _is_stdio(output):
        with _progress(input_size(input), "encrypting") as cb:  # type: ignore[arg-type]
            result = feature.encrypt_file(input, output, recips, progress=cb,  # type: ignore[arg-type]
                                          jobs=jobs, force=force, **kw)
        refs.record("encrypt", result.output, result.plaintext_size)
        audit.done(lambda: events.encrypted(result.to_dict()))
        _warn_classical(result.recipients)
        if as_json:
            _emit_json(result.to_dict(), False)
        return
    if not _is_stdio(output):  # standard input to a file
        result = feature.encrypt_to_path(sys.stdin.buffer, output, recips,  # type: ignore[arg-type]
                                         force=force, **kw)
        refs.record("encrypt", result.output, result.plaintext_size)
        audit.done(lambda: events.encrypted(result.to_dict()))
        _warn_classical(result.recipients)
        if as_json:
            _emit_json(result.to_dict(), False)
        return
    if sys.stdout.isatty() and not armor:
        raise PqmlError("refusing to write binary ciphertext to a terminal: use -o FILE, "
                        "redirect, or -a (age format)")
    resolved = feature.resolve_recipients(recips)
    dst = sys.stdout.buffer
    name = STDIN if _is_stdio(input) else str(input)
    try:
        if _is_stdio(input):
            size, described = feature.encrypt_to(sys.stdin.buffer, dst, resolved, **kw)
        else:
            with open(input, "rb", buffering=0) as src:  # type: ignore[arg-type]
                size, described = feature.encrypt_to(src, dst, resolved, **kw)
    except PqmlError as exc:
        raise feature.named(exc, name) from None
    dst.flush()
    refs.record("encrypt", None, size)
    audit.done(lambda: events.encrypted({"input": name, "output": "-", "format": fmt,
                                         "plaintext_size": size, "recipients": described}))
    _warn_classical(described)
    if as_json:
        _emit_json({"input": name, "output": "-", "format": fmt, "armored": armor,
                    "plaintext_size": size, "recipients": described}, True)


@click.command()
@click.option("-i", "--identity", "identities", multiple=True, metavar="IDENTITY",
              type=click.Path(dir_okay=False),
              help="Identity file (PEM private key or age identity file) or keyring key "
                   "(id, id prefix or label). Repeatable.")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Passphrase (first line of this file) for passphrase-encrypted files.")
@click.option("-p", "--passphrase", "ask_passphrase", is_flag=True,
              help="Ask the passphrase on the terminal.")
@_KEY_PASSPHRASE
@_OUTPUT
@_FORCE
@_ALLOW_SYMLINKS
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes (default 1: serial measured faster on disk here; "
                   "see docs/PERFORMANCE.md).")
@cli_engine.engine_options
@_JSON
@_INPUT
@audit.logged("decrypt", lambda params: [params.get("input")])
def decrypt(identities: tuple[str, ...], passphrase_file: str | None, ask_passphrase: bool,
            key_passphrase_file: str | None, output: str | None, force: bool,
            allow_symlinks: bool, jobs: int | None, engine: str, address: str | None,
            as_json: bool, input: str | None) -> None:
    """Decrypt a pqml/v1 or age file, a directory or standard input.

    INPUT may be binary or armored, a file, a directory, an object URL or a URL prefix
    ending in "/" (a tree, into -o OUTDIR or -o PREFIX/). Outputs appear only after the
    whole input authenticated (a tree: every file of it).

    \b
    Examples:
      pqml decrypt -i me.pem -o model.safetensors model.safetensors.pqml
      pqml decrypt -i me.txt -o model-dir/ out/
      pqml decrypt -i me.pem -o model-dir/ s3://bucket/enc/
    """
    from pqml.encryption import encrypt as feature
    from pqml.keys.key_refs import KeyringUse
    from pqml.log import events
    from pqml.primitives.errors import PqmlError

    refs = KeyringUse()  # keyring references among -i: counted once the file opened
    ids = _with_passphrase(_identity_files(identities, key_passphrase_file, refs),
                           passphrase_file, ask_passphrase, confirm=False,
                           missing="no identities: give -i IDENTITY or --passphrase-file")
    if not cli_engine.is_local(engine, address):  # --engine ray: pqml.distributed
        cli_engine.decrypt(input, output, ids, force=force, jobs=jobs, engine=engine,
                           allow_symlinks=allow_symlinks, address=address, as_json=as_json,
                           refs=refs)
        return
    if cli_engine.object_tree(input, output):  # s3://b/enc/, or DIR -o s3://b/dec/
        results, skipped, _ = cli_engine.run_tree(  # type: ignore[misc]
            "decrypt", input, output, ids, jobs=jobs, force=force,  # type: ignore[arg-type]
            allow_symlinks=allow_symlinks)
        _report_decrypted_tree(results, skipped, refs, as_json)
        return
    if not _is_stdio(input) and Path(input).is_dir():  # type: ignore[arg-type]
        if _is_stdio(output):
            raise PqmlError(f"{input}: is a directory: give -o OUTDIR for the decrypted tree")
        with _progress(_tree_size(Path(input)), "decrypting") as cb:  # type: ignore[arg-type]
            results, skipped = feature.decrypt_tree(input, output, ids, progress=cb,  # type: ignore[arg-type]
                                                    jobs=jobs, force=force,
                                                    allow_symlinks=allow_symlinks)
        _report_decrypted_tree(results, skipped, refs, as_json)
        return
    if not _is_stdio(input) and not _is_stdio(output):
        with _progress(input_size(input), "decrypting") as cb:  # type: ignore[arg-type]
            result = feature.decrypt_file(input, output, ids, progress=cb,  # type: ignore[arg-type]
                                          jobs=jobs, force=force)
        refs.record("decrypt", result.input, result.plaintext_size)
        audit.done(lambda: events.decrypted(result.to_dict(), refs.ids()))
        if as_json:
            _emit_json(result.to_dict(), False)
        return
    if not _is_stdio(output):  # standard input to a file
        result = feature.decrypt_to_path(sys.stdin.buffer, output, ids,  # type: ignore[arg-type]
                                         force=force)
        refs.record("decrypt", None, result.plaintext_size)
        audit.done(lambda: events.decrypted(result.to_dict(), refs.ids()))
        if as_json:
            _emit_json(result.to_dict(), False)
        return
    resolved = feature.resolve_identities(ids)
    dst = sys.stdout.buffer
    name = STDIN if _is_stdio(input) else str(input)
    try:
        if _is_stdio(input):
            fmt, size = feature.decrypt_to(sys.stdin.buffer, dst, resolved)
        else:
            with open(input, "rb", buffering=0) as src:  # type: ignore[arg-type]
                fmt, size = feature.decrypt_to(src, dst, resolved)
    except PqmlError as exc:
        raise feature.named(exc, name) from None
    dst.flush()
    refs.record("decrypt", None if _is_stdio(input) else input, size)
    audit.done(lambda: events.decrypted({"input": name, "output": "-", "format": fmt,
                                         "plaintext_size": size}, refs.ids()))
    if as_json:
        _emit_json({"input": name, "output": "-", "format": fmt, "plaintext_size": size}, True)


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=path_or_url(exists=True, dir_okay=False))
@click.option("-i", "--identity", "identities", multiple=True, metavar="IDENTITY",
              type=click.Path(dir_okay=False),
              help="Identity that can decrypt the files now (PEM or age identity file).")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Passphrase of a passphrase-encrypted file.")
@_KEY_PASSPHRASE
@click.option("--add", "add", multiple=True, metavar="R",
              help="Recipient to add (age string or key file). Repeatable.")
@click.option("--remove", "remove", multiple=True, metavar="R",
              help="Recipient to remove (age string or key file). Repeatable.")
@click.option("--reset", is_flag=True,
              help="Drop every existing stanza; the new header holds only --add recipients.")
@click.option("--skip-missing", is_flag=True,
              help="Skip (and report) the files that have no stanza for a recipient to "
                   "--remove, instead of changing no file.")
@click.option("--allow-classical", is_flag=True,
              help="Accept adding quantum-vulnerable (X25519) recipients.")
@click.option("--new-file-key", is_flag=True,
              help="Re-encrypt the payload under a fresh file key (file-key rotation) "
                   "instead of rewrapping the header: a removed recipient cannot decrypt "
                   "the new version even if they kept the old file key. Costs a full "
                   "read and write of each file.")
@click.option("--drop-revoked", is_flag=True,
              help="Remove the stanzas of keys the keyring says are revoked or "
                   "compromised; files without any are skipped.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON record per file: path, status (changed, skipped, failed, "
                   "unchanged), reason, and the result of a change (file_key_rotated, "
                   "removed_may_still_decrypt, guarantee).")
@audit.logged("rekey", lambda params: params.get("files", ()))
def rekey(files: tuple[str, ...], identities: tuple[str, ...], passphrase_file: str | None,
          key_passphrase_file: str | None, add: tuple[str, ...], remove: tuple[str, ...],
          reset: bool, skip_missing: bool, allow_classical: bool, new_file_key: bool,
          drop_revoked: bool, as_json: bool) -> None:
    """Change who can decrypt files, rewriting only their headers.

    Changes the recipients of encrypted FILEs (pqml/v1 or age); -i names an identity that
    can decrypt them now. Payload bytes stay identical. Every FILE is checked first (it
    opens, each recipient to remove has a stanza, the new header is valid) and no file is
    changed if one fails; --skip-missing skips the files without a stanza for a recipient
    to remove instead. Then the files are rewritten one after the other, each atomically;
    the whole run is not atomic across files: if a write fails (a full disk, a file
    changed since the check) it stops there. Standard error says per file what happened
    (changed, skipped, failed, or unchanged).

    A header rewrap does not take away the file key: a removed recipient who already had
    it can still decrypt. --new-file-key re-encrypts the payload under a fresh file key
    (each file replaced only when its new version is complete); every recipient kept
    needs its public key (-i identities, --add, or the keyring).

    \b
    Examples:
      pqml rekey -i me.pem --add age1pq1…bob model.safetensors.pqml
      pqml rekey -i me.pem --remove carol.pub.pem out/*.pqml
      pqml rekey -i me.pem --remove carol.pub.pem --skip-missing out/*.pqml
      pqml rekey -i me.pem --remove carol.pub.pem --new-file-key out/*.pqml
      pqml rekey -i me.pem --drop-revoked out/*.pqml
    """
    from pqml.encryption.errors import RekeyManyError
    from pqml.encryption.rekey import keyring_public_keys, rekey_many, revoked_keys
    from pqml.keys.key_refs import KeyringUse
    from pqml.log import events

    added = KeyringUse()  # keyring references in --add (active keys) and --remove
    ids = _with_passphrase(
        _identity_files(identities, key_passphrase_file), passphrase_file, False,
        confirm=False, missing="no identities: give -i IDENTITY (one that can decrypt the "
                               "files)")
    try:
        outcomes = rekey_many(files, ids, add=added.recipients(add),
                              remove=added.removed_recipients(remove), reset=reset,
                              allow_classical=allow_classical, skip_missing=skip_missing,
                              new_file_key=new_file_key,
                              find_public=keyring_public_keys() if new_file_key else None,
                              drop=revoked_keys() if drop_revoked else None)
    except RekeyManyError as exc:
        _report_rekey(exc.outcomes, as_json, one_file=len(files) == 1)
        raise
    _report_rekey(outcomes, as_json, one_file=len(files) == 1)
    added.record_many("rekey", [(o.path, 0) for o in outcomes if o.status == "changed"])
    for o in outcomes:  # removed and dropped keys no longer protect the changed files
        if o.status == "changed":
            added.unlink([o.path], o.result.dropped)
    audit.done(lambda: [events.rekeyed(o.result.to_dict()) for o in outcomes
                        if o.status == "changed"])


def _report_rekey(outcomes: list[Any], as_json: bool, *, one_file: bool) -> None:
    """One line per file on stderr (a lone file's failure is the error line itself), and
    one JSON record per file on stdout with --json."""
    from pqml._internal.text import plural

    warned: set[tuple[Any, Any]] = set()
    for o in outcomes:
        if o.status == "changed":
            result = o.result
            fresh = [a for a in result.added if not a.get("post_quantum")
                     and (a["type"], a.get("key_id")) not in warned]
            warned.update((a["type"], a.get("key_id")) for a in fresh)
            _warn_classical(fresh)
            how = ("payload re-encrypted under a fresh file key" if result.file_key_rotated
                   else "header rewritten in place" if result.in_place
                   else "file rewritten (payload bytes unchanged)")
            after = plural(result.stanzas_after, "recipient")
            click.echo(f"{o.path}: {result.stanzas_before} -> {after} "
                       f"(+{len(result.added)} -{result.removed}), {how}", err=True)
            left = result.quantum_vulnerable_stanzas
            if left and not as_json:
                _warn(f"{o.path}: {plural(left, 'quantum-vulnerable stanza')} "
                      f"{'remains' if left == 1 else 'remain'}")
            if result.dropped:
                click.echo(f"{o.path}: dropped revoked or compromised "
                           f"{plural(len(result.dropped), 'key')}: "
                           f"{', '.join(result.dropped)}", err=True)
        elif o.status != "failed" or not one_file:
            what = {"skipped": "skipped", "failed": "failed", "unchanged": "not changed"}
            click.echo(f"{o.path}: {what[o.status]}: {o.reason}", err=True)
    _report_guarantee([o.result for o in outcomes if o.status == "changed"])
    if as_json:
        _emit_json([o.to_dict() for o in outcomes], False)


def _report_guarantee(results: list[Any]) -> None:
    """After removing recipients, say plainly which guarantee the user got (once)."""
    from pqml.encryption.rekey import NEW_FILE_KEY_GUARANTEE, REWRAP_GUARANTEE

    rewrapped = [r for r in results if r.removed_may_still_decrypt]
    rotated = [r for r in results if r.removed_may_still_decrypt is False]
    if rewrapped:
        _warn(f"{_files_text(rewrapped)}: {REWRAP_GUARANTEE}")
    if rotated:
        click.echo(f"pqml: {_files_text(rotated)}: {NEW_FILE_KEY_GUARANTEE}", err=True)


def _files_text(results: list[Any]) -> str:
    return results[0].file if len(results) == 1 else f"{len(results)} files"


def _area_text(info: dict[str, Any]) -> str:
    area = info.get("header_area")
    if not area:
        return ""
    return (f" (header area: 2 slots of {area['slot_size'] // 1024} KiB, slot {area['slot']} "
            f"in use{', slots differ' if area['slots_identical'] is False else ''}; "
            "rekey in place)")


def _human_size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit} ({n} B)"
        size /= 1024
    return f"{n} B"  # pragma: no cover


@click.command()
@click.argument("file", type=path_or_url(exists=True, dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def inspect(file: str, as_json: bool) -> None:
    """Show an encrypted file's format and recipients, without a key.

    Reports what FILE ("-": standard input) is: format, recipients' stanza types, KEMs
    and key ids (as pqml keygen and pubkey --json print them), post-quantum status, sizes,
    chunks.
    """
    from pqml.encryption.inspect import inspect as inspect_file
    from pqml.encryption.inspect import inspect_stream

    info = inspect_stream(sys.stdin.buffer) if file == "-" else inspect_file(file)
    if as_json:
        _emit_json(info, False)
        return
    status = ("post-quantum" if info["post_quantum"] else
              "QUANTUM-VULNERABLE" if info["quantum_vulnerable"] else "unknown")
    lines = [
        f"file:        {info['file']}",
        f"format:      {info['format']}{' (armored)' if info['armored'] else ''}",
        f"protection:  {status}",
        "recipients:",
    ]
    for s in info["stanzas"]:
        what = s.get("kem") or (f"passphrase ({s['passphrase']})" if s.get("passphrase")
                                else "unknown stanza type")
        kid = f"  key id {s['key_id']}" if s.get("key_id") else ""
        pq = {True: "post-quantum", False: "quantum-vulnerable", None: "?"}[s["post_quantum"]]
        lines.append(f"  - {s['type']:<15} {what:<16} {pq}{kid}")
    lines += [
        f"header:      {_human_size(info['header_size'])}{_area_text(info)}",
        f"payload:     {_human_size(info['payload_size'])}, {info['payload_aead']}",
        f"chunks:      {info['chunks'] if info['chunks'] is not None else '?'} x "
        f"{info['chunk_size'] // 1024} KiB",
        f"plaintext:   {_human_size(info['plaintext_size'])}",
    ]
    if not info["size_valid"]:
        lines.append(f"problem:     {info['size_problem']}")
    click.echo("\n".join(lines))
