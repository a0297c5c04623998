"""The ``pqml`` command. Subcommands import their features lazily to keep start-up fast."""

from __future__ import annotations

import sys
from typing import Any

import click

from pqml import __version__


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PqmlGroup(click.Group):
    """Turn expected failures into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from pqml.errors import PqmlError

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


def _register() -> None:
    from pqml.cli import algorithms, bench, keys

    cli.add_command(keys.keygen)
    cli.add_command(keys.pubkey)
    cli.add_command(keys.convert)
    cli.add_command(algorithms.algorithms)
    cli.add_command(bench.bench)


_register()


def main() -> None:
    cli(prog_name="pqml")


if __name__ == "__main__":
    main()
