"""The modified field of a one-step rule as a formula: its coefficients in the tree basis (harness.verdict.trees),
exactly.

For a rule z' = step(z, h) built from evaluations of f and g, the modified field is (docs/theory.md §9)

    f_h = sum_j h^j sum_{trees t with j + 1 nodes} c(t) F(t),

each player's equation over the trees rooted at its own field. The coefficients do not depend on the game, so
they are identified on a generic one: a random polynomial game (degree P + 1, PROBE_SIZES), where the
elementary differentials F(t) are linearly independent, by least squares of the rule's Taylor coefficients in h
(harness.base.bea, exact Taylor-mode autodiff) on the F(t) over PROBE_POINTS random points. They are then confirmed on
a second, independent random game: the residual of the prediction there is the derivation's own check. A rule
that is not a P-series in f and g (it evaluates a transposed Jacobian, a loss, random numbers) leaves a residual
far above round-off at the first order where it departs, and no coefficients are reported from that order on.

Exact forms: each coefficient is identified at the given rates and on a grid of rates; a polynomial in alpha and
lambda of degree at most j + 1 fitted through the grid, with rational coefficients (denominators up to
MAX_DENOMINATOR), is kept when it reproduces every value to EXACT_TOLERANCE; its value at the given rates (read
as the decimals they are written with) is the exact coefficient.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.bea import modified_coefficients
from harness.base.compiler import jit
from harness.base.errors import FlowError, HarnessError, RuleError, UsageError
from harness.base.files import atomic_write
from harness.measure import kernel_cache
from harness.model.game import Game
from harness.model.identity import add_program, refresh
from harness.rules.base import Traced
from harness.rules.schemes import MAX_SUBSTEPS, Scheme, scheme_of, update_map
from harness.verdict.trees import Tree, basis, differentials

DERIVED_MARK = "harness derive"
"""In every output of ``harness derive`` (its --out overwrites only files that carry it)."""
MAX_ORDERS = {2: 3, 1: 4}
"""The highest order derived, per number of players (h^3 for two players, h^4 for one objective)."""
PROBE_POINTS = 40
PROBE_SIZES = {2: (2, 2), 1: (3, 0)}
"""Dimensions (phi, theta) of the random polynomial games: two per player (one coordinate would make
f_phi(f_phi(f)) and f_phi_phi(f, f) proportional)."""
VERIFIED = 1e-9
"""Relative residual (identification, and prediction on the second game) below which a derivation is verified."""
EXACT_TOLERANCE = 1e-10
MAX_DENOMINATOR = 10_000
RATE_GRID = {2: (0.5, 0.75, 1.0, 1.25, 1.5), 1: (0.5, 0.625, 0.75, 0.875, 1.0, 1.125, 1.25, 1.375, 1.5)}
"""alpha and lambda values (exact in binary) through which each coefficient's polynomial is fitted: at least
one more per rate than the highest degree (j + 1)."""


@dataclass
class Term:
    """One tree's (or user term's) coefficient at h^order in a player's equation."""

    order: int
    player: str
    tree: str
    coefficient: float  # at the given settings, in the f, g basis (rates included)
    exact: str | None = None  # that value as a rational number
    expression: str | None = None  # a polynomial in alpha and lambda, e.g. "-alpha*lambda/2"
    text: str = ""  # the tree in the paper's notation
    latex_tree: str = ""

    def to_dict(self) -> dict:
        return {"order": self.order, "player": self.player, "tree": self.tree, "coefficient": self.coefficient,
                "exact": self.exact, "expression": self.expression}


