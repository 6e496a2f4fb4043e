"""The radiology mouse map on a pyqtgraph ``ViewBox``.

Left-drag = window/level (reported, not applied: the pane's owner decides what it changes),
middle-drag = pan, right-drag or wheel = zoom, double-click = fit. No context menu: the right
button zooms.

Zoom gains are calmer than pyqtgraph's (2 % per pixel of drag: 80 pixels zoomed 101 % to 492 %;
35 % per wheel notch): a reader zooms onto a finding, and overshooting it is what they notice.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

DRAG_PIXELS_PER_DOUBLING = 200.0  # right-drag up by this many screen pixels zooms in x2
WHEEL_ZOOM_PER_NOTCH = 1.15  # one wheel notch (120 units) zooms in (or out) by this factor
_WHEEL_NOTCH = 120.0


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
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            # Up zooms in, down zooms out, about the point where the drag started.
            dy = float(ev.screenPos().y() - ev.lastScreenPos().y())
            self._zoom(2.0 ** (-dy / DRAG_PIXELS_PER_DOUBLING), ev.buttonDownPos(ev.button()))
            return
        # The middle button pans: exactly what pyqtgraph's PanMode does with it.
        super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802 (Qt override)
        ev.accept()
        self._zoom(WHEEL_ZOOM_PER_NOTCH ** (ev.delta() / _WHEEL_NOTCH), ev.pos())

    def _zoom(self, factor: float, pos: Any) -> None:
        if not factor > 0.0 or factor == 1.0:
            return
        center = self.mapToView(pos)
        # As pyqtgraph's own mouse zoom does: scale the range shown now, not a pending target.
        self._resetTarget()
        self.scaleBy((1.0 / factor, 1.0 / factor), center)
        self.sigRangeChangedManually.emit(self.state["mouseEnabled"])

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 (Qt override)
        if ev.button() == Qt.MouseButton.LeftButton and ev.double():
            ev.accept()
            self.fit_requested.emit()
            return
        super().mouseClickEvent(ev)
