"""Command line: ``harness list``, ``harness check``, ``harness report``.

Exit codes: 0 every check met its expectation, 1 at least one did not, 2 bad input (one line on stderr,
no traceback; set HARNESS_DEBUG=1 to see the traceback), 130 interrupted by Ctrl-C (SIGINT), 143 stopped by
SIGTERM (the finished checks saved; ``--resume`` continues, see harness.checks.resume).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import harness
from harness.base import cache_config, distributed, signals
from harness.base.errors import HarnessError, MatrixError, ResultsError, UsageError
from harness.base.files import atomic_write, json_target
from harness.base.parallel import MAX_JOBS, default_jobs
from harness.base.precision import float64
from harness.base.status import Status
from harness.checks import (
    DEFAULT_MATRIX,
    STATUSES,
    CheckResult,
    CheckSpec,
    Settings,
    load_matrix,
    results_document,
    run_checks,
    with_settings,
)
from harness.checks.budget import check_budget
from harness.checks.resume import (
    PARTIAL_NAME,
    Interrupted,
    PartialRun,
    interrupted,
    publish,
    run_saving,
    start,
    stop_on_sigterm,
)
from harness.checks.shards import merge, parse_shard, select
from harness.flows import FLOW_NAMES, Flow
from harness.model.catalog import catalog, chosen_games, validate_used
from harness.model.user import is_file_spec, load
from harness.rules import OPTIONS, RULES, help_text
from harness.rules.optimizers import Optimizer
from harness.rules.regimes import REGIMES
from harness.rules.schemes import FIELD_OPTIONS, SCHEME_NAMES, Scheme, scheme_keywords
from harness.verdict.fit import MAX_DECADES, MIN_DECADES
from harness.verdict.guards import EQUILIBRIUM
from harness.verdict.series import series_slope


class _ParserExit(SystemExit):
    """argparse's own exit (--help, --version, a bad flag), told apart from the SystemExit of user code."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"harness: error: {message}\n")

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            self._print_message(message, sys.stderr)
        raise _ParserExit(status)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value


def _integer_from(text: str, low: int, must: str) -> int:
    """An integer of at least ``low``; ``must`` says what it must be, for the one-line error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{text!r} must be {must}")
    return value


def _positive_int(text: str) -> int:
    return _integer_from(text, 1, "a positive integer")


def _seed(text: str) -> int:
    return _integer_from(text, 0, "a non-negative integer (the seed of the initial points)")


def _decades(text: str) -> float:
    value = _positive_float(text)
    if not MIN_DECADES <= value <= MAX_DECADES:
        raise argparse.ArgumentTypeError(
            f"{text!r} must be from {MIN_DECADES:g} to {MAX_DECADES:g}: the step sizes must span at least "
            f"{MIN_DECADES:g} decade for a slope to be fitted, and beyond {MAX_DECADES:g} decades the smaller steps "
            "only add errors at the float64 round-off floor")
    return value


def _optimizer(text: str) -> str:
    try:
        Optimizer.of(text)  # read and checked before any check runs; the text itself is kept
    except HarnessError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except HarnessError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _param(text: str) -> tuple[str, object]:
    """``NAME=VALUE``: VALUE an integer, a float, true/false, or else text."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE with NAME a Python identifier")
    value = value.strip()
    for parse in (int, float):
        try:
            number = parse(value)
        except ValueError:
            continue
        if isinstance(number, float) and not math.isfinite(number):
            raise argparse.ArgumentTypeError(f"{text!r}: the value must be finite")
        return name.strip(), number
    if value.lower() in ("true", "false"):
        return name.strip(), value.lower() == "true"
    return name.strip(), value


def _scheme_name(text: str) -> str:
    if text in SCHEME_NAMES and text != "user":
        return text
    if is_file_spec(text):
        try:
            load(text, "rule")  # the file and the function exist and match a notation, before any check runs
        except HarnessError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    raise argparse.ArgumentTypeError(f"unknown scheme {text!r}; choose one of "
                                     f"{', '.join(n for n in SCHEME_NAMES if n != 'user')} or path/to/file.py:NAME")


def _flow(text: str) -> Flow:
    try:
        return Flow(text)  # a user's flow is loaded (file, function, notation, order) before any check runs
    except HarnessError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


MEASUREMENT_FLAGS = ("points", "step_sizes", "decades", "h_max", "seed", "tolerance", "matrix")


