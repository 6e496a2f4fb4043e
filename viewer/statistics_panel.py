"""Lung brightness statistics: a table (whole lung, each lung, each zone) and the change histogram.

The paper's Section 2.4 numbers for the shown explanation: mean and standard deviation of the
lung-field pixel values in the original and the translated image, and their mean change, in the
units the engine states, and each region's area (pixels; mm² when the image states its pixel
spacing). The histogram is the per-pixel change over the lung field.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer import theme
from viewer.statistics_report import RegionRow, StatisticsReport

NO_STATISTICS_TEXT = "No lung statistics: no engine explanation is shown"
# Two-line headers keep the table narrow enough for the side dock.
# The mean change comes right after the region: it is the number the paper reads first.
COLUMNS = (
    "Region",
    "Δ mean",
    "Mean\nbefore",
    "Mean\nafter",
    "SD\nbefore",
    "SD\nafter",
    "Area\npixels",
    "Area\nmm²",
)
CHANGE_COLUMN = 1
PIXELS_COLUMN = 6
AREA_COLUMN = 7
HISTOGRAM_HEIGHT = (120, 200)  # min, max pixels: the table is what is read, the plot is a glance
_MINUS = "\u2212"
_TIMES = "\u00d7"
_INCREASE = QColor("#ef8a62")
_DECREASE = QColor("#67a9cf")


class StatisticsPanel(QWidget):
    """Table and histogram of one ``StatisticsReport`` (or a note saying there is none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.units_label = QLabel()
        self.units_label.setWordWrap(True)
        self.units_label.setObjectName("statisticsUnits")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # Sized once per report (resizeColumnsToContents), not on every cell as ResizeToContents
        # would: filling 90 cells must not stall the event loop.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)

        self.histogram = pg.PlotWidget()
        self.histogram.setBackground(theme.PANEL_BACKGROUND)
        self.histogram.setMinimumHeight(HISTOGRAM_HEIGHT[0])
        self.histogram.setMaximumHeight(HISTOGRAM_HEIGHT[1])
        self.histogram.setMenuEnabled(False)
        self.histogram.setMouseEnabled(x=False, y=False)
        self.histogram.hideButtons()
        plot = self.histogram.getPlotItem()
        plot.setLabel("left", "lung pixels")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).enableAutoSIPrefix(False)  # "(x0.001)" would hide the units
        plot.setTitle(f"Change in the lung field (translated {_MINUS} original)", size="9pt")
        # One bar item, reused: replacing items re-lays out the plot on every report.
        self._bars = pg.BarGraphItem(x=[], height=[], width=1.0, brush=theme.ACCENT, pen=None)
        plot.addItem(self._bars)
        self._zero_line = pg.InfiniteLine(
            pos=0.0, angle=90, pen=pg.mkPen(theme.TEXT_DIM, style=Qt.PenStyle.DashLine)
        )
        plot.addItem(self._zero_line, ignoreBounds=True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.units_label)
        layout.addWidget(self.histogram)
        self._report: StatisticsReport | None = None
        self.set_report(None)

    @property
    def report(self) -> StatisticsReport | None:
        return self._report

    def set_report(self, report: StatisticsReport | None) -> None:
        self._report = report
        self.table.setRowCount(0)
        if report is None:
            self.summary_label.setText(NO_STATISTICS_TEXT)
            self.units_label.setText("")
            self._bars.setOpts(x=[], height=[], width=1.0)
            self.histogram.setEnabled(False)
            return
        validity = "valid" if report.valid else "INVALID (did not cross the threshold)"
        self.summary_label.setText(
            f"Direction {report.direction} · counterfactual {validity}<br>"
            "Original vs fully translated image (strength 1.00)<br>"
            f"Lung field: {_area_text(report.lung)}"
        )
        self.units_label.setText(f"Units: {report.units}. {_area_note(report)}")
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(report.regions))
        for row, region in enumerate(report.regions):
            self._fill_row(row, region)
        self.table.resizeColumnsToContents()
        self.table.setUpdatesEnabled(True)
        self._show_histogram(report)

    def cell_text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def histogram_heights(self) -> np.ndarray:
        """The bar heights drawn (tests compare them with the report's counts)."""
        return np.asarray(self._bars.opts["height"])

    def _fill_row(self, row: int, region: RegionRow) -> None:
        name = region.region
        # Indent the parts under the whole lung so the hierarchy reads at a glance.
        indent = "" if name == "lung" else ("  " if name.endswith((" lung", " zones")) else "    ")
        values = (
            region.mean_original,
            region.mean_translated,
            region.sd_original,
            region.sd_translated,
        )
        cells = [
            f"{indent}{name}",
            _signed(region.mean_change),
            *map(_number, values),
            f"{region.n_pixels:,}",
            f"{region.area_mm2:,.0f}" if region.area_mm2 is not None else "—",
        ]
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == CHANGE_COLUMN and math.isfinite(region.mean_change):
                if region.mean_change > 0:
                    item.setForeground(_INCREASE)
                elif region.mean_change < 0:
                    item.setForeground(_DECREASE)
            if region.n_pixels == 0:
                item.setToolTip("no pixels in this region")
            self.table.setItem(row, column, item)

    def _show_histogram(self, report: StatisticsReport) -> None:
        edges = report.histogram_edges
        counts = report.histogram_counts
        if edges.size != counts.size + 1 or counts.size == 0:
            self._bars.setOpts(x=[], height=[], width=1.0)
            self.histogram.setEnabled(False)
            return
        centres = 0.5 * (edges[:-1] + edges[1:])
        self._bars.setOpts(x=centres, height=counts.astype(np.float64), width=np.diff(edges))
        self.histogram.getPlotItem().setLabel("bottom", f"Δ ({report.units})")
        self.histogram.setEnabled(True)


def _area_text(region: RegionRow) -> str:
    """The region's area for the summary: pixels, and mm² (cm² reads better) when known."""
    pixels = f"{region.n_pixels:,} pixels"
    if region.area_mm2 is None:
        return pixels
    return f"{pixels} = {region.area_mm2:,.0f} mm² ({region.area_mm2 / 100.0:,.1f} cm²)"


def _area_note(report: StatisticsReport) -> str:
    if report.pixel_spacing_mm is None:
        return "Areas in pixels only: the image states no pixel spacing."
    row, column = report.pixel_spacing_mm
    basis = "at the detector (magnified)" if report.area_basis == "detector" else "in the patient"
    return f"Areas from a {row:.3g} {_TIMES} {column:.3g} mm pixel, {basis}."


def _number(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "—"


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", _MINUS) if math.isfinite(value) else "—"
