"""The committed reference report (reports/reference/index.html) rendered in headless Chromium (Debian's
``chromium`` package), driven over the DevTools protocol on a pipe, at a 1400 px desktop and a 400 px phone
(mobile emulation, so the viewport meta tag counts): no console error, every figure renders, no sideways
page scroll, legible text and figures, a working filter and sort, figures that open full size, readable with
scripts off. Screenshots are written into build/screenshots/. REPORT_PAGE=path/index.html checks another
report's page."""

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = Path(os.environ.get("REPORT_PAGE", ROOT / "reports" / "reference" / "index.html"))
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package "
                                "`chromium`, /usr/bin/chromium); the browser checks of the report need it")

MEASURE = """(() => {
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const svgs = [...document.querySelectorAll('svg[role=img]')];
  const panels = svgs.filter(s => s.getAttribute('aria-label').includes('against step size'));
  const scale = s => s.getBoundingClientRect().width / s.viewBox.baseVal.width;
  const texts = s => [...s.querySelectorAll('text')];
  const rows = [...document.querySelectorAll('#checks tbody tr')];
  const form = document.getElementById('controls');
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    width: innerWidth, scrollWidth: document.documentElement.scrollWidth,
    bodyFont: parseFloat(getComputedStyle(document.body).fontSize),
    textFont: Math.min(...[...document.querySelectorAll('p, li, td, figcaption')].filter(shown)
                       .map(e => parseFloat(getComputedStyle(e).fontSize))),
    images: document.images.length, imagesDecoded: [...document.images].every(i => i.complete && i.naturalWidth > 0),
    figures: svgs.length, figuresDrawn: svgs.filter(s => shown(s) && s.getBBox().width > 0).length,
    panels: panels.length, panelWidth: Math.min(...panels.map(s => s.getBoundingClientRect().width)),
    panelTextHeight: Math.min(...panels.flatMap(s => texts(s).map(t => t.getBoundingClientRect().height))),
    panelFont: Math.min(...panels.flatMap(s => texts(s).map(t => parseFloat(getComputedStyle(t).fontSize) * scale(s)))),
    tableFits: (t => t.scrollWidth <= t.parentElement.clientWidth)(document.getElementById('checks')),
    rows: rows.length, off: rows.filter(r => r.dataset.off === '1').length,
    controls: form !== null && !form.hidden, visible: rows.filter(r => !r.hidden).length,
    load: nav ? nav.loadEventEnd : null,
  };
})()"""

FILTER = """(() => {
  const rows = [...document.querySelectorAll('#checks tbody tr')], box = document.forms.controls.elements.off;
  const visible = () => rows.filter(r => !r.hidden);
  const flip = on => { box.checked = on; box.dispatchEvent(new Event('input', {bubbles: true})); };
  flip(true);
  const real = visible().map(r => rows.indexOf(r)), allOff = visible().every(r => r.dataset.off === '1');
  flip(false);
  [rows[3], rows[7], rows[11]].forEach(r => { r.dataset.off = '1'; });  // as if three checks had missed
  flip(true);
  const marked = visible().map(r => rows.indexOf(r));
  flip(false);
  const sort = document.getElementById('sort');
  sort.value = 'a7';  // |fitted − expected|, largest first
  sort.dispatchEvent(new Event('input', {bubbles: true}));
  const deviations = [...document.querySelectorAll('#checks tbody tr')]
    .map(r => Math.abs(parseFloat(r.cells[7].textContent)));
  sort.value = '';
  sort.dispatchEvent(new Event('input', {bubbles: true}));
  const reordered = [...document.querySelectorAll('#checks tbody tr')].every((r, i) => r === rows[i]);
  document.querySelector('a.zoom').click();
  const opened = document.querySelector('.overlay svg') !== null;
  document.querySelector('.overlay').click();
  return {real: real, allOff: allOff, marked: marked, restored: visible().length, deviations: deviations,
          reordered: reordered, opened: opened, closed: document.querySelector('.overlay') === null};
})()"""


PLACE_PIPES = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
               "os.execv(sys.argv[3], sys.argv[3:])")


