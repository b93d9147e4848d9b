"""Optimizers with state, one per player: the rules games are trained with, as one-step maps on the lifted
state (parameters, buffers, step count).

Player i has parameters x, raw field u = F_i (f for phi, g for theta: minus the gradient of its loss), rate r
(alpha or lambda) and step size h. At step n its buffers are updated first, then its parameters (per
coordinate):

    gd                                                  x' = x + r h u
    heavy_ball       b <- beta b + u                    x' = x + r h b             optax.sgd(momentum=beta)
    nesterov         y = x + beta (x - x_prev)          x' = y + r h u(y)          Sutskever's form (state x_prev)
    nesterov_buffer  b <- beta b + u                    x' = x + r h (u + beta b)  optax.sgd(momentum, nesterov=True)
    ema              m <- beta m + (1 - beta) u         x' = x + r h m
    rmsprop          v <- beta2 v + (1 - beta2) u^2     x' = x + r h u / N(v_hat)  optax.rmsprop
    adam             m <- beta1 m + (1 - beta1) u, v as rmsprop, x' = x + r h m_hat / N(v_hat)   optax.adam

with N(v) = sqrt(v + eps) (``eps_inside``: optax's eps_root, eps_in_sqrt) or sqrt(v) + eps, and with
``bias_correction`` m_hat = m / (1 - beta1^n), v_hat = v / (1 - beta2^n) (else m_hat = m, v_hat = v).

Where each player's field is evaluated: a nesterov player looks ahead to y; in simultaneous updates every
field is evaluated at the joint look-ahead point (y for nesterov players, x for the others); in alternating
updates the player moving second sees the first one's new parameters.

The lifted state is the flat vector (z, player 1's memory, player 2's memory, count): a player's memory holds
its buffers, then x_prev for nesterov; count is the number of steps taken (inf on the flow: no bias left).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import jax.numpy as jnp

from harness.model.game import Game, GameError

MOMENTUM = ("heavy_ball", "nesterov", "nesterov_buffer", "ema")
ADAPTIVE = ("rmsprop", "adam")
OPTIMIZERS = ("gd", *MOMENTUM, *ADAPTIVE)
_APPLIES = {"beta": MOMENTUM, "beta1": ("adam",), "beta2": ADAPTIVE, "eps": ADAPTIVE, "eps_inside": ADAPTIVE,
            "bias_correction": ADAPTIVE}


@dataclass(frozen=True)
class Buffer:
    """b <- decay b + gain u^power (per coordinate)."""

    name: str
    decay: float
    gain: float
    power: int


@dataclass(frozen=True)
class Optimizer:
    """One player's optimizer (module docstring). Parameters that do not apply to ``name`` keep their
    defaults."""

    name: str = "gd"
    beta: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    eps_inside: bool = True
    bias_correction: bool = False

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise GameError(f"unknown optimizer {self.name!r}; choose one of {', '.join(OPTIMIZERS)}")
        default = Optimizer.__dataclass_fields__
        for key, names in _APPLIES.items():
            if self.name not in names and getattr(self, key) != default[key].default:
                raise GameError(f"{key} applies to {', '.join(names)}, not {self.name}")
        for key, low in (("beta", 0.0), ("beta1", 0.0), ("beta2", 0.0)):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value < 1):
                raise GameError(f"{key} must be in [0, 1), got {value!r}")
        if self.name in ADAPTIVE and not self.beta2 > 0:
            raise GameError(f"beta2 must be in (0, 1), got {self.beta2!r}")
        if not (isinstance(self.eps, (int, float)) and math.isfinite(self.eps) and self.eps > 0):
            raise GameError(f"eps must be a positive number, got {self.eps!r}")
        for key in ("eps_inside", "bias_correction"):
            if not isinstance(getattr(self, key), bool):
                raise GameError(f"{key} must be true or false, got {getattr(self, key)!r}")

    @classmethod
    def of(cls, value: Optimizer | str | dict | None) -> Optimizer:
        """An optimizer from itself, a dict of its fields, or a spec such as ``adam`` or
        ``adam(beta2=0.99, eps=1e-8, eps_inside=false, bias_correction=true)``."""
        if value is None:
            return cls()
        if isinstance(value, Optimizer):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {f.name for f in fields(cls)}
            if unknown:
                raise GameError(f"unknown optimizer field(s) {', '.join(sorted(unknown))}")
            return cls(**value)
        if not isinstance(value, str):
            raise GameError(f"an optimizer is a name such as adam(beta2=0.99) or a dict, got {value!r}")
        match = re.fullmatch(r"\s*([a-z_]+)\s*(?:\((.*)\))?\s*", value)
        if not match:
            raise GameError(f"cannot read optimizer {value!r}; write e.g. heavy_ball(beta=0.5) or adam")
        options = {}
        for item in filter(None, (part.strip() for part in (match.group(2) or "").split(","))):
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep or key not in _APPLIES:
                raise GameError(f"optimizer {value!r}: {item!r} is not one of "
                                f"{', '.join(f'{k}=...' for k in _APPLIES)}")
            if key in options:
                raise GameError(f"optimizer {value!r}: {key} is given twice; give each parameter once")
            options[key] = _value(key, text.strip(), value)
        return cls(match.group(1), **options)

    @property
    def parameters(self) -> dict:
        """The parameters that apply to this optimizer."""
        return {key: value for key, value in asdict(self).items() if key != "name" and self.name in _APPLIES[key]}

    @property
    def label(self) -> str:
        """``name(key=value, ...)``, as ``of`` reads it."""
        if not self.parameters:
            return self.name
        text = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else f'{v:g}'}"
                         for k, v in self.parameters.items())
        return f"{self.name}({text})"

    def to_dict(self) -> dict:
        return {"name": self.name, **self.parameters}

    @property
    def buffers(self) -> tuple[Buffer, ...]:
        if self.name in ("heavy_ball", "nesterov_buffer"):
            return (Buffer("velocity", self.beta, 1.0, 1),)
        if self.name == "ema":
            return (Buffer("average", self.beta, 1.0 - self.beta, 1),)
        second = Buffer("second moment", self.beta2, 1.0 - self.beta2, 2)
        if self.name == "rmsprop":
            return (second,)
        if self.name == "adam":
            return Buffer("first moment", self.beta1, 1.0 - self.beta1, 1), second
        return ()

    @property
    def look_ahead(self) -> float:
        """beta of Sutskever's nesterov (the field is evaluated at x + beta (x - x_prev)); 0 otherwise."""
        return self.beta if self.name == "nesterov" else 0.0

    @property
    def memory_blocks(self) -> int:
        """Blocks of the player's size in its memory: its buffers, and x_prev for nesterov."""
        return len(self.buffers) + (self.name == "nesterov")

    @property
    def stateful(self) -> bool:
        return self.name != "gd"

    def corrections(self, n) -> tuple:
        """The bias corrections 1 - decay^n of the buffers at step n (1 without bias correction)."""
        return tuple(1.0 - b.decay ** n if self.bias_correction else 1.0 for b in self.buffers)

    def denominator(self, v):
        """N(v) = sqrt(v + eps) or sqrt(v) + eps."""
        return jnp.sqrt(v + self.eps) if self.eps_inside else jnp.sqrt(v) + self.eps

    def direction(self, u, buffers: tuple, corrections: tuple):
        """d with x' = x + r h d (nesterov: x' = y + r h d) from the seen field u and the updated buffers."""
        if self.name in ("gd", "nesterov"):
            return u
        if self.name in ("heavy_ball", "ema"):
            return buffers[0]
        if self.name == "nesterov_buffer":
            return u + self.beta * buffers[0]
        if self.name == "rmsprop":
            return u / self.denominator(buffers[0] / corrections[0])
        return (buffers[0] / corrections[0]) / self.denominator(buffers[1] / corrections[1])

    def advance(self, x, memory, u, rate_h, n):
        """(x', memory') of one step: buffers updated with the seen field u, then the parameters."""
        size = x.shape[0]
        blocks = [memory[i * size:(i + 1) * size] for i in range(self.memory_blocks)]
        buffers = tuple(b.decay * old + b.gain * u ** b.power for b, old in zip(self.buffers, blocks, strict=False))
        d = self.direction(u, buffers, self.corrections(n))
        if self.name == "nesterov":
            return x + self.beta * (x - blocks[0]) + rate_h * d, x
        return x + rate_h * d, jnp.concatenate(buffers) if buffers else memory


