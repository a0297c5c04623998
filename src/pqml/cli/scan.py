"""``pqml scan``: crypto inventory, CBOM and migration risk for ML code and artifacts.

A thin shell over :mod:`pqml.scan`: options in, report out, exit code for CI.
Exit codes: 0 no finding matched ``--fail-on``; 1 findings matched ``--fail-on``;
2 usage or input error (unknown option value, missing path, malformed config/baseline,
an object store that cannot be listed or read, a missing storage extra).

PATHS, ``--config`` and ``-o`` also take fsspec URLs (``s3://bucket/prefix/``,
``gs://``, ``az://``, ``hf://``, ``memory://``): a prefix is scanned as a directory
would be, its own ``pqml.toml`` and ``.gitignore`` objects included.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from pqml.cli import engine as cli_engine

FORMATS = ("table", "json", "cbom", "sarif", "html")


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _write(path: str, text: str) -> None:
    """Write the report atomically: a half-written CBOM is worse than none (to a URL:
    the object appears only once whole)."""
    from pqml.scan.errors import ScanError
    from pqml.storage.urls import is_url

    if is_url(path):
        from pqml.scan.remote import storage_errors
        from pqml.storage.writer import write_bytes

        with storage_errors():
            write_bytes(path, text.encode("utf-8"), force=True)
        return
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise ScanError(f"{path}: cannot write report ({exc.strerror or exc})") from None


def _progress_callback():  # -> (callback, stop) or (None, None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress("[progress.description]{task.description}", BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), transient=True,
                        console=_stderr_console())
    task = progress.add_task("scanning", total=None)
    progress.start()

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update, progress.stop


def _load_config(paths: tuple[str, ...], config_path: str | None, repo_config: bool):
    """The scan settings: ``--config`` (a file or URL), else the first scanned
    directory's (or prefix's) own ``pqml.toml``, else the working directory's."""
    from pqml.scan import config as scan_config
    from pqml.scan.errors import ScanError
    from pqml.storage.urls import is_url

    if config_path is not None and is_url(config_path):
        from pqml.scan.remote import read_config

        cfg = read_config(config_path, from_repository=False)
        if cfg is None:
            raise ScanError(f"{config_path}: config file not found")
        return cfg
    first = next((p for p in paths if _is_dir(p)), None)
    if config_path is None and repo_config and first is not None and is_url(first):
        from pqml.scan.remote import join, read_config

        found = read_config(join(first, "pqml.toml"), from_repository=True)
        return found or scan_config.load(None, [], repo_config=True)
    return scan_config.load(config_path, [first] if first else [], repo_config=repo_config)


def _is_dir(path: str) -> bool:
    from pqml.storage.urls import is_url

    if is_url(path):
        from pqml.scan.remote import is_prefix

        return is_prefix(path)
    return os.path.isdir(path)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Report format.  [default: table]")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the report here, a file or URL (default, or \"-\": standard "
                   "output).")
@click.option("--plan", is_flag=True,
              help="Print the prioritized migration plan (table), or add it to the JSON.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="POLICY",
              help="Exit 1 if a finding matches: quantum-vulnerable, deadline-2030, "
                   "deadline-2035, critical, high, unprotected-model, code-execution, any, "
                   "none. Repeat or separate with commas.")
@click.option("--baseline", metavar="FILE", help="Accepted findings (by fingerprint) to hide.")
@click.option("--write-baseline", metavar="FILE",
              help="Write the current findings as a baseline file and exit 0.")
@click.option("--ignore", multiple=True, metavar="PATTERN",
              help="Skip paths matching this glob (relative to each PATH or URL prefix; "
                   "repeatable).")
@click.option("--no-gitignore", is_flag=True,
              help="Also scan what .gitignore files exclude (they are honoured by default).")
@click.option("--config", "config_path", metavar="FILE",
              help="Settings file or URL (default: pqml.toml in the first PATH or the "
                   "working dir).")
@click.option("--no-repo-config", is_flag=True,
              help="Ignore the scanned repository's own pqml.toml (it can never hide ML "
                   "artifacts; this also keeps its other settings out).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Processes analysing files, this one included (default: CPUs available).")
