"""The harness's batched local-error measurement against the notebook loop a researcher would write.

Naive baseline, written honestly: the modified field and the update step are jitted once per game (no
recompilation per step size), then for each initial point and step size scipy's solve_ivp (DOP853,
rtol 2.3e-14, atol 1e-16) solves the flow over time h and the error is the distance to one update step.
The harness does the same work (same points, same step sizes, first-order modified flow) in one jit + vmap
kernel. Both run in this process; the script prints time per measured error, cold (with compilation) and
warm, their ratio, and the largest relative difference between the two sets of errors. Run:

    python benchmarks/naive_vs_batched.py
"""

import os
import time

os.environ.setdefault("HARNESS_CACHE_DIR", "off")  # cold means cold

import jax  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import harness  # noqa: E402,F401
from harness.flows import Flow, flow_field  # noqa: E402
from harness.measure import default_step_sizes, initial_points, measure_local_error  # noqa: E402
from harness.model.catalog import load_game  # noqa: E402
from harness.rules.schemes import Scheme, update_rule  # noqa: E402


def naive(game, scheme, flow, step_sizes, points):
    field, step = flow_field(game, flow, scheme), update_rule(game, scheme)
    errors = np.empty((len(points), len(step_sizes)))
    for p, z0 in enumerate(points):
        for j, h in enumerate(step_sizes):
            solution = solve_ivp(lambda _, z, h=h: np.asarray(field(z, h)), (0.0, h), z0, method="DOP853",
                                 rtol=2.3e-14, atol=1e-16)
            errors[p, j] = np.linalg.norm(np.asarray(step(z0, h)) - solution.y[:, -1])
    return errors


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    flow = Flow("modified")
    print(f"{'game':<22} {'dims':>4} {'errors':>6} {'naive cold':>11} {'naive warm':>11} {'harness cold':>13} "
          f"{'harness warm':>13} {'warm ratio':>10} {'max rel diff':>12}")
    for name in ("nonconvex_nonconcave", "bilinear"):
        game = load_game(name)
        scheme = Scheme("alternating", 1.0, 0.3)
        step_sizes = default_step_sizes(game, scheme)
        points = initial_points(game, 8, seed=0)
        count = points.shape[0] * step_sizes.size
        _, naive_cold = timed(naive, game, scheme, flow, step_sizes, points)
        reference, naive_warm = timed(naive, game, scheme, flow, step_sizes, points)
        _, harness_cold = timed(measure_local_error, game, scheme, flow, step_sizes, points)
        runs = [timed(measure_local_error, game, scheme, flow, step_sizes, points) for _ in range(20)]
        measurement, harness_warm = runs[0][0], min(seconds for _, seconds in runs)
        difference = np.max(np.abs(measurement.errors - reference) / reference)
        print(f"{name:<22} {game.z0.size:>4} {count:>6} {naive_cold / count * 1e3:>9.3f}ms "
              f"{naive_warm / count * 1e3:>9.3f}ms {harness_cold / count * 1e3:>11.3f}ms "
              f"{harness_warm / count * 1e6:>11.2f}us {naive_warm / harness_warm:>9.0f}x {difference:>12.1e}",
              flush=True)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}")


if __name__ == "__main__":
    main()
