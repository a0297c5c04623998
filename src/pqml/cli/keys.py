"""``pqml keygen``, ``pqml pubkey``, ``pqml convert``: key files in PEM and age encodings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def key_passphrase(path: str | None) -> bytes | None:
    """The passphrase of encrypted PEM key files: all of ``path``, its last line ending
    stripped (``sign`` reads key files with it too)."""
    if path is None:
        return None
    data = Path(path).read_bytes().rstrip(b"\r\n")
    if not data:
        from pqml.primitives.errors import KeyFormatError

        raise KeyFormatError(f"{path}: passphrase file is empty")
    return data


def key_facts(key: object) -> dict[str, object]:
    """``--json`` facts about a key, with the pqml/v1 key id of an encryption key: the id
    ``pqml inspect`` lists a file's recipients by and errors name a key with."""
    from pqml.formats.pqml_v1 import hpke_stanza
    from pqml.keys import key_files as keys
    from pqml.primitives.base import PrivateKey

    facts = keys.describe(key)  # type: ignore[arg-type]
    public = key.public_key() if isinstance(key, PrivateKey) else key
    kem = hpke_stanza.BY_ALGORITHM.get(str(facts["algorithm"]))
    if kem is not None:
        facts["key_id"] = hpke_stanza.key_id(kem, public)  # type: ignore[arg-type]
    return facts


def _warn_classical(alg: str) -> None:
    click.echo(f"pqml: warning: {alg} is quantum-vulnerable (classical only)", err=True)


@click.command()
@click.option("-a", "--alg", "alg", metavar="NAME",
              help="Algorithm (e.g. X-Wing, ML-DSA-65, SLH-DSA-SHA2-128s) or a role: "
                   "kem, signature. Default: the profile's KEM.")
@click.option("--profile", default="default", show_default=True,
              help="Algorithm profile: default or cnsa2 (CNSA 2.0).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the private key here (mode 0600, never overwritten). "
                   "Default: standard output.")
@click.option("--format", "fmt", type=click.Choice(["pem", "age"]), default="pem",
              show_default=True, help="Private key encoding; age for X-Wing and X25519.")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Encrypt the PEM private key with the passphrase in this file.")
@click.option("--allow-classical", is_flag=True,
              help="Allow quantum-vulnerable algorithms (Ed25519, ECDSA, RSA, X25519).")
@click.option("--json", "as_json", is_flag=True,
              help="Print key facts as JSON, key id included (to standard error when the "
                   "private key goes to standard output).")
def keygen(alg: str | None, profile: str, output: str | None, fmt: str,
           passphrase_file: str | None, allow_classical: bool, as_json: bool) -> None:
    """Generate a key pair and print its public key.

    The public key is printed as an age recipient where age defines one (X-Wing, X25519),
    else as PEM. The private key goes to -o FILE, or to standard output with the public
    key on standard error. An encryption key's key id (the one pqml inspect shows) goes
    to standard error.

    \b
    Examples:
      pqml keygen -o me.key                      # X-Wing, the default KEM
      pqml keygen --alg ML-DSA-65 -o signer.pem
      pqml keygen --profile cnsa2 --alg signature -o cnsa.pem
      pqml keygen --alg xwing --format age -o me.txt
    """
    from pqml.keys import key_files as keys

    key = keys.generate(alg, profile, allow_classical=allow_classical)
    from pqml.primitives import registry

    entry = registry.get(key.algorithm)
    if entry.quantum_vulnerable:
        _warn_classical(entry.name)
    passphrase = key_passphrase(passphrase_file)
    public = keys.public_text(key, age=entry.name in keys.AGE_ALGORITHMS).strip()
    facts = key_facts(key)
    if output and output != "-":
        keys.save_private(key, output, fmt, passphrase=passphrase)  # type: ignore[arg-type]
        if as_json:
            click.echo(json.dumps({**facts, "private_key_file": output}, indent=2))
            return
        click.echo(public)
        if "key_id" in facts:
            click.echo(f"Key id: {facts['key_id']}", err=True)
        return
    if sys.stdout.isatty():
        click.echo("pqml: warning: writing a private key to the terminal", err=True)
    sys.stdout.buffer.write(keys.private_bytes(key, fmt, passphrase=passphrase))  # type: ignore[arg-type]
    sys.stdout.flush()
    if as_json:  # standard output carries the private key
        click.echo(json.dumps({**facts, "private_key_file": None}, indent=2), err=True)
        return
    click.echo(f"Public key: {public}" if "\n" not in public else public, err=True)
    if "key_id" in facts:
        click.echo(f"Key id: {facts['key_id']}", err=True)


