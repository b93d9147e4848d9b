"""The work budget: checks whose sizes cannot finish are refused before anything is compiled.

Each check is estimated from its sizes alone (no compilation, no call of the game):

- **substeps** m + k of one alternating step (or of a user rule given ``m`` and ``k``), at most MAX_SUBSTEPS where
  the step is traced unrolled, about 0.3 s of tracing per substep on a laptop CPU: a user's rule, and the
  automatic flows' (``bea:P``) kernels. Simultaneous and alternating GD with other flows run their substeps
  in a traced loop (``Scheme.kernel_structure``), bounded by the sequence alone.
- **sequence**: the update substeps each row (an initial point and a step size) takes one after another,
  ((n - 1) + N) (m + k) with n the measured step of a cold start and N the update steps of a global error
  (horizon / smallest step size; 1 for a local error), at most MAX_SEQUENCE.
- **numbers**: rows x state size, held at once (rows = points x step sizes; about 300 bytes each while the
  reference is solved), at most MAX_NUMBERS.
- **work**: numbers x sequence, the state numbers updated, at most MAX_WORK.

The limits are far above every bundled check matrix (tests/test_hostile_signals.py runs them all through
``check_budget``) and below what takes hours or tens of GB. A run over one of them is refused with one line
(``UsageError``: exit 2 on the command line) naming the check, the estimate, the limit and the way out:
``harness check --no-budget`` / ``harness report --no-budget``, ``harness.check(..., budget=False)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from harness.base.errors import UsageError
from harness.checks import GLOBAL_HORIZON, CheckSpec, Settings
from harness.model.game import Game
from harness.rules.schemes import MAX_SUBSTEPS

MAX_SEQUENCE = 10**7
MAX_NUMBERS = 4 * 10**6
MAX_WORK = 10**10
BYTES_PER_NUMBER = 300
"""About what one state number of one row costs in memory during a sweep (measured: 10^7 rows of 2 numbers,
6.7 GB)."""


@dataclass(frozen=True)
class Estimate:
    """The sizes of one check (module docstring)."""

    substeps: int
    steps: int  # update steps per row: (n - 1) + N
    rows: int
    state: int
    unrolled: bool = True  # the step is traced unrolled (its substeps are not a traced loop)

    @property
    def sequence(self) -> int:
        return self.steps * self.substeps

    @property
    def numbers(self) -> int:
        return self.rows * self.state

    @property
    def work(self) -> int:
        return self.numbers * self.sequence


def _global_steps(spec: CheckSpec, settings: Settings) -> int:
    """N of a global error at its smallest step size, when it follows from the settings alone (else 1: the
    measurement refuses more than harness.measure.MAX_GLOBAL_STEPS itself)."""
    if spec.horizon is None:  # T = GLOBAL_HORIZON h_max: N = T / (h_max 10^-decades)
        return math.ceil(GLOBAL_HORIZON * 10.0 ** settings.decades - 1e-9)
    if settings.h_max is not None:
        return math.ceil(spec.horizon / (settings.h_max * 10.0 ** -settings.decades) - 1e-9)
    return 1


def estimate(spec: CheckSpec, game: Game, settings: Settings) -> Estimate:
    """The sizes of ``spec`` on ``game`` under ``settings``."""
    scheme = spec.scheme
    substeps = scheme.rule_object.substeps(scheme)
    steps = 1
    if spec.measure == "global" and not scheme.two_step:
        steps = _global_steps(spec, settings)
    if getattr(scheme, "regime", "on-flow") == "cold":
        steps += int(scheme.step or 1) - 1
    unrolled = scheme.kernel_structure(game, spec.flow.automatic) != ("two-player gd",)
    return Estimate(substeps, steps, int(settings.points) * int(settings.step_sizes), int(game.z0.size), unrolled)


def refusal(spec: CheckSpec, found: Estimate, override: str) -> str | None:
    """The line refusing ``spec`` with its estimate ``found``, or None when it is within the budget."""
    way_out = f"or give {override} to run it anyway"
    if found.unrolled and found.substeps > MAX_SUBSTEPS:
        return (f"{spec.label}: m + k = {found.substeps:,} substeps per step is over the budget of {MAX_SUBSTEPS} "
                "(the step is traced unrolled, about 0.3 s per substep); "
                f"lower --m or --k, {way_out}")
    if found.sequence > MAX_SEQUENCE:
        each = f" x {found.substeps:,} substeps" if found.substeps > 1 else ""
        steps = f"{found.steps:,} step{'s' if found.steps != 1 else ''}"
        return (f"{spec.label}: each of its {found.rows:,} rows takes {found.sequence:.3g} update substeps in "
                f"sequence ({steps}{each}), over the budget of "
                f"{MAX_SEQUENCE:.3g}; lower --step, --m, --k, --horizon or --decades, {way_out}")
    if found.numbers > MAX_NUMBERS:
        return (f"{spec.label}: {found.rows:,} rows (points x step sizes) of {found.state:,} numbers = "
                f"{found.numbers:.3g} numbers held at once (about {found.numbers * BYTES_PER_NUMBER / 1e9:.1f} GB), "
                f"over the budget of {MAX_NUMBERS:.3g} (about {MAX_NUMBERS * BYTES_PER_NUMBER / 1e9:.1f} GB); lower "
                f"--points or --step-sizes, {way_out}")
    if found.work > MAX_WORK:
        return (f"{spec.label}: {found.numbers:,} numbers x {found.sequence:,} update substeps = {found.work:.3g} "
                f"state updates, over the budget of {MAX_WORK:.3g}; lower --points, --step-sizes, --step, --m, "
                f"--k, --horizon or --decades, {way_out}")
    return None


def check_budget(specs: Iterable[CheckSpec], games: dict[str, Game], settings: Settings,
                 override: str = "--no-budget") -> None:
    """UsageError (one line) for the first of ``specs`` over the budget, naming its estimate, the limit and
    ``override`` (how the caller lifts the budget); nothing otherwise."""
    specs = list(specs)
    for spec in specs:
        line = refusal(spec, estimate(spec, games[spec.game], settings), override)
        if line is not None:
            over = sum(refusal(other, estimate(other, games[other.game], settings), override) is not None
                       for other in specs) - 1
            more = f" ({over} more check{'s are' if over != 1 else ' is'} over the budget too)" if over else ""
            raise UsageError(f"too much work: {line}{more}")
