"""The error series of a check: where, and by how much, a flow departs from the update rule's modified field.

The rule's modified field (harness.base.bea, Taylor-mode autodiff over its orbit) and the checked flow's field
(Taylor-mode autodiff in h at fixed z, whatever its dependence on h) are expanded in h:

    rule:  r_0(z) + h r_1(z) + ... + h^J r_J(z)        flow:  g_0(z) + h g_1(z) + ... + h^J g_J(z)

with J = max(p, q - 1) for a flow of order p and a rule of order q. If d_i = r_i - g_i vanishes for i < j
and d_j does not, one update step and the flow over time h differ by h^(j+1) d_j(z) + O(h^(j+2)): the local
error's slope is j + 1 (the global error's j). A difference vanishes when, at every initial point of the
check, |d_i| <= THRESHOLD * (|r_i| + |g_i| + |r_0| L^i), L the estimate of |dF/dz| (the natural size of an
order-i coefficient). When all J + 1 agree, the slope is at least J + 2 (= max(p + 2, q + 1)).

At the first differing order j the difference d_j is written in the tree basis (harness.verdict.trees): the elementary
differentials of f and g with j + 1 nodes (two players, j <= 3: 2, 7, 26 per equation; one objective, j <= 4),
plus any terms of the user's own (``terms``), fitted by least squares over the initial points and EXTRA_POINTS
seeded ones. Terms are named only when they explain the difference to EXPLAINED relative; the flow's coefficient
of each tree is then the rule's exact one (harness.derive, game-independent) minus the fitted difference. A
difference the basis leaves unexplained is said to be no combination of elementary differentials, with no
per-term numbers; a tree that vanishes on the game, or cannot be told apart from another there, is said to be
unidentifiable. Above the basis's orders, the relative sizes only.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import asdict, dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.bea import MAX_ORDER, modified_coefficients, taylor_in_h
from harness.base.compiler import jit
from harness.base.errors import HarnessError
from harness.base.integrate import EPS
from harness.base.result_cache import digest, kept
from harness.base.status import Status
from harness.flows import Flow, family_field, flow_family
from harness.measure import BUCKETED_SIZE, initial_points, kernel_cache
from harness.measure.kernel_cache import family_key, program_key
from harness.model.game import POINT_BUCKET, Game, padded
from harness.model.identity import register, result_key
from harness.rules.base import Traced
from harness.rules.schemes import Scheme, update_map
from harness.verdict.trees import basis, differentials

THRESHOLD = 1e4 * EPS
"""Relative size (see the module docstring) below which a coefficient difference is round-off."""
EXTRA_POINTS = 6
"""Seeded points added to the check's initial points for the attribution to named terms."""
EXPLAINED = 1e-6
"""Share of the difference the named terms may leave unexplained for the attribution to stand."""
TREE_ORDERS = {"two-player": 3, "single-objective": 4}
"""The highest order whose difference is written in the tree basis."""
_SAME = 1e-6  # difference, relative to the equation's largest coefficient, below which two are the same


@dataclass
class Term:
    """One named term at the first differing order: its coefficient in the flow and in the rule."""

    player: str
    name: str
    flow: float | None
    rule: float | None
    flow_expression: str | None = None
    rule_expression: str | None = None
    note: str = ""  # why it cannot be identified on this game
    differs: bool = False  # the coefficients differ by more than _SAME times the equation's largest one
    difference: float | None = None  # flow minus rule (the only number when the rule's own is not known)
    notation: str = ""  # the paper's notation (f_φ f; f′f for one objective)

    @property
    def identified(self) -> bool:
        return self.difference is not None

    def describe(self) -> str:
        equation = "" if self.player == "x" else f"{self.player} equation, "
        name = self.notation or self.name
        if self.rule is None:
            return f"{equation}{name}: flow − rule {self.difference:.4g} (the rule's own coefficient is not known)"
        return (f"{equation}{name}: flow {_number(self.flow, self.flow_expression)}, "
                f"rule {_number(self.rule, self.rule_expression)}")


def _number(value: float | None, expression: str | None) -> str:
    return f"{value:.4g}" + (f" ({expression})" if expression and expression != f"{value:g}" else "")


