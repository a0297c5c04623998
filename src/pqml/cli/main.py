"""The ``pqml`` command. Subcommands import their features lazily to keep start-up fast."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from pqml import __version__


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# Subcommands by name; each module is imported only when its command runs or --help lists it.
COMMANDS: dict[str, str] = {
    "keygen": "pqml.cli.keys:keygen",
    "pubkey": "pqml.cli.keys:pubkey",
    "convert": "pqml.cli.keys:convert",
    "encrypt": "pqml.cli.encrypt:encrypt",
    "decrypt": "pqml.cli.encrypt:decrypt",
    "rekey": "pqml.cli.encrypt:rekey",
    "inspect": "pqml.cli.encrypt:inspect",
    "sign": "pqml.cli.sign:sign",
    "verify": "pqml.cli.sign:verify",
    "digest": "pqml.cli.sign:digest",
    "scan": "pqml.cli.scan:scan",
    "algorithms": "pqml.cli.algorithms:algorithms",
    "bench": "pqml.cli.bench:bench",
}


class PqmlGroup(click.Group):
    """Lazy subcommands, and expected failures as one line on stderr with a non-zero exit."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # feature not shipped in this build
                return None
            raise
        return getattr(mod, attr)

    def invoke(self, ctx: click.Context) -> Any:
        from pqml.primitives.errors import PqmlError

        try:
            return super().invoke(ctx)
        except PqmlError as exc:
            _fail(_one_line(exc), exc.exit_code)
        except FileNotFoundError as exc:
            _fail(f"{exc.filename}: no such file", 1)
        except IsADirectoryError as exc:
            _fail(f"{exc.filename}: is a directory", 1)
        except PermissionError as exc:
            _fail(f"{exc.filename}: permission denied", 1)
        except OSError as exc:
            _fail(f"{getattr(exc, 'filename', None) or 'I/O'}: {exc.strerror or exc}", 1)
        except KeyboardInterrupt:
            _fail("interrupted", 130)


def _fail(message: str, code: int) -> None:
    click.echo(f"pqml: error: {message}", err=True)
    sys.exit(code)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=PqmlGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="pqml")
def cli() -> None:
    """Post-quantum protection for machine-learning assets.

    Generate and convert post-quantum and classical keys, list the algorithms this
    installation offers, and measure them on this machine.
    """


def main() -> None:
    cli(prog_name="pqml")


if __name__ == "__main__":
    main()
