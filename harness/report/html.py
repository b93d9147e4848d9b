"""``index.html`` of a report: one self-contained page that needs no network (inline CSS, SVG figures inlined
with their style rules shared in one stylesheet, a small inline script) with a table of contents, the
summary, findings, the results table (filter, sort and search when scripts run; every row shown, not met
and flagged first, when they do not), the figures per game (each opens full size), the paper and
literature sections and the environment. Below 700 CSS pixels the figures stack in one column and table
rows become cards, so the page never scrolls sideways.

The page is rendered from templates/report.html.j2 (its parts in templates/parts.html.j2) fed the content
dict that harness.report writes index.md from; this module inlines the figures (``Page``) and arranges that
content for the template (sections' blocks, row groups, the table of contents)."""

from __future__ import annotations

import functools
import re
from html import escape
from pathlib import Path

import jinja2
from markupsafe import Markup

from harness.report.blocks import Block, Code, Heading, Image, Paragraph, Table, status_sentence

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1em auto; max-width: 1180px;
       padding: 0 16px; color: #1d1d1f; overflow-wrap: break-word; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
a { color: #0b57d0; } nav.toc { background: #f6f6f8; padding: .4em 1em; border-radius: 6px; }
nav.toc ul { margin: .2em 0; padding-left: 1.2em; } nav.toc ul ul { columns: 14em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 3px 7px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { background: #f4f4f6; }
#checks thead th { position: sticky; top: 0; z-index: 2; box-shadow: 0 1px 0 #ccc; }
#checks tr { scroll-margin-top: 4em; }
#checks th button { font: inherit; font-weight: 600; color: inherit; background: none; border: 0; padding: 0;
                    cursor: pointer; text-align: left; }
#checks th[aria-sort=ascending] button::after { content: " ▲"; }
#checks th[aria-sort=descending] button::after { content: " ▼"; }
#checks .group-head th { background: #eef0f6; } #checks .group-head button { width: 100%; }
#checks .group-head button::before { content: "▾ "; }
#checks .group-head button[aria-expanded=false]::before { content: "▸ "; }
#checks tbody.collapsed > tr:not(.group-head), #checks tr[hidden], #checks tbody[hidden] { display: none; }
#checks td:nth-child(n+5):nth-child(-n+8) { white-space: nowrap; }
#checks td { overflow-wrap: anywhere; }
#checks td:nth-child(2) { max-width: 17em; } #checks td:nth-child(11) { min-width: 6.2em; }
tr.off td { background: #fde8e8; }
.status { font-weight: 600; } .PASS { color: #18794e; } .other { color: #b4232a; }
.controls { display: flex; flex-wrap: wrap; gap: .4em 1em; align-items: center; margin: .6em 0; }
.controls select, .controls input { font: inherit; max-width: 14em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 16px; }
figure { margin: 0 0 1.2em; content-visibility: auto; contain-intrinsic-size: auto 330px; }
figure svg { width: 100%; height: auto; display: block; border: 1px solid #eee; box-sizing: border-box; }
figcaption { color: #444; font-size: 14px; }
a.wide { display: block; overflow-x: auto; } a.wide svg { min-width: 760px; }
.overlay { position: fixed; inset: 0; background: #fff; overflow: auto; z-index: 9; cursor: zoom-out; padding: 8px;
           box-sizing: border-box; }
.overlay svg { display: block; margin: 0 auto; width: 100%; max-width: 1400px; height: auto;
               max-height: calc(100vh - 4em); }
.overlay .close { position: sticky; top: 0; float: right; font: inherit; padding: .3em .8em; z-index: 10; }
ol.notes { font-size: 14px; }
.banner { border-radius: 6px; padding: .3em 1em; margin: .6em 0; border: 2px solid; }
.banner.ok { background: #e6f4ea; border-color: #18794e; } .banner.flag { background: #fff4d6; border-color: #a86b00; }
.banner.bad { background: #fde8e8; border-color: #b4232a; } .banner p { margin: .3em 0; } .banner ul { margin: .2em 0; }
pre.formula { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 14px; background: #f6f6f8; padding: .5em;
              border-radius: 4px; }
details > summary { cursor: pointer; margin: .3em 0; }
details.detail { font-size: 13px; max-width: 24em; } details.detail > summary { margin: 0; color: #0b57d0; }
@media (max-width: 700px) {
  body { padding: 0 12px; } .grid { grid-template-columns: 1fr; }
  table, tbody, tr, td { display: block; } thead { display: none; } tr { border-bottom: 2px solid #ddd; }
  td, #checks td:nth-child(n) { border: 0; padding: 1px 4px; white-space: normal; }
  td[data-l]::before { content: attr(data-l) ": "; color: #666; }
}
"""

SCRIPT = """
(function () {
  var form = document.getElementById('controls'), table = document.getElementById('checks');
  var narrow = window.matchMedia && window.matchMedia('(max-width: 700px)').matches;
  document.querySelectorAll('details.fold').forEach(function (d) { if (narrow && !d.dataset.keep) d.open = false; });
  document.addEventListener('click', function (event) {
    var open = document.querySelector('.overlay');
    if (open) { open.remove(); event.preventDefault(); return; }
    var link = event.target.closest && event.target.closest('a.zoom');
    if (!link) return;
    event.preventDefault();
    var overlay = document.createElement('div'), close = document.createElement('button');
    overlay.className = 'overlay';
    overlay.setAttribute('role', 'dialog');
    overlay.setAttribute('aria-label', 'figure, full size');
    close.type = 'button'; close.className = 'close'; close.textContent = '✕ close';
    overlay.appendChild(close);
    overlay.appendChild(link.querySelector('svg').cloneNode(true));
    document.body.appendChild(overlay);
    close.focus();
  });
  document.addEventListener('keydown', function (event) {
    var open = document.querySelector('.overlay');
    if (open && event.key === 'Escape') open.remove();
  });
  if (!form || !table) return;
  form.hidden = false;
  var groups = Array.prototype.slice.call(table.tBodies).filter(function (b) { return b.dataset.group; });
  var rows = [], home = new Map();
  groups.forEach(function (body) {
    Array.prototype.forEach.call(body.rows, function (row) {
      if (row.classList.contains('group-head')) return;
      rows.push(row); home.set(row, body);
    });
  });
  var flat = document.createElement('tbody');
  flat.hidden = true; table.appendChild(flat);
  var shown = document.getElementById('shown'), sort = document.getElementById('sort');
  var empty = document.getElementById('empty'), headers = table.tHead.rows[0].cells;
  function setOpen(body, open) {
    body.classList.toggle('collapsed', !open);
    var button = body.querySelector('.group-head button');
    if (button) button.setAttribute('aria-expanded', String(open));
  }
  groups.forEach(function (body) {
    var head = body.querySelector('.group-head th'), title = head.innerHTML, button = document.createElement('button');
    button.type = 'button'; button.innerHTML = title; head.innerHTML = ''; head.appendChild(button);
    button.addEventListener('click', function () { setOpen(body, body.classList.contains('collapsed')); });
    setOpen(body, !narrow || body.dataset.failed === '1');
  });
  function filtering() {
    var active = form.elements.search.value !== '' || form.elements.off.checked;
    form.querySelectorAll('select[data-key]').forEach(function (s) { if (s.value) active = true; });
    return active;
  }
  function apply() {
    var query = form.elements.search.value.toLowerCase(), off = form.elements.off.checked, count = 0;
    var selects = form.querySelectorAll('select[data-key]'), active = filtering();
    rows.forEach(function (row) {
      var keep = !off || row.dataset.off === '1';
      selects.forEach(function (s) { if (s.value && row.dataset[s.dataset.key] !== s.value) keep = false; });
      if (query && row.textContent.toLowerCase().indexOf(query) < 0) keep = false;
      row.hidden = !keep; if (keep) count += 1;
    });
    groups.forEach(function (body) {
      if (active) setOpen(body, true);
      var any = rows.some(function (row) { return home.get(row) === body && !row.hidden; });
      body.querySelector('.group-head').hidden = !any;
    });
    shown.textContent = count + ' of ' + rows.length + ' checks shown';
    empty.hidden = count > 0;
  }
  function key(row, column, absolute) {
    var text = row.cells[column].textContent, value = parseFloat(text);
    if (isNaN(value)) return text;
    return absolute ? -Math.abs(value) : value;
  }
  function indicate(value) {
    var column = value === '' ? -1 : parseInt(value.replace(/^[ad]/, ''), 10);
    Array.prototype.forEach.call(headers, function (th, index) {
      if (index === column && value.charAt(0) !== 'a') {
        th.setAttribute('aria-sort', value.charAt(0) === 'd' ? 'descending' : 'ascending');
      } else th.removeAttribute('aria-sort');
    });
  }
  function sortBy(value) {
    indicate(value);
    if (value === '') {
      rows.forEach(function (row) { home.get(row).appendChild(row); });
      groups.forEach(function (body) { body.hidden = false; });
      flat.hidden = true;
      return;
    }
    var sorted = rows.slice(), absolute = value.charAt(0) === 'a';
    var column = parseInt(value.replace(/^[ad]/, ''), 10), sign = value.charAt(0) === 'd' ? -1 : 1;
    sorted.sort(function (a, b) {
      var x = key(a, column, absolute), y = key(b, column, absolute);
      if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
      return sign * (x < y ? -1 : x > y ? 1 : 0);
    });
    sorted.forEach(function (row) { flat.appendChild(row); });
    groups.forEach(function (body) { body.hidden = true; });
    flat.hidden = false;
  }
  form.addEventListener('input', function (event) {
    if (event.target === sort) sortBy(sort.value); else apply();
  });
  form.addEventListener('submit', function (event) { event.preventDefault(); });
  Array.prototype.forEach.call(headers, function (th, column) {
    var button = th.querySelector('button');
    if (!button) return;
    button.addEventListener('click', function () {
      var value = th.getAttribute('aria-sort') === 'ascending' ? 'd' + column : String(column);
      if (!sort.querySelector('option[value="' + value + '"]')) {
        sort.add(new Option(button.textContent + (value.charAt(0) === 'd' ? ', descending' : ', ascending'), value));
      }
      sort.value = value;
      sortBy(value);
    });
  });
  function reveal() {
    var target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (!target) return;
    var next = target.nextElementSibling;
    if (next && next.tagName === 'DETAILS' && !next.open) { next.open = true; target.scrollIntoView(); }
    for (var d = target.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) {
      if (!d.open) { d.open = true; target.scrollIntoView(); }
    }
    if (!home.has(target)) return;
    if (target.hidden) {
      form.reset(); apply();
    }
    if (sort.value !== '') { sort.value = ''; sortBy(''); }
    setOpen(home.get(target), true);
    target.scrollIntoView();
  }
  window.addEventListener('hashchange', reveal);
  document.querySelectorAll('a[data-show-off]').forEach(function (a) {
    a.addEventListener('click', function () { form.elements.off.checked = true; apply(); });
  });
  apply();
  reveal();
})();
"""

WIDE_PT = 480
"""Figures wider than this (points; several panels side by side) keep a legible width and scroll inside their
box on narrow screens."""
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_RULE = re.compile(r"(\.s[0-9a-f]{7})\{([^}]*)\}")


_DEFINITION = re.compile(r'<(\w+) id="([^"]+)"(?:[^>]*?/>|[^>]*>.*?</\1>)', re.S)


class Page:
    """What the figures of one page share: their style rules and their definitions (markers, clip paths), each
    collected once, so that no id is repeated on the page."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.rules: dict[str, str] = {}
        self.definitions: dict[str, str] = {}  # id -> the element that defines it (first figure that has it)

    def _unique_ids(self, text: str) -> str:
        """``text`` without the definitions an earlier figure made identically (its references then resolve to
        those), and with an id that an earlier figure defines differently renamed."""
        renames: dict[str, str] = {}
        for match in _DEFINITION.finditer(text):
            element, name = match.group(0), match.group(2)
            known = self.definitions.get(name)
            if known is None:
                self.definitions[name] = element
                continue
            if known == element:
                text = text.replace(element, "", 1)
                continue
            fresh = next(f"{name}-{n}" for n in range(2, 10**6) if f"{name}-{n}" not in self.definitions)
            self.definitions[fresh] = element.replace(f'id="{name}"', f'id="{fresh}"', 1)
            renames[name] = fresh
        for name, fresh in renames.items():
            text = re.sub(rf'(id="|#){re.escape(name)}(?=["\)])', rf"\g<1>{fresh}", text)
        return text.replace("<defs></defs>", "")

    def svg(self, path: str, caption: str) -> str:
        """The SVG at ``path`` (relative to the folder) inline, its style rules moved to the page, wrapped in
        a link that opens it full size (the file without script; an overlay with it)."""
        source = self.folder / path
        if source.suffix != ".svg" or not source.exists():
            return f'<a href="{escape(path)}">{escape(caption)}</a>'
        text = source.read_text()
        for style in _STYLE.findall(text):
            self.rules.update(_RULE.findall(style))
        text = self._unique_ids(_STYLE.sub("", re.sub(r"<\?xml[^>]*\?>", "", text)).strip())
        text = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r"<svg \1", text, count=1)
        text = text.replace("<svg ", f'<svg role="img" aria-label="{escape(caption)}" ', 1)
        box = re.search(r'viewBox="0 0 ([\d.]+)', text)
        wide = " wide" if box and float(box.group(1)) > WIDE_PT else ""
        return f'<a class="zoom{wide}" href="{escape(path)}" title="open full size">{text}</a>'

    def stylesheet(self) -> str:
        """The figures' style rules (matplotlib's defaults scoped to SVG)."""
        return ("svg *{stroke-linejoin: round; stroke-linecap: butt}"
                + "".join(f"{name}{{{style}}}" for name, style in self.rules.items()))


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (and the page's id for it)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _blocks(blocks: list[Block] | tuple[Block, ...]) -> list[dict]:
    """A section's blocks as the template reads them: headings with their ids, images one after another in one
    grid, a paragraph's lines joined."""
    view: list[dict] = []
    for block in blocks:
        if isinstance(block, Heading):
            view.append({"kind": "heading", "level": block.level, "text": block.text, "id": slug(block.text)})
        elif isinstance(block, Paragraph):
            view.append({"kind": "paragraph", "spans": [(kind, text.replace("\n", " ")) for kind, text in block.spans]})
        elif isinstance(block, Code):
            view.append({"kind": "code", "text": block.text})
        elif isinstance(block, Image):
            if view and view[-1]["kind"] == "images":
                view[-1]["images"].append(block)
            else:
                view.append({"kind": "images", "images": [block]})
        elif isinstance(block, Table):
            view.append({"kind": "table", "header": block.header, "rows": block.rows})
        else:
            view.append({"kind": "fold", "summary": block.summary, "blocks": _blocks(block.blocks)})
    return view


def _headings(view: list[dict]) -> list[tuple[str, str, int]]:
    """(id, text, level) of the h2 and h3 headings of a section's view, folds included."""
    found: list[tuple[str, str, int]] = []
    for item in view:
        if item["kind"] == "heading":
            found.append((item["id"], item["text"], item["level"]))
        elif item["kind"] == "fold":
            found += _headings(item["blocks"])
    return found


def _contents(content: dict, sections: list[dict]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The table of contents: each h2 of the page (id, text) with its h3s nested."""
    games = list(dict.fromkeys(f.game for f in content["figures"]))
    entries: list[tuple[str, str, list[tuple[str, str]]]] = [
        ("findings", "Findings", []), ("results", f"Results ({len(content['rows'])} checks)", []),
        ("figures", "Figures", [(f"fig-{game}", game) for game in games])]
    for anchor, text, level in _headings(sections):
        if level == 2:
            entries.append((anchor, text, []))
        else:
            entries[-1][2].append((anchor, text))
    return [*entries, ("environment", "Environment", [])]


class _Row:
    """A results-table row as the template reads it: the Row's fields and whether it is not met or flagged."""

    def __init__(self, row):
        self.cells, self.game, self.rule, self.flow = row.cells, row.game, row.rule, row.flow
        self.status, self.measure, self.note = row.status, row.measure, row.note
        self.index, self.panel, self.detail = row.index, getattr(row, "panel", None), getattr(row, "detail", "")
        self.passed, self.off = row.passed, not row.passed or row.status != "PASS"


def _groups(rows: list) -> list[dict]:
    """One row group per game, the games with checks not met or flagged first; each with its state in words."""
    games: dict[str, list[_Row]] = {}
    for row in rows:
        games.setdefault(row.game, []).append(_Row(row))
    groups = []
    for game, members in games.items():
        failed = sum(not r.passed for r in members)
        flagged = sum(r.off for r in members) - failed
        state = ", ".join(part for part in (f"{failed} not met" if failed else "",
                                            f"{flagged} flagged" if flagged else "") if part) or "all met"
        groups.append({"game": game, "rows": members, "off": failed + flagged > 0, "failed": failed > 0,
                       "state": state})
    return sorted(groups, key=lambda group: not group["off"])


@functools.cache
def _template(name: str = "report.html.j2") -> jinja2.Template:
    """A template of templates/: report.html.j2 (the page) or parts.html.j2 (its macros)."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                                     lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    environment.globals["zip"] = zip
    return environment.get_template(name)


def _macro(name: str):
    """A macro of templates/parts.html.j2."""
    return getattr(_template("parts.html.j2").module, name)


TEMPLATES = Path(__file__).parent / "templates"
BANNER_LINKS = 12


def section_html(blocks: list[Block], folder: Path, page: Page | None = None) -> str:
    """The HTML of a section's blocks (harness.report.blocks): headings with ids, paragraphs, tables, figures (SVGs
    inlined through ``page``, relative to ``folder``; images one after another share one grid), formulas and
    folds."""
    page = page or Page(folder)
    return str(_macro("blocks")(_blocks(blocks), _svg(page)))


def _svg(page: Page):
    return lambda path, caption: Markup(page.svg(path, caption))


def render_html(content: dict, folder: Path) -> str:
    """The page for the report ``content`` of harness.report (the dict its Markdown is written from; figure
    paths relative to ``folder``), from the template templates/report.html.j2."""
    page = Page(folder)
    sections = _blocks(content.get("sections", []))
    rows = content["rows"]
    status = content.get("status")
    games = list(dict.fromkeys(f.game for f in content["figures"]))
    return _template().render(
        title=content["title"], status=status, sentence=status_sentence(status) if status else "",
        links=BANNER_LINKS, summary=content["summary"], findings=content["findings"], header=content["header"],
        rows=rows, largest=content["largest"], notes=content["notes"], marker_key=content["marker_key"],
        filters=[(key, sorted({getattr(row, key) for row in rows})) for key in ("game", "rule", "flow", "status",
                                                                               "measure")],
        groups=_groups(rows), figure_groups=[(game, [f for f in content["figures"] if f.game == game])
                                             for game in games],
        sections=sections, contents=_contents(content, sections), environment=content["environment"],
        svg=_svg(page), stylesheet=lambda: Markup(page.stylesheet()), css=Markup(CSS), script=Markup(SCRIPT))
