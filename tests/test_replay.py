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
from harness.base.parallel import PROCESS_EVENT

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


def test_a_repeated_derivation_prints_the_same_without_jax():
    env = {**os.environ, "HARNESS_REPLAY": "on", "HARNESS_TEST_RUN": uuid.uuid4().hex}
    command = ["derive", "--scheme", "simultaneous", "--order", "1", "--lr2", "0.3"]
    first = subprocess.run([sys.executable, "-m", "harness", *command], capture_output=True, text=True, env=env,
                           timeout=600)
    assert first.returncode == 0 and "verified" in first.stdout, first.stderr
    second = subprocess.run([sys.executable, "-c", REPLAY_WITHOUT_JAX, *command], capture_output=True, text=True,
                            env=env, timeout=600)
    assert second.returncode == 0 and second.stdout == first.stdout, second.stderr
    assert "harness: replayed the run of" in second.stderr


def test_the_key_follows_every_file_of_the_package_the_environment_and_the_arguments(tmp_path, monkeypatch):
    package = tmp_path / "harness"
    shutil.copytree(replay.PACKAGE / "games", package / "games", ignore=shutil.ignore_patterns("__pycache__"))
    (package / "checks").mkdir()
    shutil.copy(replay.PACKAGE / "checks" / "check_matrix.toml", package / "checks")
    monkeypatch.delenv("HARNESS_REPLAY", raising=False)
    key = replay.run_key(COMMAND, package)
    assert key is not None and len(key.text) == 64 and replay.run_key(COMMAND, package) == key
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

    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "helper.py").write_text("A = 1\n")
    (package / "games" / "shared").symlink_to(linked, target_is_directory=True)  # a linked folder is followed
    key = replay.run_key(COMMAND, package)
    (linked / "helper.py").write_text("A = 2\n")
    assert replay.run_key(COMMAND, package) != key
    key = replay.run_key(COMMAND, package)

    for name, value in (("XLA_FLAGS", "--xla_force_host_platform_device_count=4"), ("JAX_PLATFORMS", "cpu"),
                        ("HARNESS_PARAM_SHARDS", "2"), ("PYTHONPATH", str(tmp_path)), ("CUDA_VISIBLE_DEVICES", "")):
        with monkeypatch.context() as changed:
            changed.setenv(name, value) if os.environ.get(name) != value else changed.delenv(name)
            assert replay.run_key(COMMAND, package) != key, name
    assert replay.run_key(COMMAND, package) == key
    for off in ("off", "0", "false", "no"):
        monkeypatch.setenv("HARNESS_REPLAY", off)
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
    ["check", "--game", "dirac_gan", "--json", "a.json", "--json", "b.json"],  # argparse keeps the last
    ["report", "--out", "report"],
    ["derive", "--game", "dirac_gan"],
    ["derive", "--scheme", "alternating", "--out", "derived.py", "--format", "python"],  # derive's own file rules
    ["derive", "--scheme", "my_rule.py:rule"],
    ["derive", "--terms", "terms.py:TERMS"],
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
    ["derive", "--scheme", "alternating", "--order", "3", "--m", "2", "--format", "latex"],
])
def test_built_in_checks_may_be_replayed(argv, monkeypatch):
    monkeypatch.delenv("HARNESS_REPLAY", raising=False)
    assert replay.run_key(argv) is not None


@pytest.fixture
def clean_process(monkeypatch):
    """As in a `harness` process, whose every module came from the harness, the standard library or
    site-packages (this one imported the tests' own modules too)."""
    monkeypatch.setattr(replay, "_imported", lambda argv: ["json", "numpy"])


def test_a_run_is_stored_with_its_output_in_order_and_only_when_it_gave_a_verdict(replaying, clean_process):
    def run(code):
        def printing():
            print("met   measured", flush=True)
            print("[1/1] ok", file=sys.stderr)
            print("1 checks: 1 met")
            return code
        return printing

    key = replay.run_key(COMMAND)
    for code in (2, 130, 143):  # refused, interrupted, stopped: nothing stored, nothing replayed
        assert replay.recorded(key, COMMAND, run(code)) == code
        assert replay.replayed(key, COMMAND) is None
    assert not replaying.exists() or not list(replaying.iterdir())
    assert replay.recorded(key, COMMAND, run(1)) == 1
    assert (replaying / f"{key.text}.result.json").is_file()  # beside the kept results: capped and cleared with them
    both = io.StringIO()
    assert replay.replayed(key, COMMAND, both, both) == 1
    lines = both.getvalue().splitlines()
    assert lines[:3] == ["met   measured", "[1/1] ok", "1 checks: 1 met"]
    assert lines[3].startswith("harness: replayed the run of ")
    assert replay.replayed(key, [*COMMAND, "--seed", "0"], both, both) is None  # another command's stored run


def test_a_run_that_imported_code_from_elsewhere_or_saw_a_file_change_is_not_kept(replaying, monkeypatch):
    key = replay.run_key(COMMAND)
    assert replay._imported(COMMAND) is None  # this process imported the tests' own modules
    assert replay.recorded(key, COMMAND, lambda: 0) == 0 and replay.replayed(key, COMMAND) is None
    monkeypatch.setattr(replay, "_imported", lambda argv: ["json"])
    monkeypatch.setattr(replay, "_files", lambda argv, folder=None: "e" * 64)  # a harness file edited meanwhile
    assert replay.recorded(key, COMMAND, lambda: 0) == 0 and replay.replayed(key, COMMAND) is None


