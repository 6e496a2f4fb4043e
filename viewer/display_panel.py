"""Display options: shared window/level, the difference colour map, the drag direction, and the
overlays (lung contour, attribution heat map, statistics in the difference pane)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from viewer.overlays import Attribution


class DisplayPanel(QGroupBox):
    """Toggles and choices, each reported as a past-tense signal."""

    link_window_toggled = Signal(bool)
    diverging_toggled = Signal(bool)
    invert_mouse_toggled = Signal(bool)
    lung_contour_toggled = Signal(bool)
    statistics_toggled = Signal(bool)
    attribution_changed = Signal(str)  # an Attribution value
    overlay_opacity_changed = Signal(float)  # in [0, 1]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Display", parent)
        self.link_window_check = QCheckBox("Link window/level of original and translated")
        self.diverging_check = QCheckBox("Diverging colour map for the difference")
        self.invert_mouse_check = QCheckBox("Invert window/level drag direction")
        self.lung_contour_check = QCheckBox("Lung contour")
        self.statistics_check = QCheckBox("Lung statistics on the difference pane")
        layout = QVBoxLayout(self)
        self._checks = (
            (self.link_window_check, self.link_window_toggled),
            (self.diverging_check, self.diverging_toggled),
            (self.invert_mouse_check, self.invert_mouse_toggled),
            (self.lung_contour_check, self.lung_contour_toggled),
            (self.statistics_check, self.statistics_toggled),
        )
        for check, signal in self._checks:
            check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            check.toggled.connect(signal.emit)
            layout.addWidget(check)

        self.attribution_combo = QComboBox()
        for kind in Attribution:
            self.attribution_combo.addItem(kind.title, kind.value)
        self.attribution_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.attribution_combo.setToolTip("Classifier attribution drawn over the original pane")
        self.attribution_combo.currentIndexChanged.connect(self._on_attribution_combo_changed)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_changed)
        form = QFormLayout()
        form.setContentsMargins(0, 4, 0, 0)
        form.addRow("Attribution overlay", self.attribution_combo)
        form.addRow("Overlay opacity", self.opacity_slider)
        layout.addLayout(form)

    @property
    def attribution(self) -> Attribution:
        return Attribution(self.attribution_combo.currentData())

    def set_values(
        self,
        *,
        link_window: bool,
        diverging: bool,
        invert_mouse: bool,
        lung_contour: bool = False,
        statistics: bool = True,
        attribution: Attribution = Attribution.NONE,
        overlay_opacity: float = 0.5,
    ) -> None:
        """Set every control without emitting (the caller applies the values itself)."""
        values = (link_window, diverging, invert_mouse, lung_contour, statistics)
        for (check, _signal), value in zip(self._checks, values, strict=True):
            check.blockSignals(True)
            check.setChecked(value)
            check.blockSignals(False)
        self.attribution_combo.blockSignals(True)
        self.attribution_combo.setCurrentIndex(self.attribution_combo.findData(attribution.value))
        self.attribution_combo.blockSignals(False)
        self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(round(min(max(overlay_opacity, 0.0), 1.0) * 100))
        self.opacity_slider.blockSignals(False)

    def _on_attribution_combo_changed(self, _index: int) -> None:
        self.attribution_changed.emit(self.attribution.value)

    def _on_opacity_slider_changed(self, value: int) -> None:
        self.overlay_opacity_changed.emit(value / 100.0)
