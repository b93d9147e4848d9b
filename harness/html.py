"""``index.html`` of a report: one self-contained page (inline CSS, SVG figures as base64 data URIs, no
script, no external link) with the summary, findings, the results table (scrollable, not-met rows
highlighted), the figures per game and the environment."""

from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 1180px;
       padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.scroll { max-height: 30em; overflow: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { position: sticky; top: 0; background: #f4f4f6; white-space: nowrap; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.not-met td { background: #fde8e8; }
.status { font-weight: 600; } .PASS { color: #18794e; } .other { color: #b4232a; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 12.5px; }
"""


def _data_uri(svg: Path) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.read_bytes()).decode("ascii")


def render_html(content: dict, folder: Path) -> str:
    """The page for the report ``content`` of harness.report (figure paths relative to ``folder``)."""
    numeric = {content["header"].index(name) for name in ("fitted (± s.e.)", "fit range of h")}
    status_column = content["header"].index("status")
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             f"<title>{escape(content['title'])}</title>\n<style>{CSS}</style>\n</head>\n<body>",
             f"<h1>{escape(content['title'])}</h1>", f"<p>{escape(content['summary'])}</p>",
             "<h2>Findings</h2>", "<ul>", *(f"<li>{escape(s)}</li>" for s in content["findings"]), "</ul>",
             f"<h2>Results ({len(content['rows'])} checks)</h2>", '<div class="scroll"><table>',
             "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in content["header"]) + "</tr></thead>",
             "<tbody>"]
    for row, passed in zip(content["rows"], content["passed"], strict=True):
        cells = []
        for index, cell in enumerate(row):
            if index == status_column:
                kind = "PASS" if cell == "PASS" else "other"
                cells.append(f'<td class="status {kind}">{escape(cell)}</td>')
            else:
                cells.append(f'<td class="num">{escape(cell)}</td>' if index in numeric else f"<td>{escape(cell)}</td>")
        parts.append(("<tr>" if passed else '<tr class="not-met">') + "".join(cells) + "</tr>")
    games = list(dict.fromkeys(f.game for f in content["figures"]))
    parts += ["</tbody></table></div>", "<h2>Figures</h2>",
              "<p>" + " · ".join(f'<a href="#{escape(game)}">{escape(game)}</a>' for game in games) + "</p>"]
    for game in games:
        parts.append(f'<h3 id="{escape(game)}">{escape(game)}</h3>')
        for figure in (f for f in content["figures"] if f.game == game):
            parts.append(f'<figure><img src="{_data_uri(folder / figure.path)}" alt="{escape(figure.caption)}">'
                         f"<figcaption>{escape(figure.caption)} ({escape(figure.path)})</figcaption></figure>")
    parts += section_html(content.get("paper", ""), folder)
    parts += ["<h2>Environment</h2>", "<ul>", *(f"<li>{escape(item)}</li>" for item in content["environment"]),
              "</ul>", "</body>\n</html>\n"]
    return "\n".join(parts)


_IMAGE = re.compile(r"^!\[(.*)\]\((.+)\)$")


def _inline(text: str) -> str:
    """Escaped text with Markdown's **bold** and *italic*."""
    text = escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![*\w])\*(?!\s)(.+?)\*(?!\w)", r"<em>\1</em>", text)


def _cells(line: str) -> list[str]:
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def section_html(markdown: str, folder: Path) -> list[str]:
    """HTML of a Markdown section made of what harness.paper writes: ## and ### headings, paragraphs,
    pipe tables and images (SVGs inlined as data URIs, relative to ``folder``)."""
    parts: list[str] = []
    blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", markdown) if block.strip()]
    for block in blocks:
        lines = block.splitlines()
        image = _IMAGE.match(block)
        if block.startswith("### "):
            parts.append(f"<h3>{_inline(block[4:])}</h3>")
        elif block.startswith("## "):
            parts.append(f"<h2>{_inline(block[3:])}</h2>")
        elif image:
            source = folder / image.group(2)
            src = _data_uri(source) if source.suffix == ".svg" and source.exists() else escape(image.group(2))
            parts.append(f'<figure><img src="{src}" alt="{escape(image.group(1))}"></figure>')
        elif all(line.startswith("|") for line in lines) and len(lines) >= 2:
            header, rows = _cells(lines[0]), [_cells(line) for line in lines[2:]]
            parts += ['<div class="scroll"><table>',
                      "<thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in header) + "</tr></thead><tbody>",
                      *("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in rows),
                      "</tbody></table></div>"]
        else:
            parts.append(f"<p>{_inline(' '.join(lines))}</p>")
    return parts
