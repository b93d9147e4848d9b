"""Where the time of a check run goes: tracing, lowering, XLA compilation, the compilation cache, kernel
loading, fitting and the rest (Python per check).

    python benchmarks/profile_checks.py                      # harness check --game dirac_gan, one process
    python benchmarks/profile_checks.py --all --jobs 1       # harness check --all

Run it twice: the first run with empty caches (a fresh HARNESS_CACHE_DIR) measures a cold run, the second a
warm one. JAX's own durations come from ``jax.monitoring`` (summed over every compiled function: tracing
``jaxpr_trace_duration``, lowering ``jaxpr_to_mlir_module_duration``, XLA ``backend_compile_duration``, which
includes reading the compilation cache, ``cache_retrieval_time_sec``); kernel loading is the time in
``jax.export.deserialize``, fitting the time in ``harness.verdict.fit.fit_order``. With ``--jobs`` above 1 the
durations overlap in threads and do not add up to the wall time.
"""

from __future__ import annotations

import argparse
import collections
import functools
import time

import jax
from jax import monitoring

EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "tracing (jaxpr)",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lowering (MLIR)",
    "/jax/core/compile/backend_compile_duration": "XLA compilation",
    "/jax/compilation_cache/cache_retrieval_time_sec": "compilation cache reads",
}


def timed(totals: collections.Counter, counts: collections.Counter, label: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - start
            counts[label] += 1

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="the default check matrix (else one game's checks)")
    parser.add_argument("--game", default="dirac_gan")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()

    totals: collections.Counter = collections.Counter()
    counts: collections.Counter = collections.Counter()

    def listener(event, duration, **_):
        if event in EVENTS:
            totals[EVENTS[event]] += duration
            counts[EVENTS[event]] += 1

    monitoring.register_event_duration_secs_listener(listener)
    start = time.perf_counter()
    import harness
    from harness.verdict import fit

    imported = time.perf_counter() - start
    jax.export.deserialize = timed(totals, counts, "kernel loading", jax.export.deserialize)
    fit.fit_order = timed(totals, counts, "fitting", fit.fit_order)
    import harness.checks

    harness.checks.fit_order = fit.fit_order
    start = time.perf_counter()
    if args.all:
        results = harness.check_all(jobs=args.jobs)
    else:
        results = [harness.check(args.game, scheme, flow) for scheme in ("simultaneous", "alternating")
                   for flow in ("gradient", "modified")]
    wall = time.perf_counter() - start
    print(f"import harness: {imported:.2f} s; {len(results)} checks: {wall:.2f} s wall ({args.jobs} thread(s))")
    for label, seconds in totals.most_common():
        print(f"  {label:<26} {seconds:7.2f} s  {counts[label]:6d} calls  {100 * seconds / wall:5.1f} %")
    accounted = sum(totals.values()) - totals["compilation cache reads"]  # reads happen inside the compile step
    if args.jobs == 1:
        print(f"  {'the rest (Python per check)':<26} {wall - accounted:7.2f} s")


if __name__ == "__main__":
    main()
