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
th { position: sticky; top: 0; background: #f4f4f6; }
#checks th { cursor: pointer; } #checks td:nth-child(n+5):nth-child(-n+8) { white-space: nowrap; }
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
.overlay { position: fixed; inset: 0; background: #fff; overflow: auto; z-index: 9; cursor: zoom-out; }
.overlay svg { width: max(96vw, 900px); height: auto; }
ol.notes { font-size: 14px; }
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
  if (!form || !table) return;
  form.hidden = false;
  var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows), order = rows.slice();
  var shown = document.getElementById('shown'), sort = document.getElementById('sort');
  function apply() {
    var query = form.elements.search.value.toLowerCase(), off = form.elements.off.checked, count = 0;
    var selects = form.querySelectorAll('select[data-key]');
    rows.forEach(function (row) {
      var keep = !off || row.dataset.off === '1';
      selects.forEach(function (s) { if (s.value && row.dataset[s.dataset.key] !== s.value) keep = false; });
      if (query && row.textContent.toLowerCase().indexOf(query) < 0) keep = false;
      row.hidden = !keep; if (keep) count += 1;
    });
    shown.textContent = count + ' of ' + rows.length + ' checks shown';
  }
  function key(row, column, absolute) {
    var text = row.cells[column].textContent, value = parseFloat(text);
    if (isNaN(value)) return text;
    return absolute ? -Math.abs(value) : value;
  }
  function sortBy(value) {
    var sorted = order.slice();
    if (value !== '') {
      var absolute = value.charAt(0) === 'a', column = parseInt(value.replace(/^[ad]/, ''), 10);
      var sign = value.charAt(0) === 'd' ? -1 : 1;
      sorted.sort(function (a, b) {
        var x = key(a, column, absolute), y = key(b, column, absolute);
        if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
        return sign * (x < y ? -1 : x > y ? 1 : 0);
      });
    }
    sorted.forEach(function (row) { body.appendChild(row); });
  }
  form.addEventListener('input', function (event) {
    if (event.target === sort) sortBy(sort.value); else apply();
  });
  form.addEventListener('submit', function (event) { event.preventDefault(); });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
    th.addEventListener('click', function () {
      var value = sort.value === String(column) ? 'd' + column : String(column);
      if (!sort.querySelector('option[value="' + value + '"]')) sort.add(new Option(value, value));
      sort.value = value;
      sortBy(value);
    });
  });
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a.zoom');
    var open = document.querySelector('.overlay');
    if (open) { open.remove(); event.preventDefault(); return; }
    if (!link) return;
    event.preventDefault();
    var overlay = document.createElement('div');
    overlay.className = 'overlay';
    overlay.appendChild(link.querySelector('svg').cloneNode(true));
    document.body.appendChild(overlay);
  });
  document.addEventListener('keydown', function (event) {
    var open = document.querySelector('.overlay');
    if (open && event.key === 'Escape') open.remove();
  });
  apply();
})();
"""

WIDE_PT = 480
"""Figures wider than this (points; several panels side by side) keep a legible width and scroll inside their
box on narrow screens."""
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_RULE = re.compile(r"(\.s[0-9a-f]{7})\{([^}]*)\}")


class Page:
    """What the figures of one page share: their style rules, collected once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.rules: dict[str, str] = {}

    def svg(self, path: str, caption: str) -> str:
        """The SVG at ``path`` (relative to the folder) inline, its style rules moved to the page, wrapped in
        a link that opens it full size (the file without script; an overlay with it)."""
        source = self.folder / path
        if source.suffix != ".svg" or not source.exists():
            return f'<a href="{escape(path)}">{escape(caption)}</a>'
        text = source.read_text()
        for style in _STYLE.findall(text):
            self.rules.update(_RULE.findall(style))
        text = _STYLE.sub("", re.sub(r"<\?xml[^>]*\?>", "", text)).strip()
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


