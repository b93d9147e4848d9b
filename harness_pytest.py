"""The pytest plugin of the discretization-drift harness (entry point ``pytest11``, name ``harness``).

Only hooks live here, and nothing heavy is imported until a test uses the ``harness_check`` fixture or
``harness.pytest_plugin.assert_order``: installing the harness must not import JAX, switch it to float64,
turn on a compilation cache or change an environment variable in test suites that never ask for it. See
``harness.pytest_plugin`` for what the plugin gives; ``pytest -p no:harness`` turns it off.

``--harness-cap-threads`` (or ``harness_cap_threads = true`` in the ini file) opts in to capping the threads
of each pytest-xdist worker (``cap_threads_per_worker``); without it the plugin changes no environment variable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "HARNESS_JOBS")


def cap_threads_per_worker(environ: Any = os.environ) -> None:
    """Under pytest-xdist, give each worker its share of the cores: XLA's intra-op threads, the BLAS thread counts
    and the harness's default ``--jobs`` (HARNESS_JOBS, harness.base.parallel.default_jobs) become
    max(1, cores // workers) unless already set, so that n workers do not each start a thread (or a helper
    process) per core. Runs in a worker, before its conftest files import JAX, when the session opts in
    (``--harness-cap-threads`` or the ini option ``harness_cap_threads = true``)."""
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if not environ.get("PYTEST_XDIST_WORKER") or workers < 1:
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    for variable in THREAD_VARIABLES:
        environ.setdefault(variable, str(threads))
    flags = environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in flags:
        single = " --xla_cpu_multi_thread_eigen=false" if threads == 1 else ""
        environ["XLA_FLAGS"] = f"{flags}{single} intra_op_parallelism_threads={threads}".strip()


_RECORDERS: list[_Recorder] = []  # one per configured session, innermost last (pytester nests them)
_KEY: pytest.StashKey[_Recorder] = pytest.StashKey()


class _Recorder:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        path = config.getoption("harness_json", None)
        self.path = config.invocation_params.dir / path if path else None
        self.results: list[Any] = []  # (test, CheckResult) on this process
        self.remote: list[dict] = []  # entries from pytest-xdist workers

    def entries(self) -> list[dict]:
        local = []
        for test, result in self.results:
            entry = result.to_dict()
            entry["test"] = test
            entry["settings"] = _settings_dict(result.settings)
            local.append(entry)
        return local + self.remote

    def add(self, result: Any, test: str | None) -> None:
        """Keep a result of ``assert_order`` (harness.base.recording) when the session writes ``--harness-json``
        (pytest-xdist hands the option to its workers too)."""
        if self.path is not None:
            self.results.append((test, result))


def _settings_dict(settings: Any) -> dict:
    from dataclasses import asdict

    return asdict(settings)




def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "discretization-drift harness")
    group.addoption("--harness-json", metavar="PATH", default=None,
                    help="write every order check of the session (harness_check / assert_order) to PATH as the "
                         "JSON contract of `harness check --json`")
    group.addoption("--harness-cap-threads", action="store_true", default=False,
                    help="under pytest-xdist, cap XLA's and BLAS's threads in each worker to its share of the cores "
                         "(XLA_FLAGS, OMP/OPENBLAS/MKL_NUM_THREADS, unless already set); off by default")
    parser.addini("harness_cap_threads", "as --harness-cap-threads", type="bool", default=False)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Cap a pytest-xdist worker's threads before its conftest files import JAX, when the session opts in."""
    if early_config.known_args_namespace.harness_cap_threads or early_config.getini("harness_cap_threads"):
        cap_threads_per_worker()


def pytest_configure(config: pytest.Config) -> None:
    from harness.base.recording import RECORDERS

    recorder = _Recorder(config)
    config.stash[_KEY] = recorder
    _RECORDERS.append(recorder)
    RECORDERS.append(recorder.add)


def pytest_unconfigure(config: pytest.Config) -> None:
    from harness.base.recording import RECORDERS

    recorder = config.stash.get(_KEY, None)
    if recorder in _RECORDERS:
        _RECORDERS.remove(recorder)
    if recorder is not None and recorder.add in RECORDERS:
        RECORDERS.remove(recorder.add)


@pytest.fixture
def harness_check(request: pytest.FixtureRequest):
    """``harness.pytest_plugin.assert_order`` bound to this test:
    ``harness_check(game, scheme="simultaneous", flow="modified", expected=None, **params)`` returns the
    ``CheckResult`` or fails the test with a readable message (bad input: the command line's one line).
    Relative paths in ``path/to/file.py:NAME``
    specs of the game, the rule and the flow are taken relative to the folder of the test file."""
    from harness import enable_compilation_cache
    from harness.base.recording import current_test
    from harness.model.user import resolve
    from harness.pytest_plugin import assert_order

    enable_compilation_cache()
    nodeid, folder = request.node.nodeid, request.path.parent

    def check(game: Any, scheme: Any = "simultaneous", flow: Any = "modified", *args: Any, **kwargs: Any):
        __tracebackhide__ = True
        from harness.base.errors import HarnessError

        game, scheme, flow = (resolve(value, folder) if isinstance(value, str) else value
                              for value in (game, scheme, flow))
        labelled = current_test.set(nodeid)
        try:
            return assert_order(game, scheme, flow, *args, **kwargs)
        except HarnessError as exc:  # bad input: the command line's one line, not the harness's traceback
            message = f"harness: error: {exc}"
        finally:
            current_test.reset(labelled)
        pytest.fail(message, pytrace=False)

    return check


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    recorder = config.stash.get(_KEY, None)
    if recorder is None:
        return
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: hand the entries to the controller
        workeroutput["harness_results"] = json.dumps(recorder.entries())
        return
    if recorder.path is not None:
        _write(recorder.path, _document(recorder.entries()))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist (controller): collect the entries of a worker that finished."""
    output = getattr(node, "workeroutput", None) or {}
    if "harness_results" in output and _RECORDERS:
        recorder = node.config.stash.get(_KEY, None) or _RECORDERS[-1]
        recorder.remote.extend(json.loads(output["harness_results"]))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    recorder = config.stash.get(_KEY, None)
    if recorder is None or recorder.path is None or getattr(config, "workeroutput", None) is not None:
        return
    entries = recorder.entries()
    failed = sum(not entry["passed"] for entry in entries)
    terminalreporter.write_line(f"harness: {len(entries)} order check(s), {failed} not as expected; written to "
                                f"{recorder.path}")


def _document(entries: list[dict]) -> dict:
    """The JSON contract (``harness.checks.results_document``) around already converted entries."""
    from harness.checks import Settings, results_document

    document = results_document([], Settings(), source="pytest")
    statuses: dict[str, int] = {}
    for entry in entries:
        statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
    passed = sum(bool(entry["passed"]) for entry in entries)
    document["summary"] = {"checks": len(entries), "passed": passed, "failed": len(entries) - passed,
                           "statuses": statuses}
    document["results"] = entries
    return document


def _write(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=1) + "\n")
    temporary.replace(path)