def _value(key: str, text: str, spec: str):
    if key in ("eps_inside", "bias_correction"):
        if text.lower() not in ("true", "false"):
            raise GameError(f"optimizer {spec!r}: {key} is true or false, got {text!r}")
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        raise GameError(f"optimizer {spec!r}: {key} must be a number, got {text!r}") from None


# --- the lifted state and its step -------------------------------------------------------------------

def players(game: Game, optimizers: tuple[Optimizer, Optimizer]) -> list[tuple[slice, Optimizer]]:
    """(the player's slice of z, its optimizer): one player for a single-objective problem."""
    a, b = game.dims
    if b == 0:
        return [(slice(0, a), optimizers[0])]
    return [(slice(0, a), optimizers[0]), (slice(a, a + b), optimizers[1])]


def state_size(game: Game, optimizers: tuple[Optimizer, Optimizer]) -> int:
    """Size of the lifted state (z, memories, count)."""
    return game.z0.size + sum(opt.memory_blocks * (s.stop - s.start) for s, opt in players(game, optimizers)) + 1


def unpack(game: Game, optimizers: tuple[Optimizer, Optimizer], state) -> tuple:
    """(z, [memory of each player], count) of a lifted state (one row)."""
    n = game.z0.size
    memories, start = [], n
    for s, opt in players(game, optimizers):
        size = opt.memory_blocks * (s.stop - s.start)
        memories.append(state[start:start + size])
        start += size
    return state[:n], memories, state[start]


