"""``pqml gateway`` (serve, and manage its keys) and ``pqml request`` (one request through a
gateway): Oblivious HTTP with post-quantum HPKE from the command line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from pqml.cli.help import Group

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, option: str) -> float:
    """``90``, ``45s``, ``30m``, ``1h``, ``2d`` as seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 30s, 15m, 1h or 2d",
                                 param_hint=option)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _signing_key(ref: str | None, passphrase_file: str | None) -> Any:
    """The ML-DSA key that signs the key configurations: a key file, or a key in the
    keyring (id, id prefix or label; it must be an active signing key)."""
    if ref is None:
        return None
    from pqml.cli.keys import key_passphrase
    from pqml.gateway.client import sign_key_config
    from pqml.keys import key_files, key_refs
    from pqml.primitives.base import SigningKey
    from pqml.primitives.errors import WrongKeyTypeError

    passphrase = key_passphrase(passphrase_file)
    target = key_refs.resolve(ref)
    if isinstance(target, Path):
        key = key_files.load_private(target, passphrase=passphrase)
    else:
        from pqml.keys.keyring import Keyring

        key = Keyring().private_key(target.id, use="sign",
                                    passphrase=passphrase or key_refs.env_passphrase())
    if not isinstance(key, SigningKey):
        raise WrongKeyTypeError(f"{ref}: {key.algorithm} is not a signature key")
    sign_key_config(b"check", key)  # refuses a classical key now, not per fetch
    return key


def _pinned_key(ref: str) -> Any:
    """The gateway's pinned public key: a key file, or a key in the keyring."""
    from pqml.keys import key_files, key_refs
    from pqml.primitives.base import VerifyingKey
    from pqml.primitives.errors import WrongKeyTypeError

    target = key_refs.resolve(ref)
    if isinstance(target, Path):
        key = key_files.load_public(target)
    else:
        from pqml.keys.keyring import Keyring

        key = Keyring().public_key(target.id)
    if not isinstance(key, VerifyingKey):
        raise WrongKeyTypeError(f"{ref}: {key.algorithm} is not a signature key")
    return key


def _check_redis(url: str) -> None:
    """Fail at start-up, not on the first request, when the Redis cannot be reached."""
    import asyncio

    from pqml.gateway.replay import RedisReplayStore

    async def ping() -> None:
        store = RedisReplayStore(url)
        try:
            await store.ping()
        finally:
            await store.aclose()

    asyncio.run(ping())


@click.group(cls=Group, invoke_without_command=True)
@click.option("--upstream", metavar="URL",
              help="The HTTP service requests are forwarded to, e.g. http://127.0.0.1:9000.")
@click.option("--keys", "keys_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Gateway key directory (made by 'pqml gateway keygen').")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes sharing the port (decryption is CPU-bound: about one "
                   "per core). Above 1 needs --redis, so that all refuse a replay.")
@click.option("--redis", "redis_url", metavar="URL",
              help="Shared replay cache for several replicas (redis://host:port/db). "
                   "Default: in this process.")
@click.option("--signing-key", metavar="KEY",
              help="ML-DSA private key (file or keyring key) that signs the published key "
                   "configurations.")
@click.option("--signing-passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Passphrase of an encrypted --signing-key.")
@click.option("--window", default="60s", show_default=True, metavar="DURATION",
              help="How far a request's Date may be from this clock, each way.")
@click.option("--no-date-required", is_flag=True,
              help="Accept requests without a Date (replays then stay refused only while "
                   "their nonce is remembered).")
@click.option("--config-max-age", default="5m", show_default=True, metavar="DURATION",
              help="How long clients may cache the key configurations (keep it below the "
                   "rotation grace period).")
