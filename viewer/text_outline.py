"""A dark outline around a widget's drawing, so that overlay text reads on any background.

Corner annotations sit on the image: white text vanishes over bright zoomed anatomy and dark text
over the black bands. Like Weasis and OHIF, the text gets a thin dark outline; done as a graphics
effect on the label's own pixels (its alpha), so rich text with coloured spans is outlined too.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsEffect, QWidget

OUTLINE_COLOUR = QColor(0, 0, 0, 235)
OUTLINE_WIDTH = 1  # pixels: enough to separate text from any background, thin enough to stay quiet


class TextOutlineEffect(QGraphicsEffect):
    """Draws the source's silhouette in ``colour``, shifted ``width`` pixels in eight
    directions, under the source itself."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        colour: QColor = OUTLINE_COLOUR,
        width: int = OUTLINE_WIDTH,
    ) -> None:
        super().__init__(parent)
        if width < 1:
            raise ValueError(f"width must be at least 1, got {width}")
        self._colour = QColor(colour)
        self._width = width

    def boundingRectFor(self, rect: QRectF | QRect) -> QRectF:  # noqa: N802 (Qt override)
        grow = float(self._width)
        return QRectF(rect).adjusted(-grow, -grow, grow, grow)

    def draw(self, painter: QPainter) -> None:
        offset = QPoint()  # an out-parameter in PySide6: where the pixmap goes
        pixmap = self.sourcePixmap(
            Qt.CoordinateSystem.LogicalCoordinates,
            offset,
            QGraphicsEffect.PixmapPadMode.PadToEffectiveBoundingRect,
        )
        if pixmap.isNull():
            return
        outline = QPixmap(pixmap.size())
        outline.setDevicePixelRatio(pixmap.devicePixelRatio())
        outline.fill(Qt.GlobalColor.transparent)
        shadow = QPainter(outline)
        step = self._width
        for dx in (-step, 0, step):
            for dy in (-step, 0, step):
                if dx or dy:
                    shadow.drawPixmap(QPoint(dx, dy), pixmap)
        # Keep the silhouette's alpha, replace its colour.
        shadow.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        shadow.fillRect(outline.rect(), self._colour)
        shadow.end()
        painter.drawPixmap(offset, outline)
        painter.drawPixmap(offset, pixmap)
