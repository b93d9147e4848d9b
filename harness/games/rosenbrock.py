"""Single-objective Rosenbrock function E(x) = (1 - x0)^2 + 10 (x1 - x0^2)^2 (nonlinear, nonconvex).

The classic curved-valley test problem of optimisation (Rosenbrock 1960), here with a mild valley
(factor 10) so that implicit gradient regularisation (Barrett & Dherin 2021) is checked on a nonlinear,
nonconvex loss.
"""

from harness import single_objective

game = single_objective(
    "rosenbrock",
    lambda x: (1.0 - x[0]) ** 2 + 10.0 * (x[1] - x[0] ** 2) ** 2,
    x0=[-0.5, 0.8],
    source=__doc__,
)