@dataclass
class Series:
    """The error series of one check (see the module docstring); ``reason`` says why there is none."""

    reason: str = ""
    orders: int = 0
    agrees_through: int = 0
    predicted_slope: float = 0.0
    at_least: bool = False
    relative: list = field(default_factory=list)  # [order][player]: max relative |d_i| at the check's points
    players: tuple = ("phi", "theta")
    leading_difference: dict = field(default_factory=dict)  # player -> |d_j| / |r_j| at the first differing j
    threshold: float = THRESHOLD
    terms: list[Term] = field(default_factory=list)
    residual: float | None = None  # share of the difference at order j the named terms leave unexplained
    attribution: str = ""  # what was attributed, or why nothing was
    explained: bool | None = None  # whether the named terms explain the difference to EXPLAINED (None: not tried)
    rule_vanishes: bool = False  # the rule has no h^j term at the first differing order j
    absolute: dict = field(default_factory=dict)  # player -> max |d_j| (printed where the rule has no h^j term)

    @property
    def available(self) -> bool:
        return not self.reason

    @property
    def differing_order(self) -> int | None:
        return None if not self.available or self.at_least else self.agrees_through + 1

    def to_dict(self) -> dict:
        """The JSON field ``series``."""
        if not self.available:
            return {"available": False, "reason": self.reason}
        return {"available": True, "orders": self.orders, "agrees_through": self.agrees_through,
                "predicted_slope": self.predicted_slope, "at_least": self.at_least,
                "leading_difference": {"order": self.differing_order, **self.leading_difference},
                "relative_size": {p: [row[i] for row in self.relative] for i, p in enumerate(self.players)},
                "threshold": self.threshold, "terms": [asdict(t) for t in self.terms],
                "residual": self.residual, "attribution": self.attribution, "explained": self.explained,
                "rule_vanishes": self.rule_vanishes, "absolute_difference": self.absolute}

    @classmethod
    def from_dict(cls, data: dict) -> Series:
        if not data.get("available"):
            return cls(reason=data.get("reason") or "not computed")
        players = tuple(data["relative_size"])
        relative = [list(row) for row in zip(*(data["relative_size"][p] for p in players), strict=True)]
        leading = {k: v for k, v in data["leading_difference"].items() if k != "order"}
        return cls("", data["orders"], data["agrees_through"], data["predicted_slope"], data["at_least"], relative,
                   players, leading, data["threshold"], [Term(**t) for t in data["terms"]], data["residual"],
                   data["attribution"], data.get("explained"), data.get("rule_vanishes", False),
                   data.get("absolute_difference", {}))

    def summary(self) -> str:
        """One line: how far the flow agrees with the rule's modified field, and the predicted slope."""
        if not self.available:
            return f"series: none ({self.reason})"
        slope = f"{'at least ' if self.at_least else ''}{self.predicted_slope:g}"
        if self.at_least:
            how = self.attribution or "every coefficient compared"
            return (f"series: the flow agrees with the rule's modified field through h^{self.orders} ({how}): "
                    f"predicted slope {slope}")
        j = self.agrees_through + 1
        if self.rule_vanishes:
            sizes = ", ".join(f"{p} {self.absolute[p]:.3g}" if self.relative[j][i] > self.threshold else f"{p} agrees"
                              for i, p in enumerate(self.absolute))
            how = f"the rule has no h^{j} term; the flow's, in size: {sizes}"
        else:
            sizes = ", ".join(f"{p} {v:.3g}" if self.relative[j][i] > self.threshold else f"{p} agrees"
                              for i, (p, v) in enumerate(self.leading_difference.items()))
            how = f"relative to the rule's coefficient: {sizes}"
        agrees = (f"agrees with the rule's modified field through h^{self.agrees_through} and differs" if j else
                  "differs from the rule's modified field already")
        return f"series: the flow {agrees} at h^{j} ({how}): predicted slope {slope}"

    def lines(self) -> list[str]:
        """At most 4 lines for people: the summary, the differing terms and what agrees."""
        lines = [self.summary()]
        if self.differing_order is None:
            return lines
        differing = [t.describe() for t in self.terms if t.differs]
        if differing:
            lines.extend(differing[:1] + (["; ".join(differing[1:])] if len(differing) > 1 else []))
        rest = []
        same = [t.notation or t.name for t in self.terms if t.identified and not t.differs]
        if same:
            rest.append(f"agree: {', '.join(same)}")
        for note in dict.fromkeys(t.note for t in self.terms if not t.identified):
            rest.append(f"{', '.join(t.notation or t.name for t in self.terms if t.note == note)}: {note}")
        if self.explained:
            rest.append("the named terms explain the whole difference")
        elif self.attribution:
            rest.append(self.attribution)
        if rest:
            lines.append("; ".join(rest))
        return lines


