"""The report generator on a small matrix (files, tables, figures, byte stability), the phase-plane
trajectories, and ``harness report --compare``."""

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.base.integrate import reference_solution
from harness.checks import CheckSpec, Settings, run_checks
from harness.cli import main
from harness.flows import CLOSED_FORM, Flow, flow_field
from harness.measure.orbits import flow_orbit, rule_orbit
from harness.measure.trajectories import SAMPLES_PER_STEP, _computed, trajectories
from harness.report import PUBLISHED, findings, ordered, table_rows, write_report
from harness.report.figures import projection
from harness.rules.schemes import Scheme, update_rule

SETTINGS = Settings(points=2)
GAMES = ("dirac_gan", "rotational", "quadratic_objective")


def small_matrix(games):
    specs = [CheckSpec(game, Scheme(name, 1.0, lr2), Flow(flow), 2.0 if (flow == "official" and lr2 != 1.0) else None)
             for game in ("dirac_gan", "rotational") for name in ("simultaneous", "alternating")
             for lr2 in (1.0, 0.3) for flow in ("gradient", "modified", "official")]
    specs += [CheckSpec("quadratic_objective", Scheme("gd"), Flow(flow)) for flow in ("gradient", "igr")]
    return run_checks(specs, games, SETTINGS)


@pytest.fixture(scope="module")
def reports(games, tmp_path_factory):
    """The small matrix's results and its report written twice (the second over a stale figure)."""
    results = small_matrix(games)
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    write_report(results, SETTINGS, first, games)
    (second / "figures").mkdir()
    (second / "figures" / "renamed_game-error.svg").write_text("<svg/>")
    write_report(results, SETTINGS, second, games)
    return results, first, second


def test_report_has_the_files_table_and_figures(reports):
    results, out, _ = reports
    assert len(results) == 26
    assert {p.name for p in out.iterdir()} == {"index.md", "index.html", "results.json", "figures"}
    figures = sorted(p.name for p in (out / "figures").iterdir())
    panels = [f"{game}-{kind}-{rule}" for game in GAMES[:2] for kind in ("error", "phase")
              for rule in ("simultaneous", "alternating")]
    panels += ["quadratic_objective-error-gd", "quadratic_objective-phase-gd"]
    assert figures == sorted(f"{panel}.{ext}" for panel in panels for ext in ("svg", "png"))
    text = (out / "index.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| game |")]
    assert len(rows) == len(results)
    assert sum(row.endswith(" |") and "| PASS |" in row for row in rows) == 26
    for section in ("## Findings", "## Results", "## Figures", "## Environment", "- git commit:", "- date:",
                    "- seed: 0", "jax "):
        assert section in text
    links = re.findall(r"\]\((figures/[^)]+)\)", text)
    assert len(links) == 20 and len(set(links)) == 20  # 10 panels, each as SVG image and PNG link
    assert all((out / link).is_file() for link in links)


def test_html_page_is_self_contained(reports):
    results, out, _ = reports
    page = (out / "index.html").read_text()
    table = page.split('<table id="checks">')[1].split("</table>")[0]
    assert len(re.findall(r'<tr id="check-\d+"', table)) == len(results)
    assert table.count('<tr class="group-head">') == len(GAMES)  # one row group per game
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    assert len(svgs) == 10 and all('role="img"' in svg and "width=" not in svg.split(">")[0] for svg in svgs)
    first = (out / "figures" / "dirac_gan-error-simultaneous.svg").read_text()
    assert re.search(r'<path d="[^"]+"', first).group(0) in svgs[0]  # the file, inlined
    assert "<style" not in "".join(svgs) and page.count("<style>") == 1  # one stylesheet for all figures
    # nothing to fetch: no src, no @import, no url() but fragments; links only to anchors and the report's files
    assert "src=" not in page and "@import" not in page and not re.search(r"url\((?!#)", page)
    assert page.count("<script>") == 1
    assert '<div id="status" class="banner ok" role="status">' in page
    targets = re.findall(r'href="([^"]+)"', page)
    assert all(re.match(r"#|results\.json$|index\.md$|figures/[\w.-]+\.(svg|png)$", t) for t in targets), targets
    ids = set(re.findall(r' id="([^"]+)"', page))
    assert {t[1:] for t in targets if t.startswith("#")} <= ids  # every anchor lands
    assert {f"fig-{game}" for game in GAMES} | {"findings", "results", "figures", "environment"} <= ids
    panel = "fig-dirac_gan-error-simultaneous"
    assert panel in ids and f'href="#{panel}"' in page  # a row links to its own panel
    contents = page[page.index('<nav class="toc">'):page.index("</nav>")]
    assert all(f'href="#{anchor}"' in contents for anchor in re.findall(r'<h[23] id="([^"]+)"', page))


