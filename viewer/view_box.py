"""The radiology mouse map on a pyqtgraph ``ViewBox``.

Left-drag = window/level (reported, not applied: the pane's owner decides what it changes),
middle-drag = pan, right-drag or wheel = zoom, double-click = fit. No context menu: the right
button zooms.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal


class RadiologyViewBox(pg.ViewBox):
    """Aspect-locked, y-down view box with the radiology mouse map."""

    window_dragged = Signal(float, float)  # dx, dy in screen pixels since the last drag event
    window_drag_finished = Signal()
    fit_requested = Signal()

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self.setMouseMode(pg.ViewBox.PanMode)

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802 (Qt override)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            delta = ev.pos() - ev.lastPos()
            if delta.x() or delta.y():
                self.window_dragged.emit(float(delta.x()), float(delta.y()))
            if ev.isFinish():
                self.window_drag_finished.emit()
            return
        # Middle pans and right zooms: exactly what pyqtgraph's PanMode does with them.
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 (Qt override)
        if ev.button() == Qt.MouseButton.LeftButton and ev.double():
            ev.accept()
            self.fit_requested.emit()
            return
        super().mouseClickEvent(ev)
