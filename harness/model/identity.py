"""Identity is content: what decides that a game, a flow or an update rule is the one measured before.

The harness keeps what it computed for a game, rule and flow (compiled kernels, the Jacobian's norm, the
guards' verdicts, the error series' coefficients) in memos keyed by the Python objects, and JAX keeps the
traced program of each jitted function (a game's fields are jitted) keyed by the function. Both go stale when
what a function computes changes under the same object: a global it reads is reassigned (a test's
monkeypatch, a notebook cell), an array it closes over is changed in place, a file or a module it imports is
edited. So:

- ``refresh`` runs at every check's entry (``harness.checks.run_check`` and ``run_checks``, hence
  ``harness.check``, ``check_all``, the command line and the pytest plugin; ``harness.model.game.validate``): it takes
  a *snapshot* of each game and user function of the checks, that is the code of every Python function they
  reach (through closures, defaults, ``functools.wraps`` and jit wrappers), the values of the globals that code
  names (attributes of the user's modules and classes too), the contents of numpy arrays, and the game's state
  and metadata. When a snapshot differs from the one last seen for that object, every memo of the harness and
  JAX's trace caches are cleared, so that the next measurement traces afresh. A snapshot costs tens of
  microseconds for a catalog game, a fresh trace milliseconds (a warm check of dirac_gan takes about 3 ms).
- a file (``path/to/file.py:NAME``) is identified by the hashes of its text and of the user modules it imports
  (harness.model.catalog.file_stamp): an edited file, or an edited helper module, is imported again.
- ``game_token`` (and harness.measure.kernel_cache.program_token) hash a fresh trace of a game's field and
  losses, or of a check's own rule and flow, with their constants (as the persistent kernel keys do,
  harness.measure.kernel_cache): what a resumed run must share with the saved one, and what tells two games of
  one name apart.

What a snapshot cannot see: state read through objects of installed libraries (their functions are compared
by identity), files or environment variables read while tracing, and what lies beyond ``BUDGET`` objects. An
object is compared with itself as the harness last saw it: one it has not seen is taken as it is (a game's
fields are jitted when the game is made, so only the user's own calls of them before could have been traced
with other values).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import jax
import numpy as np
from jax.extend import core as jcore

from harness.base.locations import library_roots

BUDGET = 200_000
"""The most objects one snapshot visits (beyond, the rest is compared by identity)."""
_DEPTH = 60
_KEEP = frozenset({"harness.base.result_cache.harness_source", "harness.measure.kernel_cache._cap_at_exit"})
"""Memos that depend on no game, rule or flow: not cleared."""
_CLEARS: list[Callable[[], Any]] = []
_LOCK = threading.RLock()
_SEEN: dict[int, tuple[Callable[[], Any], list]] = {}
"""id of a game or function -> (a reference to it, its last snapshot); weak where it takes weak references."""


def register(clear: Callable[[], Any]) -> Callable[[], Any]:
    """Have ``invalidate`` call ``clear`` (a memo that is not a functools cache of a harness module)."""
    _CLEARS.append(clear)
    return clear


# --- where code comes from --------------------------------------------------------------------------------


_USER: dict[str, bool] = {}


def is_user_module(module: types.ModuleType | None) -> bool:
    """Whether ``module`` is the user's code: a file outside the Python installation, its site-packages and the
    harness package (``__main__`` and modules without a file count as the user's when not built in)."""
    if module is None:
        return True
    name = getattr(module, "__name__", "")
    known = _USER.get(name)
    if known is not None:
        return known
    file = getattr(module, "__file__", None)
    if file is None:
        user = name == "__main__"
    else:
        user = not os.path.realpath(file).startswith(library_roots())
    _USER[name] = user
    return user


_USER_FILES: dict[str, bool] = {}


def _user_code(function: types.FunctionType) -> bool:
    """Whether a function's code is the user's (by its file: ``functools.wraps`` copies ``__module__``)."""
    file = function.__code__.co_filename
    known = _USER_FILES.get(file)
    if known is None:
        known = _USER_FILES[file] = not (os.path.isabs(file) and os.path.realpath(file).startswith(library_roots()))
    return known


_NAMES: dict[int, tuple[types.CodeType, tuple[str, ...]]] = {}


def _names(code: types.CodeType) -> tuple[str, ...]:
    """The global and attribute names ``code`` reads, its nested functions' included (sorted)."""
    entry = _NAMES.get(id(code))
    if entry is None or entry[0] is not code:
        names = set(code.co_names)
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                names.update(_names(constant))
        entry = _NAMES[id(code)] = (code, tuple(sorted(names)))
    return entry[1]


# --- snapshots ----------------------------------------------------------------------------------------------


class _Same:
    """An object compared by identity in a snapshot (kept alive by it, so its id is not reused)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


_SIMPLE = (type(None), bool, int, str, bytes)
_SKIPPED_CLASS_KEYS = frozenset({"__dict__", "__weakref__", "__doc__", "__module__", "__qualname__",
                                 "__annotations__", "__firstlineno__", "__static_attributes__"})


def _digest(array: np.ndarray) -> bytes:
    if array.dtype.hasobject:
        return repr(array.tolist()).encode()
    return hashlib.blake2b(np.ascontiguousarray(array).data.cast("B"), digest_size=16).digest()


class _Walk:
    def __init__(self) -> None:
        self.out: list = []
        self.seen: dict[int, int] = {}
        self.left = BUDGET

    def value(self, value: Any, depth: int = 0) -> None:
        out, kind = self.out, type(value)
        if kind in _SIMPLE:
            out.append((kind, value))
            return
        if kind is float:
            out.append((float, value.hex()))
            return
        if kind is complex:
            out.append((complex, value.real.hex(), value.imag.hex()))
            return
        if kind is types.CodeType:
            out.append(value)
            return
        index = self.seen.get(id(value))
        if index is not None:
            out.append(("again", index))
            return
        self.seen[id(value)] = len(self.seen)
        self.left -= 1
        if self.left < 0 or depth > _DEPTH:
            out.append(_Same(value))
            return
        depth += 1
        if kind is types.FunctionType:
            self.function(value, depth)
        elif isinstance(value, dict):
            out.append((kind, len(value)))
            for key, item in list(value.items()):
                self.value(key, depth)
                self.value(item, depth)
        elif isinstance(value, (tuple, list, set, frozenset)):
            out.append((kind, len(value)))
            for item in list(value):
                self.value(item, depth)
        elif isinstance(value, np.ndarray):
            out.append(("array", value.dtype.str, value.shape, _digest(value)))
        elif isinstance(value, np.generic):
            out.append(("scalar", value.dtype.str, value.tobytes()))
        elif isinstance(value, jax.Array):  # immutable
            out.append(_Same(value))
        elif isinstance(value, types.MethodType):
            out.append("method")
            self.value(value.__func__, depth)
            self.value(value.__self__, depth)
        elif isinstance(value, functools.partial):
            out.append("partial")
            self.value(value.func, depth)
            self.value(value.args, depth)
            self.value(value.keywords, depth)
        elif isinstance(value, type):
            out.append(_Same(value))
            if is_user_module(sys.modules.get(value.__module__)):
                for key, item in list(vars(value).items()):
                    if key not in _SKIPPED_CLASS_KEYS:
                        out.append(key)
                        self.value(item, depth)
        elif isinstance(value, (types.ModuleType, types.BuiltinFunctionType, np.ufunc)):
            out.append(_Same(value))  # a module's attributes are reached through the names code reads
        else:
            self.instance(value, depth)

    def instance(self, value: Any, depth: int) -> None:
        kind = type(value)
        self.value(kind, depth)
        try:
            attributes = object.__getattribute__(value, "__dict__")
        except AttributeError:
            attributes = None
        if isinstance(attributes, dict) and "__wrapped__" in attributes:  # a wrapper (jax.jit, functools.wraps)
            self.value(attributes["__wrapped__"], depth)
            return
        slots = [name for cls in kind.__mro__ for name in cls.__dict__.get("__slots__", ())
                 if name not in ("__dict__", "__weakref__")]
        if not isinstance(attributes, dict) and not slots:
            self.out.append(_Same(value))  # no Python state to compare: by identity
            return
        if isinstance(attributes, dict):
            self.value(attributes, depth)
        for name in slots:
            self.out.append(name)
            try:
                self.value(object.__getattribute__(value, name), depth)
            except AttributeError:
                self.out.append("unset")

    def function(self, function: types.FunctionType, depth: int) -> None:
        out = self.out
        code = function.__code__
        out.append(code)
        if function.__defaults__ is not None or function.__kwdefaults__ is not None:
            out.append("defaults")
            self.value(function.__defaults__, depth)
            self.value(function.__kwdefaults__, depth)
        for cell in function.__closure__ or ():
            try:
                self.value(cell.cell_contents, depth)
            except ValueError:  # an empty cell
                out.append("empty cell")
        if function.__dict__:
            self.value(function.__dict__, depth)
        if not _user_code(function):
            return
        names = _names(code)
        space = function.__globals__
        for name in names:
            if name not in space:
                continue
            item = space[name]
            out.append(name)
            if isinstance(item, types.ModuleType):
                self.module(item, names, depth)
            else:
                self.value(item, depth)

    def module(self, module: types.ModuleType, names: tuple[str, ...], depth: int) -> None:
        """A module a function names: by identity, and for the user's modules the attributes it may read."""
        self.out.append(_Same(module))
        if not is_user_module(module) or id(module) in self.seen:
            return
        self.seen[id(module)] = len(self.seen)
        attributes = vars(module)
        for name in names:
            if name in attributes:
                item = attributes[name]
                self.out.append(name)
                if isinstance(item, types.ModuleType):
                    self.module(item, names, depth + 1)
                else:
                    self.value(item, depth + 1)


def snapshot(value: Any) -> list:
    """What ``value`` (a game, a function) computes with, as a list compared with ``==`` (module docstring)."""
    walk = _Walk()
    items = getattr(value, "identity_items", None)
    if callable(items) and not isinstance(value, type):  # a game (harness.model.game.Game.identity_items)
        walk.value(type(value))
        walk.value(items())
    else:
        walk.value(value)
    return walk.out


def _last(value: Any) -> list | None:
    entry = _SEEN.get(id(value))
    return entry[1] if entry is not None and entry[0]() is value else None


def _forget(key: int, reference: weakref.ref) -> None:
    entry = _SEEN.get(key)
    if entry is not None and entry[0] is reference:
        del _SEEN[key]


def _remember(value: Any, shot: list) -> None:
    key = id(value)
    try:
        reference: Callable[[], Any] = weakref.ref(value, functools.partial(_forget, key))
    except TypeError:  # no weak references: kept alive
        reference = lambda: value  # noqa: E731
    _SEEN[key] = (reference, shot)


def refresh(games: Iterable[Any] = (), users: Iterable[Any] = ()) -> bool:
    """Compare each game and user function (``harness.model.user.UserFunction``) with its last snapshot and clear
    every memo when one changed (``invalidate``); return whether one did. An object seen for the first time
    is only remembered."""
    objects = [*games, *(getattr(user, "function", None) for user in users)]
    with _LOCK:
        changed = []
        for value in {id(o): o for o in objects if o is not None}.values():
            shot = snapshot(value)
            last = _last(value)
            if last is not None and last != shot:
                changed.append(value)
            _remember(value, shot)
        if changed:
            invalidate(changed)
    return bool(changed)


def invalidate(changed: Iterable[Any] = ()) -> None:
    """Clear JAX's trace and compilation caches in memory and every memo of the harness (its modules'
    functools caches but ``_KEEP``, and those ``register``-ed); forget what the ``changed`` games decided
    about themselves (whether they are affine)."""
    jax.clear_caches()
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "harness" or name.startswith("harness.")):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name and \
                    f"{name}.{getattr(value, '__qualname__', '')}" not in _KEEP:
                clear()
    for clear in _CLEARS:
        clear()
    for value in changed:
        forget = getattr(value, "forget_decisions", None)
        if callable(forget) and not isinstance(value, type):
            forget()


