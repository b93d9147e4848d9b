"""The committed reference report (reports/reference/index.html) rendered in headless Chromium (Debian's
``chromium`` package), driven over the DevTools protocol on a pipe, at a 1400 px desktop and a 400 px phone
(mobile emulation, so the viewport meta tag counts): no console error, every figure renders, no sideways
page scroll, legible text and figures (every SVG text at least 11 px on the phone), the status banner in the
first screen, at most MAX_SCREENS screens on the phone, no repeated id, a working filter and sort (by a header
click too, with aria-sort), a sticky table header, figures that open full size with a close button, readable
with scripts off; and a report with three checks forced to fail, whose banner reaches each failing row in one
click. Screenshots are written into build/screenshots/. REPORT_PAGE=path/index.html checks another report's
page."""

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

MAX_SCREENS = 30
"""Page height at 400 px, in screens of 900 px (issue 28)."""

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package "
                                "`chromium`, /usr/bin/chromium); the browser checks of the report need it")

MEASURE = """(() => {
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const svgs = [...document.querySelectorAll('svg[role=img]')];
  const panels = svgs.filter(s => s.getAttribute('aria-label').includes('against step size'));
  const scale = s => s.getBoundingClientRect().width / s.viewBox.baseVal.width;
  const texts = s => [...s.querySelectorAll('text')];
  const rows = [...document.querySelectorAll('#checks tbody tr:not(.group-head)')];
  const ids = {}; document.querySelectorAll('[id]').forEach(e => { ids[e.id] = (ids[e.id] || 0) + 1; });
  const banner = document.getElementById('status');
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
    height: document.documentElement.scrollHeight,
    bannerTop: banner ? banner.getBoundingClientRect().top : null,
    bannerBottom: banner ? banner.getBoundingClientRect().bottom : null,
    repeatedIds: Object.keys(ids).filter(k => ids[k] > 1),
  };
})()"""

FILTER = """(() => {
  const rows = [...document.querySelectorAll('#checks tbody tr:not(.group-head)')];
  const box = document.forms.controls.elements.off;
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
  const deviations = [...document.querySelectorAll('#checks tbody tr:not(.group-head)')]
    .map(r => Math.abs(parseFloat(r.cells[7].textContent)));
  sort.value = '';
  sort.dispatchEvent(new Event('input', {bubbles: true}));
  const reordered = [...document.querySelectorAll('#checks tbody tr:not(.group-head)')].every((r, i) => r === rows[i]);
  const search = document.forms.controls.elements.search;
  search.value = 'no check has this text';
  search.dispatchEvent(new Event('input', {bubbles: true}));
  const empty = !document.getElementById('empty').hidden && visible().length === 0;
  search.value = '';
  search.dispatchEvent(new Event('input', {bubbles: true}));
  document.querySelector('a.zoom').click();
  const overlay = document.querySelector('.overlay svg'), close = document.querySelector('.overlay .close');
  const box2 = overlay && overlay.getBoundingClientRect();
  const fits = box2 !== null && box2.width > 0 && box2.right <= innerWidth + 1 && box2.bottom <= innerHeight + 1;
  const closeShown = close !== null && close.getBoundingClientRect().top >= 0;
  close.click();
  return {real: real, allOff: allOff, marked: marked, restored: visible().length, deviations: deviations,
          reordered: reordered, opened: overlay !== null, fits: fits, closeShown: closeShown, empty: empty,
          emptyHidden: document.getElementById('empty').hidden,
          closed: document.querySelector('.overlay') === null};
})()"""

FIGURE_TEXT = """(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  return [...document.querySelectorAll('svg[role=img]')].map(s => {
    const scale = s.getBoundingClientRect().width / s.viewBox.baseVal.width;
    const sizes = [...s.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
    return [s.getAttribute('aria-label'), sizes.length ? Math.min(...sizes) : null];
  });
})()"""

