"""O(s)-resolution ODEs of min-max algorithms.

Citation: H. Lu, "An O(s^r)-Resolution ODE Framework for Understanding Discrete-Time Algorithms and
Applications to the Linear Convergence of Minimax Problems", Mathematical Programming 194(1):1061-1112, 2022,
arXiv 2001.08826.
Claims: the abstract (printed, read at researchtrend.ai/papers/2001.08826 and zhuanzhi.ai) studies "three
classic algorithms -- gradient descent ascent (GDA), proximal point method (PPM) and extra-gradient method
(EGM) -- for solving the unconstrained minimax problem" with "a hierarchy of O(s^r)-resolution ODEs of a DTA
parameterized by the degree r, where s is the step-size"; Luo and Wang (arXiv 2603.07075, abstract, read)
describe the framework as "based on the backward error analysis". For min_x max_y L with F(z) = (grad_x L,
-grad_y L) and step s, the O(s)-resolution ODEs checked here are
    gradient descent-ascent  z' = z - s F(z):                    Z-dot = -F - (s/2) grad F F
    proximal point           z' = z - s F(z'):                   Z-dot = -F + (s/2) grad F F
    extragradient            z' = z - s F(z - s F(z)):           Z-dot = -F + (s/2) grad F F
Optimistic GDA is not one of Lu's methods (the abstract names the three above); its first-order flow is the
harness's own (docs/theory.md section 3), checked in harness/checks/check_matrix.toml, not here.
Notation: F = -V with alpha = lambda = 1 (the rates scale V per player), s = h, grad F F = V'V.
Claimed accuracy: "O(s)-resolution" (the title's O(s^r) with r = 1; the definition was not read): taken here as
a first-order modified flow, whose solution and the iterates differ by O(s^3) per step (local error slope 3),
which is what the checks measure.
Provenance: derived here (backward error analysis of each update map to first order, docs/theory.md section 3);
no source read here prints these ODEs, and the printed equations of the paper were not read (the code that
re-implements its construction, per the project's notes, implements the construction only).
"""

import jax

import harness


def _resolution(V, z, h, sign):
    v = V(z)
    return v + sign * (h / 2) * jax.jvp(V, (z,), (v,))[1]


@harness.flow(order=1, name="GDA (Lu 2022)")
def gda(V, z, h):
    """Z-dot = -F - (s/2) grad F F, that is V - (h/2) V'V."""
    return _resolution(V, z, h, -1.0)


@harness.flow(order=1, name="proximal point (Lu 2022)")
def proximal_point(V, z, h):
    """Z-dot = -F + (s/2) grad F F, that is V + (h/2) V'V."""
    return _resolution(V, z, h, 1.0)


@harness.flow(order=1, name="extragradient (Lu 2022)")
def extragradient(V, z, h):
    """The same O(s)-resolution ODE as proximal point."""
    return _resolution(V, z, h, 1.0)