def _results(content: dict) -> list[str]:
    """The results table, its notes and its largest deviations."""
    header, rows = content["header"], content["rows"]
    parts = [f'<h2 id="results">Results ({len(rows)} checks)</h2>',
             "<p>Not met and flagged checks first. A game links to its figures; [n] to the note with the reason "
             "a check expects another slope. Largest |fitted − expected|:</p><ul>"
             + "".join(f"<li>{escape(' · '.join(row.cells[:3]))} ({escape(row.cells[3])}): {escape(row.cells[7])}</li>"
                       for row in content["largest"]) + "</ul>",
             _controls(rows), '<div class="scroll"><table id="checks">',
             "<thead><tr>" + "".join(f'<th title="sort">{escape(h)}</th>' for h in header) + "</tr></thead><tbody>"]
    for row in rows:
        off = not row.passed or row.status != "PASS"
        cells = []
        for index, (name, cell) in enumerate(zip(header, row.cells, strict=True)):
            text = escape(cell)
            if index == 0:
                text = f'<a href="#fig-{escape(row.game)}">{text}</a>'
            elif name == "expected" and row.note:
                text = text.replace(f" [{row.note}]", f' <a href="#note-{row.note}">[{row.note}]</a>')
            kind = f' class="status {"PASS" if cell == "PASS" else "other"}"' if name == "status" else ""
            cells.append(f'<td data-l="{escape(name)}"{kind}>{text}</td>')
        attributes = "".join(f' data-{k}="{escape(getattr(row, k))}"' for k in ("game", "rule", "flow", "status",
                                                                                "measure"))
        parts.append(f'<tr{" class=off" if off else ""}{attributes} data-off="{int(off)}">' + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    if content["notes"]:
        parts += ['<ol class="notes">', *(f'<li id="note-{n}">{escape(note)}</li>'
                                         for n, note in enumerate(content["notes"], start=1)), "</ol>"]
    return parts


def render_html(content: dict, folder: Path) -> str:
    """The page for the report ``content`` of harness.report (figure paths relative to ``folder``)."""
    page = Page(folder)
    parts = ['<h2 id="findings">Findings</h2>', "<ul>", *(f"<li>{escape(s)}</li>" for s in content["findings"]),
             "</ul>", *_results(content), '<h2 id="figures">Figures</h2>', f"<p>{escape(content['marker_key'])}</p>"]
    games = list(dict.fromkeys(f.game for f in content["figures"]))
    for game in games:
        parts += [f'<h3 id="fig-{escape(game)}">{escape(game)}</h3>', '<div class="grid">']
        for figure in (f for f in content["figures"] if f.game == game):
            parts.append(f"<figure>{page.svg(figure.path, figure.caption)}<figcaption>{escape(figure.caption)} "
                         f'(<a href="{escape(figure.path)}">SVG</a>, <a href="{escape(figure.path[:-4])}.png">PNG</a>)'
                         "</figcaption></figure>")
        parts.append("</div>")
    parts += section_html(content.get("sections", ""), folder, page)
    parts += ['<h2 id="environment">Environment</h2>', "<ul>",
              *(f"<li>{escape(item)}</li>" for item in content["environment"]), "</ul>"]
    title = escape(content["title"])
    head = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{title}</title>\n<style>{CSS}{page.stylesheet()}</style>\n</head>\n<body>",
            f"<h1>{title}</h1>", f"<p>{escape(content['summary'])}</p>",
            '<p>Files: <a href="results.json">results.json</a> (every number) · <a href="index.md">index.md</a> '
            "(this report in Markdown) · figures as SVG and PNG in <code>figures/</code> and <code>paper/</code>.</p>",
            _contents(parts)]
    return "\n".join(head + parts + [f"<script>{SCRIPT}</script>", "</body>\n</html>\n"])


_IMAGE = re.compile(r"^!\[(.*)\]\((.+)\)$")


def _inline(text: str) -> str:
    """Escaped text with Markdown's **bold** and *italic*."""
    text = escape(text)
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
    blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", markdown) if block.strip()]
    for block in blocks:
        lines = block.splitlines()
        image = _IMAGE.match(block)
        if block.startswith("### "):
            parts.append(f'<h3 id="{slug(block[4:])}">{_inline(block[4:])}</h3>')
        elif block.startswith("## "):
            parts.append(f'<h2 id="{slug(block[3:])}">{_inline(block[3:])}</h2>')
        elif image:
            parts.append(f"<figure>{page.svg(image.group(2), image.group(1))}</figure>")
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
