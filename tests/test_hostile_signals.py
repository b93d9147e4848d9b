"""Hostile runs (issue 25): no silent wrong verdict. A game, rule or flow file that exits or raises
KeyboardInterrupt never ends a run with its own exit code; sizes that cannot finish are refused before anything
is compiled (harness.checks.budget); Ctrl-C and SIGTERM end the command line within seconds, at any moment, with one
line and exit 130 or 143 (harness.base.signals); the pytest fixture refuses a malformed expectation before running."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import harness
from harness import GameError
from harness.checks import BUNDLED_MATRICES, load_matrix
from harness.checks.budget import MAX_NUMBERS, MAX_SEQUENCE, MAX_SUBSTEPS, estimate, refusal
from harness.cli import main
from harness.pytest_plugin import assert_order
from harness.rules.schemes import Scheme

pytest_plugins = ["pytester"]

ENV = {**os.environ, "HARNESS_CACHE_DIR": "off"}


def run_cli(capsys, *args):
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own exits
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def start(tmp_path):
    """Start ``harness ARGS`` in ``tmp_path``; whatever is still running at the end of the test is killed."""
    started = []

    def run(*args):
        process = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=tmp_path, env=ENV, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def no_run(monkeypatch):
    """A check that would start measuring fails the test at once (a size the budget missed would not finish)."""
    def ran(*args, **kwargs):
        raise AssertionError("the checks started: the budget did not refuse them")

    for target in ("harness.cli.run_checks", "harness.cli.run_saving", "harness.checks.run_check",
                   "harness.checks.run_checks", "harness.checks.run.run_check", "harness.checks.run.run_checks"):
        monkeypatch.setattr(target, ran)


def wait_for(path, process, seconds=120.0):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


# --- user code that exits: never its own exit code ------------------------------------------------------

ENDINGS = {
    "sys.exit(0)": ("import sys\nsys.exit(0)\n", "SystemExit(0) (sys.exit)"),
    "sys.exit(3)": ("import sys\nsys.exit(3)\n", "SystemExit(3) (sys.exit)"),
    "SystemExit(msg)": ("raise SystemExit('done here')\n", "SystemExit('done here') (sys.exit)"),
    "KeyboardInterrupt": ("raise KeyboardInterrupt\n", "KeyboardInterrupt (from code, not a Ctrl-C)"),
    "BaseException": ("class Stop(BaseException):\n    pass\nraise Stop('halt')\n", "Stop: halt"),
}
ROLES = {
    "flow": ["check", "--game", "dirac_gan", "--flow", "{file}:f"],
    "rule": ["check", "--game", "dirac_gan", "--scheme", "{file}:r"],
    "game": ["check", "--game", "{file}:G"],
    "matrix game": ["check", "--all", "--game", "{file}:G"],
}


@pytest.mark.parametrize("ending", list(ENDINGS))
@pytest.mark.parametrize("role", list(ROLES))
def test_a_file_that_exits_at_import_is_one_line_and_exit_2(tmp_path, capsys, ending, role):
    text, shown = ENDINGS[ending]
    file = tmp_path / "hostile.py"
    file.write_text(text)
    code, out, err = run_cli(capsys, *(arg.format(file=file) for arg in ROLES[role]))
    line = one_line(err)
    assert code == 2 and out == ""
    assert line.startswith(f"harness: error: {shown} raised at ") and "hostile.py:" in line, line
    assert "without a verdict" in line


def test_sys_exit_0_in_a_flow_file_exits_2_on_the_command_line(tmp_path):
    (tmp_path / "flow.py").write_text("import sys\nsys.exit(0)\n")
    done = subprocess.run([sys.executable, "-m", "harness", "check", "--game", "dirac_gan", "--flow", "flow.py:f"],
                          cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert one_line(done.stderr).startswith("harness: error: SystemExit(0) (sys.exit) raised at flow.py:2")


def test_a_flow_that_exits_when_called_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "flow.py").write_text(textwrap.dedent("""
        import sys
        import harness

        @harness.flow(order=1)
        def f(V, z, h):
            sys.exit(0)
    """))
    code, out, err = run_cli(capsys, "check", "--game", "dirac_gan", "--flow", f"{tmp_path}/flow.py:f",
                             "--points", "1", "--step-sizes", "4")
    assert code == 2 and out == ""
    assert one_line(err).startswith("harness: error: SystemExit(0) (sys.exit) raised at ") and "flow.py:7" in err


def test_argparse_keeps_its_own_exits(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0 and "usage: harness" in capsys.readouterr().out
    code, _, err = run_cli(capsys, "check", "--no-such-flag")
    assert code == 2 and one_line(err) == "harness: error: unrecognized arguments: --no-such-flag"


def test_a_run_that_checked_nothing_never_exits_0(capsys, monkeypatch):
    monkeypatch.setattr("harness.cli.run_checks", lambda *args, **kwargs: [])
    code, out, err = run_cli(capsys, "check", "--game", "dirac_gan")
    assert code == 2 and out == ""
    assert one_line(err) == "harness: error: nothing was checked: the run selected no checks"


# --- the work budget ------------------------------------------------------------------------------------


def test_m_1e9_exits_2_within_10_seconds(tmp_path):
    begin = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness", "check", "--game", "dirac_gan", "--scheme", "alternating",
                           "--m", "1000000000"], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - begin
    assert done.returncode == 2 and seconds < 10, (seconds, done.stderr)
    line = one_line(done.stderr)
    assert line.startswith("harness: error: too much work: dirac_gan · alternating(")
    assert ("each of its 40 rows takes 1e+09 update substeps in sequence (1 step x 1,000,000,001 substeps), over "
            f"the budget of {MAX_SEQUENCE:.3g}") in line
    assert "or give --no-budget to run it anyway" in line


@pytest.mark.parametrize("args, message", [
    (["--points", "1000000"], f"10,000,000 rows (points x step sizes) of 2 numbers = 2e+07 numbers held at once "
                              f"(about 6.0 GB), over the budget of {MAX_NUMBERS:.3g}"),
    (["--optimizer", "heavy_ball", "--regime", "cold", "--step", "1000000000", "--flow", "gradient"],
     f"each of its 40 rows takes 1e+09 update substeps in sequence (1,000,000,000 steps), over the budget of "
     f"{MAX_SEQUENCE:.3g}"),
    (["--scheme", "alternating", "--k", "100", "--flow", "bea:1"],
     f"m + k = 101 substeps per step is over the budget of {MAX_SUBSTEPS} (the step is traced unrolled"),
    (["--scheme", "alternating", "--m", "30", "--measure", "global", "--decades", "5", "--flow", "gradient"],
     "each of its 40 rows takes 3.1e+07 update substeps in sequence (1,000,000 steps x 31 substeps)"),
])
def test_sizes_that_cannot_finish_are_refused_before_compiling(capsys, no_run, args, message):
    begin = time.perf_counter()
    code, out, err = run_cli(capsys, "check", "--game", "dirac_gan", *args)
    assert code == 2 and out == "" and time.perf_counter() - begin < 10
    line = one_line(err)
    assert line.startswith("harness: error: too much work: dirac_gan · ") and message in line, line
    assert line.endswith("--no-budget to run it anyway") or "over the budget too)" in line


def test_report_refuses_too_many_points(tmp_path, capsys, no_run):
    code, _, err = run_cli(capsys, "report", "--game", "dirac_gan", "--points", "1000000", "--out",
                           str(tmp_path / "out"))
    assert code == 2 and "too much work" in one_line(err) and "--no-budget" in err
    assert not (tmp_path / "out").exists()


def test_no_budget_lifts_the_budget(capsys, monkeypatch):
    monkeypatch.setattr("harness.cli.run_checks", lambda *args, **kwargs: [])  # nothing is run here
    code, _, err = run_cli(capsys, "check", "--game", "dirac_gan", "--points", "1000000", "--no-budget")
    assert code == 2 and "too much work" not in err and "nothing was checked" in err


def test_the_python_api_refuses_too_with_its_own_way_out(no_run):
    with pytest.raises(GameError, match=r"m \+ k = 1,000,000,001 substeps .* or give budget=False to run it anyway"):
        harness.check("dirac_gan", "alternating", "bea:1", m=10**9)
    with pytest.raises(GameError, match=r"1e\+09 update substeps in sequence .* or give budget=False"):
        harness.check("dirac_gan", "alternating", "gradient", m=10**9)
    with pytest.raises(GameError, match="numbers held at once .* budget=False"):
        harness.check_all(["dirac_gan"], points=10**6)


def test_many_substeps_of_alternating_gd_run_in_its_traced_loop():
    """m = 100 substeps are within the budget for closed-form flows (a traced loop, in the kernel and in the error
    series alike) and measure the modified flow's slope 3."""
    result = harness.check("dirac_gan", Scheme("alternating", 1.0, 0.3, m=100, k=1), "modified", points=1)
    assert result.passed and abs(result.fit.slope - 3) < 0.15
    assert result.series.agrees_through == 1 and result.series.predicted_slope == 3


