"""The Lookahead optimizer as a user rule, and the flow `harness derive` derives for it.

Lookahead with step fraction a and k inner steps: k simultaneous GD steps of size h, then a step a of the way
back towards where they ended,

    z_1 = z + h V(z), ..., z_k = z_(k-1) + h V(z_(k-1)),   z' = z + a (z_k - z).

Its leading field is a k V (not V: with a k != 1 the gradient flow does not model it). Derive its modified
field through h^2 and check the emitted flow (slope 4, exit 0):

    harness derive --scheme lookahead_optimizer.py:lookahead_half_three --format python --out lookahead_flow.py
    harness check --game dirac_gan --scheme lookahead_optimizer.py:lookahead_half_three \\
        --flow lookahead_flow.py:derived_flow

The factory's values show in labels: ``lookahead(0.25, 3)`` passed as a function is reported as
``step(a=0.25, k=3)``. With the parameters given on the command line instead (shown in labels too):

    harness derive --scheme lookahead_optimizer.py:lookahead_rule --param a=0.5 --param k=3
"""


def lookahead(a: float, k: int):
    """The Lookahead rule with step fraction ``a`` and ``k`` inner GD steps, in the joint notation."""

    def step(V, z, h):
        inner = z
        for _ in range(k):
            inner = inner + h * V(inner)
        return z + a * (inner - z)

    return step


lookahead_half_three = lookahead(0.5, 3)


def lookahead_rule(V, z, h, a=0.5, k=3):
    """The same rule with its parameters as keywords, for ``--param a=0.5 --param k=3``."""
    return lookahead(a, k)(V, z, h)
