"""The ``pqml`` command. Subcommands import their capability lazily to keep start-up fast."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any, NamedTuple

import click

from pqml import __version__
from pqml.cli.help import Group, Rows


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class Command(NamedTuple):
    """A subcommand as ``pqml --help`` lists it, without importing its module."""

    target: str   # "module:attribute", imported only when the command runs
    section: str  # the heading it is listed under
    summary: str  # its first help line, word for word (tests/cli/test_help.py checks)


KEYS = "Keys (post-quantum and classical; PEM and age encodings)"
ENCRYPTION = "Encryption (pqml/v1 and age: files, directory trees, standard input)"
SIGNING = "Signing (OpenSSF model-signing bundles; verify before load)"
INVENTORY = "Inventory (CBOM, SARIF, migration plan)"
ALGORITHMS = "Algorithms and benchmarks"

# Subcommands in the order and sections of `pqml --help`.
COMMANDS: dict[str, Command] = {
    "keygen": Command("pqml.cli.keys:keygen", KEYS,
                      "Generate a key pair and print its public key."),
    "pubkey": Command("pqml.cli.keys:pubkey", KEYS,
                      "Print the public key of a private or public key file."),
    "convert": Command("pqml.cli.keys:convert", KEYS,
                       "Convert a key file between PEM and age encodings."),
    "encrypt": Command("pqml.cli.encrypt:encrypt", ENCRYPTION,
                       "Encrypt a file, a directory or standard input to recipients."),
    "decrypt": Command("pqml.cli.encrypt:decrypt", ENCRYPTION,
                       "Decrypt a pqml/v1 or age file, a directory or standard input."),
    "rekey": Command("pqml.cli.encrypt:rekey", ENCRYPTION,
                     "Change who can decrypt files, rewriting only their headers."),
    "inspect": Command("pqml.cli.encrypt:inspect", ENCRYPTION,
                       "Show an encrypted file's format and recipients, without a key."),
    "sign": Command("pqml.cli.sign:sign", SIGNING,
                    "Sign a model into an OpenSSF Model Signing bundle."),
    "verify": Command("pqml.cli.sign:verify", SIGNING,
                      "Verify a model's signature bundle, then every file it covers."),
    "digest": Command("pqml.cli.sign:digest", SIGNING,
                      "Print a model's root digest, the value pqml sign records."),
    "scan": Command("pqml.cli.scan:scan", INVENTORY,
                    "Find the cryptography in code, configs, keys and ML artifacts."),
    "algorithms": Command("pqml.cli.algorithms:algorithms", ALGORITHMS,
                          "List the algorithms pqml knows, with sizes and quantum status."),
    "bench": Command("pqml.cli.bench:bench", ALGORITHMS,
                     "Benchmark post-quantum and classical algorithms on this machine."),
}


def _module(name: str) -> str:
    return COMMANDS[name].target.partition(":")[0]


class PqmlGroup(Group):
    """Lazy subcommands listed from COMMANDS, and expected failures as one line on stderr
    with a non-zero exit."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Finding a module's file does not import it: a build without one lacks the command.
        return [name for name in COMMANDS if importlib.util.find_spec(_module(name))]

    def command_sections(self, ctx: click.Context) -> list[tuple[str, Rows]]:
        sections: dict[str, Rows] = {}
        for name in self.list_commands(ctx):
            entry = COMMANDS[name]
            sections.setdefault(entry.section, []).append((name, entry.summary))
        return list(sections.items())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name].target.partition(":")
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


@click.group(cls=PqmlGroup, context_settings=CONTEXT,
             epilog="Run 'pqml COMMAND --help' for a command's options and examples.")
@click.version_option(__version__, "-V", "--version", prog_name="pqml")
def cli() -> None:
    """Post-quantum protection for machine-learning assets.

    Make post-quantum keys; encrypt models and data to them (pqml/v1 or age); sign
    models as OpenSSF model-signing bundles and verify them before they are loaded;
    inventory the cryptography in code and artifacts as a CBOM, SARIF or a migration
    plan; list the algorithms and measure them on this machine.
    """


def main() -> None:
    cli(prog_name="pqml")


if __name__ == "__main__":
    main()
