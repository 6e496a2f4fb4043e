"""One image pane: a pyqtgraph ``ImageItem`` in a ``RadiologyViewBox`` with overlays.

The pane draws what it is told (values, levels, lookup table) and reports the cursor; it holds
no window/level policy of its own (that lives in ``ComparisonPanel``). Levels are always explicit:
pyqtgraph's auto-levels would silently re-window every frame.

Overlays are plain ``QLabel``s stacked over the graphics view in the same grid cell, so corner
annotations stay put while the image pans and zooms.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from viewer import theme
from viewer.overlays import RgbaImage
from viewer.rendering import FloatImage, LookupTable, PaneImage
from viewer.view_box import RadiologyViewBox


class Corner(Enum):
    TOP_LEFT = Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft
    TOP_RIGHT = Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight
    BOTTOM_LEFT = Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft
    BOTTOM_RIGHT = Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight


_CORNER_SHARE = {
    Corner.TOP_LEFT: 0.5,
    Corner.TOP_RIGHT: 0.5,
    Corner.BOTTOM_LEFT: 0.4,
    Corner.BOTTOM_RIGHT: 0.6,
}


class Layer(Enum):
    """Overlay layers above the image, in drawing order (the value is the z-value)."""

    HEAT = 1  # attribution heat map (Grad-CAM, input gradient)
    CONTOUR = 2  # lung contour


class ImagePane(QWidget):
    """A titled, zoomable image with crosshair, corner annotations and an optional colour bar."""

    cursor_moved = Signal(float, float)  # row, column in image coordinates (continuous)
    cursor_left = Signal()

    def __init__(
        self, title: str, parent: QWidget | None = None, *, colorbar_label: str | None = None
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.setMinimumSize(220, 220)
        self._values: FloatImage | None = None

        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setBackground(theme.IMAGE_BACKGROUND)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.graphics.ci.setSpacing(0)
        self.view_box = RadiologyViewBox()
        self.graphics.addItem(self.view_box, row=0, col=0)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image_item)

        # The colour bar lives in its own view beside the image, outside the corner overlays.
        self.colorbar: pg.ColorBarItem | None = None
        self._colorbar_view: pg.GraphicsLayoutWidget | None = None
        if colorbar_label is not None:
            self.colorbar = pg.ColorBarItem(
                values=(-1.0, 1.0),
                width=14,
                label=colorbar_label,
                interactive=False,
                colorMapMenu=False,
            )
            self._colorbar_view = pg.GraphicsLayoutWidget(self)
            self._colorbar_view.setBackground(theme.IMAGE_BACKGROUND)
            self._colorbar_view.ci.setContentsMargins(0, 12, 4, 12)
            self._colorbar_view.setFixedWidth(84)
            self._colorbar_view.addItem(self.colorbar)

        # Overlays share the image's pixel grid; ignoreBounds keeps "fit" on the image itself.
        self._layers: dict[Layer, pg.ImageItem] = {}
        for layer in Layer:
            item = pg.ImageItem(axisOrder="row-major")
            item.setZValue(layer.value)
            item.hide()
            self.view_box.addItem(item, ignoreBounds=True)
            self._layers[layer] = item

        pen = pg.mkPen(theme.CROSSHAIR, width=1, style=Qt.PenStyle.DashLine)
        self._crosshair = (
            pg.InfiniteLine(angle=90, movable=False, pen=pen),
            pg.InfiniteLine(angle=0, movable=False, pen=pen),
        )
        for line in self._crosshair:
            line.setZValue(10)
            line.hide()
            self.view_box.addItem(line, ignoreBounds=True)

        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 0, 0)
        if self._colorbar_view is not None:
            layout.addWidget(self._colorbar_view, 0, 1)
        self._corners: dict[Corner, QLabel] = {}
        for corner in Corner:
            label = self._overlay_label("paneCorner")
            label.setWordWrap(True)
            layout.addWidget(label, 0, 0, corner.value)
            self._corners[corner] = label
        self._placeholder = self._overlay_label("panePlaceholder")
        self._placeholder.setWordWrap(True)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self._placeholder, 0, 0, Qt.AlignmentFlag.AlignCenter)
        self.set_corner(Corner.TOP_LEFT, "")

        self.graphics.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    # What the pane shows.
    @property
    def has_image(self) -> bool:
        return self._values is not None

    @property
    def values(self) -> FloatImage | None:
        """The values the readout reports (modality values, or the signed difference)."""
        return self._values

    def show_image(self, image: PaneImage, values: FloatImage, lut: LookupTable) -> None:
        """Draw ``image.image`` at ``image.levels`` through ``lut``; readouts use ``values``."""
        self._values = values
        self._placeholder.hide()
        self.image_item.setLookupTable(lut)
        self.image_item.setImage(image.image, levels=image.levels, autoLevels=False)
        self.image_item.show()

    def show_placeholder(self, text: str) -> None:
        """Clear the image and its overlays and show ``text`` in the middle of the pane."""
        self._values = None
        self.image_item.clear()
        self.image_item.hide()
        for layer in Layer:
            self.set_layer(layer, None)
        self._placeholder.setText(text)
        self._placeholder.show()
        self.set_crosshair(None)
        if self.colorbar is not None:
            # Transparent, not hidden: hiding would re-layout and shift this pane's view.
            self.colorbar.setOpacity(0.0)

    def set_colorbar(self, colormap: pg.ColorMap, levels: tuple[float, float]) -> None:
        if self.colorbar is not None:
            self.colorbar.setColorMap(colormap)
            self.colorbar.setLevels(levels)
            self.colorbar.setOpacity(1.0)

    def levels(self) -> tuple[float, float]:
        low, high = self.image_item.getLevels()
        return float(low), float(high)

    def value_at(self, row: int, column: int) -> float | None:
        """The readout value at integer pixel ``(row, column)``, or None outside the image."""
        if self._values is None:
            return None
        height, width = self._values.shape
        if 0 <= row < height and 0 <= column < width:
            return float(self._values[row, column])
        return None

    # Overlays.
    def set_layer(self, layer: Layer, rgba: RgbaImage | None, opacity: float = 1.0) -> None:
        """Draw ``rgba`` (H, W, 4) uint8 on the image's grid as ``layer``; None hides it."""
        item = self._layers[layer]
        if rgba is None or self._values is None:
            item.hide()
            item.clear()
            return
        if rgba.shape[:2] != self._values.shape:
            raise ValueError(
                f"overlay {rgba.shape[:2]} does not match the image {self._values.shape}"
            )
        item.setImage(rgba, autoLevels=False, levels=(0, 255))
        item.setOpacity(min(max(opacity, 0.0), 1.0))
        item.show()

    def layer_visible(self, layer: Layer) -> bool:
        return self._layers[layer].isVisible()

    def layer_item(self, layer: Layer) -> pg.ImageItem:
        return self._layers[layer]

    def set_corner(self, corner: Corner, html: str) -> None:
        if corner is Corner.TOP_LEFT:
            title = f"<span style='color:{theme.ACCENT}; font-weight:600'>{self.title}</span>"
            html = f"{title}<br>{html}" if html else title
        label = self._corners[corner]
        label.setText(html)
        label.setVisible(bool(html))

    def corner_text(self, corner: Corner) -> str:
        return self._corners[corner].text()

    def set_crosshair(self, pixel: tuple[int, int] | None) -> None:
        """Centre the crosshair on integer pixel ``(row, column)``; None hides it."""
        vertical, horizontal = self._crosshair
        if pixel is None or self._values is None:
            vertical.hide()
            horizontal.hide()
            return
        row, column = pixel
        vertical.setPos(column + 0.5)
        horizontal.setPos(row + 0.5)
        vertical.show()
        horizontal.show()

    def crosshair_visible(self) -> bool:
        return self._crosshair[0].isVisible()

    # View.
    def fit(self) -> None:
        """Show the whole image, aspect ratio kept."""
        if self._values is not None:
            self.view_box.autoRange(items=[self.image_item], padding=0.0)

    def zoom_percent(self) -> float:
        """Screen pixels per image pixel, in percent (100 = one to one)."""
        pixel_width = self.view_box.viewPixelSize()[0]
        return 100.0 / pixel_width if pixel_width > 0 and math.isfinite(pixel_width) else 100.0

    def scene_point(self, row: float, column: float) -> QPointF:
        """Scene position of image coordinates ``(row, column)`` (tests, synthetic events)."""
        return self.view_box.mapViewToScene(QPointF(column, row))

    def _on_scene_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._values is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            self.cursor_left.emit()
            return
        point = self.view_box.mapSceneToView(scene_pos)
        self.cursor_moved.emit(float(point.y()), float(point.x()))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        # Left and right corners share the width: in a narrow pane their text wraps instead of
        # running into each other. The bottom-left readout is short, so bottom-right gets more.
        width = self.graphics.width()
        for corner, label in self._corners.items():
            label.setMaximumWidth(max(round(width * _CORNER_SHARE[corner]), 60))

    def _overlay_label(self, object_name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(object_name)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.setContentsMargins(8, 6, 8, 6)
        label.hide()
        return label


def pixel_under(row: float, column: float) -> tuple[int, int]:
    """Integer pixel containing continuous image coordinates (pixel (r, c) spans [c, c+1))."""
    return int(np.floor(row)), int(np.floor(column))
