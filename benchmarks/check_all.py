"""Wall time and peak memory of `harness check --all`, cold (empty caches) and warm, against the goals.

Each run is a fresh process (`python -m harness check --all --quiet`), so start-up counts. Cold runs use a new
empty cache folder (HARNESS_CACHE_DIR); the warm run repeats the command on the folder the cold run filled, and
runs its checks (the first run with a replay allowed, harness.base.replay); the third run repeats it once more,
replayed.
Peak RSS is that of the run's process (getrusage of the waited-for child). Run:

    python benchmarks/check_all.py                 # --jobs as the CLI's default
    python benchmarks/check_all.py --jobs 1 2      # one cold + warm pair per thread count
    python benchmarks/check_all.py --matrix large
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from harness.base.parallel import default_jobs

GOALS = {"default": (45.0, 5.0), "large": (60.0, 60.0)}  # seconds: cold, warm (the default: the performance issue's)
MEMORY_GOAL_GB = 4.0


def run(cache: str, jobs: int, matrix: str, replay: bool) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in GB, exit code) of one `harness check --all` in a child process (``replay``: a
    stored run may be replayed, and this one is stored)."""
    command = [sys.executable, "-m", "harness", "check", "--all", "--quiet", "--jobs", str(jobs), "--matrix", matrix]
    env = {**os.environ, "HARNESS_CACHE_DIR": cache, "HARNESS_REPLAY": "on" if replay else "off"}
    with tempfile.TemporaryFile("w+") as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            print(errors.read()[-2000:], file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024**2, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[default_jobs()])
    parser.add_argument("--matrix", default="default", choices=sorted(GOALS))
    args = parser.parse_args()
    cold_goal, warm_goal = GOALS[args.matrix]
    print(f"harness check --all --matrix {args.matrix} (goals: cold < {cold_goal:g} s, warm < {warm_goal:g} s, "
          f"peak RSS < {MEMORY_GOAL_GB:g} GB); {os.cpu_count()} CPUs")
    print(f"{'jobs':>4} {'run':>8} {'seconds':>8} {'peak GB':>8} {'exit':>4}  goal")
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory(prefix="harness-cache-") as cache:
            for label, goal, replay in (("cold", cold_goal, False), ("warm", warm_goal, True),
                                        ("replayed", warm_goal, True)):
                seconds, memory, code = run(cache, jobs, args.matrix, replay)
                met = "met" if seconds < goal and memory < MEMORY_GOAL_GB and code == 0 else "NOT met"
                print(f"{jobs:>4} {label:>8} {seconds:>8.1f} {memory:>8.2f} {code:>4}  {met}", flush=True)


if __name__ == "__main__":
    main()
