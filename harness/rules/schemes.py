"""Update rules with their parameters: a ``Scheme`` is a built-in rule (harness.rules, one module each) or the
user's own rule, the rates alpha = ``lr1`` and lambda = ``lr2`` of z = (phi, theta) (learning rates alpha h and
lambda h; V(z) = (alpha f, lambda g) is the rate-scaled joint field) and the values of the options the rule
declares. The rules, their steps and their closed-form flows are documented in their modules:
harness/rules/<name>.py.

Rules with memory (ogda, heavy_ball and the optimizers: simultaneous, alternating with m = k = 1 and gd with
per-player ``optimizer``, ``optimizer2``, harness.rules.optimizers) act on a lifted state; where that state starts is
the ``regime`` (harness.rules.regimes: ``on-flow`` or ``cold`` at step n). The rates, beta and the regulariser's
coefficients enter the compiled step as traced arguments (``params``, harness.rules.base.Traced), so one compiled
kernel serves every value. In ``structure`` m, k and the order are structure (unrolled plain jnp code); the
measurement kernels and the error series use ``kernel_structure``, where they are traced too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import jax

from harness.base.errors import RuleError
from harness.model.game import Game
from harness.model.user import UserFunction, from_callable, is_file_spec, load
from harness.rules import OPTIONS, RULES, STEPS, rules_taking
from harness.rules.base import ORDER_CODES, Rule, Traced
from harness.rules.optimizers import MOMENTUM, Optimizer
from harness.rules.regimes import REGIMES

SCHEME_NAMES = tuple(RULES)
MAX_SUBSTEPS = 64
"""The most substeps one step may unroll (harness.checks.budget; harness derive refuses more too)."""
FIELD_OPTIONS = ("m", "k", "first", "beta", "cancel", "strengthen", "convention", "mu")
"""The options that are fields of ``Scheme``; the other options a rule declares go in ``Scheme.options``."""


@dataclass(frozen=True)
class Scheme:
    """An update rule with its parameters."""

    name: str = "simultaneous"
    lr1: float = 1.0
    lr2: float = 1.0
    m: int = 1
    k: int = 1
    first: str = "phi"
    beta: float = 0.0
    rule: str | UserFunction | Callable | None = None
    cancel: float = 1.0
    strengthen: float = 0.0
    convention: str = "joint"
    optimizer: str | dict | Optimizer = "gd"
    optimizer2: str | dict | Optimizer | None = None
    regime: str = "on-flow"
    step: int | None = None
    mu: float = 0.0
    user_params: tuple[tuple[str, Any], ...] | dict = ()
    """Plain values (``--param NAME=VALUE``) for the user's rule and flow, passed to those that name them."""
    options: tuple[tuple[str, Any], ...] | dict = ()
    """Values of the options a built-in rule declares beyond the fields above (e.g. lookahead's ``a``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_params", _user_params(self.user_params))
        object.__setattr__(self, "options", _options(self.options))
        if self.name not in RULES:
            raise RuleError(f"unknown scheme {self.name!r}; choose one of {', '.join(SCHEME_NAMES)}")
        for label, rate in (("lr1", self.lr1), ("lr2", self.lr2)):
            if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
                raise RuleError(f"{label} must be a positive finite number, got {rate!r}")
        self._check_options()
        if (self.name == "user") != (self.rule is not None):
            raise RuleError("a user update rule is given as rule='path/to/file.py:NAME' or a function (and only "
                            "for 'user')")
        self._check_memory()
        if self.rule is not None and not isinstance(self.rule, str):
            object.__setattr__(self, "rule", from_callable(self.rule, "rule"))
        elif self.rule is not None and not is_file_spec(self.rule):
            raise RuleError(f"a user update rule is given as path/to/file.py:NAME, got {self.rule!r}")

    def _check_options(self) -> None:
        """Every option away from its default is one the rule takes, with a value its declaration accepts."""
        taken = {option.name: option for option in self.rule_object.options}
        unused = [name for name in OPTIONS if name not in taken and self.value(name) != OPTIONS[name][0].default]
        groups: dict[tuple[str, ...], list[str]] = {}
        for name in unused:
            groups.setdefault(tuple(rules_taking(name)), []).append(name)
        for rules, names in groups.items():
            verb = "applies" if len(names) == 1 else "apply"
            raise RuleError(f"{_listing(names)} {verb} to {_listing(list(rules))} only, not {self.name!r}")
        for name, option in taken.items():
            problem = option.problem(self.value(name), self.name)
            if problem:
                raise RuleError(problem)

    def _check_memory(self) -> None:
        """Normalise and check the optimizers, the regime and the step."""
        first = Optimizer.of(self.optimizer)
        object.__setattr__(self, "optimizer", first)
        object.__setattr__(self, "optimizer2", first if self.optimizer2 is None else Optimizer.of(self.optimizer2))
        if self.optimizers is not None:
            if self.name not in ("simultaneous", "alternating", "gd"):
                raise RuleError(f"optimizers apply to simultaneous, alternating and gd updates, not {self.name!r}")
            if (self.m, self.k) != (1, 1):
                raise RuleError("alternating updates with optimizers take one step per player (m = k = 1)")
        if self.regime not in REGIMES:
            raise RuleError(f"unknown regime {self.regime!r}; choose one of {', '.join(REGIMES)}")
        if self.regime == "cold" and not self.lifted:
            raise RuleError("a regime applies to rules with memory (ogda, heavy_ball, an optimizer other than gd), "
                            f"not {self.label}")
        if self.step is not None:
            if not (isinstance(self.step, int) and not isinstance(self.step, bool) and self.step >= 1):
                raise RuleError(f"step must be a positive integer, got {self.step!r}")
            if self.regime != "cold":
                raise RuleError("step n applies to the cold regime (the n-th step from the frameworks' start)")

    @property
    def rule_object(self) -> Rule:
        """The rule (harness.rules) this scheme parametrises."""
        return RULES[self.name]

    def value(self, option: str) -> Any:
        """The value of ``option``: a field, an entry of ``options``, or its declared default."""
        if option in FIELD_OPTIONS:
            return getattr(self, option)
        return dict(self.options).get(option, OPTIONS[option][0].default)

    @property
    def optimizers(self) -> tuple[Optimizer, Optimizer] | None:
        """The two players' optimizers, or None when both are plain gd."""
        first, second = self.optimizer, self.optimizer2
        assert isinstance(first, Optimizer) and isinstance(second, Optimizer)  # normalised by __post_init__
        return (first, second) if first.stateful or second.stateful else None

    @property
    def measured_step(self) -> float:
        """n of the measured step: inf on the flow, ``step`` (default 1) from a cold start."""
        return math.inf if self.regime == "on-flow" else float(self.step or 1)

    @property
    def start(self) -> tuple | None:
        """(regime, n) of a rule with memory, None for a one-step rule."""
        return (self.regime, self.step or 1) if self.lifted else None

    @property
    def steady_slope(self) -> float | None:
        """The local-error slope a cold start limits checks against the rule's flows on the flow to (1: the
        state's weight is off at O(h); 2: only its lags are; harness.rules.regimes), None when not limited."""
        if self.regime != "cold":
            return None
        if self.rule_object.memory:
            return self.rule_object.steady_slope(self)
        slopes = [1.0 if o.name in MOMENTUM or not o.bias_correction else 2.0
                  for o in self.optimizers or () if o.stateful]
        return min(slopes, default=None)

    @property
    def user_rule(self) -> UserFunction:
        """The user's rule (loaded from its file when given as a spec); RuleError when the scheme sets one of
        m, k, first, beta that the rule does not name (it would be silently ignored)."""
        rule = self.rule if isinstance(self.rule, UserFunction) else load(str(self.rule), "rule")
        defaults = {"m": 1, "k": 1, "first": "phi", "beta": 0.0}
        ignored = [name for name, default in defaults.items()
                   if getattr(self, name) != default and name not in rule.keywords]
        if ignored:
            raise RuleError(f"{rule.describe} does not name {', '.join(ignored)}, so it would ignore the value "
                            "given; add it as a keyword parameter or leave it out")
        return rule

    @property
    def rule_label(self) -> str:
        """``file.py:NAME`` of a user rule."""
        return self.rule.source if isinstance(self.rule, UserFunction) else str(self.rule)

    @property
    def method_order(self) -> int:
        """The order q of the rule as an integrator of the gradient flow (local error O(h^(q+1)))."""
        return self.rule_object.method_order(self)

    @property
    def two_step(self) -> bool:
        """Whether the rule is a two-step method checked against second-order ODEs (harness.measure.two_step)."""
        return self.rule_object.two_step

    @property
    def lifted(self) -> bool:
        """Whether the rule has memory: it steps a lifted state (ogda, heavy_ball, optimizers)."""
        return self.rule_object.memory or self.optimizers is not None

    @property
    def structure(self) -> tuple:
        """What the compiled step depends on (everything but the traced parameters)."""
        return self.rule_object.structure(self)

    @property
    def interaction_rates(self) -> tuple[float, float]:
        """(rho_1, rho_2) of the regularised update (harness.rules.regularised; 0 for every other rule)."""
        rates = getattr(self.rule_object, "interaction_rates", None)
        return rates(self) if rates else (0.0, 0.0)

    def kernel_structure(self, game: Game, automatic: bool) -> tuple:
        """The structure a measurement kernel is compiled for. Simultaneous and alternating GD on a two-player
        game share ``("two-player gd",)`` (substeps and order traced), whose loops and branches Taylor-mode
        autodiff expands as loops and branches (harness.base.bea): the error series and harness.derive use it.
        The kernels of bea flows (``automatic``) build faster unrolled (docs/performance.md), so there
        simultaneous GD shares the alternating step with m = k = 1 and phi first, whose second mover sees the
        first one's old state when ``params.order`` says simultaneous."""
        if self.name not in ("simultaneous", "alternating") or game.kind != "two-player" or self.optimizers:
            return self.structure
        if not automatic:
            return ("two-player gd",)
        return ("alternating", 1, 1, "phi") if self.name == "simultaneous" else self.structure

    @property
    def param_values(self) -> Traced:
        """The traced parameters (harness.rules.base.Traced) as floats (order: ORDER_CODES, simultaneous for every
        rule but alternating)."""
        order = ORDER_CODES[self.first if self.name == "alternating" else "simultaneous"]
        rho_1, rho_2 = self.interaction_rates
        gamma = self.value("gamma") if "gamma" in OPTIONS else 0.0
        return Traced(*(float(x) for x in (self.lr1, self.lr2, self.beta, rho_1, rho_2, self.strengthen, self.mu,
                                           gamma, self.m, self.k, order)))

    @property
    def params(self) -> Traced:
        """``param_values`` as float64 JAX scalars."""
        return self.param_values.arrays()

    @property
    def label(self) -> str:
        if self.name == "user":
            extra = "".join(f", {name}={value:g}" if isinstance(value, float) else f", {name}={value}"
                            for name, value in (("m", self.m), ("k", self.k), ("first", self.first),
                                                ("beta", self.beta))
                            if value != {"m": 1, "k": 1, "first": "phi", "beta": 0.0}[name])
            extra += "".join(f", {name}={_shown(value)}" for name, value in self.user_params)
            return f"user({self.rule_label}, lr1={self.lr1:g}, lr2={self.lr2:g}{extra})"
        text = f"{self.name}(lr1={self.lr1:g}, lr2={self.lr2:g}" + self.rule_object.label(self)
        if self.optimizers is not None:
            first, second = self.optimizers
            text += f", optimizer={first.label}" + (f", optimizer2={second.label}" if second != first else "")
        if self.lifted:
            text += f", {self.regime}" + (f" at step {self.step or 1}" if self.regime == "cold" else "")
        text += "".join(f", {name}={_shown(value)}" for name, value in self.user_params)
        return text + ")"

    def to_dict(self) -> dict:
        """The fields as plain data; the regulariser's fields only for the regularised rule, mu only for the
        rules that take it, ``options`` and ``user_params`` only when given."""
        data = asdict(self)
        data["rule"] = self.rule_label if self.rule is not None else None
        taken = {option.name for option in self.rule_object.options}
        if "cancel" not in taken:
            for key in ("cancel", "strengthen", "convention"):
                del data[key]
        for key in ("optimizer", "optimizer2"):
            data[key] = getattr(self, key).to_dict()
        if self.optimizers is None:
            del data["optimizer"], data["optimizer2"]
        if not self.lifted:
            del data["regime"], data["step"]
        if "mu" not in taken:
            del data["mu"]
        for key in ("user_params", "options"):
            data[key] = dict(getattr(self, key))
            if not data[key]:
                del data[key]
        return data


