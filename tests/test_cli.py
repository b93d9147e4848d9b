"""The command line: exit codes, output and the JSON contract. The console entry point itself (`python -m harness`,
a process of its own) in test_version and test_check_writes_the_json_contract; the other tests call harness.cli.main
in the test's process (the `cli` fixture of conftest.py), which is what that entry point runs."""

import json
import subprocess
import sys
import textwrap

import pytest


def harness(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_list_shows_the_catalog(cli):
    result = cli("list", "--json")
    assert result.returncode == 0
    names = {game["name"] for game in json.loads(result.stdout)}
    assert {"dirac_gan", "dirac_gan_bilinear", "bilinear", "rotational", "rosenbrock"} <= names


def test_check_writes_the_json_contract(tmp_path):
    out = tmp_path / "r.json"
    result = harness("check", "--game", "dirac_gan", "--scheme", "alternating", "--lr1", "0.4", "--lr2", "1.5",
                     "--m", "2", "--flow", "gradient", "--flow", "modified", "--json", str(out), "--progress")
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["schema_version"] == 1
    first, second = document["results"]
    for key in ("game", "scheme", "flow", "expected_slope", "fitted_slope", "status", "passed", "step_sizes",
                "points", "errors", "reference_error"):
        assert key in first
    assert first["scheme"] == {"name": "alternating", "lr1": 0.4, "lr2": 1.5, "m": 2, "k": 1, "first": "phi",
                                 "beta": 0.0, "rule": None}
    assert first["flow"] == {"name": "gradient", "order": 0} and second["flow"] == {"name": "modified", "order": 1}
    assert abs(first["fitted_slope"] - 2) < 0.15 and abs(second["fitted_slope"] - 3) < 0.15
    assert len(first["points"]) == 4 and len(first["points"][0]) == 2
    assert len(first["errors"]) == 4 and len(first["errors"][0]) == len(first["step_sizes"]) == 10
    assert "[1/2]" in result.stderr  # progress, asked for: no terminal here
    assert result.stdout.splitlines()[0] == "met   measured status    slope (expected, series)  check"
    quiet = harness("check", "--game", "dirac_gan", "--flow", "gradient", "--points", "1")
    assert quiet.returncode == 0 and "[1/1]" not in quiet.stderr  # without a terminal, results on stdout only


def test_official_convention_with_unequal_rates_exits_1(cli):
    result = cli("check", "--game", "bilinear", "--lr2", "0.3", "--flow", "official")
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "outside 3" in result.stdout


def test_game_from_a_file_outside_the_repository(tmp_path, monkeypatch, cli):
    (tmp_path / "my_game.py").write_text(textwrap.dedent('''
        """A cubic zero-sum game, written outside the repository."""
        import jax.numpy as jnp
        from harness import Game
        E = lambda p, t: p[0] * t[0] + 0.2 * p[0] ** 3 * t[0]
        MINE = Game("cubic", E, lambda p, t: -E(p, t), [0.7], [0.4])
    '''))
    monkeypatch.chdir(tmp_path)
    result = cli("check", "--game", "my_game.py:MINE", "--scheme", "alternating", "--lr2", "0.5")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "cubic" in result.stdout and result.stdout.count("PASS  PASS") == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--game", "no_such_game"], "unknown game"),
        (["check", "--game", "missing.py:G"], "does not exist"),
        (["check", "--game", "dirac_gan", "--lr1", "-1"], "positive"),
        (["check", "--game", "dirac_gan", "--m", "0"], "positive integer"),
        (["check", "--game", "dirac_gan", "--flow", "bogus"], "unknown flow"),
        (["check"], "--game"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # each message, one line and exit 2 in the default suite: test_reliability.py's
# test_bad_input_is_one_clear_line_and_exit_2 (importerr.py, NANINIT, NOPE); through a process of its own:
# test_scaffold.py's test_a_bad_name_is_one_line_and_exit_2_through_the_command
def test_broken_game_file_is_exit_2(tmp_path):
    (tmp_path / "broken.py").write_text("import not_a_module\n")
    (tmp_path / "nan.py").write_text(textwrap.dedent('''
        import jax.numpy as jnp
        from harness import Game
        G = Game("nan", lambda p, t: jnp.log(p[0] - 5) * t[0], lambda p, t: -p[0] * t[0], [1.0], [1.0])
    '''))
    for spec, message in (("broken.py:G", "fails to import"), ("nan.py:G", "NaN"), ("nan.py:H", "no game 'H'")):
        result = harness("check", "--game", spec, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_version():
    result = harness("--version")
    assert result.returncode == 0 and result.stdout.startswith("harness ")


def test_the_command_ends_with_its_code_its_output_flushed_and_the_atexit_handlers_run(tmp_path):
    # harness.launch.exit_now skips Python's teardown: what the teardown would have done must still happen
    marker = tmp_path / "atexit-ran"
    script = textwrap.dedent(f'''
        import atexit, pathlib, sys
        from harness.launch import exit_now
        atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text("yes"))
        sys.stdout.write("buffered, not yet flushed")
        exit_now(3)
        print("never reached")
    ''')
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, marker.read_text()) == (3, "buffered, not yet flushed", "yes")
    reader_gone = script.replace("sys.stdout.write", "import io\n"
                                 "class Gone(io.StringIO):\n"
                                 "    def flush(self): raise BrokenPipeError(32, 'Broken pipe')\n"
                                 "sys.stdout = Gone()\n"
                                 "sys.stdout.write")
    broken = subprocess.run([sys.executable, "-c", reader_gone], capture_output=True, text=True, timeout=60)
    assert broken.returncode == 120, broken.stderr  # as Python's own exit when its output cannot be flushed


def test_user_update_rule_from_a_file_gets_its_order_2_flow_checked(tmp_path, monkeypatch, cli):
    (tmp_path / "rules.py").write_text(textwrap.dedent('''
        def lookahead(V, z, h):
            """A one-step momentum variant: z' = z + h V(z + 0.3 h V(z))."""
            return z + h * V(z + 0.3 * h * V(z))
    '''))
    monkeypatch.chdir(tmp_path)
    result = cli("check", "--game", "dirac_gan", "--scheme", "rules.py:lookahead", "--lr2", "0.5",
                 "--flow", "bea:2", "--json", "out.json")
    assert result.returncode == 0, result.stderr + result.stdout
    (check,) = json.loads((tmp_path / "out.json").read_text())["results"]
    assert check["scheme"]["rule"] == "rules.py:lookahead" and check["flow"] == {"name": "bea:2", "order": 2}
    assert abs(check["fitted_slope"] - 4.0) < 0.15


@pytest.mark.slow  # in the default suite: test_reliability.py's test_bad_input_is_one_clear_line_and_exit_2
# (--scheme adam, --flow bea:12), through harness.cli.main in the test's process
def test_unknown_scheme_and_flow_order_are_exit_2():
    for args in (["--scheme", "adam"], ["--flow", "bea:12"]):
        result = harness("check", "--game", "dirac_gan", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_check_with_optimizers_and_a_regime_records_them(tmp_path, cli):
    out = tmp_path / "r.json"
    result = cli("check", "--game", "dirac_gan", "--lr2", "0.3", "--points", "2",
                 "--optimizer", "adam(beta1=0.9, beta2=0.99, eps=1e-8, bias_correction=true)",
                 "--optimizer2", "heavy_ball(beta=0.5)", "--regime", "cold", "--step", "4",
                 "--flow", "modified-at-step", "--flow", "modified", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    at_step, steady = json.loads(out.read_text())["results"]
    assert at_step["scheme"]["regime"] == "cold" and at_step["scheme"]["step"] == 4
    assert at_step["scheme"]["optimizer"] == {"name": "adam", "beta1": 0.9, "beta2": 0.99, "eps": 1e-8,
                                              "eps_inside": True, "bias_correction": True}
    assert at_step["scheme"]["optimizer2"] == {"name": "heavy_ball", "beta": 0.5}
    assert abs(at_step["fitted_slope"] - 3) < 0.15
    assert steady["expected_slope"] == 1 and abs(steady["fitted_slope"] - 1) < 0.15  # heavy ball's cold start
    assert "cold at step 4" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--optimizer", "adamw"], "unknown optimizer 'adamw'"),
    (["--optimizer", "adam(beta1=2)"], "beta1 must be in [0, 1)"),
    (["--regime", "cold"], "a regime applies to rules with memory"),
    (["--optimizer", "adam", "--step", "3"], "step n applies to the cold regime"),
    (["--optimizer", "adam", "--flow", "bea:1"], "slow manifold"),
])
def test_bad_optimizer_input_is_one_line_and_exit_2(cli, args, message):
    result = cli("check", "--game", "dirac_gan", *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_literature_runs_the_catalogs_claims_with_their_verdicts(cli):
    result = cli("check", "--literature", "--game", "quadratic_general_sum", "--points", "2")  # the quickest game
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alternating (Rosca et al. 2021)" in result.stdout and "9 checks: 9 met" in result.stdout
    refused = cli("check", "--literature", "--matrix", "large")
    assert refused.returncode == 2 and "leave out --matrix" in refused.stderr