def test_table_puts_misses_first_with_deviation_and_meaningful_errors(reports):
    results = list(reports[0])
    missed = replace(results[5], fit=replace(results[5].fit, status="FAIL"))
    rows = table_rows(ordered([*results[:5], missed, *results[6:]]))
    assert rows[0].cells == table_rows([missed])[0].cells and not rows[0].passed
    assert rows[0].cells[9] == "FAIL ✗ (expected PASS)"
    for row, r in zip(rows[1:], ordered([*results[:5], *results[6:]]), strict=True):
        fitted, se, deviation = (row.cells[i] for i in (5, 6, 7))
        assert float(deviation) == pytest.approx(float(fitted) - r.spec.expected_slope, abs=1.5e-3)
        assert se != "0.000" and float(se) == pytest.approx(r.fit.stderr, rel=0.05)  # two significant figures


def test_figures_are_compact_valid_svg(reports):
    _, out, _ = reports
    for svg in (out / "figures").glob("*.svg"):
        text = svg.read_text()
        ET.fromstring(text.split("?>", 1)[1])  # well-formed
        attributes = "".join(re.findall(r'="[^"]*"', text))
        assert "style=" not in text and "<metadata>" not in text and not re.search(r"\d\.\d{3}", attributes)
        assert len(text) < 40_000, (svg.name, len(text))


def test_results_json_is_the_check_contract(reports):
    _, out, _ = reports
    document = json.loads((out / "results.json").read_text())
    assert document["schema_version"] == 1
    assert document["summary"] == {"checks": 26, "passed": 26, "failed": 0, "statuses": {"PASS": 26}}
    assert document["status"]["met"] and document["status"]["failed"] == [] and document["findings"]
    assert "paper" not in document and "derived_flows" not in document  # only where the report covers their games
    assert "date" not in json.dumps(document["environment"])
    first = document["results"][0]
    for key in ("game", "scheme", "flow", "expected_slope", "fitted_slope", "status", "passed", "step_sizes",
                "points", "errors", "reference_error", "fit_range", "used_in_fit"):
        assert key in first


def test_two_runs_give_identical_figures_and_json(reports):
    _, first, second = reports
    for svg in sorted((first / "figures").glob("*.svg")):
        content = svg.read_bytes()
        assert content == (second / "figures" / svg.name).read_bytes(), svg.name
        assert b"<dc:date>" not in content
    assert not (second / "figures" / "renamed_game-error.svg").exists()  # stale figure removed

    def without_timing(path):
        document = json.loads(path.read_text())
        for entry in document["results"]:
            entry.pop("seconds")
        document["environment"].pop("git_commit")  # the same checkout, unless someone commits in between
        return document

    assert without_timing(first / "results.json") == without_timing(second / "results.json")


def test_findings_state_the_official_convention_slopes(reports):
    sentence = [s for s in findings(reports[0]) if s.startswith("The official-code convention")][0]
    equal, unequal = sentence.split(" when lr1 = lr2 and ")
    assert abs(float(equal.split("slope ")[1].split(" ")[0]) - 3.0) < 0.15
    assert abs(float(unequal.split("slope ")[1].split(" ")[0]) - 2.0) < 0.15


def ranges_in_findings(folder):
    """Check every slope range in ``folder``'s index.md Findings against results.json: each is the range of
    exactly the checks of one flow, measure and expected slope. Returns how many ranges there are."""
    text = (folder / "index.md").read_text()
    lines = text[text.index("## Findings"):text.index("## Results")].splitlines()
    entries = json.loads((folder / "results.json").read_text())["results"]
    ranges = 0
    for line in lines:
        for flow, measure, expected, count, low, high in re.findall(
                r"Against .+? \(`(.+?)`\), (local|global) error, expected slope ([\d.]+): (\d+) checks? measured "
                r"([\d.]+)(?: to ([\d.]+))?", line):
            high = high or low
            slopes = [e["fitted_slope"] for e in entries if flow_label(e) == flow
                      and e["measure"] == measure and e["expected_slope"] == float(expected)
                      and e["fitted_slope"] is not None]
            assert (len(slopes), f"{min(slopes):.2f}", f"{max(slopes):.2f}") == (int(count), low, high)
            ranges += 1
        for low, high, count, expected, equal in re.findall(
                r"range ([\d.]+)–([\d.]+), (\d+) checks?, expected ([\d.]+)\) when lr1 (=|≠) lr2", line):
            slopes = [e["fitted_slope"] for e in entries if e["flow"]["name"] == "official" and e["measure"] == "local"
                      and e["expected_slope"] == float(expected)
                      and (e["scheme"]["lr1"] == e["scheme"]["lr2"]) == (equal == "=")]
            assert (len(slopes), f"{min(slopes):.2f}", f"{max(slopes):.2f}") == (int(count), low, high)
            ranges += 1
        assert not re.search(r"from [\d.]+ to [\d.]+ \(expected", line)  # the old, mixed summary
    return ranges