def _add_measurement_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("measurement (defaults from the check matrix's [settings])")
    group.add_argument("--points", type=_positive_int, help="initial points per check (default 4)")
    group.add_argument("--step-sizes", type=_positive_int, help="step sizes per check (default 10)")
    group.add_argument("--decades", type=_decades,
                       help=f"decades spanned by the step sizes, {MIN_DECADES:g} to {MAX_DECADES:g} (default 1.5)")
    group.add_argument("--h-max", type=_positive_float, help="largest step size (default 0.1/|dF/dz|)")
    group.add_argument("--seed", type=_seed, help="seed of the initial points, a non-negative integer (default 0)")
    group.add_argument("--tolerance", type=_positive_float, help="allowed slope deviation (default 0.15)")
    group.add_argument("--no-budget", action="store_true",
                       help="run checks over the work budget anyway (m + k, update steps in sequence, points x step "
                       "sizes x state size, harness.checks.budget; by default refused before anything is compiled)")
    group.add_argument("--matrix", default=None,
                       help=f"check matrix file, or a bundled one: default ({DEFAULT_MATRIX.name}), large "
                       "(the games of 10^4 parameters and more), optimizers (every optimizer with memory on "
                       "every game) or literature (the published claims of literature/)")


def _add_jobs_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-j", "--jobs", type=_positive_int, default=default_jobs(),
                        help="threads building and running kernels at once (each helper thread's checks in a process "
                        "of its own when every game is the catalog's and no rule or flow is yours), and for a report "
                        "the processes drawing its figures (default: $HARNESS_JOBS, else the CPUs available, at most "
                        f"{MAX_JOBS}, here {default_jobs()}); the numbers do not depend on it")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Check that modified flows track discrete learning dynamics.")
    parser.add_argument("--version", action="version", version=f"harness {harness.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="list the game catalog")
    listing.add_argument("--json", action="store_true", help="print the catalog as JSON")

    check = commands.add_parser("check", help="run checks and exit 0 (all met), 1 (some not) or 2 (bad input)")
    check.add_argument("--game", action="append", help="catalog name or path/to/file.py:NAME (repeatable)")
    check.add_argument("--all", action="store_true", help="run the check matrix (over --game games if given)")
    check.add_argument("--literature", action="store_true",
                       help="run the literature catalog's claims (the same as --all --matrix literature)")
    check.add_argument("--watch", action="store_true",
                       help="run, then run again whenever a file named on the command line (game, rule, flow, terms, "
                       "matrix) changes, until Ctrl-C; what did not change is reused from memory")
    check.add_argument("--distributed", action="store_true",
                       help="one of several processes (one per host) that split each sweep over all their devices "
                       "(jax.distributed; they meet at $JAX_COORDINATOR_ADDRESS, their count and index from "
                       "$HARNESS_PROCESSES and $HARNESS_PROCESS_ID or the cluster's environment); the first prints "
                       "and writes")
    check.add_argument("--scheme", default="simultaneous", type=_scheme_name,
                       help=f"update rule: {', '.join(n for n in SCHEME_NAMES if n != 'user')}, or your own rule "
                       "path/to/file.py:NAME, rule(f, g, phi, theta, h, lr1, lr2) -> (phi', theta') or rule(V, z, h) "
                       "-> z'")
    check.add_argument("--lr1", type=_positive_float, default=1.0, help="relative rate alpha of player 1")
    check.add_argument("--lr2", type=_positive_float, default=1.0, help="relative rate lambda of player 2")
    _add_rule_options(check)
    check.add_argument("--optimizer", default="gd", type=_optimizer,
                       help="each player's optimizer (simultaneous, alternating, gd): gd (default), heavy_ball, "
                       "nesterov, nesterov_buffer, ema, rmsprop or adam, with parameters as in "
                       "'adam(beta1=0.9, beta2=0.99, eps=1e-8, eps_inside=true, bias_correction=false)'")
    check.add_argument("--optimizer2", default=None, type=_optimizer,
                       help="player 2's optimizer when it differs from --optimizer (e.g. 'heavy_ball(beta=0.5)')")
    check.add_argument("--regime", choices=REGIMES, default="on-flow",
                       help="where the state of a rule with memory starts: on-flow (default; previous iterate and "
                       "buffers on the checked flow) or cold (zero buffers, x_prev = x, as frameworks start)")
    check.add_argument("--step", type=_positive_int, default=None,
                       help="cold regime: measure the n-th step from the cold start (default 1)")
    check.add_argument("--flow", action="append", type=_flow,
                       help=f"flow to check: {', '.join(FLOW_NAMES)}, or your own path/to/file.py:NAME (repeatable; "
                       "default gradient and modified)")
    check.add_argument("--expected-slope", type=_positive_float,
                       help="override the expected slope (default: flow order + 2, or method order + 1 if larger; "
                       "one less for --measure global)")
    check.add_argument("--expected-status", choices=STATUSES,
                       help="the status a check must have to meet its expectation (default PASS: a clean fit at the "
                       "expected slope); EXACT where the flow should match the update to round-off")
    check.add_argument("--measure", choices=("local", "global"), default="local",
                       help="local error of one step (default), or global error after T/h steps to a horizon T")
    check.add_argument("--horizon", type=_positive_float,
                       help="the horizon T of --measure global (default 10 times the largest step size)")
    check.add_argument("--json", dest="json_path", help="write results as JSON to this path")
    check.add_argument("--quiet", action="store_true", help="no progress lines")
    check.add_argument("--progress", action="store_true",
                       help="progress lines on stderr even without a terminal (by default only on a terminal: the "
                       "results follow on stdout)")
    check.add_argument("--resume", action="store_true",
                       help="with --json PATH: continue an interrupted run from PATH.partial (its finished checks)")
    check.add_argument("--shard", type=_shard, metavar="I/N",
                       help="with --all: run shard I of N (1-based: 1/N to N/N), a deterministic share of the matrix "
                       "balanced by estimated cost, checks sharing a kernel kept together (harness.checks.shards); "
                       "--json PATH keeps it for --merge")
    check.add_argument("--param", action="append", type=_param, metavar="NAME=VALUE",
                       help="a plain value (number, true/false or text) for your rule and flow, passed to those that "
                       "name NAME as a keyword parameter (repeatable; shown in labels)")
    check.add_argument("--terms", action="append", metavar="FILE.py:NAME",
                       help="a term of your own for the error series' diagnosis, added to the tree basis: a function "
                       "in a user-flow notation returning a field, flow(V, z, h) (repeatable)")
    check.add_argument("--merge", nargs="+", metavar="FILE",
                       help="merge the shard files of check --shard ('part-*.json': patterns are expanded here) "
                       "instead of running checks: the table, --json PATH, exit code of the whole matrix")
    _add_jobs_flag(check)
    _add_measurement_flags(check)

    report = commands.add_parser("report", help="run the check matrix and write a report, or compare two results")
    report.add_argument("--out", default="reports/latest", help="output folder (default reports/latest)")
    report.add_argument("--game", action="append", help="restrict to these games (repeatable)")
    report.add_argument("--quiet", action="store_true", help="no progress lines")
    report.add_argument("--resume", action="store_true",
                        help=f"continue an interrupted run from OUT/{PARTIAL_NAME} (its finished checks)")
    report.add_argument("--literature", dest="with_literature", action="store_true",
                        help="also run the literature catalog's claims (literature/check_matrix.toml): the section "
                        "'Published flows, checked'")
    report.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                        help="compare two results.json files (or report folders) instead; exit 1 if a check "
                             "regressed")
    report.add_argument("--slope-tolerance", type=_positive_float, default=0.05,
                        help="with --compare: report slopes that moved by more than this (default 0.05)")
    report.add_argument("--from", dest="merge", nargs="+", metavar="FILE",
                        help="write the report of merged shard files of check --shard ('part-*.json': patterns are "
                        "expanded here) instead of running the check matrix; --game names game files for the "
                        "phase planes")
    _add_jobs_flag(report)
    _add_measurement_flags(report)

    cache = commands.add_parser("cache", help="where the caches are and how large (info), or empty them (clear)")
    cache.add_argument("action", choices=("info", "clear"))

    new_game = commands.add_parser("new-game", help="write a commented game file that passes `harness check`")
    new_game.add_argument("name", help="the game's name (a Python identifier)")
    new_game.add_argument("--path", help="file (.py) or folder to write to (default harness/games/NAME.py from the "
                          "repository root, where the catalog is, else NAME.py)")
    _add_derive_parser(commands)
    return parser