SORT = """(() => {
  const table = document.getElementById('checks'), th = table.tHead.rows[0].cells[5];
  th.querySelector('button').click();
  const first = th.getAttribute('aria-sort');
  const values = () => [...table.querySelectorAll('tbody tr:not(.group-head)')]
    .filter(r => !r.hidden && r.offsetParent !== null).map(r => parseFloat(r.cells[5].textContent))
    .filter(v => !isNaN(v));
  const ascending = values();
  th.querySelector('button').click();
  const second = th.getAttribute('aria-sort'), descending = values();
  const others = [...table.tHead.rows[0].cells].filter(c => c !== th && c.hasAttribute('aria-sort')).length;
  const sort = document.getElementById('sort');
  const option = sort.options[sort.selectedIndex].textContent;
  sort.value = ''; sort.dispatchEvent(new Event('input', {bubbles: true}));
  const middle = table.querySelectorAll('tbody tr:not(.group-head)')[200];
  middle.scrollIntoView({block: 'center'});
  const head = table.tHead.rows[0].cells[0].getBoundingClientRect();
  return {first: first, second: second, ascending: ascending, descending: descending, others: others, option: option,
          keyboard: th.querySelector('button').tabIndex >= 0, stuck: head.top >= -1 && head.top <= 2 && head.height > 0,
          cleared: [...table.tHead.rows[0].cells].every(c => !c.hasAttribute('aria-sort'))};
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
        return result["result"].get("value")  # undefined has none

    def errors(self) -> list:
        return [e for e in self.events if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=False)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)  # whichever test takes the first screenshot (xdist's order)
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
    seconds = browser.open(PAGE.as_uri(), width, mobile)
    page = browser.evaluate(MEASURE)
    browser.screenshot(SHOTS / f"report-{width}.png")
    for anchor in ("results", "figures"):
        browser.evaluate(f"document.getElementById('{anchor}').scrollIntoView()")
        browser.screenshot(SHOTS / f"report-{width}-{anchor}.png")
    print(f"{width} px: load {seconds:.2f} s", json.dumps(page))
    assert browser.errors() == []
    assert page["bannerTop"] is not None and page["bannerBottom"] <= 900  # the status, in the first screen
    assert page["repeatedIds"] == []
    assert page["width"] == width and page["scrollWidth"] <= width  # no sideways page scroll
    assert page["tableFits"]  # the results table needs no sideways scroll of its own either
    assert page["imagesDecoded"] and page["figures"] >= 10 and page["figuresDrawn"] == page["figures"]
    assert page["controls"] and page["visible"] == page["rows"] > 20
    assert page["textFont"] >= 14 and page["bodyFont"] >= 14
    assert page["panelFont"] >= page["bodyFont"]  # figure text as large as the body text, as shown
    if mobile:
        assert page["panelWidth"] >= 360 and page["panelTextHeight"] >= 10
        assert page["height"] <= MAX_SCREENS * 900, page["height"]
    assert seconds < 10
    filtered = browser.evaluate(FILTER)
    assert len(filtered["real"]) == page["off"] and filtered["allOff"]  # only the checks not met (or flagged)
    assert filtered["marked"] == sorted({*filtered["real"], 3, 7, 11}) and filtered["restored"] == page["rows"]
    deviations = [d for d in filtered["deviations"] if d is not None]  # rows without a fit sort last
    assert deviations == sorted(deviations, reverse=True) and filtered["reordered"]  # sorted, then back
    assert filtered["empty"] and filtered["emptyHidden"]  # a filter that matches nothing says so
    assert filtered["opened"] and filtered["fits"] and filtered["closeShown"] and filtered["closed"]
    if not mobile:
        sort = browser.evaluate(SORT)
        assert (sort["first"], sort["second"], sort["others"]) == ("ascending", "descending", 0)
        assert sort["ascending"] == sorted(sort["ascending"]) and len(sort["ascending"]) > 20
        assert sort["descending"] == sorted(sort["descending"], reverse=True)
        assert "fitted" in sort["option"] and sort["keyboard"] and sort["cleared"]  # words, not a raw "d5"
        assert sort["stuck"]  # the header sticks at the top mid-table
    if mobile:
        small = [(label, size) for label, size in browser.evaluate(FIGURE_TEXT) if size is not None and size < 11]
        assert small == [], small  # every figure's text, at least 11 px on the phone


def test_report_page_reads_without_scripts(browser):
    browser.open(PAGE.as_uri(), 400, True, scripts=False)
    page = browser.evaluate(MEASURE)  # Runtime.evaluate still runs with page scripts disabled
    browser.screenshot(SHOTS / "report-400-no-script.png")
    assert not page["controls"] and page["visible"] == page["rows"]  # every row, no dead controls
    assert page["scrollWidth"] <= 400 and page["figuresDrawn"] == page["figures"]
    browser.call("Emulation.setScriptExecutionDisabled", session=True, value=False)


FAILING = ("bilinear", "matching_pennies")
"""The games of the report with three checks forced to fail (small: no paper section)."""


@pytest.fixture(scope="module")
def failing_page(tmp_path_factory):
    """A report of the reference results of FAILING games with three checks forced to FAIL."""
    from dataclasses import replace

    from harness.checks import CheckResult, Settings
    from harness.report import write_report

    document = json.loads((ROOT / "reports" / "reference" / "results.json").read_text())
    settings = Settings(**document["settings"])
    results = [CheckResult.from_dict(e, settings) for e in document["results"] if e["game"] in FAILING]
    forced = (3, len(results) // 2, len(results) - 1)
    for index in forced:
        results[index] = replace(results[index], fit=replace(results[index].fit, status="FAIL",
                                                             reasons=["forced to fail"]))
    out = tmp_path_factory.mktemp("failing")
    write_report(results, settings, out)
    return out / "index.html", [f"check-{index}" for index in forced]


@pytest.mark.parametrize("width, mobile", [(1400, False), (400, True)], ids=["desktop-1400", "phone-400"])
def test_failing_rows_are_one_click_from_the_banner(browser, failing_page, width, mobile):
    page, forced = failing_page
    browser.open(page.as_uri(), width, mobile)
    banner = browser.evaluate("""(() => {
      const b = document.getElementById('status'), r = b.getBoundingClientRect();
      return {bottom: r.bottom, kind: b.className, colour: getComputedStyle(b).backgroundColor,
              links: [...b.querySelectorAll('a[href^="#check-"]')].map(a => a.getAttribute('href').slice(1))};
    })()""")
    browser.screenshot(SHOTS / f"report-failing-{width}.png")
    assert banner["bottom"] <= 900 and "bad" in banner["kind"] and banner["colour"] != "rgba(0, 0, 0, 0)"
    assert sorted(banner["links"]) == sorted(forced)
    for target in banner["links"]:
        browser.evaluate("window.scrollTo(0, 0)")
        browser.evaluate(f"document.querySelector('#status a[href=\"#{target}\"]').click()")
        time.sleep(0.2)
        row = browser.evaluate(f"""(() => {{
          const r = document.getElementById('{target}'), box = r.getBoundingClientRect();
          return {{top: box.top, bottom: box.bottom, height: box.height, hidden: r.hidden,
                   status: r.querySelector('[data-l=status]').textContent}};
        }})()""")
        assert not row["hidden"] and row["height"] > 0 and 20 <= row["top"] < 900, (target, row)  # under the header
        assert row["status"].startswith("FAIL")
