"""Measurement kernels kept across runs, so that a second run skips tracing as well as compiling.

JAX's persistent compilation cache (turned on by the entry points, ``harness.enable_compilation_cache``) skips
XLA compilation, but a kernel must still be traced in Python before the cache can be consulted; for automatic
modified flows (Taylor-mode AD over the inlined update rule) tracing takes seconds. Here a kernel, once traced, is
serialised with ``jax.export`` into ``<compilation cache dir>/kernels/`` under a key that hashes everything
it depends on:

- the game and update rule, by their traced programs: the jaxpr (and captured constants) of the update step,
  and the game's fingerprint (harness.model.identity: the JVP of its field, with its derivative and any custom
  derivative rule, its losses, state and metadata);
- the kernel's own options (flow family, affine, regime), the argument shapes and dtypes; a user's flow
  by its traced program too (``family_key``);
- the harness source files, the JAX version and the platform.

Editing a game file, a rule or the harness gives a new key, never a stale kernel. A loaded kernel gives the
same numbers as a freshly traced one (tested). The cache is off with ``HARNESS_CACHE_DIR=off`` and when the
arguments are sharded over several devices. It holds at most ``HARNESS_CACHE_MAX_MB`` (default 256): beyond,
the least recently used kernels are removed. JAX's compiled programs beside it are capped at
``HARNESS_PROGRAMS_MAX_MB`` (default 1024) when a process that compiled a kernel exits (``evict_programs``:
JAX's own eviction needs an access-time file for every entry, which caches written without it lack).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import functools
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.cache_config import cache_limit_bytes, programs_limit_bytes
from harness.base.compiler import jit
from harness.base.result_cache import SUFFIX, digest, directory, harness_source, kept
from harness.model.game import Game
from harness.model.identity import add_program, add_trace, fingerprint
from harness.rules.base import Traced
from harness.rules.regimes import state_size
from harness.rules.schemes import update_map

LOADED = 32
"""Kernels kept compiled in memory, the most recently used: each compiled program holds hundreds of memory
mappings, and a process has about 65 000 (a long matrix run would otherwise exhaust them)."""
_MEMORY: collections.OrderedDict[Path, Callable] = collections.OrderedDict()
jax.export.register_namedtuple_serialization(Traced, serialized_name="harness.rules.base.Traced")


@functools.cache
def _field_key(game: Game) -> str:
    """The game's fingerprint (harness.model.identity: a fresh trace of its field's JVP and its losses, its state and
    metadata), which the kept results compute anyway; else (a field that calls back into Python) a trace of the
    field's JVP."""
    known = fingerprint(game)
    if known is not None:
        return known
    z = jnp.asarray(game.z0)
    digest = hashlib.sha256()
    add_program(digest, jax.make_jaxpr(lambda x, v: jax.jvp(game.field, (x,), (v,)))(z, z))
    return digest.hexdigest()


@functools.cache
def program_key(game: Game, structure: tuple) -> str:
    """Hash of the traced update step and of the field's JVP for ``game`` and a scheme ``structure`` (a
    rule with memory steps its lifted state, harness.rules.regimes)."""
    z = jnp.asarray(game.z0)
    h = np.zeros((), z.dtype)
    params = Traced.zeros(z.dtype)
    digest = hashlib.sha256(_field_key(game).encode())
    state = np.zeros(state_size(game, structure), z.dtype)
    add_program(digest, jax.make_jaxpr(update_map(game, structure))(state, h, params))
    return digest.hexdigest()


@functools.cache
def family_key(game: Game, structure: tuple, family: Any) -> str:
    """A flow family's part of a kernel's key: its name for the built-in families; for a user's flow
    (harness.flows.UserFamily) the hash of its traced field on ``game``, which holds the function's code,
    the constants it closes over and its keyword values."""
    from harness.flows import Family, family_field

    if isinstance(family, Family):
        return str(family)

    z = jnp.asarray(game.z0)
    field = family_field(game, structure, family)
    digest = hashlib.sha256()
    add_program(digest, jax.make_jaxpr(lambda x, h, p: field(x, h, p, ()))(z, jnp.zeros((), z.dtype),
                                                                             Traced.zeros(z.dtype)))
    return f"user:{digest.hexdigest()}"


def _arguments_key(args) -> str:
    leaves, tree = jax.tree_util.tree_flatten(args)
    shapes = [(np.shape(x), str(jnp.result_type(x)), getattr(x, "weak_type", False)) for x in leaves]
    return f"{tree}{shapes}"