def _add_rule_options(parser) -> None:
    """A flag --NAME per option the rules declare (harness.rules), with its type, default and help."""
    for name, declared in OPTIONS.items():
        option = declared[0]
        kind = _positive_int if option.kind is int else (float if option.kind is float else str)
        parser.add_argument(f"--{name}", type=kind, default=option.default, choices=option.choices or None,
                            help=f"{help_text(name)} (default {option.default})")


def _rule_values(args) -> dict:
    """The rule options of parsed ``args``: the Scheme's fields, and the other options where given away from their
    defaults."""
    return {name: getattr(args, name) for name in OPTIONS
            if name in FIELD_OPTIONS or getattr(args, name) != OPTIONS[name][0].default}


def _add_derive_parser(commands) -> None:
    derive = commands.add_parser("derive", help="the modified field of a one-step update rule as a formula in the "
                                 "tree basis, identified and verified on random polynomial games")
    derive.add_argument("--scheme", default="simultaneous", type=_scheme_name,
                        help="one-step update rule: " + ", ".join(name for name, rule in RULES.items() if not (
                            rule.memory or rule.two_step or name in ("user", "random_reshuffling")))
                        + ", or your own rule path/to/file.py:NAME")
    derive.add_argument("--order", type=int, default=2,
                        help="through h^P (default 2; at most 3 for two players, 4 for one objective)")
    derive.add_argument("--players", type=int, choices=(1, 2), default=None,
                        help="2: the two-player basis in f and g (default), 1: one objective, f only (default for gd)")
    derive.add_argument("--lr1", type=_positive_float, default=1.0, help="relative rate alpha of player 1 (default 1)")
    derive.add_argument("--lr2", type=_positive_float, default=1.0, help="relative rate lambda of player 2 (default 1)")
    _add_rule_options(derive)
    derive.add_argument("--param", action="append", type=_param, metavar="NAME=VALUE",
                        help="a plain value for your rule, passed if it names NAME as a keyword parameter (repeatable)")
    derive.add_argument("--terms", action="append", metavar="FILE.py:NAME",
                        help="a term of your own added to the basis: a function in a user-flow notation returning a "
                        "field, flow(V, z, h) or flow(f, g, phi, theta, h, lr1, lr2) (repeatable)")
    derive.add_argument("--format", choices=("text", "latex", "json", "python"), default="text",
                        help="text (default: per player, per order, in the paper's notation), latex, json, or python "
                        "(a user-flow file of the derived flow, declared @harness.flow(order=P))")
    derive.add_argument("--out", help="write to this file instead of printing (a new file, or one derive wrote)")


