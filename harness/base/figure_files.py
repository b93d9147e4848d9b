"""Figure files: each figure written as a byte-stable SVG (no date, fixed id salt; compacted by ``compact_svg``) and a
PNG, in this process or, through a ``FigureWriter``, in worker processes (drawing a figure into its files is most
of a report's time, and matplotlib holds the GIL while it draws). Only matplotlib is imported here, so that a
worker starts without JAX.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE: Any = {"svg.hashsalt": "discretization-drift-harness", "svg.fonttype": "none", "font.size": 11.5,
              "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
              "axes.titlesize": 11.5, "axes.labelsize": 11.5, "xtick.labelsize": 11.5, "ytick.labelsize": 11.5,
              "legend.fontsize": 11.5, "legend.title_fontsize": 11.5}
PNG_DPI = 80
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float, _position: int) -> str:
    """A tick label in plain text: 10⁻³, 2×10⁻³."""
    exponent = int(np.floor(np.log10(value) + 1e-9))
    mantissa = round(value / 10.0**exponent)
    power = f"10{str(exponent).translate(SUPERSCRIPT)}"
    return power if mantissa == 1 else f"{mantissa}×{power}"


def compact_svg(svg: str) -> str:
    """Matplotlib's SVG without metadata, comments, indentation, unreferenced ids, attribute-less groups and
    null rotations, coordinates to 2 decimals, and each distinct ``style`` attribute a class named by its
    content's hash (so identical styles share one rule across figures; the rules sit in the SVG's <style>)."""
    svg = re.sub(r"<metadata>.*?</metadata>|<!--.*?-->|<!DOCTYPE[^>]*>", "", svg, flags=re.S)
    svg = re.sub(r'="[^"]*"', lambda m: re.sub(r"(\d\.\d{2})\d+", r"\1", m.group(0)), svg)  # attributes only
    svg = re.sub(r">\s+<", "><", re.sub(r"\s*\n\s*", " ", svg)).strip()
    svg = re.sub(r' transform="rotate\(-?0 [^)]*\)"', "", svg)
    referenced = set(re.findall(r"#([\w.-]+)", svg))
    svg = re.sub(r' id="([^"]+)"', lambda m: m.group(0) if m.group(1) in referenced else "", svg)
    svg = _unwrap_groups(svg)
    rules: dict[str, str] = {}

    def to_class(match: re.Match) -> str:
        name = "s" + hashlib.sha1(match.group(1).encode()).hexdigest()[:7]
        rules.setdefault(name, match.group(1))
        return f'class="{name}"'

    svg = re.sub(r'style="([^"]*)"', to_class, svg)
    css = "".join(f".{name}{{{style}}}" for name, style in rules.items())
    return svg.replace("</style>", css + "</style>", 1)


def _unwrap_groups(svg: str) -> str:
    """``svg`` without the <g> elements that have no attribute (their content kept)."""
    out: list[str] = []
    kept: list[bool] = []
    last = 0
    for match in re.finditer(r"<g>|<g [^>]*>|</g>", svg):
        out.append(svg[last:match.start()])
        last = match.end()
        if match.group(0) == "</g>":
            out.append("</g>" if kept.pop() else "")
        else:
            kept.append(match.group(0) != "<g>")
            out.append(match.group(0) if kept[-1] else "")
    return "".join(out) + svg[last:]


def save(fig: plt.Figure, folder: Path, stem: str) -> list[str]:
    """Write ``stem.svg`` (compacted) and ``stem.png`` into ``folder``; return their names."""
    folder.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.savefig(folder / f"{stem}.svg", metadata={"Date": None})
        fig.savefig(folder / f"{stem}.png", dpi=PNG_DPI, metadata={"Software": None})
    plt.close(fig)
    svg = folder / f"{stem}.svg"
    svg.write_text(compact_svg(svg.read_text()))
    return [f"{stem}.svg", f"{stem}.png"]


Save = Callable[[Any, Path, str], list[str]]
"""``save``'s signature: (figure, folder, stem) -> the names of the files written."""


class FigureWriter:
    """``save`` figures in ``jobs`` worker processes (1: in this one), each sent as a pickle; ``close`` waits for
    every file and raises the first error. The first IN_PROCESS figures are drawn here: a worker costs a process
    start and matplotlib's import (about a second), which a small report would not earn back. A context manager:
    leaving it early cancels what has not started."""

    IN_PROCESS = 8

    def __init__(self, jobs: int = 1) -> None:
        self._jobs = jobs
        self._drawn_here = 0
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._pending: list[concurrent.futures.Future] = []

    def save(self, fig: plt.Figure, folder: Path, stem: str) -> list[str]:
        """As ``save``; the files are complete after ``close``."""
        if self._jobs <= 1 or self._drawn_here < self.IN_PROCESS:
            self._drawn_here += 1
            return save(fig, folder, stem)
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(self._jobs,
                                                                mp_context=multiprocessing.get_context("spawn"))
        folder.mkdir(parents=True, exist_ok=True)
        data = pickle.dumps(fig)
        plt.close(fig)
        self._pending.append(self._pool.submit(_save_pickled, data, folder, stem))
        return [f"{stem}.svg", f"{stem}.png"]

    def close(self) -> None:
        try:
            for future in self._pending:
                future.result()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> FigureWriter:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is None:
            self.close()
        else:
            self._shutdown()


def _save_pickled(data: bytes, folder: Path, stem: str) -> list[str]:
    return save(pickle.loads(data), folder, stem)
