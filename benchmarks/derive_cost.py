"""Cost of `harness derive`: the whole command, cold (an empty cache folder) and warm (the same folder again).

Runs `harness derive --scheme alternating --order 3` (and any other arguments given) as a fresh process, three
times each, and prints the minimum, median and maximum wall time. The goal (2 cores): at most 30 s cold and
10 s warm. Run:

    python benchmarks/derive_cost.py [--scheme midpoint --order 2 ...]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 3


def timed(arguments: list[str], cache: Path) -> float:
    environment = {**os.environ, "HARNESS_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", "derive", *arguments], env=environment, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    arguments = sys.argv[1:] or ["--scheme", "alternating", "--order", "3"]
    cold, warm = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as folder:
            cold.append(timed(arguments, Path(folder)))
            warm.append(timed(arguments, Path(folder)))
    print(f"harness derive {' '.join(arguments)}  (load average {os.getloadavg()[0]:.1f})")
    for label, times in (("cold", cold), ("warm", warm)):
        print(f"{label}: min {min(times):.1f} s, median {statistics.median(times):.1f} s, max {max(times):.1f} s")


if __name__ == "__main__":
    main()
