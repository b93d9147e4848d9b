"""Reliability (issue 5): bad input is one line and exit 2; numerical traps are named; runs are deterministic;
interrupted runs lose nothing and resume."""

import json
import re
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import harness
from harness import Game
from harness.checks import CheckResult, CheckSpec, Settings, load_matrix, run_checks
from harness.checks.resume import PartialRun
from harness.cli import main
from harness.flows import Flow
from harness.rules.schemes import Scheme
from harness.verdict import guards

BAD_GAMES = '''
import jax
import jax.numpy as jnp
from harness import Game

NONSCALAR = Game("nonscalar", lambda p, t: p * t, lambda p, t: -p[0] * t[0], [1.0], [0.5])
WRONGSHAPE = Game.from_fields("wrongshape", lambda p, t: jnp.ones(3), lambda p, t: -p, [1.0], [0.5])
COMPLEX = Game("complex", lambda p, t: (p[0] * t[0]).astype(jnp.complex128), lambda p, t: -p[0] * t[0], [1.0], [0.5])
INTEGER = Game("integer", lambda p, t: (p[0] * t[0]).astype(jnp.int32), lambda p, t: -p[0] * t[0], [1.0], [0.5])
NANINIT = Game("naninit", lambda p, t: jnp.log(p[0] - 5) * t[0], lambda p, t: -p[0] * t[0], [1.0], [1.0])
INFINIT = Game("infinit", lambda p, t: t[0] / (p[0] - 1.0), lambda p, t: -p[0] * t[0], [1.0], [1.0])
# defined for phi > 0.95 only: fine at the default state, NaN at a seeded point near it
SEEDNAN = Game("seednan", lambda p, t: p[0] * t[0] + 0.0 * jnp.sqrt(p[0] - 0.95), lambda p, t: -p[0] * t[0],
               [1.0], [0.5])
# phi falls at unit speed from 1: steps longer than 0.05 leave the domain phi > 0.95
ALONG = Game("along", lambda p, t: p[0] + 0.0 * jnp.sqrt(p[0] - 0.95), lambda p, t: 0.5 * (t[0] - p[0]) ** 2,
             [1.0], [0.5])
STOPGRAD = Game("stopgrad", lambda p, t: jax.lax.stop_gradient(p[0] * t[0]),
                lambda p, t: jax.lax.stop_gradient(-p[0] * t[0]), [1.0], [0.5])
INTCAST = Game("intcast", lambda p, t: jnp.floor(p[0] * t[0] * 10) / 10.0, lambda p, t: -jnp.round(p[0] * t[0]),
               [1.0], [0.5])
'''

FILES = {
    "games.py": BAD_GAMES,
    "syntax.py": "def oops(:\n",
    "importerr.py": "import not_a_module\n",
    "nogames.py": "X = 1\n",
    "rank.py": "from harness import Game\nG = Game('r', lambda p, t: p[0] * t[0], lambda p, t: -p[0] * t[0], "
               "[[1.0]], [0.5])\n",
    "nanstate.py": "from harness import Game\nG = Game('n', lambda p, t: p[0] * t[0], lambda p, t: -p[0] * t[0], "
                   "[float('nan')], [0.5])\n",
    "infstate.py": "from harness import Game\nG = Game('i', lambda p, t: p[0] * t[0], lambda p, t: -p[0] * t[0], "
                   "[1.0], [float('inf')])\n",
    "bad_matrix.toml": '[[check]]\nscheme = "simultaneous"\nflows = ["gradient"]\n\n[[check]]\nscheme = '
                       '"simultaneous"\nflows = ["gradient"]\nrates = "fast"\n',
}