@dataclass
class Derivation:
    """A rule's modified field through h^order in the tree basis, with its own check."""

    rule: str
    settings: dict
    order: int
    players: int
    terms: list[Term] = field(default_factory=list)
    residuals: list[float] = field(default_factory=list)  # per order: max of identification and prediction
    failure: str = ""  # why the orders from ``len(residuals) - 1`` on are not a combination of the trees
    extra_terms: tuple[str, ...] = ()

    @property
    def residual(self) -> float:
        return max(self.residuals, default=0.0)

    @property
    def verified(self) -> bool:
        return not self.failure and self.residual <= VERIFIED

    @property
    def verified_through(self) -> int:
        """The highest order whose coefficients are verified (-1: none)."""
        return self.order if self.verified else len(self.residuals) - 2

    def coefficient(self, order: int, player: str, tree: str) -> float:
        """The coefficient of ``tree`` at h^order in ``player``'s equation (0 for a tree the rule lacks)."""
        return next((t.coefficient for t in self.terms if (t.order, t.player, t.tree) == (order, player, tree)),
                    0.0)

    @classmethod
    def from_dict(cls, data: dict, rule: str, extra_terms: tuple[str, ...] = ()) -> Derivation:
        """A derivation read back from ``to_dict``, under the ``rule`` label of the run that reads it."""
        derivation = cls(rule, data["settings"], data["order"], len(data["players"]),
                         residuals=list(data["residuals"]), failure=data["failure"] or "", extra_terms=extra_terms)
        single = derivation.players == 1
        for t in data["terms"]:
            tree = None if t["tree"].startswith("user:") else _parse(t["tree"])
            name = t["tree"].removeprefix("user:")
            derivation.terms.append(Term(t["order"], t["player"], t["tree"], t["coefficient"], t["exact"],
                                         t["expression"], tree.unicode(single) if tree else name,
                                         tree.latex(single) if tree else r"\mathrm{" + name + "}"))
        return derivation

    def to_dict(self) -> dict:
        """The JSON contract of ``harness derive --format json``."""
        return {"tool": DERIVED_MARK, "rule": self.rule, "settings": self.settings, "order": self.order,
                "players": ["phi", "theta"] if self.players == 2 else ["x"],
                "terms": [t.to_dict() for t in self.terms], "residual": self.residual,
                "residuals": self.residuals, "verified": self.verified,
                "verified_through": self.verified_through, "failure": self.failure or None,
                "extra_terms": list(self.extra_terms)}

    def json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    # --- text and LaTeX ---------------------------------------------------------------------------------

    def _equations(self) -> list[tuple[str, list[list[Term]]]]:
        names = ("phi", "theta") if self.players == 2 else ("x",)
        return [(p, [[t for t in self.terms if t.player == p and t.order == j and _present(t)]
                     for j in range(self.order + 1)]) for p in names]

    def text(self) -> str:
        """Per player, per order, in the paper's notation (f_φθ(f, g); f′f for one objective)."""
        what = "two players: f, g the raw fields" if self.players == 2 else "one objective: f the raw field"
        lines = [f"modified field of {self.rule} through h^{self.order}, by {DERIVED_MARK} ({what}; α = lr1, "
                 "λ = lr2)"]
        dot = {"phi": "φ̇", "theta": "θ̇", "x": "ẋ"}
        for player, orders in self._equations() if self.verified_through >= 0 else ():
            lines.append(f"{dot[player]} =")
            for j, terms in enumerate(orders):
                if j > self.verified_through:
                    break
                power = "" if j == 0 else "h " if j == 1 else f"h^{j} "
                body = " ".join(_signed(_coefficient_text(t), t.text, first=i == 0) for i, t in enumerate(terms))
                lines.append(f"  {'+ ' if j else '  '}{power}({body or '0'})")
        lines.append(self.verdict())
        return "\n".join(lines)

    def verdict(self) -> str:
        """One line: verified (with the residual), or where the rule stops being a P-series."""
        if self.verified:
            return (f"verified: residual {self.residual:.1e} (identified on a random polynomial game, confirmed on a "
                    "second one)")
        j = len(self.residuals) - 1
        return (f"not a P-series from h^{j} on: {self.failure} (residual {self.residuals[-1]:.2g}); orders above "
                f"h^{j - 1} are not shown" if j > 0 else
                f"not a P-series: {self.failure} (residual {self.residuals[-1]:.2g})")

    def latex(self) -> str:
        """An ``aligned`` environment, one equation per player."""
        import sympy

        dot = {"phi": r"\dot\phi", "theta": r"\dot\theta", "x": r"\dot x"}
        rows = []
        for player, orders in self._equations():
            parts = []
            for j, terms in enumerate(orders):
                if j > self.verified_through or not terms:
                    continue
                body = " ".join(
                    ("" if i == 0 and not _negative(t) else "+ " if not _negative(t) else "- ")
                    + _latex_coefficient(sympy, t, strip_sign=_negative(t)) + " " + t.latex_tree
                    for i, t in enumerate(terms))
                power = "" if j == 0 else "h" if j == 1 else f"h^{{{j}}}"
                parts.append(f"{power}\\left({body}\\right)" if j else body)
            rows.append(f"{dot[player]} &= " + " + ".join(parts or ["0"]))
        head = f"% {self.rule} through h^{self.order}, by {DERIVED_MARK}\n"
        return head + "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    # --- the derived flow as a user flow ------------------------------------------------------------------

    def python(self, name: str = "derived_flow") -> str:
        """A user-flow file (per-player notation, ``@harness.flow(order=P)``) computing the derived field with
        JVPs; coefficients as polynomials in lr1 and lr2 where found, else as numbers at the given rates."""
        if not self.verified:
            raise FlowError(f"{self.rule}: {self.verdict()}; there is no flow of order {self.order} to write")
        if self.extra_terms:
            raise FlowError(f"the derived field of {self.rule} uses your own terms ({', '.join(self.extra_terms)}), "
                            "which harness derive cannot write as code: write the flow by hand from --format text")
        fixed = [t for t in self.terms if t.expression is None]
        lines = [f'"""The modified field of {self.rule} through h^{self.order}, derived by `{DERIVED_MARK}`.',
                 "",
                 f"Verified: residual {self.residual:.1e} on a second random polynomial game. Local error against "
                 f"the rule: O(h^{self.order + 2}).",
                 *(["Coefficients without a polynomial in lr1, lr2 are numbers at the derivation's rates "
                    f"({', '.join(f'{k}={v}' for k, v in self.settings.items() if k in ('lr1', 'lr2'))}): "
                    "check it at those rates."] if fixed else []),
                 '"""', "", "import jax", "import jax.numpy as jnp", "", "import harness", "", "",
                 "def _derivative(field, phi, theta, directions):",
                 '    """D^k field(phi, theta)[v_1, ..., v_k], each v_i along "phi" or "theta", by nested JVPs."""',
                 "    if not directions:", "        return field(phi, theta)",
                 "    *rest, (variable, vector) = directions",
                 "    if variable == \"phi\":",
                 "        return jax.jvp(lambda p: _derivative(field, p, theta, rest), (phi,), (vector,))[1]",
                 "    return jax.jvp(lambda t: _derivative(field, phi, t, rest), (theta,), (vector,))[1]", "", "",
                 f"@harness.flow(order={self.order})",
                 f"def {name}(f, g, phi, theta, h, lr1, lr2):",
                 "    alpha, lam = lr1, lr2  # noqa: F841", "    fields = {\"f\": f, \"g\": g}"]
        names: dict[str, str] = {}
        trees = {t.tree: _parse(t.tree) for t in self.terms}

        def value_of(tree: Tree) -> str:
            if tree.name not in names:
                children = [value_of(c) for c in tree.children]
                variable = {"f": "phi", "g": "theta"}
                directions = ", ".join(f'("{variable[c.root]}", {v})' for c, v in zip(tree.children, children,
                                                                                       strict=True))
                names[tree.name] = f"t{len(names)}"
                lines.append(f"    {names[tree.name]} = _derivative(fields[\"{tree.root}\"], phi, theta, "
                             f"[{directions}])  # {tree.name}")
            return names[tree.name]

        for tree in trees.values():
            value_of(tree)
        for player, orders in self._equations():
            sums = []
            for j, terms in enumerate(orders):
                if not terms:
                    continue
                body = " + ".join(f"({_python_coefficient(t)}) * {names[t.tree]}" for t in terms)
                sums.append(body if j == 0 else f"h * ({body})" if j == 1 else f"h ** {j} * ({body})")
            target = {"phi": "dphi", "x": "dphi", "theta": "dtheta"}[player]
            lines.append(f"    {target} = " + (" + ".join(sums) if sums else "jnp.zeros_like(phi)"))
        if self.players == 1:
            lines.append("    dtheta = jnp.zeros_like(theta)")
        lines += ["    return dphi, dtheta", ""]
        return "\n".join(lines)

    def to_flow(self, name: str = "derived_flow") -> Callable:
        """The derived flow as a user flow function (the code ``python()`` writes), for ``harness.check``."""
        namespace: dict[str, Any] = {}
        exec(compile(self.python(name), f"<derived flow of {self.rule}>", "exec"), namespace)  # noqa: S102
        return namespace[name]


