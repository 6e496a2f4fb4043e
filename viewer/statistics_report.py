"""Lung brightness statistics of an explanation as a flat, display-safe report (no Qt).

The engine computes the paper's statistics (mean and standard deviation of the lung-field pixel
values before and after translation, whole lung / per lung / per zone, and a histogram of the
per-pixel change) in its display units; this module only reshapes them for the table, the
histogram plot and the CSV/JSON exports. Nothing here carries a patient identifier or a file name.

Each region also has its area: its pixel count always, and square millimetres when the image
states its pixel spacing (``ImageInfo.spacing``; at the detector for ImagerPixelSpacing, so
magnified by the projection, which the ``area_basis`` column says).
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
    # Appended, so that readers of the earlier columns by position keep working.
    "area_mm2",
    "area_basis",
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
    area_mm2: float | None = None  # n_pixels times the pixel area; None without a spacing

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
    # (row, column) millimetres per pixel and what they measure (patient plane or detector);
    # None when the image states no spacing (PNG, most CR without calibration).
    pixel_spacing_mm: tuple[float, float] | None = None
    area_basis: str | None = None

    @property
    def lung(self) -> RegionRow:
        return self.regions[0]


def report_of(
    result: api.ExplanationResult, spacing: api.PixelSpacing | None = None
) -> StatisticsReport:
    """The report of ``result``'s primary counterfactual (the one the panes show); ``spacing``:
    the explained radiograph's pixel spacing (its ``info.spacing``), for areas in mm²."""
    counterfactual = result.primary
    statistics = counterfactual.statistics
    pixel_area = spacing.row_mm * spacing.column_mm if spacing is not None else None
    regions = tuple(
        RegionRow(
            region=region.region,
            n_pixels=region.n_pixels,
            mean_original=region.mean_original,
            sd_original=region.std_original,
            mean_translated=region.mean_translated,
            sd_translated=region.std_translated,
            area_mm2=region.n_pixels * pixel_area if pixel_area is not None else None,
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
        pixel_spacing_mm=(spacing.row_mm, spacing.column_mm) if spacing is not None else None,
        area_basis=spacing.kind.value if spacing is not None else None,
    )


def report_of_shown(
    result: api.ExplanationResult, radiograph: api.Radiograph | None
) -> StatisticsReport:
    """``result``'s report, with areas in mm² when the shown ``radiograph`` states its pixel
    spacing and the result is on its grid (the regions count its pixels)."""
    on_grid = radiograph is not None and result.original.shape == radiograph.shape
    spacing = radiograph.info.spacing if radiograph is not None and on_grid else None
    return report_of(result, spacing)


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
                _csv_number(row.area_mm2),
                report.area_basis or "",
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
        "pixel_spacing_mm": list(report.pixel_spacing_mm) if report.pixel_spacing_mm else None,
        "area_basis": report.area_basis,
        "regions": [
            {
                "region": row.region,
                "n_pixels": row.n_pixels,
                "area_mm2": _json_number(row.area_mm2),
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


def _csv_number(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6g}"


def _json_number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
