"""``pqml advise``: an algorithm per role, from measurements on this machine and constraints.

A thin shell over :mod:`pqml.bench.advise`. The measurements come from a
``pqml bench compare --json`` file (``--measurements``) or are taken now (a short run).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

MAX_MEASUREMENTS_BYTES = 16 << 20


@click.command()
@click.option("--device", type=click.Choice(["server", "desktop", "edge", "embedded"]),
              default="server", show_default=True,
              help="Device class that verifies or decrypts: edge and embedded favour bytes "
                   "on the wire, then verify / decaps time.")
@click.option("--max-signature-bytes", type=click.IntRange(min=1), metavar="N",
              help="Largest signature allowed.")
@click.option("--max-ciphertext-bytes", type=click.IntRange(min=1), metavar="N",
              help="Largest KEM ciphertext allowed.")
@click.option("--max-verify-ms", type=click.FloatRange(min=0, min_open=True), metavar="MS",
              help="Slowest signature verification allowed (median measured here).")
@click.option("--category", "min_category", type=click.IntRange(1, 5), metavar="1-5",
              help="Minimum NIST security category.")
@click.option("--cnsa2", is_flag=True, help="Only what CNSA 2.0 allows (profile cnsa2).")
@click.option("--lifetime", "lifetime_years", type=click.FloatRange(min=0, min_open=True),
              metavar="YEARS",
              help="How long signatures must stay trustworthy (20 or more: SLH-DSA first).")
@click.option("--measurements", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="FILE", help="Output of 'pqml bench compare --json' (default: measure "
                                   "now, briefly).")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=0.05,
              show_default=True, help="Seconds per algorithm and operation when measuring.")
@click.option("--json", "as_json", is_flag=True, help="Print the advice as JSON.")
def advise(device: str, max_signature_bytes: int | None, max_ciphertext_bytes: int | None,
           max_verify_ms: float | None, min_category: int | None, cnsa2: bool,
           lifetime_years: float | None, measurements: Path | None, budget: float,
           as_json: bool) -> None:
    """Recommend algorithms per role from measurements and constraints.

    For key encapsulation and signatures: the post-quantum algorithm that meets every
    constraint and suits the device class, the pqml profile to use, the reason and the
    numbers measured behind it. Constraints that exclude everything fail with one line
    naming the constraint.

    \b
    Examples:
      pqml advise --device edge --max-signature-bytes 1000
      pqml advise --cnsa2 --lifetime 30
      pqml bench compare model/ --json > m.json && pqml advise --measurements m.json
    """
    from pqml.bench import advise as feature
    from pqml.bench import compare

    constraints = feature.Constraints(
        device=device, max_signature_bytes=max_signature_bytes,
        max_ciphertext_bytes=max_ciphertext_bytes, max_verify_ms=max_verify_ms,
        min_category=min_category, cnsa2=cnsa2, lifetime_years=lifetime_years)
    if measurements is not None:
        comparison = compare.Comparison.from_dict(_read_json(measurements), str(measurements))
    else:
        comparison = compare.run(budget=budget)
    result = feature.advise(comparison, constraints)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(feature.text(result), nl=False)


def _read_json(path: Path) -> object:
    from pqml.primitives.errors import PqmlError
    from pqml.signing.model_tree import read_regular

    data = read_regular(path, MAX_MEASUREMENTS_BYTES, "measurements file")  # no FIFO, bounded
    if len(data) > MAX_MEASUREMENTS_BYTES:
        raise PqmlError(f"{path}: more than {MAX_MEASUREMENTS_BYTES} bytes is too large for "
                        "measurements")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PqmlError(f"{path}: not JSON ({exc})") from None
