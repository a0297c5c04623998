"""The ``pqml`` command. Subcommands import their capability lazily to keep start-up fast.

Every command ends through :meth:`PqmlGroup.main`, so all of them share one exit-code
scheme (the ``EXIT_*`` constants below; README's table and the ``pqml --help`` epilog
say it to users) and one error style: a single line ``pqml: error: …`` on stderr,
sometimes followed by a ``pqml: hint: …`` line (as age does), never click's three-line
usage block and never a traceback.
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import re
import sys
from typing import Any, NamedTuple, NoReturn

import click

from pqml import __version__
from pqml.cli.help import Group, Rows

EXIT_OK = 0
EXIT_FAILED = 1        # the operation failed: unreadable or bad input file or key, wrong
                       # key, tampered file, failed verification; scan: findings matched
EXIT_USAGE = 2         # the command line is wrong: unknown option, bad option value or
                       # argument, unknown algorithm or profile, malformed settings file
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE, as `yes | head`)


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class Command(NamedTuple):
    """A subcommand as ``pqml --help`` lists it, without importing its module."""

    target: str   # "module:attribute", imported only when the command runs
    section: str  # the heading it is listed under
    summary: str  # its first help line, word for word (tests/cli/test_help.py checks)
    # Exit code of its failures. scan keeps 1 for "findings matched --fail-on", so that
    # CI can tell a failing job from a broken one; its failures exit 2.
    failed: int = EXIT_FAILED


KEYS = "Keys (post-quantum and classical; PEM and age encodings)"
ENCRYPTION = "Encryption (pqml/v1 and age: files, directory trees, standard input)"
SIGNING = "Signing (OpenSSF model-signing bundles; verify before load)"
INVENTORY = "Inventory (CBOM, SARIF, migration plan)"
AUDIT = "Audit (transparency log, monitoring, compliance)"
INFERENCE = "Encrypted inference (Oblivious HTTP with post-quantum HPKE)"
ALGORITHMS = "Algorithms and benchmarks"

# Subcommands in the order and sections of `pqml --help`.
COMMANDS: dict[str, Command] = {
    "keygen": Command("pqml.cli.keys:keygen", KEYS,
                      "Generate a key pair and print its public key."),
    "pubkey": Command("pqml.cli.keys:pubkey", KEYS,
                      "Print the public key of a private or public key file."),
    "convert": Command("pqml.cli.keys:convert", KEYS,
                       "Convert a key file between PEM and age encodings."),
    "keys": Command("pqml.cli.keyring:keys", KEYS,
                    "Manage keys in the keyring: states, rotation, revocation, usage."),
    "migrate": Command("pqml.cli.migrate:migrate", KEYS,
                       "Move classical-only files and signatures to post-quantum keys."),
    "ca": Command("pqml.cli.ca:ca", KEYS,
                  "Run a post-quantum certificate authority for model signing."),
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
    "update": Command("pqml.cli.update:update", SIGNING,
                      "Verify a model update and swap it in atomically, with rollback."),
    "scan": Command("pqml.cli.scan:scan", INVENTORY,
                    "Find the cryptography in code, configs, keys and ML artifacts.",
                    failed=EXIT_USAGE),
    "log": Command("pqml.cli.log:log", AUDIT,
                   "Show, verify and prove entries of the transparency log."),
    "monitor": Command("pqml.cli.monitor:monitor", AUDIT,
                       "Watch the log and alert on unusual or unsafe use of keys."),
    "compliance": Command("pqml.cli.compliance:compliance", AUDIT,
                          "Report progress against post-quantum deadlines and policy."),
    "gateway": Command("pqml.cli.gateway:gateway", INFERENCE,
                       "Serve an HTTP API behind Oblivious HTTP with post-quantum HPKE."),
    "request": Command("pqml.cli.gateway:request", INFERENCE,
                       "Send one HTTP request through an Oblivious HTTP gateway."),
    "algorithms": Command("pqml.cli.algorithms:algorithms", ALGORITHMS,
                          "List the algorithms pqml knows, with sizes and quantum status."),
    "advise": Command("pqml.cli.advise:advise", ALGORITHMS,
                      "Recommend algorithms per role from measurements and constraints."),
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
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Here the context still names the subcommand, whose failure code applies.
            name = ctx.invoked_subcommand
            failed = COMMANDS[name].failed if name in COMMANDS else EXIT_FAILED
            _exit_for(exc, failed)
        except KeyboardInterrupt:  # before click's main, which would print a blank line
            _fail("interrupted", EXIT_INTERRUPTED)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:  # `pqml --help | head -1`: click itself would exit 1 on this broken pipe
            return super().make_context(info_name, args, parent, **extra)
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            _quiet_broken_pipe()

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """click's main, with every way out mapped to the ``EXIT_*`` codes: errors raised
        while parsing the group's own options land here, the rest in :meth:`invoke`."""
        if not standalone_mode:  # a caller that wants click's exceptions gets them
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            try:
                rv = super().main(args, prog_name, complete_var, False, **extra)
                code: Any = rv if isinstance(rv, int) else EXIT_OK  # --help, --version
            except SystemExit as done:
                code = done.code
            # Flush while a broken pipe can still be handled here, not at shutdown.
            sys.stdout.flush()
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        except Exception as exc:
            _exit_for(exc, EXIT_FAILED)
        sys.exit(code)


