"""Compare two results documents (``harness check --json`` or a report's ``results.json``), for reviewing a
change: checks are matched by game, update rule (its parameters, defaults filled in) and flow (name and, for
a user's flow, source).

Kinds of change, worst first: REGRESSED (passed, now not), NEW-FAILING (appeared, not passed), FIXED (not
passed, now passed), STATUS (another status, same verdict), SLOPE (fitted slope moved by more than the
tolerance), APPEARED, DISAPPEARED. A comparison is worse when it has REGRESSED or NEW-FAILING changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.base.errors import HarnessError, ResultsError
from harness.rules.schemes import Scheme

KINDS = ("REGRESSED", "NEW-FAILING", "FIXED", "STATUS", "SLOPE", "APPEARED", "DISAPPEARED")
WORSE = ("REGRESSED", "NEW-FAILING")
DEFAULT_SLOPE_TOLERANCE = 0.05


@dataclass(frozen=True)
class Change:
    kind: str
    label: str
    detail: str


def _scheme(entry: dict) -> dict:
    """The update rule's parameters with defaults filled in, so that documents written before a parameter
    existed still match."""
    try:
        return Scheme(**entry).to_dict()
    except (TypeError, HarnessError):
        return dict(entry)


def load_results(path: str | Path) -> dict[tuple, dict]:
    """The checks of a results document (or of ``results.json`` in a report folder: its ``results`` and the
    paper's slope checks recorded beside them, ``paper.checks``), keyed by (game, update rule, flow, measure,
    requested horizon); raises ResultsError with one line when the file cannot be read or
    is not such a document. Documents written before global errors existed hold local errors only."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        document = json.loads(path.read_text())
        checks = {}
        for entry in [*document["results"], *(document.get("paper") or {}).get("checks", [])]:
            scheme = _scheme(entry["scheme"])
            flow = entry["flow"]
            key = (entry["game"], json.dumps(scheme, sort_keys=True), flow["name"], flow.get("source"),
                   entry.get("measure", "local"), entry.get("requested_horizon"))
            checks[key] = {**entry, "scheme": scheme}
    except OSError as exc:
        raise ResultsError(f"cannot read {str(path)!r}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not JSON ({exc.msg}, line {exc.lineno})") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise ResultsError(f"{path} is not a harness results document (no {exc} in its results)") from exc
    return checks


def _label(check: dict) -> str:
    scheme = check["scheme"]
    try:
        rule = Scheme(**scheme).label
    except (TypeError, HarnessError):
        rule = json.dumps(scheme, sort_keys=True)
    flow = check["flow"]
    label = f"{check['game']} · {rule} · {flow['name']}" + (f" ({flow['source']})" if flow.get("source") else "")
    if check.get("measure", "local") == "global":
        horizon = check.get("requested_horizon")
        label += " · global" + ("" if horizon is None else f" (T = {horizon:g})")
    return label


def _slope(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def compare(old: dict[tuple, dict], new: dict[tuple, dict], slope_tolerance: float = DEFAULT_SLOPE_TOLERANCE
            ) -> list[Change]:
    """The changes from ``old`` to ``new`` (as loaded by ``load_results``), worst kind first."""
    changes = []
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        if before is None:
            assert after is not None  # the key is in one of the two
            kind = "APPEARED" if after["passed"] else "NEW-FAILING"
            changes.append(Change(kind, _label(after), f"{after['status']}, slope {_slope(after['fitted_slope'])}"))
            continue
        if after is None:
            changes.append(Change("DISAPPEARED", _label(before), f"was {before['status']}"))
            continue
        slopes = f"slope {_slope(before['fitted_slope'])} → {_slope(after['fitted_slope'])}"
        if before["passed"] != after["passed"] or before["status"] != after["status"]:
            kind = "STATUS" if before["passed"] == after["passed"] else ("FIXED" if after["passed"] else "REGRESSED")
            changes.append(Change(kind, _label(after), f"{before['status']} → {after['status']} ({slopes})"))
        elif (before["fitted_slope"] is not None and after["fitted_slope"] is not None
              and abs(after["fitted_slope"] - before["fitted_slope"]) > slope_tolerance):
            moved = after["fitted_slope"] - before["fitted_slope"]
            detail = f"{slopes} (moved {moved:+.3f}, tolerance {slope_tolerance:g})"
            changes.append(Change("SLOPE", _label(after), detail))
    return sorted(changes, key=lambda c: (KINDS.index(c.kind), c.label))


def summary(old: dict, new: dict, changes: list[Change]) -> list[str]:
    """Lines for people: one per change, then the counts."""
    width = max(len(kind) for kind in KINDS)
    lines = [f"{c.kind:<{width}}  {c.label}: {c.detail}" for c in changes]
    counted = ", ".join(f"{n} {kind.lower()}" for kind in KINDS if (n := sum(c.kind == kind for c in changes)))
    lines.append(f"{len(old.keys() & new.keys())} checks in both; {counted or 'no change'}")
    return lines
