import json

from harness.checks import CheckSpec, Settings, run_checks
from harness.flows import Flow
from harness.report import findings, write_report
from harness.schemes import Scheme


def small_matrix(games):
    specs = [CheckSpec(game, Scheme(name, 1.0, lr2), Flow(flow), 2.0 if (flow == "official" and lr2 != 1.0) else None)
             for game in ("dirac_gan", "rotational") for name in ("simultaneous", "alternating")
             for lr2 in (1.0, 0.3) for flow in ("gradient", "modified", "official")]
    return run_checks(specs, games, Settings(points=2))


def test_report_files_tables_and_figures(tmp_path, games):
    results = small_matrix(games)
    index = write_report(results, Settings(points=2), tmp_path / "a")
    text = index.read_text()
    assert text.count("\n| dirac_gan |") + text.count("\n| rotational |") == len(results) == 24
    figures = sorted(p.name for p in (tmp_path / "a" / "figures").iterdir())
    assert figures == ["dirac_gan.png", "dirac_gan.svg", "rotational.png", "rotational.svg"]
    for link in [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]:
        assert (tmp_path / "a" / link).exists()
    document = json.loads((tmp_path / "a" / "results.json").read_text())
    assert document["summary"] == {"checks": 24, "passed": 24, "failed": 0, "statuses": {"PASS": 24}}

    write_report(results, Settings(points=2), tmp_path / "b")
    for name in ("figures/dirac_gan.svg", "figures/rotational.svg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_findings_state_the_official_convention_slopes(games):
    sentence = [s for s in findings(small_matrix(games)) if s.startswith("The official-code convention")][0]
    equal, unequal = sentence.split(" when lr1 = lr2 and ")
    assert abs(float(equal.split("slope ")[1].split(" ")[0]) - 3.0) < 0.15
    assert abs(float(unequal.split("slope ")[1].split(" ")[0]) - 2.0) < 0.15
