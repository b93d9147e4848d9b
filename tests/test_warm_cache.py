"""Results kept across runs (harness.base.result_cache): a warm run reads them back and gives the cold run's numbers
bit for bit; an edited game file, a module it imports or a user's flow file is computed afresh, never served the
result kept for the old text; a corrupt or truncated entry is computed again."""

import json

import numpy as np
import pytest

from harness.base import result_cache
from harness.base.errors import FlowError, GameError
from harness.flows import Flow
from harness.measure import default_step_sizes, initial_points, jacobian_norm
from harness.measure.trajectories import trajectories
from harness.model import identity
from harness.model.catalog import catalog, load_game
from harness.rules.schemes import Scheme
from harness.verdict import guards


@pytest.fixture
def hits(tmp_path, monkeypatch):
    """Results kept in a folder of the test's own (the kernels stay in the session's cache); the list of what
    was read back from it (the first part of each key read), filled as the test runs."""
    folder = tmp_path / "kept"
    monkeypatch.setattr(result_cache, "directory", lambda: folder)
    monkeypatch.setenv("HARNESS_JOBS", "1")  # a helper process would keep its results in the session's folder
    found: list[str] = []
    get = result_cache.get

    def recording(key):
        values = get(key)
        if values is not None:
            found.append(key.split("|", 1)[0])
        return values

    monkeypatch.setattr(result_cache, "get", recording)
    new_process()  # nothing another test computed stays in memory
    yield found
    new_process()


def new_process() -> None:
    """Forget what this process computed and traced (every memo of the harness, JAX's caches, what the catalog's
    games decided about themselves): as a new run."""
    identity.invalidate(catalog().values())


def _numbers(path) -> list:
    """A results document's results without their durations."""
    results = json.loads(path.read_text())["results"]
    for result in results:
        result.pop("seconds")
    return results


