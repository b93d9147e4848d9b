"""Shards: the check matrix split across CI machines, and the shards' results merged back.

``harness check --all --shard I/N --json part-I.json`` runs shard I of N (1-based). The matrix is cut into
units that are never split (``harness.checks.units``): the checks that share a compiled kernel (``kernel_group``)
or the rule's error-series coefficients (``series_group``), transitively, since a run builds each once, at the
highest order its checks ask for, and a split unit could measure other numbers.
A unit's estimated cost, in measured errors, is ``KERNEL_COST`` per kernel it builds plus ``points ×
step_sizes`` per check: building kernels dominates a cold run, and neither a game's dimension nor a global
error predicted the measured times of the default matrix. Units go to shards by longest processing time
first: the costliest unit first (ties: the earlier one) to the shard with the least estimated cost so far
(ties: the lower index). The shares depend on the matrix and the settings alone.

A shard's results document (``harness.checks.results_document``) carries ``shard``: its ``index`` and
``count``, ``checks`` (how many the whole matrix has), ``positions`` (where its checks stand in the matrix),
``matrix`` (a hash of every check and the games' default states), ``harness`` (the version) and
``estimated_share`` (its share of the estimated cost) and ``check_hashes`` (a hash of each of its checks as
its results record them, expectation included). ``merge`` reads shard files, refuses (ResultsError: exit
2, one line) files of different harness versions, settings, matrices or shard counts, a shard given twice
and missing shards, a result whose check or expectation is not the one its shard ran (``check_hashes``) or
whose stored verdict is not the one its stored errors give (harness.checks.resume.verdict_disagreement: the fit
recomputed), and returns the results in matrix order, each as an unsharded run writes it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
from pathlib import Path

from harness.base.errors import HarnessError, ResultsError, UsageError
from harness.base.version import __version__
from harness.checks import SCHEMA_VERSION, CheckResult, CheckSpec, Settings, kernel_group, units
from harness.checks.resume import fingerprint, verdict_disagreement
from harness.model.game import Game

KERNEL_COST = 12000
"""Building one kernel (about 5.6 s, cold) against measuring one error (about 0.45 ms, warm): fitted on the
default matrix's per-check ``seconds``, one thread, on the 2-core development machine."""


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` -> (I, N), 1 <= I <= N."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match:
        raise UsageError(f"{text!r} is not a shard I/N (1-based, e.g. 1/3)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise UsageError(f"shard {text!r} is out of range: I/N with 1 <= I <= N (1-based, e.g. 1/3 to 3/3)")
    return index, count


def cost(positions: list[int], specs: list[CheckSpec], games: dict[str, Game], settings: Settings) -> int:
    """The estimated cost of the checks at ``positions`` (see the module's docstring)."""
    kernels = {kernel_group(specs[i], games[specs[i].game]) for i in positions}
    return KERNEL_COST * len(kernels) + settings.points * settings.step_sizes * len(positions)


def assign(costs: list[int], count: int) -> list[int]:
    """The shard (0-based) of each unit of ``costs``: longest processing time first."""
    loads = [0] * count
    shards = [0] * len(costs)
    for unit in sorted(range(len(costs)), key=lambda u: (-costs[u], u)):
        shards[unit] = min(range(count), key=lambda s: (loads[s], s))
        loads[shards[unit]] += costs[unit]
    return shards


def matrix_hash(specs: list[CheckSpec], settings: Settings, games: dict[str, Game]) -> str:
    """A hash of every check and the default states of their games (harness.checks.resume.fingerprint)."""
    found = fingerprint(specs, settings, games)
    text = json.dumps({"checks": found["checks"], "games": found["games"]}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


RECORDED_KEYS = ("game", "scheme", "flow", "expected_slope", "expected_status", "reason", "measure",
                 "requested_horizon")
"""The keys of a result's entry (CheckResult.to_dict) that record its check and what it expects."""


def check_hash(entry: dict) -> str:
    """A short hash of the check an entry records (``RECORDED_KEYS``), as its results file writes it."""
    text = json.dumps({key: entry.get(key) for key in RECORDED_KEYS}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def recorded(spec: CheckSpec) -> dict:
    """``RECORDED_KEYS`` of a check, as CheckResult.to_dict writes them."""
    return json.loads(json.dumps({"game": spec.game, "scheme": spec.scheme.to_dict(), "flow": spec.flow.to_dict(),
                                  "expected_slope": spec.expected_slope, "expected_status": spec.expected_status,
                                  "reason": spec.reason, "measure": spec.measure, "requested_horizon": spec.horizon}))


def select(specs: list[CheckSpec], games: dict[str, Game], settings: Settings, index: int,
           count: int) -> tuple[list[CheckSpec], dict]:
    """The checks of shard ``index`` of ``count`` (1-based), in matrix order, and the ``shard`` entry of its
    results document."""
    found = units(specs, games)
    costs = [cost(unit, specs, games, settings) for unit in found]
    shards = assign(costs, count)
    positions = sorted(p for unit, shard in zip(found, shards, strict=True) if shard == index - 1 for p in unit)
    share = sum(c for c, shard in zip(costs, shards, strict=True) if shard == index - 1) / sum(costs)
    entry = {"index": index, "count": count, "checks": len(specs), "positions": positions,
             "matrix": matrix_hash(specs, settings, games), "harness": __version__, "estimated_share": round(share, 4),
             "check_hashes": [check_hash(recorded(specs[p])) for p in positions]}
    return [specs[p] for p in positions], entry


def shard_files(patterns: list[str]) -> list[Path]:
    """The files the ``patterns`` name (glob patterns expanded, sorted), each once."""
    files: list[Path] = []
    for pattern in patterns:
        found = sorted(glob.glob(pattern)) if re.search(r"[*?\[]", pattern) else [pattern]
        if not found:
            raise ResultsError(f"no shard file matches {pattern!r}")
        files += [Path(name) for name in found]
    return list(dict.fromkeys(files))


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise ResultsError(f"cannot read shard file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ResultsError(f"{path} is not a JSON file ({exc})") from exc
    shard = document.get("shard") if isinstance(document, dict) else None
    keys = {"index", "count", "checks", "positions", "matrix", "harness"}
    if not (isinstance(shard, dict) and keys <= set(shard) and isinstance(document.get("results"), list)
            and document.get("schema_version") == SCHEMA_VERSION and isinstance(document.get("settings"), dict)):
        raise ResultsError(f"{path} is not a shard's results (harness check --all --shard I/N --json PATH writes them)")
    return document


def merge(patterns: list[str]) -> tuple[list[CheckResult], Settings]:
    """The results of the shard files ``patterns`` name, in matrix order, and their settings."""
    files = shard_files(patterns)
    documents = {path: _read(path) for path in files}
    first, *others = files
    for path in others:
        a, b = documents[first], documents[path]
        if a["shard"]["harness"] != b["shard"]["harness"]:
            raise ResultsError(f"cannot merge shards of different harness versions: {first} ({a['shard']['harness']}) "
                               f"and {path} ({b['shard']['harness']})")
        if a["settings"] != b["settings"]:
            keys = sorted(k for k in set(a["settings"]) | set(b["settings"])
                          if a["settings"].get(k) != b["settings"].get(k))
            raise ResultsError(f"cannot merge shards run with different settings: {first} and {path} differ in "
                               f"{', '.join(keys)}")
        if a["shard"]["matrix"] != b["shard"]["matrix"] or a["shard"]["checks"] != b["shard"]["checks"]:
            raise ResultsError(f"cannot merge shards of different check matrices: {first} and {path} (their checks or "
                               "games differ)")
        if a["shard"]["count"] != b["shard"]["count"]:
            raise ResultsError(f"cannot merge shards of different counts: {first} is shard {a['shard']['index']}/"
                               f"{a['shard']['count']}, {path} is shard {b['shard']['index']}/{b['shard']['count']}")
    count = documents[first]["shard"]["count"]
    given: dict[int, Path] = {}
    for path in files:
        index = documents[path]["shard"]["index"]
        if index in given:
            raise ResultsError(f"shard {index}/{count} is given twice: {given[index]} and {path}")
        given[index] = path
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in given]
    if missing:
        raise ResultsError(f"cannot merge: shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing (given: "
                           f"{', '.join(f'{i}/{count} {given[i]}' for i in sorted(given))})")
    settings = Settings(**documents[first]["settings"])
    placed: dict[int, dict] = {}
    for path in files:
        shard, entries = documents[path]["shard"], documents[path]["results"]
        if len(shard["positions"]) != len(entries) or set(shard["positions"]) & set(placed):
            raise ResultsError(f"cannot merge: {path} is not a whole shard (its results and positions disagree)")
        placed.update(zip(shard["positions"], entries, strict=True))
    if sorted(placed) != list(range(documents[first]["shard"]["checks"])):
        raise ResultsError(f"cannot merge: the shards do not cover the matrix's {documents[first]['shard']['checks']} "
                           "checks once each")
    results = {}
    for path in files:
        shard = documents[path]["shard"]
        for index, (position, entry) in enumerate(zip(shard["positions"], documents[path]["results"], strict=True)):
            results[position] = _verified(path, entry, shard, index, settings)
    return [results[p] for p in sorted(results)], settings


def _verified(path: Path, entry: dict, shard: dict, index: int, settings: Settings) -> CheckResult:
    """The result of a shard's ``index``-th ``entry``, refused (ResultsError) when its check
    or expectation is not the one the shard ran (``check_hashes``) or its stored verdict is not the one its
    stored errors give (harness.checks.resume.verdict_disagreement)."""
    position = shard["positions"][index]
    try:
        result = CheckResult.from_dict(entry, settings)
    except HarnessError as exc:
        raise ResultsError(f"cannot merge: {path}, check {position + 1} of the matrix: {exc}") from None
    where = f"cannot merge: {path}, check {position + 1} of the matrix ({result.spec.label})"
    hashes = shard.get("check_hashes")
    if not isinstance(hashes, list) or len(hashes) != len(shard["positions"]):
        raise ResultsError(f"cannot merge: {path} records no hash of each check (an older harness wrote it): run its "
                           "shard again")
    if check_hash(entry) != hashes[index]:
        slope = result.spec.expected_slope
        shown = f"{slope:g}" if isinstance(slope, (int, float)) else repr(slope)
        raise ResultsError(f"{where}: it is not the check its shard ran (its expected slope {shown}, its expected "
                           f"status {result.spec.expected_status} or the check itself was edited in the file); run the "
                           "shard again")
    disagreement = verdict_disagreement(result)
    if disagreement:
        raise ResultsError(f"{where}: {disagreement}; run the shard again")
    return result
