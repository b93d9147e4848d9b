"""``index.html`` of a report: one self-contained page that needs no network (inline CSS, SVG figures inlined
with their style rules shared in one stylesheet, a small inline script) with a table of contents, the
summary, findings, the results table (filter, sort and search when scripts run; every row shown, not met
and flagged first, when they do not), the figures per game (each opens full size), the paper and
literature sections and the environment. Below 700 CSS pixels the figures stack in one column and table
rows become cards, so the page never scrolls sideways."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

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
    setOpen(body, !narrow || body.dataset.off === '1');
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


def _contents(parts: list[str]) -> str:
    """The table of contents of the page's h2 and h3 headings (each with an id), h3 nested in their h2."""
    sections: list[tuple[str, list[str]]] = []
    for level, anchor, title in re.findall(r'<h([23]) id="([^"]+)">(.*?)</h\1>', "\n".join(parts)):
        link = f'<a href="#{anchor}">{re.sub(r"<[^>]+>", "", title)}</a>'
        if level == "2" or not sections:
            sections.append((link, []))
        else:
            sections[-1][1].append(link)
    items = "".join(f"<li>{link}" + ("<ul>" + "".join(f"<li>{s}</li>" for s in subs) + "</ul>" if subs else "")
                    + "</li>" for link, subs in sections)
    return f'<nav class="toc"><strong>Contents</strong><ul>{items}</ul></nav>'


def _controls(rows: list) -> str:
    """The filter, search and sort form (hidden until the script shows it)."""
    def select(key: str, label: str) -> str:
        values = sorted({getattr(row, key) for row in rows})
        return (f'<label>{label} <select data-key="{key}"><option value="">all</option>'
                + "".join(f'<option>{escape(v)}</option>' for v in values) + "</select></label>")

    return ('<form id="controls" class="controls" hidden>'
            + "".join(select(k, k) for k in ("game", "rule", "flow", "status", "measure"))
            + '<label><input type="checkbox" name="off"> not met or flagged only</label>'
            '<label>search <input type="search" name="search"></label>'
            '<label>sort <select id="sort"><option value="">not met first</option>'
            '<option value="a7">|fitted − expected|, largest first</option>'
            '<option value="d5">fitted slope, largest first</option>'
            '<option value="5">fitted slope, smallest first</option></select></label>'
            '<output id="shown"></output></form>')


def _row(row, header) -> str:
    """One check's table row (id check-INDEX); its game links to the check's own error panel where it is drawn,
    else to the game's figures."""
    off = not row.passed or row.status != "PASS"
    cells = []
    for index, (name, cell) in enumerate(zip(header, row.cells, strict=True)):
        text = escape(cell)
        if index == 0:
            target = getattr(row, "panel", None) or (f"detail-{row.index}" if getattr(row, "detail", "")
                                                     else f"fig-{row.game}")
            text = f'<a href="#{escape(target)}">{text}</a>'
        elif index == len(header) - 1 and getattr(row, "detail", None):
            text += (f'<details class="detail" id="detail-{row.index}"><summary>errors</summary>'
                     f"{escape(row.detail)}</details>")
        elif name == "expected" and row.note:
            text = text.replace(f" [{row.note}]", f' <a href="#note-{row.note}">[{row.note}]</a>')
        kind = f' class="status {"PASS" if cell == "PASS" else "other"}"' if name == "status" else ""
        cells.append(f'<td data-l="{escape(name)}"{kind}>{text}</td>')
    attributes = "".join(f' data-{k}="{escape(getattr(row, k))}"' for k in ("game", "rule", "flow", "status",
                                                                            "measure"))
    row_id = f' id="check-{row.index}"' if row.index is not None else ""
    return f'<tr{row_id}{" class=off" if off else ""}{attributes} data-off="{int(off)}">' + "".join(cells) + "</tr>"