def test_a_warm_run_reads_every_kept_result_and_gives_the_cold_runs_numbers(hits, tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    cold = cli("check", "--game", "dirac_gan", "--game", "bilinear", "--json", "cold.json")
    assert cold.returncode == 0, cold.stderr
    new_process()
    hits.clear()  # a cold run reads back what it kept itself (a later check of the same game)
    warm = cli("check", "--game", "dirac_gan", "--game", "bilinear", "--json", "warm.json")
    assert warm.returncode == 0, warm.stderr
    assert set(hits) == {"validate", "jacobian_norm", "points", "pure", "equilibria", "is_affine", "secant",
                         "kernel values"}
    assert _numbers(tmp_path / "warm.json") == _numbers(tmp_path / "cold.json")  # errors, slopes, statuses, series
    assert warm.stdout == cold.stdout


def test_an_optimizers_scale_is_kept_exactly(hits, games):
    game = games["dirac_gan"]
    scheme = Scheme("simultaneous", 1.0, 0.3, optimizer="adam(beta1=0.5, beta2=0.9)")
    points = initial_points(game, 3)
    cold = jacobian_norm(game, scheme), default_step_sizes(game, scheme, points=points)
    new_process()
    hits.clear()
    warm = jacobian_norm(game, scheme), default_step_sizes(game, scheme, points=points)
    assert set(hits) == {"jacobian_norm", "optimizer_rate"}
    assert cold[0] == warm[0]
    np.testing.assert_array_equal(cold[1], warm[1])


def test_a_reports_trajectories_are_kept_bit_for_bit(hits, games):
    cold = trajectories(games["dirac_gan"])
    new_process()
    hits.clear()
    warm = trajectories(games["dirac_gan"])
    assert hits == ["trajectories"]
    assert (warm.h, warm.steps) == (cold.h, cold.steps)
    assert [p.scheme for p in warm.panels] == [p.scheme for p in cold.panels]
    for before, after in zip(cold.panels, warm.panels, strict=True):
        np.testing.assert_array_equal(before.iterates, after.iterates)
        assert before.flows.keys() == after.flows.keys()
        for name in before.flows:
            np.testing.assert_array_equal(before.flows[name], after.flows[name])


def test_a_kinks_reason_and_a_smooth_fields_none_are_kept(hits):
    import jax.numpy as jnp

    import harness

    relu = harness.Game.from_fields("relu", lambda p, t: -jnp.maximum(p - 0.02, 0.0) - 0.1 * t,
                                    lambda p, t: -t + 0.1 * p, [0.05], [1.0])
    smooth = harness.Game.from_fields("smooth", lambda p, t: -p - 0.1 * t, lambda p, t: -t + 0.1 * p, [0.05], [1.0])
    scheme, points, steps = Scheme(), np.array([[0.05, 1.0]]), np.logspace(-2, -0.5, 6)
    cold = [guards.non_smooth_reason(game, scheme, points, steps, 1.0) for game in (relu, smooth)]
    assert "kink" in cold[0] and cold[1] is None
    new_process()
    hits.clear()
    assert [guards.non_smooth_reason(game, scheme, points, steps, 1.0) for game in (relu, smooth)] == cold
    assert hits == ["non-smooth", "non-smooth"]

GAME = """import jax.numpy as jnp
import harness
from helper import SCALE

game = harness.Game("edited", lambda p, t: p[0] * t[0] + SCALE * p[0] ** 2{extra}, lambda p, t: -p[0] * t[0],
                    [1.0], [0.5])
"""


def test_an_edited_game_file_or_module_it_imports_is_computed_afresh(hits, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    game_file, helper = tmp_path / "game.py", tmp_path / "helper.py"
    game_file.write_text(GAME.format(extra=""))
    helper.write_text("SCALE = 0.5\n")
    points = np.array([[1.0, 0.5], [-1.0, 0.5]])
    scheme = Scheme("simultaneous")

    def run() -> float:
        new_process()
        game = load_game(f"{game_file}:edited")
        guards.check_points(game, points, 0)
        return jacobian_norm(game, scheme)

    first = run()
    assert hits == []
    assert run() == first
    assert {"validate", "points", "jacobian_norm"} <= set(hits)
    hits.clear()
    helper.write_text("SCALE = 1.5\n")  # the module the game file imports
    second = run()
    assert second != first and hits == []
    game_file.write_text(GAME.format(extra=" + jnp.log(p[0])"))  # the loss is NaN at the second point
    with pytest.raises(GameError, match="loss1 is NaN at initial point 2"):
        run()
    assert "points" not in hits


FLOW = "import harness\n\n@harness.flow(order=0)\ndef scaled(V, z, h):\n    return {} * V(z)\n"


def test_an_edited_flow_file_is_checked_afresh(hits, tmp_path, games):
    flow_file = tmp_path / "flow.py"
    game, scheme = games["dirac_gan"], Scheme("simultaneous")
    points, steps = initial_points(game, 2), np.array([0.01, 0.1])

    def run() -> None:
        new_process()
        guards.check_user_functions(game, scheme, Flow.of(f"{flow_file}:scaled"), points, steps)

    flow_file.write_text(FLOW.format("1.0"))
    run()
    run()
    assert hits.count("user") == 1
    hits.clear()
    flow_file.write_text(FLOW.format("float('nan')"))
    with pytest.raises(FlowError, match="NaN"):
        run()
    assert "user" not in hits


def test_a_corrupt_or_truncated_entry_is_computed_again(hits, tmp_path, games):
    game, scheme = games["dirac_gan"], Scheme("simultaneous", 1.0, 0.3)
    points = initial_points(game, 2)

    def run() -> float:
        new_process()
        guards.check_points(game, points, 0)
        guards.check_pure(game, points)
        return jacobian_norm(game, scheme)

    first = run()
    entries = {json.loads(path.read_text())["key"].split("|", 1)[0]: path
               for path in (tmp_path / "kept").glob(f"*{result_cache.SUFFIX}")}
    assert sorted(entries) == ["jacobian_norm", "points", "pure"]
    texts = {what: path.read_text() for what, path in entries.items()}
    entries["points"].write_text(texts["points"][: len(texts["points"]) // 2])  # truncated
    entries["pure"].write_text(texts["points"])  # another entry's key
    altered = json.loads(texts["jacobian_norm"])
    altered["values"][0]["shape"] = [3]  # its bytes no longer fit
    entries["jacobian_norm"].write_text(json.dumps(altered))
    assert run() == first
    assert hits == []
    assert run() == first  # computed again and kept again
    assert sorted(hits) == ["jacobian_norm", "points", "pure"]
    hits.clear()
    entries["jacobian_norm"].write_bytes(b"\x00\xff")  # not text at all
    assert run() == first
    assert sorted(hits) == ["points", "pure"]


@pytest.mark.parametrize("change", ["harness source", "jax", "XLA_FLAGS"])
def test_an_entry_is_read_back_only_under_the_same_harness_jax_and_flags(hits, monkeypatch, change):
    result_cache.put("probe", 1.5)
    assert result_cache.get("probe") == (1.5,)
    if change == "harness source":
        monkeypatch.setattr(result_cache, "harness_source", lambda: "an edited harness")
    elif change == "jax":
        monkeypatch.setattr(result_cache.jax, "__version__", "0.0.0")
    else:
        monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")
    assert result_cache.get("probe") is None