def _settings(args, base: Settings) -> Settings:
    return with_settings(base, points=args.points, step_sizes=args.step_sizes, decades=args.decades,
                         h_max=args.h_max, seed=args.seed, tolerance=args.tolerance)


def _check_progress(args):
    """`harness check` prints its results on stdout; progress lines go to stderr on a terminal or with
    --progress (without a terminal they would repeat every result line), never with --quiet."""
    return _progress(args.quiet or not (args.progress or sys.stderr.isatty()))


def _progress(quiet: bool):
    def report(done: int, total: int, result: CheckResult) -> None:
        slope = "   —" if result.fit.slope is None else f"{result.fit.slope:5.2f}"
        mark = "ok " if result.passed else "NOT"
        print(f"[{done:>{len(str(total))}}/{total}] {mark} {result.fit.status:<17} slope {slope} "
              f"(expected {result.spec.expected_slope:g})  {result.spec.label}", file=sys.stderr, flush=True)

    return None if quiet else report


def _matrix_specs(args, games):
    settings, specs = load_matrix(args.matrix, games)
    if getattr(args, "with_literature", False):  # report --literature: the published claims beside the matrix
        literature_settings, claims = load_matrix("literature", games)
        if literature_settings != settings:
            raise MatrixError("--literature: the literature matrix's [settings] differ from the matrix's; run "
                              "harness report --matrix literature on its own")
        specs = specs + [claim for claim in claims if claim not in specs]
    if not specs:
        large = [name for name, game in games.items() if game.metadata.get("large")]
        hint = f" ({', '.join(large)}: large games, checked with --matrix large)" if large and args.game else ""
        raise MatrixError(f"the check matrix selects no checks for these games{hint}")
    validate_used(specs, games)
    return _settings(args, settings), specs


def command_list(args) -> int:
    games = catalog()
    if args.json:
        print(json.dumps([{"name": g.name, "kind": g.kind, "dims": list(g.dims), "description": g.description}
                          for g in games.values()], indent=2))
        return 0
    width = max(len(name) for name in games)
    for game in games.values():
        a, b = game.dims
        dims = f"{a}" if game.kind == "single-objective" else f"{a}+{b}"
        print(f"{game.name:<{width}}  {game.kind:<16}  dims {dims:<5}  {game.description}")
    return 0


def command_check(args) -> int:
    if not args.distributed:
        return _command_check(args)
    distributed.start()  # before any JAX computation (harness.base.distributed)
    args.jobs = 1  # every process launches its kernels in the same order
    if distributed.main_process():
        return _command_check(args)
    args.json_path, args.quiet = None, True
    with contextlib.redirect_stdout(io.StringIO()):  # the first process prints and writes
        return _command_check(args)


WATCH_INTERVAL = 0.1
"""Seconds between two looks at the watched files' modification times (harness check --watch)."""


def _watch(argv: list[str] | None, args) -> int:
    """``harness check --watch``: run, then again (parsing the command line afresh, so that edited files are read
    again) whenever a file of ``_input_files`` changes; a run or a parse that fails prints its one line and the
    watch goes on. Until Ctrl-C."""
    if args.distributed or args.merge or args.json_path or args.resume:
        raise UsageError("--watch runs the checks again and again on this process: leave out --distributed, --merge, "
                         "--json and --resume")
    files = _input_files(args)
    while True:
        if args is not None:
            try:
                command_check(args)
            except HarnessError as exc:
                print(f"harness: error: {exc}", file=sys.stderr)
        stamps = _stamps(files)
        sys.stdout.flush()
        print(f"harness: watching {', '.join(map(str, files)) or 'nothing'} (Ctrl-C stops)", file=sys.stderr,
              flush=True)
        _wait_for_change(files, stamps)
        try:  # a file that no longer loads prints its line (argparse's or the harness's) and waits for the next edit
            args = build_parser().parse_args(argv)
            files = _input_files(args)
        except (_ParserExit, HarnessError) as exc:
            if isinstance(exc, HarnessError):
                print(f"harness: error: {exc}", file=sys.stderr)
            args = None


