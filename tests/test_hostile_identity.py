"""Identity is content (harness.model.identity): within one process, a check never reuses what was computed for a
game, flow or rule whose code or data changed since (an edited file or helper module, a monkeypatched global,
a global a loss reads); ``--resume`` refuses a run whose code changed; two different games of one name are
refused in one line."""

import sys
import textwrap
import uuid

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import harness
from harness.checks import CheckSpec, Settings
from harness.checks.resume import PartialRun
from harness.cli import main
from harness.flows import Flow
from harness.model import identity
from harness.model.catalog import load_game
from harness.model.game import Game, GameError
from harness.rules.schemes import Scheme

COEFFICIENT = 1.0
"""The coefficient of ``scaled_igr``'s correction: 1 is the modified flow of gradient descent (slope 3)."""
SCALE = 1.0
"""The interaction strength that ``scaled_game``'s losses read."""

FLOW_FILE = '''
import jax
import harness
{imports}

@harness.flow(order=1)
def igr(V, z, h):
    return V(z) - (h / 2) * {coefficient} * jax.jvp(V, (z,), (V(z),))[1]
'''


@harness.flow(order=1)
def scaled_igr(V, z, h):
    """IGR with its correction scaled by the module's COEFFICIENT (right only at 1)."""
    return V(z) - (h / 2) * COEFFICIENT * jax.jvp(V, (z,), (V(z),))[1]


def _check(flow, **keywords):
    return harness.check("rosenbrock", "gd", flow, points=2, **keywords)


def _slope(result) -> float:
    return float(result.fit.slope)


def test_a_flow_file_edited_between_two_checks_gives_the_new_verdict(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "flow.py"
    path.write_text(FLOW_FILE.format(imports="", coefficient="1.0"))
    right = _check("flow.py:igr")
    path.write_text(FLOW_FILE.format(imports="", coefficient="2.0"))  # a notebook's edit, same length
    wrong = _check("flow.py:igr")
    assert right.fit.status == "PASS" and abs(_slope(right) - 3) < 0.15
    assert wrong.fit.status == "FAIL" and abs(_slope(wrong) - 2) < 0.15  # a fresh process says the same


def test_a_monkeypatched_coefficient_gives_the_new_verdict_and_its_undoing_the_old(monkeypatch):
    right = _check(scaled_igr)
    monkeypatch.setattr(sys.modules[__name__], "COEFFICIENT", 2.0)
    wrong = _check(scaled_igr)
    monkeypatch.undo()
    again = _check(scaled_igr)
    assert right.fit.status == again.fit.status == "PASS"
    assert wrong.fit.status == "FAIL" and abs(_slope(wrong) - 2) < 0.15
    np.testing.assert_array_equal(right.measurement.errors, again.measurement.errors)


def _scaled_loss1(phi, theta):
    return jax.nn.softplus(SCALE * phi[0] * theta[0])


def _scaled_loss2(phi, theta):
    return jax.nn.softplus(-SCALE * phi[0] * theta[0])


def test_a_game_whose_loss_reads_a_changed_global_gets_new_errors(monkeypatch):
    game = Game("scaled_dirac", _scaled_loss1, _scaled_loss2, [0.5], [1.0], h_max=0.3)
    before = harness.check(game, "simultaneous", "modified", points=2)
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 2.0)
    after = harness.check(game, "simultaneous", "modified", points=2)
    fresh = Game("scaled_dirac", lambda p, t: jax.nn.softplus(2.0 * p[0] * t[0]),
                 lambda p, t: jax.nn.softplus(-2.0 * p[0] * t[0]), [0.5], [1.0], h_max=0.3)
    expected = harness.check(fresh, "simultaneous", "modified", points=2)
    assert not np.allclose(before.measurement.errors, after.measurement.errors)
    np.testing.assert_allclose(after.measurement.errors, expected.measurement.errors, rtol=1e-12)
    np.testing.assert_allclose(after.measurement.reference_error, expected.measurement.reference_error,
                               rtol=1e-9, atol=1e-300)


def _dirac(name, phi0):
    return Game(name, lambda p, t: jax.nn.softplus(p[0] * t[0]), lambda p, t: jax.nn.softplus(-p[0] * t[0]),
                [phi0], [1.0])


