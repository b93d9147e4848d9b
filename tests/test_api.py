"""The Python API: the CLI's operations as functions returning plain data; its docstring examples run."""

import doctest
import json

import numpy as np
import pytest

import harness
import harness.api
import harness.model.scaffold
import harness.pytest_plugin
from harness.checks import CheckResult, Settings
from harness.cli import main
from harness.model.game import GameError
from harness.rules.schemes import Scheme


@pytest.mark.parametrize("module", [harness.api, harness.model.scaffold, harness.pytest_plugin],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    failures, tries = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tries > 0 and failures == 0


def test_list_games_matches_harness_list_json(capsys):
    assert main(["list", "--json"]) == 0
    assert [info.to_dict() for info in harness.list_games()] == json.loads(capsys.readouterr().out)


def test_check_accepts_a_game_a_spec_or_a_file_and_returns_plain_data(tmp_path):
    (tmp_path / "g.py").write_text(
        "from harness import Game\n"
        "E = lambda p, t: p[0] * t[0] + 0.2 * p[0] ** 3 * t[0]\n"
        "G = Game('cubic', E, lambda p, t: -E(p, t), [0.7], [0.4])\n"
    )
    from_file = harness.check(f"{tmp_path / 'g.py'}:G", "alternating", "modified", lr2=0.5, points=2)
    game = harness.load(f"{tmp_path / 'g.py'}:G")
    from_object = harness.check(game, Scheme("alternating", lr2=0.5), "modified", points=2)
    assert isinstance(from_file, CheckResult) and from_file.passed
    assert from_file.fit.slope == pytest.approx(from_object.fit.slope, abs=1e-12)
    assert abs(from_file.fit.slope - 3) < 0.15
    assert isinstance(from_file.measurement.errors, np.ndarray) and from_file.measurement.errors.shape == (2, 10)
    entry = from_file.to_dict()
    assert entry["game"] == "cubic" and entry["scheme"]["lr2"] == 0.5 and json.loads(json.dumps(entry)) == entry


def test_check_is_the_same_measurement_as_the_command_line(tmp_path):
    out = tmp_path / "r.json"
    assert main(["check", "--game", "dirac_gan", "--scheme", "alternating", "--lr1", "0.4", "--lr2", "1.5",
                 "--flow", "gradient", "--points", "2", "--quiet", "--json", str(out)]) == 0
    from_cli = json.loads(out.read_text())
    result = harness.check("dirac_gan", "alternating", "gradient", lr1=0.4, lr2=1.5, points=2)
    from_api = harness.document([result])
    assert from_api["settings"] == from_cli["settings"] and from_api["summary"] == from_cli["summary"]
    a, b = from_api["results"][0], from_cli["results"][0]
    assert a.keys() == b.keys()
    for key in a:
        if key != "seconds":
            assert a[key] == b[key], key
    assert abs(a["fitted_slope"] - 2) < 0.15


def test_scheme_objects_take_keyword_overrides():
    result = harness.check("dirac_gan", Scheme("alternating", m=2), "modified", lr1=0.4, points=1)
    assert result.spec.scheme == Scheme("alternating", lr1=0.4, m=2)
    assert abs(result.fit.slope - 3) < 0.15


def test_settings_and_expected_slope():
    result = harness.check("bilinear", flow="official", lr2=0.3, expected_slope=2, tolerance=0.1,
                           settings=Settings(points=2, seed=3))
    assert result.passed and abs(result.fit.slope - 2) < 0.1
    assert result.settings == Settings(points=2, seed=3, tolerance=0.1)


@pytest.mark.parametrize("call, message", [
    (lambda: harness.check("no_such_game"), "unknown game"),
    (lambda: harness.check(42), "a game is a harness.Game"),
    (lambda: harness.check("dirac_gan", "sideways"), "unknown scheme"),
    (lambda: harness.check("dirac_gan", flow="fancy"), "unknown flow"),
    (lambda: harness.check("dirac_gan", lr1=-1.0), "lr1 must be a positive"),
    (lambda: harness.check("dirac_gan", momentum=0.5), "bad update-rule parameter"),
    (lambda: harness.make_settings(point=3), "unknown measurement setting"),
    (lambda: harness.check("dirac_gan", points=0), "points must be at least 1"),
])
def test_bad_input_raises_game_error_with_one_line(call, message):
    with pytest.raises(GameError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


MATRIX = """
[settings]
points = 2

[[check]]
games = "single-objective"
scheme = "gd"
rates = [[1, 1], [0.3, 1]]
flows = ["gradient", "igr"]

[[check]]
games = ["dirac_gan", "rosenbrock"]
scheme = "gd"
flows = ["gradient"]
expected_slope = 2
reason = "an entry naming games"
"""


def test_check_all_runs_a_matrix_on_the_given_games_only(tmp_path):
    (tmp_path / "matrix.toml").write_text(MATRIX)
    results = harness.check_all(["rosenbrock"], tmp_path / "matrix.toml")
    assert [(r.spec.game, r.spec.scheme.lr1, r.spec.flow.name) for r in results] == [
        ("rosenbrock", 1.0, "gradient"), ("rosenbrock", 1.0, "igr"), ("rosenbrock", 0.3, "gradient"),
        ("rosenbrock", 0.3, "igr"), ("rosenbrock", 1.0, "gradient")]
    assert all(r.passed for r in results) and all(r.settings.points == 2 for r in results)
    for r in results:
        assert abs(r.fit.slope - r.spec.expected_slope) < 0.15
    assert results[-1].spec.reason == "an entry naming games"
    assert [r.settings.points for r in harness.check_all(["rosenbrock"], tmp_path / "matrix.toml", points=1)] == [1] * 5
    with pytest.raises(GameError, match="selects no checks"):
        harness.check_all(["dirac_gan_bilinear"], tmp_path / "matrix.toml")


def test_worst_point_and_explain_on_a_failing_check():
    result = harness.check("bilinear", "simultaneous", "official", lr2=0.3, points=3)
    worst = harness.worst_point(result)
    assert worst.count == 3 and worst.usable == 10 and worst.non_finite == 0
    assert worst.between is not None and worst.between[0] < worst.between[1]
    assert abs(worst.slope - 2) < 0.15 and abs(worst.local_slope - 2) < 0.3
    assert list(worst.z0) == result.measurement.points[worst.index].tolist()
    json.dumps(worst.to_dict())
    text = harness.explain(result)
    assert text.startswith("order check failed: bilinear · simultaneous(lr1=1, lr2=0.3) · official")
    assert "hint: the slope is one order short" in text and f"z0 = [{worst.z0[0]:.4g}" in text


def test_worst_point_of_a_diverged_check_names_the_non_finite_errors():
    # simultaneous GD on rotational dynamics far past its stable step size: every error overflows
    result = harness.check("dirac_gan_bilinear", flow="gradient", points=2, h_max=1e200, decades=1.0)
    assert result.fit.status == "DIVERGED" and not result.passed
    worst = harness.worst_point(result)
    assert worst.slope is None and worst.non_finite > 0
    assert "NaN or inf" in harness.explain(result) and "no slope" in harness.explain(result)
