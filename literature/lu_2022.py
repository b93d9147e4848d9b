"""O(s)-resolution ODEs of min-max algorithms.

Citation: H. Lu, "An O(s^r)-Resolution ODE Framework for Understanding Discrete-Time Algorithms and
Applications to the Linear Convergence of Minimax Problems", Mathematical Programming 194, 2022,
arXiv 2001.08826.
Claims: for min_x max_y L with F(z) = (grad_x L, -grad_y L) and step s, the O(s)-resolution ODE (an
O(s^2)-accurate first-order modified flow) of
    gradient descent-ascent  z' = z - s F(z):                    Z-dot = -F - (s/2) grad F F
    proximal point           z' = z - s F(z'):                   Z-dot = -F + (s/2) grad F F
    extragradient            z' = z - s F(z - s F(z)):           Z-dot = -F + (s/2) grad F F
    optimistic GDA           z' = z - 2s F(z) + s F(z_prev):     Z-dot = -F + (s/2) grad F F
Notation: F = -V with alpha = lambda = 1 (the rates scale V per player), s = h, grad F F = V'V.
Claimed accuracy: the ODE's solution and the iterates differ by O(s^2) per step ("O(s)-resolution").
Provenance: recalled (the project's notes, from code that re-implements the paper's eqs. 10, 12, 13; the
printed equations were not read here).
Regime: optimistic GDA with its previous iterate on the flow; from a cold start (z_prev = z) its first step
is gradient descent-ascent, off at O(s^2).
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


@harness.flow(order=1, name="OGDA (Lu 2022)")
def ogda(V, z, h):
    """The same O(s)-resolution ODE as proximal point, previous iterate on the flow."""
    return _resolution(V, z, h, 1.0)
