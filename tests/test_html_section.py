"""The report page renders the Markdown section of harness.paper (headings with ids, tables, inline figures,
emphasis)."""

from pathlib import Path

from harness.html import section_html

SECTION = """## The paper, checked

Each fact, **measured**: 1 of 1.

| # | measured | result |
|---|---|---|
| 7 | \\|ρ − 1\\| ≤ 3.3e-16 | PASS |

### Stability

![a map](paper/map.svg)

*a map: 100%*
"""


def test_section_html_renders_what_the_paper_section_writes(tmp_path):
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "map.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    parts = section_html(SECTION, tmp_path)
    assert parts[0] == '<h2 id="the-paper-checked">The paper, checked</h2>'
    assert parts[1] == "<p>Each fact, <strong>measured</strong>: 1 of 1.</p>"
    assert '<tr><td data-l="#">7</td><td data-l="measured">|ρ − 1| ≤ 3.3e-16</td><td data-l="result">PASS</td></tr>' \
        in parts
    assert '<h3 id="stability">Stability</h3>' in parts
    assert '<div class="grid"><figure><a class="zoom" href="paper/map.svg" title="open full size"><svg role="img" ' \
        'aria-label="a map" xmlns="http://www.w3.org/2000/svg"/></a></figure></div>' in parts  # inline, opens full size
    assert parts[-1] == "<p><em>a map: 100%</em></p>"
    assert section_html("", tmp_path) == []


def test_section_html_renders_formulas_and_folds():
    """A fenced block is a preformatted formula; <details> lines of harness.report pass through; images one after
    another share one grid."""
    parts = section_html("<details><summary>rule: verified</summary>\n\n```text\nφ̇ =\n    (α f)\n\n  + h (x < y)\n```"
                         "\n\n</details>\n\n![a](a.png)\n\n![b](b.png)\n", Path("/nonexistent"))
    assert parts[:3] == ['<details class="fold" open><summary>rule: verified</summary>',  # folded on a phone
                         '<pre class="formula">φ̇ =\n    (α f)\n\n  + h (x &lt; y)</pre>', "</details>"]
    assert parts[3].count("<figure>") == 2 and parts[3].startswith('<div class="grid">') and len(parts) == 4