BAD_INPUTS = [
    (["--game", "{d}/missing.py:G"], "does not exist"),
    (["--game", "{d}/syntax.py:G"], "fails to import: SyntaxError"),
    (["--game", "{d}/importerr.py:G"], "fails to import: ModuleNotFoundError"),
    (["--game", "{d}/games.py:NOPE"], "defines no game 'NOPE'"),
    (["--game", "{d}/nogames.py"], "defines 0 games"),
    (["--game", "{d}/games.py:NONSCALAR"], "must return a scalar"),
    (["--game", "{d}/games.py:WRONGSHAPE"], r"has shape \(3,\), expected \(1,\)"),
    (["--game", "{d}/games.py:COMPLEX"], "complex"),
    (["--game", "{d}/games.py:INTEGER"], "int32; it must return floats"),
    (["--game", "{d}/rank.py:G"], "phi0 must be a 1-D array"),
    (["--game", "{d}/nanstate.py:G"], "phi0 contains NaN or inf"),
    (["--game", "{d}/infstate.py:G"], "theta0 contains NaN or inf"),
    (["--game", "{d}/games.py:NANINIT"], "loss1 is NaN at the default state"),
    (["--game", "{d}/games.py:INFINIT"], "loss1 is inf at the default state"),
    (["--game", "{d}/games.py:SEEDNAN"], "NaN at initial point 4 of 4, a seeded point near it"),
    (["--game", "{d}/games.py:ALONG", "--points", "1"], "not defined along the flow"),
    (["--game", "{d}/games.py:STOPGRAD"], "identically zero"),
    (["--game", "{d}/games.py:INTCAST"], "identically zero"),
    (["--game", "dirac_gan", "--lr1", "-1"], "positive finite"),
    (["--game", "dirac_gan", "--lr2", "0"], "positive finite"),
    (["--game", "dirac_gan", "--h-max", "0"], "positive finite"),
    (["--game", "dirac_gan", "--h-max", "-0.1"], "positive finite"),
    (["--game", "dirac_gan", "--scheme", "alternating", "--m", "0"], "positive integer"),
    (["--game", "dirac_gan", "--scheme", "alternating", "--k", "-2"], "positive integer"),
    (["--game", "dirac_gan", "--step-sizes", "2"], "at least 4"),
    (["--game", "dirac_gan", "--flow", "bogus"], "unknown flow"),
    (["--game", "dirac_gan", "--flow", "bea:12"], "unknown flow"),
    (["--game", "dirac_gan", "--scheme", "adam"], "unknown scheme"),
    (["--game", "dirac_gan", "--scheme", "{d}/games.py:nope"], "defines no rule 'nope'"),
    (["--all", "--game", "dirac_gan", "--matrix", "{d}/bad_matrix.toml"], "bad_matrix.toml:5: `rates` must be"),
    (["--game", "dirac_gan", "--resume"], "--resume needs --json"),
]


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    for name, text in FILES.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def run_cli(capsys, *args):
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_clear_line_and_exit_2(bad_dir, capsys, args, message):
    code, out, err = run_cli(capsys, "check", "--quiet", *(a.format(d=bad_dir) for a in args))
    assert code == 2, (out, err)
    assert re.search(message, err), err
    assert err.startswith("harness: error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --- numerical traps ---------------------------------------------------------------------------------

def kinked(phi0: float) -> Game:
    """A bilinear game plus relu(phi)^2: its field has a kink at phi = 0 (and a zero second derivative
    almost everywhere, so it looks affine to autodiff)."""
    return Game("relu_kink", lambda p, t: p[0] * t[0] + jnp.sum(jax.nn.relu(p) ** 2),
                lambda p, t: -p[0] * t[0], [phi0], [0.5])


def test_a_relu_kink_is_not_solved_as_affine_and_the_verdict_names_it():
    result = harness.check(kinked(0.0005), "simultaneous", "modified", points=1)
    assert result.measurement.reference == "dopri8"  # not expm, although F'' = 0 almost everywhere
    assert result.fit.status != "PASS" and not result.passed
    first = result.fit.reasons[0]
    assert first.startswith("order broke down: the field is not smooth (a kink")
    assert "1 of 1 initial points, at 10 of 10 (point, step size) pairs" in first
    assert any("looked affine" in reason for reason in result.fit.reasons)
    # the reference solver loses accuracy at the kink: those errors are dropped and counted
    assert any(re.match(r"10 errors dropped: reference error above 1%", r) for r in result.fit.reasons)


def test_a_kink_away_from_the_measured_steps_changes_nothing():
    result = harness.check(kinked(3.0), "simultaneous", "modified", points=2)
    assert result.fit.status == "PASS" and result.fit.reasons == [] and result.measurement.reference == "expm"


def test_smooth_catalog_games_have_no_kinks(games):
    for name in ("dirac_gan", "nonconvex_nonconcave", "bilinear"):
        game, scheme = games[name], Scheme("simultaneous", 0.4, 1.5)
        step_sizes = harness.measure.default_step_sizes(game, scheme)
        points = harness.measure.initial_points(game, 4, 0)
        assert guards.non_smooth_reason(game, scheme, points, step_sizes) is None, name


def test_secant_defect_separates_affine_from_piecewise_affine():
    z0, d = jnp.array([[0.1, 0.5], [2.0, 0.5]]), jnp.array([[-0.3, 0.1], [-0.3, 0.1]])
    defect = np.asarray(guards._secant_defect(kinked(0.1))(z0, d))
    assert defect[0] > 0.1 and defect[1] == 0.0  # crosses phi = 0; stays on one side


def test_a_game_whose_local_error_is_identically_zero_is_exact():
    # theta never moves and phi's field depends on theta only: Euler's step is the gradient flow's time-h map
    game = Game("exact", lambda p, t: p[0] * jnp.sin(t[0]), lambda p, t: 0.0 * t[0], [1.0], [0.7])
    result = harness.check(game, "simultaneous", "gradient", points=2)
    assert result.fit.status == "EXACT" and "matches the update exactly" in result.fit.reasons[-1]


def test_a_flow_that_blows_up_within_h_is_reported_not_crashed():
    # dz/dt = z^2 from z = 2 blows up at t = 0.5, inside the largest steps
    game = Game("blowup", lambda p, t: -p[0] ** 3 / 3 + 0.0 * t[0], lambda p, t: 0.5 * (t[0] - p[0]) ** 2,
                [2.0], [0.5])
    result = harness.check(game, "simultaneous", "gradient", points=2, h_max=1.0, decades=1.0)
    assert not result.passed
    assert any(re.match(r"\d+ of 20 errors are NaN or inf \(diverging at h >= ", r) for r in result.fit.reasons)
    assert np.isnan(result.measurement.errors[:, -1]).all()


def test_pre_asymptotic_names_a_step_range_that_works():
    slow = harness.check("dirac_gan", "simultaneous", "modified", h_max=3.0, decades=0.8)
    assert slow.fit.status == "PRE-ASYMPTOTIC"
    suggestion = next(r for r in slow.fit.reasons if "try --h-max" in r)
    h_max = float(re.search(r"try --h-max ([0-9.e-]+)", suggestion).group(1))
    assert h_max < 3.0
    assert harness.check("dirac_gan", "simultaneous", "modified", h_max=h_max, decades=0.8).fit.status == "PASS"


def test_a_loss_undefined_along_the_flow_names_the_state():
    game = Game("along", lambda p, t: p[0] + 0.0 * jnp.sqrt(p[0] - 0.95), lambda p, t: 0.5 * (t[0] - p[0]) ** 2,
                [1.0], [0.5])
    with pytest.raises(harness.GameError, match=r"NaN or inf at z = \[0\.9\d+, .*within one step of size h = "):
        harness.check(game, "simultaneous", "gradient", points=1, h_max=0.1)
    assert harness.check(game, "simultaneous", "gradient", points=1, h_max=0.01).passed  # inside the domain


# --- determinism and round trips ----------------------------------------------------------------------

def test_check_result_round_trips_through_its_dict():
    result = harness.check("dirac_gan", "alternating", "modified", lr2=0.3, points=2)
    entry = json.loads(json.dumps(result.to_dict()))
    again = CheckResult.from_dict(entry, result.settings)
    assert again.to_dict() == entry and again.spec == result.spec and again.passed == result.passed
    np.testing.assert_array_equal(again.measurement.errors, result.measurement.errors)
    diverged = harness.check("dirac_gan_bilinear", flow="gradient", points=2, h_max=1e200, decades=1.0)
    entry = json.loads(json.dumps(diverged.to_dict()))
    assert CheckResult.from_dict(entry).to_dict() == entry


def harness_process(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def numbers(path):
    document = json.loads(path.read_text())
    for entry in document["results"]:
        entry.pop("seconds")
    return document


@pytest.mark.slow
def test_the_same_command_gives_the_same_numbers_bit_for_bit(tmp_path):
    args = ["check", "--game", "nonconvex_nonconcave", "--scheme", "alternating", "--lr2", "0.3", "--points", "3",
            "--seed", "7", "--quiet"]
    for name in ("first.json", "second.json"):
        assert harness_process(*args, "--json", str(tmp_path / name)).returncode == 0
    first, second = numbers(tmp_path / "first.json"), numbers(tmp_path / "second.json")
    assert first == second  # floats printed with repr: equal text is equal bits
    assert first["settings"]["seed"] == 7 and {e["seed"] for e in first["results"]} == {7}
    in_process = harness.check("nonconvex_nonconcave", "alternating", "modified", lr2=0.3, points=3, seed=7)
    assert json.loads(json.dumps(in_process.to_dict()))["errors"] == first["results"][1]["errors"]


# --- nothing lost: interrupted runs and --resume --------------------------------------------------------

MATRIX = """[settings]
points = 2
[[check]]
games = ["dirac_gan_bilinear", "rotational"]
scheme = "alternating"
rates = [[1, 1], [1, 0.3]]
flows = ["gradient", "modified"]
"""


def test_resume_refuses_a_partial_run_of_other_settings(tmp_path, capsys, games):
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(MATRIX)
    selected = {name: games[name] for name in ("dirac_gan_bilinear", "rotational")}
    settings, specs = load_matrix(matrix, selected)
    partial = PartialRun(tmp_path / "out.json.partial", specs, settings, selected)
    partial.begin(run_checks(specs[:1], selected, settings))
    assert [r.spec for r in partial.load()] == specs[:1]
    args = ["check", "--all", "--game", "dirac_gan_bilinear", "--game", "rotational", "--matrix", str(matrix),
            "--json", str(tmp_path / "out.json"), "--resume", "--quiet"]
    code, _, err = run_cli(capsys, *args, "--points", "3")
    assert code == 2 and "cannot resume from" in err and "the settings changed" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = run_cli(capsys, *args)
    assert code == 0 and "resuming: 1 of 8 checks loaded" in err and "8 checks: 8 met" in out
    assert not partial.path.exists()
    reference = run_checks(specs, selected, settings)
    saved = json.loads((tmp_path / "out.json").read_text())["results"]
    assert [{**e, "seconds": 0} for e in saved] == [{**r.to_dict(), "seconds": 0} for r in reference]


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_report_keeps_the_old_one_and_resumes_to_the_same_results(tmp_path, signum, code):
    (tmp_path / "matrix.toml").write_text(MATRIX)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".harness-report").write_text("")  # a folder harness report wrote (harness.report.MARKER)
    (out / "index.md").write_text("previous report\n")
    (out / "results.json").write_text('{"previous": true}\n')
    args = ["report", "--game", "dirac_gan_bilinear", "--game", "rotational", "--matrix", "matrix.toml",
            "--out", "out"]
    process = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=tmp_path, text=True,
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("[3/8]"):
            process.send_signal(signum)
            break
    _, rest = process.communicate(timeout=300)
    lines += rest.splitlines(keepends=True)
    assert process.returncode == code, "".join(lines)
    name = signal.Signals(signum).name
    match = re.search(rf"harness: interrupted \({name}\) after (\d) of 8 checks; the \1 finished checks are saved in "
                      r"out/partial-results.json: run the same command with --resume to continue", lines[-1])
    assert match and int(match.group(1)) >= 3, lines[-1]
    assert (out / "index.md").read_text() == "previous report\n"
    assert (out / "results.json").read_text() == '{"previous": true}\n'
    header, *saved = (out / "partial-results.json").read_text().splitlines()
    assert json.loads(header)["partial_version"] == 2
    assert len(saved) == int(match.group(1))

    start = time.perf_counter()
    resumed = harness_process(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {len(saved)} of 8 checks loaded" in resumed.stderr
    assert f"[{len(saved) + 1}/8]" in resumed.stderr and "[1/8]" not in resumed.stderr
    assert not (out / "partial-results.json").exists() and not (out / ".staging").exists()
    assert (out / "index.md").read_text().startswith("# Discretization-drift report")
    assert time.perf_counter() - start < 600
    uninterrupted = harness_process("check", "--all", *args[1:7], "--json", "full.json", "--quiet", cwd=tmp_path)
    assert uninterrupted.returncode == 0
    assert numbers(out / "results.json")["results"] == numbers(tmp_path / "full.json")["results"]


def test_flow_spec_survives_the_partial_file(tmp_path, games):
    spec = CheckSpec("dirac_gan", Scheme("heavy_ball", beta=0.5), Flow("modified"))
    partial = PartialRun(tmp_path / "p.json", [spec], Settings(points=1), games)
    partial.begin(run_checks([spec], games, Settings(points=1)))
    (loaded,) = partial.load()
    assert loaded.spec == spec and loaded.settings == Settings(points=1)
