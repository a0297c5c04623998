"""Several real processes on one keyring, and a process killed mid-write.

Eight processes each make 200 changes (counting uses of one shared key, disabling and
re-enabling their own key, creating keys); afterwards every counter is exact (no lost
update), every change is in the history, and SQLite's integrity check passes. A process
SIGKILLed while it writes leaves a keyring whose counters and asset links agree and that
the next process writes to normally.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pqml.keys.keyring import Keyring
from pqml.keys.states import KeyState

WORKERS = 8
OPERATIONS = 200

WORKER = """
import sys
from pathlib import Path
from pqml.keys.keyring import Keyring
from pqml.keys.states import KeyState

home, worker, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
kr = Keyring(home, timeout=120)
print("ready", flush=True)
sys.stdin.readline()  # start together
own = f"w{worker}"
for i in range(count):
    kind = i % 10
    if kind < 7:
        kr.record_use("shared", operation="encrypt", asset=f"w{worker}-{i}.safetensors",
                      nbytes=i)
    elif kind < 9:
        if kr.get(own).state is KeyState.ACTIVE:
            kr.disable(own, reason=f"{i}")
        else:
            kr.enable(own, reason=f"{i}")
    else:
        kr.new(label=f"w{worker}-n{i}")
print("done", flush=True)
"""


def start_workers(home: Path, code: str, n: int, count: int, first: int = 0
                  ) -> list[subprocess.Popen[str]]:
    procs = [subprocess.Popen([sys.executable, "-c", code, str(home), str(w), str(count)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for w in range(first, first + n)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    return procs


def test_eight_processes_lose_no_update(tmp_path: Path) -> None:
    home = tmp_path / "home"
    kr = Keyring(home)
    kr.new(label="shared")
    for w in range(WORKERS):
        kr.new(label=f"w{w}")
    procs = start_workers(home, WORKER, WORKERS, OPERATIONS)
    for p in procs:  # go
        assert p.stdin is not None
        p.stdin.write("\n")
        p.stdin.flush()
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0 and out == "done\n"
    uses = [i for i in range(OPERATIONS) if i % 10 < 7]
    shared = kr.get("shared")
    assert shared.operations == WORKERS * len(uses)
    assert shared.bytes == WORKERS * sum(uses)
    assert len(kr.assets("shared")) == WORKERS * len(uses)
    toggles = [i for i in range(OPERATIONS) if 7 <= i % 10 < 9]
    for w in range(WORKERS):
        history = kr.history(f"w{w}")
        assert len(history) == 1 + len(toggles)  # key.new + every toggle, none lost
        assert [h.reason for h in history[1:]] == [str(i) for i in toggles]
        expected = KeyState.ACTIVE if len(toggles) % 2 == 0 else KeyState.DISABLED
        assert kr.get(f"w{w}").state is expected
    news = [i for i in range(OPERATIONS) if i % 10 == 9]
    assert len(kr.list()) == 1 + WORKERS + WORKERS * len(news)
    assert all(not kr.verify_files(r.id) for r in kr.list())
    assert kr.integrity_check() == "ok"


KILLED = """
import sys
from pathlib import Path
from pqml.keys.keyring import Keyring

home, run = Path(sys.argv[1]), sys.argv[2]
kr = Keyring(home, timeout=60)
print("ready", flush=True)
i = 0
while True:
    kr.record_use("k", operation="sign", asset=f"model-{run}-{i}", nbytes=3)
    if i % 5 == 0:
        kr.new(label=f"r{run}-n{i}")
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("after", [3, 17, 40])
def test_sigkill_mid_write_leaves_a_usable_keyring(tmp_path: Path, after: int) -> None:
    home = tmp_path / "home"
    kr = Keyring(home)
    kr.new("ML-DSA-44", label="k")
    for run in range(2):  # killed twice, at a point the writer reached on its own
        (proc,) = start_workers(home, KILLED, 1, 0, first=run)
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        lines = 0
        while lines < after and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "the writer died before it was killed"
            lines += 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
    fresh = Keyring(home)
    assert fresh.integrity_check() == "ok"
    rec = fresh.get("k")
    # counter and links move in one transaction: a kill never splits them
    assert rec.operations == len(fresh.assets("k")) >= 2 * after
    assert rec.bytes == 3 * rec.operations
    for r in fresh.list():  # a key row always has its files
        assert not fresh.verify_files(r.id), r
    fresh.record_use("k", operation="sign", asset="after", nbytes=3)
    fresh.new(label="after-kill")
    assert fresh.get("k").operations == rec.operations + 1
    con = sqlite3.connect(fresh.index)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
