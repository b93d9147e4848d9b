"""The user's own flows and rules (harness.model.user): both notations, everywhere a built-in flow goes, the
examples in examples/, and every bad input as one line with exit code 2."""

import json
import re
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.flows import Flow, flow_family
from harness.measure import default_step_sizes, initial_points, measure_local_error
from harness.measure.kernel_cache import family_key
from harness.model.catalog import catalog
from harness.rules.schemes import Scheme

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytest_plugins = ["pytester"]


# The command line runs in the test's process (the `cli` fixture of conftest.py: harness.cli.main, its exit code
# and output), in the test's folder as its current folder: relative paths are taken as `harness` in a shell takes them.


@pytest.fixture
def outside(tmp_path, monkeypatch):
    """A folder outside the repository holding copies of the examples; the current folder."""
    for example in EXAMPLES.glob("*.py"):
        shutil.copy(example, tmp_path / example.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- the examples, from the command line --------------------------------------------------------------


def test_lookahead_flow_from_a_file_outside_the_repository_passes_and_the_wrong_one_fails(outside, cli):
    common = ["check", "--game", "dirac_gan", "--scheme", "lookahead.py:lookahead", "--lr1", "0.7", "--lr2", "1.3"]
    right = cli(*common, "--flow", "lookahead.py:lookahead_flow", "--json", "right.json")
    assert right.returncode == 0, right.stderr + right.stdout
    wrong = cli(*common, "--flow", "lookahead.py:lookahead_flow_wrong", "--json", "wrong.json")
    assert wrong.returncode == 1, wrong.stderr + wrong.stdout
    (passed,) = json.loads((outside / "right.json").read_text())["results"]
    (failed,) = json.loads((outside / "wrong.json").read_text())["results"]
    assert passed["flow"] == {"name": "lookahead_flow", "order": 1, "source": "lookahead.py:lookahead_flow"}
    assert abs(passed["fitted_slope"] - 3) < 0.15 and passed["status"] == "PASS"
    assert abs(failed["fitted_slope"] - 2) < 0.15 and failed["status"] == "FAIL"
    named = [(t["player"], t["name"], t["flow_expression"], t["rule_expression"]) for t in failed["series"]["terms"]
             if t["flow_expression"] != t["rule_expression"]]
    assert named == [("phi", "f_theta(g)", "-alpha*lambda/2", "alpha*lambda/2")]  # the coefficient made wrong
    assert "phi equation, f_θ g: flow -0.455 (-alpha*lambda/2), rule 0.455 (alpha*lambda/2)" in wrong.stdout
    assert "lookahead_flow (lookahead.py)" in right.stdout


def test_gradient_and_bea_flows_work_with_user_rules_in_both_notations(outside, cli):
    (outside / "joint.py").write_text(textwrap.dedent('''
        import jax.numpy as jnp

        def lookahead(V, z, h, *, n_phi):
            """The look-ahead rule of lookahead.py, jointly: each player's field at the other's next state."""
            v = V(z)
            is_phi = jnp.arange(z.size) < n_phi
            ahead_phi = z + h * jnp.where(is_phi, 0.0, v)  # theta moved ahead, phi not
            ahead_theta = z + h * jnp.where(is_phi, v, 0.0)
            return z + h * jnp.concatenate([V(ahead_phi)[:n_phi], V(ahead_theta)[n_phi:]])
    '''))
    result = cli("check", "--game", "bilinear", "--scheme", "joint.py:lookahead", "--lr2", "0.5",
                 "--flow", "gradient", "--flow", "bea:2", "--flow", "lookahead.py:lookahead_flow", "--json", "out.json")
    assert result.returncode == 0, result.stderr + result.stdout
    slopes = [r["fitted_slope"] for r in json.loads((outside / "out.json").read_text())["results"]]
    assert np.allclose(slopes, [2, 4, 3], atol=0.15), slopes


# --- the paper's alternating flow written by hand: the same errors as the built-in one ------------------


def _errors(game, scheme, flow):
    step_sizes = default_step_sizes(game, scheme, 10, 1.5)
    return measure_local_error(game, scheme, flow, step_sizes, initial_points(game, 2, 0))


ALTERNATING = [dict(lr1=0.4, lr2=1.5, m=2, k=3, first="phi"), dict(lr1=1.3, lr2=0.6, m=3, k=1, first="theta")]


# A representative of each kind by default (a nonlinear and a linear two-player game, one in logits, a
# single-objective one); the other games under `pytest -m slow` (8-20 s each with empty caches).
HAND_WRITTEN_BY_DEFAULT = {"dirac_gan", "bilinear", "matching_pennies", "rosenbrock"}


@pytest.mark.parametrize("name", [n if n in HAND_WRITTEN_BY_DEFAULT else pytest.param(n, marks=pytest.mark.slow)
                                  for n in catalog()])
def test_hand_written_alternating_flow_measures_the_builtin_errors(name):
    game = catalog()[name]
    for parameters in ALTERNATING:
        scheme = Scheme("alternating", **parameters)
        builtin = _errors(game, scheme, Flow("modified"))
        for function in ("alternating_flow", "alternating_flow_joint"):
            mine = _errors(game, scheme, Flow(f"{EXAMPLES / 'alternating_flow.py'}:{function}"))
            assert mine.reference == builtin.reference
            # the same numbers up to round-off in the field: 1e-10 relative, or far below the round-off floor
            difference = np.abs(mine.errors - builtin.errors)
            assert np.all(difference <= 1e-10 * builtin.errors + 1e-3 * builtin.floor), (function, parameters)


# --- Python API, check matrix, pytest plugin --------------------------------------------------------------


def test_python_api_takes_functions_and_file_specs(outside):
    sys.path.insert(0, str(outside))
    try:
        import lookahead  # the copy outside the repository
    finally:
        sys.path.remove(str(outside))
    from_functions = harness.check("dirac_gan", lookahead.lookahead, lookahead.lookahead_flow, lr1=0.7, lr2=1.3,
                                   points=2)
    from_files = harness.check("dirac_gan", "lookahead.py:lookahead", "lookahead.py:lookahead_flow_wrong",
                               lr1=0.7, lr2=1.3, points=2)
    assert from_functions.passed and abs(from_functions.fit.slope - 3) < 0.15
    assert not from_files.passed and abs(from_files.fit.slope - 2) < 0.15
    entry = from_functions.to_dict()
    assert entry["flow"]["source"].endswith("lookahead.py:lookahead_flow")
    assert entry["scheme"]["rule"].endswith("lookahead.py:lookahead")


def test_check_matrix_takes_flow_and_rule_paths_relative_to_the_matrix_file(outside, cli):
    (outside / "ci").mkdir()
    (outside / "ci" / "flows").mkdir()
    shutil.move(outside / "lookahead.py", outside / "ci" / "flows" / "lookahead.py")
    (outside / "ci" / "matrix.toml").write_text(textwrap.dedent('''
        [settings]
        points = 2

        [[check]]
        games = ["dirac_gan", "bilinear"]
        scheme = "flows/lookahead.py:lookahead"
        rates = [[0.7, 1.3]]
        flows = ["gradient", "flows/lookahead.py:lookahead_flow"]
    '''))
    result = cli("check", "--all", "--matrix", "ci/matrix.toml", "--json", "out.json")
    assert result.returncode == 0, result.stderr + result.stdout
    checks = json.loads((outside / "out.json").read_text())["results"]
    assert [(c["game"], c["flow"]["name"], round(c["fitted_slope"])) for c in checks] == [
        ("dirac_gan", "gradient", 2), ("dirac_gan", "lookahead_flow", 3),
        ("bilinear", "gradient", 2), ("bilinear", "lookahead_flow", 3)]
    assert checks[1]["flow"]["source"] == "ci/flows/lookahead.py:lookahead_flow"


def test_pytest_fixture_takes_paths_relative_to_the_test_file(pytester):
    folder = pytester.mkdir("derivations")
    shutil.copy(EXAMPLES / "lookahead.py", folder / "lookahead.py")
    (folder / "test_mine.py").write_text(textwrap.dedent('''
        def test_right(harness_check):
            result = harness_check("dirac_gan", "lookahead.py:lookahead", "lookahead.py:lookahead_flow",
                                   expected=3, lr1=0.7, lr2=1.3, points=2)
            assert abs(result.fit.slope - 3) < 0.15

        def test_wrong(harness_check):
            harness_check("dirac_gan", "lookahead.py:lookahead", flow="lookahead.py:lookahead_flow_wrong",
                          expected=3, lr1=0.7, lr2=1.3, points=2)
    '''))
    result = pytester.runpytest("-p", "no:cacheprovider", "--harness-json", "out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*order check failed: dirac_gan · user(*lookahead.py:lookahead, lr1=0.7, lr2=1.3) "
                                 "· lookahead_flow_wrong (lookahead.py)",
                                 "*measured: slope 2.0*",
                                 "*series: the flow agrees with the rule's modified field through h^0 and differs "
                                 "at h^1*predicted slope 2",
                                 "*phi equation, f_θ g: flow -0.455 (-alpha*lambda/2), rule 0.455 "
                                 "(alpha*lambda/2)"])
    document = json.loads((pytester.path / "out.json").read_text())
    assert sorted(r["flow"]["name"] for r in document["results"]) == ["lookahead_flow", "lookahead_flow_wrong"]