def _wait_for_change(files: Sequence[Path], stamps: list[int | None]) -> None:
    """Return once the files' ``_stamps`` differ from ``stamps`` and have stayed the same for WATCH_INTERVAL (an
    editor's save is over)."""
    while _stamps(files) == stamps:
        time.sleep(WATCH_INTERVAL)
    settled = None
    while (now := _stamps(files)) != settled:
        settled = now
        time.sleep(WATCH_INTERVAL)


def _stamps(files: Sequence[Path]) -> list[int | None]:
    """Each file's modification time (None for a file that is missing)."""
    stamps: list[int | None] = []
    for file in files:
        try:
            stamps.append(file.stat().st_mtime_ns)
        except OSError:
            stamps.append(None)
    return stamps


def _command_check(args) -> int:
    if args.merge:
        return _check_merged(args)
    if args.literature:
        if args.matrix not in (None, "literature"):
            raise UsageError("--literature runs the literature catalog's matrix; leave out --matrix")
        args.all, args.matrix = True, "literature"
    if not args.all and not args.game:
        raise UsageError("give --game NAME (repeatable) or --all to run the check matrix")
    games = chosen_games(args.game or None)
    if args.shard and not args.all:
        raise UsageError("--shard I/N goes with --all (or --literature): it splits the check matrix")
    shard: dict = {}
    if args.all:
        _alone(args, "--all", ("expected_slope", "expected_status"), "runs the matrix, whose entries state their own "
               "expectations")
        settings, specs = _matrix_specs(args, games)
        if args.shard:
            specs, shard["shard"] = select(specs, games, settings, *args.shard)
            if not args.quiet:
                _note(f"shard {args.shard[0]}/{args.shard[1]}: {len(specs)} of {shard['shard']['checks']} checks")
    else:
        settings = _settings(args, Settings())
        name, rule = ("user", args.scheme) if is_file_spec(args.scheme) else (args.scheme, None)
        scheme = Scheme(name, args.lr1, args.lr2, rule=rule, optimizer=args.optimizer, optimizer2=args.optimizer2,
                        regime=args.regime, step=args.step, user_params=tuple(args.param or ()),
                        **scheme_keywords(_rule_values(args)))
        flows = args.flow or [Flow("gradient"), Flow("modified")]
        _one_player(args, games)
        if args.horizon is not None and args.measure != "global":
            raise UsageError("--horizon goes with --measure global")
        specs = [CheckSpec(name, scheme, flow, args.expected_slope, args.expected_status or Status.PASS,
                           measure=args.measure, horizon=args.horizon)
                 for name in games for flow in flows]
    if not args.no_budget:  # sizes that cannot finish: one line before anything is compiled (harness.checks.budget)
        check_budget(specs, games, settings, "--no-budget")
    if args.json_path:
        json_target(args.json_path, _input_files(args, specs))  # refused before anything runs
    if args.json_path:  # saved as it goes: an interrupted run continues with --resume
        partial = PartialRun(Path(args.json_path + ".partial"), specs, settings, games)
        results = run_saving(partial, games, start(partial, args.resume, _note), _check_progress(args), args.jobs,
                             processes=True)
    elif args.resume:
        raise UsageError("--resume needs --json PATH (the partial results are saved beside PATH)")
    else:
        results = run_checks(specs, games, settings, _counted(_check_progress(args), len(specs)), args.jobs,
                             processes=True)
    if not results and not args.shard:  # a run that checked nothing never passes (a shard may be empty)
        raise UsageError("nothing was checked: the run selected no checks")
    if args.terms:  # the diagnosis of each check whose flow departs from the rule, with the user's terms added
        from harness.api import with_terms

        results = [with_terms(r, games[r.spec.game], args.terms) for r in results]
    _print_table(results)
    if args.json_path:
        _write_json(Path(args.json_path), results_document(results, settings, **shard))
        partial.remove()
    return 0 if all(r.passed for r in results) else 1


def _counted(progress: Callable[[int, int, CheckResult], None] | None, total: int
             ) -> Callable[[int, int, CheckResult], None]:
    """``progress`` that also keeps the count of finished checks for the line of a signal (harness.base.signals)."""
    done = [0]
    signals.current_run(lambda: (done[0], total, None))

    def counted(index: int, count: int, result: CheckResult) -> None:
        done[0] = index
        if progress:
            progress(index, count, result)

    return counted