@click.command()
@click.argument("keyfile", metavar="KEY", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--age", "as_age", is_flag=True, help="Print the age recipient string.")
@click.option("--json", "as_json", is_flag=True,
              help="Print key facts as JSON, with an encryption key's key id.")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Passphrase for an encrypted PEM private key.")
def pubkey(keyfile: str, as_age: bool, as_json: bool, passphrase_file: str | None) -> None:
    """Print the public key of a private or public key file.

    KEY is a private or public key file in PEM or age form ("-": standard input), or a
    keyring key (id, id prefix or label).
    """
    from pqml.keys import key_files as keys
    from pqml.keys.key_refs import KeyringUse

    source: str | bytes = sys.stdin.buffer.read() if keyfile == "-" else keyfile
    managed = None if keyfile == "-" else KeyringUse().public_key(keyfile)
    key = managed if managed is not None else keys.load(
        source, passphrase=key_passphrase(passphrase_file))
    if as_json:
        click.echo(json.dumps(key_facts(key), indent=2))
        return
    click.echo(keys.public_text(key, age=as_age).rstrip("\n"))


@click.command()
@click.argument("keyfile", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--to", "fmt", type=click.Choice(["pem", "age"]), required=True,
              help="Target encoding.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write here (never overwritten). Default: standard output.")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Passphrase of an encrypted PEM input; the PEM output keeps it.")
@click.option("--no-passphrase", is_flag=True,
              help="Write an encrypted input's private key unencrypted (needed for age).")
def convert(keyfile: str, fmt: str, output: str | None, passphrase_file: str | None,
            no_passphrase: bool) -> None:
    """Convert a key file between PEM and age encodings.

    age encodes X-Wing and X25519 keys only. A private key stays private (0600 file) and
    an encrypted one stays encrypted with the same passphrase unless --no-passphrase is
    given (age identity files cannot be encrypted, so converting one to age needs it); a
    public key becomes a PEM SubjectPublicKeyInfo or an age recipient string.
    """
    from pqml.keys import key_files as keys
    from pqml.primitives.base import PrivateKey

    source: str | bytes = sys.stdin.buffer.read() if keyfile == "-" else keyfile
    passphrase = key_passphrase(passphrase_file)
    key = keys.load(source, passphrase=passphrase)
    if isinstance(key, PrivateKey):
        kept = keys.conversion_passphrase(source, fmt, passphrase,  # type: ignore[arg-type]
                                          no_passphrase=no_passphrase)
        if kept is None and passphrase is not None and no_passphrase:
            click.echo("pqml: warning: the converted private key is not encrypted "
                       "(--no-passphrase)", err=True)
        if output and output != "-":
            keys.save_private(key, output, fmt, passphrase=kept)  # type: ignore[arg-type]
            return
        sys.stdout.buffer.write(keys.private_bytes(key, fmt,  # type: ignore[arg-type]
                                                   passphrase=kept))
        return
    text = keys.public_text(key, age=fmt == "age").rstrip("\n") + "\n"
    if output and output != "-":
        keys.save_public(key, output, age=fmt == "age")
    else:
        click.echo(text, nl=False)
