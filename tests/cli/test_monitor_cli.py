"""``pqml monitor``: alerts from the persistent log once or following it, as text or JSON
lines, to a real local webhook, with --fail-on exit codes and one-line errors."""

from __future__ import annotations

import http.server
import json
import os
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from pqml.log.entry import Actor, Asset, LogEntry
from pqml.log.store import LogStore, default_directory

from conftest import cli_run

T0 = 1_780_000_000.0
DEADLINE = 60.0  # seconds any wait below may take before the test fails


def _entry(op: str, t: float, keys: tuple[str, ...] = ("k1",), outcome: str = "ok",
           **details: object) -> LogEntry:
    return LogEntry(op, outcome, T0 + t, Actor("alice", "ws-1", 7), keys,
                    (Asset("models/m.pqml"),), details)  # type: ignore[arg-type]


def _revoked_use(t0: float = 0) -> list[LogEntry]:
    """A key made, revoked, then used to decrypt: one high alert."""
    return [_entry("key.new", t0, algorithm="X-Wing", purpose="encrypt", label=None),
            _entry("key.state", t0 + 10, **{"from": "active", "to": "revoked",
                                            "reason": "left", "compromised_at": None}),
            _entry("decrypt", t0 + 20, bytes=10, format="pqml/v1")]


def _mixed_recipients(t: float) -> LogEntry:
    """One medium alert: a classical recipient beside a post-quantum one."""
    return _entry("encrypt", t, keys=("k2", "k3"), recipient_algorithms="X-Wing,X25519",
                  classical_only=False, bytes=10, format="pqml/v1")


def _log(entries: list[LogEntry]) -> Path:
    directory = default_directory()
    with LogStore(directory) as store:
        store.append_many(entries)
    return directory


# -- once --------------------------------------------------------------------------------------

def test_once_prints_one_line_per_alert_and_exits_0() -> None:
    _log([_mixed_recipients(0), *_revoked_use(100)])
    res = cli_run("monitor")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 2
    assert " MEDIUM classical-recipients: " in lines[0] and lines[0].endswith("[entries 0]")
    assert " HIGH key-state-use: user alice on host ws-1 decrypted models/m.pqml with key " \
           "k1, but the key has been revoked since" in lines[1]
    assert lines[1].endswith("[entries 2-3]")


def test_json_lines_and_fail_on() -> None:
    _log([_mixed_recipients(0), *_revoked_use(100)])
    res = cli_run("monitor", "--json", "--fail-on", "high")
    assert res.exit_code == 1
    alerts = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(a["rule"], a["severity"], a["entries"]) for a in alerts] == [
        ("classical-recipients", "medium", [0]), ("key-state-use", "high", [2, 3])]
    assert alerts[1]["time"] == T0 + 120 and alerts[1]["facts"]["state"] == "revoked"
    assert alerts[1]["time_utc"].endswith("Z")
    assert cli_run("monitor", "--fail-on", "critical").exit_code == 0
    assert cli_run("monitor", "--fail-on", "medium").exit_code == 1


def test_since_keeps_history_but_reports_later_alerts() -> None:
    _log([_mixed_recipients(0), *_revoked_use(100)])
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 50))
    res = cli_run("monitor", "--json", "--since", iso)
    assert [json.loads(x)["rule"] for x in res.stdout.splitlines()] == ["key-state-use"]
    res = cli_run("monitor", "--json", "--since", str(T0 + 1000))
    assert res.exit_code == 0 and res.stdout == ""


def test_an_empty_or_missing_log_has_no_alerts(tmp_path: Path) -> None:
    res = cli_run("monitor", "--log", tmp_path / "nothing-yet")
    assert (res.exit_code, res.stdout) == (0, "")
    assert not (tmp_path / "nothing-yet").exists()  # reading never creates the log


def test_entries_file_and_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "entries.jsonl"
    path.write_bytes(b"".join(e.to_bytes() + b"\n" for e in _revoked_use()))
    res = cli_run("monitor", "--entries", path, "--json")
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 1
    path.write_bytes(b"".join(e.to_bytes() + b"\n" for e in _revoked_use()) + b"{oops}\n")
    res = cli_run("monitor", "--entries", path)
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        f"pqml: error: {path}: line 4: malformed log entry: Expecting property name enclosed "
        "in double quotes: line 1 column 2 (char 1)"]


def test_a_tampered_store_entry_is_refused() -> None:
    directory = _log(_revoked_use())
    data = (directory / "entries.jsonl").read_bytes()
    (directory / "entries.jsonl").write_bytes(data.replace(b"revoked", b"retired"))
    res = cli_run("monitor")
    assert res.exit_code == 1
    assert res.stderr.startswith("pqml: error: ") and "entry 1 does not match" in res.stderr
    assert len(res.stderr.splitlines()) == 1


