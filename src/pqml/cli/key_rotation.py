"""``pqml keys due`` and ``pqml keys rotate``: the rotation policy and the journalled
rotation from the shell (the ``keys`` group in :mod:`pqml.cli.keyring` adds them).

A thin shell over :mod:`pqml.keys.rotation_policy` and :mod:`pqml.keys.rotation`.
``due --check`` exits 1 when a key is overdue (cron, CI); ``status --check`` calls
:func:`pqml.keys.rotation_policy.overdue` too.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

_CONFIG = click.option(
    "--config", type=click.Path(dir_okay=False), metavar="FILE",
    help="Rotation policy file (default: ./pqml.toml, then $PQML_HOME/pqml.toml).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """Plain columns at full width: nothing is cut when piped."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return "\n".join(lines)


@click.command()
@_CONFIG
@click.option("--check", is_flag=True,
              help="Exit 1 when a key is overdue for rotation (for cron and CI).")
@_JSON
def due(config: str | None, check: bool, as_json: bool) -> None:
    """List the keys due for rotation under the policy, and why.

    The policy is the [keys] table of pqml.toml: max_age, max_operations, max_bytes, and
    shorter limits per asset class ([keys.classes.model], [keys.classes.dataset]). A
    key's interval is the shortest of the classes of the assets it protects, and shrinks
    when its measured use would reach a use limit sooner. Keys due within the notice
    window (default 7 days) are listed; OVERDUE ones are past their date.

    \b
    Examples:
      pqml keys due
      pqml keys due --check --json
    """
    from pqml.keys import rotation_policy
    from pqml.keys.keyring import Keyring

    policy = rotation_policy.load(config)
    items = rotation_policy.due(Keyring(), time.time(), policy)
    overdue = [d for d in items if d.overdue]
    if as_json:
        _emit_json({"policy": policy.source, "due": [d.to_dict() for d in items]})
    elif not items:
        click.echo("no key is due for rotation")
    else:
        from pqml.keys.times import format_time

        rows = [[d.key.id, d.key.label or "-", d.key.algorithm,
                 "OVERDUE" if d.overdue else "due", format_time(d.due_at), d.reason]
                for d in items]
        click.echo(_table(["KEY", "LABEL", "ALGORITHM", "STATUS", "DUE", "WHY"], rows))
    if check and overdue:
        from pqml.keys.errors import RotationError

        raise RotationError(f"{len(overdue)} key{'s' if len(overdue) != 1 else ''} overdue "
                            f"for rotation: {', '.join(d.key.name for d in overdue)}")


@click.command()
@click.argument("key", metavar="KEY", required=False)
@click.option("--rewrap", is_flag=True,
              help="Move each file by rewriting its header only (the default): fast, the "
                   "payload untouched.")
@click.option("--new-file-key", is_flag=True,
              help="Re-encrypt each file's payload under a fresh file key (slower: reads "
                   "and writes every byte).")
@click.option("--resume", is_flag=True,
              help="Only finish interrupted rotations (of KEY, or of every key when KEY "
                   "is not given).")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              metavar="FILE",
              help="Passphrase of a protected key (also protects its successor); default "
                   "$PQML_KEY_PASSPHRASE.")
@_JSON
def rotate(key: str | None, rewrap: bool, new_file_key: bool, resume: bool,
           passphrase_file: str | None, as_json: bool) -> None:
    """Replace a key by a new one and move every asset it protects to it.

    Makes a successor of the same algorithm (pending), rekeys every file the keyring
    records for KEY to it (adds its stanza, removes KEY's), moves each file's link, then
    makes the successor active, links the two keys, moves KEY's label to it and retires
    KEY. Every step is journalled in $PQML_HOME/journals/: after a crash or a kill, run
    the same command again (or --resume) and it finishes, redoing nothing already done.
    Missing files are reported and skipped; a file that fails keeps its link to KEY (which
    still decrypts it) and is retried by running the rotation of KEY again.

    \b
    Examples:
      pqml keys rotate team-models
      pqml keys rotate 3f2a --new-file-key --json
      pqml keys rotate --resume
    """
    from pqml.keys import rotation
    from pqml.keys.keyring import Keyring

    if rewrap and new_file_key:
        raise click.UsageError("--rewrap and --new-file-key exclude each other")
    mode = "rewrap" if rewrap else "new-file-key" if new_file_key else None
    if key is None and not resume:
        raise click.UsageError("give the KEY to rotate (or --resume to finish interrupted "
                               "rotations)")
    keyring = Keyring()
    passphrase = _passphrase(passphrase_file)
    keys = [key] if key is not None else rotation.pending(keyring.home)
    if key is None and not keys:
        click.echo("no interrupted rotation", err=True)
    results = [rotation.rotate(keyring, k, mode=mode, passphrase=passphrase,  # type: ignore[arg-type]
                               resume_only=resume) for k in keys]
    if as_json:
        _emit_json(results[0].to_dict() if key is not None else
                   [r.to_dict() for r in results])
    for result in results:
        _report(result, quiet=as_json)
    failed = sum(r.count("failed") for r in results)
    if failed:
        from pqml.keys.errors import RotationError

        raise RotationError(f"{failed} asset{'s' if failed != 1 else ''} could not be moved "
                            "and stay with the retired key (which still decrypts them); run "
                            "the rotation again to retry")


def _passphrase(path: str | None) -> bytes | None:
    from pqml.cli.keys import key_passphrase
    from pqml.keys.key_refs import env_passphrase

    return key_passphrase(path) if path is not None else env_passphrase()


def _report(result: Any, *, quiet: bool) -> None:
    """One line per asset not simply moved, and a summary, on standard error."""
    for asset in result.assets:
        if asset.status in ("missing", "skipped", "failed", "kept") and not quiet:
            click.echo(f"{asset.path}: {asset.status}: {asset.reason}", err=True)
    verb = {"rewrap": "header rewrap", "new-file-key": "file-key rotation"}[result.mode]
    how = ("resumed, " if result.resumed else "") + verb
    if result.already_rotated:
        head = (f"key {result.old} was already rotated to {result.successor}; "
                f"moved {result.moved} remaining asset{'s' if result.moved != 1 else ''}")
    else:
        head = (f"rotated key {result.old} to {result.successor} ({how}): "
                f"{result.moved} asset{'s' if result.moved != 1 else ''} moved")
    extra = [f"{result.count(s)} {s}" for s in ("missing", "skipped", "failed", "kept")
             if result.count(s)]
    click.echo(head + (f", {', '.join(extra)}" if extra else ""), err=True)
    if result.mode == "rewrap" and result.moved and not quiet:
        from pqml.encryption.rekey import REWRAP_GUARANTEE

        click.echo(f"pqml: note: {REWRAP_GUARANTEE}", err=True)