def _alone(args, flag: str, names: tuple[str, ...], why: str = "merges shard files as they were run") -> None:
    """Refuse the flags ``names`` (argparse destinations) given with ``flag``."""
    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) not in (None, False)]
    if given:
        raise UsageError(f"{flag} {why}: leave out {', '.join(given)}")


def _one_player(args, games) -> None:
    """Refuse --optimizer2 (player 2's optimizer) on a single-objective game, which has one player."""
    single = [name for name, game in games.items() if game.kind == "single-objective"]
    if args.optimizer2 is not None and single:
        raise UsageError(f"--optimizer2 sets player 2's optimizer, but {', '.join(single)} "
                         f"{'is a single-objective game' if len(single) == 1 else 'are single-objective games'} "
                         "(one player, set by --optimizer): leave out --optimizer2")


def _check_merged(args) -> int:
    """``harness check --merge FILE...``: the shards' results as one run of the whole matrix."""
    _alone(args, "--merge", ("all", "literature", "game", "shard", "resume", *MEASUREMENT_FLAGS))
    if args.json_path:
        json_target(args.json_path, _input_files(args))
    results, settings = merge(args.merge)
    _print_table(results)
    if args.json_path:
        _write_json(Path(args.json_path), results_document(results, settings))
    return 0 if all(r.passed for r in results) else 1


def command_report(args) -> int:
    if args.merge:
        _alone(args, "--from", ("compare", "resume", *MEASUREMENT_FLAGS))
    if args.compare:
        from harness.checks.compare import WORSE, compare, load_results, summary

        old, new = (load_results(path) for path in args.compare)
        changes = compare(old, new, args.slope_tolerance)
        print("\n".join(summary(old, new, changes)))
        return 1 if any(c.kind in WORSE for c in changes) else 0

    from harness.base.progress import ProgressBar
    from harness.report import claim, derived_in_background, paper, write_report

    games = chosen_games(args.game or None)
    partial = None
    facts: list = []  # the paper's slope checks the matrix lacks: run, saved and resumed with it
    if args.merge:  # the shards' results: nothing is run but the paper section, as below
        results, settings = merge(args.merge)
    else:
        settings, specs = _matrix_specs(args, games)
        if paper.covers([spec.game for spec in specs]):
            facts = paper.missing_specs(specs)
        if not args.no_budget:  # sizes that cannot finish: one line before anything is compiled (harness.checks.budget)
            check_budget(specs, games, settings, "--no-budget")
    claim(Path(args.out))  # a new, empty or earlier report's folder (refused before anything runs otherwise)
    if not args.merge:
        partial = PartialRun(Path(args.out) / PARTIAL_NAME, specs + facts, settings, games)
    reported = [r.spec.game for r in results] if args.merge else [spec.game for spec in specs]
    # the section "Modified flows, derived" depends on no measurement: derived in a process of its own meanwhile
    derived = derived_in_background() if paper.covers(reported) and args.jobs > 1 else None
    checks_progress: Callable[[int, int, CheckResult], None] | None
    figures_progress: Callable[[int, int, str], None] | None
    if args.quiet:
        checks_progress = figures_progress = None
    elif sys.stderr.isatty():
        bar = ProgressBar()

        def bar_progress(done: int, total: int, result: CheckResult) -> None:
            if not result.passed:
                bar.note(f"NOT {result.fit.status}: {result.spec.label}")
            bar(done, total, f"checks: {result.spec.label}")

        checks_progress = bar_progress
        figures_progress = bar
    else:
        checks_progress = _progress(False)

        def print_figures_progress(done: int, total: int, text: str) -> None:
            print(f"[{done}/{total}] {text}", file=sys.stderr, flush=True)

        figures_progress = print_figures_progress

    out = Path(args.out)
    if partial is not None:
        ran = run_saving(partial, games, start(partial, args.resume, _note), checks_progress, args.jobs,
                         processes=True)
        results, facts = ran[:len(ran) - len(facts)], ran[len(ran) - len(facts):]
    try:  # written aside, then moved into place: an interruption leaves the previous report as it was
        shutil.rmtree(out / ".staging", ignore_errors=True)  # an interrupted run's (in the report's own folder)
        write_report(results, settings, out / ".staging", games, figures_progress, paper_checks=facts,
                     derived_flows=derived, jobs=args.jobs)
        publish(out / ".staging", out)
    except KeyboardInterrupt as exc:
        raise interrupted(exc, len(results), len(results), None if partial is None else partial.path) from None
    if partial is not None:
        partial.remove()
    index = out / "index.md"
    failed = sum(not r.passed for r in results)
    print(f"report written to {index} and {index.with_suffix('.html')} ({len(results)} checks, "
          f"{failed} not as expected)")
    return 0 if failed == 0 else 1


