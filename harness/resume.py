"""Nothing lost: finished checks saved as a run goes, a clean stop on Ctrl-C or SIGTERM, and ``--resume``.

A run of the check matrix (``harness report``, ``harness check --all --json PATH``) saves its finished
checks as it goes into a partial-results file (``OUT/partial-results.json``, or ``PATH.partial``), in JSON
Lines: a header with a fingerprint of what the run does (the harness version, the settings, every check
and the games' default states), then one line appended per finished check (signals deferred while it is
written; a line cut short by a crash is ignored). An interrupted run stops with one line (how many
checks were saved, how to resume) and exit code 130 (Ctrl-C, SIGINT) or 143 (SIGTERM); the previous
report or JSON file is left as it was, since the outputs are written only at the end (the report into a
staging folder, then moved into place). ``--resume`` loads the saved checks, refusing (exit 2) if the
fingerprint changed, and runs only the rest; the finished run removes the partial file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields
from pathlib import Path

from harness import __version__
from harness.checks import CheckResult, CheckSpec, Settings, run_checks
from harness.game import Game, GameError

PARTIAL_NAME = "partial-results.json"
PARTIAL_VERSION = 2
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(Exception):
    """A run stopped by a signal, with what was saved."""

    def __init__(self, signum: int, saved: int, total: int, path: Path | None, command: str = ""):
        self.signum, self.saved, self.total, self.path = signum, saved, total, path
        name = signal.Signals(signum).name
        if path is None:
            text = f"interrupted ({name}) after {saved} of {total} checks; nothing was saved"
        else:
            text = (f"interrupted ({name}) after {saved} of {total} checks; the {saved} finished checks are saved "
                    f"in {path}: run the same command with --resume to continue")
        super().__init__(text)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(signal.Signals(self.signum), 128 + self.signum)


def interrupted(exc: KeyboardInterrupt, saved: int, total: int, path: Path | None) -> Interrupted:
    """The Interrupted of a KeyboardInterrupt (Ctrl-C) or of SIGTERM."""
    signum = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
    return Interrupted(signum, saved, total, path if saved else None)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises _Terminated (a KeyboardInterrupt) in the main thread."""
    def handler(signum, frame):
        raise _Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (a file write is never cut in half)."""
    blocked = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    except (AttributeError, ValueError, OSError):  # no sigmask on this platform or thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def atomic_write(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, with signals deferred."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with signals_deferred():
        temporary.write_text(text)
        temporary.replace(path)


def spec_data(spec: CheckSpec) -> dict:
    """A check as plain data; a user's rule or flow by its source and a hash of its file (its fingerprint)."""
    data = {f.name: getattr(spec, f.name) for f in fields(spec)}
    data["scheme"], data["flow"] = spec.scheme.to_dict(), spec.flow.to_dict()
    if spec.scheme.name == "user":
        data["scheme"]["rule"] = spec.scheme.user_rule.fingerprint()
    if spec.flow.user is not None:
        data["flow"]["source"] = spec.flow.user.fingerprint()
    return json.loads(json.dumps(data))


def fingerprint(specs: list[CheckSpec], settings: Settings, games: dict[str, Game]) -> dict:
    """What a saved partial run must share with the run that resumes it."""
    names = list(dict.fromkeys(spec.game for spec in specs))
    return {
        "harness": __version__,
        "settings": asdict(settings),
        "checks": [spec_data(spec) for spec in specs],
        "games": {name: games[name].z0.tolist() for name in names if name in games},
    }


class PartialRun:
    """The partial-results file of one run of ``specs``."""

    def __init__(self, path: Path, specs: list[CheckSpec], settings: Settings, games: dict[str, Game]):
        self.path, self.specs, self.settings = Path(path), list(specs), settings
        self.fingerprint = fingerprint(self.specs, settings, games)

    def load(self) -> list[CheckResult]:
        """The saved checks (the first ones of ``specs``); GameError if they belong to another run."""
        try:
            header, *lines = self.path.read_text().splitlines()
            saved = json.loads(header)["fingerprint"]
            entries = []
            for line in lines:
                try:
                    entries.append(json.loads(line))
                except ValueError:  # the last line, cut short
                    break
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GameError(f"cannot resume from {self.path}: it is not a readable partial-results file "
                            f"({type(exc).__name__}); run without --resume to start over") from exc
        changed = [label for key, label in (("harness", "harness version"), ("settings", "settings"),
                                            ("checks", "check matrix (the list of checks)"),
                                            ("games", "games (their default states)"))
                   if saved.get(key) != self.fingerprint[key]]
        if changed or len(entries) > len(self.specs):
            raise GameError(f"cannot resume from {self.path}: the {' and the '.join(changed or ['check matrix'])} "
                            "changed since it was saved; run without --resume to start over")
        results = [CheckResult.from_dict(entry, self.settings) for entry in entries]
        if any(spec_data(result.spec) != spec_data(spec) for result, spec in zip(results, self.specs, strict=False)):
            raise GameError(f"cannot resume from {self.path}: its checks are not those of this run; run without "
                            "--resume to start over")
        for result, spec in zip(results, self.specs, strict=False):
            result.spec = spec  # the live check (a user's flow read back from JSON is only a record)
        return results

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
    results = partial.load()
    say(f"resuming: {len(results)} of {len(partial.specs)} checks loaded from {partial.path}")
    return results


def run_saving(
    partial: PartialRun, games: dict[str, Game], previous: list[CheckResult],
    progress: Callable[[int, int, CheckResult], None] | None = None, jobs: int = 1,
) -> list[CheckResult]:
    """Run the checks of ``partial`` after the ``previous`` ones in ``jobs`` threads (harness.checks.run_checks),
    saving after each in order; a signal stops the run with Interrupted (the finished checks saved)."""
    results = list(previous)
    total = len(partial.specs)
    partial.begin(results)

    def finished(done: int, _total: int, result: CheckResult) -> None:
        results.append(result)
        partial.append(result)
        if progress:
            progress(len(results), total, result)

    try:
        run_checks(partial.specs[len(results):], games, partial.settings, finished, jobs)
    except KeyboardInterrupt as exc:
        raise interrupted(exc, len(results), total, partial.path) from None
    return results


def publish(staging: Path, out: Path) -> None:
    """Move every file of ``staging`` into ``out`` (each by an atomic rename, all with signals deferred),
    remove figures of ``out`` that the new report does not have, and remove ``staging``."""
    with signals_deferred():
        written = set()
        for source in sorted(p for p in staging.rglob("*") if p.is_file()):
            relative = source.relative_to(staging)
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            written.add(relative)
        figures = out / "figures"
        if figures.is_dir():
            for stale in figures.iterdir():
                if stale.suffix in (".svg", ".png") and stale.relative_to(out) not in written:
                    stale.unlink()
        shutil.rmtree(staging, ignore_errors=True)
