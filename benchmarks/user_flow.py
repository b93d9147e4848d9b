"""A user's flow against the built-in flow it equals: the same check, warm, through the same kernel path.

The user flow is the paper's alternating-GD flow written by hand per player (examples/alternating_flow.py),
and its joint-notation twin; the built-in one is ``modified``. Each check runs once to compile (cold, in
this process, with the persistent caches off), then ``--repeats`` times warm; the script prints the best
warm time of each and the ratio user / built-in (the goal: at most 1.5). Run:

    python benchmarks/user_flow.py [--repeats 20] [--games dirac_gan bilinear mlp_gan]
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HARNESS_CACHE_DIR", "off")  # cold means cold

import harness  # noqa: E402
from harness.flows import Flow  # noqa: E402
from harness.rules.schemes import Scheme  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "alternating_flow.py"
GOAL = 1.5


def timed(game, scheme, flow, repeats):
    start = time.perf_counter()
    harness.check(game, scheme, flow)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = harness.check(game, scheme, flow)
        warm.append(time.perf_counter() - start)
    return cold, min(warm), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--games", nargs="+", default=["dirac_gan", "bilinear", "rosenbrock", "mlp_gan"])
    args = parser.parse_args()
    scheme = Scheme("alternating", 0.4, 1.5, m=2, k=3)
    flows = {"modified": Flow("modified"), "per-player": Flow(f"{EXAMPLE}:alternating_flow"),
             "joint": Flow(f"{EXAMPLE}:alternating_flow_joint")}
    print(f"{'game':<12} {'params':>6} {'flow':<11} {'cold s':>7} {'warm ms':>8} {'ratio':>6} {'slope':>6}")
    worst = 0.0
    for name in args.games:
        game = harness.load(name)
        base = None
        for label, flow in flows.items():
            cold, warm, result = timed(game, scheme, flow, args.repeats)
            base = base or warm
            ratio = warm / base
            worst = max(worst, ratio)
            print(f"{name:<12} {game.z0.size:>6} {label:<11} {cold:>7.2f} {1e3 * warm:>8.2f} {ratio:>6.2f} "
                  f"{result.fit.slope:>6.3f}", flush=True)
    print(f"largest warm ratio user / built-in: {worst:.2f} (goal at most {GOAL})")


if __name__ == "__main__":
    main()
