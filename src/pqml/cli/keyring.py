"""``pqml keys``: the keyring from the shell (new, list, show, import, export, the state
verbs, status; ``due`` and ``rotate`` come from :mod:`pqml.cli.key_rotation` when present).

A thin shell over :class:`pqml.keys.keyring.Keyring`. Tables are plain text, every column
at full width (nothing is cut when piped), and ``keys list`` imports nothing beyond the
keyring so it answers quickly over thousands of keys. A KEY argument is a key id, a
unique id prefix (4 or more hex digits) or a label.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pqml.cli.help import Group

if TYPE_CHECKING:
    from pqml.keys.keyring import KeyRecord, Keyring

STATES = ("pending", "active", "retired", "revoked", "compromised", "disabled",
          "destroy-scheduled", "destroyed")
ROTATION_COMMANDS = ("due", "rotate")


class KeysGroup(Group):
    """The ``keys`` group; the rotation commands are added on first listing or lookup,
    only if their module is installed (the group works without it)."""

    _rotation_loaded = False

    def _load_rotation(self) -> None:
        if self._rotation_loaded:
            return
        self._rotation_loaded = True
        try:
            from pqml.cli import key_rotation  # type: ignore[attr-defined]
        except ImportError:
            return
        for name in ROTATION_COMMANDS:
            command = getattr(key_rotation, name, None)
            if isinstance(command, click.Command) and name not in self.commands:
                self.add_command(command, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_rotation()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_rotation()
        return super().get_command(ctx, cmd_name)


def _keyring() -> Keyring:
    from pqml.keys.keyring import Keyring

    return Keyring()


def _passphrase(path: str | None) -> bytes | None:
    from pqml.cli.keys import key_passphrase
    from pqml.keys.key_refs import env_passphrase

    return key_passphrase(path) if path is not None else env_passphrase()


def _time(value: str | None) -> float | None:
    from pqml.keys.times import parse_time

    return None if value is None else parse_time(value)


def _when(seconds: float | None) -> str:
    from pqml.keys.times import format_time

    return format_time(seconds)


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as wide as their widest cell, two spaces apart; never cut."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    template = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    return "".join(template.format(*r).rstrip() + "\n" for r in [headers, *rows])


_DAYS: dict[int, str] = {}


def _day(seconds: float | None) -> str:
    """``2027-01-31`` (UTC), memoised per day: a list formats thousands of dates."""
    if seconds is None:
        return "-"
    day = int(seconds // 86400)
    if day not in _DAYS:
        import time

        _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
    return _DAYS[day]


def _changed(record: KeyRecord, old: str, as_json: bool) -> None:
    if as_json:
        _emit_json(record.to_dict())
        return
    click.echo(f"key {record.name}: {old} -> {record.state}")


_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_REASON = click.option("--reason", metavar="TEXT", help="Why (recorded in the key's history).")
_KEY = click.argument("key", metavar="KEY")
_PASSPHRASE_FILE = click.option(
    "--passphrase-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
    help="Passphrase of the private key (default: $PQML_KEY_PASSPHRASE if set).")


@click.group(cls=KeysGroup)
def keys() -> None:
    """Manage keys in the keyring: states, rotation, revocation, usage.

    The keyring lives in $PQML_HOME (default ~/.local/share/pqml): an index
    (keyring.sqlite3) and key files under keys/ (0600). A KEY is a key id, a unique id
    prefix of 4 or more hex digits, or a label; every pqml command that takes a key file
    (encrypt -r, decrypt -i, rekey, sign -k, verify -k, pubkey) takes one too.

    \b
    States: pending -> active -> retired -> disabled -> destroy-scheduled -> destroyed,
    plus revoked and compromised. Only an active key encrypts or signs new assets;
    active, retired, revoked and compromised keys still decrypt and verify old ones.

    \b
    Examples:
      pqml keys new --label models-2027
      pqml keys new --alg ML-DSA-65 --label release-signer
      pqml encrypt -r models-2027 -o m.safetensors.pqml m.safetensors
      pqml keys retire models-2027
      pqml keys revoke bob --reason "left the team"
      pqml keys list --state active --json
    """


@keys.command("new")
@click.option("-a", "--alg", metavar="NAME",
              help="Algorithm or role (kem, signature). Default: the profile's KEM, or its "
                   "signature algorithm with --purpose sign.")
@click.option("--profile", default="default", show_default=True,
              help="Algorithm profile: default or cnsa2.")
@click.option("--label", metavar="LABEL", help="A unique name for the key.")
@click.option("--purpose", type=click.Choice(["encrypt", "sign"]),
              help="What the key is for (follows from the algorithm).")
@click.option("--not-after", metavar="TIME",
              help="Expiry: ISO 8601 (UTC unless a zone is given), @UNIX-SECONDS or "
                   "now+DURATION (e.g. now+365d).")
@click.option("--pending", is_flag=True,
              help="Create it pending (promote it later) instead of active.")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="Protect the private key with the passphrase in this file "
                                   "(default: $PQML_KEY_PASSPHRASE if set).")
@click.option("--allow-classical", is_flag=True,
              help="Allow quantum-vulnerable algorithms (Ed25519, ECDSA, RSA, X25519).")
@_JSON
def new(alg: str | None, profile: str, label: str | None, purpose: str | None,
        not_after: str | None, pending: bool, passphrase_file: str | None,
        allow_classical: bool, as_json: bool) -> None:
    """Generate a key in the keyring and print its id.

    \b
    Examples:
      pqml keys new --label team-a
      pqml keys new --alg ML-DSA-65 --label signer --not-after now+365d
    """
    from pqml.keys.states import KeyState

    record = _keyring().new(
        alg, label=label, purpose=purpose, not_after=_time(not_after),
        passphrase=_passphrase(passphrase_file), profile=profile,
        state=KeyState.PENDING if pending else KeyState.ACTIVE,
        allow_classical=allow_classical)
    if as_json:
        _emit_json(record.to_dict())
        return
    click.echo(record.id)
    click.echo(f"key {record.name}: {record.algorithm}, {record.purpose}, {record.state}",
               err=True)


@keys.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="Only keys in this state (repeatable).")
@click.option("--purpose", type=click.Choice(["encrypt", "sign"]), help="Only these keys.")
@_JSON
def list_(states: tuple[str, ...], purpose: str | None, as_json: bool) -> None:
    """List the keys in the keyring, oldest first.

    Columns: id, label, algorithm, purpose, state, created, not after, uses (operations
    and bytes). Full width whether on a terminal or piped.
    """
    records = _keyring().list(state=states or None, purpose=purpose)
    if as_json:  # an array, one key per line: json's C encoder (indent= is pure Python)
        body = ",\n".join(json.dumps(r.to_dict()) for r in records)
        sys.stdout.write(f"[\n{body}\n]\n" if records else "[]\n")
        return
    rows = [(r.id, r.label or "-", r.algorithm, r.purpose, r.state.value, _day(r.created),
             _day(r.not_after), str(r.operations), str(r.bytes)) for r in records]
    if not rows:
        click.echo("no keys" + (" match" if states or purpose else " in the keyring"),
                   err=True)
        return
    sys.stdout.write(_table(("ID", "LABEL", "ALGORITHM", "PURPOSE", "STATE", "CREATED",
                             "NOT AFTER", "OPERATIONS", "BYTES"), rows))


def _details(kr: Keyring, record: KeyRecord) -> dict[str, Any]:
    from pqml.primitives import registry

    data = record.to_dict()
    data["quantum_vulnerable"] = registry.get(record.algorithm).quantum_vulnerable
    if record.algorithm in ("X-Wing", "X25519"):
        from pqml.keys import key_files

        data["recipient"] = key_files.public_text(kr.public_key(record.id), age=True)
    data["file_problems"] = kr.verify_files(record.id)
    data["assets"] = [a.to_dict() for a in kr.assets(record.id)]
    data["history"] = [h.to_dict() for h in kr.history(record.id)]
    return data


@keys.command()
@_KEY
@_JSON
def show(key: str, as_json: bool) -> None:
    """Show one key: state, dates, uses, links, the assets it protects, its history."""
    kr = _keyring()
    record = kr.get(key)
    data = _details(kr, record)
    if as_json:
        _emit_json(data)
        return
    r = record
    private = ("none" if not r.has_private else
               "present, passphrase-protected" if r.encrypted else "present")
    lines = [
        f"id:           {r.id}",
        f"label:        {r.label or '-'}",
        f"algorithm:    {r.algorithm}"
        + ("  (quantum-vulnerable)" if data["quantum_vulnerable"] else ""),
        f"purpose:      {r.purpose}",
        f"state:        {r.state} since {_when(r.state_since)}",
        f"created:      {_when(r.created)}",
        f"not after:    {_when(r.not_after)}" + ("  (expired)" if r.expired() else ""),
    ]
    if r.compromised_at is not None:
        lines.append(f"compromised:  since {_when(r.compromised_at)}")
    if r.destroy_after is not None:
        lines.append(f"destroy after: {_when(r.destroy_after)}")
    if r.state_before_disabled is not None:
        lines.append(f"before disabled: {r.state_before_disabled}")
    lines += [
        f"uses:         {r.operations} operations, {r.bytes} bytes, last "
        f"{_when(r.last_used)}",
        f"predecessor:  {r.predecessor or '-'}",
        f"successor:    {r.successor or '-'}",
        f"private key:  {private}",
    ]
    if "recipient" in data:
        lines.append(f"recipient:    {data['recipient']}")
    lines.append("files:        " + ("ok" if not data["file_problems"] else
                                     "; ".join(data["file_problems"])))
    lines.append(f"assets:       {len(data['assets'])}")
    lines += [f"  {a['path']}  ({a['operation']}, {a['asset_class'] or '-'}, last "
              f"{_when(a['last_seen'])})" for a in data["assets"]]
    lines.append("history:")
    lines += [f"  {_when(h['time'])}  {h['from'] or '-'} -> {h['to']}"
              + (f"  ({h['reason']})" if h["reason"] else "") for h in data["history"]]
    from pqml._internal.text import printable

    click.echo("\n".join(printable(line) for line in lines))


@keys.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--label", metavar="LABEL", help="A unique name for the key.")
@click.option("--not-after", metavar="TIME", help="Expiry (as for keys new).")
@click.option("--pending", is_flag=True, help="Import it pending instead of active.")
@_PASSPHRASE_FILE
@_JSON
def import_(path: Path, label: str | None, not_after: str | None, pending: bool,
            passphrase_file: str | None, as_json: bool) -> None:
    """Import a key file (PEM or age, private or public) into the keyring.

    A passphrase-protected private key stays protected by the same passphrase; a public
    key (someone else's recipient or signing key) is managed like any other, without
    private key.
    """
    from pqml.keys.states import KeyState

    record = _keyring().import_key(path, label=label, passphrase=_passphrase(passphrase_file),
                                   not_after=_time(not_after),
                                   state=KeyState.PENDING if pending else KeyState.ACTIVE)
    if as_json:
        _emit_json(record.to_dict())
        return
    click.echo(record.id)
    kind = "private and public key" if record.has_private else "public key only"
    click.echo(f"key {record.name}: {record.algorithm}, {kind}, {record.state}", err=True)


@keys.command()
@_KEY
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write here (refused if it exists, unless --force). Default: standard "
                   "output.")
@click.option("--private", "private", is_flag=True,
              help="Export the private key file as stored (PEM; still passphrase-protected "
                   "if it was), mode 0600.")
@click.option("--age", "as_age", is_flag=True,
              help="The public key as an age recipient string (X-Wing, X25519).")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def export(key: str, output: str | None, private: bool, as_age: bool, force: bool) -> None:
    """Export a key's public key (or with --private its private key file)."""
    from pqml._internal.output_file import write_atomic
    from pqml.keys import key_files

    kr = _keyring()
    if private:
        if as_age:
            raise click.UsageError("--age exports public keys only")
        _, data = kr.key_file(key, private=True)
        mode = 0o600
    else:
        data = key_files.public_text(kr.public_key(key), age=as_age).rstrip("\n").encode() \
            + b"\n"
        mode = 0o644
    if output is None or output == "-":
        if private and sys.stdout.isatty():
            click.echo("pqml: warning: writing a private key to the terminal", err=True)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_atomic(output, data, mode=mode, overwrite=force)


def _state_command(name: str, target: str, doc: str) -> click.Command:
    @keys.command(name, help=doc)
    @_KEY
    @_REASON
    @_JSON
    def command(key: str, reason: str | None, as_json: bool) -> None:
        from pqml.keys.states import KeyState

        kr = _keyring()
        old = kr.get(key)
        _changed(kr.set_state(old.id, KeyState(target), reason=reason), str(old.state),
                 as_json)

    return command


promote = _state_command("promote", "active",
                         "Make a pending key active: it protects new assets from now on.")
retire = _state_command("retire", "retired",
                        "Retire a key: it still decrypts and verifies, but protects nothing "
                        "new.")
disable = _state_command("disable", "disabled",
                         "Disable a key: usable for nothing until enabled again.")


@keys.command()
@_KEY
@_REASON
@click.option("--compromised-at", metavar="TIME",
              help="Mark the key compromised since TIME (ISO 8601, @UNIX-SECONDS or now) "
                   "instead of revoked.")
@_JSON
def revoke(key: str, reason: str | None, compromised_at: str | None, as_json: bool) -> None:
    """Revoke a key (its holder was removed), or mark it compromised since a time.

    Either way it encrypts and signs nothing new; it still opens old assets, and verify
    reports signatures by it as made by a revoked (or compromised) key. Take it out of
    files' headers with pqml rekey --remove KEY (or --drop-revoked); a removed holder may
    still have a file key already, which only re-encryption takes away.
    """
    from pqml.keys.states import KeyState

    kr = _keyring()
    old = kr.get(key)
    if compromised_at is not None:
        record = kr.set_state(old.id, KeyState.COMPROMISED, at=_time(compromised_at),
                              reason=reason)
    else:
        record = kr.set_state(old.id, KeyState.REVOKED, reason=reason)
    _changed(record, str(old.state), as_json)


@keys.command()
@_KEY
@_REASON
@_JSON
def enable(key: str, reason: str | None, as_json: bool) -> None:
    """Enable a disabled key again, back to the state it had before."""
    kr = _keyring()
    old = kr.get(key)
    _changed(kr.enable(old.id, reason=reason), str(old.state), as_json)


@keys.command()
@_KEY
@click.option("--after", "after", metavar="DURATION", default="7d", show_default=True,
              help="Window before the private key may be destroyed (e.g. 7d, 12h, 0s).")
@click.option("--cancel", is_flag=True, help="Cancel a scheduled destruction (key back to "
                                             "disabled).")
@click.option("--now", "now", is_flag=True,
              help="Destroy a destroy-scheduled key whose window has passed: its private "
                   "key file is deleted; the public key and history stay.")
@_REASON
@_JSON
def destroy(key: str, after: str, cancel: bool, now: bool, reason: str | None,
            as_json: bool) -> None:
    """Schedule a disabled key's destruction, cancel it, or carry it out.

    A disabled key is scheduled for destruction after --after (default 7 days); --cancel
    takes it back to disabled; --now, once the window has passed, deletes the private
    key file for good. The public key and history stay, so old signatures still verify.
    """
    from pqml.keys.states import KeyState
    from pqml.keys.times import parse_duration

    if cancel and now:
        raise click.UsageError("--cancel and --now cannot be combined")
    kr = _keyring()
    old = kr.get(key)
    if cancel:
        record = kr.cancel_destroy(old.id, reason=reason)
    elif now:
        if old.state is not KeyState.DESTROY_SCHEDULED:
            from pqml.keys.errors import KeyStateError

            raise KeyStateError(f"key {old.name} is {old.state}, not destroy-scheduled: "
                                "schedule it first (pqml keys destroy KEY --after DURATION)")
        record = kr.destroy(old.id, reason=reason)
    else:
        if old.state is KeyState.DESTROY_SCHEDULED:
            from pqml.keys.errors import KeyStateError

            raise KeyStateError(f"key {old.name} is already scheduled for destruction at "
                                f"{_when(old.destroy_after)} (--now after that, or --cancel)")
        record = kr.schedule_destroy(old.id, after=parse_duration(after), reason=reason)
    _changed(record, str(old.state), as_json)
    if not as_json and record.state is KeyState.DESTROY_SCHEDULED:
        click.echo(f"destroy after {_when(record.destroy_after)} with: pqml keys destroy "
                   f"{record.id} --now", err=True)


def _overdue(kr: Keyring, config: str | None) -> list[dict[str, Any]] | None:
    """The rotation policy's overdue keys, or None where no policy module exists."""
    import time

    try:
        from pqml.keys import rotation_policy
    except ImportError:
        return None
    policy = rotation_policy.load(config)
    return [d.to_dict() for d in rotation_policy.overdue(kr, time.time(), policy)]


@keys.command()
@click.option("--check", is_flag=True,
              help="Exit 1 when a key is overdue for rotation or a key file is damaged "
                   "(for cron and CI).")
@click.option("--config", type=click.Path(dir_okay=False), metavar="FILE",
              help="Rotation policy file (default: ./pqml.toml, then $PQML_HOME/pqml.toml).")
@_JSON
def status(check: bool, config: str | None, as_json: bool) -> None:
    """Summarise the keyring: keys by state, rotation overdue, damaged key files."""
    kr = _keyring()
    counts = kr.counts()
    records = kr.list() if kr.exists() else []
    problems = [p for r in records for p in kr.verify_files(r.id)]
    expired = [r.name for r in records if r.expired()
               and r.state in ("active", "pending")]
    overdue = _overdue(kr, config)
    data = {"keyring": str(kr.home), "keys": len(records), "states": counts,
            "expired_active": expired, "overdue": overdue, "file_problems": problems}
    if as_json:
        _emit_json(data)
    else:
        click.echo(f"keyring: {kr.home} ({len(records)} keys)")
        for state, n in counts.items():
            if n:
                click.echo(f"  {state:<18} {n}")
        for name in expired:
            click.echo(f"expired but still active or pending: {name}")
        if overdue is not None:
            click.echo(f"rotation overdue: {len(overdue)}")
            for item in overdue:
                click.echo(f"  {item['key']}: {item['reason']}")
        for problem in problems:
            click.echo(f"problem: {problem}")
    if check and (problems or overdue or expired):
        from pqml.keys.errors import KeyringError

        what = [f"{len(problems)} damaged key files" if problems else "",
                f"{len(overdue)} keys overdue for rotation" if overdue else "",
                f"{len(expired)} expired active keys" if expired else ""]
        raise KeyringError(f"{kr.home}: " + ", ".join(w for w in what if w))