@click.option("--max-request", type=click.IntRange(1), default=16 << 20, show_default=True,
              metavar="BYTES", help="Largest encapsulated request accepted.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help="Log level (no request content is "
                                                      "ever logged).")
@click.pass_context
def gateway(ctx: click.Context, upstream: str | None, keys_dir: str | None, host: str,
            port: int, workers: int, redis_url: str | None, signing_key: str | None,
            signing_passphrase_file: str | None, window: str, no_date_required: bool,
            config_max_age: str, max_request: int, log_level: str) -> None:
    """Serve an HTTP API behind Oblivious HTTP with post-quantum HPKE.

    Listens for encapsulated requests (RFC 9458) at /.well-known/ohttp-gateway, decrypts
    them with the key directory's keys (X-Wing by default), refuses replays and stale
    Dates, forwards the plain request to --upstream and encrypts its answer for the client
    alone. GET on the same path serves the key configurations (application/ohttp-keys),
    signed with --signing-key. Rotating keys in the directory takes effect without a
    restart.

    \b
    Examples:
      pqml gateway keygen gw-keys
      pqml keygen --alg ML-DSA-65 -o gw-sign.pem
      pqml gateway --upstream http://127.0.0.1:9000 --keys gw-keys --signing-key gw-sign.pem
      pqml gateway rotate gw-keys --grace 1h
      pqml gateway --upstream http://10.0.0.5:9000 --keys gw-keys --host 0.0.0.0 \\
          --workers 4 --redis redis://10.0.0.6:6379/0
    """
    if ctx.invoked_subcommand is not None:
        return
    if upstream is None or keys_dir is None:
        raise click.UsageError("give --upstream URL and --keys DIR (or a subcommand: "
                               "keygen, rotate, prune, list)")
    if workers > 1 and redis_url is None:
        raise click.UsageError("--workers above 1 needs --redis URL: each worker's own "
                               "replay cache would accept a request another one served")
    import logging

    from pqml.gateway.app import create_gateway, serve
    from pqml.gateway.key_configs import GatewayKeys

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    for chatty in ("httpx", "httpcore"):  # they would log each forwarded URL: in clear
        logging.getLogger(chatty).setLevel(logging.WARNING)
    signer = _signing_key(signing_key, signing_passphrase_file)
    span = parse_duration(window, "--window")
    max_age = int(parse_duration(config_max_age, "--config-max-age"))
    if redis_url is not None:
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise click.BadParameter("must be a redis://, rediss:// or unix:// URL",
                                     param_hint="--redis")
        _check_redis(redis_url)
    keys = GatewayKeys(keys_dir)
    keys.load()  # fail now on an unusable directory
    try:
        app = create_gateway(upstream, keys, redis_url=redis_url, signer=signer, window=span,
                             require_date=not no_date_required, config_max_age=max_age,
                             max_request=max_request)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--upstream") from None
    click.echo(f"pqml gateway: serving http://{host}:{port}/.well-known/ohttp-gateway "
               f"-> {upstream}" + (f" with {workers} workers" if workers > 1 else ""),
               err=True)
    status = serve(app, host=host, port=port, workers=workers,
                   log_level="warning" if log_level != "debug" else "debug")
    if status:
        sys.exit(status)


def _entry_facts(entry: Any, now: float) -> dict[str, Any]:
    return {"key_id": entry.key_id, "algorithm": entry.algorithm, "file": entry.file,
            "created": entry.created, "retire_at": entry.retire_at,
            "live": entry.live(now)}


@gateway.command("keygen")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("-a", "--alg", default="X-Wing", show_default=True,
              help="KEM: X-Wing, ML-KEM-768, ML-KEM-1024 (CNSA 2.0), or X25519 (legacy, "
                   "with --allow-classical).")
@click.option("--allow-classical", is_flag=True,
              help="Allow the quantum-vulnerable X25519 suite.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def keygen(directory: str, alg: str, allow_classical: bool, as_json: bool) -> None:
    """Create a gateway key directory with its first key."""
    import time

    from pqml.gateway.key_configs import GatewayKeys

    entry = GatewayKeys(directory).create(alg, allow_classical=allow_classical)
    _report(entry, as_json, f"{directory}: key {entry.key_id} ({entry.algorithm}) created",
            time.time())


@gateway.command("rotate")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--grace", default="1d", show_default=True, metavar="DURATION",
              help="How long older keys keep working (longer than --config-max-age).")
@click.option("-a", "--alg", default=None,
              help="KEM of the new key. Default: that of the newest key.")
@click.option("--allow-classical", is_flag=True,
              help="Allow the quantum-vulnerable X25519 suite.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def rotate(directory: str, grace: str, alg: str | None, allow_classical: bool,
           as_json: bool) -> None:
    """Add a new gateway key; older keys retire after the grace period."""
    import time

    from pqml.gateway.key_configs import GatewayKeys

    seconds = parse_duration(grace, "--grace")
    entry = GatewayKeys(directory).rotate(grace=seconds, algorithm=alg,
                                          allow_classical=allow_classical)
    _report(entry, as_json, f"{directory}: key {entry.key_id} ({entry.algorithm}) added; "
                            f"older keys retire in {grace}", time.time())


@gateway.command("prune")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def prune(directory: str, as_json: bool) -> None:
    """Delete gateway keys whose grace period is over."""
    from pqml.gateway.key_configs import GatewayKeys

    removed = GatewayKeys(directory).prune()
    if as_json:
        click.echo(json.dumps({"removed": removed}))
    else:
        click.echo(f"{directory}: removed key(s) {', '.join(map(str, removed))}" if removed
                   else f"{directory}: no retired key to remove", err=True)


@gateway.command("list")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def list_keys(directory: str, as_json: bool) -> None:
    """List the keys of a gateway key directory."""
    import time
    from datetime import UTC, datetime

    from pqml.gateway.key_configs import GatewayKeys

    now = time.time()
    entries = GatewayKeys(directory).entries()
    if as_json:
        click.echo(json.dumps([_entry_facts(e, now) for e in entries], indent=2))
        return
    for entry in entries:
        if entry.retire_at is None:
            state = "active"
        else:
            when = datetime.fromtimestamp(entry.retire_at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            state = f"{'retiring' if entry.live(now) else 'retired'} {when}"
        click.echo(f"{entry.key_id:3d}  {entry.algorithm:<14} {entry.file}  {state}")


def _report(entry: Any, as_json: bool, text: str, now: float) -> None:
    if as_json:
        click.echo(json.dumps(_entry_facts(entry, now)))
    else:
        click.echo(text, err=True)


# ---- pqml request ----------------------------------------------------------------------------


def _read_data(data: str | None) -> bytes | None:
    """curl's -d: text, @FILE, or @- for standard input."""
    if data is None:
        return None
    if data == "@-":
        return sys.stdin.buffer.read()
    if data.startswith("@"):
        return Path(data[1:]).read_bytes()
    return data.encode()


def _headers(values: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not 'Name: value'", param_hint="-H")
        out.append((name.strip(), rest.strip()))
    return out


@click.command()
@click.argument("url")
@click.option("--gateway", "gateway_url", required=True, metavar="URL",
              help="The gateway (its origin, or its full resource URL).")
@click.option("--relay", "relay_url", metavar="URL",
              help="Send the encapsulated request through this relay. Default: the gateway.")
@click.option("--config-key", metavar="KEY",
              help="The gateway's pinned ML-DSA public key (file or keyring key): its key "
                   "configurations must be signed by it.")
@click.option("--allow-unsigned", is_flag=True,
              help="Trust unsigned key configurations (TLS alone vouches for them).")
@click.option("-X", "--request", "method", metavar="METHOD",
              help="HTTP method. Default: GET, or POST with -d.")
@click.option("-d", "--data", metavar="DATA", help="Request body: text, @FILE or @- (stdin).")
@click.option("-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'",
              help="Request header (repeatable).")
@click.option("--chunked", is_flag=True,
              help="Chunked OHTTP: read a streamed answer as it arrives.")
@click.option("--allow-legacy", is_flag=True,
              help="Allow a gateway that offers only the quantum-vulnerable X25519 suite.")
@click.option("-i", "--include", is_flag=True,
              help="Print the status line and headers (to standard error).")
@click.option("-f", "--fail", is_flag=True,
              help="Exit 1 on an HTTP status of 400 or above.")
@click.option("--timeout", default="60s", show_default=True, metavar="DURATION",
              help="Give up after this long.")
def request(url: str, gateway_url: str, relay_url: str | None, config_key: str | None,
            allow_unsigned: bool, method: str | None, data: str | None,
            headers: tuple[str, ...], chunked: bool, allow_legacy: bool, include: bool,
            fail: bool, timeout: str) -> None:
    """Send one HTTP request through an Oblivious HTTP gateway.

    The request to URL is encrypted to the gateway's key configuration (fetched from the
    gateway, its signature checked against --config-key) so that a relay sees only
    ciphertext and the gateway never sees your address. The answer's body goes to
    standard output.

    \b
    Examples:
      pqml request http://model.internal/v1/infer --gateway http://127.0.0.1:8080 \\
          --config-key gw-sign.pub -d '{"inputs": [1, 2, 3]}' -H 'Content-Type: application/json'
    """
    import httpx

    from pqml.gateway.client import OHTTPTransport

    if config_key is None and not allow_unsigned:
        raise click.UsageError("give --config-key KEY (the gateway's pinned ML-DSA public "
                               "key), or --allow-unsigned")
    pinned = None if config_key is None else _pinned_key(config_key)
    body = _read_data(data)
    seconds = parse_duration(timeout, "--timeout")
    transport = OHTTPTransport(gateway_url, pinned_key=pinned, relay_url=relay_url,
                               allow_unsigned=allow_unsigned, allow_legacy=allow_legacy,
                               chunked=chunked,
                               transport=httpx.HTTPTransport())
    out = sys.stdout.buffer
    try:
        with httpx.Client(transport=transport, timeout=seconds, trust_env=False) as client, \
                client.stream(method or ("POST" if body is not None else "GET"), url,
                              content=body, headers=_headers(headers)) as response:
            if include:
                click.echo(f"HTTP {response.status_code} {response.reason_phrase}", err=True)
                for name, value in response.headers.multi_items():
                    click.echo(f"{name}: {value}", err=True)
            for piece in response.iter_bytes():
                out.write(piece)
                out.flush()
    except httpx.TimeoutException:
        raise click.ClickException(f"{gateway_url}: no answer within {timeout}") from None
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{gateway_url}: {type(exc).__name__}: {exc}") from None
    if fail and response.status_code >= 400:
        raise click.ClickException(f"{url}: HTTP {response.status_code} "
                                   f"{response.reason_phrase}")
