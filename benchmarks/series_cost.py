"""What the error series (harness.verdict.series) adds to a warm check.

For each check: the best warm time of ``harness.check`` as it runs (series included), and with the series
replaced by a stub (the measurement and fit alone); the difference is the series' cost (its kernels
evaluated at the check's points and the extra seeded ones, the attribution to named terms when the flow
differs). The rule's coefficients are normally computed once for all the flows checked against a rule;
here that memo is cleared before every run, so each check pays for them in full. Run:

    python benchmarks/series_cost.py [--repeats 20] [--large]
"""

import argparse
import os
import time

os.environ.setdefault("HARNESS_CACHE_DIR", "off")

import harness  # noqa: E402
from harness import checks
from harness.verdict import series  # noqa: E402

CHECKS = [
    ("dirac_gan", "simultaneous", "modified", {}),
    ("dirac_gan", "simultaneous", "official", {"lr2": 0.3}),
    ("bilinear", "alternating", "official", {"lr1": 0.4, "lr2": 1.5, "m": 2}),
    ("nonconvex_nonconcave", "extragradient", "modified", {}),
    ("rosenbrock", "gd", "igr", {}),
    ("quadratic_general_sum", "alternating", "bea:2", {}),
]


def best(repeats, function):
    times = []
    for _ in range(repeats):
        series._rule_values.cache_clear()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--large", action="store_true", help="also the MLP GAN (11,163 parameters)")
    args = parser.parse_args()
    chosen = CHECKS + ([("mlp_gan", "simultaneous", "modified", {})] if args.large else [])
    real = checks.error_series
    print(f"{'check':<62} {'with ms':>8} {'without ms':>10} {'added':>7}")
    worst = 0.0
    for game, scheme, flow, params in chosen:
        run = lambda g=game, s=scheme, f=flow, p=params: harness.check(g, s, f, **p)  # noqa: E731
        run()  # compile
        with_series = best(args.repeats, run)
        checks.error_series = lambda *a, **k: series.unavailable("benchmark stub")
        try:
            run()
            without = best(args.repeats, run)
        finally:
            checks.error_series = real
        added = with_series / without - 1
        worst = max(worst, added)
        label = f"{game} · {scheme} · {flow} {params or ''}"
        print(f"{label:<62} {1e3 * with_series:>8.2f} {1e3 * without:>10.2f} {100 * added:>6.1f}%", flush=True)
    print(f"largest share added by the series: {100 * worst:.1f}% (goal: at most 10%)")


if __name__ == "__main__":
    main()
