"""Bi-coloured rooted trees and their elementary differentials: the basis of modified fields (docs/theory.md §9).

A rule built from evaluations of the fields f (player 1, variable phi) and g (player 2, variable theta) has a
modified field that is a P-series: at h^j, a sum over trees with j + 1 nodes. A tree is a root field, f or g,
with a multiset of child trees; its elementary differential is the root field's k-th derivative applied to its
k children's elementary differentials, each child taken along the variable of its own root field:

    F(f) = f,   F(f[t1, ..., tk]) = d^k f / (d x1 ... d xk) (F(t1), ..., F(tk)),   x_i = phi if t_i is rooted at f,
                                                                                   theta if at g.

Names follow ``name := field ["_" var]* ["(" name (", " name)* ")"]``, one var per argument in argument order
(children sorted by name), e.g. ``f_phi(f)``, ``f_theta(g_phi(f))``, ``g_phi_theta(f, g)``. Per equation
there are 1, 2, 7, 26 trees at h^0 ... h^3; for one objective (f and phi only) 1, 1, 2, 4.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

VARIABLE = {"f": "phi", "g": "theta"}
_GREEK = {"phi": "φ", "theta": "θ"}
_LATEX = {"phi": r"\phi", "theta": r"\theta"}


@dataclass(frozen=True, order=True)
class Tree:
    """A root field (``"f"`` or ``"g"``) and its children, sorted by name."""

    name: str
    root: str
    children: tuple[Tree, ...] = ()

    @staticmethod
    def of(root: str, children: tuple[Tree, ...] = ()) -> Tree:
        ordered = tuple(sorted(children))
        variables = "".join(f"_{VARIABLE[c.root]}" for c in ordered)
        arguments = f"({', '.join(c.name for c in ordered)})" if ordered else ""
        return Tree(f"{root}{variables}{arguments}", root, ordered)

    @property
    def nodes(self) -> int:
        return 1 + sum(c.nodes for c in self.children)

    def count(self, root: str) -> int:
        """How many nodes are the field ``root``: the power of its rate in the tree's coefficient."""
        return (self.root == root) + sum(c.count(root) for c in self.children)

    def unicode(self, single: bool = False) -> str:
        """The paper's notation: f_φθ(f, g), f_θ g_φ f; for one objective f′f, f″(f, f), f′f′f."""
        if single:
            head = "f" + "′" * len(self.children) if len(self.children) < 4 else f"f^({len(self.children)})"
            head = head.replace("′′′", "‴").replace("′′", "″")
        else:
            head = self.root + ("_" + "".join(_GREEK[VARIABLE[c.root]] for c in self.children) if self.children
                                else "")
        if not self.children:
            return head
        if len(self.children) == 1:
            child = self.children[0].unicode(single)
            return head + child if single else f"{head} {child}"
        return f"{head}({', '.join(c.unicode(single) for c in self.children)})"

    def latex(self, single: bool = False) -> str:
        if single:
            primes = "'" * len(self.children)
            head = f"f^{{{primes}}}" if self.children else "f"
        else:
            head = self.root + ("_{" + "".join(_LATEX[VARIABLE[c.root]] for c in self.children) + "}"
                                if self.children else "")
        if not self.children:
            return head
        if len(self.children) == 1:
            return f"{head}\\,{self.children[0].latex(single)}"
        return f"{head}({', '.join(c.latex(single) for c in self.children)})"


LEAVES = {root: Tree.of(root) for root in ("f", "g")}


@functools.cache
def trees(nodes: int, root: str, colours: tuple[str, ...] = ("f", "g")) -> tuple[Tree, ...]:
    """Every tree with ``nodes`` nodes rooted at ``root`` whose nodes are among ``colours``, sorted by name."""
    found = {Tree.of(root, children) for children in _forests(nodes - 1, colours)}
    return tuple(sorted(found))


@functools.cache
def _forests(nodes: int, colours: tuple[str, ...]) -> tuple[tuple[Tree, ...], ...]:
    """Every multiset of trees with ``nodes`` nodes in all."""
    if nodes == 0:
        return ((),)
    candidates = sorted(t for size in range(1, nodes + 1) for c in colours for t in trees(size, c, colours))
    found = []

    def extend(start: int, left: int, chosen: tuple[Tree, ...]) -> None:
        if left == 0:
            found.append(chosen)
            return
        for i in range(start, len(candidates)):
            if candidates[i].nodes <= left:
                extend(i, left - candidates[i].nodes, (*chosen, candidates[i]))

    extend(0, nodes, ())
    return tuple(found)


def basis(order: int, players: int) -> dict[str, tuple[Tree, ...]]:
    """The trees of h^``order`` (``order`` + 1 nodes) per equation: ``{"phi": ..., "theta": ...}`` for two
    players, ``{"x": ...}`` (f and phi only) for one objective."""
    if players == 1:
        return {"x": trees(order + 1, "f", ("f",))}
    return {"phi": trees(order + 1, "f"), "theta": trees(order + 1, "g")}


def differentials(field1: Callable, field2: Callable, sizes: tuple[int, int], wanted: list[Tree]) -> Callable:
    """``z -> {name: F(t)(z)}`` for the ``wanted`` trees (and every subtree), the fields taken as
    ``field(phi, theta)`` on z = (phi, theta); each k-th derivative is k nested JVPs."""
    a, b = sizes
    fields = {"f": field1, "g": field2}

    def evaluate(z):
        values: dict[str, jax.Array] = {}

        def value(tree: Tree) -> jax.Array:
            if tree.name not in values:
                directions = [(c.root, value(c)) for c in tree.children]
                values[tree.name] = derivative(fields[tree.root], z, directions, a, b)
            return values[tree.name]

        return {t.name: value(t) for t in wanted}

    return evaluate


def derivative(field: Callable, z: jax.Array, directions: list[tuple[str, jax.Array]], a: int, b: int) -> jax.Array:
    """D^k field(z)[v_1, ..., v_k] with v_i along phi (root ``"f"``) or theta (``"g"``), by nested JVPs."""
    if not directions:
        return field(z[:a], z[a:])
    *rest, (root, vector) = directions
    tangent = jnp.concatenate([vector, jnp.zeros(b)]) if root == "f" else jnp.concatenate([jnp.zeros(a), vector])
    return jax.jvp(lambda x: derivative(field, x, rest, a, b), (z,), (tangent,))[1]


def all_trees(order: int, players: int) -> list[tuple[int, str, Tree]]:
    """(order j, equation, tree) for j = 0 ... ``order``."""
    return [(j, player, tree) for j in range(order + 1) for player, found in basis(j, players).items()
            for tree in found]


def count_table(order: int, players: int) -> list[int]:
    """Trees per equation at h^0 ... h^order (1, 2, 7, 26 for two players; 1, 1, 2, 4 for one)."""
    return [len(next(iter(basis(j, players).values()))) for j in range(order + 1)]

