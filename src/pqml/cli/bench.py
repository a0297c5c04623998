"""``pqml bench``: measure algorithms on this machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pqml.cli.help import Group


@click.group(cls=Group)
def bench() -> None:
    """Benchmark post-quantum and classical algorithms on this machine."""


@bench.command()
@click.option("-a", "--alg", "algs", multiple=True, metavar="NAME",
              help="Only these algorithms (repeatable). Default: every available KEM and "
                   "signature.")
@click.option("--budget", type=float, default=0.5, show_default=True,
              help="Seconds to spend per operation (both sides together).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def primitives(algs: tuple[str, ...], budget: float, as_json: bool) -> None:
    """Time KEM and signature operations: pqml beside the bare backend.

    Times keygen / encaps / decaps and keygen / sign / verify through pqml and through the
    direct backend call. The overhead column is pqml's median time over the backend's,
    minus one: the cost of pqml's wrapper. Both sides run interleaved so machine noise
    hits them alike.
    """
    from pqml.bench import primitives as feature

    if budget <= 0:
        raise click.BadParameter("must be positive", param_hint="--budget")
    names = list(algs) or None
    if as_json:
        results = feature.run(names, budget)
        click.echo(json.dumps({"machine": feature.machine(), "budget_s": budget,
                               "results": [r.as_dict() for r in results]}, indent=2))
        return
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as prog:
        task = prog.add_task("benchmarking", total=None)
        results = feature.run(names, budget,
                              progress=lambda n: prog.update(task, description=n))
    _table(results, feature.machine())


def _fmt_rate(us: float | None) -> str:
    if not us:
        return "-"
    rate = 1e6 / us
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.2f}"


def _table(results: list, machine: dict) -> None:
    from rich.table import Table

    from pqml._internal.console import data_console
    from pqml._internal.text import plural

    t = Table(title=f"pqml bench primitives — {machine['processor']}, "
                    f"{plural(machine['cpus'], 'cpu')}, cryptography {machine['cryptography']}")
    for col in ("algorithm", "op", "pqml ops/s", "backend ops/s", "overhead"):
        t.add_column(col, justify="right" if col not in ("algorithm", "op") else "left")
    for r in results:
        o = r.overhead_pct
        t.add_row(r.algorithm, r.operation, _fmt_rate(r.pqml_us), _fmt_rate(r.backend_us),
                  "-" if o is None else f"{o:+.1f} %")
    data_console().print(t)


@bench.command()
@click.argument("model", required=False,
                type=click.Path(exists=True, path_type=Path))
@click.option("-a", "--alg", "algs", multiple=True, metavar="NAME",
              help="Only these algorithms (repeatable). Default: X-Wing, ML-KEM, X25519, "
                   "RSA-OAEP, ML-DSA, Falcon, SLH-DSA, composite, ECDSA, Ed25519, RSA-PSS.")
@click.option("--budget", type=float, default=0.3, show_default=True,
              help="Seconds per algorithm and operation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (input for pqml advise).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Also write an HTML page with charts.")
@click.option("--force", is_flag=True, help="Overwrite an existing --html file.")
def compare(model: Path | None, algs: tuple[str, ...], budget: float, as_json: bool,
            html_file: Path | None, force: bool) -> None:
    """Compare post-quantum and classical algorithms, on a model too.

    Key encapsulation (X-Wing, ML-KEM against X25519, RSA-OAEP) and signatures (ML-DSA,
    Falcon, SLH-DSA, composite against ECDSA, Ed25519, RSA-PSS): key, ciphertext and
    signature bytes, median time per operation, overhead in percent over the classical
    baseline. Given MODEL (a file or directory), also encrypting, decrypting, signing and
    verifying it with each. Runs are interleaved; the machine is named in the output.
    """
    from pqml.bench import compare as feature
    from pqml.bench import compare_report

    if budget <= 0:
        raise click.BadParameter("must be positive", param_hint="--budget")
    if html_file is not None and html_file.exists() and not force:
        from pqml._internal.errors import OutputExistsError
        from pqml._internal.output_file import exists_message

        raise OutputExistsError(exists_message(html_file))  # before minutes of measuring
    names = list(algs) or None
    tty = sys.stderr.isatty()
    progress = (lambda step: click.echo(f"measuring {step}", err=True)) if tty else None
    result = feature.run(model, algorithms=names, budget=budget, progress=progress)
    if html_file is not None:
        from pqml._internal.output_file import write_atomic

        write_atomic(html_file, compare_report.html(result).encode(), overwrite=force)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(compare_report.text(result), nl=False)
