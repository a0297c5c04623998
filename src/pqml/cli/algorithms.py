"""``pqml algorithms``: the registry as a table or JSON."""

from __future__ import annotations

import json

import click

FAMILIES = ("kem", "signature", "aead", "hash")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option("--family", type=click.Choice(FAMILIES), help="Only this family.")
@click.option("--profile", help="Only algorithms the profile allows (e.g. cnsa2).")
@click.option("--available", "only_available", is_flag=True, help="Only usable algorithms.")
@click.option("--markdown", is_flag=True, help="Print docs/ALGORITHMS.md (machine-independent).")
def algorithms(
    as_json: bool, family: str | None, profile: str | None, only_available: bool,
    markdown: bool,
) -> None:
    """List the algorithms pqml knows, with sizes and quantum status.

    Algorithms whose backend this installation lacks are marked missing; --available
    leaves them out.
    """
    from pqml.primitives import registry

    algs = registry.all_algorithms(family)  # type: ignore[arg-type]
    if profile:
        prof = registry.profile(profile)
        algs = [a for a in algs if not prof.allowed or a.name in prof.allowed]
    if only_available:
        algs = [a for a in algs if a.available]
    if markdown:
        click.echo(render_markdown(algs), nl=False)
        return
    if as_json:
        out = {
            "algorithms": [a.as_dict() for a in algs],
            "profiles": {
                p.name: {"description": p.description, "defaults": p.defaults}
                for p in registry.PROFILES.values()
            },
        }
        click.echo(json.dumps(out, indent=2))
        return
    _print_table(algs)


def _size(v: int | None) -> str:
    return "var" if v is None else str(v)


def _print_table(algs: list) -> None:
    from rich.table import Table

    from pqml._internal.console import data_console, is_terminal

    console = data_console()
    # On a terminal, optional columns only where they fit unwrapped; piped, all of them.
    wide = console.width >= 140 or not is_terminal(None)
    medium = console.width >= 110 or wide
    table = Table(title="pqml algorithms", show_lines=False, pad_edge=False)
    cols = ["name", "family", *(["standard"] if wide else []), "cat", "pq-safe",
            "pk", "sk", "ct/sig", *(["status", "backend"] if medium else [])]
    for col in cols:
        table.add_column(col, no_wrap=col in ("name", "standard"),
                         justify="right" if col in ("cat", "pk", "sk", "ct/sig") else "left")
    for a in algs:
        out = {"kem": a.ciphertext_size, "signature": a.signature_size,
               "hash": a.digest_size}.get(a.family)
        keyed = a.family in ("kem", "signature")
        row = [
            a.name,
            a.family,
            *([a.standard] if wide else []),
            "-" if a.nist_category is None else str(a.nist_category),
            "[red]no[/red]" if a.quantum_vulnerable else "[green]yes[/green]",
            _size(a.public_key_size) if keyed else "",
            _size(a.private_key_size) if keyed else "",
            _size(out) if a.family != "aead" else "",
        ]
        if medium:
            row += [a.status,
                    a.backend if a.available else f"[yellow]missing {a.backend}[/yellow]"]
        table.add_row(*row)
    console.print(table)


def render_markdown(algs: list) -> str:
    """The registry as docs/ALGORITHMS.md; a test keeps the committed file in sync."""
    from pqml.primitives import registry

    lines = [
        "# Algorithms",
        "",
        "Generated from the registry (`src/pqml/primitives/registry.py`) by",
        "`pqml algorithms --markdown > docs/ALGORITHMS.md` (or `make docs`); do not edit by hand.",
        "Sizes are bytes; `var` means variable (RSA, DER-encoded ECDSA). \"Stored\" private keys",
        "are seeds where the standard allows. Quantum-vulnerable algorithms are kept for",
        "reading, verifying and migrating, and are always reported as such.",
        "",
        "## Profiles",
        "",
        "| profile | description | kem | signature | aead | hash |",
        "|---|---|---|---|---|---|",
    ]
    for p in registry.PROFILES.values():
        d = p.defaults
        lines.append(f"| `{p.name}` | {p.description} | {d['kem']} | {d['signature']} | "
                     f"{d['aead']} | {d['hash']} |")
    titles = {"kem": "Key encapsulation", "signature": "Signatures", "aead": "AEAD",
              "hash": "Hashes"}
    for fam, title in titles.items():
        rows = [a for a in algs if a.family == fam]
        if not rows:
            continue
        lines += ["", f"## {title}", "",
                  "| name | aliases | standard | NIST cat. | quantum-vulnerable | OIDs | HPKE id "
                  "| pk | sk (stored) | ct / sig / digest | status | backend | notes |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for a in rows:
            out = {"kem": a.ciphertext_size, "signature": a.signature_size,
                   "hash": a.digest_size, "aead": None}[fam]
            keyed = fam in ("kem", "signature")
            lines.append(
                "| " + " | ".join([
                    f"**{a.name}**", ", ".join(f"`{x}`" for x in a.aliases),
                    a.standard, "-" if a.nist_category is None else str(a.nist_category),
                    "**yes**" if a.quantum_vulnerable else "no",
                    "<br>".join(a.oids) or "-",
                    f"0x{a.hpke_kem_id:04X}" if a.hpke_kem_id is not None else "-",
                    _size(a.public_key_size) if keyed else "-",
                    _size(a.private_key_size) if keyed else "-",
                    _size(out) if fam != "aead" else f"key {a.key_size}",
                    a.status,
                    a.backend + (f" (extra `{a.extra}`)" if a.extra else ""),
                    a.notes,
                ]) + " |")
    return "\n".join(lines) + "\n"