def _results(content: dict) -> list[str]:
    """The results table (one row group per game: games with checks not met or flagged first, those open; on
    a narrow screen the others start collapsed), its notes and its largest deviations."""
    header, rows = content["header"], content["rows"]
    games: dict[str, list] = {}
    for row in rows:
        games.setdefault(row.game, []).append(row)
    off = {game: sum(not r.passed or r.status != "PASS" for r in members) for game, members in games.items()}
    parts = [f'<h2 id="results">Results ({len(rows)} checks)</h2>',
             "<p>Not met and flagged checks first, one group per game (on a phone, a game's group opens with a tap). "
             "A game links to the check's error panel (or the game's figures); [n] to the note with the reason a "
             "check expects another slope. Largest |fitted − expected|:</p><ul>"
             + "".join(f"<li>{escape(' · '.join(row.cells[:3]))} ({escape(row.cells[3])}): {escape(row.cells[7])}</li>"
                       for row in content["largest"]) + "</ul>",
             _controls(rows), '<table id="checks">',
             "<thead><tr>" + "".join(f'<th scope="col"><button type="button" class="sort" title="sort by {escape(h)}">'
                                     f"{escape(h)}</button></th>" for h in header) + "</tr></thead>"]
    for game in sorted(games, key=lambda g: not off[g]):
        members = games[game]
        failed = sum(not r.passed for r in members)
        flagged = off[game] - failed
        state = ", ".join(part for part in (f"{failed} not met" if failed else "",
                                            f"{flagged} flagged" if flagged else "") if part) or "all met"
        parts.append(f'<tbody data-group="{escape(game)}" data-off="{int(bool(off[game]))}">'
                     f'<tr class="group-head"><th colspan="{len(header)}" scope="rowgroup">{escape(game)}: '
                     f"{len(members)} checks, {state}</th></tr>")
        parts += [_row(row, header) for row in members]
        parts.append("</tbody>")
    parts += ["</table>", '<p id="empty" hidden>No check matches these filters.</p>']
    if content["notes"]:
        parts += ['<ol class="notes">', *(f'<li id="note-{n}">{escape(note)}</li>'
                                         for n, note in enumerate(content["notes"], start=1)), "</ol>"]
    return parts


def banner(status: dict | None) -> str:
    """The status banner: met or not, coloured, with a link to each check that missed (its table row), up to
    BANNER_LINKS, and a link to the table filtered to the checks not met or flagged."""
    if not status:
        return ""
    from harness.report import status_sentence

    failed = status["failed"]
    kind = "bad" if not status["met"] else "flag" if status["flagged"] else "ok"
    links = "".join(f'<li><a href="#{escape(f["id"])}">{escape(f["label"])}</a> ({escape(f["status"])}, expected '
                    f'{escape(f["expected_status"])})</li>' for f in failed[:BANNER_LINKS])
    more = (f"<li>… {len(failed) - BANNER_LINKS} more: "
            '<a href="#results" data-show-off="1">the results table, not met first</a></li>'
            if len(failed) > BANNER_LINKS else "")
    return (f'<div id="status" class="banner {kind}" role="status"><p><strong>{escape(status_sentence(status))}'
            f"</strong></p>" + (f"<ul>{links}{more}</ul>" if failed else "") + "</div>")


BANNER_LINKS = 12