def scheme_keywords(values: dict[str, Any], base: Scheme | None = None) -> dict[str, Any]:
    """Keyword arguments of ``Scheme`` (or of ``dataclasses.replace`` on ``base``) from parameter values: the
    Scheme's fields as given, the other options rules declare gathered in ``options`` (over ``base``'s)."""
    keywords = {key: value for key, value in values.items() if key not in OPTIONS or key in FIELD_OPTIONS}
    extra = {key: value for key, value in values.items() if key in OPTIONS and key not in FIELD_OPTIONS}
    if extra:
        keywords["options"] = {**dict(base.options if base else ()), **dict(keywords.get("options", ())), **extra}
    return keywords


def scheme_of(scheme: Scheme | str | Callable, overrides: dict[str, Any]) -> Scheme:
    """A Scheme from a Scheme (with ``overrides`` replaced), a built-in rule's name, ``path/to/file.py:NAME`` or a
    function, and parameter values (None values left out)."""
    overrides = {key: value for key, value in overrides.items() if value is not None}
    try:
        if isinstance(scheme, Scheme):
            return dataclasses.replace(scheme, **scheme_keywords(overrides, scheme)) if overrides else scheme
        keywords = scheme_keywords(overrides)
        if isinstance(scheme, str) and is_file_spec(scheme):
            return Scheme("user", rule=scheme, **keywords)
        if isinstance(scheme, str):
            return Scheme(scheme, **keywords)
        if callable(scheme):
            return Scheme("user", rule=scheme, **keywords)
    except TypeError as exc:  # an unknown keyword
        raise RuleError(f"bad update-rule parameter: {exc}") from exc
    raise RuleError(f"an update rule is a harness.rules.schemes.Scheme, its name, path/to/file.py:NAME or a function, "
                    f"got {scheme!r}")