def command_cache(args) -> int:
    from harness.measure import kernel_cache

    if cache_config.CACHE_PROBLEM:  # the warning line was printed when main turned the cache on
        print(f"the caches are off: {cache_config.cache_folder()} cannot be used ({cache_config.CACHE_PROBLEM})")
        return 0
    if args.action == "clear":
        count, size = kernel_cache.clear()
        print(f"removed {count} files ({size / 2**20:.1f} MB) from {cache_config.cache_folder()} (the caches' own "
              "entries; other files there are left alone)")
        return 0
    found = kernel_cache.usage()
    if found["folder"] is None:
        print("the caches are off (HARNESS_CACHE_DIR=off)")
        return 0
    print(f"cache folder: {found['folder']} (HARNESS_CACHE_DIR, else XDG_CACHE_HOME or ~/.cache)")
    kernels, programs = found["kernels"], found["programs"]
    print(f"traced kernels: {kernels['files']} files, {kernels['bytes'] / 2**20:.1f} MB (at most "
          f"{kernels['cap'] / 2**20:.1f} MB, HARNESS_CACHE_MAX_MB; least recently used evicted first)")
    print(f"compiled programs: {programs['files']} files, {programs['bytes'] / 2**20:.1f} MB (at most "
          f"{programs['cap'] / 2**20:.1f} MB, HARNESS_PROGRAMS_MAX_MB; least recently used evicted first)")
    return 0


def command_new_game(args) -> int:
    from harness.model.scaffold import in_catalog, write_game

    path = write_game(args.name, args.path)
    where = "into the catalog (`harness list` shows it)" if in_catalog(path) else "outside the catalog"
    print(f"wrote {path.as_posix()} {where}; edit the places marked EDIT HERE, then run: harness check --game "
          f"{path.as_posix()}:game")
    return 0


def _print_table(results: list[CheckResult]) -> None:
    print(f"{'met':<4}  {'measured status':<17} {'slope':>6} (expected, series)  check")
    for r in results:
        slope = "—" if r.fit.slope is None else f"{r.fit.slope:.3f}"
        verdict = Status.PASS if r.passed else Status.FAIL
        line = (f"{verdict:<4}  {r.fit.status:<17} {slope:>6} (exp {r.spec.expected_slope:g}, series "
                f"{series_slope(r.series)})  {r.spec.label}")
        if not r.passed and r.fit.reasons:
            line += f"  — {'; '.join(r.fit.reasons)}"
        elif any(EQUILIBRIUM in reason for reason in r.fit.reasons):
            line += f"  — note: {next(reason for reason in r.fit.reasons if EQUILIBRIUM in reason)}"
        print(line)
        if not r.passed and r.series is not None and r.series.differing_order is not None:
            for text in r.series.lines():  # the diagnosis, at most 4 lines
                print(f"      {text}")
    failed = sum(not r.passed for r in results)
    print(f"{len(results)} checks: {len(results) - failed} met their expectation, {failed} did not")


def command_derive(args) -> int:
    from harness.verdict.derivation import DERIVED_MARK, derive

    derivation = derive(args.scheme, args.order, players=args.players, terms=args.terms or (), lr1=args.lr1,
                        lr2=args.lr2, user_params=tuple(args.param or ()), **_rule_values(args))
    text = {"text": derivation.text, "latex": derivation.latex, "json": derivation.json,
            "python": derivation.python}[args.format]()
    if args.out is None:
        print(text)
    else:
        out = Path(args.out)
        if out.is_symlink() or (out.exists() and (not out.is_file() or DERIVED_MARK not in
                                                  out.read_text(errors="replace")[:400])):
            raise UsageError(f"--out {out} exists and was not written by harness derive; give a new file")
        atomic_write(out, text + "\n")
        print(f"wrote {out}" + (f": check it with harness check --game GAME --flow {out}:derived_flow and the rule "
                                "flags given here" if args.format == "python" else ""))
    return 0 if derivation.verified else 1


def _note(text: str) -> None:
    print(f"harness: {text}", file=sys.stderr, flush=True)


def _input_files(args, specs: Sequence[CheckSpec] = ()) -> list[Path]:
    """The files a run reads that are named on its command line or in its matrix: game, rule, flow and term
    files, the check matrix, the shard files of --merge."""
    from harness.checks import BUNDLED_MATRICES
    from harness.checks.shards import shard_files

    found = [Path(text.partition(".py")[0] + ".py") for text in args.game or [] if is_file_spec(text)]
    if is_file_spec(getattr(args, "scheme", "")):
        found.append(Path(args.scheme.partition(".py")[0] + ".py"))
    found += [Path(flow.user.file) for flow in getattr(args, "flow", None) or [] if flow.user is not None]
    found += [Path(text.partition(".py")[0] + ".py") for text in getattr(args, "terms", None) or []]
    for spec in specs:
        if spec.scheme.name == "user":
            found.append(Path(spec.scheme.user_rule.file))
        if spec.flow.user is not None:
            found.append(Path(spec.flow.user.file))
    if getattr(args, "all", False) or getattr(args, "literature", False):
        found.append(BUNDLED_MATRICES.get(str(args.matrix), Path(args.matrix)) if args.matrix else DEFAULT_MATRIX)
    if getattr(args, "merge", None):
        found += shard_files(args.merge)
    return list(dict.fromkeys(found))