# --- kernels keyed by what the flow computes -------------------------------------------------------------


def _scaled_flow(scale):
    @harness.flow(order=0)
    def scaled(V, z, h):
        return scale * V(z)

    return scaled


def test_user_flow_kernels_are_keyed_by_their_closure_values():
    game, scheme = catalog()["dirac_gan"], Scheme("simultaneous")
    structure = scheme.kernel_structure(game, False)
    keys = [family_key(game, structure, flow_family(Flow.of(_scaled_flow(c)), scheme)[0])
            for c in (1.0, 1.0, 0.5)]
    assert keys[0] == keys[1] != keys[2]
    right, off = (harness.check(game, scheme, _scaled_flow(c), points=1) for c in (1.0, 0.5))
    assert abs(right.fit.slope - 2) < 0.15 and abs(off.fit.slope - 1) < 0.15  # 0.5 V: wrong at O(h)


def test_edited_flow_file_is_not_served_a_stale_kernel(tmp_path, monkeypatch, cli):
    from harness.base import result_cache
    from harness.measure import kernel_cache

    # Kept kernels and results in a folder of the test's own, whatever the session's cache: the second run, of the
    # edited file, finds the first run's kernels there and in memory (kernel_cache.call: one key for both), under
    # another key.
    kernels = tmp_path / "cache" / "kernels"
    monkeypatch.setattr(kernel_cache, "directory", lambda: kernels)
    monkeypatch.setattr(result_cache, "directory", lambda: kernels)
    monkeypatch.chdir(tmp_path)
    flow = tmp_path / "flow.py"
    source = "import harness\n\n@harness.flow(order=0)\ndef scaled(V, z, h):\n    return {} * V(z)\n"
    slopes = []
    for scale in ("1.0", "0.5"):
        flow.write_text(source.format(scale))
        result = cli("check", "--game", "dirac_gan", "--points", "1", "--flow", "flow.py:scaled", "--json", "out.json")
        assert result.returncode in (0, 1), result.stderr
        assert any(kernels.glob("*.jaxexport")), "the run kept no kernel"
        slopes.append(json.loads((tmp_path / "out.json").read_text())["results"][0]["fitted_slope"])
    assert abs(slopes[0] - 2) < 0.15 and abs(slopes[1] - 1) < 0.15, slopes


