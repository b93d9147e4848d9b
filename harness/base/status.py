"""The status that ends an order check (README "Reading verdicts"), as an enumeration of its words.

A ``Status`` is a ``str``: it equals its word (``Status.PASS == "PASS"``), prints, formats, serialises to JSON
and shows as that word (``repr`` too), so results, tables and JSON documents read exactly as plain strings.
"""

from enum import StrEnum


class Status(StrEnum):
    """How a check ended: the slope fitted within the tolerance of the expected one (PASS) or not (FAIL), or
    why no slope was fitted."""

    PASS = "PASS"
    FAIL = "FAIL"
    EXACT = "EXACT"
    FLOOR_LIMITED = "FLOOR-LIMITED"
    REFERENCE_LIMITED = "REFERENCE-LIMITED"
    PRE_ASYMPTOTIC = "PRE-ASYMPTOTIC"
    DIVERGED = "DIVERGED"

    __repr__ = str.__repr__


__all__ = ["Status"]