def _present(term: Term) -> bool:
    """Whether a term belongs in the formula: nonzero at the given rates, or a polynomial in them that is not 0."""
    return term.coefficient != 0.0 or term.expression not in (None, "0")


def _negative(term: Term) -> bool:
    return term.coefficient < 0


def _signed(coefficient: str, tree: str, first: bool) -> str:
    negative = coefficient.startswith("-")
    magnitude = coefficient[1:] if negative else coefficient
    sign = ("−" if negative else "") if first else ("− " if negative else "+ ")
    return f"{sign}{magnitude + ' ' if magnitude != '1' else ''}{tree}"


def _coefficient_text(term: Term) -> str:
    """The expression in Unicode (α, λ, superscripts), or the exact value, or the number."""
    if term.expression is not None:
        text = term.expression
        if text.startswith("-(") and text.endswith(")") or ("+" in text.lstrip("-") or "-" in text.lstrip("-")):
            text = f"({text})"
        for power, superscript in (("**2", "²"), ("**3", "³"), ("**4", "⁴"), ("**5", "⁵")):
            text = text.replace(power, superscript)
        return text.replace("alpha", "α").replace("lambda", "λ").replace("*", "")
    return term.exact if term.exact is not None else f"{term.coefficient:.10g}"


def _latex_coefficient(sympy: Any, term: Term, strip_sign: bool) -> str:
    if term.expression is not None:
        expression = sympy.sympify(term.expression.replace("lambda", "lam"),
                                   locals={"alpha": sympy.Symbol("alpha"), "lam": sympy.Symbol("lambda")})
        if strip_sign:
            expression = -expression
        text = sympy.latex(expression)
        return f"\\left({text}\\right)" if isinstance(expression, sympy.Add) else text
    value = abs(term.coefficient) if strip_sign else term.coefficient
    return f"{value:.10g}"


