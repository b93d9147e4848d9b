"""The report section "The paper, checked" (harness.paper): every fact of docs/theory.md §5 measured and confirmed."""

import pytest

from harness import paper


@pytest.mark.parametrize("fact", paper.FACTS, ids=lambda f: f.__name__)
def test_every_fact_is_measured_and_confirmed(fact):
    result = fact()
    assert result.number == int(fact.__name__.split("_")[1])
    assert result.passed is True, result.measured
    assert result.measured and all(isinstance(v, float | None) for v in result.values.values())


def test_fact_numbers():
    """The numbers the section reports, against docs/theory.md §5 (items 7 and 8) and the corrected official trace."""
    seven = paper.fact_7().values
    alpha, lam, h = paper.BILINEAR
    assert seven["official_trace"] == pytest.approx(h / 2 * (alpha - lam) ** 2, rel=1e-13)
    assert seven["official_trace_stated"] == pytest.approx(h / 2 * (lam - alpha))
    assert seven["joint_trace"] == 0 and seven["q_drift"] <= 1e-13 and seven["sim_min_radius"] > 1
    eight = paper.fact_8().values
    assert round(eight["sim_radius"], 4) == 1.0022 and eight["alt_radius"] == pytest.approx(0.982, abs=1e-12)
    four = paper.fact_4().values
    assert four["phi_gap"] <= 1e-14 < 1e-3 < four["theta_gap"]


def test_section_only_when_the_report_covers_its_games(tmp_path):
    assert paper.section({"dirac_gan", "rotational"}, tmp_path) == ("", [])
    assert not (tmp_path / "paper").exists()


@pytest.mark.slow
def test_section(tmp_path):
    section, disagreements = paper.section(set(paper.PAPER_GAMES), tmp_path)
    assert "of 10, 9 confirmed, 1 confirmed with a correction, 0 refuted." in section
    assert section.count("| PASS |") == 9 and section.count("| PASS with a correction ⚠ |") == 1
    assert len(disagreements) == 1 and disagreements[0].startswith("Fact 7 of docs/theory.md §5 confirmed with a")
    assert "(h/2)c²(α − λ)²" in section
    for stem in ("dirac_gan-stability", "rotational-stability", "dirac_gan-drift", "dirac_gan-regularisers"):
        assert f"(paper/{stem}.svg)" in section
        assert (tmp_path / "paper" / f"{stem}.svg").is_file() and (tmp_path / "paper" / f"{stem}.png").is_file()
    assert "### Conserved quantities" in section and "| dirac_gan_bilinear | Q | alternating | 1000 |" in section
