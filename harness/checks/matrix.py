"""The check matrix file (TOML): ``[settings]`` and ``[[check]]`` tables, expanded into checks (``load_matrix``);
the matrices shipped with the harness (``BUNDLED_MATRICES``)."""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import fields
from pathlib import Path

from harness.base.errors import HarnessError, MatrixError
from harness.base.status import Status
from harness.checks.spec import CheckSpec, Settings, _integer, _real
from harness.flows import Flow
from harness.model.game import Game
from harness.model.user import is_file_spec, resolve
from harness.rules import OPTIONS
from harness.rules.schemes import FIELD_OPTIONS, Scheme

DEFAULT_MATRIX = Path(__file__).with_name("check_matrix.toml")
LITERATURE_MATRIX = Path(__file__).resolve().parents[2] / "literature" / "check_matrix.toml"
BUNDLED_MATRICES = {"default": DEFAULT_MATRIX, "large": Path(__file__).with_name("check_matrix_large.toml"),
                    "optimizers": Path(__file__).with_name("check_matrix_optimizers.toml"),
                    "literature": LITERATURE_MATRIX}
"""Matrix files shipped with the harness, by the name ``--matrix`` accepts in place of a path (``literature``:
the repository's literature/ catalog, present in a clone or an editable install)."""

_TABLE_KEYS = {"games", "exclude", "scheme", "first", "rates", "substeps", "beta", "flows", "expected_slope",
               "expected_status", "reason", "measure", "horizon", "cancel", "strengthen", "convention", "optimizer",
               "optimizer2", "regime", "step", "mu"} | {name for name in OPTIONS if name not in FIELD_OPTIONS}


