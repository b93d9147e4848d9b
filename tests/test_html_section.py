"""The report page renders a section's blocks (harness.report.blocks: headings with ids, tables, inline figures,
emphasis, formulas, folds) through its template, and index.md writes the same blocks as Markdown."""

from pathlib import Path

from harness.report.blocks import Code, Fold, Heading, Image, Paragraph, Table, headings, markdown, spans
from harness.report.html import section_html

SECTION = [Heading(2, "The paper, checked"), Paragraph(spans("Each fact, ", ("strong", "measured"), ": 1 of 1.")),
           Table(("#", "measured", "result"), (("7", "|ρ − 1| ≤ 3.3e-16", "PASS"),)), Heading(3, "Stability"),
           Image("paper/map.svg", "a map"), Paragraph(spans(("em", "a map: 100%"))),
           Paragraph(spans("a literal -alpha**2/2 for -alpha*lambda/2"))]


def test_section_html_renders_the_blocks(tmp_path):
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "map.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    parts = section_html(SECTION, tmp_path).splitlines()
    assert parts[0] == '<h2 id="the-paper-checked">The paper, checked</h2>'
    assert parts[1] == "<p>Each fact, <strong>measured</strong>: 1 of 1.</p>"
    assert '<tr><td data-l="#">7</td><td data-l="measured">|ρ − 1| ≤ 3.3e-16</td><td data-l="result">PASS</td></tr>' \
        in parts
    assert '<h3 id="stability">Stability</h3>' in parts
    assert '<div class="grid"><figure><a class="zoom" href="paper/map.svg" title="open full size"><svg role="img" ' \
        'aria-label="a map" xmlns="http://www.w3.org/2000/svg"/></a></figure></div>' in parts  # inline, opens full size
    assert parts[-2] == "<p><em>a map: 100%</em></p>"
    assert parts[-1] == "<p>a literal -alpha**2/2 for -alpha*lambda/2</p>"  # text is never read as markup
    assert section_html([], tmp_path) == ""


def test_markdown_of_the_same_blocks():
    text = markdown(SECTION)
    assert text.startswith("## The paper, checked\n\nEach fact, **measured**: 1 of 1.\n\n| # | measured | result |")
    assert "| 7 | \\|ρ − 1\\| ≤ 3.3e-16 | PASS |" in text and "![a map](paper/map.svg)\n\n*a map: 100%*" in text
    assert headings(SECTION) == ["The paper, checked"] and headings(SECTION, 3) == ["Stability"]


def test_section_html_renders_formulas_and_folds():
    """A formula is preformatted (escaped); a fold is a <details> (folded on a phone); images one after another
    share one grid."""
    blocks = [Fold(spans("rule: verified"), (Code("φ̇ =\n    (α f)\n\n  + h (x < y)"),)),
              Image("a.png", "a"), Image("b.png", "b")]
    parts = section_html(blocks, Path("/nonexistent"))
    assert parts.startswith('<details class="fold" open><summary>rule: verified</summary>\n'
                            '<pre class="formula">φ̇ =\n    (α f)\n\n  + h (x &lt; y)</pre>\n</details>\n')
    grid = parts.splitlines()[-1]
    assert grid.count("<figure>") == 2 and grid.startswith('<div class="grid">')
    assert markdown(blocks).startswith("<details><summary>rule: verified</summary>\n\n```text\nφ̇ =")