def pack(z, memories, count):
    return jnp.concatenate([z, *memories, jnp.reshape(count, (1,))])


def moves_before(order: str, j: int, i: int) -> bool:
    """Whether player j moves before player i in a step (``order``: simultaneous, phi or theta first)."""
    if order == "simultaneous" or i == j:
        return False
    return (order == "phi") == (j == 0)


def _seen(order: str, i: int, new: list, heads: list):
    """The joint state player i's field is evaluated at: the new parameters of those who moved before it,
    the look-ahead parameters of the others (its own included)."""
    return jnp.concatenate([new[j] if moves_before(order, j, i) else heads[j] for j in range(len(heads))])


def field_of(game: Game, count: int) -> Callable:
    """``(i, z) -> u_i``: player i's raw field (its part only) at the joint state z."""
    if count == 1:
        return lambda i, z: game.field(z)
    return lambda i, z: game.field1(*game.split(z)) if i == 0 else game.field2(*game.split(z))


def lifted_step(game: Game, order: str, optimizers: tuple[Optimizer, Optimizer]) -> Callable:
    """The step ``(state, h, params) -> state'`` of per-player optimizers (``params.alpha``, ``params.lam``: the rates);
    ``order``: ``simultaneous``, or ``phi`` / ``theta`` moving first."""
    members = players(game, optimizers)
    field = field_of(game, len(members))
    movers = [1, 0] if order == "theta" else list(range(len(members)))

    def step(state, h, params):
        z, memories, count = unpack(game, optimizers, state)
        n = count + 1
        xs = [z[s] for s, _ in members]
        heads = [x + opt.look_ahead * (x - memory[-x.shape[0]:]) if opt.look_ahead else x
                 for x, memory, (_, opt) in zip(xs, memories, members, strict=True)]
        new, new_memories = list(xs), list(memories)
        shared = game.field(jnp.concatenate(heads)) if order == "simultaneous" else None
        for i in movers:
            s, opt = members[i]
            u = shared[s] if shared is not None else field(i, _seen(order, i, new, heads))
            new[i], new_memories[i] = opt.advance(xs[i], memories[i], u, params.rate(i) * h, n)
        return pack(jnp.concatenate(new), new_memories, n)

    return step


# --- the regimes: where the state starts --------------------------------------------------------------

def cold_state(game: Game, optimizers: tuple[Optimizer, Optimizer], z):
    """The frameworks' start (one row): zero buffers, x_prev = x, no step taken."""
    memories = [jnp.concatenate([jnp.zeros(len(opt.buffers) * (s.stop - s.start)),
                                 z[s] if opt.name == "nesterov" else jnp.zeros(0)])
                for s, opt in players(game, optimizers)]
    return pack(z, memories, 0.0)


def past_terms(optimizers: tuple[Optimizer, Optimizer], tolerance: float) -> int:
    """J: past gradients summed into the buffers on the flow, the fewest with decay^J <= ``tolerance`` for
    every buffer (1 when there is none: x_prev needs one past state)."""
    decays = [b.decay for opt in optimizers for b in opt.buffers if b.decay > 0]
    return max([1] + [math.ceil(math.log(tolerance) / math.log(d)) for d in decays])


def past_contributions(game: Game, order: str, optimizers: tuple[Optimizer, Optimizer], newer, current, older,
                     weights: list) -> list:
    """Each player's contribution of one past step (one row): its buffers' terms gain u^power with u its
    field as seen at the flow's state ``current`` = z(-j h), the players who move before it seen at
    ``newer`` = z(-(j-1) h), look-ahead from ``older`` = z(-(j+1) h); times ``weights`` = decay^(j-1) per
    player and buffer."""
    members = players(game, optimizers)
    field = field_of(game, len(members))
    xs = [current[s] for s, _ in members]
    heads = [x + opt.look_ahead * (x - older[s]) for x, (s, opt) in zip(xs, members, strict=True)]
    terms = []
    for i, (_, opt) in enumerate(members):
        u = field(i, _seen(order, i, [newer[t] for t, _ in members], heads))
        terms.append(jnp.concatenate([w * b.gain * u ** b.power for w, b in zip(weights[i], opt.buffers, strict=True)]
                                     or [jnp.zeros(0)]))
    return terms