# --- bad input: one line, exit 2 ----------------------------------------------------------------------------

FLOWS = '''
import harness
import jax.numpy as jnp
import numpy as np

@harness.flow(order=1)
def fine(V, z, h):
    return V(z)

def undeclared(V, z, h):
    return V(z)

@harness.flow(order=1)
def two_arguments(V, z):
    return V(z)

def half_order(V, z, h):
    return V(z)
half_order.order = 1.5

def too_high(V, z, h):
    return V(z)
too_high.order = 7

@harness.flow(order=1)
def single_array(f, g, phi, theta, h, lr1, lr2):
    return lr1 * f(phi, theta)

@harness.flow(order=1)
def wrong_shape(f, g, phi, theta, h, lr1, lr2):
    return lr1 * f(phi, theta), jnp.zeros(3)

@harness.flow(order=1)
def joint_wrong_shape(V, z, h):
    return V(z)[:1]

@harness.flow(order=1)
def nan_flow(V, z, h):
    return V(z) * jnp.nan

@harness.flow(order=1)
def uses_numpy(V, z, h):
    return np.asarray(V(z))

@harness.flow(order=1)
def python_if(V, z, h):
    if z[0] > 0:
        return V(z)
    return -V(z)

@harness.flow(order=1)
def raises(V, z, h):
    raise ValueError("my derivation is unfinished")

@harness.flow(order=1)
def single_precision(V, z, h):
    return V(z).astype(jnp.float32)

not_a_function = 3
'''

