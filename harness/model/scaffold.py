"""``harness new-game NAME``: write a commented game file that passes ``harness check`` as written.

The file defines one ``harness.Game`` named NAME at module level, in a variable ``game``; the places to
edit are marked ``EDIT HERE``. Written into ``harness/games/`` (the catalog, when run from the repository root)
or to a given path; an existing file is never overwritten.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = write_game("my_game", folder)
>>> path.name, "EDIT HERE" in path.read_text()
('my_game.py', True)
>>> write_game("my_game", folder)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
harness.base.errors.UsageError: .../my_game.py already exists; choose another name or --path (nothing was written)
>>> write_game("my-game", folder)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
harness.base.errors.UsageError: game name 'my-game' is not a Python identifier (letters, digits and _, ...)
"""

from __future__ import annotations

import keyword
import sys
from pathlib import Path

from harness.base.errors import UsageError

DEFAULT_FOLDER = Path("harness/games")

TEMPLATE = '''"""{name}: EDIT HERE, one line that says what this game is (`harness list` shows this line).

EDIT HERE: where the game comes from (paper, section, equation) and what makes it worth checking.

Written by `harness new-game {name}`. As written it is a small nonlinear zero-sum game that passes
`harness check --game {check_spec}`; edit the places marked EDIT HERE, then run that command again.
"""

import jax.numpy as jnp

from harness import Game

# Player 1 has parameters phi, player 2 has theta: flat 1-D float64 arrays (jnp arrays inside the losses).
# Losses are plain JAX functions that return a float64 scalar; the harness differentiates them itself
# (f = -grad_phi loss1, g = -grad_theta loss2). No float32 casts, no integer casts, no stop_gradient.


def loss1(phi, theta):
    """Player 1 minimises this over phi. EDIT HERE."""
    return phi @ theta + 0.1 * jnp.sum(phi**2 * theta)


def loss2(phi, theta):
    """Player 2 minimises this over theta. EDIT HERE (as written: zero-sum, -loss1)."""
    return -loss1(phi, theta)


game = Game(
    "{name}",  # the name of `harness list` and `harness check --game {name}`; unique in the catalog
    loss1,
    loss2,
    phi0=[0.5, -0.3],  # EDIT HERE: the default state, away from equilibria (at an equilibrium every
    theta0=[0.4, 0.2],  # error is zero); the harness also measures from 3 seeded points near it
    # h_max=0.05,  # optional: largest step size (default 0.1 / |dF/dz| at the default state)
    # linear=True,  # optional: override the automatic detection of affine fields (solved by expm)
)

# Other kinds of game (keep exactly one Game at module level in this file):
#   a single objective (implicit gradient regularisation), checked with --scheme gd:
#       from harness import single_objective
#       game = single_objective("{name}", lambda x: jnp.sum(x**4) + x[0] * x[1], x0=[0.5, -0.3])
#   a game given by its vector fields (non-gradient dynamics):
#       game = Game.from_fields("{name}", lambda phi, theta: theta, lambda phi, theta: -phi, [0.5], [0.4])
'''


def check_name(name: str) -> None:
    """Raise UsageError unless ``name`` is a valid Python identifier (and not a keyword)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise UsageError(f"game name {name!r} is not a Python identifier (letters, digits and _, not starting "
                         "with a digit)")
    if keyword.iskeyword(name):
        raise UsageError(f"game name {name!r} is a Python keyword; choose another")


def in_catalog(path: Path) -> bool:
    """Whether ``path`` lies in the folder of the catalog package ``harness.games`` (then ``harness list`` finds
    it)."""
    import harness.games

    return path.resolve().parent in [Path(p).resolve() for p in harness.games.__path__]


def target_path(name: str, path: str | Path | None = None) -> Path:
    """Where ``write_game`` writes: by default ``harness/games/NAME.py`` when ``./harness/games`` is the catalog
    (run from the repository root of an editable install), else ``NAME.py`` in the working directory; ``path``
    is a file (``.py``) or a folder (then ``folder/NAME.py``)."""
    if path is None:
        catalog_file = DEFAULT_FOLDER / f"{name}.py"
        return catalog_file if in_catalog(catalog_file) else Path(f"{name}.py")
    path = Path(path)
    if path.suffix == ".py":
        return path
    return path / f"{name}.py"


def render(name: str, path: str | Path) -> str:
    """The file's text for game ``name`` written at ``path``."""
    check_name(name)
    return TEMPLATE.format(name=name, check_spec=f"{Path(path).as_posix()}:game")


def write_game(name: str, path: str | Path | None = None) -> Path:
    """Write the game file (see the module docstring) and return its path. Raises UsageError with one
    line for a bad name, an existing file or a catalog name already taken."""
    check_name(name)
    target = target_path(name, path)
    if target.exists():
        raise UsageError(f"{target} already exists; choose another name or --path (nothing was written)")
    _refuse_shadowing(target)
    _refuse_catalog_duplicate(name, target)
    text = render(name, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "x", encoding="utf-8") as file:  # "x": never overwrite, even in a race
            file.write(text)
    except FileExistsError:
        raise UsageError(f"{target} already exists; choose another name or --path (nothing was written)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from exc
    return target


SHADOWED = frozenset({"harness", "harness_pytest", "jax", "jaxlib", "numpy", "scipy", "diffrax", "equinox",
                      "matplotlib", "flatbuffers", "optax", "pytest", "hypothesis"}
                     ) | frozenset(sys.stdlib_module_names)
"""Top-level modules a game file must not be named after: the harness's own packages, its dependencies and the
standard library. A file ``harness.py`` (or ``json.py``...) is imported in place of the real module whenever its
folder comes first on ``sys.path`` (``python -m harness`` run there), and the harness then fails to start."""


def _refuse_shadowing(target: Path) -> None:
    module = target.stem
    if module in SHADOWED:
        kind = "the standard library's module" if module in sys.stdlib_module_names else "the package"
        raise UsageError(f"a game file named {target.name} would shadow {kind} {module!r} (Python imports the file "
                         "in its place when run from that folder); choose another name or --path (nothing was written)")


def _refuse_catalog_duplicate(name: str, target: Path) -> None:
    """A file written into the catalog package must not reuse a catalog game's name (the catalog would
    then refuse to load)."""
    if not in_catalog(target):
        return
    from harness.model.catalog import catalog

    if name in catalog():
        raise UsageError(f"the catalog already has a game named {name!r}; choose another name (nothing was written)")