def _python_coefficient(term: Term) -> str:
    if term.expression is not None:
        return term.expression.replace("lambda", "lam")
    return repr(term.coefficient)


@functools.cache
def _parse(name: str) -> Tree:
    """A tree from its name (the grammar of harness.verdict.trees)."""
    root, rest = name[0], name[1:]
    if not rest:
        return Tree.of(root)
    arguments = rest[rest.index("("):]
    children, depth, start = [], 0, 1
    for i, character in enumerate(arguments):
        depth += character == "("
        depth -= character == ")"
        if (character == "," and depth == 1) or (character == ")" and depth == 0):
            children.append(_parse(arguments[start:i].strip()))
            start = i + 1
    return Tree.of(root, tuple(children))


# --- identification -----------------------------------------------------------------------------------------


def _monomials(size: int, degree: int) -> list[tuple[int, ...]]:
    return [e for d in range(degree + 1) for e in itertools.product(range(d + 1), repeat=size) if sum(e) == d]


def _polynomial(coefficients: jax.Array, exponents: list[tuple[int, ...]]) -> Callable:
    """z -> coefficients @ [prod_i z_i^e_i for each exponent tuple e]: the powers z_i^0 ... z_i^d once
    (integer powers), then one gather per variable."""
    table = np.array(exponents)
    degree = int(table.max(initial=0))

    def evaluate(z):
        powers = jnp.stack([jnp.ones_like(z)] + [z ** d for d in range(1, degree + 1)], axis=1)  # [n, d + 1]
        monomials = functools.reduce(lambda acc, i: acc * powers[i, table[:, i]], range(1, z.size),
                                     powers[0, table[:, 0]])
        return coefficients @ monomials

    return evaluate


def _probe_game(fcoefficients, gcoefficients, players: int, degree: int) -> Game:
    """A random polynomial game whose coefficients may be traced (one compiled kernel serves every probe)."""
    a, b = PROBE_SIZES[players]
    exponents = _monomials(a + b, degree)
    f_of, g_of = _polynomial(fcoefficients, exponents), _polynomial(gcoefficients, exponents)
    g = (lambda phi, theta: g_of(jnp.concatenate([phi, theta]))) if players == 2 else (
        lambda phi, theta: jnp.zeros(0, phi.dtype))
    return Game.from_fields("probe", lambda phi, theta: f_of(jnp.concatenate([phi, theta])), g, np.zeros(a),
                            np.zeros(b), compiled=False)


