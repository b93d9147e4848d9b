"""Finding games: the catalog (every module of the ``games`` package) and files given as ``path.py:NAME``."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

from harness.base.errors import GameError, HarnessError
from harness.base.precision import float64
from harness.model.game import Game, validate
from harness.model.identity import game_token, is_user_module


def _games_in(module: ModuleType) -> list[Game]:
    found = [value for value in vars(module).values() if isinstance(value, Game)]
    for game in found:
        if not game.metadata.get("source") and module.__doc__:
            game.metadata["source"] = module.__doc__
    return found


@float64
def catalog() -> dict[str, Game]:
    """Every game defined at module level in the ``games`` package, by name, sorted."""
    try:
        package = importlib.import_module("harness.games")
    except ImportError as exc:
        raise GameError(f"the game catalog (package 'harness.games') cannot be imported: {exc}") from exc
    games: dict[str, Game] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        name = f"harness.games.{info.name}"
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise GameError(f"catalog file harness/games/{info.name}.py fails to import: {type(exc).__name__}: "
                            f"{exc}") from exc
        for game in _games_in(module):
            if game.name in games:
                raise GameError(f"two catalog games are named {game.name!r} (second in harness/games/{info.name}.py)")
            games[game.name] = game
    return dict(sorted(games.items()))


@float64
def load_file(path: str, what: str = "game file") -> ModuleType:
    """Import a Python file by path, with one-line errors (``what`` names the file in them)."""
    file = Path(path)
    if not file.is_file():
        raise GameError(f"{what} {path!r} does not exist")
    resolved = str(file.resolve())
    module_name = f"harness_user_{abs(hash(resolved))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise GameError(f"{path!r} is not an importable Python file")
    _forget_edited(resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    before = set(sys.modules)
    try:
        with _recording_imports() as named:
            spec.loader.exec_module(module)
        _IMPORTED[resolved] = _user_modules((set(sys.modules) - before) | named, module_name)
    except HarnessError as exc:  # a Game(...) at module level refused its arguments: say which, plainly
        del sys.modules[module_name]
        raise type(exc)(f"{what} {path!r}: {exc}") from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise GameError(f"{what} {path!r} fails to import: {type(exc).__name__}: {exc}") from exc
    return module


_IMPORTED: dict[str, tuple[tuple[str, str, str], ...]] = {}
"""A loaded file (resolved path) -> the user's modules it imported (name, file, hash of its text when loaded)."""


def _hash(file: str) -> str:
    try:
        return hashlib.sha256(Path(file).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def file_stamp(path: str | Path) -> tuple[tuple[str, str], ...]:
    """The hashes of the text of the file at ``path`` and of the user's modules it imported when it was last
    loaded (harness.model.identity.is_user_module): they say whether the file, or a helper it imports, was edited."""
    resolved = str(Path(path).resolve())
    return ((resolved, _hash(resolved)), *((file, _hash(file)) for _, file, _ in _IMPORTED.get(resolved, ())))


def _forget_edited(resolved: str) -> None:
    """Before a file is loaded again: when a module it imported was edited since, remove every user module it
    imported from ``sys.modules``, so that the file imports them afresh (they may import one another)."""
    imported = _IMPORTED.get(resolved, ())
    if any(_hash(file) != digest for _, file, digest in imported):
        for name, file, _ in imported:
            module = sys.modules.get(name)
            if module is not None and os.path.realpath(getattr(module, "__file__", "") or "") == file:
                del sys.modules[name]


@contextlib.contextmanager
def _recording_imports() -> Iterator[set[str]]:
    """The absolute names of the modules that import statements executed in the block name (those already
    imported included), with their parent packages and the names a ``from`` import takes from them."""
    original = builtins.__import__
    names: set[str] = set()

    def recording(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002 (the signature of __import__)
        module = original(name, globals, locals, fromlist, level)
        try:
            package = (globals or {}).get("__package__")
            full = importlib.util.resolve_name("." * level + name, package) if level else name
        except (ImportError, ValueError):
            return module
        parts = full.split(".")
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        names.update(f"{full}.{item}" for item in fromlist or () if isinstance(item, str))
        return module

    builtins.__import__ = recording
    try:
        yield names
    finally:
        builtins.__import__ = original


def _user_modules(names: Iterable[str], own: str) -> tuple[tuple[str, str, str], ...]:
    """The user's modules among ``names`` (in ``sys.modules``), as (name, file, hash of its text)."""
    found = []
    for name in sorted(names):
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if name != own and isinstance(module, ModuleType) and file and is_user_module(module):
            found.append((name, os.path.realpath(file), _hash(os.path.realpath(file))))
    return tuple(found)


def by_name(loaded: Iterable[tuple[str, Game]]) -> dict[str, Game]:
    """The games of (how each was given, game) pairs by name, each once; GameError when two different games
    (by what they compute, harness.model.identity.game_token) have one name: results are told apart by it."""
    games: dict[str, Game] = {}
    given: dict[str, str] = {}
    for label, game in loaded:
        other = games.get(game.name)
        if other is None:
            games[game.name], given[game.name] = game, label
        elif other is not game and game_token(other) != game_token(game):
            raise GameError(f"two different games are named {game.name!r} ({given[game.name]!r} and {label!r}), and "
                            "results are told apart by the game's name: rename one (the first argument of Game)")
    return games


@float64
def load_game(spec: str, check: bool = True) -> Game:
    """A game from a catalog name or ``path/to/file.py:NAME`` (NAME: a variable or a game's name; it
    may be left out when the file defines a single game). ``check`` validates it (harness.model.game.validate)."""
    if spec.endswith(".py") or ".py:" in spec:
        path, _, name = spec.partition(".py")
        path, name = path + ".py", name.lstrip(":")
        module = load_file(path)
        if name:
            game = getattr(module, name, None)
            if not isinstance(game, Game):
                matches = [g for g in _games_in(module) if g.name == name]
                if not matches:
                    available = ", ".join(sorted(k for k, v in vars(module).items() if isinstance(v, Game)))
                    raise GameError(f"{path!r} defines no game {name!r} (games there: {available or 'none'})")
                game = matches[0]
        else:
            games = _games_in(module)
            if len(games) != 1:
                raise GameError(f"{path!r} defines {len(games)} games; name one as {path}:NAME")
            game = games[0]
        if not game.metadata.get("source") and module.__doc__:
            game.metadata["source"] = module.__doc__
    else:
        known = catalog()
        if spec not in known:
            raise GameError(f"unknown game {spec!r}; `harness list` shows the catalog, or give path/to/file.py:NAME")
        game = known[spec]
    if check:
        validate(game)
    return game


def load(game: Game | str) -> Game:
    """A validated game from a ``Game`` or a spec (catalog name or ``path/to/file.py:NAME``)."""
    if isinstance(game, Game):
        validate(game)
        return game
    if isinstance(game, str):
        return load_game(game)
    raise GameError(f"a game is a harness.Game or a spec string (catalog name or file.py:NAME), got {game!r}")


def chosen_games(games: Iterable[Game | str] | None) -> dict[str, Game]:
    """The games named (``load``: validated) by name, each once (``by_name``), or with None the whole catalog
    (each validated by ``validate_used`` when a check uses it)."""
    if games is None:
        return catalog()
    return by_name((game if isinstance(game, str) else repr(game), load(game)) for game in games)


def validate_used(specs: Iterable, games: dict[str, Game]) -> None:
    """Validate the games that the check specs ``specs`` use (GameError, one line)."""
    for name in dict.fromkeys(spec.game for spec in specs):
        validate(games[name])
