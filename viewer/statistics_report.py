"""Lung brightness statistics of an explanation as a flat, display-safe report (no Qt).

The engine computes the paper's statistics (mean and standard deviation of the lung-field pixel
values before and after translation, whole lung / per lung / per zone, and a histogram of the
per-pixel change) in its display units; this module only reshapes them for the table, the
histogram plot and the CSV/JSON exports. Nothing here carries a patient identifier or a file name.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine import api

CSV_COLUMNS = (
    "region",
    "n_pixels",
    "mean_original",
    "sd_original",
    "mean_translated",
    "sd_translated",
    "mean_change",
    "units",
    "counterfactual_verdict",
    "caution",
)


@dataclass(frozen=True, slots=True)
class RegionRow:
    """One region's statistics; NaN where the region has no pixels."""

    region: str
    n_pixels: int
    mean_original: float
    sd_original: float
    mean_translated: float
    sd_translated: float

    @property
    def mean_change(self) -> float:
        return self.mean_translated - self.mean_original


@dataclass(frozen=True, slots=True, eq=False)
class StatisticsReport:
    """The primary counterfactual's lung statistics plus the context needed to read them.

    ``histogram_edges``: ``(B + 1,)`` float64 symmetric around 0; ``histogram_counts``: ``(B,)``
    int64 lung-field pixel counts of the change (translated - original) at full strength.
    """

    model: str
    direction: str
    positive_label: str
    probability_original: float
    probability_translated: float
    threshold: float
    valid: bool
    units: str
    verdict: str  # valid, invalid or not-qualifying (engine.api.Counterfactual.verdict)
    caution: str | None  # the warning that travels with every export, or None
    regions: tuple[RegionRow, ...]
    histogram_edges: npt.NDArray[np.float64]
    histogram_counts: npt.NDArray[np.int64]
    warnings: tuple[str, ...]

    @property
    def lung(self) -> RegionRow:
        return self.regions[0]


def report_of(result: api.ExplanationResult) -> StatisticsReport:
    """The report of ``result``'s primary counterfactual (the one the panes show)."""
    counterfactual = result.primary
    statistics = counterfactual.statistics
    regions = tuple(
        RegionRow(
            region=region.region,
            n_pixels=region.n_pixels,
            mean_original=region.mean_original,
            sd_original=region.std_original,
            mean_translated=region.mean_translated,
            sd_translated=region.std_translated,
        )
        for region in statistics.regions
    )
    # The engine lists the whole lung first; keep that guarantee explicit for ``lung``.
    regions = tuple(sorted(regions, key=lambda row: row.region != "lung"))
    return StatisticsReport(
        model=result.model_label,
        direction=counterfactual.direction.value,
        positive_label=counterfactual.frames.label,
        probability_original=result.probability,
        probability_translated=counterfactual.probability,
        threshold=result.threshold,
        valid=counterfactual.valid,
        units=statistics.units,
        verdict=counterfactual.verdict,
        caution=result.caution(),
        regions=regions,
        histogram_edges=np.asarray(statistics.histogram_edges, dtype=np.float64),
        histogram_counts=np.asarray(statistics.histogram_counts, dtype=np.int64),
        warnings=tuple(result.warnings),
    )


def to_csv(report: StatisticsReport) -> str:
    """One row per region, the units in their own column (a spreadsheet needs no header notes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.regions:
        writer.writerow(
            [
                row.region,
                row.n_pixels,
                *(
                    _csv_number(value)
                    for value in (
                        row.mean_original,
                        row.sd_original,
                        row.mean_translated,
                        row.sd_translated,
                        row.mean_change,
                    )
                ),
                report.units,
                report.verdict,
                report.caution or "",
            ]
        )
    return buffer.getvalue()


def to_json(report: StatisticsReport) -> str:
    """The report as JSON (NaN written as null, so any JSON reader accepts it)."""
    content: dict[str, Any] = {
        "model": report.model,
        "direction": report.direction,
        "positive_label": report.positive_label,
        "probability_original": report.probability_original,
        "probability_translated": report.probability_translated,
        "threshold": report.threshold,
        "counterfactual_valid": report.valid,
        "counterfactual_verdict": report.verdict,
        "caution": report.caution,
        "units": report.units,
        "change": "translated - original, at full translation strength",
        "regions": [
            {
                "region": row.region,
                "n_pixels": row.n_pixels,
                "mean_original": _json_number(row.mean_original),
                "sd_original": _json_number(row.sd_original),
                "mean_translated": _json_number(row.mean_translated),
                "sd_translated": _json_number(row.sd_translated),
                "mean_change": _json_number(row.mean_change),
            }
            for row in report.regions
        ],
        "change_histogram": {
            "edges": report.histogram_edges.tolist(),
            "counts": report.histogram_counts.tolist(),
        },
        "warnings": list(report.warnings),
    }
    return json.dumps(content, indent=2, allow_nan=False) + "\n"


def _csv_number(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.6g}"


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None
