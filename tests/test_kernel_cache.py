"""Kernels kept across runs (harness.measure.kernel_cache): same numbers, new key when the game changes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import Game
from harness.flows import Flow, flow_family
from harness.measure import initial_points, kernel_cache, measure_local_error
from harness.rules.schemes import Scheme
from harness.verdict import series

STEPS = np.geomspace(1e-3, 3e-2, 6)
ALTERNATING = Scheme("alternating", 1.0, 0.3)


def _game(scale: float) -> Game:
    return Game("pair", lambda p, t: scale * p[0] ** 2 * t[0] + p[0] * t[0], lambda p, t: -p[0] * t[0] + t[0] ** 4 / 4,
                [0.6], [0.8])


@pytest.fixture
def kernels(tmp_path):
    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    yield tmp_path / "kernels"
    jax.config.update("jax_compilation_cache_dir", previous)


def _new_process(kernels):
    """As in a new process that finds the kernels but not the kernels' kept outputs: the kernel is read back."""
    kernel_cache._MEMORY.clear()
    for path in kernels.glob("*.result.json"):
        path.unlink()


def _errors(game, flow="modified", scheme=ALTERNATING):
    return measure_local_error(game, scheme, Flow(flow), STEPS, initial_points(game, 3)).errors


def test_a_kept_kernel_gives_the_numbers_of_a_freshly_traced_one(kernels):
    game = _game(0.5)
    first = _errors(game)
    assert len(list(kernels.glob("*.jaxexport"))) == 1
    _new_process(kernels)
    again = _errors(game)
    np.testing.assert_array_equal(first, again)
    jax.config.update("jax_compilation_cache_dir", None)  # cache off: traced and run directly
    np.testing.assert_array_equal(first, _errors(game))


def test_an_edited_game_or_another_rule_gets_its_own_kernel(kernels):
    _errors(_game(0.5))
    _errors(_game(0.5))
    assert len(list(kernels.glob("*.jaxexport"))) == 1
    changed = _errors(_game(0.7))
    assert len(list(kernels.glob("*.jaxexport"))) == 2
    assert not np.array_equal(changed, _errors(_game(0.5)))
    _errors(_game(0.5), scheme=Scheme("simultaneous", 1.0, 0.3))  # the same kernel: substeps and order traced
    _errors(_game(0.5), scheme=Scheme("alternating", 1.0, 0.3, 2, 3, "theta"))
    assert len(list(kernels.glob("*.jaxexport"))) == 2
    _errors(_game(0.5), scheme=Scheme("extragradient", 1.0, 0.3))
    assert len(list(kernels.glob("*.jaxexport"))) == 3


def test_one_to_four_points_share_one_kernel_and_give_the_first_rows_of_four(kernels):
    game = _game(0.5)
    points = initial_points(game, 5)
    four = measure_local_error(game, ALTERNATING, Flow("modified"), STEPS, points[:4])
    for count in (1, 2, 3):
        fewer = measure_local_error(game, ALTERNATING, Flow("modified"), STEPS, points[:count])
        assert fewer.errors.shape == fewer.floor.shape == fewer.reference_error.shape == (count, STEPS.size)
        np.testing.assert_array_equal(fewer.errors, four.errors[:count])  # each row alone: no number changes
        np.testing.assert_array_equal(fewer.reference_error, four.reference_error[:count])
    assert len(list(kernels.glob("*.jaxexport"))) == 1
    five = measure_local_error(game, ALTERNATING, Flow("modified"), STEPS, points).errors
    np.testing.assert_array_equal(five[:4], four.errors)
    assert len(list(kernels.glob("*.jaxexport"))) == 2  # more points: their own rows, a kernel of their own


def test_one_to_four_points_share_the_series_kernels_and_give_the_coefficients_of_their_own_rows(kernels):
    """A series evaluates a check's points and the EXTRA_POINTS seeded ones: 7 to 10 rows run as 10."""
    game = _game(0.5)
    points = initial_points(game, series.SERIES_ROWS + 1)
    found = {count: series.coefficients(game, ALTERNATING, Flow("modified"), points[:count], 1)
             for count in range(series.EXTRA_POINTS + 1, series.SERIES_ROWS + 1)}
    assert len(list(kernels.glob("*.jaxexport"))) == 2  # the rule's and the flow's
    structure = ALTERNATING.kernel_structure(game, False)
    family, coefficients = flow_family(Flow("modified"), ALTERNATING)
    rows = jnp.asarray(points[: series.EXTRA_POINTS + 1])  # one point's rows, traced alone
    rule, flow = found[series.EXTRA_POINTS + 1]
    assert rule.shape == flow.shape == (series.EXTRA_POINTS + 1, 2, 2)
    np.testing.assert_array_equal(rule, series._rule_kernel(game, structure, 1)(rows, ALTERNATING.params))
    np.testing.assert_array_equal(flow, series._flow_kernel(game, structure, family, 1)(rows, ALTERNATING.params,
                                                                                        coefficients))
    for count, (rule, flow) in found.items():
        np.testing.assert_array_equal(rule, found[series.SERIES_ROWS][0][:count])
        np.testing.assert_array_equal(flow, found[series.SERIES_ROWS][1][:count])
    series.coefficients(game, ALTERNATING, Flow("modified"), points, 1)
    assert len(list(kernels.glob("*.jaxexport"))) == 4  # 11 rows: kernels of their own


def test_games_that_differ_only_in_an_array_constant_get_their_own_kernels(kernels):
    """A game's fields are jitted, so its array constants live in a nested program, whose text only names
    them: the key hashes their values too (a shared key would measure one game with the other's kernel)."""
    def game(value):
        coupling = np.array([[value]])
        return Game("pair", lambda p, t: p @ coupling @ t + p[0] ** 2 * t[0], lambda p, t: -p @ coupling @ t,
                    [0.6], [0.8])

    first, second = _errors(game(1.0)), _errors(game(1.3))
    assert len(list(kernels.glob("*.jaxexport"))) == 2
    _new_process(kernels)
    np.testing.assert_array_equal(second, _errors(game(1.3)))
    assert np.max(np.abs(first / second - 1)) > 0.01


def test_a_corrupt_kernel_file_is_traced_again(kernels):
    game = _game(0.5)
    first = _errors(game)
    (path,) = kernels.glob("*.jaxexport")
    path.write_bytes(b"not a kernel")
    _new_process(kernels)
    np.testing.assert_array_equal(first, _errors(game))
    assert path.read_bytes() != b"not a kernel"


def test_a_warm_run_reads_the_kernels_outputs_without_loading_the_kernel(kernels, monkeypatch):
    game = _game(0.5)
    first = _errors(game)
    kept = len(list(kernels.glob("*.result.json")))  # the outputs, |dV/dz|
    kernel_cache._MEMORY.clear()
    with monkeypatch.context() as patched:
        patched.setattr(kernel_cache, "call", lambda *_: pytest.fail("the kernel was loaded"))
        np.testing.assert_array_equal(first, _errors(game))
    other = measure_local_error(game, ALTERNATING, Flow("modified"), STEPS[:5], initial_points(game, 3))
    assert len(list(kernels.glob("*.result.json"))) == kept + 1  # other step sizes: measured, not read
    np.testing.assert_allclose(other.errors, first[:, :5], rtol=1e-12)
