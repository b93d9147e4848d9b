"""Where the test suite's time goes, per test and per compiled program: a pytest plugin, and its summary.

    rm -rf /tmp/empty && HARNESS_CACHE_DIR=/tmp/empty PYTHONPATH=benchmarks \\
        pytest -n 2 -p suite_profile -p no:cacheprovider           # an empty-cache run; JSON per worker
    python benchmarks/suite_profile.py                               # the summary of the last run

Each worker writes ``build/suite_profile/<worker>.json`` (the folder: SUITE_PROFILE_DIR): for each test its wall
time and the seconds JAX spent in it (``jax.monitoring``: XLA compilation ``backend_compile_duration``, which
includes reading the compilation cache, and its count; tracing ``jaxpr_trace_duration``; lowering
``jaxpr_to_mlir_module_duration``), and the compilation seconds per function name over the worker's life. Work
in a process a test starts (a `harness` command) counts in the test's wall time only.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from pathlib import Path

import pytest

FOLDER = Path(os.environ.get("SUITE_PROFILE_DIR", "build/suite_profile"))
EVENTS = {"/jax/core/compile/backend_compile_duration": "compile",
          "/jax/core/compile/jaxpr_trace_duration": "trace",
          "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower"}

_current: list[str | None] = [None]
_tests: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
_programs: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def _listener(event: str, duration: float, **labels) -> None:
    kind = EVENTS.get(event)
    if kind is None:
        return
    if kind == "compile":
        _programs[str(labels.get("fun_name"))].update(seconds=duration, count=1)
    if _current[0] is not None:
        _tests[_current[0]].update({kind: duration, f"{kind}s": 1})


def pytest_configure(config) -> None:
    from jax import monitoring

    if not hasattr(config, "workerinput"):  # the run's first process: the last run's files go
        for path in FOLDER.glob("*.json"):
            path.unlink()
    monitoring.register_event_duration_secs_listener(_listener)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current[0] = item.nodeid
    start = time.perf_counter()
    try:
        yield
    finally:
        _tests[item.nodeid]["wall"] += time.perf_counter() - start
        _current[0] = None


def pytest_sessionfinish(session) -> None:
    if not _tests:  # the controller of pytest-xdist runs no test
        return
    FOLDER.mkdir(parents=True, exist_ok=True)
    name = os.environ.get("PYTEST_XDIST_WORKER", "main")
    (FOLDER / f"{name}.json").write_text(json.dumps({"tests": _tests, "programs": _programs}))


def summary(folder: Path = FOLDER, top: int = 25) -> str:
    """Totals per test file, the ``top`` tests and the ``top`` function names by compilation seconds."""
    tests: dict[str, dict] = {}
    programs: collections.Counter = collections.Counter()
    counts: collections.Counter = collections.Counter()
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        tests.update(data["tests"])
        for name, entry in data["programs"].items():
            programs[name] += entry.get("seconds", 0.0)
            counts[name] += entry.get("count", 0)
    if not tests:
        return f"no profile in {folder}: run the suite with -p suite_profile first"
    files: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for nodeid, entry in tests.items():
        files[nodeid.split("::")[0]].update(entry)
    total = collections.Counter()
    for entry in files.values():
        total.update(entry)

    def row(entry, label):
        return (f"{entry['wall']:8.1f} {entry['compile']:8.1f} {entry['compiles']:6d} "
                f"{entry['trace'] + entry['lower']:8.1f}  {label}")

    lines = ["    wall  compile  count  trace+lower  (seconds, summed over workers)", row(total, "all tests"), ""]
    lines += [row(entry, name) for name, entry in sorted(files.items(), key=lambda kv: -kv[1]["wall"])[:top]]
    lines += [""] + [row(collections.Counter(entry), nodeid)
                     for nodeid, entry in sorted(tests.items(), key=lambda kv: -kv[1].get("wall", 0))[:top]]
    lines += ["", " compile  count  function"]
    lines += [f"{seconds:8.1f} {counts[name]:6d}  {name}" for name, seconds in programs.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER))
