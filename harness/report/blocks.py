"""A report section as data: headings, paragraphs, tables, images, formulas and folds, written to Markdown
here (``index.md``) and to HTML by the page's template (harness.report.html), so that neither is parsed back from
the other.

A paragraph is a tuple of spans (kind, text): kind "" is plain text, "code", "strong" or "em" its markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Spans = tuple[tuple[str, str], ...]
MARKUP = {"": "", "code": "`", "strong": "**", "em": "*"}


def spans(*parts: str | tuple[str, str]) -> Spans:
    """A paragraph's spans: a str is plain text, a (kind, text) pair is marked up."""
    return tuple(("", part) if isinstance(part, str) else part for part in parts)


@dataclass(frozen=True)
class Heading:
    """A ## (level 2) or ### (level 3) heading; its id is ``harness.report.html.slug`` of the text."""

    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    spans: Spans


@dataclass(frozen=True)
class Table:
    """A table of plain-text cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Image:
    """A figure: its path relative to the report folder and its caption (the Markdown image's alt text)."""

    path: str
    caption: str


@dataclass(frozen=True)
class Code:
    """A preformatted formula."""

    text: str


@dataclass(frozen=True)
class Fold:
    """Blocks under a summary line (open on a wide screen, folded on a phone)."""

    summary: Spans
    blocks: tuple[Block, ...] = field(default_factory=tuple)


Block = Heading | Paragraph | Table | Image | Code | Fold


def inline(parts: Spans) -> str:
    """A paragraph's spans in Markdown."""
    return "".join(f"{MARKUP[kind]}{text}{MARKUP[kind]}" for kind, text in parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(blocks: list[Block] | tuple[Block, ...]) -> str:
    """The blocks in Markdown, one blank line between two blocks (a fold as <details>, as GitHub renders it)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(inline(block.spans))
        elif isinstance(block, Table):
            out.append("\n".join(["| " + " | ".join(_cell(c) for c in block.header) + " |",
                                  "|" + "---|" * len(block.header),
                                  *("| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows)]))
        elif isinstance(block, Image):
            out.append(f"![{block.caption}]({block.path})")
        elif isinstance(block, Code):
            out.append(f"```text\n{block.text}\n```")
        else:
            out.append(f"<details><summary>{inline(block.summary)}</summary>")
            if block.blocks:
                out.append(markdown(block.blocks))
            out.append("</details>")
    return "\n\n".join(out)


def headings(blocks: list[Block] | tuple[Block, ...], level: int = 2) -> list[str]:
    """The text of the headings of ``level`` (folds included), in order."""
    found: list[str] = []
    for block in blocks:
        if isinstance(block, Heading) and block.level == level:
            found.append(block.text)
        elif isinstance(block, Fold):
            found += headings(block.blocks, level)
    return found


def status_sentence(status: dict) -> str:
    """The banner in one sentence (Markdown and HTML)."""
    parts = []
    failed, flagged = status["failed"], status["flagged"]
    if failed:
        parts.append(f"✗ {len(failed)} of {status['checks']} checks did not meet their expectation")
    else:
        parts.append(f"✓ All {status['checks']} checks met their expectation")
    if flagged:
        parts.append(f"{len(flagged)} flagged (another status than PASS, as expected)")
    if status["facts"]:
        off = status["facts_off"]
        parts.append(f"paper facts: {status['facts'] - len(off)} of {status['facts']} confirmed"
                     + ("".join(f"; fact {f['number']} {f['verdict']}" for f in off)))
    if status["claims"]:
        missing = status["claims_not_reproduced"]
        parts.append(f"published claims: {status['claims'] - len(missing)} of {status['claims']} reproduced")
    return "; ".join(parts) + "."
