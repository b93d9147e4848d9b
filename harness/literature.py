"""Published flows, checked: the report section of the checks whose flow comes from a file that says where
the formula comes from (``Citation:`` or ``Source:``, and ``Provenance:``, in its module docstring; the
catalog in ``literature/``).

Checks are grouped by claim (the flow), rule and regime, and expected slope. A group's verdict compares
the claimed slope (``Flow.claimed_slope``: the flow's order + 2, or + 3 for the two-step residual of a
second-order ODE, in sqrt(s)) with what its checks measured and what they were expected to
measure: ``confirmed`` (the claimed slope, met), ``refuted`` (a lower slope, expected with a reason that
starts "refuted"), ``confirmed only in its regime`` (a lower slope outside the regime the claim is stated
for, reason starting "regime"), or ``not reproduced`` (a check did not meet its expectation).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from harness.checks import CheckResult

HEADING = "## Published flows, checked"
FIELDS = r"(?:Citation|Source|Claims?|Notation|Claimed accuracy|Provenance|Reduction|Derivation|Rules?|Regime|Finding)"
"""The fields of a literature file's docstring; each ends at the sentence before the next one."""


@dataclass
class Claim:
    """One row: a published flow under one rule and regime, with what was measured."""

    paper: str
    flow: str
    provenance: str
    rule: str
    claimed: float
    expected: float
    slopes: list[float]
    verdict: str
    passed: bool


def source_of(result: CheckResult) -> tuple[str, str] | None:
    """(citation, provenance) from the module docstring of a check's flow, or None when it states neither."""
    user = result.spec.flow.user
    module = inspect.getmodule(user.function) if user is not None and user.function is not None else None
    text = " ".join((module.__doc__ or "").split()) if module is not None else ""
    citation = re.search(rf"(?:Citation|Source): (.+?)(?:\.(?= {FIELDS}\b)|$)", text)
    provenance = re.search(rf"Provenance: (.+?)(?:\.(?= {FIELDS}\b)|$)", text)
    if not (citation and provenance):
        return None
    return citation.group(1), provenance.group(1)


def _rule(result: CheckResult) -> str:
    """The rule and its regime, without the learning rates (a claim's rows pool them)."""
    scheme = result.spec.scheme
    label = re.sub(r"lr1=[^,]+, lr2=[^,)]+(, )?", "", scheme.label).replace("()", "")
    return label.replace("(, ", "(").replace(", )", ")")


def _rates(members: list[CheckResult]) -> str:
    """The learning rates (alpha, lambda) a row pools."""
    pairs = dict.fromkeys((r.spec.scheme.lr1, r.spec.scheme.lr2) for r in members)
    return "; ".join(f"({a:g}, {b:g})" for a, b in pairs)


def claims(results: list[CheckResult]) -> list[Claim]:
    """The rows of the section, in the order the checks ran."""
    groups: dict[tuple, list[CheckResult]] = {}
    sources = {}
    for result in results:
        source = source_of(result)
        if source is None:
            continue
        key = (result.spec.flow.label, _rule(result), result.spec.expected_slope, result.spec.reason)
        groups.setdefault(key, []).append(result)
        sources[key] = source
    rows = []
    for (flow, rule, expected, reason), members in groups.items():
        claimed = members[0].spec.flow.claimed_slope - (members[0].spec.measure == "global")
        passed = all(r.passed for r in members)
        if not passed:
            verdict = "not reproduced: " + "; ".join(f"{r.spec.label}: {r.fit.status}" for r in members if not r.passed)
        elif expected == claimed:
            verdict = "confirmed"
        elif reason.startswith("refuted"):
            verdict = f"refuted: {reason.removeprefix('refuted').lstrip(': ')}{_named_terms(members)}"
        elif reason.startswith("regime"):
            verdict = f"confirmed only in its regime: {reason.removeprefix('regime').lstrip(': ')}"
        else:
            verdict = f"slope {expected:g}, not {claimed:g}: {reason}"
        slopes = [r.fit.slope for r in members if r.fit.slope is not None]
        paper, provenance = sources[(flow, rule, expected, reason)]
        rows.append(Claim(paper, flow, provenance, f"{rule}, (α, λ) = {_rates(members)}", claimed, expected,
                          slopes, verdict, passed))
    return rows


def _named_terms(members: list[CheckResult]) -> str:
    """The error series' differing terms of a refuted claim, when it names them."""
    for result in members:
        series = result.series
        if series is not None and series.terms:
            named = [f"{t.name} ({t.player}): flow {t.flow_expression or f'{t.flow:.3g}'}, one step "
                     f"{t.rule_expression or f'{t.rule:.3g}'}" for t in series.terms if t.differs]
            if named:
                return f" (the series names {'; '.join(named)})"
    return ""


def section(results: list[CheckResult]) -> str:
    """The Markdown section (empty when no check's flow states its source)."""
    rows = claims(results)
    if not rows:
        return ""
    lines = [HEADING, "",
             f"{len(rows)} published claims under their rules and regimes ({sum(len(r.slopes) for r in rows)} "
             "checks); each flow's file states its citation and the provenance of the formula as implemented "
             "(printed, quoted, code, recalled or derived). Claimed: the local-error slope of the claim "
             "(order + 2; for a second-order ODE, its two-step residual: resolution + 3, in sqrt(s)); measured: "
             "the range over its checks.", "",
             "| paper | claim | provenance | rule and regime | claimed | measured | verdict |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        measured = (f"{min(row.slopes):.2f}–{max(row.slopes):.2f} ({len(row.slopes)})" if row.slopes else "—")
        cells = [row.paper, row.flow, row.provenance, row.rule, f"{row.claimed:g}", measured, row.verdict]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def findings(results: list[CheckResult]) -> list[str]:
    """One Findings line per refuted claim, per regime caveat and per claim not reproduced."""
    return [f"Published flow {row.flow} under {row.rule}: {row.verdict}." for row in claims(results)
            if row.verdict != "confirmed"]