def _probe_coefficients(players: int, degree: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random coefficients of f and g (standard normal, divided by the degree's factorial) and points."""
    a, b = PROBE_SIZES[players]
    exponents = _monomials(a + b, degree)
    scale = np.array([1.0 / math.factorial(sum(e)) for e in exponents])
    rng = np.random.default_rng(seed)
    fc = rng.standard_normal((a, len(exponents))) * scale
    gc = rng.standard_normal((max(b, 1), len(exponents)))[:b] * scale
    points = 0.6 * rng.standard_normal((PROBE_POINTS, a + b))
    return fc, gc, points


@functools.lru_cache(maxsize=16)
def _kernel(structure: tuple, order: int, players: int, degree: int, extra: tuple) -> Callable:
    """Compiled ``(f coefficients, g coefficients, points [P, n], params: Traced of [R] arrays) -> (rule
    [R, P, order+1, n], columns {tree name: [P, n]})``: the rule's modified-field coefficients at every rate
    setting and the elementary differentials (and the user terms of ``extra``, as ``user:NAME``) at every point,
    on a probe game."""
    wanted = [t for j in range(order + 1) for found in basis(j, players).values() for t in found]

    def run(fc, gc, points, params):
        game = _probe_game(fc, gc, players, degree)
        rule = modified_coefficients(update_map(game, structure), order)
        per_point = jax.vmap(rule, in_axes=(0, None))
        coefficients = jax.vmap(per_point, in_axes=(None, 0))(points, params)
        a, b = game.dims
        evaluate = differentials(game.field1, game.field2, (a, b), wanted)
        values = jax.vmap(evaluate)(points)
        columns = {t.name: _joint(values[t.name], t.root, a, b) for t in wanted}
        for name, term in extra:
            columns[f"user:{name}"] = jax.vmap(lambda z, term=term: term(game, z))(points)
        return coefficients, columns

    return jit(run)


def _joint(value: jax.Array, root: str, a: int, b: int) -> jax.Array:
    """A player's part [P, a] or [P, b] as joint vectors [P, a + b] (zeros in the other player's part)."""
    count = value.shape[0]
    if root == "f":
        return jnp.concatenate([value, jnp.zeros((count, b), value.dtype)], axis=1)
    return jnp.concatenate([jnp.zeros((count, a), value.dtype), value], axis=1)


def _rule_scheme(rule: Scheme | str | Callable, settings: dict) -> Scheme:
    scheme = scheme_of(rule, settings)
    if scheme.two_step:
        raise RuleError(f"{scheme.name} is a two-step method with no one-step modified field: its flows are "
                        "second-order ODEs, checked by `harness check --scheme "
                        f"{scheme.name} --flow your_ode.py:NAME` (the two-step residual)")
    if scheme.m + scheme.k > MAX_SUBSTEPS:
        raise UsageError(f"too much work: m + k = {scheme.m + scheme.k:,} substeps per step, over the budget of "
                         f"{MAX_SUBSTEPS} (each is expanded in Taylor mode at every probe point and rate); lower --m "
                         "or --k")
    if scheme.name == "random_reshuffling":
        raise RuleError("random_reshuffling averages steps along the components C_k of a finite sum: its modified "
                        "field is a series in their fields, not in f = -grad of their mean, so the tree basis of f "
                        "and g cannot hold it (check it against its flow with harness check)")
    if scheme.user_params:
        accepted = scheme.user_rule.parameters if scheme.name == "user" else ()
        unknown = [name for name, _ in scheme.user_params if name not in accepted]
        if unknown:
            raise UsageError(f"--param {', '.join(unknown)}: the rule does not name it as a keyword parameter (its "
                             f"parameters: {', '.join(accepted) or 'none'})")
    if scheme.lifted:
        raise RuleError(f"{scheme.label} carries memory (a previous iterate or buffers): it has no one-step modified "
                        "field in f and g; derive the one-step rule, or check its flow on the slow manifold with "
                        "`harness check` (gradient, modified, or your own flow)")
    return scheme


def derive(rule: Scheme | str | Callable = "simultaneous", order: int = 2, *, players: int | None = None,
           terms: Sequence[Callable | str] = (), refresh_code: bool = True, **settings: Any) -> Derivation:
    """The modified field of a one-step ``rule`` (a name, ``file.py:NAME``, a function or a Scheme, with its
    settings: lr1, lr2, m, k, first, ...) through h^``order``, in the tree basis of ``players`` (2, or 1 for
    one objective; default 1 for ``gd``, else 2), identified and verified on random polynomial games.
    ``terms`` (functions in a user-flow notation returning a field, or ``file.py:NAME``) join the basis."""
    with jax.enable_x64(True):
        return _derive(rule, order, players, terms, settings, refresh_code)


def _derive(rule, order, players, terms, settings, refresh_code: bool) -> Derivation:
    scheme = _rule_scheme(rule, settings)
    if players is None:
        players = 1 if scheme.name == "gd" else 2
    if players not in MAX_ORDERS:
        raise UsageError(f"players must be 1 (one objective) or 2, got {players!r}")
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= MAX_ORDERS[players]:
        raise UsageError(f"the order (--order) must be an integer from 0 to {MAX_ORDERS[players]} for "
                         f"{'two players' if players == 2 else 'one objective'}, got {order!r}")
    if refresh_code:  # a rule whose code changed is traced afresh (a check's run has refreshed already)
        refresh((), [scheme.user_rule] if scheme.name == "user" else [])
    extra = tuple(user_term(term) for term in terms)
    degree = max(order + 1, 2)
    grid = [(a, b) for a in RATE_GRID[players] for b in (RATE_GRID[players] if players == 2 else (1.0,))]
    rates = [(scheme.lr1, scheme.lr2), *grid]
    params = Traced.stack([dataclasses.replace(scheme, lr1=float(a), lr2=float(b)).param_values for a, b in rates])
    structure = scheme.kernel_structure(_probe_game(np.zeros((1, 1)), np.zeros((1, 1)), players, 1), False)
    stored = _stored_path(structure, order, players, degree, params, extra)
    if stored is not None and stored.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            return Derivation.from_dict(json.loads(stored.read_text()), scheme.label, tuple(n for n, _ in extra))
    kernel = _kernel(structure, order, players, degree, extra)
    samples = []
    for seed in (0, 1):  # the second game is verified at the first rates only, but runs them all: one program
        fc, gc, points = _probe_coefficients(players, degree, seed)
        try:
            values = kernel(jnp.asarray(fc), jnp.asarray(gc), jnp.asarray(points), jax.tree.map(jnp.asarray, params))
        except HarnessError:
            raise
        except KeyError as exc:
            name = getattr(exc.args[0], "name", exc.args[0]) if exc.args else "?"
            raise RuleError(f"{scheme.label}: Taylor-mode autodiff has no rule for the operation {name!r} it uses; "
                            "write the rule in plain jax.numpy") from exc
        except Exception as exc:  # the rule cannot be traced or evaluated: one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise RuleError(f"{scheme.label} cannot be derived: {type(exc).__name__}: {first}") from exc
        coefficients, columns = (np.asarray(values[0]), {k: np.asarray(v) for k, v in values[1].items()})
        if not np.all(np.isfinite(coefficients if seed == 0 else coefficients[:1])):  # the rates each game is read at
            raise RuleError(f"{scheme.label}: its expansion in h is not finite at h = 0 (does it divide by h?)")
        samples.append((coefficients, columns))
    derivation = Derivation(scheme.label, _settings_of(scheme), order, players,
                            extra_terms=tuple(name for name, _ in extra))
    _identify(derivation, samples, rates, extra)
    if stored is not None:
        with contextlib.suppress(OSError):
            atomic_write(stored, json.dumps(derivation.to_dict()))
    return derivation


def _stored_path(structure: tuple, order: int, players: int, degree: int, params: Traced,
                 extra: tuple) -> Path | None:
    """Where a derivation is kept across runs (beside the kernels, under their cap; None when the caches are
    off): keyed by the rule's and the extra terms' traced programs on the first probe game and their names, the
    settings, the order, the harness source and the JAX version, so that a changed rule is derived afresh."""
    folder = kernel_cache.directory()
    if folder is None:
        return None
    fc, gc, points = _probe_coefficients(players, degree, 0)
    game = _probe_game(jnp.asarray(fc), jnp.asarray(gc), players, degree)
    z, h = jnp.asarray(points[0]), jnp.zeros(())
    digest = hashlib.sha256()
    try:
        first = jax.tree.map(lambda p: jnp.asarray(p[0]), params)
        add_program(digest, jax.make_jaxpr(update_map(game, structure))(z, h, first))
        for _, term in extra:
            add_program(digest, jax.make_jaxpr(lambda x, term=term: term(game, x))(z))
    except Exception:  # noqa: BLE001  a rule that cannot be traced says so when it is derived
        return None
    text = "|".join([digest.hexdigest(), np.stack(params).tobytes().hex(), str((order, players, degree, DERIVED_MARK)),
                     ",".join(name for name, _ in extra), kernel_cache.harness_source(), jax.__version__])
    return folder / f"{hashlib.sha256(text.encode()).hexdigest()}.derivation.json"


def _identify(derivation: Derivation, samples: list, rates: list[tuple[float, float]], extra: tuple) -> None:
    """Fill ``derivation.terms`` and ``residuals`` order by order; stop at the first order the basis cannot
    explain (on the first probe game, or, predicted, on the second)."""
    players = derivation.players
    a, _ = PROBE_SIZES[players]
    parts = {"phi": slice(0, a), "theta": slice(a, None), "x": slice(0, a)}
    (rule1, columns1), (rule2, columns2) = samples
    rate = max(rates[0]) if players == 2 else rates[0][0]
    for j in range(derivation.order + 1):
        found, worst = [], 0.0
        for player, trees in basis(j, players).items():
            names = [t.name for t in trees] + [f"user:{name}" for name, _ in extra]
            part = parts[player]
            design1 = np.stack([columns1[n][:, part].ravel() for n in names], axis=1)
            design2 = np.stack([columns2[n][:, part].ravel() for n in names], axis=1)
            usable = _independent(design1)
            values = np.zeros((len(rates), len(names)))
            for r in range(len(rates)):
                target = rule1[r, :, j, part].ravel()
                solution = np.linalg.lstsq(design1[:, usable], target, rcond=None)[0]
                values[r, usable] = solution
                if r == 0:
                    worst = max(worst, _relative(target - design1[:, usable] @ solution, target, design1, rate, j))
            target2 = rule2[0, :, j, part].ravel()
            worst = max(worst, _relative(target2 - design2 @ values[0], target2, design2, rate, j))
            for index, name in enumerate(names):
                found.append((player, name, values[:, index]))
        derivation.residuals.append(worst)
        if worst > VERIFIED:
            derivation.terms = [t for t in derivation.terms if _present(t)]
            derivation.failure = ("the rule's modified field is not a combination of elementary differentials of f "
                                  "and g" + (" and the given terms" if extra else "")
                                  + f" at h^{j} (it evaluates something else: a transposed Jacobian, a loss, "
                                  "random numbers, a non-smooth function?)")
            return
        for player, name, per_rate in found:
            derivation.terms.append(_term(j, player, name, per_rate, rates, players))
    derivation.terms = [t for t in derivation.terms if _present(t)]


def _independent(design: np.ndarray) -> np.ndarray:
    """Columns kept for the fit: each one not in the span of the earlier kept ones (user terms that are
    combinations of trees are dropped, with coefficient 0)."""
    usable = np.zeros(design.shape[1], dtype=bool)
    norms = np.linalg.norm(design, axis=0)
    for k in range(design.shape[1]):
        if norms[k] == 0:
            continue
        kept = design[:, usable] / norms[usable] if usable.any() else np.zeros((design.shape[0], 0))
        column = design[:, k] / norms[k]
        residual = column - kept @ np.linalg.lstsq(kept, column, rcond=None)[0] if usable.any() else column
        usable[k] = np.linalg.norm(residual) > 1e-6
    return usable


def _relative(residual: np.ndarray, target: np.ndarray, design: np.ndarray, rate: float, order: int) -> float:
    """|residual| relative to the target, or, where the target is smaller, to the natural size of an order-j
    coefficient: a tree's typical size times the largest rate to the power j + 1 (the rule may have no h^j term)."""
    natural = float(np.linalg.norm(design)) / math.sqrt(design.shape[1]) * rate ** (order + 1)
    return float(np.linalg.norm(residual)) / max(float(np.linalg.norm(target)), natural, 1e-300)


def _term(order: int, player: str, name: str, per_rate: np.ndarray, rates: list, players: int) -> Term:
    """A coefficient with its exact forms: the polynomial in alpha, lambda through the rate grid, and its
    value at the given rates as a rational number."""
    value = float(per_rate[0])
    if abs(value) < 1e-13 * max(1.0, float(np.max(np.abs(per_rate)))):
        value = 0.0
    polynomial = _rate_polynomial(per_rate, rates, order + 1, players)
    expression = exact = None
    if polynomial is not None:
        expression = _expression(polynomial)
        given = [Fraction(repr(r)) for r in rates[0]]
        exact_value = sum((c * given[0] ** p * given[1] ** q for (p, q), c in polynomial.items()), Fraction(0))
        if abs(float(exact_value) - value) <= 1e-12 * max(1.0, abs(value)):
            exact = str(exact_value)
            value = float(exact_value)
    if exact is None:
        guess = Fraction(value).limit_denominator(MAX_DENOMINATOR)
        if abs(float(guess) - value) <= 1e-12 * max(1.0, abs(value)):
            exact = str(guess)
    tree = _parse(name) if not name.startswith("user:") else None
    text = tree.unicode(players == 1) if tree else name.removeprefix("user:")
    latex_tree = tree.latex(players == 1) if tree else r"\mathrm{" + name.removeprefix("user:") + "}"
    return Term(order, player, name, value, exact, expression, text, latex_tree)


def _rate_polynomial(values: np.ndarray, rates: list, degree: int, players: int) -> dict | None:
    """{(p, q): Fraction} with values = sum c alpha^p lambda^q on every rate pair (total degree <= ``degree``;
    lambda absent for one objective), or None when no such polynomial with small denominators fits."""
    exponents = [(p, q) for p in range(degree + 1) for q in range(degree + 1 - p) if players == 2 or q == 0]
    design = np.array([[a ** p * b ** q for p, q in exponents] for a, b in rates])
    solution = np.linalg.lstsq(design[1:], values[1:], rcond=None)[0]
    polynomial = {e: Fraction(float(c)).limit_denominator(MAX_DENOMINATOR) for e, c in zip(exponents, solution,
                                                                                            strict=True)}
    polynomial = {e: c for e, c in polynomial.items() if c != 0}
    scale = max(float(np.max(np.abs(values))), 1e-300)
    predicted = np.array([sum(float(c) * a ** p * b ** q for (p, q), c in polynomial.items()) for a, b in rates])
    return polynomial if np.max(np.abs(predicted - values)) <= EXACT_TOLERANCE * max(scale, 1.0) else None


def _expression(polynomial: dict) -> str:
    """The polynomial as sympy writes it (``-alpha*lambda/2``, ``0``)."""
    import sympy

    alpha, lam = sympy.symbols("alpha lambda")
    total = sum((sympy.Rational(c.numerator, c.denominator) * alpha ** p * lam ** q
                 for (p, q), c in polynomial.items()), sympy.Integer(0))
    return str(sympy.expand(total))


def user_term(term: Callable | str) -> tuple[str, Callable]:
    """A user's term as (name, ``(game, z) -> field``), from a function in a user-flow notation (no order
    needed) or ``file.py:NAME``; evaluated with unit rates and h = 0."""
    from harness.model.user import from_callable, joint_function

    source = None
    if isinstance(term, str):
        from harness.model.catalog import load_file

        path, _, name = term.rpartition(":")
        if not path.endswith(".py") or not name:
            raise FlowError(f"a term is given as path/to/file.py:NAME, got {term!r}")
        found = getattr(load_file(path, what="term file"), name, None)
        if not callable(found):
            raise FlowError(f"{path!r} defines no function {name!r} (a term: flow(V, z, h) -> field)")
        function, source = found, f"{path}:{name}"
    else:
        function = term
    if getattr(function, "order", None) is None:
        function = _with_order(function)
    user = from_callable(function, "flow", source)
    if user.second_order:
        raise FlowError(f"{user.describe} is a second-order ODE; a term is a field: flow(V, z, h) or "
                        "flow(f, g, phi, theta, h, lr1, lr2)")

    def evaluate(game: Game, z: jax.Array, user=user) -> jax.Array:  # at unit rates: V = (f, g)
        unit = Traced.zeros(z.dtype)._replace(alpha=jnp.ones((), z.dtype), lam=jnp.ones((), z.dtype))
        return joint_function(user, game, ())(z, jnp.zeros((), z.dtype), unit)

    return user.name, evaluate


def _with_order(function: Callable) -> Callable:
    wrapper = functools.wraps(function)(lambda *args, **kwargs: function(*args, **kwargs))
    wrapper.order = 0  # type: ignore[attr-defined]
    return wrapper


def _settings_of(scheme: Scheme) -> dict:
    data = scheme.to_dict()
    data.pop("name", None)
    return {k: v for k, v in data.items() if v is not None}