def test_every_bundled_matrix_is_far_within_the_budget(games):
    for name in BUNDLED_MATRICES:
        settings, specs = load_matrix(name, games)
        for spec in specs:
            found = estimate(spec, games[spec.game], settings)
            assert refusal(spec, found, "--no-budget") is None, (name, spec.label)
            assert found.numbers * 10 < MAX_NUMBERS and found.sequence * 1000 < MAX_SEQUENCE


# --- Ctrl-C and SIGTERM: one line, 130 or 143, within seconds, at any moment ----------------------------


@pytest.mark.parametrize("delay", [0.3, 1.0])
def test_ctrl_c_in_the_first_second_is_one_line_and_exit_130(start, delay):
    process = start("check", "--game", "dirac_gan", "--quiet")
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert out == "" and one_line(err).startswith("harness: interrupted (SIGINT)")


def test_ctrl_c_while_a_slow_user_file_imports_is_one_line_and_exit_130(tmp_path, start):
    marker = tmp_path / "importing"
    (tmp_path / "slow.py").write_text(textwrap.dedent(f"""
        import pathlib, time
        pathlib.Path({str(marker)!r}).touch()
        time.sleep(60)
    """))
    process = start("check", "--game", "dirac_gan", "--flow", "slow.py:f")
    wait_for(marker, process)
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130 and time.perf_counter() - sent < 5
    assert out == "" and one_line(err) == "harness: interrupted (SIGINT) before any check ran; nothing was checked"


