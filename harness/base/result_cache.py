"""Results kept across runs: the small computations of a check that depend on nothing but the game, the rule's
parameters, the flow and the harness's own code (the guards' verdicts, |dV/dz|, the error series' coefficients),
read by a warm run instead of tracing and compiling the programs that compute them.

An entry is the file ``<sha256 of its key>.result.json`` in the kernel folder (``directory``:
``<compilation cache>/kernels/``, beside the kernels of harness.measure.kernel_cache, under their cap and cleared
with them; none when the caches are off: ``HARNESS_CACHE_DIR=off``). Its key is

- the caller's text: what is computed and every input it reads, that is the game by its fingerprint
  (harness.model.identity.fingerprint: a fresh trace of its field's JVP and its losses, their constants, its
  state and metadata), a user's function by its files' texts and a fresh trace, every parameter value exactly
  (``repr`` of floats), and arrays by ``digest`` (dtype, shape and bytes);
- then what every entry shares (``environment``): the harness's version, a hash of its source files, the JAX
  and jaxlib versions, the platform and its device kind, ``XLA_FLAGS`` and whether float64 is on.

So an edited game, flow, rule or harness file gives another key, never a stale result. An entry is read back only
when the key stored in it equals the one asked for; a missing, truncated or corrupt file is a miss (the caller
computes again and rewrites it). Values are arrays stored bit for bit. Callers keep only results that succeeded:
a guard that fails raises, and is run again next time.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import jax
import jaxlib
import numpy as np

from harness.base.files import atomic_write
from harness.base.version import __version__

SUFFIX = ".result.json"


def directory() -> Path | None:
    """Where kernels and results are kept: ``kernels/`` in JAX's compilation cache directory (None when it is
    off)."""
    base = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    return Path(base) / "kernels" if base else None


@functools.cache
def harness_source() -> str:
    """A hash of the harness package's source files (their paths and texts)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@functools.cache
def _platform() -> str:
    return f"{jax.default_backend()}:{jax.devices()[0].device_kind}"


def environment() -> str:
    """What every entry's key ends with: the harness's version and source hash, the JAX and jaxlib versions, the
    platform and device kind, ``XLA_FLAGS`` (they may change how a program computes) and whether float64 is on."""
    return "|".join([__version__, harness_source(), jax.__version__, jaxlib.__version__, _platform(),
                     os.environ.get("XLA_FLAGS", ""), str(jax.config.jax_enable_x64)])  # type: ignore[attr-defined]


def digest(*arrays) -> str:
    """A hash of arrays' dtypes, shapes and bytes (a key's part for array inputs)."""
    found = hashlib.sha256()
    for array in map(np.asarray, arrays):
        found.update(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    return found.hexdigest()


def _path(key: str) -> tuple[Path, str] | None:
    folder = directory()
    if folder is None:
        return None
    full = f"{key}|{environment()}"
    return folder / f"{hashlib.sha256(full.encode()).hexdigest()}{SUFFIX}", full


def get(key: str) -> tuple[np.ndarray, ...] | None:
    """The arrays kept under ``key``, bit for bit as ``put`` was given them; None when the caches are off or
    there is no readable entry with that key."""
    where = _path(key)
    if where is None:
        return None
    path, full = where
    try:
        entry = json.loads(path.read_text())
        if entry["key"] != full:
            return None
        values = tuple(np.frombuffer(bytearray(base64.b64decode(v["bytes"], validate=True)), np.dtype(v["dtype"]))
                       .reshape(v["shape"]) for v in entry["values"])
    except Exception:  # missing, unreadable, truncated or corrupt: computed again  # noqa: BLE001
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: the least recently used entries are evicted first (kernel_cache.evict)
    return values


def put(key: str, *values) -> None:
    """Keep ``values`` (arrays of numbers or booleans; numbers and booleans as 0-d arrays) under ``key`` (none kept
    when the caches are off, or for an array of Python objects; a folder that cannot be written keeps nothing)."""
    where = _path(key)
    arrays = [np.asarray(v) for v in values]
    if where is None or any(a.dtype.hasobject for a in arrays):
        return
    path, full = where
    entry = {"key": full, "values": [{"dtype": a.dtype.str, "shape": list(a.shape),
                                      "bytes": base64.b64encode(a.tobytes()).decode()} for a in arrays]}
    with contextlib.suppress(OSError):
        atomic_write(path, json.dumps(entry))


def kept(key: str | None, compute: Callable[[], tuple]) -> tuple[np.ndarray, ...]:
    """``compute()``'s values as arrays: those kept under ``key`` when there are some, else computed and kept
    (``key`` None: computed, nothing kept). What ``compute`` raises is raised, and nothing is kept."""
    values = get(key) if key is not None else None
    if values is None:
        values = tuple(np.asarray(v) for v in compute())
        if key is not None:
            put(key, *values)
    return values