def render_html(content: dict, folder: Path) -> str:
    """The page for the report ``content`` of harness.report (figure paths relative to ``folder``)."""
    page = Page(folder)
    parts = ['<h2 id="findings">Findings</h2>', "<ul>", *(f"<li>{escape(s)}</li>" for s in content["findings"]),
             "</ul>", *_results(content), '<h2 id="figures">Figures</h2>', f"<p>{escape(content['marker_key'])}</p>"]
    games = list(dict.fromkeys(f.game for f in content["figures"]))
    for game in games:
        count = sum(f.game == game for f in content["figures"])
        parts += [f'<h3 id="fig-{escape(game)}">{escape(game)}</h3>', '<details class="fold" open>'
                  f"<summary>{escape(game)}: {count} figure{'s' if count > 1 else ''}</summary>", '<div class="grid">']
        for figure in (f for f in content["figures"] if f.game == game):
            anchor = f' id="{escape(figure.anchor)}"' if getattr(figure, "anchor", "") else ""
            parts.append(f"<figure{anchor}>{page.svg(figure.path, figure.caption)}<figcaption>{escape(figure.caption)} "
                         f'(<a href="{escape(figure.path)}">SVG</a>, <a href="{escape(figure.path[:-4])}.png">PNG</a>)'
                         "</figcaption></figure>")
        parts.append("</div></details>")
    parts += section_html(content.get("sections", ""), folder, page)
    parts += ['<h2 id="environment">Environment</h2>', "<ul>",
              *(f"<li>{escape(item)}</li>" for item in content["environment"]), "</ul>"]
    title = escape(content["title"])
    head = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{title}</title>\n<style>{CSS}{page.stylesheet()}</style>\n</head>\n<body>",
            f"<h1>{title}</h1>", banner(content.get("status")), f"<p>{escape(content['summary'])}</p>",
            '<p>Files: <a href="results.json">results.json</a> (every number on this page) · <a href="index.md">'
            "index.md</a> (this report in Markdown) · figures as SVG and PNG in <code>figures/</code> and "
            "<code>paper/</code>.</p>",
            _contents(parts)]
    return "\n".join(head + parts + [f"<script>{SCRIPT}</script>", "</body>\n</html>\n"])


_IMAGE = re.compile(r"^!\[(.*)\]\((.+)\)$")


def _inline(text: str) -> str:
    """Escaped text with Markdown's `code`, **bold** and *italic*."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![*\w])\*(?!\s)(.+?)\*(?!\w)", r"<em>\1</em>", text)


def _cells(line: str) -> list[str]:
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def section_html(markdown: str, folder: Path, page: Page | None = None) -> list[str]:
    """HTML of a Markdown section made of what harness.paper and harness.literature write: ## and ###
    headings (with ids), paragraphs, pipe tables and images (SVGs inlined through ``page``, relative to
    ``folder``)."""
    page = page or Page(folder)
    parts: list[str] = []
    fences = re.compile(r"^```[^\n]*\n(.*?)\n```$", re.S | re.M)
    code: list[str] = []

    def keep(match: re.Match) -> str:
        code.append(match.group(1))
        return f"\x00{len(code) - 1}\x00"

    blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", fences.sub(keep, markdown)) if block.strip()]
    for block in blocks:
        lines = block.splitlines()
        image = _IMAGE.match(block)
        summary = re.fullmatch(r"<details><summary>(.*)</summary>", block)
        if re.fullmatch(r"\x00\d+\x00", block):
            parts.append(f'<pre class="formula">{escape(code[int(block.strip(chr(0)))])}</pre>')
        elif summary:
            parts.append(f'<details class="fold" open><summary>{_inline(summary.group(1))}</summary>')
        elif block == "</details>":
            parts.append("</details>")
        elif block.startswith("### "):
            parts.append(f'<h3 id="{slug(block[4:])}">{_inline(block[4:])}</h3>')
        elif block.startswith("## "):
            parts.append(f'<h2 id="{slug(block[3:])}">{_inline(block[3:])}</h2>')
        elif image:
            figure = f"<figure>{page.svg(image.group(2), image.group(1))}</figure>"
            if parts and parts[-1].startswith('<div class="grid">'):  # images one after another: one grid
                parts[-1] = parts[-1][:-len("</div>")] + figure + "</div>"
            else:
                parts.append(f'<div class="grid">{figure}</div>')
        elif all(line.startswith("|") for line in lines) and len(lines) >= 2:
            header, rows = _cells(lines[0]), [_cells(line) for line in lines[2:]]
            parts += ['<div class="scroll"><table>',
                      "<thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in header) + "</tr></thead><tbody>",
                      *("<tr>" + "".join(f'<td data-l="{escape(h)}">{_inline(c)}</td>' for h, c in
                                         zip(header, row, strict=False)) + "</tr>" for row in rows),
                      "</tbody></table></div>"]
        else:
            parts.append(f"<p>{_inline(' '.join(lines))}</p>")
    return parts