ENDLESS = """[settings]
points = 1
step_sizes = 4

[[check]]
games = ["dirac_gan"]
scheme = "simultaneous"
optimizer = "heavy_ball"
regime = "cold"
flows = ["gradient"]

[[check]]
games = ["dirac_gan"]
scheme = "simultaneous"
optimizer = "heavy_ball"
regime = "cold"
step = 1000000000
flows = ["gradient"]
"""


@pytest.mark.parametrize("signum, jobs", [(signal.SIGTERM, 1), (signal.SIGINT, 2)])
def test_a_signal_during_a_long_computation_ends_it_within_seconds(tmp_path, start, signum, jobs):
    """The second check runs 10^9 steps in one XLA call: with -j 1 in the main thread, where no Python signal
    handler runs until it returns (the watcher thread ends the process), with -j 2 in a worker thread."""
    (tmp_path / "endless.toml").write_text(ENDLESS)
    process = start("check", "--all", "--matrix", "endless.toml", "--no-budget", "--progress", "--json",
                    "out.json", "-j", str(jobs))
    for line in process.stderr:
        if line.startswith("[1/2]"):
            break
    time.sleep(1.5)  # into the second check's compilation or computation
    sent = time.perf_counter()
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    seconds = time.perf_counter() - sent
    name, code = signal.Signals(signum).name, {signal.SIGINT: 130, signal.SIGTERM: 143}[signum]
    assert process.returncode == code and seconds < 5, (seconds, err)
    assert one_line(err) == (f"harness: interrupted ({name}) after 1 of 2 checks; the 1 finished checks are saved in "
                             "out.json.partial: run the same command with --resume to continue")
    header, *saved = (tmp_path / "out.json.partial").read_text().splitlines()
    assert json.loads(header)["partial_version"] == 2 and len(saved) == 1 and not (tmp_path / "out.json").exists()


# --- the pytest fixture ---------------------------------------------------------------------------------


def test_assert_order_refuses_a_string_expectation_before_running():
    begin = time.perf_counter()
    with pytest.raises(GameError, match=r"expected must be a number \(the expected slope, e.g. expected=3\), got "
                                        r"'3' \(str\)"):
        assert_order("bilinear", "simultaneous", "gradient", expected="3")
    with pytest.raises(GameError, match="tolerance must be a number"):
        assert_order("bilinear", "simultaneous", "gradient", expected=2, tolerance="0.1")
    assert time.perf_counter() - begin < 2  # refused, not measured


def test_the_fixture_fails_a_string_expectation_in_one_clear_line(pytester):
    pytester.makepyfile(test_orders="""
        def test_order(harness_check):
            harness_check("bilinear", "simultaneous", "gradient", expected="3")
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*harness: error: expected must be a number (the expected slope, e.g. expected=3), "
                                 "got '3' (str)*"])
    assert "TypeError" not in result.stdout.str() and "Traceback" not in result.stdout.str()