RULES = '''
def returns_one_player(f, g, phi, theta, h, lr1, lr2):
    return (phi + lr1 * h * f(phi, theta),)

def joint(V, z, h):
    return z + h * V(z)

def scatters(V, z, h):
    return z.at[0].add(h * V(z)[0]) + h * V(z).at[0].set(0.0)
'''

BAD_INPUT = [
    (["--flow", "missing.py:fine"], "flow file 'missing.py' does not exist"),
    (["--flow", "flows.py:nothing"], "'flows.py' defines no flow 'nothing' \\(functions there: .*fine"),
    (["--flow", "flows.py:not_a_function"], "flows.py:not_a_function is a int, not a function"),
    (["--flow", "flows.py:undeclared"], "declares no order: decorate it with @harness.flow\\(order=1\\)"),
    (["--flow", "flows.py:two_arguments"], "signature \\(V, z\\), which matches no notation: write it as "
                                           "flow\\(f, g, phi, theta, h, lr1, lr2\\) -> \\(dphi, dtheta\\) or as "
                                           "flow\\(V, z, h\\) -> dz"),
    (["--flow", "flows.py:half_order"], "order declared by .* must be an integer from 0 to 6, got 1.5"),
    (["--flow", "flows.py:too_high"], "must be an integer from 0 to 6, got 7"),
    (["--flow", "flows.py:single_array"], "returned a ArrayImpl|returned a .*; it must return a pair "
                                          "\\(dphi, dtheta\\)"),
    (["--flow", "flows.py:wrong_shape"], "returned player 2's dtheta with shape \\(3,\\), expected \\(2,\\)"),
    (["--flow", "flows.py:joint_wrong_shape"], "returned a vector with shape \\(1,\\), expected \\(5,\\)"),
    (["--flow", "flows.py:nan_flow"], "returned NaN at initial point 1 of 4 \\(the default state"),
    (["--flow", "flows.py:uses_numpy"], "cannot be traced by JAX: it converts a traced value to a numpy array.*"
                                        "use jax.numpy"),
    (["--flow", "flows.py:python_if"], "cannot be traced by JAX: it uses a Python `if`.*use jnp.where"),
    (["--flow", "flows.py:raises"], "raised ValueError: my derivation is unfinished"),
    (["--flow", "flows.py:single_precision"], "as float32; the harness computes in float64 only"),
    (["--scheme", "rules.py:returns_one_player"], "rule 'returns_one_player' .* returned a tuple of length 1; "
                                                  "it must return a pair \\(phi_next, theta_next\\)"),
    (["--scheme", "rules.py:joint", "--m", "2"], "does not name m, so it would ignore the value given"),
    (["--scheme", "rules.py:scatters", "--flow", "bea:1"], "Taylor-mode autodiff \\(bea:P flows\\) has no rule for "
                                                         "the operation 'scatter.*'"),
    (["--scheme", "rules.py:joint", "--flow", "modified"], "no closed-form 'modified' flow for your rule "
                                                           "rules.py:joint; check it against gradient, bea:P"),
]