# click.Path's messages: "File 'x' does not exist.", "Directory 'd' is a file.", ...
_PATH_PROBLEM = re.compile(r"^(?:File|Directory|Path) (?P<name>'.*'|\".*\") (?P<problem>.+?)\.?$",
                           re.DOTALL)
_PATH_WORDS = {"does not exist": "no such file or directory",
               "is a file": "not a directory", "is not readable": "permission denied",
               "is not writable": "permission denied",
               "is not executable": "permission denied"}


# Newer click only (8.2, 8.4); with click 8.1 these cases take the generic path below.
_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())
_NO_SUCH_COMMAND = getattr(click.exceptions, "NoSuchCommand", ())


def _param_name(exc: click.BadParameter) -> str:
    if isinstance(exc.param_hint, str):
        return exc.param_hint
    param = exc.param
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    if param is not None:
        return param.human_readable_name
    return "a parameter"


def _usage(exc: click.UsageError) -> tuple[str, int, str | None]:
    """(message, exit code, hint) for a click error: one line instead of three."""
    ctx = exc.ctx
    here = f"run '{ctx.command_path} --help' for usage" if ctx is not None else None
    if isinstance(exc, _NO_ARGS):
        return "", EXIT_USAGE, None
    if isinstance(exc, click.MissingParameter):
        kind = "argument" if isinstance(exc.param, click.Argument) else "option"
        return f"missing {kind} {_param_name(exc)}", EXIT_USAGE, here
    if isinstance(exc, click.BadParameter):
        if isinstance(getattr(exc.param, "type", None), click.Path):
            found = _PATH_PROBLEM.match(exc.message)
            if found:  # a path on the command line: an input problem, like the OS's errors
                import ast

                name = ast.literal_eval(found["name"])
                problem = _PATH_WORDS.get(found["problem"], found["problem"])
                return f"{name}: {problem}", EXIT_FAILED, None
        return (f"invalid value for {_param_name(exc)}: {exc.message.rstrip('.')}",
                EXIT_USAGE, None)
    possible = getattr(exc, "possibilities", None)
    if isinstance(exc, click.NoSuchOption):
        hint = f"did you mean {' or '.join(possible)}?" if possible else here
        return f"unknown option {exc.option_name}", EXIT_USAGE, hint
    if isinstance(exc, _NO_SUCH_COMMAND):
        hint = (f"did you mean {' or '.join(possible)}?" if possible
                else "run 'pqml --help' for the commands")
        return f"unknown command {exc.command_name!r}", EXIT_USAGE, hint
    # What click's parser says (an extra argument, an option without its value) gets
    # the usage hint; a UsageError a command raises says all there is to say.
    parsing = (isinstance(exc, (click.BadOptionUsage, click.BadArgumentUsage))
               or exc.message.startswith("Got unexpected extra argument"))
    message = exc.message[:1].lower() + exc.message[1:]
    return message.rstrip("."), EXIT_USAGE, here if parsing else None