def flow_label(entry: dict) -> str:
    """A results.json check's flow as the Findings name it (Flow.label; the literature's flows as one group)."""
    if "/literature/" in entry["flow"].get("source", ""):
        return PUBLISHED
    return Flow.from_dict(entry["flow"]).label


def checks_in_findings(folder):
    """Every check of ``folder``'s results.json is in exactly one Findings line of index.md: the line of its flow,
    measure and expected slope, which counts it. Returns the number of such lines."""
    text = (folder / "index.md").read_text()
    lines = text[text.index("## Findings"):text.index("## Results")].splitlines()
    entries = json.loads((folder / "results.json").read_text())["results"]
    groups: dict[tuple, int] = {}
    for e in entries:
        key = (flow_label(e), e["measure"], "none" if e["expected_slope"] is None else f"{e['expected_slope']:g}")
        groups[key] = groups.get(key, 0) + 1
    counted: dict[tuple, int] = {}
    for line in lines:
        match = re.match(r"- Against .+? \(`(.+?)`\), (local|global) error, expected slope ([\w.]+): (.*)", line)
        if match:
            key = match.groups()[:3]
            assert key not in counted, key  # one line per group
            numbers = re.findall(r"(\d+) checks? (?:measured|without a fitted slope)", match.group(4))
            counted[key] = sum(int(n) for n in numbers)
    assert counted == groups
    return len(counted)


def test_findings_never_give_a_range_across_expected_slopes(reports):
    assert ranges_in_findings(reports[1]) == 7  # gradient, modified, official (2 slopes), igr; official by rates


def test_findings_cover_every_check_and_start_with_the_status(reports):
    assert checks_in_findings(reports[1]) == 5  # gradient, modified, official at slopes 3 and 2, igr
    text = (reports[1] / "index.md").read_text()
    assert text.splitlines()[2] == "**✓ All 26 checks met their expectation.**"  # the banner, under the title
    assert text.split("## Findings\n\n")[1].startswith("- All 26 checks met their expectation.")


def test_a_check_that_missed_is_in_the_banner_and_first_in_the_findings(reports, tmp_path):
    results = list(reports[0])
    results[4] = replace(results[4], fit=replace(results[4].fit, status="FAIL", reasons=["forced"]))
    write_report(results, SETTINGS, tmp_path)
    text = (tmp_path / "index.md").read_text()
    assert text.splitlines()[2].startswith("**✗ 1 of 26 checks did not meet their expectation")
    first = text.split("## Findings\n\n")[1].splitlines()[0]
    assert first.startswith("- Not met: 1 of 26 checks missed their expectation") and results[4].spec.label in first
    page = (tmp_path / "index.html").read_text()
    assert '<div id="status" class="banner bad"' in page and 'href="#check-4"' in page and 'id="check-4"' in page
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["status"]["failed"][0]["id"] == "check-4" and not document["status"]["met"]


