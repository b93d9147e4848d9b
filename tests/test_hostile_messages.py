"""Unclear messages and bad input that used to be accepted (issue 25): each is refused in one line that names
the flag or the matrix key, with exit code 2 — or, for verdicts, says what really happened."""

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_reliability import run_cli as run

from harness.base.integrate import EPS
from harness.checks import Settings
from harness.measure import FLOOR_FACTOR, Measurement
from harness.model.game import GameError
from harness.verdict.fit import fit_order

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide.md"


def refused(capsys, *args) -> str:
    """The one line of a refusal (exit 2)."""
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    assert err.startswith("harness: error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


# --- flags --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_expected_slope_must_be_a_finite_positive_number(capsys, value):
    line = refused(capsys, "check", "--game", "dirac_gan", "--expected-slope", value)
    assert "--expected-slope" in line and "positive finite number" in line


def test_a_negative_seed_names_the_flag(capsys):
    line = refused(capsys, "check", "--game", "dirac_gan", "--seed", "-1")
    assert "--seed" in line and "non-negative integer" in line
    with pytest.raises(GameError, match="seed must be a non-negative integer"):
        Settings(seed=-1)


@pytest.mark.parametrize("value", ["400", "1e-9", "0.2", "7"])
def test_decades_out_of_range_names_the_flag_and_the_range(capsys, value):
    line = refused(capsys, "check", "--game", "dirac_gan", "--decades", value)
    assert "--decades" in line and "from 0.5 to 6" in line and "FLOOR-LIMITED" not in line
    assert refused(capsys, "report", "--decades", value).startswith("harness: error: argument --decades")
    with pytest.raises(GameError, match="decades must be from 0.5"):
        Settings(decades=float(value))


def test_a_parameter_given_twice_to_an_optimizer_is_refused(capsys):
    line = refused(capsys, "check", "--game", "dirac_gan", "--optimizer", "adam(beta1=0.9, beta1=0.5)")
    assert "--optimizer" in line and "beta1 is given twice" in line
    line = refused(capsys, "check", "--game", "dirac_gan", "--optimizer2", "heavy_ball(beta=0.5, beta=0.2)")
    assert "--optimizer2" in line and "beta is given twice" in line


def test_optimizer2_on_a_single_objective_game_is_refused(capsys, tmp_path):
    line = refused(capsys, "check", "--game", "rosenbrock", "--scheme", "gd", "--optimizer2", "adam")
    assert "--optimizer2" in line and "rosenbrock is a single-objective game" in line
    matrix = tmp_path / "matrix.toml"
    matrix.write_text('[[check]]\ngames = "*"\nscheme = "gd"\nflows = ["gradient"]\noptimizer2 = "adam"\n')
    line = refused(capsys, "check", "--all", "--matrix", str(matrix))
    assert "matrix.toml:1: `optimizer2`" in line and "single-objective" in line


def test_the_expectations_of_single_checks_are_refused_with_all(capsys):
    line = refused(capsys, "check", "--all", "--expected-slope", "3")
    assert "--all" in line and "--expected-slope" in line


# --- the check matrix ---------------------------------------------------------------------------------

HEAD = '[[check]]\ngames = ["dirac_gan"]\nscheme = "simultaneous"\n'


@pytest.mark.parametrize("body, message", [
    (HEAD + 'flows = ["gradient"]\nexclude = "dirac_gan"\n', ":1: `exclude` must be a list of names"),
    (HEAD + 'flows = ["gradient"]\nexclude = ["dirak_gan"]\n', ":1: unknown game(s) dirak_gan in `exclude`"),
    (HEAD + 'flows = ["gradient"]\nrates = [[true, 0.3]]\n', ":1: `rates` must be a list of pairs of numbers"),
    (HEAD + 'flows = ["gradient"]\nsubsteps = [[1.5, 1]]\n', ":1: `substeps` must be a list of pairs of integers"),
    (HEAD + 'flows = ["gradient"]\nexpected_slope = true\n', ":1: `expected_slope` must be a number"),
    (HEAD + 'flows = ["gradient"]\nexpected_slope = nan\n', ":1: `expected_slope` must be a finite positive"),
    (HEAD + 'flows = ["gradient"]\nbeta = true\n', ":1: `beta` must be a number"),
    (HEAD + 'flows = "gradient"\n', ":1: `flows` must be a list of names"),
    (HEAD + 'flows = ["gradient"]\npoints = "4"\n', "unknown key(s) points (points: measurement settings, which go "
                                                    "in [settings])"),
    ('[check]\ngames = ["dirac_gan"]\nscheme = "simultaneous"\nflows = ["gradient"]\npoints = "4"\n',
     "`check` must be an array of tables, each written [[check]]"),
    ('[settings]\npoints = "4"\n\n' + HEAD + 'flows = ["gradient"]\n',
     "[settings]: points must be an integer, got '4'"),
    ('[settings]\nseed = -1\n\n' + HEAD + 'flows = ["gradient"]\n', "[settings]: seed must be a non-negative"),
    ('[settings]\ndecades = 400\n\n' + HEAD + 'flows = ["gradient"]\n',
     "[settings]: decades must be from 0.5 (the least"),
    ('settings = 4\n', "`settings` must be a table, written [settings]"),
])
def test_matrix_values_of_the_wrong_type_name_the_key_and_the_table(capsys, tmp_path, body, message):
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(body)
    line = refused(capsys, "check", "--all", "--matrix", str(matrix))
    assert message in line and "matrix.toml" in line
    assert "a, e, g, m, s" not in line  # a string or a table's keys read character by character


# --- user functions -----------------------------------------------------------------------------------

def test_a_joint_flow_returning_a_tuple_is_told_what_it_returned(capsys, tmp_path):
    (tmp_path / "flows.py").write_text(textwrap.dedent('''
        import harness

        @harness.flow(order=0)
        def scalars(V, z, h):
            v = V(z)
            return v[0], v[1]

        @harness.flow(order=0)
        def halves(V, z, h):
            return [V(z)[:1], V(z)[1:]]
    '''))
    line = refused(capsys, "check", "--game", "dirac_gan", "--points", "1", "--flow", f"{tmp_path}/flows.py:scalars")
    assert "returned a tuple of 2 scalars" in line and "one array dz of shape (2,)" in line
    assert "jnp.stack" in line and "numpy" not in line
    line = refused(capsys, "check", "--game", "dirac_gan", "--points", "1", "--flow", f"{tmp_path}/flows.py:halves")
    assert "returned a list of 2 parts with shapes (1,), (1,)" in line and "per-player notation" in line


def test_the_regularisers_flags_with_a_user_rule_are_refused_as_the_guide_says(capsys, tmp_path):
    (tmp_path / "rules.py").write_text("def mine(V, z, h, cancel=1.0):\n    return z + h * V(z)\n")
    line = refused(capsys, "check", "--game", "dirac_gan", "--scheme", f"{tmp_path}/rules.py:mine", "--cancel", "0.5")
    assert "cancel" in line and "regularised" in line
    text = " ".join(GUIDE.read_text().split())
    assert ("`--cancel`, `--strengthen` and `--convention` set the built-in `regularised` rule only (a flow checked "
            "against it receives them): with a user rule they are refused (exit 2)") in text


# --- verdicts -----------------------------------------------------------------------------------------

H = 0.1 * np.logspace(-1.5, 0, 10)


def measurement(errors):
    errors = np.atleast_2d(errors)
    return Measurement(H, np.zeros((errors.shape[0], 2)), errors, np.full_like(errors, 1e-18),
                       np.full_like(errors, FLOOR_FACTOR * EPS), "test")


def test_non_finite_errors_are_placed_where_they_are():
    small = np.where(H < H[2], np.nan, H**3)
    (reason,) = fit_order(measurement([small, H**3]), 3.0).reasons
    assert reason == f"2 of 20 errors are NaN or inf (at the smallest step sizes, h <= {H[1]:.3g}, not at the " \
                     "largest: no divergence); dropped"
    large = np.where(H > H[-3], np.inf, H**3)
    assert fit_order(measurement([large]), 3.0).reasons[0].startswith(
        f"2 of 10 errors are NaN or inf (diverging at h >= {H[-2]:.3g})")
    middle = np.where((H == H[4]) | (H == H[6]), np.nan, H**3)
    assert f"(at h = {H[4]:.3g}, {H[6]:.3g})" in fit_order(measurement([middle]), 3.0).reasons[0]


EXACT_GAME = '''
import jax.numpy as jnp
from harness import Game
# theta never moves and phi's field depends on theta only: Euler's step is the gradient flow's time-h map
game = Game("exact", lambda p, t: p[0] * jnp.sin(t[0]), lambda p, t: 0.0 * t[0], [1.0], [0.7])
'''


def test_exact_is_met_where_it_is_expected_and_the_summary_agrees_with_the_exit_code(capsys, tmp_path):
    (tmp_path / "exact.py").write_text(EXACT_GAME)
    spec = f"{tmp_path}/exact.py:game"
    code, out, err = run(capsys, "check", "--game", spec, "--flow", "gradient", "--points", "1",
                         "--expected-status", "EXACT")
    assert code == 0, (out, err)
    assert re.search(r"^PASS  EXACT ", out, re.M) and "1 checks: 1 met their expectation, 0 did not" in out
    code, out, err = run(capsys, "check", "--game", spec, "--flow", "gradient", "--points", "1")
    assert code == 1, (out, err)
    assert re.search(r"^FAIL  EXACT ", out, re.M) and "1 checks: 0 met their expectation, 1 did not" in out
    assert "no order is confirmed" in out and "--expected-status EXACT" in out
    line = refused(capsys, "check", "--all", "--expected-status", "EXACT")
    assert "--expected-status" in line


# --- new-game -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, what", [("harness", "the package 'harness'"), ("numpy", "the package 'numpy'"),
                                        ("json", "the standard library's module 'json'")])
def test_new_game_refuses_names_that_would_shadow_a_module(capsys, tmp_path, monkeypatch, name, what):
    monkeypatch.chdir(tmp_path)
    line = refused(capsys, "new-game", name)
    assert f"{name}.py would shadow {what}" in line and "nothing was written" in line
    assert not (tmp_path / f"{name}.py").exists()
    line = refused(capsys, "new-game", "fine_name", "--path", str(tmp_path / f"{name}.py"))
    assert "would shadow" in line and not (tmp_path / f"{name}.py").exists()