def load_matrix(
    path: str | Path | None = None, games: dict[str, Game] | None = None
) -> tuple[Settings, list[CheckSpec]]:
    """Settings and the expanded list of checks of a matrix file (a path, or a name in BUNDLED_MATRICES;
    default: the default matrix) over ``games`` (name -> Game; the catalog when not given)."""
    from harness.model.catalog import catalog

    path = BUNDLED_MATRICES.get(str(path), Path(path)) if path else DEFAULT_MATRIX
    if path == LITERATURE_MATRIX and not path.is_file():
        raise MatrixError("the literature catalog is the repository's literature/ folder, which this installation "
                          "does not have: run from a clone (pip install -e .)")
    try:
        text = path.read_text()
    except OSError as exc:
        raise MatrixError(f"check matrix {str(path)!r} cannot be read: {exc.strerror}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MatrixError(f"check matrix {path}: {exc}") from exc
    catalog_games = catalog()
    games = catalog_games if games is None else games
    known = set(catalog_games) | set(games)
    table_lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[check]]"]
    unknown = set(document) - {"settings", "check"}
    if unknown:
        raise MatrixError(f"check matrix {path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    if not isinstance(document.get("settings", {}), dict):
        raise MatrixError(f"check matrix {path}: `settings` must be a table, written [settings], got "
                          f"{document['settings']!r}")
    checks = document.get("check", [])
    if not (isinstance(checks, list) and all(isinstance(table, dict) for table in checks)):
        shown = "a single table, written [check]" if isinstance(checks, dict) else repr(checks)
        raise MatrixError(f"check matrix {path}: `check` must be an array of tables, each written [[check]] (double "
                          f"brackets), got {shown}")
    try:
        settings = Settings(**document.get("settings", {}))
    except TypeError as exc:
        raise MatrixError(f"check matrix {path} [settings]: {exc}") from exc
    except HarnessError as exc:
        raise MatrixError(f"check matrix {path} [settings]: {exc}") from exc
    specs: list[CheckSpec] = []
    for index, table in enumerate(checks):
        where = f"{path}:{table_lines[index] if index < len(table_lines) else '?'}"
        try:
            specs.extend(_expand(table, games, known, path.parent))
        except HarnessError as exc:
            raise MatrixError(f"check matrix {where}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise MatrixError(f"check matrix {where}: malformed entry ({exc})") from exc
    return settings, specs


def _expand(table: dict, games: dict[str, Game], known: set[str], base: Path) -> list[CheckSpec]:
    """The checks of one [[check]] table over ``games``; names in the table must be ``known`` games; the
    paths of user rules and flows (file.py:NAME) are relative to the folder ``base`` of the matrix file."""
    unknown = set(table) - _TABLE_KEYS
    if unknown:
        settings = sorted(unknown & {f.name for f in fields(Settings)})
        hint = f" ({', '.join(settings)}: measurement settings, which go in [settings])" if settings else ""
        raise MatrixError(f"unknown key(s) {', '.join(sorted(unknown))}{hint}")
    if "scheme" not in table or "flows" not in table:
        raise MatrixError("each [[check]] needs `scheme` and `flows`")
    _check_values(table, known)
    selector = table.get("games", "*")
    if selector in ("*", "two-player", "single-objective"):
        names = [n for n, g in games.items()
                 if (selector == "*" or g.kind == selector) and not g.metadata.get("large")]
    elif isinstance(selector, list):
        missing = [n for n in selector if n not in known]
        if missing:
            raise MatrixError(f"unknown game(s) {', '.join(missing)}")
        names = [n for n in selector if n in games]
    else:
        raise MatrixError(f"`games` must be '*', 'two-player', 'single-objective' or a list, got {selector!r}")
    names = [n for n in names if n not in set(table.get("exclude", []))]
    single = [n for n in names if games[n].kind == "single-objective"]
    if "optimizer2" in table and single:
        raise MatrixError(f"`optimizer2` sets player 2's optimizer, but {', '.join(single)} "
                          f"{'is a single-objective game' if len(single) == 1 else 'are single-objective games'} (one "
                          "player, set by `optimizer`): select two-player games (games = \"two-player\") or leave out "
                          "optimizer2")
    flows = [Flow.of(name, base) for name in table["flows"]]
    rates = table.get("rates", [[1, 1]])
    substeps = table.get("substeps", [[1, 1]])
    for key, pairs, kind, example in (("rates", rates, _real, "[[1, 1], [1, 0.3]]"),
                                      ("substeps", substeps, _integer, "[[1, 1], [2, 1]]")):
        if not (isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 and all(map(kind, p))
                                                for p in pairs)):
            what = "numbers" if key == "rates" else "integers"
            raise MatrixError(f"`{key}` must be a list of pairs of {what} such as {example}, got {pairs!r}")
    scheme_name = table["scheme"]
    choices = [[(key, value) for value in _listed(table[key])] for key in ("optimizer", "optimizer2") if key in table]
    fixed = {key: table[key] for key in ("regime", "step", "mu") if key in table}
    specs = []
    for name, (lr1, lr2), (m, k), optimizers, flow in itertools.product(names, rates, substeps,
                                                                        itertools.product(*choices), flows):
        memory = {**fixed, **dict(optimizers)}
        if scheme_name == "alternating":
            scheme = Scheme("alternating", float(lr1), float(lr2), m, k, table.get("first", "phi"), **memory)
        elif is_file_spec(scheme_name):
            scheme = Scheme("user", float(lr1), float(lr2), m, k, table.get("first", "phi"),
                            float(table.get("beta", 0.0)), resolve(scheme_name, base))
        else:
            if (m, k) != (1, 1) or "first" in table:
                raise MatrixError(f"substeps and first apply to alternating updates only, not {scheme_name!r}")
            regulariser = {key: table[key] for key in ("cancel", "strengthen", "convention") if key in table}
            declared = {key: table[key] for key in OPTIONS if key in table and key not in FIELD_OPTIONS}
            scheme = Scheme(scheme_name, float(lr1), float(lr2), beta=float(table.get("beta", 0.0)), **regulariser,
                            **memory, options=declared)
        expected = table.get("expected_slope")
        specs.append(CheckSpec(name, scheme, flow, None if expected is None else float(expected),
                               table.get("expected_status", Status.PASS), table.get("reason", ""),
                               table.get("measure", "local"),
                               None if table.get("horizon") is None else float(table["horizon"])))
    return specs


_STRING_KEYS = ("scheme", "first", "reason", "expected_status", "measure", "convention", "regime")
_NUMBER_KEYS = ("beta", "cancel", "strengthen", "mu", "horizon", "expected_slope")


def _check_values(table: dict, known: set[str]) -> None:
    """MatrixError naming the key of a [[check]] table whose value has the wrong type: a string where a list
    belongs (it would be read character by character), true or false where a number belongs (TOML's booleans
    are not numbers here), an unknown game in ``exclude``."""
    for key in _STRING_KEYS:
        if key in table and not isinstance(table[key], str):
            raise MatrixError(f"`{key}` must be a string, got {table[key]!r}")
    for key in _NUMBER_KEYS:
        if key in table and not _real(table[key]):
            raise MatrixError(f"`{key}` must be a number, got {table[key]!r}")
    if "expected_slope" in table and not (math.isfinite(table["expected_slope"]) and table["expected_slope"] > 0):
        raise MatrixError(f"`expected_slope` must be a finite positive number, got {table['expected_slope']!r}")
    if "step" in table and not _integer(table["step"]):
        raise MatrixError(f"`step` must be an integer, got {table['step']!r}")
    for key, example in (("flows", '["gradient", "modified"]'), ("exclude", '["dirac_gan"]')):
        if key in table and not (isinstance(table[key], list) and all(isinstance(v, str) for v in table[key])):
            raise MatrixError(f"`{key}` must be a list of names such as {example}, got {table[key]!r}")
    if isinstance(table.get("games"), list) and not all(isinstance(v, str) for v in table["games"]):
        raise MatrixError(f"`games` must be a list of game names, got {table['games']!r}")
    missing = [n for n in table.get("exclude", []) if n not in known]
    if missing:
        raise MatrixError(f"unknown game(s) {', '.join(missing)} in `exclude`")
    for key in ("optimizer", "optimizer2"):
        if key in table and not all(isinstance(v, (str, dict)) for v in _listed(table[key])):
            raise MatrixError(f"`{key}` must be an optimizer such as \"adam(beta1=0.9)\" or a list of them, got "
                              f"{table[key]!r}")


def _listed(value) -> list:
    """A matrix value that may be given once or as a list of values to expand over."""
    return value if isinstance(value, list) else [value]


