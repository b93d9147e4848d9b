"""The report section "The paper, checked" (harness.report.paper): every fact of docs/theory.md §5 measured and
confirmed."""

import json
from pathlib import Path

import pytest

from harness.checks import CheckResult, load_matrix
from harness.report import paper

REFERENCE = Path(__file__).resolve().parents[1] / "reports" / "reference" / "results.json"


@pytest.mark.parametrize("fact", paper.FACTS, ids=lambda f: f.__name__)
def test_every_fact_is_measured_and_confirmed(fact):
    result = fact()
    assert result.number == int(fact.__name__.split("_")[1])
    assert result.passed is True, result.measured
    assert result.measured and all(isinstance(v, float | None) for v in result.values.values())
    assert result.source == paper.SOURCE and result.claim == paper.stated()[result.number]  # read, not typed
    assert result.verdict == "confirmed" and not result.correction


def test_fact_numbers():
    """The numbers the section reports, against docs/theory.md §5 (items 7 and 8): the official trace is the formula
    docs/theory.md states, read from there and evaluated."""
    seven = paper.fact_7().values
    alpha, lam, h = paper.BILINEAR
    assert paper.stated_official_trace() == "(h/2)c²(α − λ)²"
    assert seven["official_trace"] == pytest.approx(h / 2 * (alpha - lam) ** 2, rel=1e-13)
    assert seven["official_trace_stated"] == pytest.approx(h / 2 * (alpha - lam) ** 2, rel=1e-13)
    assert seven["joint_trace"] == 0 and seven["q_drift"] <= 1e-13 and seven["sim_min_radius"] > 1
    eight = paper.fact_8().values
    assert round(eight["sim_radius"], 4) == 1.0022 and eight["alt_radius"] == pytest.approx(0.982, abs=1e-12)
    four = paper.fact_4().values
    assert four["phi_gap"] <= 1e-14 < 1e-3 < four["theta_gap"]


def test_formula_value_reads_the_documents_notation():
    assert paper.formula_value("(h/2)c²(α − λ)²", alpha=0.4, lam=1.5, h=0.3, c=1.0) == pytest.approx(0.1815)
    assert paper.formula_value("(h/2)c²(λ − α)", alpha=0.4, lam=1.5, h=0.3, c=1.0) == pytest.approx(0.165)
    assert paper.formula_value("−2ε + h − hε²", eps=0.09, h=0.2) == pytest.approx(-2 * 0.09 + 0.2 - 0.2 * 0.09**2)
    assert paper.formula_value("√(1 + αλ)", alpha=1.0, lam=1.0) is None  # not plain arithmetic: no value


def test_a_statement_that_disagrees_with_the_measurement_is_corrected_with_both_numbers(monkeypatch):
    """Fact 7 with a wrong formula in place of the document's: the correction names the source, the formula and
    both numbers, computed."""
    stated = dict(paper.stated())
    stated[7] = stated[7].replace("(h/2)c²(α − λ)²", "(h/2)c²(λ − α)")
    monkeypatch.setattr(paper, "stated", lambda: stated)
    fact = paper.fact_7()
    assert fact.verdict == "confirmed with a correction"
    assert fact.correction.startswith("docs/theory.md §5 item 7 states the official convention's trace as "
                                      "(h/2)c²(λ − α), which is 0.165000 at α 0.4, λ 1.5, h 0.3, c 1")
    assert fact.correction.endswith("is 0.181500")
    assert paper.disagreements([fact])[0].startswith("Fact 7 of docs/theory.md §5 confirmed with a correction:")


def test_without_the_document_the_claims_say_so(monkeypatch):
    monkeypatch.setattr(paper, "stated", lambda: {})
    fact = paper.fact_7()
    assert fact.source == "" and "docs/theory.md §5 not found: not compared" in fact.measured[-1]
    assert fact.verdict == "confirmed" and not fact.correction


def test_section_only_when_the_report_covers_its_games(tmp_path):
    assert paper.section({"dirac_gan", "rotational"}, tmp_path) == ("", [], {})
    assert not (tmp_path / "paper").exists()


@pytest.mark.slow
def test_section(tmp_path):
    section, disagreements, data = paper.section(set(paper.PAPER_GAMES), tmp_path)
    assert "of 10, 10 confirmed, 0 confirmed with a correction, 0 refuted." in section
    assert section.count("| PASS |") == 10 and "corrected" not in section
    assert disagreements == []
    assert "(h/2)c²(α − λ)² as docs/theory.md §5 item 7 states it = 0.181500" in section
    assert [f["number"] for f in data["facts"]] == list(range(1, 11)) and data["source"] == paper.SOURCE
    assert set(data) == {"source", "facts", "counts", "folder", "stability", "invariants", "drift", "drift_panels",
                         "regularisers"}
    assert paper.section_blocks(json.loads(json.dumps(data))) == paper.section_blocks(data)  # from the JSON alone
    stems = [f"{game}-stability-{rule}-{panel}" for game in ("dirac_gan", "rotational")
             for rule in ("simultaneous", "alternating") for panel in ("iterates", "gradient", "modified", "official")]
    stems += [f"dirac_gan-drift-{rule}-{flow}" for rule in ("simultaneous", "alternating")
              for flow in ("modified", "official")]
    for stem in (*stems, "dirac_gan-regularisers"):
        assert f"(paper/{stem}.svg)" in section
        assert (tmp_path / "paper" / f"{stem}.svg").is_file() and (tmp_path / "paper" / f"{stem}.png").is_file()
    assert "### Conserved quantities" in section and "| dirac_gan_bilinear | Q | alternating | 1000 |" in section


def test_the_default_matrix_holds_every_facts_check():
    """The default matrix holds the facts' 23 slope checks (an entry of its own where the other entries lack one),
    so that shards, merges and comparisons of `harness check --all` cover them and a report runs none beside it."""
    _, matrix = load_matrix()
    assert len(paper.fact_specs()) == 23 and not paper.missing_specs(matrix)


def test_slope_facts_read_the_recorded_checks(monkeypatch):
    """The facts' slope checks are ordinary checks: the reference's results.json records each (in its matrix
    results, or in paper.checks when the matrix lacks it), and the facts computed from those records alone (nothing
    run) are the recorded facts."""
    document = json.loads(REFERENCE.read_text())
    recorded = [CheckResult.from_dict(e) for e in document["results"] + document["paper"]["checks"]]
    checks = {r.spec: r for r in recorded if r.spec in paper.fact_specs()}
    assert len(paper.fact_specs()) == 23 and set(checks) == set(paper.fact_specs())
    _, matrix = load_matrix()
    assert [c["fitted_slope"] for c in document["paper"]["checks"]] == [
        checks[spec].fit.slope for spec in paper.missing_specs(matrix)]
    monkeypatch.setattr(paper, "run_check", lambda *args: pytest.fail("a fact ran a check of its own"))
    for number, fact in enumerate(paper.FACTS, start=1):
        if number in paper.SLOPE_CHECKS and number != 5:  # fact 5 also evaluates a closed form
            assert fact(checks).to_dict() == document["paper"]["facts"][number - 1]