def _exit_for(exc: BaseException, failed: int) -> NoReturn:
    """Print ``exc`` as one line and exit with its code; re-raise what is not an error
    pqml expects (a bug should show its traceback)."""
    from pqml.primitives.errors import PqmlError

    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        _quiet_broken_pipe()
    if isinstance(exc, click.UsageError):
        message, code, hint = _usage(exc)
        if not message:  # `pqml` alone: the help, on stderr, as click shows it
            exc.show()
            sys.exit(code)
        _fail(message, failed if code == EXIT_FAILED else code, hint)
    if isinstance(exc, click.Abort):
        _fail("interrupted", EXIT_INTERRUPTED)
    if isinstance(exc, click.ClickException):
        _fail(_one_line(exc.format_message()), failed if exc.exit_code == 1 else exc.exit_code)
    if isinstance(exc, PqmlError):
        _fail(_one_line(exc), failed if exc.exit_code == EXIT_FAILED else exc.exit_code)
    if isinstance(exc, FileNotFoundError):
        _fail(f"{exc.filename}: no such file or directory", failed)
    if isinstance(exc, IsADirectoryError):
        _fail(f"{exc.filename}: is a directory", failed)
    if isinstance(exc, PermissionError):
        _fail(f"{exc.filename}: permission denied", failed)
    if isinstance(exc, OSError):
        _fail(f"{getattr(exc, 'filename', None) or 'I/O'}: {exc.strerror or exc}", failed)
    raise exc


def _quiet_broken_pipe() -> NoReturn:
    """The reader of stdout is gone: exit quietly, with the code a shell gives a process
    that SIGPIPE killed. stdout is pointed at /dev/null first, as the Python docs advise
    (signal module, "Note on SIGPIPE"), so the interpreter's last flush cannot print
    "Exception ignored ... BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass
    sys.exit(EXIT_BROKEN_PIPE)


def _fail(message: str, code: int, hint: str | None = None) -> NoReturn:
    try:
        click.echo(f"pqml: error: {message}", err=True)
        if hint:
            click.echo(f"pqml: hint: {hint}", err=True)
    except OSError:  # stderr is gone too: the exit code still says it
        pass
    sys.exit(code)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=PqmlGroup, context_settings=CONTEXT,
             epilog="Run 'pqml COMMAND --help' for a command's options and examples.\n\n"
                    "Exit codes: 0 ok, 1 the operation failed (scan: findings matched "
                    "--fail-on), 2 usage error (scan: any failure), 130 interrupted, "
                    "129/143 terminated by SIGHUP/SIGTERM, 141 output closed early "
                    "(e.g. piped into head).")
@click.version_option(__version__, "-V", "--version", prog_name="pqml")
def cli() -> None:
    """Post-quantum protection for machine-learning assets.

    Make post-quantum keys; encrypt models and data to them (pqml/v1 or age); sign
    models as OpenSSF model-signing bundles and verify them before they are loaded;
    inventory the cryptography in code and artifacts as a CBOM, SARIF or a migration
    plan; list the algorithms and measure them on this machine.
    """


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived. Raised from the handler so the stack unwinds like on
    Ctrl-C: the output cleanups run (a named fallback temporary is deleted, not left for
    the next run). A BaseException, so no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_terminate(signum: int, frame: object) -> None:
    raise _Terminated(signum)


def _warnings_to_stderr() -> None:
    """Warnings the library reports on the ``pqml`` logger (an operation done but not
    logged, say) print as ``pqml: warning: …`` lines, like the CLI's own."""
    import logging

    logger = logging.getLogger("pqml")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("pqml: warning: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def main() -> None:
    """The ``pqml`` program: the CLI with SIGTERM and SIGHUP turned into a clean exit
    (``pqml: error: terminated``, code 128 + the signal). Only signals still at their
    default are taken over: one ignored under ``nohup`` stays ignored."""
    import signal

    _warnings_to_stderr()
    taken = [s for s in (signal.SIGTERM, signal.SIGHUP)
             if signal.getsignal(s) == signal.SIG_DFL]
    for signum in taken:
        signal.signal(signum, _on_terminate)
    try:
        cli(prog_name="pqml")
    except _Terminated as stop:
        for signum in taken:  # a second signal while reporting ends pqml the default way
            signal.signal(signum, signal.SIG_DFL)
        _fail("terminated", 128 + stop.signum)
    finally:
        for signum in taken:
            signal.signal(signum, signal.SIG_DFL)


if __name__ == "__main__":
    main()
