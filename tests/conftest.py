import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
# Every `harness` process a test starts runs its checks: none replays a stored run (harness.base.replay), whose own
# tests (test_replay.py) turn it on for theirs.
os.environ["HARNESS_REPLAY"] = "off"

import jax  # noqa: E402
import pytest  # noqa: E402

import harness  # noqa: E402
from harness.base import collector  # noqa: E402
from harness.model.catalog import catalog  # noqa: E402

harness.enable_compilation_cache()  # as the entry points do: the tests that call internals use the caches too
collector.tune()  # as the command line does: each worker traces hundreds of programs


@pytest.fixture(autouse=True)
def _float64(request):
    """Tests of the harness's internals run in float64, as the entry points do (harness.base.precision); those
    marked ``user_precision`` run in the process's own precision, as a user's code does."""
    if request.node.get_closest_marker("user_precision"):
        yield
        return
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def games():
    return catalog()


@pytest.fixture
def cli(capsys):
    """``cli(*argv)``: ``harness ARGV`` run in the test's process through ``harness.cli.main`` (no process start
    nor JAX import to pay), its exit code (argparse's SystemExit included) and what it printed, as the
    ``subprocess.CompletedProcess`` a run of the console script gives: returncode, stdout, stderr, with the
    warnings a process would print on stderr added to it (Python's default filters: not DeprecationWarning and
    the like), which pytest would otherwise keep to its summary. The current folder is the test's own
    (``monkeypatch.chdir`` for relative paths); the console script itself, a fresh process and signals: the tests
    that start ``python -m harness`` (test_cli.py's test_version and test_check_writes_the_json_contract,
    test_hostile_signals.py, test_cache.py)."""
    import subprocess
    import warnings

    from harness.cli import main

    hidden = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)

    def run(*argv) -> subprocess.CompletedProcess:
        words = [str(word) for word in argv]
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                code = main(words)
            except SystemExit as exc:  # argparse's own exits (--help, --version, a bad flag)
                code = exc.code
        out, err = capsys.readouterr()
        err += "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
                       for w in caught if not issubclass(w.category, hidden))
        return subprocess.CompletedProcess(["harness", *words], code, out, err)

    return run