def series_slope(series: Series | None) -> str:
    """The predicted slope in a few characters: "3", "≥3", or "—" without a series."""
    if series is None or not series.available:
        return "—"
    return f"{'≥' if series.at_least else ''}{series.predicted_slope:g}"


def unavailable(reason: str) -> Series:
    return Series(reason=reason)


@functools.cache
def _rule_kernel(game: Game, structure: tuple, orders: int):
    """Compiled ``(points, params) -> rule [P, J+1, n]``: the rule's modified-field coefficients (harness.base.bea)."""
    return jit(jax.vmap(modified_coefficients(update_map(game, structure), orders), in_axes=(0, None)))


@functools.lru_cache(maxsize=32)
def _tree_kernel(game: Game, order: int, raw_terms: tuple, stamps: tuple = ()):
    """Compiled ``points -> [P, trees + extra, n]``: the elementary differentials of h^``order`` (each equation's
    trees, as joint vectors with zeros in the other player's part) and the user's own terms (``stamps``: their
    files', so that an edited term file is traced afresh)."""
    extra = tuple(_user_term(t) for t in raw_terms)
    players = 2 if game.kind == "two-player" else 1
    wanted = [t for found in basis(order, players).values() for t in found]
    evaluate = differentials(game.field1, game.field2, game.dims, wanted)
    a, b = game.dims

    def one(z):
        values = evaluate(z)
        columns = [jnp.concatenate([values[t.name], jnp.zeros(b)]) if t.root == "f" else
                   jnp.concatenate([jnp.zeros(a), values[t.name]]) for t in wanted]
        columns += [term(game, z) for _, term in extra]
        return jnp.stack(columns)

    return jit(jax.vmap(one))


@functools.cache
def _flow_kernel(game: Game, structure: tuple, family, orders: int):
    """Compiled ``(points, params, coefficients) -> flow [P, J+1, n]``: the flow's Taylor coefficients in h."""
    field = family_field(game, structure, family)

    def one(z, params, coefficients):
        return taylor_in_h(lambda h: field(z, h, params, coefficients), orders, z.dtype)

    return jit(jax.vmap(one, in_axes=(0, None, None)))


@functools.lru_cache(maxsize=256)
def _rule_values(game: Game, structure: tuple, params: Traced, points: bytes, count: int, orders: int) -> np.ndarray:
    """The rule kernel's values, kept for the other flows checked against the same rule at the same points
    (``params``: ``Scheme.param_values``, hashable floats)."""
    values = np.frombuffer(points).reshape(count, -1)
    key = f"series-rule|{program_key(game, structure)}|{orders}"
    return kernel_cache.kept_call(_rule_kernel(game, structure, orders), key,
                                  (jnp.asarray(values), params.arrays()))[0]