def call(kernel: Any, key: str, args: tuple, runs_long: bool = False):
    """``kernel(*args)``, through the kernel kept under ``key`` and the arguments' shapes when there is one,
    keeping it otherwise; ``runs_long``: compiled with XLA's defaults (harness.base.compiler.jit), the same for
    every call of a ``key``."""
    folder = directory()
    on_devices = {d for x in jax.tree_util.tree_leaves(args) if isinstance(x, jax.Array) for d in x.devices()}
    if folder is None or len(on_devices) > 1:
        return kernel(*args)
    text = "|".join([key, _arguments_key(args), harness_source(), jax.__version__, jax.default_backend()])
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()}.jaxexport"
    compiled = _MEMORY.get(path)
    if compiled is not None:
        _MEMORY.move_to_end(path)
    else:
        try:
            exported = jax.export.deserialize(bytearray(path.read_bytes()))
            os.utime(path)  # used now: the least recently used kernels are evicted first
        except Exception:  # missing, unreadable or corrupt: trace it again  # noqa: BLE001
            exported = jax.export.export(kernel)(*args)
            _write(path, exported.serialize())
            _cap_at_exit(folder)
        compiled = _MEMORY[path] = jit(exported.call, runs_long=runs_long)
        while len(_MEMORY) > LOADED:
            _MEMORY.popitem(last=False)
    return compiled(*args)


def kept_call(kernel: Any, key: str, args: tuple, runs_long: bool = False) -> tuple[np.ndarray, ...]:
    """``call(kernel, key, args, runs_long)``'s outputs (a tuple of arrays), kept across runs
    (harness.base.result_cache) by the kernel's key (its traced programs, as ``call`` keeps the kernel) and the
    arguments' structure, weak types, shapes and values: a warm run reads them instead of loading and running the
    kernel. Not kept when the arguments span several devices (as ``call``: the kernel is not kept then either; the
    outputs are then JAX's arrays, which may span several processes)."""
    leaves, tree = jax.tree_util.tree_flatten(args)
    outputs = lambda: tuple(jax.tree_util.tree_leaves(call(kernel, key, args, runs_long)))  # noqa: E731
    if len({d for x in leaves if isinstance(x, jax.Array) for d in x.devices()}) > 1:
        return outputs()
    weak = [getattr(x, "weak_type", False) for x in leaves]
    return kept(f"kernel values|{key}|{tree}|{weak}|{digest(*leaves)}", outputs)


def evict(folder: Path, limit: int) -> list[Path]:
    """Remove the least recently used kernels (oldest modification time, which ``call`` refreshes on use)
    until ``folder`` holds at most ``limit`` bytes of them; return the removed paths."""
    return _evict([(path, path) for pattern in ("*.jaxexport", "*.derivation.json", f"*{SUFFIX}")
                   for path in folder.glob(pattern)], limit)


def evict_programs(folder: Path, limit: int) -> list[Path]:
    """Remove JAX's least recently used compiled programs (``NAME-cache`` files in ``folder``; recency is the
    modification time of JAX's ``NAME-atime`` file where there is one, else of the entry) until they hold at
    most ``limit`` bytes; an entry's ``-atime`` file goes with it. Return the removed entries."""
    entries = []
    for path in folder.glob("*-cache"):
        stamp = path.with_name(path.name.removesuffix("-cache") + "-atime")
        entries.append((path, stamp if stamp.exists() else path))
    removed = _evict(entries, limit)
    for path in removed:
        with contextlib.suppress(OSError):
            path.with_name(path.name.removesuffix("-cache") + "-atime").unlink()
    return removed


def _evict(entries: list[tuple[Path, Path]], limit: int) -> list[Path]:
    """Remove (entry, recency file) pairs' entries, oldest recency first, until the entries hold at most
    ``limit`` bytes; return the removed entries."""
    files = []
    for path, stamp in entries:
        try:
            files.append((stamp.stat().st_mtime, path.stat().st_size, path))
        except OSError:
            continue
    total = sum(size for _, size, _ in files)
    removed = []
    for _, size, path in sorted(files):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
        total -= size
    return removed


@functools.cache
def _cap_at_exit(folder: Path) -> None:
    """Once per process: cap the kernels and results in ``folder`` and JAX's compiled programs in its parent when
    the process exits (not after each kernel written: a scan of the folder costs in proportion to its files)."""
    atexit.register(lambda: (evict(folder, cache_limit_bytes()), evict_programs(folder.parent, programs_limit_bytes())))


