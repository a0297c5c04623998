"""The scan's parallel path and the speed-ups that must not change a finding: this process
scanning next to its workers (batches claimed from a shared counter), findings pickled as
constructor arguments, the garbage collector paused per batch, hit spans indexed by line,
whitespace normalised by split."""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import re
import sys
import textwrap
from pathlib import Path

import pytest

from pqml.scan import ScanOptions, runner, scan
from pqml.scan.code.python_ast import scan_python
from pqml.scan.model import Deadline, Finding, Risk, normalized_evidence

_SNIPPETS = (
    "import hashlib\n\ndef digest(b):\n    return hashlib.sha1(b).hexdigest()\n",
    "from cryptography.hazmat.primitives.asymmetric import rsa\n\n"
    "KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n",
    "import hmac, hashlib\n\nTAG = hmac.new(b'k', b'm',\n               digestmod=hashlib.md5)\n",
    "import jwt\n\nSETTINGS = {'algorithm': 'RS256'}\n",
    "print 'python 2'\nimport hashlib\nx = hashlib.md5('a')\n",   # a warning, a fallback
    "def plain():\n    return 42\n",
)


def _tree(root: Path, n: int = 130) -> Path:
    for i in range(n):
        sub = root / f"pkg{i % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"m{i}.py").write_text(f"# module {i}\n" + _SNIPPETS[i % len(_SNIPPETS)])
    return root


def _doc(result: runner.ScanResult) -> tuple:
    return ([f.as_dict() for f in result.findings], [w.as_dict() for w in result.warnings],
            result.files_scanned, result.python_files, result.python_lines)


def test_jobs_change_nothing_but_who_scans(tmp_path: Path) -> None:
    root = str(_tree(tmp_path / "t"))
    seen: list[tuple[int, int]] = []
    one = scan([root], ScanOptions(jobs=1, gitignore=False))
    two = scan([root], ScanOptions(jobs=2, gitignore=False), lambda d, t: seen.append((d, t)))
    three = scan([root], ScanOptions(jobs=3, gitignore=False))
    assert one.findings and one.warnings
    assert _doc(one) == _doc(two) == _doc(three)
    assert two.jobs == 2 and three.jobs == 3
    assert seen[0] == (0, 130) and seen[-1] == (130, 130)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# Stand-ins for the batch function, module-level so that a worker finds them (workers are
# forked after the monkeypatch, so they see the patched module). The parent waits in its
# first batch until a worker has begun one: both sides then hold a batch, whatever the
# timing of the worker's start.
_REAL_SCAN_BATCH = runner._scan_batch
_PARENT = os.getpid()
_BEGUN = multiprocessing.Event()
_FAIL_IN = ""


def _both_sides(batch, risk_cfg):
    if os.getpid() == _PARENT:
        assert _BEGUN.wait(60), "no worker began a batch"
    else:
        _BEGUN.set()
    side = "parent" if os.getpid() == _PARENT else "worker"
    if side == _FAIL_IN:
        raise OSError(f"store failed in the {side}")
    if _FAIL_IN == "worker dies" and side == "worker":
        os._exit(3)
    out = _REAL_SCAN_BATCH(batch, risk_cfg)
    for _, r in out:
        r.warnings.append(f"pid {os.getpid()}")
        if _FAIL_IN == "unpicklable" and side == "worker":
            r.bundle = lambda: None
    return out


@pytest.fixture
def both_sides(monkeypatch: pytest.MonkeyPatch):
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the patched batch function reaches workers only by fork")
    _BEGUN.clear()
    monkeypatch.setattr(runner, "_scan_batch", _both_sides)
    yield lambda fail_in: monkeypatch.setattr(sys.modules[__name__], "_FAIL_IN", fail_in)
    assert not multiprocessing.active_children()


