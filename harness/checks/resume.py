"""Nothing lost: finished checks saved as a run goes, a clean stop on Ctrl-C or SIGTERM, and ``--resume``.

A run of the check matrix (``harness report``, ``harness check --all --json PATH``) saves its finished
checks as it goes into a partial-results file (``OUT/partial-results.json``, or ``PATH.partial``), in JSON
Lines: a header with a fingerprint of what the run does (the harness version, the settings, every check
and the games' default states), then one line appended per finished check (signals deferred while it is
written; a last line cut short by a crash is ignored, a corrupt line elsewhere is reported with its number and
its check run again, the lines after it kept). An interrupted run stops with one line (how many
checks were saved, how to resume) and exit code 130 (Ctrl-C, SIGINT) or 143 (SIGTERM); the previous
report or JSON file is left as it was, since the outputs are written only at the end (the report into a
staging folder, then moved into place). ``--resume`` loads the saved checks, refusing (exit 2) if the
fingerprint changed or a stored verdict is not the one its stored errors give (``verdict_disagreement``), and
runs only the rest; the finished run removes the partial file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

from harness.base import signals
from harness.base.errors import HarnessError, ResultsError
from harness.base.files import atomic_write, signals_deferred
from harness.base.status import Status
from harness.base.version import __version__
from harness.checks import CheckResult, CheckSpec, Settings, run_checks
from harness.model.game import Game
from harness.verdict.fit import fit_order

PARTIAL_NAME = "partial-results.json"
PARTIAL_VERSION = 2
EXIT_CODES = signals.EXIT_CODES


class Interrupted(Exception):
    """A run stopped by a signal, with what was saved."""

    def __init__(self, signum: int, saved: int, total: int, path: Path | None, command: str = ""):
        self.signum, self.saved, self.total, self.path = signum, saved, total, path
        super().__init__(signals.text(signum, saved, total, path))

    @property
    def exit_code(self) -> int:
        return signals.exit_code(self.signum)


def interrupted(exc: KeyboardInterrupt, saved: int, total: int, path: Path | None) -> Interrupted | KeyboardInterrupt:
    """The Interrupted of a KeyboardInterrupt that a signal raised (Ctrl-C, or SIGTERM: ``signals.Terminated``);
    ``exc`` itself when no signal came (code raised it: bad input, not an interruption)."""
    if signals.received() is None and not isinstance(exc, _Terminated):
        return exc
    signum = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
    return Interrupted(signum, saved, total, path if saved else None)


_Terminated = signals.Terminated


def stop_on_sigterm(hard: bool = False) -> contextlib.AbstractContextManager[None]:
    """Within the block, SIGINT and SIGTERM stop the run: ``hard`` (the command line) ends the process with one
    line and exit 130 or 143 within a second, else KeyboardInterrupt (``_Terminated`` for SIGTERM) is raised in
    the main thread (harness.base.signals.handling)."""
    return signals.handling(hard)


def spec_data(spec: CheckSpec) -> dict:
    """A check as plain data; a user's rule or flow by its source and a hash of its file and of the user modules
    the file imports (its fingerprint)."""
    data = {f.name: getattr(spec, f.name) for f in fields(spec)}
    data["scheme"], data["flow"] = spec.scheme.to_dict(), spec.flow.to_dict()
    if spec.scheme.name == "user":
        data["scheme"]["rule"] = spec.scheme.user_rule.fingerprint()
    if spec.flow.user is not None:
        data["flow"]["source"] = spec.flow.user.fingerprint()
    return json.loads(json.dumps(data))


def fingerprint(specs: list[CheckSpec], settings: Settings, games: dict[str, Game]) -> dict:
    """What a saved partial run must share with the run that resumes it: the harness version, the settings,
    every check (a user's rule or flow also by a fresh trace of it on the check's game, with the constants and
    globals it reads) and every game (its default state, and a fresh trace of its field and losses:
    harness.model.identity.game_token)."""
    from harness.measure.kernel_cache import program_token
    from harness.model.identity import game_token

    names = list(dict.fromkeys(spec.game for spec in specs))
    checks = []
    for spec in specs:
        data = spec_data(spec)
        program = program_token(spec, games[spec.game]) if spec.game in games else None
        checks.append(data if program is None else {**data, "program": program})
    return {
        "harness": __version__,
        "settings": asdict(settings),
        "checks": checks,
        "games": {name: {"z0": games[name].z0.tolist(), "program": game_token(games[name])}
                  for name in names if name in games},
    }


VERDICT_SLOPE_TOLERANCE = 1e-9
"""Relative difference between a stored fitted slope and the one its stored errors give (the same numbers
read back from JSON give the same bits: any difference means an edit)."""


def verdict_disagreement(result: CheckResult) -> str | None:
    """Why the stored verdict of ``result`` (a check read back from a file) is not the one its stored numbers
    give, else None: the fit is recomputed (harness.verdict.fit.fit_order, the function a run uses) from the stored
    step sizes, errors, reference errors and round-off floor with the check's expected slope and the run's
    tolerance, and must give the stored status and fitted slope. (The fit calls EXACT what the run, knowing
    h |dF/dz|, may have called FLOOR-LIMITED: both are accepted there.)"""
    stored = result.fit
    for name, value in (("expected slope", result.spec.expected_slope), ("fitted slope", stored.slope)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"its stored {name} {value!r} is not a number: the file was edited or damaged"
    refit = fit_order(result.measurement, float(result.spec.expected_slope or 0.0), result.settings.tolerance)

    def finite(value: float | None) -> float | None:
        return None if value is None or not math.isfinite(value) else float(value)

    old, new = finite(stored.slope), finite(refit.slope)
    same_slope = (old is None and new is None) or (
        old is not None and new is not None and abs(old - new) <= VERDICT_SLOPE_TOLERANCE * max(1.0, abs(new)))
    statuses = {refit.status, Status.FLOOR_LIMITED} if refit.status == Status.EXACT else {refit.status}
    if same_slope and stored.status in statuses:
        return None

    def verdict(status: str, slope: float | None) -> str:
        return f"{status}, slope {'—' if slope is None else f'{slope:.6g}'}"

    return (f"its stored verdict ({verdict(stored.status, old)}, expected {result.spec.expected_slope:g}) is not "
            f"what its stored errors give ({verdict(refit.status, new)}): the file was edited or damaged")


class PartialRun:
    """The partial-results file of one run of ``specs``."""

    def __init__(self, path: Path, specs: list[CheckSpec], settings: Settings, games: dict[str, Game]):
        self.path, self.specs, self.settings = Path(path), list(specs), settings
        self.fingerprint = fingerprint(self.specs, settings, games)

    def load(self, say: Callable[[str], None] | None = None) -> list[CheckResult]:
        """The saved checks, in the order of ``specs``. A line that is not a saved check (corrupt) is reported
        through ``say`` with its line number and its check runs again, the lines after it kept; a last line
        cut short (no newline: what a crash leaves) is dropped silently. ResultsError if the checks belong to
        another run, or a stored verdict is not the one its stored errors give (``verdict_disagreement``)."""
        try:
            text = self.path.read_text()
            header, *lines = text.splitlines()
            saved = json.loads(header)["fingerprint"]
            changed = [label for key, label in (("harness", "harness version"), ("settings", "settings"),
                                                ("checks", "check matrix (the list of checks, or the code of a "
                                                           "rule or flow they use)"),
                                                ("games", "games (their default states or code)"))
                       if saved.get(key) != self.fingerprint[key]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ResultsError(f"cannot resume from {self.path}: it is not a readable partial-results file "
                               f"({type(exc).__name__}); run without --resume to start over") from exc
        if changed:
            raise ResultsError(f"cannot resume from {self.path}: the {' and the '.join(changed)} changed since it was "
                               "saved; run without --resume to start over")
        keys = [json.dumps(spec_data(spec), sort_keys=True) for spec in self.specs]
        free: dict[str, list[int]] = {}
        for position, key in enumerate(keys):
            free.setdefault(key, []).append(position)
        placed: dict[int, CheckResult] = {}
        corrupt, kept = [], []
        for number, line in enumerate(lines, start=2):
            try:
                entry = json.loads(line)
                result = CheckResult.from_dict(entry, self.settings) if isinstance(entry, dict) else None
            except (ValueError, HarnessError):
                result = None
            if result is None:
                if number == len(lines) + 1 and not text.endswith("\n"):
                    continue  # the last line, cut short by a crash
                corrupt.append(number)
                continue
            refuse = f"cannot resume from {self.path}: line {number}, check {result.spec.label}"
            key = json.dumps(spec_data(result.spec), sort_keys=True)
            if not free.get(key):
                raise ResultsError(f"{refuse}: {self._not_this_run(result)}; run without --resume to start over")
            position = free[key].pop(0)
            disagreement = verdict_disagreement(result)
            if disagreement:
                raise ResultsError(f"{refuse}: {disagreement}; run without --resume to start over")
            result.spec = self.specs[position]  # the live check (a user's flow read back from JSON is only a record)
            placed[position] = result
            kept.append(number)
        if corrupt and say is not None:
            after = sum(number > corrupt[0] for number in kept)
            many = len(corrupt) > 1
            say(f"{self.path}: line{'s' * many} {', '.join(map(str, corrupt))} {'are' if many else 'is'} not a saved "
                f"check (corrupt): {'their checks run' if many else 'its check runs'} again; the {after} saved "
                f"check{'s' * (after != 1)} after {'them' if many else 'it'} {'is' if after == 1 else 'are'} kept")
        return [placed[position] for position in sorted(placed)]

    def _not_this_run(self, result: CheckResult) -> str:
        """Why a saved check is none of the run's free checks: an edited expectation, saved twice, or foreign."""
        def bare(data: dict) -> dict:
            return {k: v for k, v in data.items() if k not in ("expected_slope", "expected_status")}

        data = spec_data(result.spec)
        for spec in self.specs:
            live = spec_data(spec)
            if live == data:
                return "it is saved twice"
            if bare(live) == bare(data):
                return (f"its stored expectation (slope {result.spec.expected_slope:g}, status "
                        f"{result.spec.expected_status}) is not this check's (slope {spec.expected_slope:g}, status "
                        f"{spec.expected_status}): the file was edited")
        return "it is not one of this run's checks"

    def begin(self, results: list[CheckResult]) -> None:
        """Start the file: the header, then ``results`` (the checks kept from a resumed run)."""
        header = {"partial_version": PARTIAL_VERSION, "fingerprint": self.fingerprint}
        atomic_write(self.path, "".join(json.dumps(x) + "\n" for x in [header, *(r.to_dict() for r in results)]))

    def append(self, result: CheckResult) -> None:
        """Add one finished check (one line, signals deferred)."""
        line = json.dumps(result.to_dict()) + "\n"
        with signals_deferred(), self.path.open("a") as file:
            file.write(line)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def start(partial: PartialRun, resume: bool, say: Callable[[str], None]) -> list[CheckResult]:
    """The checks to keep: the saved ones with ``resume``, else none (noting a partial file left over)."""
    if not resume:
        if partial.path.exists():
            say(f"starting over: {partial.path} from an interrupted run will be replaced (--resume continues it)")
        return []
    if not partial.path.exists():
        say(f"nothing to resume: no {partial.path}; running every check")
        return []
    results = partial.load(say)
    say(f"resuming: {len(results)} of {len(partial.specs)} checks loaded from {partial.path}")
    return results


