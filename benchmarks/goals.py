"""The whole-process speed goals of the performance issue, measured in one table: each command a fresh process
(`python -m harness ...`, start-up and exit included), cold on a new empty cache folder (HARNESS_CACHE_DIR), warm
on the folder the cold run filled with replay off (the checks run, nothing is compiled), replayed with it on.

    python benchmarks/goals.py               # medians of 3 runs (check --all and report: 1 run each)
    python benchmarks/goals.py --runs 5 --skip-report

The edit-and-recheck goal is `python benchmarks/edit_loop.py`; the test suite's is the time of `.ci/run`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

GOALS = [  # label, arguments, cold goal, warm goal (seconds; None: no goal)
    ("harness check --game dirac_gan", ["check", "--game", "dirac_gan"], 2.5, 1.0),
    ("harness check --all", ["check", "--all"], 45.0, 5.0),
    ("harness report", ["report", "--quiet"], 90.0, None),
]


def seconds(arguments: list[str], cache: str, replay: bool, out: str) -> float:
    """Wall seconds of one `python -m harness ARGUMENTS` in a child process; SystemExit on a failed run."""
    if arguments[0] == "report":
        arguments = [*arguments, "--out", out]
    env = {**os.environ, "HARNESS_CACHE_DIR": cache, "HARNESS_REPLAY": "on" if replay else "off"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness", *arguments], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"harness {' '.join(arguments)} exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed


def verdict(value: float, goal: float | None) -> str:
    return "" if goal is None else ("met" if value <= goal else "NOT met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per cold and warm median (check --game)")
    parser.add_argument("--skip-report", action="store_true", help="leave out harness report (about 100 s cold)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; medians of {args.runs} runs (check --all and report: 1 run)")
    print(f"{'command':34} {'run':>8} {'seconds':>8} {'goal':>6}")
    for label, arguments, cold_goal, warm_goal in GOALS:
        if args.skip_report and arguments[0] == "report":
            continue
        runs = args.runs if "--game" in arguments else 1
        cold, warm, replayed = [], [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="harness-goals-") as folder:
                cache, out = os.path.join(folder, "cache"), os.path.join(folder, "report")
                cold.append(seconds(arguments, cache, False, out))
                if warm_goal is not None:
                    warm.append(seconds(arguments, cache, False, out))
                    seconds(arguments, cache, True, out)  # a warm run that stores itself for replay
                    replayed.append(seconds(arguments, cache, True, out))
        for run, values, goal in (("cold", cold, cold_goal), ("warm", warm, warm_goal),
                                  ("replayed", replayed, warm_goal)):
            if values:
                median = statistics.median(values)
                print(f"{label:34} {run:>8} {median:>8.2f} {goal:>6g}  {verdict(median, goal)}", flush=True)


if __name__ == "__main__":
    main()
