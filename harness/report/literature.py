"""Published flows, checked: the report section of the checks whose flow comes from a file that says where
the formula comes from (``Citation:`` or ``Source:``, and ``Provenance:``, in its module docstring; the
catalog in ``literature/``).

Checks are grouped by claim (the flow), rule and regime, and expected slope. A group's verdict compares
the claimed slope (``CheckSpec.claimed_slope``: the flow's order + 2; for the two-step residual of a
second-order ODE, its resolution + 3 in the time step sqrt(s), + 2 when the time step is s) with what its checks
measured and what they were expected to
measure: ``confirmed`` (the claimed slope, met), ``refuted`` (a lower slope, expected with a reason that
starts "refuted"), ``confirmed only in its regime`` (a lower slope outside the regime the claim is stated
for, reason starting "regime"), or ``not reproduced`` (a check did not meet its expectation).

The verdict says what was tested: a bare ``confirmed`` only where the formula checked is the one the source
prints or the authors' code computes (provenance printed or code); ``confirmed as quoted`` where it was read
in another paper that cites it; and for a formula whose provenance is derived or recalled, ``derived formula
confirmed; the printed statement was not read`` (``recalled formula ...``), with the file's ``Finding:`` when
it has one (what the authors' code does, what the derivation gives).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from harness.checks import CheckResult
from harness.report.blocks import Block, Fold, Heading, Paragraph, Table, markdown, spans

HEADING = "## Published flows, checked"
FIELDS = (r"(?:Citation|Source|Claims?|Notation|Claimed accuracy|Provenance|Reduction|Derivation|Rules?|Regime"
          r"|Finding)")
"""The fields of a literature file's docstring; each ends at the sentence before the next one."""
PROVENANCES = ("printed", "quoted", "code", "recalled", "derived")
"""The provenance kinds, the first word of a file's ``Provenance:``."""
UNREAD = "the printed statement was not read"
"""What the verdict of a derived or recalled formula adds."""


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

    @property
    def kind(self) -> str:
        """The provenance's first word: printed, quoted, code, recalled or derived."""
        return provenance_kind(self.provenance)


def provenance_kind(provenance: str) -> str:
    """printed, quoted, code, recalled or derived: the first word of a file's ``Provenance:``."""
    word = re.match(r"\W*(\w+)", provenance or "")
    return word.group(1).lower() if word else ""


def verdict_of(provenance: str, expected: float, claimed: float, reason: str, finding: str = "") -> str:
    """The verdict of a claim whose checks all met their expectation, in words that say what was tested."""
    kind = provenance_kind(provenance)
    subject = f"{kind} formula " if kind in ("derived", "recalled") else ""
    unread = f"; {UNREAD}" if subject else ""
    if expected == claimed:
        if subject:
            return f"{subject}confirmed{unread}" + (f" (finding: {finding})" if finding else "")
        return "confirmed as quoted" if kind == "quoted" else "confirmed"
    if reason.startswith("refuted"):
        return f"{subject}refuted: {reason.removeprefix('refuted').lstrip(': ')}{unread}"
    if reason.startswith("regime"):
        return f"{subject}confirmed only in its regime: {reason.removeprefix('regime').lstrip(': ')}{unread}"
    return f"slope {expected:g}, not {claimed:g}: {reason}"


def source_of(result: CheckResult) -> tuple[str, str] | None:
    """(citation, provenance) from the module docstring of a check's flow, or None when it states neither."""
    fields = _fields(result)
    return None if fields is None else fields[:2]


def _fields(result: CheckResult) -> tuple[str, str, str] | None:
    """(citation, provenance, finding) of a check's flow, or None when it states no citation or provenance."""
    user = result.spec.flow.user
    module = inspect.getmodule(user.function) if user is not None and user.function is not None else None
    text = " ".join((module.__doc__ or "").split()) if module is not None else ""
    citation = re.search(rf"(?:Citation|Source): (.+?)(?:\.(?= {FIELDS}\b)|$)", text)
    provenance = re.search(rf"Provenance: (.+?)(?:\.(?= {FIELDS}\b)|$)", text)
    finding = re.search(rf"Finding: (.+?)(?:\.(?= {FIELDS}\b)|$)", text)
    if not (citation and provenance):
        return None
    return (citation.group(1).rstrip("."), provenance.group(1).rstrip("."),
            finding.group(1).rstrip(".") if finding else "")


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
        source = _fields(result)
        if source is None:
            continue
        rule = _rule(result) + (", global error at a fixed horizon" if result.spec.measure == "global" else "")
        key = (result.spec.flow.label, rule, result.spec.expected_slope, result.spec.reason)
        groups.setdefault(key, []).append(result)
        sources[key] = source
    rows = []
    for (flow, rule, expected, reason), members in groups.items():
        claimed = members[0].spec.claimed_slope - (members[0].spec.measure == "global")
        passed = all(r.passed for r in members)
        paper, provenance, finding = sources[(flow, rule, expected, reason)]
        if not passed:
            verdict = "not reproduced: " + "; ".join(f"{r.spec.label}: {r.fit.status}" for r in members if not r.passed)
        else:
            verdict = verdict_of(provenance, expected, claimed, reason, finding)
            if reason.startswith("refuted"):
                verdict += _named_terms(members)
        slopes = [r.fit.slope for r in members if r.fit.slope is not None]
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


def section_blocks(results: list[CheckResult]) -> list[Block]:
    """The section "Published flows, checked" (none when no check's flow states its source)."""
    rows = claims(results)
    if not rows:
        return []
    intro = (f"{len(rows)} published claims under their rules and regimes ({sum(len(r.slopes) for r in rows)} "
             "checks); each flow's file states its citation and the provenance of the formula as implemented "
             "(printed, quoted, code, recalled or derived). Claimed: the local-error slope of the claim "
             "(order + 2; for a second-order ODE, its two-step residual: resolution + 3 in the time step sqrt(s), "
             "+ 2 when the time step is s; one less for a global error); measured: the range over its checks. "
             "Verdict: \"confirmed\" only where the formula checked is the one the source prints or the "
             "authors' code computes; \"confirmed as quoted\" where it was read in a paper that cites it; a "
             f"derived or recalled formula's verdict says so and that {UNREAD}.")
    table = Table(("paper", "claim", "provenance", "rule and regime", "claimed", "measured", "verdict"), tuple(
        (row.paper, row.flow, row.provenance, row.rule, f"{row.claimed:g}",
         f"{min(row.slopes):.2f}–{max(row.slopes):.2f} ({len(row.slopes)})" if row.slopes else "—", row.verdict)
        for row in rows))
    return [Heading(2, HEADING[3:]),
            Fold(spans(f"{len(rows)} published claims and their verdicts"), (Paragraph(spans(intro)), table))]


def section(results: list[CheckResult]) -> str:
    """The Markdown section (empty when no check's flow states its source)."""
    blocks = section_blocks(results)
    return markdown(blocks) + "\n" if blocks else ""


def findings(results: list[CheckResult]) -> list[str]:
    """One Findings line per refuted claim, per regime caveat and per claim not reproduced."""
    return [f"Published flow {row.flow} under {row.rule}: {row.verdict}." for row in claims(results)
            if not re.match(r"(?:(?:derived|recalled) formula )?confirmed(?! only)", row.verdict)]