@click.option("--no-progress", is_flag=True, help="No progress bar, even on a terminal.")
@cli_engine.engine_options
def scan(paths: tuple[str, ...], fmt: str | None, as_json: bool, output: str | None, plan: bool,
         fail_on: tuple[str, ...], baseline: str | None, write_baseline: str | None,
         ignore: tuple[str, ...], no_gitignore: bool, config_path: str | None,
         no_repo_config: bool,
         jobs: int | None, no_progress: bool, engine: str, address: str | None) -> None:
    """Find the cryptography in code, configs, keys and ML artifacts.

    Reads code, configs, keys, certificates and ML artifacts under each PATH (a file,
    a directory, or an object-storage URL: s3://bucket/prefix/, gs://, az://, hf://,
    memory://) and reports each
    use with its algorithm, quantum vulnerability, risk (Mosca's inequality, NIST IR 8547
    and CNSA 2.0 deadlines) and the replacement, as a table, JSON, a CycloneDX 1.6 CBOM,
    SARIF 2.1.0 or a self-contained HTML report.

    \b
    Examples:
      pqml scan .                                  # table, worst first
      pqml scan src models --plan                  # what to migrate first, and how
      pqml scan . -f cbom -o cbom.json             # CycloneDX 1.6 CBOM
      pqml scan . -f sarif -o pqml.sarif --fail-on deadline-2030
      pqml scan . --write-baseline .pqml-baseline.json
      pqml scan . --baseline .pqml-baseline.json --fail-on quantum-vulnerable
      pqml scan s3://bucket/models/ --json         # objects read by range requests
      pqml scan s3://bucket/models/ --engine ray   # objects read by the Ray workers

    Exit codes: 0 ok, 1 findings matched --fail-on, 2 any failure (usage or input error,
    an object store that cannot be listed or read, a missing storage extra).
    """
    from pqml.scan import config as scan_config
    from pqml.scan import fail_on as gate
    from pqml.scan.errors import ScanError
    from pqml.scan.runner import ScanOptions, run

    if as_json and fmt not in (None, "json"):
        raise ScanError(f"--json and --format {fmt} cannot be used together")
    fmt = "json" if as_json else fmt or "table"
    if output == "-":  # as everywhere in pqml: standard output
        output = None
    if plan and fmt in ("cbom", "sarif"):
        raise ScanError(f"--plan works with --format table, json or html, not {fmt}")
    if baseline and write_baseline:
        raise ScanError("--baseline and --write-baseline cannot be used together")
    from pqml.storage.urls import is_url

    for option, value in (("--baseline", baseline), ("--write-baseline", write_baseline)):
        if is_url(value):
            raise ScanError(f"{option} takes a local file, not a URL ({value})")
    cfg = _load_config(paths, config_path, repo_config=not no_repo_config)
    if cfg.from_repository:  # untrusted: say so, a CI log must show what shaped the result
        click.echo(f"pqml: applied repository config {cfg.source} (it cannot hide ML "
                   "artifacts; --no-repo-config skips it)", err=True)
    policies = _split(fail_on) or list(cfg.fail_on)
    scan_config.check_fail_on(policies, "--fail-on")
    options = ScanOptions(ignore=list(ignore), jobs=jobs,
                          baseline=baseline or (None if write_baseline else cfg.baseline),
                          config=cfg, gitignore=not no_gitignore,
                          baseline_from_repository=cfg.from_repository and not baseline)
    show_progress = not no_progress and sys.stderr.isatty()
    update, stop = _progress_callback() if show_progress else (None, None)
    try:
        with cli_engine.scanning(engine, address, jobs):  # --engine ray: files on workers
            result = run(list(paths), options, update)
    finally:
        if stop is not None:
            stop()

    if write_baseline:
        from pqml.scan import baseline as scan_baseline

        scan_baseline.write(write_baseline, result.findings)
        from pqml._internal.text import plural

        click.echo(f"pqml: wrote {plural(len(result.findings), 'finding')} to {write_baseline}",
                   err=True)
        return

    if fmt == "table":
        from pqml.scan.report import table_report

        if output:
            import io

            buf = io.StringIO()
            (table_report.print_plan if plan else table_report.print_findings)(result, buf)
            _write(output, buf.getvalue())
        else:
            (table_report.print_plan if plan else table_report.print_findings)(result)
    else:
        if fmt == "json":
            from pqml.scan.report import json_report

            text = json_report.render(result, plan=plan)
        elif fmt == "cbom":
            from pqml.scan.report import cbom

            text = cbom.render(result)
        elif fmt == "sarif":
            from pqml.scan.report import sarif

            if result.url_bases:  # the report module resolves roots as directories
                import json

                from pqml.scan.remote import sarif_document

                text = json.dumps(sarif_document(result), indent=2, ensure_ascii=False) + "\n"
            else:
                text = sarif.render(result)
        else:
            from pqml.scan.report import html_report

            text = html_report.render(result)
        if output:
            _write(output, text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    if output or fmt != "table":
        from pqml.scan.report.table_report import summary_line

        click.echo(f"pqml: {summary_line(result)}", err=True)
    for w in result.warnings[:20]:
        click.echo(f"pqml: warning: {w.path}: {w.message}", err=True)
    if len(result.warnings) > 20:
        click.echo(f"pqml: warning: {len(result.warnings) - 20} more warnings (see --format "
                   "json)", err=True)
    matched = gate.failing(result.findings, policies)
    if matched:
        click.echo(f"pqml: {len(matched)} finding{'s' if len(matched) != 1 else ''} match "
                   f"--fail-on {','.join(policies)}", err=True)
        sys.exit(1)