def test_page_has_no_repeated_id(reports):
    """Parsed by the standard library's HTML parser: every id once (the figures' shared marker definitions
    are inlined once)."""
    from html.parser import HTMLParser

    class Ids(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.ids += [value for name, value in attrs if name == "id"]

        handle_startendtag = handle_starttag

    parser = Ids()
    parser.feed((reports[1] / "index.html").read_text())
    repeated = {i for i in parser.ids if parser.ids.count(i) > 1}
    assert parser.ids and not repeated, sorted(repeated)[:5]
    uses = re.findall(r'xlink:href="#([^"]+)"', (reports[1] / "index.html").read_text())
    assert uses and set(uses) <= set(parser.ids)  # every marker reference resolves


REFERENCE = Path(__file__).resolve().parents[1] / "reports" / "reference"


def test_the_reference_report_findings_never_give_a_range_across_expected_slopes():
    assert ranges_in_findings(REFERENCE) >= 10


def test_the_reference_report_findings_cover_every_check():
    assert checks_in_findings(REFERENCE) >= 10


def _numbers(value) -> list[float]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _printed(token: str, value: float) -> bool:
    """Whether ``value`` printed at the precision of ``token`` (decimals, or significant figures in e-notation,
    or a percentage rounded to an integer) gives ``token``."""
    if "e" in token.lower():
        mantissa, _ = token.lower().split("e")
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return f"{value:.{digits}e}" == f"{float(token):.{digits}e}"
    digits = len(token.split(".")[1]) if "." in token else 0
    return f"{value:.{digits}f}" == token or f"{abs(value):.{digits}f}" == token.lstrip("-")


def test_every_number_of_the_reference_paper_section_is_in_results_json():
    """The numbers the section "The paper, checked" prints (measured column, stability shares, invariant and drift
    tables, distances) are numbers of results.json's key paper; the facts' statements are its strings."""
    text = (REFERENCE / "index.md").read_text()
    section = text[text.index("## The paper, checked"):]
    section = section[:section.index("\n## ", 5)]
    paper = json.loads((REFERENCE / "results.json").read_text())["paper"]
    numbers, strings = _numbers(paper), " ".join(_strings(paper))
    claims = {f["claim"] for f in paper["facts"]}
    missing = []
    for line in section.splitlines():
        cells = [c for c in re.split(r"(?<!\\)\|", line) if c.strip()] if line.startswith("|") else [line]
        for cell in cells:
            if cell.strip().replace("\\|", "|") in claims:
                continue  # a fact as docs/theory.md states it (its own numbers)
            for token in re.findall(r"(?<![\w.⁰-⁹])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?%?", cell):
                bare = token.rstrip("%")
                if "." not in bare and "e" not in bare:
                    if bare.lstrip("-") in strings or float(bare) in numbers:
                        continue
                if not any(_printed(bare, v) for v in numbers):
                    missing.append((token, cell.strip()[:80]))
    assert not missing, missing[:10]


def test_modified_flow_tracks_the_iterates_more_closely_than_the_gradient_flow(games):
    paths = trajectories(games["dirac_gan"], steps=40)
    assert [panel.scheme.name for panel in paths.panels] == ["simultaneous", "alternating"]
    for panel in paths.panels:
        assert panel.iterates.shape == (41, 2) and panel.flows["gradient"].shape == (40 * SAMPLES_PER_STEP + 1, 2)
        gaps = {name: np.abs(path[::SAMPLES_PER_STEP] - panel.iterates).max() for name, path in panel.flows.items()}
        assert gaps["modified"] < 0.2 * gaps["gradient"], gaps


def test_a_games_trajectories_are_two_compiled_programs(games):
    """The iterates of simultaneous and alternating GD share one program, the gradient flow and both modified flows
    another (step size, rates and flow coefficients traced); the paths equal those of the update rule and of the
    flow field compiled on their own, to round-off."""
    game, steps, schemes = games["dirac_gan"], 6, [Scheme("simultaneous"), Scheme("alternating")]
    rule_orbit.cache_clear()
    flow_orbit.cache_clear()
    h, gradient, *paths = _computed(game, schemes, "modified", steps, 0.2)
    structure = schemes[0].kernel_structure(game, False)
    assert rule_orbit.cache_info().currsize == 1 and flow_orbit.cache_info().currsize == 1
    assert rule_orbit(game, structure, steps)._cache_size() == 1
    assert flow_orbit(game, structure, CLOSED_FORM, False, steps, SAMPLES_PER_STEP)._cache_size() == 1
    for scheme, iterates, path in zip(schemes, paths[::2], paths[1::2], strict=True):
        rule, field, z, x = update_rule(game, scheme), flow_field(game, Flow("modified"), scheme), game.z0, game.z0
        for n in range(1, steps + 1):
            z = rule(z, h)
            np.testing.assert_allclose(iterates[n], z, rtol=1e-13, atol=1e-15)
        for n in range(1, SAMPLES_PER_STEP + 1):
            x = reference_solution(lambda y, field=field: field(y, h), x, h / SAMPLES_PER_STEP, False)[0]
            np.testing.assert_allclose(path[n], x, rtol=1e-13, atol=1e-15)
    assert not np.allclose(paths[1], gradient) and not np.allclose(paths[1], paths[3])


def test_projection_of_larger_games_is_labelled():
    assert projection((1, 1)) == ((0, 1), ("φ", "θ"), "")
    indices, labels, note = projection((3, 2))
    assert indices == (0, 3) and labels == ("φ[0]", "θ[0]") and "3 + 2" in note
    assert projection((3, 0))[1] == ("x[0]", "x[1]") and projection((1, 0))[1] == ("time t", "x")


def test_report_command_writes_the_report(tmp_path, capsys):
    matrix, out = tmp_path / "matrix.toml", tmp_path / "report"
    matrix.write_text('[settings]\npoints = 2\n[[check]]\ngames = ["dirac_gan_bilinear"]\nscheme = "alternating"\n'
                      'flows = ["gradient", "modified"]\n')
    code = main(["report", "--game", "dirac_gan_bilinear", "--matrix", str(matrix), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"report written to {out / 'index.md'}" in captured.out
    assert "[1/2] ok " in captured.err and "[1/1] figures of dirac_gan_bilinear" in captured.err  # progress
    assert len(list((out / "figures").glob("*.svg"))) == 3 and (out / "index.html").is_file()  # error, 2 phases


# --- harness report --compare ---------------------------------------------------------------------


@pytest.fixture
def documents(reports, tmp_path):
    """OLD: the small report's results.json; change(edit) writes an edited copy and returns its path."""
    old = reports[1] / "results.json"

    def change(edit):
        document = json.loads(old.read_text())
        edit(document["results"])
        path = tmp_path / f"new{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(document))
        return str(path)

    return str(old), change


def compare(capsys, *args):
    code = main(["report", "--compare", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compare_identical_results_exits_0(documents, capsys):
    old, change = documents
    code, out, _ = compare(capsys, old, change(lambda results: None))
    assert code == 0 and out.strip() == "26 checks in both; no change"


def test_compare_reports_a_regression_and_exits_1(documents, capsys):
    old, change = documents

    def regress(results):
        results[1].update(status="FAIL", passed=False, fitted_slope=2.4)

    code, out, _ = compare(capsys, old, change(regress))
    assert code == 1
    assert out.splitlines()[0].startswith("REGRESSED")
    assert "dirac_gan · simultaneous(lr1=1, lr2=1) · modified: PASS → FAIL" in out
    assert out.splitlines()[-1] == "26 checks in both; 1 regressed"


def test_compare_keeps_a_global_check_apart_from_its_local_twin(documents, capsys):
    old, change = documents

    def add_global(results):
        results.append(dict(results[1], measure="global", horizon=0.5, requested_horizon=None, fitted_slope=2.0))

    def regress(results):
        add_global(results)
        results[-1].update(status="FAIL", passed=False, fitted_slope=1.6)

    code, out, _ = compare(capsys, change(add_global), change(regress))
    assert code == 1
    assert "dirac_gan · simultaneous(lr1=1, lr2=1) · modified · global: PASS → FAIL" in out
    assert out.splitlines()[-1] == "27 checks in both; 1 regressed"


def test_compare_reports_moved_slopes_and_changed_checks(documents, capsys):
    old, change = documents

    def edit(results):
        results[0]["fitted_slope"] += 0.08  # moved by more than 0.05
        results[2]["fitted_slope"] += 0.03  # within the tolerance
        results[3]["scheme"]["lr2"] = 0.7  # disappeared (lr2 = 0.3) and appeared (lr2 = 0.7)
        results.pop()

    code, out, _ = compare(capsys, old, change(edit))
    assert code == 0
    kinds = [line.split()[0] for line in out.splitlines()[:-1]]
    assert kinds == ["SLOPE", "APPEARED", "DISAPPEARED", "DISAPPEARED"]
    assert "(moved +0.080, tolerance 0.05)" in out
    code, out, _ = compare(capsys, old, change(edit), "--slope-tolerance", "0.1")
    assert "SLOPE" not in out


def test_compare_new_failing_check_exits_1(documents, capsys):
    old, change = documents

    def add(results):
        results.append({**results[0], "game": "new_game", "status": "FAIL", "passed": False})

    code, out, _ = compare(capsys, old, change(add))
    assert code == 1 and out.startswith("NEW-FAILING  new_game")


@pytest.mark.parametrize("content, message", [(None, "cannot read"), ("{not json", "is not JSON"),
                                              ('{"results": [{"game": "x"}]}', "not a harness results document")])
def test_compare_unreadable_file_is_one_line_and_exit_2(documents, capsys, tmp_path, content, message):
    old, _ = documents
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    code, out, err = compare(capsys, old, str(bad))
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
