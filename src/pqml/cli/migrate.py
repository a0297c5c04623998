"""``pqml migrate``: a thin shell over :mod:`pqml.keys.migration` (report, then --apply)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

_COLUMNS = ("artifact", "kind", "protected now by", "becomes", "status")


def _identity_inputs(identities: tuple[str, ...], passphrase: bytes | None) -> list[Any]:
    from pqml.encryption.encryption_keys import IdentityFile

    if passphrase is None:
        return list(identities)
    return [IdentityFile(i, passphrase) if os.path.isfile(i) else i for i in identities]


def _print_report(report: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from pqml._internal.console import data_console
    from pqml._internal.text import printable

    def cell(text: str | None) -> str:  # names and reasons may come from hostile files
        return escape(printable(text or "-"))

    applied = "applied" if report.applied else "dry run: nothing changed; --apply to act"
    table = Table(title=f"pqml migrate ({applied})", pad_edge=False, show_lines=False)
    for col in _COLUMNS:
        table.add_column(col, no_wrap=col in ("artifact", "status"))
    for a in report.artifacts:
        status = {"ready": "[green]ready[/green]", "refused": "[red]refused[/red]",
                  "failed": "[red]failed[/red]", "needs": "[yellow]needs[/yellow]",
                  "migrated": "[green]migrated[/green]",
                  "completed": "[green]completed[/green]"}.get(a.status, a.status)
        now = cell(a.now)
        if a.quantum_vulnerable:
            now = now.replace("quantum-vulnerable", "[red]quantum-vulnerable[/red]")
        table.add_row(cell(a.path), cell(a.kind), now, cell(a.becomes), status)
    console = data_console()
    console.print(table)
    for a in report.artifacts:
        if a.status in ("ready", "migrated") and a.action != "none":
            console.print(f"{cell(a.path)}: {cell(a.action)}")
        if a.reason:
            console.print(f"{cell(a.path)}: {cell(a.status)}: {cell(a.reason)}")
        if a.warning:
            click.echo(f"pqml: warning: {printable(a.path)}: {printable(a.warning)}", err=True)
    if report.journal and not report.applied:
        console.print(f"an interrupted run left {cell(report.journal)}: --apply resumes it")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--to", "to", multiple=True, metavar="RECIPIENT",
              help="Post-quantum recipient for encrypted files and RSA blobs: age1pq1… "
                   "string, key file (as encrypt -r/-R) or keyring key. Repeatable.")
@click.option("-i", "--identity", "identities", multiple=True, metavar="IDENTITY",
              help="Key that opens the files now (age/PEM identity, RSA private key for "
                   "blobs) or keyring key. Repeatable.")
@click.option("--sign-key", metavar="KEY",
              help="Post-quantum signing key (e.g. ML-DSA-65) that co-signs classical "
                   "signature bundles; key file or keyring key.")
@click.option("--trust-key", "trust_keys", multiple=True, metavar="KEY",
              help="Trusted classical public key a bundle must verify against before it "
                   "is co-signed. Repeatable.")
@click.option("--certificate-chain", "certificate_chain", multiple=True, metavar="PEM",
              type=click.Path(exists=True, dir_okay=False),
              help="Trusted certificates for certificate-method bundles (as verify).")
@click.option("--layout", type=click.Choice(["lp16", "concat"]),
              help="Layout of binary RSA-wrapped blobs (they carry no marker); JWE and "
                   "JSON envelopes are recognised by their content.")
@click.option("--key-passphrase-file", type=click.Path(exists=True, dir_okay=False),
              metavar="FILE",
              help="Passphrase of passphrase-protected key files (else $PQML_KEY_PASSPHRASE).")
@click.option("--apply", "do_apply", is_flag=True,
              help="Migrate (default: only report what would be done).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON: each artifact's kind, protection now and "
                   "after, action and status.")
def migrate(paths: tuple[str, ...], to: tuple[str, ...], identities: tuple[str, ...],
            sign_key: str | None, trust_keys: tuple[str, ...],
            certificate_chain: tuple[str, ...], layout: str | None,
            key_passphrase_file: str | None, do_apply: bool, as_json: bool) -> None:
    """Move classical-only files and signatures to post-quantum keys.

    PATHs are age and pqml/v1 files with quantum-vulnerable recipients (their header is
    rewritten for the --to recipients; the payload is untouched), OpenSSF model-signing
    bundles with only classical signatures (verified against --trust-key, model files
    included, then co-signed with --sign-key in the same envelope; model_signing still
    verifies them) and RSA-OAEP + AES-GCM wrapped blobs (JWE RSA-OAEP-256/A256GCM,
    a JSON wrapped_key/nonce/ciphertext envelope, or binary with --layout; re-encrypted
    to pqml/v1). A model directory stands for its model.sig.

    Without --apply nothing changes: the report says what protects each artifact now,
    what it would become and the exact action. With --apply every artifact is checked
    first and none changes if one cannot be migrated; then each is replaced atomically,
    under its own name, by a complete, checked new version. A journal in
    $PQML_HOME/journals lets a rerun of the same command finish after a crash; a rerun
    after success changes nothing.

    \b
    Examples:
      pqml migrate model.safetensors.age -i old-x25519.txt --to age1pq1…
      pqml migrate my-model/ --trust-key ecdsa.pub --sign-key mldsa65.pem --apply
      pqml migrate weights.jwe -i rsa.pem --to team.pub.pem --apply
    """
    from pqml.cli.keys import key_passphrase
    from pqml.keys.errors import MigrationFailed
    from pqml.keys.key_refs import env_passphrase
    from pqml.keys.migration import MigrationRequest
    from pqml.keys.migration import migrate as run

    passphrase = key_passphrase(key_passphrase_file) or env_passphrase()
    request = MigrationRequest.build(to, _identity_inputs(identities, passphrase), sign_key,
                                     trust_keys, layout, passphrase, certificate_chain)
    try:
        report = run(paths, apply=do_apply, request=request)
    except MigrationFailed as exc:
        _show(exc.report, as_json)
        raise
    _show(report, as_json)
    if not report.ok:  # a dry run with refused artifacts: the same one-line error
        from pqml.keys.errors import MigrationError

        bad = [a for a in report.artifacts if a.status in ("refused", "failed")]
        total = len(report.artifacts)
        prefix = "" if total == 1 else f"{len(bad)} of {total} artifacts cannot be migrated: "
        raise MigrationError(f"{prefix}{bad[0].path}: {bad[0].reason}")


def _show(report: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
