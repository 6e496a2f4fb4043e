"""One image pane: a pyqtgraph ``ImageItem`` in a ``RadiologyViewBox`` with overlays.

The pane draws what it is told (values, levels, lookup table) and reports the cursor; it holds
no window/level policy of its own (that lives in ``ComparisonPanel``). Levels are always explicit:
pyqtgraph's auto-levels would silently re-window every frame.

Corner annotations are outlined ``QLabel``s over the graphics view, placed by
``corner_layout`` so that they stay put while the image pans and zooms and never overlap one
another or the colour bar.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPen, QResizeEvent, QTextDocument, QTextOption
from PySide6.QtWidgets import QGraphicsRectItem, QGridLayout, QLabel, QWidget

from viewer import theme
from viewer.corner_layout import Corner, CornerText, Rect, corner_rects
from viewer.overlays import RgbaImage
from viewer.rendering import FloatImage, LookupTable, PaneImage, colorbar_ticks
from viewer.text_outline import TextOutlineEffect
from viewer.view_box import RadiologyViewBox

__all__ = ["Corner", "ImagePane", "Layer", "pixel_under"]

COLORBAR_WIDTH = 12  # pixels of colour
COLORBAR_HEIGHT_SHARE = 0.4  # of the view's height, at most
COLORBAR_Z = 20  # above the image, overlays and crosshair
_COLORBAR_MIN_HEIGHT = 100.0  # five labels stay apart
_COLORBAR_EDGE = 4.0  # gap to the view's right edge, pixels
_COLORBAR_FRAME = 1  # the frame lines around the bar, pixels
_COLORBAR_BACKING = (0, 0, 0, 150)  # RGBA behind the bar and its labels
_COLORBAR_TEXT_MARGIN = 12  # tick length and text offset beside the widest label
_LABEL_MARGIN = (8, 6)  # horizontal, vertical margin of the corner labels, pixels


class Layer(Enum):
    """Overlay layers above the image, in drawing order (the value is the z-value)."""

    HEAT = 1  # attribution heat map (Grad-CAM, input gradient)
    CONTOUR = 2  # lung contour


class ImagePane(QWidget):
    """A titled, zoomable image with crosshair, corner annotations and an optional colour bar."""

    cursor_moved = Signal(float, float)  # row, column in image coordinates (continuous)
    cursor_left = Signal()

    def __init__(
        self, title: str, parent: QWidget | None = None, *, colorbar: bool = False
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

        # The colour bar floats over the right edge of the view, in the view's own scene: a bar
        # beside the view would make this pane's image area narrower than its linked neighbours'
        # (the linked views would then crop or shrink the image).
        self.colorbar: pg.ColorBarItem | None = None
        self._colorbar_ticks: tuple[tuple[float, str], ...] = ()
        self._colorbar_axis_width = 0
        # A dark backing keeps the bar's labels readable over bright anatomy.
        self._colorbar_backing = QGraphicsRectItem()
        self._colorbar_backing.setPen(QPen(Qt.PenStyle.NoPen))
        self._colorbar_backing.setBrush(QColor(*_COLORBAR_BACKING))
        self._colorbar_backing.setZValue(COLORBAR_Z - 1)
        self._colorbar_backing.hide()
        if colorbar:
            self.colorbar = pg.ColorBarItem(
                values=(-1.0, 1.0),
                width=COLORBAR_WIDTH,
                interactive=False,
                colorMapMenu=False,
            )
            # The other three axes only frame the bar: no room for their (empty) labels.
            self.colorbar.getAxis("left").setWidth(_COLORBAR_FRAME)
            self.colorbar.getAxis("top").setHeight(_COLORBAR_FRAME)
            self.colorbar.getAxis("bottom").setHeight(_COLORBAR_FRAME)
            self.colorbar.setZValue(COLORBAR_Z)
            self.colorbar.hide()
            scene = self.graphics.scene()
            scene.addItem(self._colorbar_backing)
            scene.addItem(self.colorbar)
            self.view_box.sigResized.connect(self._place_colorbar)

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
        # Placed by hand (``_place_corners``), not by the layout: a grid cell lets two corners
        # of one row grow into each other.
        self._corners: dict[Corner, QLabel] = {}
        self._corner_rects: dict[Corner, Rect] = {}
        # (crosshair, readout) shown before set_cursor_graphics_shown(False) hid them.
        self._cursor_shown = (False, False)
        for corner in Corner:
            label = self._overlay_label("paneCorner")
            label.setWordWrap(True)
            label.setAlignment(corner.value)
            label.setGraphicsEffect(TextOutlineEffect(label))
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
        if self.colorbar is not None and self._colorbar_shown():
            self.colorbar.hide()
            self._colorbar_backing.hide()
            self._place_corners()

    def set_colorbar(self, colormap: pg.ColorMap, levels: tuple[float, float]) -> None:
        """Show the colour bar of ``colormap`` over the symmetric ``levels`` ``(-m, +m)``, with
        labelled ticks over the whole range."""
        if self.colorbar is None:
            return
        self.colorbar.setColorMap(colormap)
        self.colorbar.setLevels(levels)
        self._colorbar_ticks = colorbar_ticks(max(abs(levels[0]), abs(levels[1])))
        axis = self.colorbar.axis
        axis.setTicks([list(self._colorbar_ticks), []])
        # The axis drops labels wider than itself (the -5000 of a +-20880 bar was the last one
        # left): size it to the widest label, measured in the font it is drawn with.
        axis.setStyle(tickFont=self.font())
        metrics = QFontMetrics(self.font())
        widest = max(metrics.horizontalAdvance(text) for _, text in self._colorbar_ticks)
        self._colorbar_axis_width = widest + _COLORBAR_TEXT_MARGIN
        axis.setWidth(self._colorbar_axis_width)
        self.colorbar.show()
        self._colorbar_backing.show()
        self._place_corners()  # the top-left text keeps clear of the bar; the bar fits below

    @property
    def colorbar_ticks(self) -> tuple[tuple[float, str], ...]:
        """The colour bar's labelled ticks ``(value, text)``, bottom to top."""
        return self._colorbar_ticks

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
        if label.text() == html and label.isVisible() == bool(html):
            return  # the readout is set on every mouse move: skip the relayout
        label.setText(html)
        label.setVisible(bool(html))
        self._place_corners()

    def corner_text(self, corner: Corner) -> str:
        return self._corners[corner].text()

    def corner_rect(self, corner: Corner) -> QRectF | None:
        """Where ``corner``'s text is drawn, in pane pixels; None while it has none."""
        label = self._corners[corner]
        return QRectF(label.geometry()) if label.isVisibleTo(self) else None

    def corner_fits(self, corner: Corner) -> bool:
        """``corner``'s whole text fits its rectangle (nothing is cut off)."""
        label = self._corners[corner]
        return label.heightForWidth(label.width()) <= label.height()

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

    def set_cursor_graphics_shown(self, shown: bool) -> None:
        """Hide (False) or show again (True) the crosshair and the pixel readout without
        forgetting them: a snapshot is grabbed without them, then they are back as they were."""
        readout = self._corners[Corner.BOTTOM_LEFT]
        if not shown:
            self._cursor_shown = (self.crosshair_visible(), not readout.isHidden())
            for line in self._crosshair:
                line.hide()
            readout.hide()
        else:
            crosshair, has_readout = self._cursor_shown
            self._cursor_shown = (False, False)
            for line in self._crosshair:
                line.setVisible(crosshair)
            readout.setVisible(has_readout and bool(readout.text()))
        self._place_corners()  # the other bottom text has the row to itself without a readout

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

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().leaveEvent(event)
        # The scene reports no move once the cursor is outside the view: without this the
        # crosshair and readout of the last position stay behind in every linked pane.
        self.cursor_left.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._place_corners()

    def _place_corners(self) -> None:
        """Give each shown corner its own rectangle (``corner_layout``), then fit the colour bar
        between the top-right and the bottom corners."""
        texts = {
            corner: self._corner_text_size(corner, label)
            for corner, label in self._corners.items()
            if label.text() and not label.isHidden()
        }
        self._corner_rects = corner_rects(self.width(), self.height(), texts)
        for corner, (x, y, width, height) in self._corner_rects.items():
            label = self._corners[corner]
            label.setGeometry(x, y, width, height)
            label.raise_()
        self._place_colorbar()

    def _corner_text_size(self, corner: Corner, label: QLabel) -> CornerText:
        label.ensurePolished()  # the style sheet sets the corners' font
        document = QTextDocument()
        document.setDocumentMargin(0)  # as QLabel draws rich text
        document.setDefaultTextOption(QTextOption(Qt.AlignmentFlag.AlignLeft))  # word wrap only
        document.setDefaultFont(label.font())
        document.setHtml(label.text())
        margins = label.contentsMargins().left() + label.contentsMargins().right()
        natural = math.ceil(document.idealWidth()) + margins
        document.setTextWidth(1.0)  # every word on a line of its own: the widest word
        least = math.ceil(document.idealWidth()) + margins
        if corner is Corner.TOP_RIGHT and self._colorbar_shown():
            # The colour bar hangs below the top-right text: the top-left text keeps clear of it.
            bar = math.ceil(self._colorbar_width()) + 2 * round(_COLORBAR_EDGE)
            natural, least = max(natural, bar), max(least, bar)
        return CornerText(natural, least, label.heightForWidth)

    def _place_colorbar(self) -> None:
        """Put the colour bar at the right edge, under the top-right annotation (its scale).

        It is as tall as the band above the fitted image when that band has room for it, so
        that it covers no anatomy at Fit (portrait panes); otherwise it takes a fixed share of
        the view (landscape panes: in the band beside the image). Computed from the fitted
        geometry, not the current zoom, so the bar stays put while the image is zoomed and
        panned.
        """
        if self.colorbar is None:
            return
        view = self.view_box.sceneBoundingRect()
        width = self._colorbar_width()
        line = QFontMetrics(self.font()).lineSpacing()
        # Below the top-right text (its scale), half a line for the end label. The scene's
        # coordinates are the pane's: the graphics view fills the pane from its top-left corner.
        top_right = self._corner_rects.get(Corner.TOP_RIGHT)
        above = top_right[1] + top_right[3] if top_right is not None else _LABEL_MARGIN[1]
        top = max(view.top(), above) + line / 2
        room = view.top() + self._fitted_band() - line / 2 - top
        largest = view.height() * COLORBAR_HEIGHT_SHARE
        height = min(room, largest) if room >= _COLORBAR_MIN_HEIGHT else largest
        # ... and above the bottom texts.
        bottoms = [y for corner, (_, y, _, _) in self._corner_rects.items() if not corner.is_top]
        if bottoms:
            height = max(min(height, min(bottoms) - line / 2 - top), 0.0)
        geometry = QRectF(view.right() - width - _COLORBAR_EDGE, top, width, height)
        self.colorbar.setGeometry(geometry)
        # The end labels reach half a line beyond the bar.
        self._colorbar_backing.setRect(geometry.adjusted(-_COLORBAR_EDGE, -line / 2, 0.0, line / 2))

    def _colorbar_width(self) -> float:
        # The axis's own width follows its fixed width only at the next layout pass.
        return _COLORBAR_FRAME + COLORBAR_WIDTH + self._colorbar_axis_width

    def _colorbar_shown(self) -> bool:
        return self.colorbar is not None and self.colorbar.isVisible()

    def _fitted_band(self) -> float:
        """Height in pixels of the empty band above the image when it is fitted to the view."""
        view = self.view_box.sceneBoundingRect()
        if self._values is None or not self._values.size:
            return 0.0
        rows, columns = self._values.shape
        fitted_height = min(view.width() * rows / columns, view.height())
        return (view.height() - fitted_height) / 2.0

    def _overlay_label(self, object_name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(object_name)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        horizontal, vertical = _LABEL_MARGIN
        label.setContentsMargins(horizontal, vertical, horizontal, vertical)
        label.hide()
        return label


def pixel_under(row: float, column: float) -> tuple[int, int]:
    """Integer pixel containing continuous image coordinates (pixel (r, c) spans [c, c+1))."""
    return int(np.floor(row)), int(np.floor(column))
