"""A repeated `harness check` replayed from its stored run (harness.base.replay): the same output, JSON and exit code
without importing JAX; never for a command whose inputs the key cannot see, never after anything in the key
changed."""

import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness.base import replay

COMMAND = ["check", "--game", "dirac_gan", "--flow", "gradient", "--points", "2"]
REPLAY_WITHOUT_JAX = ("import sys\n"
                      "from harness.launch import main\n"
                      "code = main()\n"
                      "assert 'jax' not in sys.modules, 'a replay imported JAX'\n"
                      "sys.exit(code)\n")


@pytest.fixture
def replaying(monkeypatch, tmp_path):
    """Replay on, runs stored in a folder of the test's own."""
    monkeypatch.setenv("HARNESS_REPLAY", "on")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "store"))
    return tmp_path / "store" / "kernels"


def test_a_repeated_check_prints_the_same_and_writes_the_same_json_without_jax(tmp_path):
    # the kernels' cache is the suite's own (warm); the key gets a variable of this test's own, so that no run of
    # an earlier test session is replayed
    env = {**os.environ, "HARNESS_REPLAY": "on", "HARNESS_TEST_RUN": uuid.uuid4().hex}
    out = tmp_path / "results.json"
    command = [*COMMAND, "--json", str(out)]
    first = subprocess.run([sys.executable, "-m", "harness", *command], capture_output=True, text=True, env=env,
                           timeout=600)
    assert first.returncode == 0, first.stderr
    assert "replayed" not in first.stderr
    written = out.read_bytes()
    out.unlink()
    second = subprocess.run([sys.executable, "-c", REPLAY_WITHOUT_JAX, *command], capture_output=True, text=True,
                            env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout and "PASS" in second.stdout
    assert out.read_bytes() == written
    assert json.loads(written)["results"][0]["fitted_slope"] == pytest.approx(2.0, abs=0.15)
    assert "harness: replayed the run of" in second.stderr and "HARNESS_REPLAY=off" in second.stderr
    third = subprocess.run([sys.executable, "-c", REPLAY_WITHOUT_JAX, *command], capture_output=True, text=True,
                           env={**env, "HARNESS_REPLAY": "off"}, timeout=600)
    assert third.returncode == 1 and "a replay imported JAX" in third.stderr  # off: the checks ran


def test_the_key_follows_every_file_of_the_package_the_environment_and_the_arguments(tmp_path, monkeypatch):
    package = tmp_path / "harness"
    shutil.copytree(replay.PACKAGE / "games", package / "games", ignore=shutil.ignore_patterns("__pycache__"))
    (package / "checks").mkdir()
    shutil.copy(replay.PACKAGE / "checks" / "check_matrix.toml", package / "checks")
    monkeypatch.delenv("HARNESS_REPLAY", raising=False)
    key = replay.run_key(COMMAND, package)
    assert key is not None and len(key) == 64 and replay.run_key(COMMAND, package) == key
    assert replay.run_key([*COMMAND, "--seed", "1"], package) != key

    game = package / "games" / "dirac_gan.py"
    text = game.read_text()
    game.write_text(text.replace("0.5", "0.50", 1))  # one character of one game
    assert replay.run_key(COMMAND, package) != key
    game.write_text(text)
    matrix = package / "checks" / "check_matrix.toml"
    matrix.write_text(matrix.read_text() + "\n")  # the default matrix is a file of the package too
    assert replay.run_key(COMMAND, package) != key
    matrix.write_text((replay.PACKAGE / "checks" / "check_matrix.toml").read_text())
    assert replay.run_key(COMMAND, package) == key

    for name, value in (("XLA_FLAGS", "--xla_force_host_platform_device_count=4"), ("JAX_PLATFORMS", "cpu"),
                        ("HARNESS_PARAM_SHARDS", "2"), ("PYTHONPATH", str(tmp_path)), ("CUDA_VISIBLE_DEVICES", "")):
        with monkeypatch.context() as changed:
            changed.setenv(name, value) if os.environ.get(name) != value else changed.delenv(name)
            assert replay.run_key(COMMAND, package) != key, name
    assert replay.run_key(COMMAND, package) == key
    monkeypatch.setenv("HARNESS_REPLAY", "off")
    assert replay.run_key(COMMAND, package) is None


@pytest.mark.parametrize("argv", [
    ["check", "--game", "my_game.py:game"],
    ["check", "--game", "dirac_gan", "--scheme", "rules.py:rule"],
    ["check", "--game", "dirac_gan", "--flow", "flows/derived.py:derived_flow"],
    ["check", "--game", "dirac_gan", "--terms", "terms.py:TERMS"],
    ["check", "--all", "--matrix", "my_matrix.toml"],
    ["check", "--all", "--matrix=sub/matrix"],
    ["check", "--game", "dirac_gan", "--watch"],
    ["check", "--game", "dirac_gan", "--wat"],  # argparse's abbreviation of --watch: only full spellings pass
    ["check", "--all", "--json", "r.json", "--resume"],
    ["check", "--merge", "a.json", "b.json"],
    ["check", "--all", "--distributed"],
    ["check", "--game"],
    ["report", "--out", "report"],
    ["derive", "--game", "dirac_gan"],
    ["--version"],
    [],
])
def test_a_command_whose_inputs_the_key_cannot_see_is_never_replayed(argv, monkeypatch):
    monkeypatch.delenv("HARNESS_REPLAY", raising=False)
    assert replay.run_key(argv) is None


@pytest.mark.parametrize("argv", [
    ["check", "--all", "-j2"],
    ["check", "--all", "--jobs", "2", "--matrix", "optimizers", "--quiet"],
    ["check", "--game=dirac_gan", "--lr2=0.3", "--scheme", "alternating", "--m", "2", "--flow", "bea:2"],
    ["check", "--literature", "--json", "out/results.json", "--progress"],
    ["check", "--all", "--shard", "1/3", "--json", "part-1.json"],
])
def test_built_in_checks_may_be_replayed(argv, monkeypatch):
    monkeypatch.delenv("HARNESS_REPLAY", raising=False)
    assert replay.run_key(argv) is not None


def test_a_run_is_stored_with_its_output_in_order_and_only_when_it_gave_a_verdict(replaying, tmp_path):
    def run(code):
        def printing():
            print("met   measured", flush=True)
            print("[1/1] ok", file=sys.stderr)
            print("1 checks: 1 met")
            return code
        return printing

    for code in (2, 130, 143):  # refused, interrupted, stopped: nothing stored, nothing replayed
        assert replay.recorded("a" * 64, COMMAND, run(code)) == code
        assert replay.replayed("a" * 64, COMMAND) is None
    assert not replaying.exists() or not list(replaying.iterdir())
    assert replay.recorded("b" * 64, COMMAND, run(1)) == 1
    assert (replaying / f"{'b' * 64}.result.json").is_file()  # beside the kept results: capped and cleared with them
    both = io.StringIO()
    assert replay.replayed("b" * 64, COMMAND, both, both) == 1
    lines = both.getvalue().splitlines()
    assert lines[:3] == ["met   measured", "[1/1] ok", "1 checks: 1 met"]
    assert lines[3].startswith("harness: replayed the run of ")


def test_the_json_file_is_written_again_but_never_through_a_link_a_folder_or_beside_partial_results(replaying,
                                                                                                     tmp_path):
    target = tmp_path / "results.json"
    argv = [*COMMAND, "--json", str(target)]

    def run():
        target.write_text('{"results": []}\n')
        return 0

    assert replay.recorded("c" * 64, argv, run) == 0
    target.unlink()
    assert replay.replayed("c" * 64, argv, io.StringIO(), io.StringIO()) == 0
    assert target.read_text() == '{"results": []}\n'
    Path(str(target) + ".partial").write_text("{}")  # an interrupted run's results: the run itself decides
    assert replay.replayed("c" * 64, argv, io.StringIO(), io.StringIO()) is None
    Path(str(target) + ".partial").unlink()
    target.unlink()
    target.mkdir()
    assert replay.replayed("c" * 64, argv, io.StringIO(), io.StringIO()) is None
    target.rmdir()
    target.symlink_to(tmp_path / "elsewhere.json")
    assert replay.replayed("c" * 64, argv, io.StringIO(), io.StringIO()) is None
    assert not (tmp_path / "elsewhere.json").exists()


def test_a_damaged_stored_run_is_run_again(replaying):
    replaying.mkdir(parents=True)
    for text in ("not json", json.dumps({"format": 999}), json.dumps([1, 2])):
        (replaying / f"{'d' * 64}.result.json").write_text(text)
        assert replay.replayed("d" * 64, COMMAND, io.StringIO(), io.StringIO()) is None
