"""The cohort figures of ``cxr-explain batch`` drawn with matplotlib (the paper's Fig. 6 and 7).

Three PNGs from the batch's result rows:

- ``histogram_<direction>.png``: per-image mean lung change, one per direction, with counts on the
  y axis, a zero line and the darker / brighter shares in the legend (the paper's figures);
- ``probability_before_after.png``: the classifier's probability of each original against its
  translated image as shown, per direction, with the threshold lines (a valid flip crosses one);
- ``zone_change.png``: the mean change per lung zone (upper, middle, lower; both lungs), one box
  per zone and direction (where in the lungs the translation acts).

matplotlib's object API on an Agg canvas only: no pyplot state, no GUI backend (the engine never
imports Qt). matplotlib is not in the desktop bundle; :func:`matplotlib_available` says whether
these figures can be drawn, and the batch falls back to its plain Pillow histograms otherwise.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.explain.request import Direction
from engine.explain.zones import Zone

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The directions as the rows name them, in drawing order, and their colours.
DIRECTIONS = (Direction.TO_HEALTHY.value, Direction.TO_DISEASE.value)
_COLOURS = {Direction.TO_HEALTHY.value: "#3f6fc8", Direction.TO_DISEASE.value: "#c8503f"}
UNITS = "mean of (translated - original) in the lungs, intensity units"
_DPI = 110


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def zone_column(zone: Zone) -> str:
    """The result column with the mean change of one zone (both lungs)."""
    return f"{zone.value}_zone_mean_change"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _floats(rows: Sequence[dict[str, str]], column: str) -> np.ndarray:
    values = [float(r[column]) for r in rows if r.get(column, "") not in ("", None)]
    return np.asarray(values, dtype=np.float64)


def _of_direction(rows: Sequence[dict[str, str]], direction: str) -> list[dict[str, str]]:
    return [r for r in rows if r["status"] == "ok" and r["direction"] == direction]


def histogram(rows: Sequence[dict[str, str]], direction: str, path: Path) -> Path:
    """The paper's histogram of per-image mean lung change for one direction."""
    changes = _floats(_of_direction(rows, direction), "lung_mean_change")
    figure = _figure(6.4, 4.0)
    axes = figure.add_subplot()
    title = f"Per-image mean lung change, {direction.replace('-', ' ')} (n = {changes.size})"
    axes.set_title(title)
    axes.set_xlabel(UNITS)
    axes.set_ylabel("images")
    if changes.size:
        limit = float(np.abs(changes).max()) or 1e-3
        bins = [float(b) for b in np.linspace(-limit, limit, 21)]
        darker = float(np.mean(changes < 0))
        brighter = float(np.mean(changes > 0))
        axes.hist(changes[changes < 0], bins=bins, color="#3f6fc8", label=f"darker {darker:.0%}")
        axes.hist(
            changes[changes >= 0], bins=bins, color="#c8503f", label=f"brighter {brighter:.0%}"
        )
        axes.axvline(0.0, color="black", linewidth=1)
        axes.legend(loc="upper right")
    else:
        axes.text(0.5, 0.5, "no images", ha="center", va="center", transform=axes.transAxes)
    figure.savefig(path)
    return path


def probability_before_after(rows: Sequence[dict[str, str]], threshold: float, path: Path) -> Path:
    """P(original) against P(translated, as shown), one colour per direction."""
    figure = _figure(5.2, 5.0)
    axes = figure.add_subplot()
    for direction in DIRECTIONS:
        chosen = _of_direction(rows, direction)
        before = _floats(chosen, "probability")
        after = _floats(chosen, "probability_translated")
        axes.scatter(
            before,
            after,
            s=14,
            alpha=0.7,
            color=_COLOURS[direction],
            label=f"{direction.replace('-', ' ')} (n = {before.size})",
        )
    axes.axhline(threshold, color="grey", linewidth=0.8, linestyle="--")
    axes.axvline(threshold, color="grey", linewidth=0.8, linestyle="--")
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("P(pneumoconiosis), original")
    axes.set_ylabel("P(pneumoconiosis), translated as shown")
    axes.set_title(f"Classifier before and after translation (threshold {threshold:g})")
    axes.legend(loc="center right")
    figure.savefig(path)
    return path


def zone_change(rows: Sequence[dict[str, str]], path: Path) -> Path:
    """Box plots of the mean change per lung zone, per direction."""
    figure = _figure(6.4, 4.0)
    axes = figure.add_subplot()
    positions: list[float] = []
    data: list[np.ndarray] = []
    colours: list[str] = []
    for index, zone in enumerate(Zone):
        for offset, direction in zip((-0.18, 0.18), DIRECTIONS, strict=True):
            values = _floats(_of_direction(rows, direction), zone_column(zone))
            if values.size:
                positions.append(index + offset)
                data.append(values)
                colours.append(_COLOURS[direction])
    if data:
        boxes = axes.boxplot(data, positions=positions, widths=0.3, patch_artist=True)
        for box, colour in zip(boxes["boxes"], colours, strict=True):
            box.set_facecolor(colour)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xticks(range(len(Zone)), [f"{zone.value} zones" for zone in Zone])
    axes.set_ylabel("mean change in the zone, intensity units")
    axes.set_title("Mean change per lung zone (blue: to healthy, red: to disease)")
    figure.savefig(path)
    return path


def write_cohort_figures(rows: Sequence[dict[str, str]], out: Path, threshold: float) -> list[Path]:
    """All the figures of the module docstring into ``out``; returns their paths."""
    paths = [histogram(rows, d, out / f"histogram_{d}.png") for d in DIRECTIONS]
    paths.append(probability_before_after(rows, threshold, out / "probability_before_after.png"))
    paths.append(zone_change(rows, out / "zone_change.png"))
    return paths
