"""Lung brightness statistics: the report, its CSV/JSON, the panel and the pane overlay."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from viewer_fakes import planted_lungs

from engine.api import ExplanationResult, PixelSpacing, Radiograph, SpacingKind
from viewer.comparison_panel import STATISTICS_UNITS_SHORT
from viewer.image_pane import Corner
from viewer.main_window import MainWindow
from viewer.statistics_panel import (
    AREA_COLUMN,
    CHANGE_COLUMN,
    NO_STATISTICS_TEXT,
    PIXELS_COLUMN,
)
from viewer.statistics_report import CSV_COLUMNS, report_of, to_csv, to_json


@pytest.fixture
def result(tiny_result: tuple[Radiograph, ExplanationResult]) -> ExplanationResult:
    return tiny_result[1]


def test_report_matches_the_pixels_it_summarises(result: ExplanationResult) -> None:
    report = report_of(result)
    right, left = planted_lungs(result.original.shape)
    lung = right | left
    before = result.original[lung].astype(np.float64)
    after = result.primary.translated[lung].astype(np.float64)

    assert report.lung.region == "lung"
    assert report.lung.n_pixels == int(lung.sum())
    assert report.lung.mean_original == pytest.approx(before.mean())
    assert report.lung.sd_translated == pytest.approx(after.std())
    assert report.lung.mean_change == pytest.approx(after.mean() - before.mean())
    names = [row.region for row in report.regions]
    assert {"right lung", "left lung", "right upper", "left lower", "middle zones"} <= set(names)
    assert report.units == result.primary.statistics.units
    assert int(report.histogram_counts.sum()) == int(lung.sum())


def test_csv_has_one_row_per_region_with_units(result: ExplanationResult) -> None:
    report = report_of(result)
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row["region"] for row in rows] == [region.region for region in report.regions]
    assert float(rows[0]["mean_change"]) == pytest.approx(report.lung.mean_change, rel=1e-5)
    assert all(row["units"] == report.units for row in rows)


def test_json_is_strict_and_carries_the_histogram(result: ExplanationResult) -> None:
    report = report_of(result)
    content = json.loads(to_json(report))  # allow_nan=False on write: strict JSON
    assert content["units"] == report.units
    assert content["counterfactual_valid"] == report.valid
    assert len(content["change_histogram"]["edges"]) == len(report.histogram_counts) + 1
    assert content["regions"][0]["mean_change"] == pytest.approx(report.lung.mean_change)


def test_empty_regions_are_blank_not_nan(result: ExplanationResult) -> None:
    report = report_of(result)
    empty = report.regions[0].__class__("nowhere", 0, *(4 * [math.nan]))
    report = report.__class__(**{**_fields(report), "regions": (report.regions[0], empty)})
    assert to_csv(report).splitlines()[-1].startswith("nowhere,0,,,,,,")
    assert json.loads(to_json(report))["regions"][1]["mean_change"] is None


def _fields(report: object) -> dict[str, object]:
    return {name: getattr(report, name) for name in report.__slots__}  # type: ignore[attr-defined]


def test_panel_shows_every_region_and_the_histogram(explained_window: MainWindow) -> None:
    panel = explained_window.statistics_panel
    report = panel.report
    assert report is not None
    assert panel.table.rowCount() == len(report.regions)
    assert panel.cell_text(0, 0) == "lung"
    change = f"{report.lung.mean_change:+.3f}".replace("-", "\u2212")
    assert panel.cell_text(0, CHANGE_COLUMN) == change
    assert report.units in panel.units_label.text()
    np.testing.assert_array_equal(panel.histogram_heights(), report.histogram_counts)
    assert panel.histogram.isEnabled()


def test_difference_pane_overlays_the_lung_statistics(explained_window: MainWindow) -> None:
    report = explained_window.statistics_panel.report
    corner = explained_window.comparison.difference.corner_text(Corner.BOTTOM_RIGHT)
    assert f"Lung mean {report.lung.mean_original:.3f}" in corner
    # The units, short in the corner (in full in the statistics panel).
    assert STATISTICS_UNITS_SHORT in corner

    explained_window.display_panel.statistics_check.setChecked(False)
    assert explained_window.comparison.difference.corner_text(Corner.BOTTOM_RIGHT) == ""
    assert explained_window.settings.statistics_overlay is False


def test_fake_explanations_have_no_statistics(make_main_window, qtbot) -> None:
    from conftest import LOAD_TIMEOUT_MS
    from viewer_fakes import fake_explainer

    from engine.api import sample_radiograph_path

    window = make_main_window(explainer=fake_explainer)
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    assert window.statistics_panel.report is None
    assert window.statistics_panel.summary_label.text() == NO_STATISTICS_TEXT
    assert window.comparison.difference.corner_text(Corner.BOTTOM_RIGHT) == ""


def test_regions_carry_their_area_in_pixels_and_square_millimetres(
    result: ExplanationResult,
) -> None:
    spacing = PixelSpacing(0.2, 0.25, SpacingKind.DETECTOR)
    report = report_of(result, spacing)
    lung = report.lung
    assert lung.area_mm2 == pytest.approx(lung.n_pixels * 0.05)

    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert float(rows[0]["area_mm2"]) == pytest.approx(lung.n_pixels * 0.05, rel=1e-5)
    assert rows[0]["area_basis"] == "detector"
    content = json.loads(to_json(report))
    assert content["regions"][0]["n_pixels"] == lung.n_pixels
    assert content["regions"][0]["area_mm2"] == pytest.approx(lung.n_pixels * 0.05)
    assert content["pixel_spacing_mm"] == [0.2, 0.25]
    assert content["area_basis"] == "detector"

    # Without a spacing: pixels only, the millimetres left blank (not zero, not NaN).
    plain = report_of(result)
    assert plain.lung.area_mm2 is None
    assert next(csv.DictReader(io.StringIO(to_csv(plain))))["area_mm2"] == ""
    plain_json = json.loads(to_json(plain))
    assert plain_json["regions"][0]["area_mm2"] is None
    assert plain_json["pixel_spacing_mm"] is None


def test_panel_shows_the_area_of_each_region(explained_window: MainWindow) -> None:
    spacing = explained_window.state.radiograph.info.spacing
    assert spacing is not None  # the bundled sample states its pixel spacing
    panel = explained_window.statistics_panel
    lung = panel.report.lung
    assert panel.cell_text(0, PIXELS_COLUMN) == f"{lung.n_pixels:,}"
    area = lung.n_pixels * spacing.row_mm * spacing.column_mm
    assert panel.cell_text(0, AREA_COLUMN) == f"{area:,.0f}"
    assert "mm pixel" in panel.units_label.text()
    assert f"{lung.n_pixels:,} pixels = {area:,.0f} mm²" in panel.summary_label.text()