def _write(path: Path, data: bytes | bytearray) -> None:
    """Write through a temporary file and a rename (a concurrent reader never sees half a kernel)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


_KERNEL_FILE = re.compile(r"\.?[0-9a-f]{64}\.(jaxexport|derivation\.json|result\.json)(\.\d+(\.[0-9a-f]+)?\.tmp)?")
"""A kept kernel (``call``), derivation or result (harness.base.result_cache), or one being written (a temporary
file)."""
_PROGRAM_FILE = re.compile(r".+-[0-9a-f]{32,}-(cache|atime)")
"""JAX's compiled program ``NAME-HASH-cache`` and its access-time file ``NAME-HASH-atime`` (jax._src.lru_cache)."""
JAX_FILES = (".lockfile", "xla_gpu_kernel_cache_file")
"""Other files JAX keeps in its compilation cache folder: the lock of its eviction, XLA's GPU kernel cache."""
JAX_FOLDERS = ("xla_gpu_per_fusion_autotune_cache_dir",)
"""Folders of XLA's own caches in it (GPU autotuning results), wholly JAX's."""


def _entries(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """The caches' own entries in ``folder``: the kernel files, JAX's program files, and JAX's folders (their
    files listed among the programs; a folder that is a symbolic link is left alone). Nothing else: a user's
    files in the same folder are never among them."""
    def plain(path: Path) -> bool:
        return path.is_file() or path.is_symlink()

    kernels = [p for p in (folder / "kernels").glob("*") if _KERNEL_FILE.fullmatch(p.name) and plain(p)]
    programs = [p for p in folder.glob("*") if (_PROGRAM_FILE.fullmatch(p.name) or p.name in JAX_FILES) and plain(p)]
    folders = [folder / name for name in JAX_FOLDERS if (folder / name).is_dir() and not (folder / name).is_symlink()]
    for inner in folders:
        for root, _, names in os.walk(inner):  # symbolic links to folders are not followed
            programs += [Path(root) / name for name in names]
    return kernels, programs, folders


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def usage() -> dict:
    """The caches on disk: the folder, and for the kernels (``kernels/``, with their cap) and JAX's compiled
    programs (its other entries) their file count and size in bytes; ``{"folder": None}`` when the caches are
    off. Only the caches' own entries count (``_entries``)."""
    base = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    if not base:
        return {"folder": None}
    folder = Path(base)
    kernels, programs, _ = _entries(folder)
    return {"folder": str(folder),
            "kernels": {"files": len(kernels), "bytes": sum(map(_size, kernels)), "cap": cache_limit_bytes()},
            "programs": {"files": len(programs), "bytes": sum(map(_size, programs)), "cap": programs_limit_bytes()}}


def clear() -> tuple[int, int]:
    """Remove the caches' own entries (``_entries``: kernels, JAX's compiled programs and its other files and
    folders), never other files or folders of the cache folder; return (files, bytes) removed."""
    base = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    if not base or not Path(base).is_dir():
        return 0, 0
    folder = Path(base)
    kernels, programs, folders = _entries(folder)
    count = size = 0
    for path in kernels + programs:
        bytes_ = _size(path)
        with contextlib.suppress(OSError):
            path.unlink()
            count, size = count + 1, size + bytes_
    for inner in folders:  # JAX's folders, emptied above: removed bottom-up while empty
        for root, _, _ in sorted(os.walk(inner), key=lambda walked: -len(Path(walked[0]).parts)):
            with contextlib.suppress(OSError):
                Path(root).rmdir()
    with contextlib.suppress(OSError):
        (folder / "kernels").rmdir()  # only when empty: nothing but kernels was there
    _MEMORY.clear()
    return count, size


def program_token(spec: Any, game: Any) -> str | None:
    """A hash of a fresh trace of the user's rule and flow of the check ``spec`` on ``game`` (None when it
    has neither): their code, the constants and globals they read, the modules they call."""
    from harness.flows import UserFamily, family_field
    from harness.model.user import initial_velocity_function, second_order_function

    scheme, flow = spec.scheme, spec.flow
    if scheme.name != "user" and flow.user is None:
        return None
    with jax.enable_x64(True):
        digest = hashlib.sha256()
        z = jnp.asarray(game.z0)
        params = scheme.params
        h = jnp.zeros((), z.dtype)
        if scheme.name == "user":
            digest.update(b"rule")
            add_trace(digest, update_map(game, scheme.structure), z, h, params)
        if flow.user is not None and flow.second_order:
            digest.update(b"second-order flow")
            keywords = flow.user.keywords_from(scheme)
            add_trace(digest, second_order_function(flow.user, game, keywords), z, z, h, h, params)
            add_trace(digest, initial_velocity_function(flow.user, game, keywords), z, h, params)
        elif flow.user is not None:
            digest.update(b"flow")
            field = family_field(game, scheme.structure, UserFamily(flow.user, flow.user.keywords_from(scheme)))
            add_trace(digest, lambda x, step, p: field(x, step, p, ()), z, h, params)
        return digest.hexdigest()
