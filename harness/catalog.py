"""Finding games: the catalog (every module of the ``games`` package) and files given as ``path.py:NAME``."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from harness.game import Game, GameError, validate
from harness.precision import float64


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
        package = importlib.import_module("games")
    except ImportError as exc:
        raise GameError(f"the game catalog (package 'games') cannot be imported: {exc}") from exc
    games: dict[str, Game] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        name = f"games.{info.name}"
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise GameError(f"catalog file games/{info.name}.py fails to import: {type(exc).__name__}: {exc}") from exc
        for game in _games_in(module):
            if game.name in games:
                raise GameError(f"two catalog games are named {game.name!r} (second in games/{info.name}.py)")
            games[game.name] = game
    return dict(sorted(games.items()))


@float64
def load_file(path: str, what: str = "game file") -> ModuleType:
    """Import a Python file by path, with one-line errors (``what`` names the file in them)."""
    file = Path(path)
    if not file.is_file():
        raise GameError(f"{what} {path!r} does not exist")
    module_name = f"harness_user_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise GameError(f"{path!r} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except GameError as exc:  # a Game(...) at module level refused its arguments: say which, plainly
        del sys.modules[module_name]
        raise GameError(f"{what} {path!r}: {exc}") from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise GameError(f"{what} {path!r} fails to import: {type(exc).__name__}: {exc}") from exc
    return module


@float64
def load_game(spec: str, check: bool = True) -> Game:
    """A game from a catalog name or ``path/to/file.py:NAME`` (NAME: a variable or a game's name; it
    may be left out when the file defines a single game). ``check`` validates it (harness.game.validate)."""
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
