"""The harness's errors: one base, ``HarnessError``, and one class per kind of bad input.

Each message is one line meant for people; the command line prints it as ``harness: error: MESSAGE`` and exits
2 (harness.cli). ``GameError`` was once the only class, raised for every bad input: every other class derives
from it too, so ``except GameError`` still catches everything the harness refuses.
"""


class HarnessError(ValueError):
    """Bad input the harness refuses: a game, rule, flow, check matrix, results file or argument it cannot use."""


class GameError(HarnessError):
    """A game the harness cannot use (its losses, fields, initial state or file); the base of the other classes
    too, as the harness's error before there were several."""


class RuleError(GameError):
    """An update rule or optimizer the harness cannot use: an unknown name, a setting out of range, a rule file."""


class FlowError(GameError):
    """A flow the harness cannot use: an unknown name, a flow file, an order or a family it does not have."""


class MatrixError(GameError):
    """A check matrix file (TOML) or a matrix entry the harness cannot read: an unknown key, a bad value."""


class ResultsError(GameError):
    """A results, shard or partial-results file that cannot be read, merged, resumed or compared."""


class UsageError(GameError):
    """A command-line flag or a function argument the harness cannot use (a bad value, flags that conflict)."""


__all__ = ["HarnessError", "GameError", "RuleError", "FlowError", "MatrixError", "ResultsError", "UsageError"]
