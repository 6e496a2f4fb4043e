"""Display options: shared window/level, the difference colour map, the drag direction."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QVBoxLayout, QWidget


class DisplayPanel(QGroupBox):
    """Three toggles, each reported as a past-tense signal."""

    link_window_toggled = Signal(bool)
    diverging_toggled = Signal(bool)
    invert_mouse_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Display", parent)
        self.link_window_check = QCheckBox("Link window/level of original and translated")
        self.diverging_check = QCheckBox("Diverging colour map for the difference")
        self.invert_mouse_check = QCheckBox("Invert window/level drag direction")
        layout = QVBoxLayout(self)
        for check, signal in (
            (self.link_window_check, self.link_window_toggled),
            (self.diverging_check, self.diverging_toggled),
            (self.invert_mouse_check, self.invert_mouse_toggled),
        ):
            check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            check.toggled.connect(signal.emit)
            layout.addWidget(check)

    def set_values(self, *, link_window: bool, diverging: bool, invert_mouse: bool) -> None:
        """Set the toggles without emitting (the caller applies the values itself)."""
        for check, value in (
            (self.link_window_check, link_window),
            (self.diverging_check, diverging),
            (self.invert_mouse_check, invert_mouse),
        ):
            check.blockSignals(True)
            check.setChecked(value)
            check.blockSignals(False)
