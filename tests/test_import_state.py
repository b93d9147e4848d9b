"""Nothing global on import: ``import harness`` and the pytest plugin change no ``jax.config`` value, no
environment variable and not the garbage collector's thresholds; the entry points turn the persistent compilation
cache on, once, keeping a cache folder the process set itself; the console script alone, which owns its process, sets
the collector's thresholds (harness.base.collector); the plugin caps xdist workers' threads only when the session
opts in."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.base import collector
from harness_pytest import THREAD_VARIABLES

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, tmp_path: Path, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter whose cache folder is ``tmp_path/cache``; its last stdout line as JSON."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("JAX_", "HARNESS_", "PYTEST_"))}
    environment.update(HARNESS_CACHE_DIR=str(tmp_path / "cache"), **env)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


SNAPSHOT = """
    import gc, json, os, sys
    import jax

    def snapshot():
        return {"config": {k: repr(v) for k, v in jax.config.values.items()}, "environ": dict(os.environ),
                "gc": {"thresholds": gc.get_threshold()}}
"""


def test_importing_the_harness_and_its_plugin_changes_nothing_and_the_command_line_turns_the_cache_on(tmp_path):
    state = _python(SNAPSHOT + """
    def changes(before, after):
        return {k: (before[part].get(k), after[part].get(k)) for part in before
                for k in set(before[part]) | set(after[part]) if before[part].get(k) != after[part].get(k)}

    before = snapshot()
    import harness, harness_pytest, harness.pytest_plugin
    on_import = changes(before, snapshot())
    folder = os.environ["HARNESS_CACHE_DIR"]
    assert not os.path.exists(folder)
    from harness.cli import main
    assert main(["cache", "info"]) == 0
    print(json.dumps({"on_import": on_import, "by_the_command_line": changes(before, snapshot())}))
    """, tmp_path, PYTEST_XDIST_WORKER="gw0", PYTEST_XDIST_WORKER_COUNT="2")
    assert state["on_import"] == {}
    folder = repr(str(tmp_path / "cache"))
    # the third setting, jax_persistent_cache_min_entry_size_bytes, is 0 by JAX's default already
    assert state["by_the_command_line"] == {"jax_compilation_cache_dir": ["None", folder],
                                            "jax_persistent_cache_min_compile_time_secs": ["1.0", "0.0"]}


def test_the_console_script_alone_sets_the_garbage_collectors_thresholds(tmp_path):
    state = _python("""
    import gc, json, sys
    from harness import launch
    before = gc.get_threshold()
    sys.argv = ["harness", "cache", "info"]
    assert launch.main() == 0
    print(json.dumps({"before": before, "after": gc.get_threshold()}))
    """, tmp_path)
    assert state["after"] == list(collector.THRESHOLDS) and state["before"] != state["after"]


@pytest.mark.parametrize("call", ["harness.load('bilinear')",
                                  pytest.param("harness.derive('simultaneous', 1)", marks=pytest.mark.slow)],
                         ids=["api", "derive"])
def test_an_entry_point_turns_the_cache_on_once(tmp_path, call):
    state = _python(SNAPSHOT + f"""
    import harness
    assert jax.config.jax_compilation_cache_dir is None
    {call}
    first = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    harness.load("dirac_gan")  # an entry point again: the cache was turned on once already, nothing changes
    print(json.dumps({{"first": first, "again": jax.config.jax_compilation_cache_dir,
                      "min_seconds": jax.config.jax_persistent_cache_min_compile_time_secs}}))
    """, tmp_path)
    assert state == {"first": str(tmp_path / "cache"), "again": None, "min_seconds": 0.0}
    assert (tmp_path / "cache" / "kernels").is_dir()


def test_a_cache_folder_the_process_chose_is_kept(tmp_path):
    mine = tmp_path / "mine"
    state = _python(SNAPSHOT + f"""
    jax.config.update("jax_compilation_cache_dir", {str(mine)!r})
    import harness
    harness.load("bilinear")
    print(json.dumps({{"folder": jax.config.jax_compilation_cache_dir,
                      "min_seconds": jax.config.jax_persistent_cache_min_compile_time_secs}}))
    """, tmp_path)
    assert state["folder"] == str(mine) and state["min_seconds"] != 0.0
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("opt_in, threads", [([], None), (["--harness-cap-threads"], "3"),
                                             (["-o", "harness_cap_threads=true"], "3")],
                         ids=["default", "flag", "ini"])
def test_worker_threads_are_capped_only_when_the_session_opts_in(pytester, monkeypatch, opt_in, threads):
    """A pytest session that reads as xdist worker 1 of 2 on 6 cores: each worker gets 6 // 2 = 3 threads."""
    for variable in (*THREAD_VARIABLES, "XLA_FLAGS"):
        monkeypatch.delenv(variable, raising=False)  # and restored after the test
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    pytester.makepyfile("def test_nothing():\n    pass\n")
    assert pytester.runpytest_inprocess("-p", "no:randomly", *opt_in).ret == 0
    assert [os.environ.get(variable) for variable in THREAD_VARIABLES] == [threads] * len(THREAD_VARIABLES)
    assert os.environ.get("XLA_FLAGS") == (None if threads is None else "intra_op_parallelism_threads=3")


def test_importing_the_harness_imports_no_jax_until_a_name_is_used(tmp_path):
    """``import harness`` is light: its public names are imported on first use (harness.__getattr__)."""
    found = _python("""
        import json, sys
        import harness
        before = "jax" in sys.modules
        names = sorted(harness.__all__)
        game = harness.Game
        print(json.dumps({"before": before, "after": "jax" in sys.modules, "names": names,
                          "exports": sorted(["__version__", *harness._EXPORTS]), "game": game.__module__}))
    """, tmp_path)
    assert found["before"] is False and found["after"] is True
    assert found["names"] == found["exports"] and found["game"] == "harness.model.game"