# --- tokens: a fresh trace, hashed -------------------------------------------------------------------------

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def add_program(digest, closed) -> None:
    """A traced program into ``digest``: its text and the values of its constants, those of the programs
    nested in it (a jitted helper, a loop's or a branch's body) included, which its text only names."""
    digest.update(str(closed.jaxpr).encode())
    _add_constants(digest, closed.jaxpr, closed.consts)


def _add_constants(digest, jaxpr, consts) -> None:
    for constant in consts:
        array = np.asarray(constant)
        digest.update(f"{array.dtype}{array.shape}".encode() + array.tobytes())
    for eqn in jaxpr.eqns:
        for value in eqn.params.values():
            for inner in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(inner, jcore.ClosedJaxpr):
                    _add_constants(digest, inner.jaxpr, inner.consts)
                elif isinstance(inner, jcore.Jaxpr):
                    _add_constants(digest, inner, ())



def add_trace(digest, function: Callable, *args, strict: bool = False) -> None:
    """A fresh trace of ``function`` (jit wrappers traced through, none of JAX's caches used) into
    ``digest``: the program's text and its constants (``add_program``). ``strict``: raise when it cannot be
    traced (else the failure's text goes in) or calls back into Python (a callback's code is not in the program)."""
    try:
        with jax.disable_jit():
            closed = jax.make_jaxpr(function)(*args)
    except Exception as exc:  # noqa: BLE001  the check itself says why, in one line (harness.verdict.guards)
        if strict:
            raise
        digest.update(_ADDRESS.sub("", f"fails to trace: {type(exc).__name__}: {exc}").encode())
        return
    text = str(closed.jaxpr)
    if strict and "callback" in text:
        raise ValueError("the program calls back into Python")
    digest.update(_ADDRESS.sub("", text).encode())
    _add_constants(digest, closed.jaxpr, closed.consts)


