"""Original | translated | difference, side by side, with linked views and one window policy.

The panel owns what is shown and how: the VOI preset of each image pane (shared when the
window is linked), polarity, the symmetric difference scale, the slider frame, the crosshair and
the corner annotations. Panes only draw.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engine.api import Radiograph, VoiPreset
from viewer import theme
from viewer.colormaps import DifferenceMap, difference_colormap, difference_legend
from viewer.explanation import NO_EXPLANATION_TEXT, Explanation, Feature, engine_result
from viewer.image_pane import Corner, ImagePane, Layer, pixel_under
from viewer.overlays import DEFAULT_OVERLAY_OPACITY, Attribution
from viewer.rendering import (
    FloatImage,
    PaneImage,
    compact_number,
    dragged_window,
    grayscale_lut,
    render_values,
    symmetric_limit,
)
from viewer.statistics_report import StatisticsReport, report_of

_TIMES = "\u00d7"  # multiplication sign
_MINUS = "\u2212"  # minus sign
DIFFERENCE_UNITS = f"Δ = translated {_MINUS} original"  # in modality values, like the readout
# The statistics' units, short enough for a corner (the statistics panel gives them in full).
STATISTICS_UNITS_SHORT = "intensity 0 to 1 of the model window"
NO_IMAGE_TEXT = "Open a radiograph (File ▸ Open, or drop a file here)"
# Screen pixels of horizontal drag that double the difference scale.
_DIFFERENCE_DRAG_PIXELS_PER_OCTAVE = 150.0


class PaneRole(StrEnum):
    ORIGINAL = "original"
    TRANSLATED = "translated"
    DIFFERENCE = "difference"


class ComparisonPanel(QWidget):
    """Three linked panes and the display state behind them."""

    levels_changed = Signal(float, float)  # centre, width of the original pane's window
    difference_scale_changed = Signal(float)  # m of the symmetric scale (-m, +m)
    frame_shown = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panes: dict[PaneRole, ImagePane] = {
            PaneRole.ORIGINAL: ImagePane("ORIGINAL", self),
            PaneRole.TRANSLATED: ImagePane("TRANSLATED", self),
            PaneRole.DIFFERENCE: ImagePane("DIFFERENCE", self, colorbar=True),
        }
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for pane in self.panes.values():
            layout.addWidget(pane, 1)

        leader = self.original.view_box
        for role in (PaneRole.TRANSLATED, PaneRole.DIFFERENCE):
            self.panes[role].view_box.setXLink(leader)
            self.panes[role].view_box.setYLink(leader)
        leader.sigRangeChanged.connect(self._on_view_range_changed)

        for role, pane in self.panes.items():
            pane.view_box.window_dragged.connect(
                lambda dx, dy, role=role: self._on_pane_window_dragged(role, dx, dy)
            )
            pane.view_box.fit_requested.connect(self.fit)
            pane.view_box.sigResized.connect(self._on_view_resized)
            pane.view_box.sigRangeChangedManually.connect(self._on_view_range_changed_manually)
            pane.cursor_moved.connect(self._on_pane_cursor_moved)
            pane.cursor_left.connect(self._on_pane_cursor_left)

        self._radiograph: Radiograph | None = None
        self._value_range = 1.0
        self._presets: dict[PaneRole, VoiPreset] = {}
        self._link_window = True
        self._user_invert = False
        self._invert_mouse_direction = False
        self._difference_map = DifferenceMap.GRAY
        self._explanation: Explanation | None = None
        self._frame = 0
        self._difference_limit = 1.0
        self._auto_difference_limit = 1.0
        self._placeholder = NO_EXPLANATION_TEXT
        self._show_contour = False
        self._attribution = Attribution.NONE
        self._overlay_opacity = DEFAULT_OVERLAY_OPACITY
        self._show_statistics = True
        self._fitted = False  # Fit was the last thing done to the view: keep it on resize
        self.clear()

    # Accessors.
    @property
    def original(self) -> ImagePane:
        return self.panes[PaneRole.ORIGINAL]

    @property
    def translated(self) -> ImagePane:
        return self.panes[PaneRole.TRANSLATED]

    @property
    def difference(self) -> ImagePane:
        return self.panes[PaneRole.DIFFERENCE]

    @property
    def radiograph(self) -> Radiograph | None:
        return self._radiograph

    @property
    def explanation(self) -> Explanation | None:
        return self._explanation

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def difference_limit(self) -> float:
        return self._difference_limit

    @property
    def inverted(self) -> bool:
        """Effective polarity: the image's own (MONOCHROME1) combined with the user's toggle."""
        own = self._radiograph.invert if self._radiograph is not None else False
        return own != self._user_invert

    def preset(self, role: PaneRole = PaneRole.ORIGINAL) -> VoiPreset | None:
        return self._presets.get(role)

    # Image.
    def clear(self) -> None:
        self._radiograph = None
        self._explanation = None
        self._presets.clear()
        self.original.show_placeholder(NO_IMAGE_TEXT)
        self.translated.show_placeholder("")
        self.difference.show_placeholder("")
        for pane in self.panes.values():
            for corner in Corner:
                pane.set_corner(corner, "")

    def set_radiograph(self, radiograph: Radiograph) -> None:
        """Show a newly opened radiograph with its default preset; drops any explanation and
        the previous image's crosshair and readouts."""
        self.clear_cursor()
        self._radiograph = radiograph
        pixels = radiograph.pixels
        finite = pixels[np.isfinite(pixels)]
        self._value_range = float(finite.max() - finite.min()) if finite.size else 1.0
        self._user_invert = False
        default = radiograph.presets[0]
        self._presets = {PaneRole.ORIGINAL: default, PaneRole.TRANSLATED: default}
        self._render(PaneRole.ORIGINAL)
        self.clear_explanation(self._placeholder)
        self.fit()
        self._update_annotations()
        self.levels_changed.emit(default.center, default.width)

    def apply_preset(self, preset: VoiPreset) -> None:
        """Window both image panes (or the original only, when unlinked) with ``preset``."""
        if self._radiograph is None:
            return
        self._set_preset(PaneRole.ORIGINAL, preset)
        if self._link_window or self._explanation is None:
            self._set_preset(PaneRole.TRANSLATED, preset)

    def reset(self) -> None:
        """Default preset, image polarity, automatic difference scale, fitted view."""
        if self._radiograph is None:
            return
        self._user_invert = False
        self._difference_limit = self._auto_difference_limit
        default = self._radiograph.presets[0]
        self._set_preset(PaneRole.ORIGINAL, default)
        self._set_preset(PaneRole.TRANSLATED, default)
        self._render(PaneRole.DIFFERENCE)
        self.fit()

    def toggle_invert(self) -> None:
        self._user_invert = not self._user_invert
        self._render_all()
        self._update_annotations()  # the difference legend names the inverted ends

    def set_link_window(self, linked: bool) -> None:
        self._link_window = linked
        if linked and PaneRole.ORIGINAL in self._presets:
            self._set_preset(PaneRole.TRANSLATED, self._presets[PaneRole.ORIGINAL])

    def set_invert_mouse_direction(self, inverted: bool) -> None:
        self._invert_mouse_direction = inverted

    def set_difference_map(self, kind: DifferenceMap) -> None:
        self._difference_map = kind
        self._render(PaneRole.DIFFERENCE)
        self._update_annotations()

    def fit(self) -> None:
        """Show the whole image as large as the panes allow (the limiting dimension filled); it
        stays fitted while the panes are resized, until the user pans or zooms."""
        self._fitted = True
        self.original.fit()

    def show_status(self, text: str) -> None:
        """Say ``text`` where nothing is shown: in the original pane while there is no image, in
        the translated and difference panes while there is no explanation. Never hides an
        image or an explanation."""
        if self._radiograph is None:
            self.original.show_placeholder(text or NO_IMAGE_TEXT)
            return
        if self._explanation is None:
            self._placeholder = text
            self.translated.show_placeholder(text)
            self.difference.show_placeholder(text)

    # Explanation.
    def clear_explanation(self, text: str) -> None:
        """Drop the explanation; the translated and difference panes show ``text``."""
        self.clear_cursor()
        self._placeholder = text
        self._explanation = None
        self._frame = 0
        if self._radiograph is not None:
            self.translated.show_placeholder(text)
            self.difference.show_placeholder(text)
        self._apply_overlays()
        self._update_annotations()

    def show_explanation(self, explanation: Explanation) -> None:
        """Fill the translated and difference panes; the slider starts at the last frame."""
        if self._radiograph is None:
            return
        self._auto_difference_limit = _difference_limit_of(explanation, self._radiograph)
        self._difference_limit = self._auto_difference_limit
        self._explanation = explanation
        self._frame = max(len(explanation.frames) - 1, 0)
        self._render(PaneRole.TRANSLATED)
        self._render(PaneRole.DIFFERENCE)
        self._apply_overlays()
        self._update_annotations()
        self.difference_scale_changed.emit(self._difference_limit)

    # Overlays.
    @property
    def lung_contour_visible(self) -> bool:
        return self._show_contour

    @property
    def attribution(self) -> Attribution:
        return self._attribution

    def set_lung_contour_visible(self, visible: bool) -> None:
        """Draw the lung contour (from the explanation's lung masks) on all three panes."""
        self._show_contour = visible
        self._apply_overlays()

    def set_attribution(self, kind: Attribution, opacity: float | None = None) -> None:
        """Overlay a classifier attribution heat map on the original pane (NONE hides it)."""
        self._attribution = kind
        if opacity is not None:
            self._overlay_opacity = min(max(opacity, 0.0), 1.0)
        self._apply_overlays()
        self._update_annotations()  # the original pane's corner names the overlay

    def set_statistics_visible(self, visible: bool) -> None:
        """Show the lung brightness statistics in the difference pane's corner."""
        self._show_statistics = visible
        self._update_annotations()

    def _apply_overlays(self) -> None:
        overlays = getattr(self._explanation, "overlays", None)
        contour = getattr(overlays, "lung_contour", None) if self._show_contour else None
        for pane in self.panes.values():
            pane.set_layer(Layer.CONTOUR, contour)
        heat = None
        if self._attribution is not Attribution.NONE:
            heat = getattr(overlays, self._attribution.value, None)
        self.original.set_layer(Layer.HEAT, heat, self._overlay_opacity)

    def show_frame(self, index: int) -> None:
        """Show slider frame ``index`` (clamped) in the translated and difference panes."""
        if self._explanation is None or not self._explanation.frames:
            return
        index = min(max(index, 0), len(self._explanation.frames) - 1)
        self._frame = index
        self._render(PaneRole.TRANSLATED)
        self._render(PaneRole.DIFFERENCE)
        self._update_annotations()
        self.frame_shown.emit(index)

    def translated_values(self) -> FloatImage | None:
        if self._explanation is None:
            return None
        frames = self._explanation.frames
        return frames[self._frame].translated if frames else self._explanation.translated

    def difference_values(self) -> FloatImage | None:
        if self._explanation is None or self._radiograph is None:
            return None
        frames = self._explanation.frames
        if not frames:
            return self._explanation.difference
        return frames[self._frame].translated - self._radiograph.pixels

    def frame_probability(self) -> float | None:
        if self._explanation is None:
            return None
        frames = self._explanation.frames
        return (
            frames[self._frame].probability if frames else self._explanation.probability_translated
        )

    # Rendering.
    def _set_preset(self, role: PaneRole, preset: VoiPreset) -> None:
        self._presets[role] = preset
        self._render(role)
        self._update_annotations()
        if role is PaneRole.ORIGINAL:
            self.levels_changed.emit(preset.center, preset.width)

    def _render_all(self) -> None:
        for role in PaneRole:
            self._render(role)

    def _render(self, role: PaneRole) -> None:
        if self._radiograph is None:
            return
        pane = self.panes[role]
        if role is PaneRole.DIFFERENCE:
            values = self.difference_values()
            if values is None:
                return
            limit = self._difference_limit
            colormap = difference_colormap(self._difference_map, inverted=self.inverted)
            pane.show_image(PaneImage(values, (-limit, limit)), values, colormap.getLookupTable())
            pane.set_colorbar(colormap, (-limit, limit))
            return
        values = self._radiograph.pixels if role is PaneRole.ORIGINAL else self.translated_values()
        if values is None:
            return
        pane.show_image(
            render_values(values, self._presets[role]), values, grayscale_lut(self.inverted)
        )

    def _on_pane_window_dragged(self, role: PaneRole, dx: float, dy: float) -> None:
        if self._radiograph is None or not self.panes[role].has_image:
            return
        if role is PaneRole.DIFFERENCE:
            sign = -1.0 if self._invert_mouse_direction else 1.0
            factor = 2.0 ** (sign * dx / _DIFFERENCE_DRAG_PIXELS_PER_OCTAVE)
            self._difference_limit = max(self._difference_limit * factor, 1e-6)
            self._render(PaneRole.DIFFERENCE)
            self.difference_scale_changed.emit(self._difference_limit)
            return
        preset = dragged_window(
            self._presets[role],
            dx,
            dy,
            self._value_range,
            invert_direction=self._invert_mouse_direction,
        )
        if self._link_window:
            self._set_preset(PaneRole.ORIGINAL, preset)
            self._set_preset(PaneRole.TRANSLATED, preset)
        else:
            self._set_preset(role, preset)

    # Crosshair and annotations.
    def _on_pane_cursor_moved(self, row: float, column: float) -> None:
        pixel = pixel_under(row, column)
        if self.original.value_at(*pixel) is None:
            self._on_pane_cursor_left()
            return
        for role, pane in self.panes.items():
            pane.set_crosshair(pixel)
            value = pane.value_at(*pixel)
            text = "" if value is None else _readout(role, pixel, value)
            pane.set_corner(Corner.BOTTOM_LEFT, text)

    def _on_pane_cursor_left(self) -> None:
        self.clear_cursor()

    @contextmanager
    def cursor_graphics_hidden(self) -> Iterator[None]:
        """Without the crosshair and the pixel readouts while the block runs (a snapshot shows
        the images, not where the mouse happened to be); as they were afterwards."""
        for pane in self.panes.values():
            pane.set_cursor_graphics_shown(False)
        try:
            yield
        finally:
            for pane in self.panes.values():
                pane.set_cursor_graphics_shown(True)

    def clear_cursor(self) -> None:
        """Hide the crosshair and the pixel readout in every pane (until the cursor moves)."""
        for pane in self.panes.values():
            pane.set_crosshair(None)
            pane.set_corner(Corner.BOTTOM_LEFT, "")

    def _on_view_resized(self) -> None:
        # A resized view keeps its range, widened to its new aspect; through the links the
        # others widen theirs, and so on: a few resizes left the image at a fraction of the
        # pane. A fitted view is fitted again instead.
        if self._fitted:
            self.original.fit()

    def _on_view_range_changed_manually(self) -> None:
        self._fitted = False

    def _on_view_range_changed(self) -> None:
        self._update_annotations()

    def _update_annotations(self) -> None:
        """Four quiet corners per pane: what the image is (top left), window and zoom (top
        right), the pixel readout (bottom left, set by the cursor) and what the explanation says
        (bottom right). Model identity is not here: it is the explanation panel's Model row and
        Help > About."""
        radiograph = self._radiograph
        if radiograph is None:
            return
        zoom = f"Zoom {self.original.zoom_percent():.0f}%"
        self.original.set_corner(Corner.TOP_LEFT, _image_description(radiograph))
        self.original.set_corner(
            Corner.TOP_RIGHT, f"{_window_text(self._presets[PaneRole.ORIGINAL])}<br>{zoom}"
        )
        explanation = self._explanation
        if explanation is None:
            for role in (PaneRole.TRANSLATED, PaneRole.DIFFERENCE):
                self.panes[role].set_corner(Corner.TOP_LEFT, "")
                self.panes[role].set_corner(Corner.TOP_RIGHT, "")
                self.panes[role].set_corner(Corner.BOTTOM_RIGHT, "")
            self.original.set_corner(Corner.BOTTOM_RIGHT, "")
            return
        label = explanation.positive_label
        original_text = f"P({label}) {explanation.probability_original:.2f}"
        if self._attribution is not Attribution.NONE and self.original.layer_visible(Layer.HEAT):
            original_text = f"{self._attribution.title} overlay<br>{original_text}"
        self.original.set_corner(Corner.BOTTOM_RIGHT, original_text)
        self.translated.set_corner(Corner.TOP_LEFT, _translated_description(explanation))
        self.translated.set_corner(
            Corner.TOP_RIGHT, f"{_window_text(self._presets[PaneRole.TRANSLATED])}<br>{zoom}"
        )
        probability = self.frame_probability()
        self.translated.set_corner(
            Corner.BOTTOM_RIGHT, f"P({label}) {probability:.2f}{self._frame_text()}"
        )
        legend = difference_legend(self._difference_map, inverted=self.inverted)
        self.difference.set_corner(Corner.TOP_LEFT, f"{DIFFERENCE_UNITS}<br>{legend}")
        limit = compact_number(self._difference_limit)
        self.difference.set_corner(Corner.TOP_RIGHT, f"± {limit}<br>{zoom}")
        report = self._statistics_report() if self._show_statistics else None
        self.difference.set_corner(
            Corner.BOTTOM_RIGHT, _statistics_text(report) if report is not None else ""
        )

    def _statistics_report(self) -> StatisticsReport | None:
        result = engine_result(self._explanation)
        return report_of(result) if result is not None else None

    def _frame_text(self) -> str:
        explanation = self._explanation
        if explanation is None or not explanation.frames:
            return ""
        frame = explanation.frames[self._frame]
        count = len(explanation.frames)
        # A FIGAN feature's frames sit at component scores, a CycleGAN's at blend strengths.
        if isinstance(explanation.direction, Feature):
            position = f"score {frame.strength:+.2f} SD"
        else:
            position = f"strength {frame.strength:.2f}"
        return f"<br>Frame {self._frame + 1}/{count} · {position}"


