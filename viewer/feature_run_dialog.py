"""Asks before a FIGAN feature exploration starts: it takes tens of seconds to a minute and a half
on a CPU (an optimisation per image), against seconds for a CycleGAN direction."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from viewer.explanation import Feature

# Measured on laptop CPUs with the shipped models (the FIGAN inversion dominates).
TYPICAL_FEATURE_SECONDS = (35, 100)


def feature_estimate(last_seconds: float | None) -> str:
    """How long an exploration will take: the last one's duration on this machine when there was
    one, else the typical range."""
    if last_seconds is not None and last_seconds > 0:
        return f"about {max(round(last_seconds), 1)} s (as long as the last one here)"
    low, high = TYPICAL_FEATURE_SECONDS
    return f"about {low} to {high} s on a typical CPU"


class FeatureRunDialog(QMessageBox):
    """ "Explore feature N? It takes about ... s" with Compute and Cancel; non-modal (``open``),
    answers through ``confirmed`` or ``declined`` (Esc and closing decline)."""

    confirmed = Signal(object)  # the Feature
    declined = Signal(object)

    def __init__(self, feature: Feature, estimate: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.feature = feature
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Explore a FIGAN feature")
        self.setText(f"Explore {feature.label} on this image?")
        self.setInformativeText(
            f"This takes {estimate}. The result is kept for this image, so coming back to the "
            "feature later shows it at once. Esc cancels the running exploration."
        )
        self.compute_button = self.addButton("Compute", QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.compute_button)
        self.setEscapeButton(self.cancel_button)
        self.finished.connect(self._on_dialog_finished)

    def _on_dialog_finished(self, _result: int) -> None:
        if self.clickedButton() is self.compute_button:
            self.confirmed.emit(self.feature)
        else:
            self.declined.emit(self.feature)