def _listing(names: list[str]) -> str:
    """a, b and c."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _options(given: Any) -> tuple[tuple[str, Any], ...]:
    """``options`` as sorted (name, value) pairs of options declared by a rule (not a Scheme field)."""
    pairs = list(given.items()) if isinstance(given, dict) else list(given)
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise RuleError(f"an option is a (name, value) pair, got {pair!r}")
        if pair[0] not in OPTIONS or pair[0] in FIELD_OPTIONS:
            known = ", ".join(name for name in OPTIONS if name not in FIELD_OPTIONS)
            raise RuleError(f"unknown rule option {pair[0]!r}; the options given this way are {known}")
    return tuple(sorted(pairs))


def _user_params(given: Any) -> tuple[tuple[str, Any], ...]:
    """``user_params`` as sorted (name, value) pairs of identifiers and plain values (numbers, strings, booleans)."""
    pairs = list(given.items()) if isinstance(given, dict) else list(given)
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) and pair[0].isidentifier()):
            raise RuleError(f"a rule parameter is a NAME=VALUE pair with NAME an identifier, got {pair!r}")
        if not isinstance(pair[1], (bool, int, float, str)) or (isinstance(pair[1], float) and
                                                                not math.isfinite(pair[1])):
            raise RuleError(f"parameter {pair[0]}: a value is a finite number, a string or a boolean, got "
                            f"{pair[1]!r}")
    names = [name for name, _ in pairs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise RuleError(f"parameter {', '.join(twice)} given twice; give each once")
    return tuple(sorted(pairs))


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def update_map(game: Game, structure: tuple) -> Callable:
    """The step ``(z, h, params) -> z'`` for a scheme structure (``Scheme.structure`` or ``kernel_structure``),
    ``params = Scheme.params`` (rules with memory: on their lifted state, harness.rules.regimes), built by the rule that
    owns ``structure[0]`` (harness.rules.STEPS)."""
    return STEPS[structure[0]].step(game, structure)


def update_rule(game: Game, scheme: Scheme) -> Callable:
    """The step ``(z, h) -> z'`` of ``scheme`` on ``game`` as a plain JAX function (rules with memory: on
    their lifted state, harness.rules.regimes)."""
    step = update_map(game, scheme.structure)
    params = scheme.params
    return jax.jit(lambda z, h: step(z, h, params))  # JAX's options: it is also called in programs