def test_learned_detector_from_the_command_line(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    import random

    rng = random.Random(0)
    entries = []
    for day in range(20):
        for hour in (9, 10, 14, 15):
            for host in ("ws-1", "ws-2", "ws-3"):
                for _ in range(rng.randint(1, 3)):
                    t = day * 86400 + hour * 3600 + rng.uniform(0, 3000)
                    entries.append(LogEntry(
                        "decrypt", "ok", T0 + t, Actor("u", host, 1), (f"k-{host}",),
                        (Asset(f"{host}/a{rng.randrange(5)}"),), {"bytes": 1000}))
    loot = [LogEntry("decrypt", "ok", T0 + 15 * 86400 + 3 * 3600 + i, Actor("u", "ws-2", 1),
                     ("k-ws-2",), (Asset(f"loot{i}"),), {"bytes": 1000}) for i in range(150)]
    path = tmp_path / "entries.jsonl"
    path.write_bytes(b"".join(e.to_bytes() + b"\n"
                              for e in sorted(entries + loot, key=lambda e: e.time)))
    res = cli_run("monitor", "--entries", path, "--learned", "--json")
    assert res.exit_code == 0, res.stderr
    alerts = [json.loads(line) for line in res.stdout.splitlines()]
    learned = [a for a in alerts if a["rule"] == "learned-anomaly"]
    assert {a["subject"] for a in learned} >= {"host ws-2", "key k-ws-2"}
    assert all("usual for it" in a["explanation"] for a in learned)
    # The rules saw the same burst (150 in an hour is under bulk-decrypt's 200).
    assert {a["rule"] for a in alerts} <= {"learned-anomaly", "unusual-decrypt"}


# -- mistakes ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--webhook", "ftp://example.org/x"],
     "invalid value for --webhook: 'ftp://example.org/x' is not an http:// or https:// URL"),
    (["--since", "last tuesday"], "invalid value for --since: 'last tuesday' is not a date"),
    (["--fail-on", "urgent"], "invalid value for --fail-on"),
    (["--learned", "--follow"], "--learned scores a whole log; run it without --follow"),
    (["--log", "a", "--entries", "b"], "--log and --entries cannot be used together"),
])
def test_bad_flags_are_usage_errors(args: list[str], message: str) -> None:
    res = cli_run("monitor", *args)
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0].startswith(f"pqml: error: {message}")


def test_bad_config_is_one_line_naming_the_rule_and_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pqml.log.errors import MonitorConfigError

    _log(_revoked_use())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pqml.toml").write_text("[monitor.bulk-decrypt]\nwindow = \"soon\"\n")
    res = cli_run("monitor")
    assert res.exit_code == MonitorConfigError.exit_code != 0
    assert res.stderr.splitlines() == [
        "pqml: error: pqml.toml: monitor.bulk-decrypt.window must be a duration such as 600, "
        "\"10m\", \"1h\" or \"14d\", not 'soon'"]
    other = tmp_path / "other.toml"
    other.write_text("[monitor.verify-failures]\nmax_failure = 2\n")
    res = cli_run("monitor", "--config", other)
    assert res.exit_code == MonitorConfigError.exit_code
    assert "unknown setting monitor.verify-failures.max_failure" in res.stderr
    assert res.stdout == ""


def test_config_supplies_fail_on_and_limits(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _log([_entry("decrypt", i, bytes=1, format="pqml/v1") for i in range(4)])
    monkeypatch.chdir(tmp_path)
    assert cli_run("monitor").stdout == ""
    (tmp_path / "pqml.toml").write_text(
        "[monitor]\nfail_on = \"low\"\n[monitor.bulk-decrypt]\nmax_count = 3\nby = \"user\"\n"
        "severity = \"low\"\n")
    res = cli_run("monitor")
    assert res.exit_code == 1
    assert "LOW bulk-decrypt: user alice decrypted 4 files" in res.stdout


# -- webhook -----------------------------------------------------------------------------------

class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(type(self).status)
        if type(self).status in (301, 302, 303, 307, 308):
            self.send_header("Location", "/elsewhere")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 204})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pqml", handler
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_receives_each_alert(hook: tuple[str, type[_Hook]]) -> None:
    url, handler = hook
    _log([_mixed_recipients(0), *_revoked_use(100)])
    res = cli_run("monitor", "--webhook", url, "--json")
    assert res.exit_code == 0, res.stderr
    assert [(p, ctype) for p, ctype, _ in handler.received] == [
        ("/pqml", "application/json")] * 2
    posted = [json.loads(body) for _, _, body in handler.received]
    assert posted == [json.loads(line) for line in res.stdout.splitlines()]


