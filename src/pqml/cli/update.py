"""``pqml update``: over-the-air model updates, verified before they are served.

A thin shell over :mod:`pqml.signing.updates`. A service loads ``DIR/current``; ``apply``
verifies the new version completely in a staging copy and switches ``current`` with one
atomic rename, ``rollback`` switches back, ``status`` shows both. Failures are one line on
stderr and exit 1; the model in service is never touched by a failed update.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from pqml.cli.help import Group

_KEYS = click.option("-k", "--key", "keys", multiple=True, metavar="PUBKEY",
                     help="Trusted release public key; repeatable (needed unless "
                          "--certificate-chain is given).")
# as pqml verify spells them: the same options, the same checks (certificate_bundles)
_CHAIN = click.option("--certificate-chain", "certificate_chain", multiple=True, metavar="PEM",
                      help="Trusted certificates for certificate bundles (chain and root); "
                           "repeatable.")
_CRLS = click.option("--crl", "crls", multiple=True, metavar="FILE",
                     help="CRL (pqml ca crl) of a CA in the certificate chain: fail if it "
                          "revokes a certificate of the chain; repeatable.")
_REQUIRE_PQ = click.option("--require-pq", is_flag=True,
                           help="Refuse an update without a verified post-quantum signature.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _check_trust(keys: tuple[str, ...], certificate_chain: tuple[str, ...],
                 crls: tuple[str, ...]) -> None:
    """Usage errors (exit 2) before anything is read: something must be trusted, and a
    CRL only means something next to the chain it revokes certificates of."""
    if not keys and not certificate_chain:
        raise click.UsageError("missing option --key or --certificate-chain")
    if crls and not certificate_chain:
        raise click.UsageError("--crl needs --certificate-chain")


def _version(info: Any) -> str:
    if info is None:
        return "none"
    name = f" {info.name!r}" if info.name else ""
    return f"version {info.version}{name} {info.root_digest or '(no root digest)'}"


@click.group(cls=Group)
def update() -> None:
    """Verify a model update and swap it in atomically, with rollback.

    DIR/current is the version in service (a symlink to DIR/versions/N); DIR/previous is
    what rollback returns to.

    \b
    Examples:
      pqml update apply model-v2.tar.gz /opt/models/detector -k release.pub
      pqml update apply model-v2/ /opt/models/detector -k release.pub --signature v2.sig
      pqml update apply v2.tar.gz /opt/models/detector --certificate-chain root.pem --crl ca.crl
      pqml update rollback /opt/models/detector -k release.pub
      pqml update rollback /opt/models/detector --certificate-chain root.pem --crl ca.crl
      pqml update status /opt/models/detector
    """


@update.command()
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@_KEYS
@_CHAIN
@_CRLS
@click.option("--signature", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="SIG", help="Detached OMS bundle (default: model.sig inside BUNDLE).")
@click.option("--name", metavar="NAME",
              help="Model name the first version must be signed as (later versions must "
                   "match the one in service).")
@_REQUIRE_PQ
@click.option("--allow-downgrade", is_flag=True,
              help="Install a version an earlier update replaced (refused otherwise: a "
                   "replayed old update is validly signed).")
@_JSON
def apply(bundle: Path, directory: Path, keys: tuple[str, ...], certificate_chain: tuple[str, ...],
          crls: tuple[str, ...], signature: Path | None, name: str | None, require_pq: bool,
          allow_downgrade: bool, as_json: bool) -> None:
    """Verify a new model version and make it DIR/current.

    BUNDLE is the update: a model directory or a tar archive (.tar, .tar.gz, .tar.xz)
    holding the model and its model.sig. It is copied into DIR, verified there against the
    trusted keys or certificate chain (every file signed, the model name the one in
    service; a certificate bundle's chain checked as pqml verify checks it), and only then
    swapped in; the version it replaces becomes DIR/previous.
    """
    from pqml.signing import updates

    _check_trust(keys, certificate_chain, crls)
    result = updates.apply_update(bundle, directory, keys, certificate_chain=certificate_chain,
                                  crls=crls, signature=signature, name=name,
                                  require_pq=require_pq, allow_downgrade=allow_downgrade)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    if not result.changed:
        click.echo(f"{directory}: already serving {_version(result.current)}; nothing changed")
        return
    algs = ", ".join(result.report.algorithms) if result.report else "-"
    click.echo(f"{directory}: now serving {_version(result.current)} (verified: {algs})")
    if result.previous is not None:
        click.echo(f"{directory}: previous {_version(result.previous)}")


@update.command()
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False,
                                                            path_type=Path))
@_KEYS
@_CHAIN
@_CRLS
@_REQUIRE_PQ
@_JSON
def rollback(directory: Path, keys: tuple[str, ...], certificate_chain: tuple[str, ...],
             crls: tuple[str, ...], require_pq: bool, as_json: bool) -> None:
    """Verify DIR/previous again and put it back in service.

    The version rolled back from becomes DIR/previous, so a second rollback undoes the
    first.
    """
    from pqml.signing import updates

    _check_trust(keys, certificate_chain, crls)
    result = updates.rollback(directory, keys, certificate_chain=certificate_chain, crls=crls,
                              require_pq=require_pq)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(f"{directory}: rolled back to {_version(result.current)}")
    click.echo(f"{directory}: previous {_version(result.previous)}")


@update.command()
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False,
                                                            path_type=Path))
@_JSON
def status(directory: Path, as_json: bool) -> None:
    """Show the version in service, the rollback target and leftovers.

    Reads only; the bundles are parsed, not verified (apply and rollback verify).
    """
    from pqml.signing import updates

    st = updates.status(directory)
    if as_json:
        click.echo(json.dumps(st.as_dict(), indent=2))
        return
    click.echo(f"current   {_version(st.current)}")
    click.echo(f"previous  {_version(st.previous)}")
    if st.leftovers:
        click.echo(f"leftovers {', '.join(st.leftovers)} (removed by the next update)")