def run_saving(
    partial: PartialRun, games: dict[str, Game], previous: list[CheckResult],
    progress: Callable[[int, int, CheckResult], None] | None = None, jobs: int = 1, processes: bool = False,
) -> list[CheckResult]:
    """Run the checks of ``partial`` that are not among the ``previous`` ones (those ``load`` gave: any of them)
    in ``jobs`` threads, or ``processes`` (harness.checks.run_checks), saving after each in order; return all of
    them in the order of the checks. A signal stops the run with Interrupted (the finished checks saved)."""
    results = list(previous)
    total = len(partial.specs)
    partial.begin(results)
    positions: list[int] = []  # of ``previous`` (by the live specs ``load`` gave them: any of the checks)
    for result in previous:
        positions.append(next(i for i, spec in enumerate(partial.specs)
                              if spec is result.spec and i not in positions))
    kept = set(positions)
    positions += [i for i in range(total) if i not in kept]  # then those of the checks run now
    rest = [partial.specs[i] for i in positions[len(previous):]]

    saved = [len(results)]  # the checks in the file: what the line of a signal says (harness.base.signals)
    signals.current_run(lambda: (saved[0], total, partial.path))

    def finished(done: int, _total: int, result: CheckResult) -> None:
        results.append(result)
        with signals_deferred():
            partial.append(result)
            saved[0] = len(results)
        if progress:
            progress(len(results), total, result)

    try:
        run_checks(rest, games, partial.settings, finished, jobs, processes)
    except KeyboardInterrupt as exc:
        raise interrupted(exc, len(results), total, partial.path) from None
    return [result for _, result in sorted(zip(positions, results, strict=True), key=lambda pair: pair[0])]


def publish(staging: Path, out: Path) -> None:
    """Move every file of ``staging`` into ``out`` (each by an atomic rename, all with signals deferred),
    remove figures of ``out`` (in ``figures/`` and ``paper/``) that the new report does not have, and remove
    ``staging``."""
    with signals_deferred():
        written = set()
        for source in sorted(p for p in staging.rglob("*") if p.is_file()):
            relative = source.relative_to(staging)
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            written.add(relative)
        for figures in (out / "figures", out / "paper"):
            if figures.is_dir():
                for stale in figures.iterdir():
                    if stale.suffix in (".svg", ".png") and stale.relative_to(out) not in written:
                        stale.unlink()
        shutil.rmtree(staging, ignore_errors=True)