def _write_json(path: Path, document: dict) -> None:
    """Write the results document to ``path`` atomically (a temporary file, then a rename: nothing is left
    behind), refused as ``json_target`` says."""
    json_target(str(path))  # checked again: the path may have changed while the checks ran
    try:
        atomic_write(path, json.dumps(document, indent=1) + "\n")
    except OSError as exc:
        raise ResultsError(f"cannot write --json {path}: {exc.strerror or exc}") from exc


def _origin(exc: BaseException) -> str:
    """``file:line`` where ``exc`` was raised: the innermost frame outside the harness and the installed
    libraries (the user's game, rule or flow file), else the innermost frame."""
    import sysconfig

    libraries = [str(Path(harness.__file__).resolve().parent)]
    libraries += [str(Path(path).resolve()) for name, path in sysconfig.get_paths().items()
                  if name in ("stdlib", "platstdlib", "purelib", "platlib")]
    found: tuple[str, int] | None = None
    last: tuple[str, int] | None = None
    trace = exc.__traceback__
    while trace is not None:
        file = trace.tb_frame.f_code.co_filename
        last = (file, trace.tb_lineno)
        if not file.startswith("<") and not any(str(Path(file).resolve()).startswith(lib) for lib in libraries):
            found = last
        trace = trace.tb_next
    where = found or last
    if where is None:
        return "an unknown place"
    file, line = where
    relative = os.path.relpath(file)
    return f"{file if relative.startswith('..') else relative}:{line}"


def _stopped_by_code(exc: BaseException) -> int:
    """A SystemExit, KeyboardInterrupt or other BaseException that code (not a signal) raised: one line, exit 2,
    never the exit code it carries (a game file calling sys.exit(0) must not pass a run)."""
    if isinstance(exc, SystemExit):
        what = f"SystemExit({exc.code!r}) (sys.exit)"
    elif isinstance(exc, KeyboardInterrupt):
        what = "KeyboardInterrupt (from code, not a Ctrl-C)"
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        what = f"{type(exc).__name__}" + (f": {first}" if first else "")
    print(f"harness: error: {what} raised at {_origin(exc)}: the run stopped there without a verdict (a game, rule "
          "or flow file must not exit or interrupt; HARNESS_DEBUG=1 shows the traceback)", file=sys.stderr)
    return 2


@float64
def main(argv: list[str] | None = None) -> int:
    """The command line: the exit code of ``harness ARGV`` (argparse's own exits raise SystemExit). ``argv`` None:
    this process is the command line itself (sys.argv): Ctrl-C or SIGTERM ends it within a second with one line
    (harness.base.signals), and threads still computing never hold its exit; a list: a call from Python, where a
    signal raises KeyboardInterrupt, turned into exit code 130 or 143."""
    hard = argv is None
    cache_config.enable_compilation_cache()
    with stop_on_sigterm(hard):
        code = _main(argv)
        if hard:
            _exit_past_threads(code)
    return code


def _exit_past_threads(code: int, wait: float = 2.0) -> None:
    """End the process with ``code`` if threads are still computing ``wait`` seconds on (a kernel that an
    error left running: Python would wait for it before exiting)."""
    deadline = time.monotonic() + wait
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _main(argv: list[str] | None) -> int:
    handlers = {"list": command_list, "check": command_check, "report": command_report,
                "new-game": command_new_game, "cache": command_cache, "derive": command_derive}
    try:  # parsing too: it imports the user's flow and rule files
        args = build_parser().parse_args(argv)
        if args.command == "check" and args.watch:
            return _watch(argv, args)
        return handlers[args.command](args)
    except _ParserExit:
        raise
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if signals.received() is None:  # no signal came: code raised it
            if os.environ.get("HARNESS_DEBUG"):
                raise
            return _stopped_by_code(exc)
        stop = interrupted(exc, 0, 0, None)
        print(f"harness: {stop}", file=sys.stderr)
        return stop.exit_code if isinstance(stop, Interrupted) else 130
    except Exception as exc:
        if os.environ.get("HARNESS_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"harness: error: {type(exc).__name__}: {first} (HARNESS_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 2
    except BaseException as exc:  # SystemExit, GeneratorExit...: user code, never its own exit code
        if os.environ.get("HARNESS_DEBUG"):
            raise
        return _stopped_by_code(exc)


if __name__ == "__main__":
    sys.exit(main())
