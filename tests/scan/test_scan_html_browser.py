"""The HTML report in a real browser (headless Chromium): the findings table sorts on a
header click and filters as one types, fits an 800-pixel window, and is complete with
scripts disabled.

Chromium is driven over the DevTools protocol through ``--remote-debugging-pipe`` (JSON
messages separated by NUL bytes on file descriptors 3 and 4), so no WebSocket client is
needed. Clicks and typing are real input events (``Input.dispatchMouseEvent``,
``Input.insertText``). Skips when no Chromium binary exists (Debian: ``apt-get install
chromium``; .ci/run installs it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pqml.scan import ScanOptions, scan
from pqml.scan.report import html_report

CHROMIUM = next((p for p in (shutil.which(n) for n in (
    "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")) if p), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium; "
                             ".ci/run installs it)")

WIDTH = 800
_WAIT = 30.0  # seconds without any answer from the browser before the test gives up


def _above_4(fd: int) -> int:
    """``fd`` moved above 4, so that putting the pipes on 3 and 4 cannot clobber one."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class DevTools:
    """A minimal Chrome DevTools protocol client over ``--remote-debugging-pipe``."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_browser_r, self._out = map(_above_4, os.pipe())
        self._in, from_browser_w = map(_above_4, os.pipe())
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", f"--window-size={WIDTH},900", "about:blank"]
        # the browser reads commands on fd 3 and writes answers on fd 4: a Python
        # trampoline puts the pipes there, then becomes the browser
        trampoline = ("import os, sys; os.dup2(int(sys.argv[1]), 3); "
                      "os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])")
        self.proc = subprocess.Popen([sys.executable, "-c", trampoline, str(to_browser_r),
                                      str(from_browser_w), exe, *args],
                                     pass_fds=(to_browser_r, from_browser_w),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):  # it may be gone already
            self.call("Browser.close", session=False)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)

    def _message(self) -> dict[str, Any]:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._in], [], [], _WAIT)
            if not ready:
                raise RuntimeError("the browser stopped answering")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser exited")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        while True:
            answer = self._message()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str) -> dict[str, Any]:
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._message())

    def open(self, url: str, scripts: bool = True) -> None:
        target = self.call("Target.createTarget", session=False, url="about:blank")
        self.session = self.call("Target.attachToTarget", session=False,
                                 targetId=target["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900,
                  deviceScaleFactor=1, mobile=False)
        if not scripts:
            self.call("Emulation.setScriptExecutionDisabled", value=True)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        box = self.js(f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
                      " e.scrollIntoView({block: 'center'});"
                      " var r = e.getBoundingClientRect();"
                      " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        x, y = box
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def type(self, selector: str, text: str) -> None:
        self.click(selector)
        self.call("Input.insertText", text=text)


FILES = {  # name -> lines of code: several findings per file, several levels
    "alpha.py": ["import hashlib", "hashlib.md5(b'x')", "hashlib.sha256(b'x')"],
    "bravo.py": ["from cryptography.hazmat.primitives.asymmetric import rsa, ec",
                 *[""] * 7, "k = rsa.generate_private_key(65537, 2048)",
                 "e = ec.generate_private_key(ec.SECP256R1())",
                 "r = rsa.generate_private_key(65537, 1024)",
                 "from cryptography.hazmat.primitives.asymmetric import padding",
                 "k.public_key().encrypt(b'x', padding.OAEP(None, None, None))"],
    "charlie.py": ["import hashlib", "hashlib.sha1(b'" + "very-long-evidence-" * 30 + "')"],
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("browser")
    for name, lines in FILES.items():
        (root / name).write_text("\n".join(lines) + "\n")
    long_dir = root / ("a-directory-name-without-any-break-" * 4)
    long_dir.mkdir()
    (long_dir / "delta.py").write_text("import hashlib\nhashlib.md5(b'y')\n")
    result = scan([str(root)], ScanOptions(jobs=1))
    page = root / "report.html"
    page.write_text(html_report.render(result))
    rows = [{"loc": f.location, "level": f.risk.level if f.risk else "info",
             "score": f.risk.score if f.risk else 0,
             "deadline": (f.risk.deadline_year if f.risk else None) or 9999}
            for f in result.active]
    return page, rows


@pytest.fixture
def browser(tmp_path: Path):
    assert CHROMIUM is not None
    tools = DevTools(CHROMIUM, tmp_path / "profile")
    try:
        yield tools
    finally:
        tools.close()


ROWS = "Array.prototype.slice.call(document.querySelectorAll('#findings tbody tr'))"
VISIBLE = f"{ROWS}.filter(function (r) {{ return r.getClientRects().length > 0; }})"


def _column(browser: DevTools, index: int, visible_only: bool = False) -> list[str]:
    rows = VISIBLE if visible_only else ROWS
    return browser.js(f"{rows}.map(function (r) {{ var c = r.cells[{index}]; "
                      "return c.getAttribute('data-v') || c.textContent; })")


def _line_key(loc: str) -> tuple[str, int]:
    path, line = loc.rsplit(":", 1)
    return path, int(line)


def test_sort_by_header_click_and_filter_by_typing(browser: DevTools, report) -> None:
    page, rows = report
    browser.open(page.as_uri())
    assert len(rows) >= 6
    assert [int(v) for v in _column(browser, 0)] == sorted(
        (r["score"] for r in rows), reverse=True)  # as rendered: worst first

    browser.click("#findings th:nth-child(2)")  # location, ascending (line 9 before 10)
    by_location = sorted((r["loc"] for r in rows), key=_line_key)
    assert _column(browser, 1) == by_location
    assert browser.js("document.querySelector('#findings th:nth-child(2)')"
                      ".getAttribute('aria-sort')") == "ascending"
    browser.click("#findings th:nth-child(2)")  # again: descending
    assert _column(browser, 1) == by_location[::-1]
    browser.click("#findings th:nth-child(6)")  # deadline, numerically; none last
    assert [int(v) for v in _column(browser, 5)] == sorted(r["deadline"] for r in rows)
    browser.click("#findings th:nth-child(1)")  # risk, ascending
    assert [int(v) for v in _column(browser, 0)] == sorted(r["score"] for r in rows)

    browser.type("#findings-filter", "bravo")
    bravo = sorted(r["loc"] for r in rows if r["loc"].startswith("bravo.py"))
    assert sorted(_column(browser, 1, visible_only=True)) == bravo
    assert browser.js("document.getElementById('findings-count').textContent") == (
        f"{len(bravo)} of {len(rows)} findings")
    browser.js("var s = document.getElementById('findings-level'); s.value = 'high';"
               "s.dispatchEvent(new Event('change'))")
    high_bravo = sorted(r["loc"] for r in rows
                        if r["loc"].startswith("bravo.py") and r["level"] == "high")
    assert high_bravo and len(high_bravo) < len(bravo)
    assert sorted(_column(browser, 1, visible_only=True)) == high_bravo
    browser.js("var s = document.getElementById('findings-level'); s.value = '';"
               "s.dispatchEvent(new Event('change'))")
    browser.click("#findings-filter")
    browser.js("document.execCommand('selectAll')")
    browser.call("Input.insertText", text="")  # replace the selection: empty filter
    assert len(_column(browser, 1, visible_only=True)) == len(rows)


def test_page_fits_the_window(browser: DevTools, report) -> None:
    page, _ = report
    browser.open(page.as_uri())
    assert browser.js("window.innerWidth") == WIDTH
    assert browser.js("document.documentElement.scrollWidth") <= WIDTH
    # the long evidence wraps within its cell instead of widening the table
    assert browser.js("(function () { var w = document.querySelector('.table-wrap');"
                      " return w.scrollWidth <= w.clientWidth; })()")


def test_without_scripts_the_table_is_complete_and_no_dead_control_shows(
        browser: DevTools, report) -> None:
    page, rows = report
    browser.open(page.as_uri(), scripts=False)
    doc = browser.call("DOM.getDocument")["root"]["nodeId"]
    trs = browser.call("DOM.querySelectorAll", nodeId=doc,
                       selector="#findings tbody tr")["nodeIds"]
    assert len(trs) == len(rows)
    (controls,) = browser.call("DOM.querySelectorAll", nodeId=doc,
                               selector="#findings-controls[hidden]")["nodeIds"]
    box = browser.call("DOM.getBoxModel", nodeId=trs[0])  # rows are laid out: visible
    assert box["model"]["height"] > 0
    with pytest.raises(RuntimeError):  # a hidden control has no box
        browser.call("DOM.getBoxModel", nodeId=controls)