def _simple(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(map(_simple, value))
    return isinstance(value, (type(None), bool, int, float, str))


def game_token(game: Any, strict: bool = False) -> str:
    """A hash of what determines a game's numbers: its state, its simple metadata (``h_max``, ``linear``…)
    and a fresh trace of its field's JVP (its derivative and custom derivative rules) and of its losses
    (``strict``: as ``add_trace``'s)."""
    with jax.enable_x64(True):
        digest = hashlib.sha256()
        digest.update(repr((game.kind, game.dims, sorted((k, v) for k, v in game.metadata.items()
                                                          if k != "source" and _simple(v)))).encode())
        digest.update(game.phi0.tobytes() + game.theta0.tobytes())
        z = game.z0  # traced at numpy arguments: no program is compiled to place them
        add_trace(digest, lambda x, v: jax.jvp(game.field, (x,), (v,)), z, z, strict=strict)
        phi, theta = game.split(z)
        for loss in (game.loss1, game.loss2 if game.kind == "two-player" else None):
            if loss is not None:
                add_trace(digest, loss, phi, theta, strict=strict)
        return digest.hexdigest()


@functools.cache
def fingerprint(game: Any) -> str | None:
    """What the results kept across runs (harness.base.result_cache) know a game by: ``game_token(game,
    strict=True)``, once per game until a game or function changes (``invalidate``); None, and nothing kept, when
    its field or a loss cannot be traced or calls back into Python."""
    try:
        return game_token(game, strict=True)
    except Exception:  # noqa: BLE001  the checks themselves say why
        return None


def result_key(what: str, game: Any, *parts: Any) -> str | None:
    """The key of a result kept across runs (harness.base.result_cache): ``what`` is computed, the game's
    ``fingerprint`` and the inputs ``parts`` (each by its ``str``: floats exactly, arrays by
    ``result_cache.digest``); None, nothing kept, when the game has no fingerprint."""
    known = fingerprint(game)
    return None if known is None else "|".join([what, known, *map(str, parts)])


def exact_text(value: Any) -> str | None:
    """A text that tells ``value`` apart exactly, for a result's key: None, booleans, numbers (floats by ``repr``)
    and strings, and tuples, lists, dicts and dataclasses of them (field by field); None for anything else (a
    function, an array), whose ``repr`` would not."""
    if isinstance(value, (type(None), bool, int, float, str)):
        return repr(value)
    if isinstance(value, dict):
        value = tuple(value.items())
    if isinstance(value, (tuple, list)):
        parts = [exact_text(item) for item in value]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [exact_text(getattr(value, field.name)) for field in dataclasses.fields(value)]
    else:
        return None
    return None if None in parts else f"{type(value).__qualname__}({', '.join(parts)})"  # type: ignore[arg-type]