def test_webhook_failure_is_an_error_after_the_alert_is_printed(
        hook: tuple[str, type[_Hook]]) -> None:
    url, handler = hook
    handler.status = 500
    _log(_revoked_use())
    res = cli_run("monitor", "--webhook", url)
    assert res.exit_code == 1
    assert "HIGH key-state-use" in res.stdout  # printed before the delivery failed
    assert res.stderr.splitlines() == [
        f"pqml: error: webhook {url}: HTTP 500 Internal Server Error"]


def test_webhook_redirect_is_not_followed(hook: tuple[str, type[_Hook]]) -> None:
    """urllib would turn a redirected POST into a GET without the alert, and report 200."""
    url, handler = hook
    handler.status = 302
    _log(_revoked_use())
    res = cli_run("monitor", "--webhook", url)
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [f"pqml: error: webhook {url}: HTTP 302 Found"]
    assert [p for p, _, _ in handler.received] == ["/pqml"]  # nothing sent to /elsewhere


def test_webhook_nobody_listens() -> None:
    with socket.socket() as s:  # a port that was free a moment ago, now closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _log(_revoked_use())
    res = cli_run("monitor", "--webhook", f"http://127.0.0.1:{port}/x")
    assert res.exit_code == 1
    assert res.stderr.startswith(f"pqml: error: webhook http://127.0.0.1:{port}/x: ")
    assert "refused" in res.stderr.lower() and len(res.stderr.splitlines()) == 1


# -- follow ------------------------------------------------------------------------------------

APPENDER = textwrap.dedent("""
    import sys
    from pqml.log.entry import Actor, Asset, LogEntry
    from pqml.log.store import LogStore

    T0 = float(sys.argv[2])
    def e(op, t, keys=("k1",), **details):
        return LogEntry(op, "ok", T0 + t, Actor("alice", "ws-1", 7), keys,
                        (Asset("models/m.pqml"),), details)
    store = LogStore(sys.argv[1])
    store.append(e("encrypt", 0, keys=("k2", "k3"), recipient_algorithms="X-Wing,X25519",
                   classical_only=False, bytes=10, format="pqml/v1"))
    print("appended", flush=True)
    sys.stdin.readline()  # the test saw the first alert: the monitor is following
    store.append(e("key.new", 100, algorithm="X-Wing", purpose="encrypt", label=None))
    store.append(e("key.state", 110, **{"from": "active", "to": "revoked", "reason": "left",
                                        "compromised_at": None}))
    store.append(e("decrypt", 120, bytes=10, format="pqml/v1"))
    print("appended", flush=True)
""")


def _readline(proc: subprocess.Popen[bytes], deadline: float) -> bytes:
    """One line of ``proc``'s stdout, failing the test past ``deadline``."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0, f"no line from {proc.args!r} in time (got {line!r})"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            assert chunk, f"{proc.args!r} ended (code {proc.poll()}) before a line"
            line += chunk
    return line


def test_follow_sees_entries_another_process_appends(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    deadline = time.monotonic() + DEADLINE
    monitor = subprocess.Popen(
        [sys.executable, "-m", "pqml.cli.main", "monitor", "--follow", "--json",
         "--fail-on", "high", "--log", str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    appender = subprocess.Popen([sys.executable, "-c", APPENDER, str(directory), str(T0)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert _readline(appender, deadline) == b"appended\n"
        first = json.loads(_readline(monitor, deadline))
        assert (first["rule"], first["severity"]) == ("classical-recipients", "medium")
        assert monitor.poll() is None  # medium is under --fail-on high: still following
        assert appender.stdin is not None
        appender.stdin.write(b"go\n")
        appender.stdin.flush()
        second = json.loads(_readline(monitor, deadline))
        assert (second["rule"], second["entries"]) == ("key-state-use", [2, 3])
        # The first alert at --fail-on ends a follow with exit 1.
        assert monitor.wait(timeout=max(1.0, deadline - time.monotonic())) == 1
        assert _readline(appender, deadline) == b"appended\n"
        assert appender.wait(timeout=max(1.0, deadline - time.monotonic())) == 0
    finally:
        for proc in (monitor, appender):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert monitor.stderr is not None and monitor.stderr.read() == b""


def test_follow_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal

    _log(_revoked_use())
    deadline = time.monotonic() + DEADLINE
    monitor = subprocess.Popen([sys.executable, "-m", "pqml.cli.main", "monitor", "-f"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert b"HIGH key-state-use" in _readline(monitor, deadline)  # it is following now
        monitor.send_signal(signal.SIGTERM)
        assert monitor.wait(timeout=max(1.0, deadline - time.monotonic())) == 143
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.wait()
    assert monitor.stderr is not None
    assert monitor.stderr.read() == b"pqml: error: terminated\n"