def test_this_process_scans_batches_next_to_its_worker(tmp_path: Path, both_sides) -> None:
    root = _tree(tmp_path / "t")
    entries = runner.collect([str(root)], runner.IgnoreRules([]), True, False)
    batches = [[(e.root_index, e.path, e.rel, e.size) for e in b]
               for b in runner._batches(entries)]
    assert len(batches) > 2
    rels, pids = [], set()
    for part in runner._parallel(batches, runner.RiskConfig(), 1):
        for _, r in part:
            rels.append(r.rel)
            pids.add(r.warnings[-1])
    assert sorted(rels) == sorted(e.rel for e in entries)   # each file exactly once
    assert f"pid {os.getpid()}" in pids and len(pids) == 2  # both processes scanned


@pytest.mark.parametrize("side", ["parent", "worker"])
def test_a_batch_failing_on_either_side_stops_the_scan(
        tmp_path: Path, both_sides, side: str) -> None:
    both_sides(side)
    with pytest.raises(OSError, match=f"store failed in the {side}"):
        scan([str(_tree(tmp_path / "t"))], ScanOptions(jobs=2, gitignore=False))


def test_a_worker_that_dies_fails_the_scan(tmp_path: Path, both_sides) -> None:
    from pqml.scan.errors import ScanError

    both_sides("worker dies")
    with pytest.raises(ScanError, match=r"a scan worker process died \(exit code 3\)"):
        scan([str(_tree(tmp_path / "t"))], ScanOptions(jobs=2, gitignore=False))


def test_a_result_a_worker_cannot_send_is_an_error_not_a_lost_batch(
        tmp_path: Path, both_sides) -> None:
    both_sides("unpicklable")
    with pytest.raises((pickle.PicklingError, AttributeError), match="pickle"):
        scan([str(_tree(tmp_path / "t"))], ScanOptions(jobs=2, gitignore=False))


def test_batches_are_claimed_once_each() -> None:
    counter = multiprocessing.Value("i", 0)
    assert [runner._claim(counter, 3) for _ in range(5)] == [0, 1, 2, None, None]


def test_findings_pickle_to_equal_findings() -> None:
    risk = Risk(level="high", score=70, category="quantum-vulnerable", reasons=["Shor"],
                deadlines=[Deadline("NIST IR 8547", "disallowed", 2035, "all")],
                deadline_year=2035, replacement="ML-DSA-65")
    f = Finding(path="a.py", line=3, kind="code", algorithm="RSA", primitive="signature",
                usage="sign", evidence="key.sign(m)", parameter="2048",
                quantum_vulnerable=True, details={"hash": "SHA-256"}, root="/r", risk=risk,
                fingerprint="ab" * 16, baselined=True)
    bare = Finding(path="b.py", line=1, kind="pem", algorithm="unknown", primitive="unknown",
                   usage="storage", evidence="")
    back, bare_back = pickle.loads(pickle.dumps([f, bare], protocol=pickle.HIGHEST_PROTOCOL))
    assert back == f and back.as_dict() == f.as_dict() and back.baselined
    assert back.risk == risk and back.risk.deadlines[0] == risk.deadlines[0]
    assert bare_back == bare and bare_back.risk is None and bare_back.details == {}


def test_normalised_evidence_collapses_what_a_whitespace_pattern_collapses() -> None:
    ws = re.compile(r"\s+")
    for text in ("\tkey.sign(m,\xa0 pad)  ", "a\u2028b\x1cc\x85d", "", "   ", "x"):
        assert normalized_evidence(text) == ws.sub(" ", text).strip()
    assert normalized_evidence("  h = hashlib.md5( x )\n") == "h = hashlib.md5( x )"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_the_caller_had_it(tmp_path: Path, enabled: bool) -> None:
    root = str(_tree(tmp_path / "t", 10))
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert scan([root], ScanOptions(jobs=1, gitignore=False)).findings
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_values_inside_a_multiline_hit_argument_are_its_parameters() -> None:
    source = textwrap.dedent("""
        import hashlib, hmac
        tag = hmac.new(
            b"key", b"msg",
            digestmod=(
                hashlib.sha1),
        )
        other = hashlib.sha256
    """).lstrip("\n")
    findings, warning = scan_python(source, "m.py")
    assert warning is None
    assert {(f.line, f.algorithm, f.usage) for f in findings} == {
        (2, "HMAC-SHA-1", "mac"), (7, "SHA-256", "digest")}
