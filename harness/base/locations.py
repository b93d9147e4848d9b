"""Where code that is not the user's lives: the standard library, the site-packages folders and the harness
package (harness.model.identity tells the user's modules by it; harness.base.replay, which runs are kept)."""

from __future__ import annotations

import contextlib
import functools
import os
import site
import sysconfig


@functools.cache
def library_roots() -> tuple[str, ...]:
    """The standard library, the site-packages folders and the harness package, each a real path ending in the
    separator (not the whole installation prefix, which may hold the user's files too, e.g. /usr/src under /usr)."""
    roots = {*site.getsitepackages(), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    for scheme in {sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")}:
        with contextlib.suppress(KeyError):
            paths = sysconfig.get_paths(scheme)
            roots.update(paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths)
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        roots.add(user_site)
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots if root)
