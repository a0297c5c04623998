"""Shared pieces of the federated-learning tests: keys, Flower messages as Flower builds
them, and a real Flower deployment (SuperLink, SuperNodes, ``flwr run``) on loopback.

Not a conftest.py: a second module named conftest would shadow tests/conftest.py. Test
modules import what they use from here (``from fl_support import …``). Stable API for
both FL helpers: ``FLKeys``/``make_keys``, ``instruction``, ``reply``, ``copy_reply``,
``free_port``, ``wait_for_port``, ``wait_for_file``, ``run_bounded``, ``FlowerDeployment``,
``EXAMPLE_APP``, ``VENV_BIN``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_APP = REPO / "examples" / "fl_app"
VENV_BIN = Path(sys.executable).parent


# ---- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FLKeys:
    """Key files of one test federation: the server's KEM pair, node ML-DSA keys, and the
    registry directory holding the public keys of the first ``registered`` nodes."""

    directory: Path
    server_key: Path
    server_pub: Path
    node_keys: tuple[Path, ...]
    registry: Path


def make_keys(directory: Path, nodes: int = 2, *, registered: int | None = None,
              kem: str = "X-Wing", sig: str = "ML-DSA-65") -> FLKeys:
    from pqml.keys import key_files

    registry = directory / "nodes"
    registry.mkdir(parents=True, exist_ok=True)
    server = key_files.generate(kem)
    key_files.save_private(server, directory / "server.pem")
    key_files.save_public(server, directory / "server.pub")
    node_paths = []
    for i in range(nodes):
        key = key_files.generate(sig)
        node_paths.append(key_files.save_private(key, directory / f"node-{i}.pem"))
        if registered is None or i < registered:
            key_files.save_public(key, registry / f"node-{i}.pub")
    return FLKeys(directory, directory / "server.pem", directory / "server.pub",
                  tuple(node_paths), registry)


# ---- Flower messages, built the way the SuperLink and ClientApp build them ------------------


def instruction(content: Any, *, node_id: int = 7, run_id: int = 42,
                message_type: str = "train", group_id: str = "1") -> Any:
    """An instruction as a ClientApp receives it (message id set, as the SuperLink does)."""
    from flwr.app import Message, Metadata

    metadata = Metadata(run_id=run_id, message_id=secrets.token_hex(32), src_node_id=1,
                        dst_node_id=node_id, reply_to_message_id="", group_id=group_id,
                        created_at=time.time(), ttl=3600.0, message_type=message_type)
    return Message(metadata=metadata, content=content)


def reply(to: Any, content: Any) -> Any:
    """A ClientApp's reply to ``to``."""
    from flwr.app import Message

    return Message(content, reply_to=to)


def copy_reply(message: Any) -> Any:
    """The same reply again (same metadata, a copy of the content): what a replay or a
    duplicated delivery hands the server."""
    from flwr.app import Message

    from pqml.fl import protect_records as records

    content = records.decode_content(records.encode_content(message.content))
    return Message(metadata=message.metadata, content=content)


# ---- processes on loopback -----------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's choice for port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, deadline: float,
                  alive: Callable[[], bool] = lambda: True) -> bool:
    """True once something accepts TCP connections on 127.0.0.1:port, False at the
    deadline or when ``alive()`` turns false (the process that should listen died)."""
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)  # poll interval: not listening yet
    return False


def wait_for_file(path: Path, deadline: float,
                  alive: Callable[[], bool] = lambda: True) -> bool:
    while time.monotonic() < deadline and alive():
        if path.exists() and path.stat().st_size > 0:
            return True
        time.sleep(0.1)  # poll interval: the ServerApp writes the file when done
    return path.exists() and path.stat().st_size > 0


def run_bounded(argv: Sequence[str], timeout: float, *, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` in its own process group; at ``timeout`` kill the whole group (Ray and
    Flower start helpers of their own) and raise :class:`subprocess.TimeoutExpired`."""
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=cwd, env=env, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        raise subprocess.TimeoutExpired(list(argv), timeout, output=out) from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers left behind by a clean exit
    return subprocess.CompletedProcess(list(argv), process.returncode, out, b"")


@dataclass
class FlowerDeployment:
    """A real Flower deployment on loopback: ``flower-superlink --insecure`` and one
    ``flower-supernode`` per entry of ``node_configs`` (its ``--node-config`` text), on
    free ports. ``run(app, run_config)`` submits the app with ``flwr run``. Use as a
    context manager: every process this starts is stopped (SIGTERM, then SIGKILL) after."""

    workdir: Path
    node_configs: Sequence[str]
    startup_timeout: float = 30.0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
        env["FLWR_HOME"] = str(self.workdir / "flwr-home")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(EXAMPLE_APP), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        env["FLWR_TELEMETRY_ENABLED"] = "0"
        return env

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                       env=self._env(), cwd=self.workdir,
                                       start_new_session=True)
        self.processes.append(process)
        return process

    def __enter__(self) -> FlowerDeployment:
        self.workdir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.startup_timeout
        # Flower 1.42 serves the Fleet, Control and Runtime APIs over one HTTP port.
        self.port = free_port()
        link = self._start("superlink", [
            str(VENV_BIN / "flower-superlink"), "--insecure",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--disable-runtime-dependency-installation"])
        if not wait_for_port(self.port, deadline, lambda: link.poll() is None):
            self.__exit__()
            raise RuntimeError(f"flower-superlink did not listen on {self.port}:\n"
                               f"{self.log('superlink')}")
        for i, config in enumerate(self.node_configs):
            port = free_port()
            node = self._start(f"supernode-{i}", [
                str(VENV_BIN / "flower-supernode"), "--insecure",
                "--superlink", f"127.0.0.1:{self.port}",
                "--host", "127.0.0.1", "--port", str(port),
                "--node-config", config])
            if not wait_for_port(port, deadline, lambda n=node: n.poll() is None):
                self.__exit__()
                raise RuntimeError(f"flower-supernode {i} did not start:\n"
                                   f"{self.log(f'supernode-{i}')}")
        home = self.workdir / "flwr-home"
        home.mkdir(exist_ok=True)
        (home / "config.toml").write_text(
            '[superlink]\ndefault = "loopback"\n\n[superlink.loopback]\n'
            f'address = "127.0.0.1:{self.port}"\ninsecure = true\n')
        return self

    def run(self, app: Path, run_config: dict[str, Any], *,
            timeout: float = 30.0) -> subprocess.CompletedProcess[bytes]:
        """``flwr run APP loopback --run-config …`` (submits and returns)."""
        text = " ".join(f"{k}={_toml(v)}" for k, v in run_config.items())
        return subprocess.run(
            [str(VENV_BIN / "flwr"), "run", str(app), "loopback", "--run-config", text],
            env=self._env(), cwd=self.workdir, capture_output=True, timeout=timeout,
            check=False)

    def log(self, name: str) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace")[-4000:] if path and path.exists() else ""

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.processes.clear()


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
