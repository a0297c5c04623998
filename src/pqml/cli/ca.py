"""``pqml ca``: a small post-quantum certificate authority for model signing.

A thin shell over :class:`pqml.keys.ca.CertificateAuthority`: ``init`` makes a CA directory
(an SLH-DSA root by default, ML-DSA-87 under ``--profile cnsa2``, or an intermediate with
``--parent``), ``issue`` certifies a signing key (or an intermediate CA key), ``revoke``
records a revocation and ``crl`` writes the signed CRL that ``pqml verify --crl`` reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from pqml.cli.help import Group


def _passphrase(path: str | None) -> bytes | None:
    from pqml.cli.keys import key_passphrase

    return key_passphrase(path)


_ca_dir = click.argument("ca_dir", metavar="DIR", type=click.Path(file_okay=False,
                                                                  path_type=Path))
_passphrase_opt = click.option("--passphrase-file", type=click.Path(exists=True,
                                                                     dir_okay=False),
                               help="Passphrase of the CA key file.")
_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group(cls=Group)
def ca() -> None:
    """Run a post-quantum certificate authority for model signing.

    \b
    Examples:
      pqml ca init ca                                  # SLH-DSA-SHA2-128s root
      pqml ca init release-ca --parent ca              # ML-DSA-65 intermediate
      pqml ca issue release-ca --subject CN=release-bot --new-key bot.pem -o bot.crt
      pqml sign my-model -k bot.pem --certificate bot.crt --certificate-chain release-ca/chain.pem
      pqml ca revoke release-ca 1 --reason key-compromise && pqml ca crl release-ca -o crl.pem
      pqml verify my-model --certificate-chain ca/ca.cert.pem --crl crl.pem
    """


@ca.command()
@_ca_dir
@click.option("--subject", default=None, metavar="DN",
              help="CA name, RFC 4514 (default: CN=pqml model-signing root, or "
                   "CN=pqml intermediate CA with --parent).")
@click.option("--alg", "algorithm", metavar="ALG",
              help="CA key algorithm (default: SLH-DSA-SHA2-128s for a root, ML-DSA-65 for "
                   "an intermediate, ML-DSA-87 under cnsa2).")
@click.option("--profile", default="default", show_default=True,
              help="Algorithm profile: default or cnsa2 (ML-DSA-87).")
@click.option("--days", type=click.IntRange(min=1), metavar="N",
              help="Validity in days (default: 7300 for a root, 1095 for an intermediate).")
@click.option("--parent", type=click.Path(file_okay=False, exists=True, path_type=Path),
              metavar="DIR", help="Make an intermediate CA certified by the CA in DIR.")
@click.option("--path-len", "path_length", type=click.IntRange(min=0), metavar="N",
              help="How many intermediates may follow (default: unlimited for a root, 0 "
                   "for an intermediate).")
@_passphrase_opt
@_json
def init(ca_dir: Path, subject: str | None, algorithm: str | None, profile: str,
         days: int | None, parent: Path | None, path_length: int | None,
         passphrase_file: str | None, as_json: bool) -> None:
    """Create a CA directory: a root, or an intermediate with --parent.

    DIR must not exist (or be empty); its key file is written 0600, encrypted with the
    passphrase when one is given (the parent's uses the same passphrase).
    """
    from pqml.keys.ca import CertificateAuthority

    passphrase = _passphrase(passphrase_file)
    issuer = CertificateAuthority.open(parent, passphrase=passphrase) if parent else None
    name = subject or ("CN=pqml intermediate CA" if parent else "CN=pqml model-signing root")
    made = CertificateAuthority.init(ca_dir, subject=name, algorithm=algorithm,
                                     profile=profile, days=days, parent=issuer,
                                     path_length=path_length, passphrase=passphrase)
    facts = made.facts
    info = {"ca": str(ca_dir), "subject": facts.subject, "algorithm": made.key.algorithm,
            "serial": facts.serial, "not_after": facts.not_after.isoformat(),
            "certificate": str(ca_dir / "ca.cert.pem"), "chain": str(ca_dir / "chain.pem"),
            "certificate_bytes": len(made.der)}
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    kind = "intermediate CA" if parent else "root CA"
    click.echo(f"Created {kind} {ca_dir}: {facts.subject} ({made.key.algorithm}), valid "
               f"until {facts.not_after:%Y-%m-%d}")
    click.echo(f"  trust anchor: {ca_dir / 'chain.pem' if parent else ca_dir / 'ca.cert.pem'}")


@ca.command()
@_ca_dir
@click.option("--subject", required=True, metavar="DN",
              help="Subject of the certificate, RFC 4514 (e.g. CN=release-bot,O=Example).")
@click.option("--san", multiple=True, metavar="NAME",
              help="Subject alternative name: email:ADDR, uri:URI or dns:HOST; repeatable.")
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False),
              metavar="PUB", help="Certify this existing key (public or private key file).")
@click.option("--new-key", "new_key", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Generate the key to certify and write it here (0600).")
@click.option("--alg", "algorithm", default=None, metavar="ALG",
              help="Algorithm for --new-key (default ML-DSA-65; e.g. MLDSA65-Ed25519-SHA512, "
                   "ML-DSA-87, ECDSA-P256 for model_signing).")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="N", help="Validity in days (default 30; 1095 for --intermediate).")
@click.option("--intermediate", is_flag=True,
              help="Issue a CA certificate (keyCertSign, cRLSign) instead of a signing one.")
@click.option("--path-len", "path_length", type=click.IntRange(min=0), metavar="N",
              help="Path length of an --intermediate certificate (default 0).")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False,
                                                                   path_type=Path),
              metavar="FILE", help="Where to write the certificate (PEM).")
@_passphrase_opt
@_json
def issue(ca_dir: Path, subject: str, san: tuple[str, ...], public_key: str | None,
          new_key: Path | None, algorithm: str | None, days: float | None, intermediate: bool,
          path_length: int | None, out: Path, passphrase_file: str | None,
          as_json: bool) -> None:
    """Issue a code-signing certificate (or, with --intermediate, a CA certificate)."""
    from pqml._internal.output_file import write_atomic
    from pqml.keys import ca as ca_mod
    from pqml.keys import key_files
    from pqml.primitives.base import PrivateKey

    if (public_key is None) == (new_key is None):
        raise click.UsageError("give exactly one of --public-key and --new-key")
    if algorithm and public_key:
        raise click.UsageError("--alg applies to --new-key only")
    for target in (out, new_key):  # before a serial is spent on it
        if target is not None and os.path.lexists(target):
            from pqml._internal.errors import OutputExistsError
            from pqml._internal.output_file import exists_message

            raise OutputExistsError(exists_message(target))
    authority = ca_mod.CertificateAuthority.open(ca_dir, passphrase=_passphrase(passphrase_file))
    if public_key is not None:
        key = key_files.load(Path(public_key))
        subject_key = key.public_key() if isinstance(key, PrivateKey) else key
    else:
        generated = key_files.generate(algorithm or ca_mod.LEAF_ALGORITHM, allow_classical=True)
        subject_key = generated.public_key()
    default_days = ca_mod.INTERMEDIATE_DAYS if intermediate else ca_mod.LEAF_DAYS
    issued = authority.issue(subject_key, subject=subject, san=san,
                             days=days or default_days, intermediate=intermediate,
                             path_length=path_length)
    if new_key is not None:
        key_files.save_private(generated, new_key)
    write_atomic(out, issued.pem, mode=0o644, overwrite=False)
    info = {**issued.as_dict(), "certificate": str(out),
            "key": str(new_key) if new_key else public_key}
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    flag = " (quantum-vulnerable)" if info["quantum_vulnerable"] else ""
    click.echo(f"Issued {info['kind']} certificate {issued.serial} ({issued.serial:#x}) "
               f"-> {out}")
    click.echo(f"  {issued.subject}: {issued.algorithm}{flag}, valid "
               f"{issued.not_before:%Y-%m-%d %H:%M} to {issued.not_after:%Y-%m-%d %H:%M} UTC")


@ca.command()
@_ca_dir
@click.argument("serial", metavar="SERIAL")
@click.option("--reason", default="unspecified", show_default=True,
              type=click.Choice(["unspecified", "key-compromise", "ca-compromise",
                                 "affiliation-changed", "superseded",
                                 "cessation-of-operation", "privilege-withdrawn"]),
              help="CRL reason code.")
@_passphrase_opt
@_json
def revoke(ca_dir: Path, serial: str, reason: str, passphrase_file: str | None,
           as_json: bool) -> None:
    """Revoke a certificate this CA issued (SERIAL: decimal or 0x hex); then run ca crl."""
    from pqml.keys.ca import CertificateAuthority, Revocation

    try:
        number = int(serial, 0)
    except ValueError:
        raise click.BadParameter(f"{serial!r} is not a serial number (decimal or 0x hex)",
                                 param_hint="SERIAL") from None
    authority = CertificateAuthority.open(ca_dir, passphrase=_passphrase(passphrase_file))
    done: Revocation = authority.revoke(number, reason=reason)
    if as_json:
        click.echo(json.dumps({"serial": done.serial, "subject": done.subject,
                               "revoked_at": done.revoked_at.isoformat(),
                               "reason": done.reason}, indent=2))
        return
    click.echo(f"Revoked {done.subject} (serial {done.serial:#x}), reason {done.reason}; "
               f"publish it with: pqml ca crl {ca_dir}")


@ca.command()
@_ca_dir
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Where to write the CRL (default DIR/crl.pem, replaced).")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=7.0,
              show_default=True, metavar="N", help="Days until the CRL's next update.")
@click.option("--der", is_flag=True, help="Write DER instead of PEM.")
@_passphrase_opt
def crl(ca_dir: Path, out: Path | None, days: float, der: bool,
        passphrase_file: str | None) -> None:
    """Write a new signed CRL listing every certificate revoked so far."""
    from pqml._internal.output_file import write_atomic
    from pqml.keys.ca import CRL_FILE, CertificateAuthority, crl_pem

    authority = CertificateAuthority.open(ca_dir, passphrase=_passphrase(passphrase_file))
    data = authority.crl(days=days)
    target = out or ca_dir / CRL_FILE
    write_atomic(target, data if der else crl_pem(data), mode=0o644,
                 overwrite=out is None)
    revoked = sum(1 for c in authority.certificates() if c.get("revoked_at"))
    click.echo(f"Wrote CRL of {authority.facts.subject} ({revoked} revoked) -> {target}")