def coefficients(game: Game, scheme: Scheme, flow: Flow, points: np.ndarray, orders: int,
                 rule_orders: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The rule's and the flow's Taylor coefficients in h (h^0 ... h^orders) at ``points``. The rule's come
    from one kernel per game and rule (one for every variant of simultaneous and alternating GD, whose
    substeps and order are traced: ``Scheme.kernel_structure``), the flow's from one per game, rule and flow family
    (harness.flows.flow_family: gradient, modified and the official flow are one), both compiled at ``rule_orders``
    (default ``orders``; a run passes the highest order its checks of that rule need, so they share them) and read
    through h^orders; the rule's is evaluated once for every flow checked against it. A ``bea:P`` flow's field is by
    definition the rule's, truncated after h^P: its coefficients are those, masked. Both are kept across runs
    (harness.base.result_cache)."""
    structure = scheme.kernel_structure(game, False)
    count = len(points)
    rows = bucketed(points, game)
    compiled = max(orders, rule_orders or 0)
    rule = _rule_values(game, structure, scheme.param_values, rows.tobytes(), len(rows), compiled)
    rule = rule[:count, : orders + 1]
    if flow.automatic:
        return rule, rule * (np.arange(orders + 1) <= flow.order)[None, :, None]
    family, flow_coefficients = flow_family(flow, scheme)
    params = scheme.params
    key = f"series-flow|{program_key(game, structure)}|{family_key(game, structure, family)}|{compiled}"
    values = kernel_cache.kept_call(_flow_kernel(game, structure, family, compiled), key,
                                    (jnp.asarray(rows), params, flow_coefficients))[0]
    return rule, values[:count, : orders + 1]


SERIES_ROWS = POINT_BUCKET + EXTRA_POINTS
"""The rows of a series kernel on a small game: a check's 1 to POINT_BUCKET initial points and the EXTRA_POINTS seeded
ones, padded (harness.model.game.padded), so that checks of any of those point counts share its compiled kernels."""


def bucketed(points: np.ndarray, game: Game) -> np.ndarray:
    """``points`` (float64) ``padded`` to SERIES_ROWS rows on a game of at most BUCKETED_SIZE numbers (each row is
    computed on its own, though a batch of another size may be vectorised otherwise: a value may differ from an
    unpadded batch's by round-off)."""
    return padded(points, SERIES_ROWS if game.z0.size <= BUCKETED_SIZE else 0)


def series_orders(flow: Flow, scheme: Scheme) -> int:
    """J = max(p, q - 1): the orders of h a check's series compares."""
    return max(flow.order, scheme.method_order - 1)


def by_construction(flow: Flow, scheme: Scheme) -> bool:
    """Whether the flow is bea:P with J = P: the rule's own series truncated after h^P, which agrees with the
    rule through every order compared without computing anything."""
    return flow.automatic and series_orders(flow, scheme) == flow.order


def rule_orders_needed(flow: Flow, scheme: Scheme) -> int:
    """The order to which a check needs the rule's coefficients: J, or none (0) when ``by_construction``."""
    return 0 if by_construction(flow, scheme) else series_orders(flow, scheme)


def error_series(game: Game, scheme: Scheme, flow: Flow, points: np.ndarray, jacobian_norm: float,
                 measure: str = "local", seed: int = 0, rule_orders: int | None = None,
                 terms: tuple = ()) -> Series:
    """The error series of a check at its initial ``points`` (module docstring); ``jacobian_norm`` is L;
    ``rule_orders`` as in ``coefficients``; ``terms``: the user's own terms for the attribution (functions in a
    user-flow notation returning a field, or ``file.py:NAME``)."""
    if scheme.two_step:
        return unavailable(f"{scheme.name} is a two-step method checked against a second-order ODE by its two-step "
                           "residual (harness.measure.two_step), not a one-step map with a modified field to expand in "
                           "h")
    if scheme.lifted:
        return unavailable(f"{scheme.name} is a multistep rule with memory: it steps a lifted state ((z, z_prev) or "
                           "buffers), which has no one-step modified field to expand in h")
    orders = series_orders(flow, scheme)
    if orders > MAX_ORDER:
        return unavailable(f"the series would need order {orders}, above {MAX_ORDER}")
    if by_construction(flow, scheme):
        return Series("", orders, orders, float(orders + 2 - (measure == "global")), True,
                      players=("phi", "theta") if game.kind == "two-player" else ("x",),
                      attribution=f"by construction: {flow.name} is the rule's own modified field through h^{orders}")
    extra = initial_points(game, EXTRA_POINTS + 1, seed + 1)[1:]
    try:
        rule, flow_terms = coefficients(game, scheme, flow, np.vstack([points, extra]), orders, rule_orders)
    except KeyError as exc:  # Taylor-mode autodiff has no rule for an operation of the rule or the flow
        name = getattr(exc.args[0], "name", exc.args[0]) if exc.args else "?"
        return unavailable(f"Taylor-mode autodiff has no rule for the operation {name!r} used by the rule or the "
                           "flow")
    if not (np.all(np.isfinite(rule)) and np.all(np.isfinite(flow_terms))):
        return unavailable("the expansion in h is not finite at h = 0 (does the rule or the flow divide by h, "
                           "or by a learning rate times h?)")
    count = len(points)
    a = game.dims[0]
    players = ("phi", "theta") if game.kind == "two-player" else ("x",)
    parts = [slice(0, a), slice(a, None)][: len(players)]
    difference = rule - flow_terms
    size0 = np.linalg.norm(rule[:, 0], axis=1)
    relative = []
    for i in range(orders + 1):
        scale = (np.linalg.norm(rule[:, i], axis=1) + np.linalg.norm(flow_terms[:, i], axis=1)
                 + size0 * jacobian_norm ** i + 1e-300)
        relative.append([float(np.max(np.linalg.norm(difference[:count, i, part], axis=1) / scale[:count]))
                         for part in parts])
    agrees = [max(row) <= THRESHOLD for row in relative]
    through = next((i - 1 for i, ok in enumerate(agrees) if not ok), orders)
    at_least = through == orders
    local = through + 2
    series = Series("", orders, through, float(local - (measure == "global")), at_least,
                    relative, players)
    if at_least:
        return series
    j = through + 1
    absolute = {p: float(np.max(np.linalg.norm(difference[:count, j, part], axis=1))) for p, part in zip(players, parts,
                                                                                                      strict=True)}
    rule_size = np.linalg.norm(rule[:count, j], axis=1)
    natural = size0[:count] * jacobian_norm ** j
    series.rule_vanishes = bool(np.all(rule_size <= THRESHOLD * (natural + np.linalg.norm(flow_terms[:count, j], axis=1)
                                                                + 1e-300)))
    series.absolute = absolute
    series.leading_difference = {
        p: float(np.max(np.linalg.norm(difference[:count, j, part], axis=1)
                        / (np.linalg.norm(rule[:count, j, part], axis=1) + 1e-300)))
        for p, part in zip(players, parts, strict=True)}
    if series.rule_vanishes:
        series.leading_difference = {p: math.inf if absolute[p] > 0 else 0.0 for p in players}
    if j > TREE_ORDERS[game.kind]:
        series.attribution = (f"no tree basis above h^{TREE_ORDERS[game.kind]} ({game.kind}); the relative sizes "
                              "above say how large the difference is")
        return series
    _attribute(series, game, scheme, j, rule[:, j] - flow_terms[:, j], np.vstack([points, extra]), tuple(terms))
    return series


def _attribute(series: Series, game: Game, scheme: Scheme, j: int, difference: np.ndarray, points: np.ndarray,
               raw_terms: tuple) -> None:
    """Write the difference d_j = rule - flow at ``points`` in the tree basis of order j (and the user's own
    terms, ``raw_terms``) by least squares; name the terms only if they explain it to EXPLAINED, with the rule's exact
    coefficients from harness.derive beside the flow's."""
    players = 2 if game.kind == "two-player" else 1
    trees = basis(j, players)
    a = game.dims[0]
    extra = tuple(_user_term(t) for t in raw_terms)
    # [P, trees + extra, n]; kept across runs by the game's fingerprint when there are no user terms
    key = None if raw_terms else result_key("series trees", game, j, digest(points))
    kernel = _tree_kernel(game, j, raw_terms, _stamps(raw_terms))
    columns = kept(key, lambda: (kernel(jnp.asarray(bucketed(points, game)))[: len(points)],))[0]
    rule_of, derived = _rule_coefficients(scheme, j, players, raw_terms)
    unexplained = total = 0.0
    found: list[Term] = []
    starts = np.cumsum([0] + [len(t) for t in trees.values()])  # each equation's trees, then the extra terms
    for (player, own), start, part in zip(trees.items(), starts, (slice(0, a), slice(a, None)), strict=False):
        names = [t.name for t in own] + [name for name, _ in extra]
        notations = [t.unicode(players == 1) for t in own] + [name for name, _ in extra]
        indices = [*range(start, start + len(own)), *range(starts[-1], columns.shape[1])]
        design = np.stack([columns[:, i, part].ravel() for i in indices], axis=1)
        target = difference[:, part].ravel()
        usable, notes = _identifiable(design, names)
        fitted = np.zeros(len(names))
        if usable.any():
            fitted[usable] = np.linalg.lstsq(design[:, usable], target, rcond=None)[0]
        unexplained += float(np.linalg.norm(target - design @ fitted) ** 2)
        total += float(np.linalg.norm(target) ** 2)
        largest = max(float(np.max(np.abs(fitted), initial=0.0)),
                      max((abs(rule_of(j, player, n)) for n in names), default=0.0))
        for index, name in enumerate(names):
            if not usable[index]:
                found.append(Term(player, name, None, None, note=notes[index], notation=notations[index]))
                continue
            delta = -float(fitted[index])  # flow minus rule
            rule_value = rule_of(j, player, name) if derived is not None else None
            flow_value = None if rule_value is None else rule_value + delta
            found.append(Term(player, name, flow_value, rule_value,
                              None if flow_value is None else expression(flow_value, _symbols(scheme), j + 1),
                              None if rule_value is None else _rule_expression(derived, j, player, name),
                              differs=abs(delta) > _SAME * max(largest, 1e-300), difference=delta,
                              notation=notations[index]))
    series.residual = math.sqrt(unexplained / total) if total > 0 else 0.0
    series.explained = series.residual <= EXPLAINED
    basis_words = "elementary differentials of f and g" + (" and the given terms" if extra else "")
    if not series.explained:
        series.attribution = (f"the difference at h^{j} is not a combination of {basis_words} (the {basis_words} "
                              f"leave {100 * series.residual:.2g}% of it unexplained): no per-term coefficients")
        return
    series.terms = found
    series.attribution = f"attributed at h^{j} to the {basis_words} with {j + 1} nodes"
    if derived is None:
        series.attribution += "; the rule is not a P-series in f and g here, so only the differences are given"


def _symbols(scheme: Scheme) -> dict[str, float]:
    return {"alpha": scheme.lr1, "lambda": scheme.lr2, "m": scheme.m, "k": scheme.k}


def _derived(scheme: Scheme, order: int, players: int, raw_terms: tuple):
    """harness.derive's derivation of ``scheme`` through h^order, or None when the rule is not a P-series (or
    cannot be derived: a finite-sum rule, an operation Taylor-mode autodiff lacks); kept per rule by content
    (its structure holds the loaded function) and the term files' stamps."""
    try:
        key = (scheme.structure, scheme.param_values, order, players, raw_terms, _stamps(raw_terms))
    except HarnessError:
        return None
    if key not in _DERIVED:
        from harness.verdict.derivation import derive

        try:
            derivation = derive(scheme, order, players=players, terms=list(raw_terms), refresh_code=False)
            _DERIVED[key] = derivation if derivation.verified else None
        except HarnessError:
            _DERIVED[key] = None
    return _DERIVED[key]


_DERIVED: dict[tuple, object] = {}
register(_DERIVED.clear)


def _stamps(raw_terms: tuple) -> tuple:
    """The file stamps (harness.model.catalog.file_stamp) of terms given as ``file.py:NAME``: an edited file is another
    term."""
    from harness.model.catalog import file_stamp

    return tuple(file_stamp(t.rpartition(":")[0]) if isinstance(t, str) else () for t in raw_terms)


def _rule_coefficients(scheme: Scheme, order: int, players: int, raw_terms: tuple):
    """(lookup ``(j, player, name) -> coefficient``, derivation or None)."""
    derived = _derived(scheme, order, players, raw_terms)
    if derived is None:
        return (lambda j, player, name: 0.0), None
    users = {name for name in derived.extra_terms}
    return (lambda j, player, name: derived.coefficient(j, player, f"user:{name}" if name in users else name)), derived


def _rule_expression(derived, j: int, player: str, name: str) -> str | None:
    users = set(derived.extra_terms)
    tree = f"user:{name}" if name in users else name
    found = next((t for t in derived.terms if (t.order, t.player, t.tree) == (j, player, tree)), None)
    if found is None:
        return "0"
    return found.expression or found.exact


def _user_term(term) -> tuple[str, object]:
    from harness.verdict.derivation import user_term

    return user_term(term)


def _identifiable(design: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Which columns can be fitted: not vanishing on the game, and not proportional to an earlier column."""
    norms = np.linalg.norm(design, axis=0)
    usable = norms > 1e-10 * max(float(np.max(norms)), 1e-300)
    notes = ["zero on this game (cannot be identified)" if not ok else "" for ok in usable]
    for k in range(design.shape[1]):
        if not usable[k]:
            continue
        earlier = [i for i in range(k) if usable[i]]
        if earlier:
            basis = design[:, earlier] / norms[earlier]
            column = design[:, k] / norms[k]
            residual = column - basis @ np.linalg.lstsq(basis, column, rcond=None)[0]
            if np.linalg.norm(residual) < 1e-8:
                usable[k] = False
                notes[k] = f"cannot be told apart from {names[earlier[0]]} on this game"
    return usable, notes


_FRACTIONS = ((1, 2), (1, 1), (1, 4), (1, 12), (1, 3), (1, 6), (3, 2), (2, 1))


def expression(value: float, symbols: dict[str, float], degree: int) -> str | None:
    """``value`` as ± (a/b) times a monomial of ``degree`` in alpha and lambda, optionally over m or k, written
    as sympy writes it (e.g. "-alpha*lambda/2", "alpha**3/12", "-alpha**2/(2*m)"), the first match in a fixed
    order; "0" for zero; None when nothing matches."""
    if value == 0 or abs(value) < 1e-12:
        return "0"
    alpha, lam, m, k = symbols["alpha"], symbols["lambda"], symbols["m"], symbols["k"]
    monomials = []
    for power in range(degree, -1, -1):
        name = "*".join(filter(None, (_power("alpha", power), _power("lambda", degree - power))))
        monomials.append((name, alpha ** power * lam ** (degree - power)))
    candidates = [(name, base, "") for name, base in monomials]
    candidates += [(name, base / m, "m") for name, base in monomials if m != 1]
    candidates += [(name, base / k, "k") for name, base in monomials if k != 1]
    for (numerator, denominator), (name, base, under) in itertools.product(_FRACTIONS, candidates):
        if abs(abs(value) - numerator / denominator * base) <= 1e-9 * abs(value):
            sign = "-" if value < 0 else ""
            top = "*".join(filter(None, ("" if numerator == 1 else str(numerator), name))) or "1"
            below = "*".join(filter(None, ("" if denominator == 1 else str(denominator), under)))
            return f"{sign}{top}" + (f"/{below}" if "*" not in below and below else f"/({below})" if below else "")
    return None


def _power(symbol: str, power: int) -> str:
    return "" if power == 0 else symbol if power == 1 else f"{symbol}**{power}"


def hint(series: Series, game: Game, scheme: Scheme, flow: Flow, status: str, slope: float | None,
         expected: float, tolerance: float) -> str | None:
    """What to do when a check fails for a reason the series can name: the rule's leading field is not the flow's
    (the series differs at h^0), or a rule integrates the gradient flow to a higher order q than it declares
    (harness.derive: its modified field is V through h^(q-1))."""
    if not series.available or status != Status.FAIL:
        return None
    if series.differing_order == 0:
        text = ("the rule's leading field is not V = (alpha f, lambda g): the gradient flow does not model it"
                if flow.name == "gradient" else f"the rule's leading field is not that of {flow.name}")
        return f"{text}; check bea:0 or your own order-0 flow (harness derive prints the rule's field)"
    if not (series.at_least and slope is not None and slope > expected + tolerance and scheme.name == "user"
            and flow.name == "gradient"):
        return None
    players = 2 if game.kind == "two-player" else 1
    derived = _derived(scheme, 3 if players == 2 else 4, players, ())
    if derived is None:
        return None
    lead = ([(derived.coefficient(0, "phi", "f"), scheme.lr1), (derived.coefficient(0, "theta", "g"), scheme.lr2)]
            if players == 2 else [(derived.coefficient(0, "x", "f"), scheme.lr1)])
    if any(abs(value - rate) > 1e-12 * rate for value, rate in lead):
        return None  # no derivation, or a leading field that is not V
    leading = next((t.order for t in derived.terms if t.order > 0 and t.coefficient != 0.0), None)
    if leading is None or leading <= scheme.method_order:
        return None
    return (f"the rule agrees with the gradient flow through h^{leading - 1}: declare "
            f"@harness.rule(order={leading})")


def consistency(series: Series, status: str, slope: float | None, tolerance: float, outside: bool = False
                ) -> str | None:
    """A reason when the series and the fitted slope tell different stories (one of them is being fooled;
    ``outside``: the steps were outside the asymptotic range, which fools the fit), or, for a status without
    a clean fit, what the series predicts; None when they agree."""
    if not series.available or status in (Status.EXACT, Status.DIVERGED):
        return None
    predicted = series.predicted_slope
    if status not in (Status.PASS, Status.FAIL) or slope is None:
        return f"the error series predicts slope {'at least ' if series.at_least else ''}{predicted:g}"
    if series.at_least and slope >= predicted - tolerance:
        return None
    if not series.at_least and abs(slope - predicted) <= tolerance:
        return None
    text = (f"the error series and the fit disagree: the series predicts slope "
            f"{'at least ' if series.at_least else ''}{predicted:g}, the fit measured {slope:.3f}; ")
    if outside:
        return text + "the fit is fooled by steps outside the asymptotic range"
    return text + ("one of them is being fooled (the fit by a round-off floor or a pre-asymptotic range, the series "
                   "by a field that is not smooth)")
