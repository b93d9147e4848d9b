"""Shadow ODEs of classical momentum and Nesterov with momentum e^(-gamma h), and the low-resolution ODE they refine.

Citation: G. França, J. Sulam, D. P. Robinson, R. Vidal, "Conformal Symplectic and Relativistic Optimization",
NeurIPS 2020 (also J. Stat. Mech. 2020, 124008), arXiv 1903.04100, Theorems 5 and 6 (the poster's numbering),
eqs. (4), (10), (11) of the talk.
Claims, as printed in the authors' NeurIPS 2020 talk slides and poster in their repository github.com/guisf/rgd
at commit 5a6ec850cc10cdb4b75f5a99d49cb6814595f97c (files Franca_talk_NeurIPS2020.pdf and poster_franca.pdf; the
paper's text was not read): classical momentum (CM) and Nesterov (NAG), printed (talk slide 2, poster (1)-(2)) as
    "v_{k+1} = µ v_k − ϵ∇f(x_k), x_{k+1} = x_k + v_{k+1}, (2)"
    "v_{k+1} = µ v_k − ϵ∇f(x_k + µ v_k), x_{k+1} = x_k + v_{k+1}. (3)",
with "µ ≡ e^{−γh}" (talk slide 5), are "1st order integrators to the following ODE:
    m ẍ(t) + m γ ẋ(t) = −∇f(x(t)). (4)"
(talk slide 3), and (talk slide 6, "Shadow Dynamical Systems"; poster Theorems 5 and 6)
    "Theorem: CM is a 2nd order integrator to the perturbed system
    m ẍ + m γ ẋ = − [ I + (hγ/2) I − (h²γ²/4) I − (h²/(4m)) ∇²f(x) ] ∇f(x). (10)"
    "Theorem: NAG is a 2nd order integrator to the perturbed system
    m ẍ + [ m γ + h ∇²f(x) ] ẋ = − [ I + (hγ/2) I − (h²γ²/4) I + (h²/(4m)) ∇²f(x) ] ∇f(x). (11)"
(the fractions, printed as such, are written inline here; the text was extracted from the PDFs and the fractions
checked against the rendered pages).
Notation: mass m = 1; eps = s, the harness's step; time step h = sqrt(s) with x_k = X(t_k), t_k = k h (time
offset 0); V = -grad f (alpha = 1), so grad f = -V, hess f(X) X-dot = -V'(X) X-dot and hess f grad f = V'V;
mu = e^(-gamma h) as printed on talk slide 5; v_k = x_k - x_(k-1). The identification eps = h^2 / m is read in
the authors' code (solvers_mass.py, classical_momentum: p = mu p - h grad f, x = x + (h/m) p, so that v = (h/m) p
steps v = mu v - (h^2/m) grad f), not in the paper. The rules are ``heavy_ball_damped`` (CM) and ``nag_damped``
(NAG, as a two-step method in x: x_(k+1) = y + s V(y), y = x_k + mu (x_k - x_(k-1))), both with ``gamma``; the
flows name the keyword ``gamma`` and receive the rule's value (harness.model.user: a flow receives the options
of the rule it is checked against that it names). With m = 1 the ODEs are
    (4)  X'' = -gamma X' + V(X)
    (10) X'' = -gamma X' + (1 + h gamma/2 - h^2 gamma^2/4) V(X) + (h^2/4) V'V
    (11) X'' = -gamma X' + h V'(X) X' + (1 + h gamma/2 - h^2 gamma^2/4) V(X) - (h^2/4) V'V.
Claimed accuracy: "r-th order means ‖x_k − x(t)‖ = O(h^{r+1})" (talk slide 3), for the map on (x, p) against the
true flow ("It is said to be of order r if ‖Φ_h(x,p) − φ_h(x,p)‖ = O(h^{r+1})", poster Definition 1): a 2nd
order integrator has local error O(h^3). Since the two characteristic roots of the methods are O(h) apart, the
two-step residual in x of a 2nd order integrator is O(h^4) and of a 1st order one O(h^3): resolution 1 (slope 4
in h = sqrt(s)) for (10) and (11), resolution 0 (slope 3) for (4) (harness.measure.two_step). A 2nd order claim
determines the O(h) terms of (10) and (11) only: changing their O(h^2) terms changes the residual at O(h^4), the
order the residual has anyway, so the measurement cannot confirm the printed h^2 terms (the slope 4 is that of
the O(h) terms; tests/test_rule_damped.py measures slope 4 for (10) and (11) without their h^2 terms too). The
residual is weakly sensitive to CM's one O(h) term, (h gamma/2) grad f: a copy of (10) evaluated at 1.3 s reads
a pre-asymptotic slope at gamma = 3 and two initial points (2.87 on quadratic_objective, 3.14 on Rosenbrock), not
a clean 3; NAG's copy fails at slope 3 (3.01, 2.96).
Provenance: printed (by the authors themselves, in their NeurIPS 2020 talk slides and poster in the repository
named above, which state Theorems 5 and 6 with their equations; this is the authors' own printed statement, not
a quotation by another paper, hence printed rather than quoted, but the paper's text was not read; the
identification eps = h^2 / m is the authors' code's, not read in the paper; the printed h^2 terms of (10) and
(11) are beyond what the measured slope confirms).
"""

import jax
import jax.numpy as jnp

import harness

GAMMA = 3.0
"""The damping gamma of the catalog's checks (literature/check_matrix.toml sets the rules' ``gamma`` to it); the
flows' default, used when they are called without a rule."""


def _jvp(V, x, u):
    """V'(x) u (one JVP)."""
    return jax.jvp(V, (x,), (u,))[1]


def _gradient_factor(s, gamma):
    """1 + h gamma / 2 - h^2 gamma^2 / 4 with h = sqrt(s)."""
    h = jnp.sqrt(s)
    return 1 + h * gamma / 2 - h ** 2 * gamma ** 2 / 4


@harness.flow(order=1, name="CM shadow ODE (10) (França et al. 2020)", time_offset=0.0)
def classical_momentum(V, x, v, t, s, *, gamma=GAMMA):
    """(10), m = 1: X'' = -gamma X' + (1 + h gamma/2 - h^2 gamma^2/4) V(X) + (h^2/4) V'V, h = sqrt(s)."""
    vx = V(x)
    return -gamma * v + _gradient_factor(s, gamma) * vx + s / 4 * _jvp(V, x, vx)


@harness.flow(order=1, name="NAG shadow ODE (11) (França et al. 2020)", time_offset=0.0)
def nesterov(V, x, v, t, s, *, gamma=GAMMA):
    """(11), m = 1: X'' = -gamma X' + h V'(X) X' + (1 + h gamma/2 - h^2 gamma^2/4) V(X) - (h^2/4) V'V."""
    vx = V(x)
    return (-gamma * v + jnp.sqrt(s) * _jvp(V, x, v) + _gradient_factor(s, gamma) * vx
            - s / 4 * _jvp(V, x, vx))


@harness.flow(order=0, name="low-resolution ODE (4) of CM and NAG (França et al. 2020)", time_offset=0.0)
def low_resolution(V, x, v, t, s, *, gamma=GAMMA):
    """(4), m = 1: X'' = -gamma X' + V(X)."""
    return -gamma * v + V(x)
