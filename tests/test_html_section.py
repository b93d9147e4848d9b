"""The report page renders the Markdown section of harness.paper (headings, tables, images, emphasis)."""

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
    assert parts[0] == "<h2>The paper, checked</h2>"
    assert parts[1] == "<p>Each fact, <strong>measured</strong>: 1 of 1.</p>"
    assert "<tr><td>7</td><td>|ρ − 1| ≤ 3.3e-16</td><td>PASS</td></tr>" in parts
    assert "<h3>Stability</h3>" in parts
    assert any(p.startswith('<figure><img src="data:image/svg+xml;base64,') and 'alt="a map"' in p for p in parts)
    assert parts[-1] == "<p><em>a map: 100%</em></p>"
    assert section_html("", tmp_path) == []