def _statistics_text(report: StatisticsReport) -> str:
    """The lung field's brightness before/after in the difference pane's corner."""
    lung = report.lung
    if lung.n_pixels == 0:
        return "Lung field: no pixels"
    change = f"{lung.mean_change:+.3f}".replace("-", _MINUS)
    return (
        f"Lung mean {lung.mean_original:.3f} → {lung.mean_translated:.3f}<br>"
        f"Δ {change} · SD {lung.sd_original:.3f} → {lung.sd_translated:.3f}<br>"
        f"<span style='color:{theme.TEXT_DIM}'>{STATISTICS_UNITS_SHORT}</span>"
    )


def _difference_limit_of(explanation: Explanation, radiograph: Radiograph) -> float:
    """The symmetric scale over every frame: precomputed on the worker when the explanation
    carries it (the engine bridge does), else computed here."""
    limit = getattr(explanation, "difference_limit", None)
    if isinstance(limit, float) and limit > 0:
        return limit
    pixels = radiograph.pixels
    differences = [explanation.difference]
    differences += [frame.translated - pixels for frame in explanation.frames]
    return symmetric_limit(differences)


def _readout(role: PaneRole, pixel: tuple[int, int], value: float) -> str:
    row, column = pixel
    shown = f"Δ {value:+.4g}" if role is PaneRole.DIFFERENCE else f"Value {value:.5g}"
    return f"Row {row} · Col {column}<br>{shown}"


def _window_text(preset: VoiPreset) -> str:
    """Window and centre, and the preset's name on a line of its own (a long DICOM explanation
    such as "FULL RANGE" would otherwise wrap the numbers)."""
    name = "" if preset.name == "user" else f"<br>{preset.name}"
    return f"W {preset.width:.5g} · C {preset.center:.5g}{name}"


def _translated_description(explanation: Explanation) -> str:
    """What the translated pane shows: a synthetic image, and which way it was made."""
    choice = explanation.direction
    if isinstance(choice, Feature):
        return f"Synthetic · {choice.name} (FIGAN)"
    return f"Synthetic · {choice.title.lower()}"


def _image_description(radiograph: Radiograph) -> str:
    info = radiograph.info
    parts = [f"{info.columns} {_TIMES} {info.rows} px"]
    if info.modality:
        parts.append(info.modality)
    if info.view_position:
        parts.append(info.view_position)
    lines = [" · ".join(parts)]
    if info.spacing is not None:
        spacing = info.spacing
        lines.append(
            f"{spacing.row_mm:.3g} {_TIMES} {spacing.column_mm:.3g} mm ({spacing.kind.value})"
        )
    if radiograph.invert:
        lines.append("MONOCHROME1")
    return "<br>".join(lines)
