"""User functions: a modified flow or an update rule written by the user, in one of two notations.

Per player, in the paper's notation (f and g are the game's raw fields f(phi, theta) and g(phi, theta),
lr1 = alpha, lr2 = lambda; for a single-objective game theta is empty and g returns an empty array):

    flow(f, g, phi, theta, h, lr1, lr2) -> (dphi, dtheta)          the flow's field at (phi, theta)
    rule(f, g, phi, theta, h, lr1, lr2) -> (phi_next, theta_next)  one update step of size h

Jointly, on z = concatenate([phi, theta]) (phi = z[:n_phi], theta = z[n_phi:]) with the rate-scaled field
V(z) = (alpha f, lambda g):

    flow(V, z, h) -> dz          rule(V, z, h) -> z_next

A function that names any of the keyword parameters in EXTRAS receives them: the update rule's parameters
(``m``, ``k``, ``first``, ``beta``, ``cancel``, ``strengthen``, ``convention``) as plain Python values, each
player's optimizer (``optimizer``, ``optimizer2``: harness.rules.optimizers.Optimizer, e.g. ``optimizer.beta``), the
measured step ``step`` (n of a cold start's n-th step, inf on the flow) and the player sizes ``n_phi``,
``n_theta``. ``lr1``, ``lr2`` (inside V: alpha, lambda) and h are traced, so one
compiled kernel serves every learning rate and step size: write the function in jax.numpy, with
``jnp.where`` or ``jax.lax.cond`` instead of a Python ``if`` on them.

A flow declares its order p (local error O(h^(p+2)) against the rule it models, 1 for a first-order
modified flow) with ``@harness.flow(order=1)`` or an attribute ``my_flow.order = 1``. A rule may declare its
order q as an integrator of the gradient flow (default 1) with ``@harness.rule(order=q)``.

A second-order ODE X'' = A(X, X', t) (a high-resolution ODE of a two-step method, harness.measure.two_step) is a
flow in a third notation, its acceleration at time t for the method's step s:

    flow(V, x, v, t, s) -> acceleration

with V the rate-scaled field (V = -alpha grad E for one objective), x = X(t) and v = X'(t). The iterate x_k
stands for X(t_k), t_k = (k + c) tau, with the rule's time step tau: sqrt(s) when its momentum is tied to s, s
when the momentum is fixed (``Rule.time_power``). Its order is the resolution p in tau (1: the high-resolution
ODE, 0: the low-resolution one; two-step residual O(tau^(p+3)), or O(tau^(p+2)) when tau = s).
``@harness.flow(order=1, time_offset=c)`` states c (default 0), and ``initial_velocity=u``, a function
``u(V, x, s) -> v`` (naming keyword parameters like the flow), the velocity X'(t_k) that exact solutions start
with (default V(x)): an ODE with a fast decaying mode is checked on its slow manifold, whose velocity the flow knows.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.compiler import jit
from harness.base.errors import FlowError, HarnessError, RuleError
from harness.model.game import Game
from harness.model.scaled_field import rates

MAX_FLOW_ORDER = 6
"""The highest order a flow may declare (that of the automatic flows, harness.base.bea.MAX_ORDER)."""
MAX_RULE_ORDER = 8
EXTRAS = ("m", "k", "first", "beta", "cancel", "strengthen", "convention", "optimizer", "optimizer2", "mu", "step",
          "n_phi", "n_theta")
NOTATIONS = {
    "flow": ("flow(f, g, phi, theta, h, lr1, lr2) -> (dphi, dtheta)", "flow(V, z, h) -> dz",
             "flow(V, x, v, t, s) -> acceleration (a second-order ODE)"),
    "rule": ("rule(f, g, phi, theta, h, lr1, lr2) -> (phi_next, theta_next)", "rule(V, z, h) -> z_next"),
}
_ARITY = {7: "per-player", 3: "joint", 5: "second-order"}


def _error(kind: str) -> type[HarnessError]:
    """The error class of a user function of ``kind``: RuleError for a rule, FlowError for a flow."""
    return RuleError if kind == "rule" else FlowError


def _declare(kind: str, order: int, name: str | None, time_offset: float | None = None,
             initial_velocity: Callable | None = None) -> Callable:
    _check_order(order, kind, "the declared order")
    if time_offset is not None and not (isinstance(time_offset, (int, float)) and np.isfinite(time_offset)):
        raise FlowError(f"time_offset must be a finite number, got {time_offset!r}")
    if initial_velocity is not None and not callable(initial_velocity):
        raise FlowError(f"initial_velocity must be a function u(V, x, s) -> v, got {initial_velocity!r}")

    def declare(function: Callable) -> Callable:
        if not callable(function):
            raise _error(kind)(f"@harness.{kind}(order=...) decorates a function, got {function!r}")
        try:
            function.order = order  # type: ignore[attr-defined]
            if name is not None:
                function.harness_name = name  # type: ignore[attr-defined]
            if time_offset is not None:
                function.time_offset = float(time_offset)  # type: ignore[attr-defined]
            if initial_velocity is not None:
                function.initial_velocity = initial_velocity  # type: ignore[attr-defined]
        except AttributeError:  # e.g. a jitted function: declare on a plain wrapper
            wrapper = functools.wraps(function)(lambda *args, **kwargs: function(*args, **kwargs))
            return declare(wrapper)
        return function

    return declare


def flow(*, order: int, name: str | None = None, time_offset: float | None = None,
         initial_velocity: Callable | None = None) -> Callable:
    """Declare a user flow's order p (0 ... 6; 1 for a first-order modified flow) and, optionally, the
    name it is reported under (default: the function's name); a second-order ODE may state its
    ``time_offset`` c (the iterate x_k stands for X((k + c) tau); default 0) and its ``initial_velocity``
    u(V, x, s) -> X'(t_k) (default V(x); module docstring).

    >>> import harness
    >>> @harness.flow(order=1)
    ... def my_flow(V, z, h):
    ...     return V(z)
    >>> my_flow.order
    1
    """
    return _declare("flow", order, name, time_offset, initial_velocity)


def rule(*, order: int = 1, name: str | None = None) -> Callable:
    """Declare a user update rule's order q as an integrator of the gradient flow (1 ... 8, default 1:
    local error O(h^(q+1)) against it) and, optionally, the name it is reported under."""
    return _declare("rule", order, name)


def _check_order(order: Any, kind: str, what: str) -> int:
    low, high = (0, MAX_FLOW_ORDER) if kind == "flow" else (1, MAX_RULE_ORDER)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not low <= order <= high:
        raise _error(kind)(f"{what} must be an integer from {low} to {high}, got {order!r}")
    return int(order)


class UserFunction:
    """A user's flow or update rule with what the harness needs to call it: its notation (``per-player``
    or ``joint``), declared order, the EXTRAS it names, its name and ``source`` (``file.py:NAME``).
    Equal when they wrap the same function from the same source. A *recorded* one (read back from a
    results document) has no function: it labels results but cannot be measured."""

    __slots__ = ("function", "kind", "name", "source", "notation", "order", "keywords", "time_offset",
                 "initial_velocity")

    def __init__(self, function: Callable | None, kind: str, name: str, source: str, notation: str | None,
                 order: int, keywords: tuple[str, ...] = (), time_offset: float = 0.0,
                 initial_velocity: Callable | None = None):
        self.function, self.kind, self.name, self.source = function, kind, name, source
        self.notation, self.order, self.keywords, self.time_offset = notation, order, keywords, time_offset
        self.initial_velocity = initial_velocity

    @classmethod
    def recorded(cls, kind: str, name: str, source: str, order: int, notation: str | None = None,
                 time_offset: float = 0.0) -> UserFunction:
        return cls(None, kind, name, source, notation, order, time_offset=time_offset)

    @property
    def second_order(self) -> bool:
        """Whether this is a second-order ODE (notation ``flow(V, x, v, t, s)``)."""
        return self.notation == "second-order"

    def _identity(self) -> tuple:
        return self.function, self.kind, self.name, self.source, self.order, self.time_offset, self.initial_velocity

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UserFunction) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        return f"<user {self.kind} {self.source}>"

    @property
    def file(self) -> str:
        return self.source.rpartition(":")[0]

    @property
    def label(self) -> str:
        """The name with its file, as results and reports show it."""
        return f"{self.name} ({Path(self.file).name})"

    @property
    def describe(self) -> str:
        return f"{self.kind} {self.name!r} ({self.source})"

    def fingerprint(self) -> str:
        """The source and a hash of its file's text and of the user modules the file imports (or of its code):
        what a resumed run must share."""
        from harness.model.catalog import file_stamp

        digest = hashlib.sha256()
        try:
            Path(self.file).read_bytes()
            digest.update("".join(text for _, text in file_stamp(self.file)).encode())  # the texts, not where
        except OSError:
            code = getattr(self.function, "__code__", None)
            digest.update(code.co_code if code is not None else self.source.encode())
        return f"{self.source}#{digest.hexdigest()[:16]}"

    @property
    def parameters(self) -> tuple[str, ...]:
        """The keyword parameters the function names beyond its notation (``--param`` values go to these; one
        named like an EXTRA, such as k, takes the ``--param`` value over the rule's own)."""
        if self.function is None:
            return ()
        try:
            found = inspect.signature(self.function).parameters.values()
        except (TypeError, ValueError):
            return ()
        return tuple(dict.fromkeys([*self.keywords, *(p.name for p in found if p.kind == p.KEYWORD_ONLY or (
            p.kind == p.POSITIONAL_OR_KEYWORD and p.default is not p.empty))]))

    def keywords_from(self, scheme: Any) -> tuple[tuple[str, Any], ...]:
        """The scheme's EXTRAS this function names, then the options its built-in rule declares (e.g. lookahead's
        ``a``) that the function names as keyword parameters, then the ``user_params`` it names, as (name, value)
        pairs (static values; a ``--param`` value is passed over the rule's own)."""
        values = {"m": scheme.m, "k": scheme.k, "first": scheme.first, "beta": scheme.beta,
                  "cancel": scheme.cancel, "strengthen": scheme.strengthen, "convention": scheme.convention,
                  "optimizer": scheme.optimizer, "optimizer2": scheme.optimizer2, "mu": scheme.mu,
                  "step": scheme.measured_step}
        given = getattr(scheme, "user_params", ())
        named = {name for name, _ in given}
        declared = [option.name for option in getattr(getattr(scheme, "rule_object", None), "options", ())
                    if option.name not in values and option.name in self.parameters and option.name not in named]
        return (tuple((name, values[name]) for name in self.keywords if name in values)
                + tuple((name, scheme.value(name)) for name in declared)
                + tuple((name, value) for name, value in given if name in self.parameters))


def _source_of(function: Callable) -> str:
    try:
        file = inspect.getsourcefile(function)
    except TypeError:
        file = None
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", type(function).__name__)
    if file is None:
        return f"<python>:{name}"
    relative = os.path.relpath(file)
    return f"{file if relative.startswith('..') else relative}:{name}"


def _signature(function: Callable, kind: str, where: str) -> tuple[str, tuple[str, ...]]:
    """The notation of ``function`` and the EXTRAS it names; RuleError or FlowError when it matches neither notation."""
    both = f"write it as {' or as '.join(NOTATIONS[kind])}"
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        raise _error(kind)(f"{where}: its signature cannot be read; {both}") from None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    while required and required[-1].name in EXTRAS and required[-1].kind == required[-1].POSITIONAL_OR_KEYWORD:
        required.pop()  # m, k, first... named after the notation's parameters are passed by keyword
    keyword_only = [p for p in parameters if p.kind == p.KEYWORD_ONLY]
    unknown = [p.name for p in keyword_only if p.default is p.empty and p.name not in EXTRAS]
    shown = "(" + ", ".join(p.name for p in parameters) + ")"
    if len(required) not in _ARITY or unknown or (kind == "rule" and len(required) == 5):
        extra = f"; it needs {', '.join(unknown)}, which the harness does not pass" if unknown else ""
        raise _error(kind)(f"{where} has the signature {shown}, which matches no notation{extra}: {both} "
                           f"(keyword parameters it may name: {', '.join(EXTRAS)})")
    names = {p.name for p in parameters[len(required):]}
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        names = set(EXTRAS)
    return _ARITY[len(required)], tuple(name for name in EXTRAS if name in names)


def from_callable(function: Callable | UserFunction, kind: str, source: str | None = None, name: str | None = None
                  ) -> UserFunction:
    """Wrap a user's flow or rule (checking its signature and declared order)."""
    if isinstance(function, UserFunction):
        return function
    if not callable(function):
        raise _error(kind)(f"a user {kind} is a function or path/to/file.py:NAME, got {function!r}")
    captured = _closure_values(function)
    name = getattr(function, "harness_name", None) or (name or getattr(function, "__name__", None) or kind) + captured
    source = source or _source_of(function) + captured
    where = f"{kind} {name!r} ({source})"
    notation, keywords = _signature(function, kind, where)
    declared = getattr(function, "order", None)
    if declared is None and kind == "flow":
        raise FlowError(f"{where} declares no order: decorate it with @harness.flow(order=1) or set "
                        f"{name}.order = 1 (p = 1 for a first-order modified flow, 0 for the gradient flow)")
    order = 1 if declared is None else _check_order(declared, kind, f"the order declared by {where}")
    offset, initial = getattr(function, "time_offset", None), getattr(function, "initial_velocity", None)
    for stated, what in ((offset, "a time_offset"), (initial, "an initial_velocity")):
        if stated is not None and notation != "second-order":
            raise FlowError(f"{where} states {what}, which only a second-order ODE flow(V, x, v, t, s) has")
    if initial is not None:
        _velocity_keywords(initial, where)
    return UserFunction(function, kind, name, source, notation, order, keywords, float(offset or 0.0), initial)


def _closure_values(function: Callable) -> str:
    """``(a=0.5, k=3)``: the plain values (numbers, strings, booleans) a closure captures, so that the functions
    one factory builds are told apart in labels; "" for a function that captures none."""
    code, cells = getattr(function, "__code__", None), getattr(function, "__closure__", None) or ()
    if code is None:
        return ""
    values = []
    for variable, cell in zip(code.co_freevars, cells, strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, (bool, int, float, str, np.integer, np.floating)):
            values.append(f"{variable}={value:g}" if isinstance(value, float) else f"{variable}={value}")
    return f"({', '.join(values)})" if values else ""


def is_file_spec(text: str) -> bool:
    return isinstance(text, str) and (text.endswith(".py") or ".py:" in text)


def resolve(spec: str, base: str | Path | None) -> str:
    """``path/to/file.py:NAME`` with a relative path taken relative to ``base`` (a folder)."""
    if base is None or not is_file_spec(spec):
        return spec
    path, colon, name = spec.rpartition(":") if ".py:" in spec else (spec, "", "")
    if Path(path).is_absolute():
        return spec
    return f"{(Path(base) / path).as_posix()}{colon}{name}"


_LOADED: dict[tuple[str, str, str], tuple[tuple, UserFunction]] = {}
"""(spec, resolved file, kind) -> (harness.model.catalog.file_stamp of the file when loaded, the function)."""


def load(spec: str, kind: str) -> UserFunction:
    """The flow or rule NAME of ``path/to/file.py:NAME``, imported again only when the file or a user module it
    imports was edited since (harness.model.catalog.file_stamp)."""
    from harness.model.catalog import file_stamp

    path, _, name = spec.rpartition(":")
    if not path.endswith(".py") or not name:
        raise _error(kind)(f"a user {kind} is given as path/to/file.py:NAME, got {spec!r}")
    key = (spec, str(Path(path).resolve()), kind)
    loaded = _LOADED.get(key)
    if loaded is not None and loaded[0] == file_stamp(path):
        return loaded[1]
    user = _load(path, name, kind, spec)
    _LOADED[key] = (file_stamp(path), user)
    return user


def _load(path: str, name: str, kind: str, spec: str) -> UserFunction:
    from harness.model.catalog import load_file

    module = load_file(path, what=f"{kind} file")
    function = getattr(module, name, None)
    if function is None:
        found = sorted(k for k, v in vars(module).items() if inspect.isfunction(v) and not k.startswith("_")
                       and v.__module__ == module.__name__)
        raise _error(kind)(f"{path!r} defines no {kind} {name!r} (functions there: {', '.join(found) or 'none'})")
    if not callable(function):
        raise _error(kind)(f"{path}:{name} is a {type(function).__name__}, not a function ({NOTATIONS[kind][0]})")
    return from_callable(function, kind, spec, name)


def as_user(value: Any, kind: str, base: str | Path | None = None) -> UserFunction:
    """A UserFunction from a function, a ``file.py:NAME`` spec (relative to ``base``) or a UserFunction."""
    if isinstance(value, str):
        return load(resolve(value, base), kind)
    return from_callable(value, kind)


# --- calling a user function on a game ------------------------------------------------------------------


def _fail(user: UserFunction, text: str) -> HarnessError:
    return _error(user.kind)(f"{user.describe} {text}")


def _structure(value: tuple | list) -> str:
    """``a tuple of 2 scalars``, ``a list of 2 parts with shapes (1,), (1,)``: what a function returned."""
    shapes = ["(nested)" if isinstance(v, (tuple, list, dict)) else str(jnp.shape(v)) for v in value]
    if shapes and all(shape == "()" for shape in shapes):
        return f"a {type(value).__name__} of {len(value)} scalars"
    return f"a {type(value).__name__} of {len(value)} parts with shapes {', '.join(shapes) or 'none'}"


def _checked_part(user: UserFunction, value: Any, what: str, size: int) -> jax.Array:
    if isinstance(value, (tuple, list)):
        raise _fail(user, f"returned {what} as {_structure(value)}; it must be one array of shape ({size},) (join "
                          "the parts with jnp.stack or jnp.concatenate)")
    shape = jnp.shape(value)
    if shape != (size,):
        raise _fail(user, f"returned {what} with shape {shape}, expected ({size},)")
    dtype = jnp.result_type(value)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise _fail(user, f"returned {what} of dtype {dtype}; it must return real floats")
    if dtype != jnp.float64:
        raise _fail(user, f"returned {what} as {dtype}; the harness computes in float64 only "
                          "(remove the lower-precision cast)")
    return jnp.asarray(value)


def joint_function(user: UserFunction, game: Game, keywords: tuple[tuple[str, Any], ...]) -> Callable:
    """The user's flow or rule as ``(z, h, params) -> vector`` on the joint state (``params.alpha``,
    ``params.lam``: the traced rates, harness.rules.base.Traced): the flow's field, or the state after one step.
    Returned parts are checked for structure, shape and dtype while tracing (RuleError or FlowError naming the
    player)."""
    if user.function is None:
        raise _fail(user, "was read from a results document; load it from its file to measure it")
    if user.second_order:
        raise FlowError(f"{user.describe} is a second-order ODE: check it against a two-step method (such as "
                        "heavy_ball_sc or nag_sc; `harness check --help` lists the rules)")
    a, b = game.dims
    named = _named(user, game, keywords)
    parts = ("dphi", "dtheta") if user.kind == "flow" else ("phi_next", "theta_next")
    function = user.function

    def call(z, h, params):
        alpha, lam = params.alpha, params.lam
        if user.notation == "joint":  # V as a concatenation, so that XLA drops the half of V' u a flow slices off
            out = function(rate_scaled_field(game, alpha, lam), z, h, **named)
            if isinstance(out, (tuple, list)):
                result = "dz" if user.kind == "flow" else "z_next"
                raise _fail(user, f"returned {_structure(out)}; in the joint notation it must return one array "
                                  f"{result} of shape ({a + b},): join the parts with jnp.stack or jnp.concatenate "
                                  f"(a pair ({parts[0]}, {parts[1]}) is the per-player notation "
                                  f"{NOTATIONS[user.kind][0].split(' ->')[0]})")
            return _checked_part(user, out, "a vector", a + b)
        out = function(game.field1, game.field2, z[:a], z[a:], h, alpha, lam, **named)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            got = f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
            raise _fail(user, f"returned {got}; it must return a pair ({parts[0]}, {parts[1]})")
        return jnp.concatenate([_checked_part(user, out[0], f"player 1's {parts[0]}", a),
                                _checked_part(user, out[1], f"player 2's {parts[1]}", b)])

    return call


def rate_scaled_field(game: Game, alpha, lam) -> Callable:
    """V(z) = (alpha f, lambda g) on the joint state (harness.model.scaled_field)."""
    scale = rates(game, alpha, lam)
    return lambda z: scale * game.field(z)


def _named(user: UserFunction, game: Game, keywords: tuple[tuple[str, Any], ...]) -> dict:
    """The keyword arguments the user's function receives: the scheme's EXTRAS and the player sizes it names."""
    sizes = {"n_phi": game.dims[0], "n_theta": game.dims[1]}
    return {**dict(keywords), **{k: sizes[k] for k in user.keywords if k in sizes}}


def second_order_function(user: UserFunction, game: Game, keywords: tuple[tuple[str, Any], ...]) -> Callable:
    """The user's second-order ODE as ``(x, v, t, s, params) -> acceleration`` on the joint state, with V the
    rate-scaled field (``params.alpha``, ``params.lam``); the result is checked while tracing."""
    if user.function is None:
        raise _fail(user, "was read from a results document; load it from its file to measure it")
    named, function = _named(user, game, keywords), user.function

    def call(x, v, t, s, params):
        out = function(rate_scaled_field(game, params.alpha, params.lam), x, v, t, s, **named)
        return _checked_part(user, out, "an acceleration", sum(game.dims))

    return call


def _velocity_keywords(function: Callable, where: str) -> tuple[str, ...]:
    """The keyword parameters an initial velocity u(V, x, s) names; FlowError when its signature is another."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        raise FlowError(f"the initial_velocity of {where}: its signature cannot be read; write it as "
                        "u(V, x, s) -> v") from None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    if len(positional) != 3:
        raise FlowError(f"the initial_velocity of {where} takes ({', '.join(p.name for p in parameters)}); write it "
                        "as u(V, x, s) -> v")
    return tuple(p.name for p in parameters if p.kind == p.KEYWORD_ONLY or (
        p.kind == p.POSITIONAL_OR_KEYWORD and p.default is not p.empty))


def initial_velocity_function(user: UserFunction, game: Game, keywords: tuple[tuple[str, Any], ...]) -> Callable:
    """The velocity X'(t_k) that a second-order ODE's exact solutions start with, as ``(x, s, params) -> v``: the
    flow's ``initial_velocity`` (given the keyword parameters it names among the flow's) or V(x)."""
    initial = user.initial_velocity
    if initial is None:
        return lambda x, s, params: rate_scaled_field(game, params.alpha, params.lam)(x)
    names = _velocity_keywords(initial, user.describe)
    named = {key: value for key, value in _named(user, game, keywords).items() if key in names}

    def call(x, s, params):
        out = initial(rate_scaled_field(game, params.alpha, params.lam), x, s, **named)
        return _checked_part(user, out, "an initial velocity", sum(game.dims))

    return call


_TRACING_FIXES = (
    (jax.errors.TracerBoolConversionError, "it uses a Python `if`, `and`, `or` or bool() on a traced value",
     "use jnp.where(condition, a, b) or jax.lax.cond"),
    (jax.errors.TracerArrayConversionError, "it converts a traced value to a numpy array (np.asarray or a "
     "numpy function)", "use jax.numpy (jnp) instead of numpy"),
    (jax.errors.TracerIntegerConversionError, "it uses a traced value as a Python int (range(), an index)",
     "keep integers static, e.g. a keyword such as m or n_phi"),
    (jax.errors.ConcretizationTypeError, "it needs the concrete value of a traced value (float(), a Python "
     "branch or shape)", "use jnp.where or jax.lax.cond and static shapes"),
)


def evaluate(user: UserFunction, game: Game, keywords: tuple, points: np.ndarray, h: float,
             params: Any) -> np.ndarray:
    """The user's function at every initial point (one step size h), traced as the measurement will trace it
    and compiled as one program (one operation at a time, each operation's first use compiled a program of its own:
    1.8 s in a cold process for a derived second-order flow, 1.7 s against 0.2 s for a rule of 779 operations);
    RuleError or FlowError with one line when it cannot be traced, raises, returns the wrong structure, or gives NaN
    or inf at an initial point."""
    if user.second_order:  # the acceleration at the initial velocity, time 1 and step s = h
        accelerate = second_order_function(user, game, keywords)
        initial = initial_velocity_function(user, game, keywords)

        def call(z, h, params):
            return accelerate(z, initial(z, h, params), 1.0, h, params)
    else:
        call = joint_function(user, game, keywords)
    try:
        arguments = (jnp.asarray(points), jnp.asarray(h, points.dtype), params)
        values = np.asarray(jit(jax.vmap(call, in_axes=(0, None, None)))(*arguments))
    except HarnessError:
        raise
    except tuple(kind for kind, _, _ in _TRACING_FIXES) as exc:
        cause, fix = next((c, f) for kind, c, f in _TRACING_FIXES if isinstance(exc, kind))
        raise _fail(user, f"cannot be traced by JAX: {cause}; {fix}") from exc
    except Exception as exc:  # the user's function failing is bad input, reported in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise _fail(user, f"raised {type(exc).__name__}: {first}") from exc
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "NaN" if np.isnan(values[i]).any() else "inf"
        z0 = ", ".join(f"{x:.4g}" for x in points[i][:6]) + (", …" if points.shape[1] > 6 else "")
        where = "the default state" if i == 0 else "a seeded point near it"
        raise _fail(user, f"returned {kind} at initial point {i + 1} of {len(points)} ({where}, z0 = [{z0}], "
                          f"h = {h:.3g})")
    return values
