"""``pqml compliance``: one report joining the scan, the keyring and the log."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click


def _policy(config: str | None, paths: tuple[str, ...], profile: str | None):  # -> Policy
    import tomllib

    from pqml.log.compliance import PROFILES, Policy
    from pqml.log.errors import ComplianceError

    candidates = [Path(config)] if config else [
        Path(p) / "pqml.toml" for p in (*paths, ".") if Path(p).is_dir()]
    table: dict = {}
    source = "defaults"
    for candidate in candidates:
        if config or candidate.is_file():
            source = str(candidate)
            try:
                with candidate.open("rb") as f:
                    settings = tomllib.load(f)
            except FileNotFoundError:
                raise ComplianceError(f"{candidate}: no such file") from None
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ComplianceError(f"{candidate}: not a valid TOML file: {exc}") from None
            table = settings.get("compliance", {})
            if not isinstance(table, dict):
                raise ComplianceError(f"{candidate}: [compliance] must be a table")
            break
    policy = Policy.from_settings(table, source)
    if profile is not None:
        policy = Policy(PROFILES[profile], policy.require, policy.fail_on)
    return policy


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=str))
@click.option("--profile", type=click.Choice(["nist", "cnsa2"]), default=None,
              help="Judge by NIST IR 8547 (nist) or CNSA 2.0 (cnsa2). Default: "
                   "[compliance] profile in pqml.toml, else nist.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--html", "html_out", metavar="FILE",
              help="Also write the report as one self-contained HTML page.")
@click.option("--as-of", "as_of", metavar="DATE",
              help="Judge deadlines as of this date (YYYY-MM-DD). Default: today.")
@click.option("--no-keyring", is_flag=True, help="Leave the keyring out.")
@click.option("--no-log", is_flag=True, help="Leave the transparency log out.")
@click.option("--no-record", is_flag=True,
              help="Do not add this report to the history the trend is drawn from.")
@click.option("--config", metavar="FILE",
              help="Settings file (default: pqml.toml in the first PATH or the working dir).")
@click.option("--force", is_flag=True, help="Overwrite an existing --html file.")
def compliance(paths: tuple[str, ...], profile: str | None, as_json: bool,
               html_out: str | None, as_of: str | None, no_keyring: bool, no_log: bool,
               no_record: bool, config: str | None, force: bool) -> None:
    """Report progress against post-quantum deadlines and policy.

    Scans PATHs (models, datasets, code), reads the keyring and verifies the transparency
    log, then answers each control -- every model signed with a post-quantum key, every
    dataset encrypted to post-quantum recipients only, no quantum-vulnerable code past
    its deadline, keys post-quantum and rotated on schedule, no revoked key still in use,
    the log intact -- with the evidence that decides it, the milestones of NIST IR 8547
    or CNSA 2.0 and the trend of earlier reports. Settings: [compliance] in pqml.toml
    (profile, require = [controls that decide the exit code], fail_on = "fail"|"warn").

    Exit codes: 0 every required control passes, 1 a required control fails (or warns,
    with fail_on = "warn"), 2 usage error.
    """
    from pqml._internal.home import pqml_home
    from pqml.log import compliance_evidence, compliance_report
    from pqml.log.compliance import evaluate

    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        raise click.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD)",
                                 param_hint="--as-of") from None
    policy = _policy(config, paths, profile)
    home = pqml_home()
    evidence = compliance_evidence.gather(paths, home, keyring=not no_keyring,
                                          log=not no_log, config=config)
    report = evaluate(evidence, policy, day, compliance_evidence.read_history(home))
    if html_out:
        from pqml._internal.output_file import AtomicOutput

        out = AtomicOutput(html_out, mode=0o644, overwrite=force)
        try:
            out.write(compliance_report.html(report).encode())
            out.commit()
        except BaseException:
            out.discard()
            raise
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        compliance_report.table(report)
    if not no_record:
        compliance_evidence.append_history(home, report.snapshot())
    if report.failed(policy.fail_on):
        sys.exit(1)