def test_a_run_that_read_a_file_from_elsewhere_is_not_kept(replaying, clean_process, tmp_path):
    data = tmp_path / "weights.txt"  # as a catalog game's data file outside the package would be
    data.write_text("1.0\n")
    key = replay.run_key(COMMAND)

    def reading():
        data.read_text()
        return 0

    assert replay.recorded(key, COMMAND, reading) == 0 and replay.replayed(key, COMMAND) is None

    def reading_the_package():
        (replay.PACKAGE / "checks" / "check_matrix.toml").read_text()  # in the key: kept
        return 0

    assert replay.recorded(key, COMMAND, reading_the_package) == 0
    assert replay.replayed(key, COMMAND, io.StringIO(), io.StringIO()) == 0


def test_a_run_that_started_a_program_or_read_shared_memory_is_not_kept(replaying, clean_process):
    key = replay.run_key(COMMAND)

    def starting():
        subprocess.run(["true"], check=True)  # its reads are not seen
        return 0

    assert replay.recorded(key, COMMAND, starting) == 0 and replay.replayed(key, COMMAND) is None
    assert replay.recorded(key, COMMAND, lambda: (sys.audit(PROCESS_EVENT), 0)[1]) == 0  # a checks' helper process
    assert replay.replayed(key, COMMAND) is None
    shared = Path("/dev/shm") / f"harness-test-{uuid.uuid4().hex}"
    if shared.parent.is_dir():
        shared.write_text("1.0\n")
        try:
            assert replay.recorded(key, COMMAND, lambda: (shared.read_text(), 0)[1]) == 0
            assert replay.replayed(key, COMMAND) is None  # a file in /dev, not a device
        finally:
            shared.unlink()

    def reading_a_device():
        with open(os.devnull) as null:  # a character device: kept
            null.read()
        return 0

    assert replay.recorded(key, COMMAND, reading_a_device) == 0
    assert replay.replayed(key, COMMAND, io.StringIO(), io.StringIO()) == 0


def test_the_audit_hook_never_raises_into_the_code_it_watches(replaying, clean_process):
    def odd_events():
        sys.audit("open", "only one argument")  # a third party's event of other arguments
        return 0

    key = replay.run_key(COMMAND)
    assert replay.recorded(key, COMMAND, odd_events) == 0 and replay.replayed(key, COMMAND) is None


def test_a_module_that_another_folder_on_the_import_path_now_holds_stops_the_replay(replaying, clean_process,
                                                                                    tmp_path, monkeypatch):
    key = replay.run_key(COMMAND)
    assert replay.recorded(key, COMMAND, lambda: 0) == 0
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))  # as the current folder is for python -m harness
    assert replay.replayed(key, COMMAND, io.StringIO(), io.StringIO()) == 0
    (folder / "numpy").mkdir()  # a local numpy/ would be imported in place of the installed one
    assert replay.replayed(key, COMMAND, io.StringIO(), io.StringIO()) is None


def test_a_check_whose_game_imports_a_module_from_outside_is_never_kept(tmp_path):
    (tmp_path / "helper_of_mine.py").write_text("VALUE = 1\n")
    script = (f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport helper_of_mine\n"
              "from harness.launch import main\nsys.exit(main())\n")
    env = {**os.environ, "HARNESS_REPLAY": "on", "HARNESS_TEST_RUN": uuid.uuid4().hex}
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", script, *COMMAND], capture_output=True, text=True, env=env,
                             timeout=600)
        assert run.returncode == 0 and "PASS" in run.stdout, run.stderr
        assert "replayed" not in run.stderr


def test_the_json_file_is_written_again_but_never_through_a_link_a_folder_or_beside_partial_results(
        replaying, clean_process, tmp_path):
    target = tmp_path / "results.json"
    argv = [*COMMAND, "--json", str(target)]
    key = replay.run_key(argv)

    def run():
        target.write_text('{"results": []}\n')
        return 0

    assert replay.recorded(key, argv, run) == 0
    target.unlink()
    assert replay.replayed(key, argv, io.StringIO(), io.StringIO()) == 0
    assert target.read_text() == '{"results": []}\n'
    Path(str(target) + ".partial").write_text("{}")  # an interrupted run's results: the run itself decides
    assert replay.replayed(key, argv, io.StringIO(), io.StringIO()) is None
    Path(str(target) + ".partial").unlink()
    target.unlink()
    target.mkdir()
    assert replay.replayed(key, argv, io.StringIO(), io.StringIO()) is None
    target.rmdir()
    target.symlink_to(tmp_path / "elsewhere.json")
    assert replay.replayed(key, argv, io.StringIO(), io.StringIO()) is None
    assert not (tmp_path / "elsewhere.json").exists()


def test_a_damaged_stored_run_is_run_again(replaying):
    replaying.mkdir(parents=True)
    for text in ("not json", json.dumps({"format": 999}), json.dumps([1, 2]), json.dumps({"format": 1, "code": 0})):
        (replaying / f"{'d' * 64}.result.json").write_text(text)
        assert replay.replayed(replay.Key("d" * 64, ""), COMMAND, io.StringIO(), io.StringIO()) is None


def test_a_replay_whose_reader_went_away_is_one_line_and_exit_2(monkeypatch, capsys):
    from harness import launch

    def broken(key, argv):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(replay, "run_key", lambda argv: replay.Key("f" * 64, ""))
    monkeypatch.setattr(replay, "replayed", broken)
    monkeypatch.setattr(sys, "argv", ["harness", *COMMAND])
    assert launch.main() == 2
    assert capsys.readouterr().err == "harness: error: BrokenPipeError: [Errno 32] Broken pipe\n"