class Browser:
    """Headless Chromium over --remote-debugging-pipe (NUL-separated JSON on fds 3 and 4)."""

    def __init__(self, profile: Path):
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()
        # a bare Python puts the pipes on Chromium's fds 3 and 4 (from fds above 9, so that neither overwrites
        # the other) and becomes Chromium: no fork of this process with its threads
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome, from_chrome)]
        command = [CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        self.process = subprocess.Popen([sys.executable, "-c", PLACE_PIPES, *map(str, ends), *command],
                                        pass_fds=ends, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (to_chrome, from_chrome, *ends):
            os.close(fd)
        self._buffer, self._id = b"", 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._id += 1
        request = {"id": self._id, "method": method, "params": params}
        if session:
            request["sessionId"] = self.session
        os.write(self._write, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            message = self._message(deadline)
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait(self, event: str) -> None:
        deadline = time.monotonic() + 60
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._message(deadline))

    def open(self, url: str, width: int, mobile: bool, scripts: bool = True) -> float:
        """Load ``url`` at ``width`` CSS pixels; return the seconds from navigation to the load event."""
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=900, deviceScaleFactor=1,
                  mobile=mobile)
        self.call("Emulation.setScriptExecutionDisabled", session=True, value=not scripts)
        self.events.clear()
        start = time.monotonic()
        self.call("Page.navigate", session=True, url=url)
        self.wait("Page.loadEventFired")
        return time.monotonic() - start

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"]["value"]

    def errors(self) -> list:
        return [e for e in self.events if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=False)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        os.close(self._read)
        os.close(self._write)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chrome = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.close()


@pytest.mark.parametrize("width, mobile", [(1400, False), (400, True)], ids=["desktop-1400", "phone-400"])
def test_report_page_in_a_real_browser(browser, width, mobile):
    SHOTS.mkdir(parents=True, exist_ok=True)
    seconds = browser.open(PAGE.as_uri(), width, mobile)
    page = browser.evaluate(MEASURE)
    browser.screenshot(SHOTS / f"report-{width}.png")
    for anchor in ("results", "figures"):
        browser.evaluate(f"document.getElementById('{anchor}').scrollIntoView()")
        browser.screenshot(SHOTS / f"report-{width}-{anchor}.png")
    print(f"{width} px: load {seconds:.2f} s", json.dumps(page))
    assert browser.errors() == []
    assert page["width"] == width and page["scrollWidth"] <= width  # no sideways page scroll
    assert page["tableFits"]  # the results table needs no sideways scroll of its own either
    assert page["imagesDecoded"] and page["figures"] >= 10 and page["figuresDrawn"] == page["figures"]
    assert page["controls"] and page["visible"] == page["rows"] > 20
    assert page["textFont"] >= 14 and page["bodyFont"] >= 14
    assert page["panelFont"] >= page["bodyFont"]  # figure text as large as the body text, as shown
    if mobile:
        assert page["panelWidth"] >= 360 and page["panelTextHeight"] >= 10
    assert seconds < 10
    filtered = browser.evaluate(FILTER)
    assert len(filtered["real"]) == page["off"] and filtered["allOff"]  # only the checks not met (or flagged)
    assert filtered["marked"] == sorted({*filtered["real"], 3, 7, 11}) and filtered["restored"] == page["rows"]
    deviations = [d for d in filtered["deviations"] if d is not None]  # rows without a fit sort last
    assert deviations == sorted(deviations, reverse=True) and filtered["reordered"]  # sorted, then back
    assert filtered["opened"] and filtered["closed"]  # a figure opens full size and closes


def test_report_page_reads_without_scripts(browser):
    browser.open(PAGE.as_uri(), 400, True, scripts=False)
    page = browser.evaluate(MEASURE)  # Runtime.evaluate still runs with page scripts disabled
    browser.screenshot(SHOTS / "report-400-no-script.png")
    assert not page["controls"] and page["visible"] == page["rows"]  # every row, no dead controls
    assert page["scrollWidth"] <= 400 and page["figuresDrawn"] == page["figures"]
    browser.call("Emulation.setScriptExecutionDisabled", session=True, value=False)
