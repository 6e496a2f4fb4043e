"""A banner above the panes for what makes an explanation untrustworthy.

It lights up for an invalid counterfactual (the prediction did not cross the threshold) and for an
out-of-distribution input, so that neither can be read as a good explanation even with the side
panel closed. Minor notes stay in the explanation panel.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from viewer.explanation import Alert, AlertKind

SERIOUS = (AlertKind.INVALID, AlertKind.OUT_OF_DISTRIBUTION)
_HEADINGS = {
    AlertKind.INVALID: "INVALID COUNTERFACTUAL",
    AlertKind.OUT_OF_DISTRIBUTION: "OUT OF DISTRIBUTION",
    AlertKind.NOTE: "NOTE",
}


class AlertBanner(QLabel):
    """Shows the serious alerts of the current explanation; hidden when there are none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alertBanner")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self._alerts: tuple[Alert, ...] = ()
        self.hide()

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return self._alerts

    def set_alerts(self, alerts: tuple[Alert, ...]) -> None:
        """Show the serious ones among ``alerts`` (the most serious sets the colour)."""
        serious = tuple(alert for alert in alerts if alert.kind in SERIOUS)
        self._alerts = serious
        if not serious:
            self.clear()
            self.hide()
            return
        # The style sheet colours by this property: red for invalid, amber for OOD.
        self.setProperty("severity", serious[0].kind.value)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setText(
            "<br>".join(
                f"<b>⚠ {_HEADINGS[alert.kind]}</b> — {html.escape(alert.text)}" for alert in serious
            )
        )
        self.show()
