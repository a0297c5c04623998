"""``pqml bench``: measure algorithms on this machine."""

from __future__ import annotations

import json

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
