"""Display options: shared window/level, the difference colour map, the drag direction, and the
overlays (lung contour, attribution heat map, statistics in the difference pane)."""

from __future__ import annotations

from PySide6.QtCore import Qt
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
from viewer.state import DisplayOptions


class DisplayPanel(QGroupBox):
    """The controls of ``options``: each shows its field, and the user's changes are written
    into it (the comparison panel draws them, the settings adapter stores them)."""

    def __init__(self, options: DisplayOptions, parent: QWidget | None = None) -> None:
        super().__init__("Display", parent)
        self._options = options
        self.link_window_check = QCheckBox("Link window/level of original and translated")
        self.diverging_check = QCheckBox("Diverging colour map for the difference")
        self.invert_mouse_check = QCheckBox("Invert window/level drag direction")
        self.lung_contour_check = QCheckBox("Lung contour")
        self.lung_contour_check.setToolTip(
            "Green: the lung field the explanation may change. Amber: devices (pacemaker, "
            "wires, ECG leads) it leaves unchanged."
        )
        self.statistics_check = QCheckBox("Lung statistics on the difference pane")
        layout = QVBoxLayout(self)
        # Each check box by the DisplayOptions field it shows.
        self._checks = {
            "link_window": self.link_window_check,
            "diverging_difference": self.diverging_check,
            "invert_mouse_direction": self.invert_mouse_check,
            "lung_contour": self.lung_contour_check,
            "statistics_overlay": self.statistics_check,
        }
        for field, check in self._checks.items():
            check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            check.toggled.connect(
                lambda checked, field=field: self._options.update(**{field: checked})
            )
            layout.addWidget(check)

        self.attribution_combo = QComboBox()
        for kind in Attribution:
            self.attribution_combo.addItem(kind.label, kind.value)
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

        self._show(frozenset(options.field_names()))
        options.events.changed.connect(self._show)

    @property
    def attribution(self) -> Attribution:
        return Attribution(self.attribution_combo.currentData())

    def _show(self, fields: frozenset[str]) -> None:
        """Show the options' ``fields`` without writing them back."""
        options = self._options
        for field in fields & self._checks.keys():
            check = self._checks[field]
            check.blockSignals(True)
            check.setChecked(bool(getattr(options, field)))
            check.blockSignals(False)
        if "attribution_overlay" in fields:
            combo = self.attribution_combo
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(options.attribution_overlay.value))
            combo.blockSignals(False)
        if "overlay_opacity" in fields:
            self.opacity_slider.blockSignals(True)
            self.opacity_slider.setValue(round(min(max(options.overlay_opacity, 0.0), 1.0) * 100))
            self.opacity_slider.blockSignals(False)

    def _on_attribution_combo_changed(self, _index: int) -> None:
        self._options.attribution_overlay = self.attribution

    def _on_opacity_slider_changed(self, value: int) -> None:
        self._options.overlay_opacity = value / 100.0