def test_a_game_whose_state_or_metadata_changed_in_place_is_measured_afresh():
    game = _dirac("mutable_dirac", 0.5)
    harness.check(game, "simultaneous", "modified", points=2)
    game.phi0[0] = 3.0  # in place: the step sizes follow |dF/dz| at the new state
    moved = harness.check(game, "simultaneous", "modified", points=2)
    expected = harness.check(_dirac("moved_dirac", 3.0), "simultaneous", "modified", points=2)
    np.testing.assert_array_equal(moved.measurement.step_sizes, expected.measurement.step_sizes)
    np.testing.assert_array_equal(moved.measurement.errors, expected.measurement.errors)
    game.metadata["h_max"] = 0.2
    capped = harness.check(game, "simultaneous", "modified", points=2)
    assert capped.measurement.step_sizes[-1] == pytest.approx(0.2)


def test_an_unchanged_game_and_flow_are_not_traced_again():
    _check(scaled_igr)
    game = load_game("rosenbrock")
    assert not identity.refresh([game], [Flow.of(scaled_igr).user])
    assert identity.snapshot(game) == identity.snapshot(game)


def _helper(tmp_path, monkeypatch, coefficient: str) -> str:
    name = f"identity_helper_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(f"COEFFICIENT = {coefficient}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return name


def test_an_edited_helper_module_changes_the_result_and_the_resume_fingerprint(tmp_path, monkeypatch):
    helper = _helper(tmp_path, monkeypatch, "1.0")
    (tmp_path / "flow.py").write_text(FLOW_FILE.format(imports=f"from {helper} import COEFFICIENT",
                                                       coefficient="COEFFICIENT"))
    right = _check("flow.py:igr")
    partial = tmp_path / "partial.json"

    def run():
        specs = [CheckSpec("rosenbrock", Scheme("gd"), Flow("flow.py:igr"))]
        return PartialRun(partial, specs, Settings(points=2), {"rosenbrock": load_game("rosenbrock")})

    run().begin([])
    assert run().load() == []  # unchanged: resumed
    (tmp_path / f"{helper}.py").write_text("COEFFICIENT = 2.0\n")
    wrong = _check("flow.py:igr")
    assert right.fit.status == "PASS" and wrong.fit.status == "FAIL" and abs(_slope(wrong) - 2) < 0.15
    with pytest.raises(GameError, match="cannot resume") as refused:
        run().load()
    assert "\n" not in str(refused.value)


def test_a_game_file_sees_its_edited_helper_module(tmp_path, monkeypatch):
    helper = _helper(tmp_path, monkeypatch, "1.0")
    (tmp_path / "mine.py").write_text(textwrap.dedent(f'''
        import jax
        import {helper}
        from harness import Game

        game = Game("helped", lambda p, t: {helper}.COEFFICIENT * p[0] * t[0] + p[0] ** 2,
                    lambda p, t: -p[0] * t[0], [0.5], [1.0])
    '''))
    first = load_game("mine.py:game")
    (tmp_path / f"{helper}.py").write_text("COEFFICIENT = 3.0\n")
    second = load_game("mine.py:game")
    z = jnp.asarray([0.5, 1.0])
    assert float(first.field(z)[0]) == -2.0 and float(second.field(z)[0]) == -4.0


GAME_FILE = '''
import jax
from harness import Game

game = Game("dirac_gan", lambda p, t: jax.nn.softplus({sign}p[0] * t[0]),
            lambda p, t: jax.nn.softplus(-p[0] * t[0]), [0.5], [1.0], equilibrium=[0.0, 0.0])
'''


def test_two_different_games_of_one_name_are_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other.py").write_text(GAME_FILE.format(sign="2 * "))
    code = main(["check", "--game", "dirac_gan", "--game", "other.py:game", "--flow", "gradient", "--points", "2"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "two different games are named 'dirac_gan'" in error and "other.py:game" in error
    with pytest.raises(GameError, match="two different games are named 'dirac_gan'"):
        harness.check_all(["dirac_gan", "other.py:game"], points=2)


def test_one_game_given_twice_is_checked_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "same.py").write_text(GAME_FILE.format(sign=""))  # the catalog's dirac_gan, written again
    code = main(["check", "--game", "dirac_gan", "--game", "same.py:game", "--flow", "gradient", "--points", "2",
                 "--quiet"])
    output = capsys.readouterr().out
    assert code == 0 and output.count("dirac_gan ·") == 1
