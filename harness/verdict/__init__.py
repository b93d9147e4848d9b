"""A check's verdict, composed once: the fitted slope and status of harness.verdict.fit, with the reasons of every
stage in one order — the range and smoothness reasons of the guards, the notes of the plan (points moved off
equilibria, flows found affine), the fit's own reasons, the error series' disagreement, then its hint. Nothing
rewrites a fit afterwards: this pure function returns a new one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from harness.verdict.fit import Fit


def verdict(fit: Fit, *, guards: Iterable[str | None] = (), notes: Iterable[str] = (),
            series: Iterable[str | None] = ()) -> Fit:
    """``fit`` with its reasons preceded by the guards' reasons and the plan's ``notes`` and followed by the error
    series' (None entries are left out)."""
    reasons = [r for r in guards if r] + list(notes) + list(fit.reasons) + [r for r in series if r]
    return replace(fit, reasons=reasons)
