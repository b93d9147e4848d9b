"""A researcher's loop: edit one coefficient of a user flow, check again (issue goal: at most 1.5 s).

The flow is the first-order modified flow of simultaneous GD on dirac_gan with its coefficient c written into the
file (v - c h V'v; c = 0.5 is right, slope 3), checked at 2 points. Each edit writes a coefficient not seen before,
so the flow's kernel is new while the game, the rule and the caches are warm (a first run fills them). Measured:

- a fresh process (``harness check ...``) after each edit, whole process, start to exit;
- ``harness check --watch``: from the file's write to the result line of the check run again (includes the
  watch's polling, WATCH_INTERVAL, and its wait for the save to settle); each new coefficient is followed by the
  right one again (seen before).

    python benchmarks/edit_loop.py [--edits 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW = """
import jax
import harness


@harness.flow(order=1)
def mine(V, z, h):
    v = V(z)
    return v - {c!r} * h * jax.jvp(V, (z,), (v,))[1]
"""
CHECK = ["-m", "harness", "check", "--game", "dirac_gan", "--lr2", "0.3", "--flow", "flow.py:mine", "--points", "2"]
GOAL = 1.5


def fresh_processes(folder: Path, env: dict, coefficients: list[float]) -> list[float]:
    seconds = []
    for c in coefficients:
        (folder / "flow.py").write_text(FLOW.format(c=c))
        start = time.perf_counter()
        subprocess.run([sys.executable, *CHECK], cwd=folder, env=env, capture_output=True, check=False)
        seconds.append(time.perf_counter() - start)
    return seconds


def watched(folder: Path, env: dict, coefficients: list[float]) -> tuple[list[float], list[float]]:
    """Seconds to the result after each new coefficient, and after each return to the right one (0.5)."""
    process = subprocess.Popen([sys.executable, *CHECK, "--watch"], cwd=folder, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        _next_result(process)
        new, seen = [], []
        for c in coefficients:
            for value, times in ((c, new), (0.5, seen)):
                start = time.perf_counter()
                (folder / "flow.py").write_text(FLOW.format(c=value))
                _next_result(process)
                times.append(time.perf_counter() - start)
        return new, seen
    finally:
        process.terminate()
        process.wait(timeout=30)


def _next_result(process) -> str:
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the watch ended")
        if line.startswith(("PASS ", "FAIL ")):
            return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        env = {**os.environ, "HARNESS_CACHE_DIR": str(folder / "cache")}
        fresh_processes(folder, env, [0.5])  # fills the caches: the game, the rule, the first flow
        new = [0.5 + 1e-3 * (i + 1) for i in range(args.edits)]
        seen = fresh_processes(folder, env, [0.5] * args.edits)
        edited = fresh_processes(folder, env, new)
        watch, watch_seen = watched(folder, env, [0.4 + 1e-3 * (i + 1) for i in range(args.edits)])
    for label, values in (("fresh process, coefficient seen before", seen),
                          ("fresh process, new coefficient", edited), ("--watch, new coefficient", watch),
                          ("--watch, coefficient seen before", watch_seen)):
        print(f"{label:<40} median {statistics.median(values):5.2f} s  (min {min(values):.2f}, max "
              f"{max(values):.2f}, n = {len(values)})")
    print(f"goal: at most {GOAL} s")


if __name__ == "__main__":
    main()
