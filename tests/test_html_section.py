"""The report page renders the Markdown section of harness.paper (headings with ids, tables, inline figures,
emphasis)."""

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
    assert '<figure><a class="zoom" href="paper/map.svg" title="open full size"><svg role="img" aria-label="a map" ' \
        'xmlns="http://www.w3.org/2000/svg"/></a></figure>' in parts  # inline, opens the file full size
    assert parts[-1] == "<p><em>a map: 100%</em></p>"
    assert section_html("", tmp_path) == []
