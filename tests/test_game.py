import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import Game, GameError, single_objective
from harness.measure import initial_points
from harness.model import game as game_module
from harness.model.game import validate, values_at, values_program
from harness.verdict import guards


def bilinear(c=2.0):
    return Game("b", lambda p, t: c * p[0] * t[0], lambda p, t: -c * p[0] * t[0], [1.0], [0.5])


def test_fields_are_negative_gradients():
    game = bilinear()
    np.testing.assert_allclose(game.field(jnp.array([1.0, 0.5])), [-1.0, 2.0])
    assert game.dims == (1, 1) and game.kind == "two-player"
    np.testing.assert_array_equal(game.z0, [1.0, 0.5])


def test_vector_field_game_and_single_objective():
    rot = Game.from_fields("r", lambda p, t: -0.1 * p + t, lambda p, t: -p - 0.1 * t, [1.0], [0.0])
    np.testing.assert_allclose(rot.field(jnp.array([1.0, 2.0])), [1.9, -1.2])
    quad = single_objective("q", lambda x: 0.5 * x @ x * 3.0, [1.0, -2.0])
    assert quad.kind == "single-objective" and quad.dims == (2, 0)
    np.testing.assert_allclose(quad.field(jnp.array([1.0, -2.0])), [-3.0, 6.0])


def test_affine_detection():
    assert bilinear().is_affine()
    nonlinear = Game("n", lambda p, t: jnp.sin(p[0]) * t[0], lambda p, t: -p[0] * t[0], [1.0], [0.5])
    assert not nonlinear.is_affine()


def test_float32_state_is_converted_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        game = Game("f", lambda p, t: p @ p, lambda p, t: t @ t, np.ones(2, np.float32), [1.0])
    assert game.phi0.dtype == np.float64
    assert any("float32" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "phi0, message",
    [([[1.0]], "1-D"), ([np.nan], "NaN"), ([1j], "complex"), ([], "empty"), (["a"], "dtype")],
)
def test_bad_initial_states(phi0, message):
    with pytest.raises(GameError, match=message):
        Game("bad", lambda p, t: p @ p, lambda p, t: t @ t, phi0, [1.0])


@pytest.mark.parametrize(
    "loss1, message",
    [
        (lambda p, t: p * t, "scalar"),
        (lambda p, t: jnp.sum(p * t).astype(jnp.float32), "float64"),
        (lambda p, t: jnp.sum(jnp.log(p - 10.0)), "NaN"),
        (lambda p, t: jax.lax.stop_gradient(jnp.sum(p * t)), "identically zero"),
        (lambda p, t: jnp.sum(p * t).astype(jnp.int32), "failed|int"),
        # runs alone but not traced: the one program fails, the functions one by one name the field that fails
        (lambda p, t: jnp.sum(p * t) if float(p[0]) > 0 else 0.0, "field of player 1 failed: Concretization"),
    ],
)
def test_validate_names_the_problem(loss1, message):
    game = Game("bad", loss1, lambda p, t: -jax.lax.stop_gradient(jnp.sum(p * t)), [1.0], [0.5])
    with pytest.raises(GameError, match=message):
        validate(game)


def test_validation_and_the_guards_share_one_compiled_values_program(tmp_path):
    """The validation's 3 states and a check's 1 to 4 initial points are padded to 4 rows: one compiled program,
    whose padding changes the values by round-off at most (a batch of 4 rows is vectorised otherwise than one of 3:
    1 ulp here)."""
    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))  # nothing kept from an earlier run
    try:
        game = Game("pair", lambda p, t: p[0] ** 2 * t[0] + p[0] * t[0], lambda p, t: -p[0] * t[0] + t[0] ** 4 / 4,
                    [0.6], [0.8])
        validate(game)
        for count in (1, 2, 4):
            points = initial_points(game, count)
            guards.check_points(game, points, 0)
            assert guards.without_equilibria(game, points) == (points, [])
        assert game_module._game_program(game)._cache_size() == 1
        states = initial_points(game, 3)
        alone = values_program(game)(jnp.asarray(states))  # traced at 3 rows
        padded = values_at(game, states)
        assert set(padded) == {"loss1", "loss2", "field of player 1", "field of player 2"}
        for label, values in padded.items():
            np.testing.assert_allclose(values, np.asarray(alone[label]), rtol=4 * np.finfo(float).eps, atol=0)
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)


def test_catalog_games_are_valid(games):
    assert len(games) >= 9
    for game in games.values():
        validate(game)
        assert game.description, f"{game.name} documents its source"


def test_a_game_is_frozen_once_made():
    """What the harness keeps about a game (compiled kernels, its affine decision) stays its own: its attributes
    cannot be set again; its arrays and metadata can change in place (harness.model.identity notices)."""
    game = Game("frozen", lambda p, t: p[0] * t[0], lambda p, t: -p[0] * t[0], [1.0], [0.5])
    with pytest.raises(AttributeError, match="game 'frozen' is frozen: make a new Game instead of setting phi0"):
        game.phi0 = np.array([2.0])
    with pytest.raises(AttributeError, match="frozen"):
        Game.from_fields("f", lambda p, t: -t, lambda p, t: p, [1.0], [0.5]).field1 = None
    assert game.is_affine() and single_objective("s", lambda x: x @ x, [1.0]).loss is not None
