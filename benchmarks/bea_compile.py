"""Cost of deriving and compiling the automatic modified field of order p (harness.base.bea) on a 2-D game.

For p = 0...4 on the nonlinear Dirac-GAN (simultaneous and alternating GD): the time to trace and compile
the jitted field, and the warm evaluation time per point (vmapped over 1,000 points). Run:

    python benchmarks/bea_compile.py
"""

import os
import time

os.environ.setdefault("HARNESS_CACHE_DIR", "off")  # measure compilation, not the cache

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import harness  # noqa: E402,F401
from harness.base.bea import modified_field  # noqa: E402
from harness.model.catalog import load_game  # noqa: E402
from harness.rules.schemes import Scheme, update_map  # noqa: E402


def main() -> None:
    game = load_game("dirac_gan")
    points = jnp.asarray(game.z0 + 0.1 * np.random.default_rng(0).standard_normal((1000, 2)))
    print(f"{'scheme':<12} {'order':>5} {'compile s':>10} {'warm us/point':>14}")
    for scheme in (Scheme("simultaneous", 1.0, 0.3), Scheme("alternating", 1.0, 0.3)):
        for order in range(5):
            field = jax.jit(jax.vmap(modified_field(update_map(game, scheme.structure), order), (0, None, None)))
            start = time.perf_counter()
            compiled = field.lower(points, 0.05, scheme.params).compile()
            compile_seconds = time.perf_counter() - start
            compiled(points, 0.05, scheme.params).block_until_ready()
            start, repeats = time.perf_counter(), 20
            for _ in range(repeats):
                compiled(points, 0.05, scheme.params).block_until_ready()
            per_point = (time.perf_counter() - start) / repeats / points.shape[0] * 1e6
            print(f"{scheme.name:<12} {order:>5} {compile_seconds:>10.2f} {per_point:>14.2f}", flush=True)


if __name__ == "__main__":
    main()