@pytest.fixture
def user_files(tmp_path, monkeypatch):
    """flows.py and rules.py in the current folder."""
    (tmp_path / "flows.py").write_text(FLOWS)
    (tmp_path / "rules.py").write_text(RULES)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_user_function_is_one_line_and_exit_2(user_files, cli, args, message):
    result = cli("check", "--game", "bilinear", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.search(message, lines[0]), lines[0]


def test_a_bad_flow_in_a_matrix_stops_the_run_before_anything_is_measured(user_files, cli):
    tmp_path = user_files
    (tmp_path / "matrix.toml").write_text(textwrap.dedent('''
        [[check]]
        games = ["dirac_gan"]
        scheme = "simultaneous"
        flows = ["gradient", "modified"]

        [[check]]
        games = ["bilinear"]
        scheme = "simultaneous"
        flows = ["flows.py:raises"]
    '''))
    result = cli("check", "--all", "--matrix", "matrix.toml", "--json", "out.json")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "harness: error: flow 'raises' (flows.py:raises) raised ValueError: my derivation is unfinished"]
    assert not (tmp_path / "out.json").exists()


def test_declaring_a_bad_order_in_python_fails_at_once():
    with pytest.raises(harness.GameError, match="must be an integer from 0 to 6, got 7"):
        harness.flow(order=7)
    with pytest.raises(harness.GameError, match="declares no order"):
        harness.check("dirac_gan", "simultaneous", lambda V, z, h: V(z))


def test_a_bound_method_can_be_declared_and_checked():
    class Derivation:
        def gradient_flow(self, V, z, h):
            return V(z)

    declared = harness.flow(order=0)(Derivation().gradient_flow)  # a method takes no attribute: wrapped
    assert declared.order == 0
    result = harness.check("dirac_gan", "simultaneous", declared, points=1)
    assert result.passed and abs(result.fit.slope - 2) < 0.15


# --- results: JSON round trip, resume, report labels --------------------------------------------------------


def test_user_flow_results_round_trip_resume_and_are_labelled_with_their_file(outside):
    from harness.checks import CheckResult, CheckSpec, Settings, run_checks
    from harness.checks.resume import PartialRun
    from harness.report import table_rows

    games = {"dirac_gan": catalog()["dirac_gan"]}
    spec = CheckSpec("dirac_gan", Scheme("user", 0.7, 1.3, rule=f"{outside}/lookahead.py:lookahead"),
                     Flow(f"{outside}/lookahead.py:lookahead_flow"))
    settings = Settings(points=1)
    partial = PartialRun(outside / "p.json", [spec], settings, games)
    (result,) = run_checks([spec], games, settings)
    partial.begin([result])
    (loaded,) = partial.load()
    assert loaded.spec == spec and loaded.to_dict() == result.to_dict()
    entry = json.loads(json.dumps(result.to_dict()))
    recorded = CheckResult.from_dict(entry, settings)
    assert recorded.to_dict() == entry and recorded.spec.flow.label == "lookahead_flow (lookahead.py)"
    assert table_rows([result])[0][2] == "lookahead_flow (lookahead.py)"
    (outside / "lookahead.py").write_text((outside / "lookahead.py").read_text() + "\n# edited\n")
    with pytest.raises(harness.GameError, match=r"check matrix \(the list of checks, or the code of a rule or flow "
                                               r"they use\) changed"):
        PartialRun(outside / "p.json", [spec], settings, games).load()  # an edited flow file is another check


def test_a_rule_declares_its_order_and_the_expected_slope_follows():
    @harness.rule(order=2)
    def midpoint(V, z, h):
        return z + h * V(z + 0.5 * h * V(z))

    result = harness.check("nonconvex_nonconcave", midpoint, "gradient", points=2)
    assert result.spec.expected_slope == 3 and result.passed and abs(result.fit.slope - 3) < 0.15
    with pytest.raises(harness.GameError, match="must be an integer from 1 to 8, got 0"):
        harness.rule(order=0)
