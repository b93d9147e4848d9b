"""Property-based tests of the checker itself: on random quadratic-bilinear games of random dimensions
and rates, the right flows pass, and flows with a deliberately wrong coefficient never do."""

import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import Game
from harness.flows import Flow, flow_coefficients
from harness.measure import default_step_sizes, initial_points, measure_local_error
from harness.rules.schemes import Scheme
from harness.verdict.fit import fit_order


def random_game(seed: int, a: int, b: int) -> Game:
    """L1 = 1/2 phi^T P phi + phi^T A theta, L2 = 1/2 theta^T Q theta - phi^T A theta (linear fields)."""
    rng = np.random.default_rng(seed)
    p, q, coupling = rng.standard_normal((a, a)), rng.standard_normal((b, b)), rng.standard_normal((a, b))
    P, Q, A = (jnp.asarray(x) for x in (p @ p.T / a + 0.3 * np.eye(a), q @ q.T / b + 0.3 * np.eye(b), coupling))
    return Game(f"random-{seed}", lambda x, y: 0.5 * x @ P @ x + x @ A @ y, lambda x, y: 0.5 * y @ Q @ y - x @ A @ y,
                rng.standard_normal(a), rng.standard_normal(b))


def mutations(c: np.ndarray, scheme: Scheme) -> dict[str, np.ndarray]:
    """Wrong coefficient matrices: the interaction rate swapped (own rate instead of the other player's),
    the factor 1/2 dropped, the interaction sign flipped, the self term dropped."""
    a, l = scheme.lr1, scheme.lr2
    swapped = c.copy()
    swapped[0, 1] *= a / l
    swapped[1, 0] *= l / a
    flipped = c.copy()
    flipped[0, 1], flipped[1, 0] = -c[0, 1], -c[1, 0]
    no_self = c.copy()
    no_self[0, 0] = no_self[1, 1] = 0.0
    return {"rate swapped": swapped, "1/2 dropped": 2 * c, "sign flipped": flipped, "self term dropped": no_self}


@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), a=st.integers(1, 3), b=st.integers(1, 3),
       rates=st.sampled_from([(1.0, 0.3), (0.4, 1.5), (1.7, 0.6)]),
       name=st.sampled_from(["simultaneous", "alternating"]))
def test_right_flows_pass_and_mutated_flows_never_do(seed, a, b, rates, name):
    game = random_game(seed, a, b)
    scheme = Scheme(name, *rates)
    step_sizes = default_step_sizes(game, scheme)
    points = initial_points(game, 3, seed)
    for flow, slope in (("gradient", 2.0), ("modified", 3.0)):
        fit = fit_order(measure_local_error(game, scheme, Flow(flow), step_sizes, points), slope)
        assert fit.status == "PASS", (flow, fit.slope, fit.reasons)
    lead, c = flow_coefficients(Flow("modified"), scheme)
    for label, wrong in mutations(c, scheme).items():
        measurement = measure_local_error(game, scheme, Flow("modified"), step_sizes, points, (lead, wrong))
        fit = fit_order(measurement, 3.0)
        assert fit.status != "PASS", f"{label}: slope {fit.slope} passed"
        assert abs(fit.slope - 2.0) < 0.3, (label, fit.slope, fit.status)
