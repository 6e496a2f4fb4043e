"""Original | translated | difference, side by side, with linked views and one window policy.

The panel draws a ``ViewerState``: the image, the explanation at the slider's frame, the window
of each image pane (shared when linked), polarity, the symmetric difference scale and the display
options (difference colour map, overlays, statistics). What the user does in the panes (window
and scale drags) is written into the state and drawn once the state reports the change, whoever
made it. The panel keeps only what belongs to the view itself: the crosshair and pixel readouts,
whether the view is fitted, and the text shown where nothing is. Panes only draw.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engine.api import Radiograph, VoiPreset
from viewer.colormaps import DifferenceMap, difference_colormap, difference_legend
from viewer.corner_texts import (
    DIFFERENCE_UNITS,
    STATISTICS_UNITS_SHORT,
    frame_text,
    image_description,
    readout,
    statistics_text,
    translated_description,
    window_text,
)
from viewer.explanation import NO_EXPLANATION_TEXT, Explanation, engine_result
from viewer.image_pane import Corner, ImagePane, Layer, pixel_under
from viewer.overlays import Attribution
from viewer.rendering import (
    FloatImage,
    PaneImage,
    compact_number,
    dragged_window,
    grayscale_lut,
    render_values,
)
from viewer.state import PaneRole, ViewerState
from viewer.statistics_report import StatisticsReport, report_of

__all__ = ["DIFFERENCE_UNITS", "NO_IMAGE_TEXT", "STATISTICS_UNITS_SHORT", "ComparisonPanel"]

NO_IMAGE_TEXT = "Open a radiograph (File ▸ Open, or drop a file here)"
# Screen pixels of horizontal drag that double the difference scale.
_DIFFERENCE_DRAG_PIXELS_PER_OCTAVE = 150.0
# View fields whose change redraws the corners (a new image or explanation redraws everything).
# Not the difference scale alone: a scale drag redraws the pane and its colour bar, and the
# corner's "± m" follows at the next redraw of the corners (as it always has).
_ANNOTATED_FIELDS = frozenset({"user_invert", "original_window", "translated_window", "frame"})
_OVERLAY_OPTIONS = frozenset({"lung_contour", "attribution_overlay", "overlay_opacity"})
_ANNOTATED_OPTIONS = frozenset(
    {"diverging_difference", "attribution_overlay", "overlay_opacity", "statistics_overlay"}
)


class ComparisonPanel(QWidget):
    """Three linked panes drawing ``state``."""

    levels_changed = Signal(float, float)  # centre, width of the original pane's window
    difference_scale_changed = Signal(float)  # m of the symmetric scale (-m, +m)
    frame_shown = Signal(int)

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
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

        self._value_range = 1.0  # of the shown image's values: a full-width drag spans it
        self._placeholder = NO_EXPLANATION_TEXT  # said where no explanation is shown
        self._fitted = False  # Fit was the last thing done to the view: keep it on resize
        self._show_nothing()
        state.events.changed.connect(self._on_state_changed)
        state.display.events.changed.connect(self._on_display_changed)

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
        return self.state.radiograph

    @property
    def explanation(self) -> Explanation | None:
        return self.state.explanation

    @property
    def frame(self) -> int:
        return self.state.frame

    @property
    def difference_limit(self) -> float:
        return self.state.difference_limit

    @property
    def difference_map(self) -> DifferenceMap:
        diverging = self.state.display.diverging_difference
        return DifferenceMap.DIVERGING if diverging else DifferenceMap.GRAY

    @property
    def inverted(self) -> bool:
        """Effective polarity: the image's own (MONOCHROME1) combined with the user's toggle."""
        return self.state.inverted

    @property
    def lung_contour_visible(self) -> bool:
        return self.state.display.lung_contour

    @property
    def attribution(self) -> Attribution:
        return self.state.display.attribution_overlay

    def preset(self, role: PaneRole = PaneRole.ORIGINAL) -> VoiPreset | None:
        return self.state.window(role)

    # What the user asks of the panes (View menu, keys), written into the state.
    def apply_preset(self, preset: VoiPreset) -> None:
        """Window both image panes (or the original only, when unlinked) with ``preset``."""
        self.state.apply_window(preset)

    def reset(self) -> None:
        """Default preset, image polarity, automatic difference scale, fitted view."""
        if self.state.radiograph is None:
            return
        self.state.reset_view()
        self._update_annotations()  # the scale's corner too, even when nothing else changed
        self.fit()

    def toggle_invert(self) -> None:
        self.state.toggle_invert()

    def show_frame(self, index: int) -> None:
        """Show slider frame ``index`` (clamped) in the translated and difference panes."""
        frame = self.state.frame_clamped(index)
        if frame is not None:
            self.state.frame = frame

    def set_statistics_visible(self, visible: bool) -> None:
        """Show the lung brightness statistics in the difference pane's corner."""
        self.state.display.statistics_overlay = visible

    def set_attribution(self, kind: Attribution, opacity: float | None = None) -> None:
        """Overlay a classifier attribution heat map on the original pane (NONE hides it)."""
        if opacity is None:
            self.state.display.attribution_overlay = kind
        else:
            clamped = min(max(opacity, 0.0), 1.0)
            self.state.display.update(attribution_overlay=kind, overlay_opacity=clamped)

    def fit(self) -> None:
        """Show the whole image as large as the panes allow (the limiting dimension filled); it
        stays fitted while the panes are resized, until the user pans or zooms."""
        self._fitted = True
        self.original.fit()

    def show_status(self, text: str) -> None:
        """Say ``text`` where nothing is shown: in the original pane while there is no image, in
        the translated and difference panes while there is no explanation. Never hides an
        image or an explanation."""
        if self.state.radiograph is None:
            self.original.show_placeholder(text or NO_IMAGE_TEXT)
            return
        if self.state.explanation is None:
            self._placeholder = text
            self.translated.show_placeholder(text)
            self.difference.show_placeholder(text)

    def clear_explanation(self, text: str) -> None:
        """Drop the explanation; the translated and difference panes show ``text``."""
        self._placeholder = text
        if not self.state.clear_explanation():  # none was shown: nothing redrew the panes
            self._show_without_explanation()

    # Values at the slider's frame.
    def translated_values(self) -> FloatImage | None:
        explanation = self.state.explanation
        if explanation is None:
            return None
        frames = explanation.frames
        return frames[self.state.frame].translated if frames else explanation.translated

    def difference_values(self) -> FloatImage | None:
        explanation, radiograph = self.state.explanation, self.state.radiograph
        if explanation is None or radiograph is None:
            return None
        frames = explanation.frames
        if not frames:
            return explanation.difference
        return frames[self.state.frame].translated - radiograph.pixels

    def frame_probability(self) -> float | None:
        explanation = self.state.explanation
        if explanation is None:
            return None
        frames = explanation.frames
        return (
            frames[self.state.frame].probability if frames else explanation.probability_translated
        )

    # Drawing the state.
    def _on_state_changed(self, names: frozenset[str]) -> None:
        if "radiograph" in names:
            self._show_new_image()
            return
        if "explanation" in names:
            if self.state.explanation is None:
                self._show_without_explanation()
            else:
                self._show_new_explanation()
            return
        if "user_invert" in names:
            self._render_all()
        else:
            if "original_window" in names:
                self._render(PaneRole.ORIGINAL)
            if names & {"translated_window", "frame"}:
                self._render(PaneRole.TRANSLATED)
            if names & {"difference_limit", "frame"}:
                self._render(PaneRole.DIFFERENCE)
        if names & _ANNOTATED_FIELDS:
            self._update_annotations()
        window = self.state.original_window
        if "original_window" in names and window is not None:
            self.levels_changed.emit(window.center, window.width)
        if "difference_limit" in names:
            self.difference_scale_changed.emit(self.state.difference_limit)
        if "frame" in names:
            self.frame_shown.emit(self.state.frame)

    def _on_display_changed(self, names: frozenset[str]) -> None:
        if "link_window" in names and self.state.display.link_window:
            self.state.link_windows()
        if "diverging_difference" in names:
            self._render(PaneRole.DIFFERENCE)
        if names & _OVERLAY_OPTIONS:
            self._apply_overlays()
        if names & _ANNOTATED_OPTIONS:
            self._update_annotations()

    def _show_nothing(self) -> None:
        self.original.show_placeholder(NO_IMAGE_TEXT)
        self.translated.show_placeholder("")
        self.difference.show_placeholder("")
        for pane in self.panes.values():
            for corner in Corner:
                pane.set_corner(corner, "")

    def _show_new_image(self) -> None:
        """A newly opened image with its default window; the previous image's crosshair and
        readouts go, and the explanation panes say what is being done."""
        self.clear_cursor()
        radiograph = self.state.radiograph
        if radiograph is None:
            return
        finite = radiograph.pixels[np.isfinite(radiograph.pixels)]
        self._value_range = float(finite.max() - finite.min()) if finite.size else 1.0
        self._render(PaneRole.ORIGINAL)
        self._show_without_explanation()
        self.fit()
        self._update_annotations()
        window = self.state.original_window
        if window is not None:
            self.levels_changed.emit(window.center, window.width)

    def _show_without_explanation(self) -> None:
        self.clear_cursor()
        if self.state.radiograph is not None:
            self.translated.show_placeholder(self._placeholder)
            self.difference.show_placeholder(self._placeholder)
        self._apply_overlays()
        self._update_annotations()

    def _show_new_explanation(self) -> None:
        self._render(PaneRole.TRANSLATED)
        self._render(PaneRole.DIFFERENCE)
        self._apply_overlays()
        self._update_annotations()
        self.difference_scale_changed.emit(self.state.difference_limit)

    def _apply_overlays(self) -> None:
        options = self.state.display
        overlays = getattr(self.state.explanation, "overlays", None)
        contour = getattr(overlays, "lung_contour", None) if options.lung_contour else None
        for pane in self.panes.values():
            pane.set_layer(Layer.CONTOUR, contour)
        heat = None
        if options.attribution_overlay is not Attribution.NONE:
            heat = getattr(overlays, options.attribution_overlay.value, None)
        opacity = min(max(options.overlay_opacity, 0.0), 1.0)
        self.original.set_layer(Layer.HEAT, heat, opacity)

    def _render_all(self) -> None:
        for role in PaneRole:
            self._render(role)

    def _render(self, role: PaneRole) -> None:
        state = self.state
        if state.radiograph is None:
            return
        pane = self.panes[role]
        if role is PaneRole.DIFFERENCE:
            values = self.difference_values()
            if values is None:
                return
            limit = state.difference_limit
            colormap = difference_colormap(self.difference_map, inverted=state.inverted)
            pane.show_image(PaneImage(values, (-limit, limit)), values, colormap.getLookupTable())
            pane.set_colorbar(colormap, (-limit, limit))
            return
        values = state.radiograph.pixels if role is PaneRole.ORIGINAL else self.translated_values()
        window = state.window(role)
        if values is None or window is None:
            return
        pane.show_image(render_values(values, window), values, grayscale_lut(state.inverted))

    # What the user does in the panes.
    def _on_pane_window_dragged(self, role: PaneRole, dx: float, dy: float) -> None:
        state = self.state
        if state.radiograph is None or not self.panes[role].has_image:
            return
        reversed_drag = state.display.invert_mouse_direction
        if role is PaneRole.DIFFERENCE:
            sign = -1.0 if reversed_drag else 1.0
            state.scale_difference(2.0 ** (sign * dx / _DIFFERENCE_DRAG_PIXELS_PER_OCTAVE))
            return
        window = state.window(role)
        if window is None:
            return
        dragged = dragged_window(window, dx, dy, self._value_range, invert_direction=reversed_drag)
        state.drag_window(role, dragged)

    # Crosshair and annotations.
    def _on_pane_cursor_moved(self, row: float, column: float) -> None:
        pixel = pixel_under(row, column)
        if self.original.value_at(*pixel) is None:
            self._on_pane_cursor_left()
            return
        for role, pane in self.panes.items():
            pane.set_crosshair(pixel)
            value = pane.value_at(*pixel)
            text = "" if value is None else readout(role, pixel, value)
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
        state = self.state
        radiograph, original_window = state.radiograph, state.original_window
        if radiograph is None or original_window is None:
            return
        zoom = f"Zoom {self.original.zoom_percent():.0f}%"
        self.original.set_corner(Corner.TOP_LEFT, image_description(radiograph))
        self.original.set_corner(Corner.TOP_RIGHT, f"{window_text(original_window)}<br>{zoom}")
        explanation, translated_window = state.explanation, state.translated_window
        if explanation is None or translated_window is None:
            for role in (PaneRole.TRANSLATED, PaneRole.DIFFERENCE):
                self.panes[role].set_corner(Corner.TOP_LEFT, "")
                self.panes[role].set_corner(Corner.TOP_RIGHT, "")
                self.panes[role].set_corner(Corner.BOTTOM_RIGHT, "")
            self.original.set_corner(Corner.BOTTOM_RIGHT, "")
            return
        label = explanation.positive_label
        original_text = f"P({label}) {explanation.probability_original:.2f}"
        attribution = state.display.attribution_overlay
        if attribution is not Attribution.NONE and self.original.layer_visible(Layer.HEAT):
            original_text = f"{attribution.label} overlay<br>{original_text}"
        self.original.set_corner(Corner.BOTTOM_RIGHT, original_text)
        self.translated.set_corner(Corner.TOP_LEFT, translated_description(explanation))
        self.translated.set_corner(Corner.TOP_RIGHT, f"{window_text(translated_window)}<br>{zoom}")
        probability = self.frame_probability()
        self.translated.set_corner(
            Corner.BOTTOM_RIGHT,
            f"P({label}) {probability:.2f}{frame_text(explanation, state.frame)}",
        )
        legend = difference_legend(self.difference_map, inverted=state.inverted)
        self.difference.set_corner(Corner.TOP_LEFT, f"{DIFFERENCE_UNITS}<br>{legend}")
        limit = compact_number(state.difference_limit)
        self.difference.set_corner(Corner.TOP_RIGHT, f"± {limit}<br>{zoom}")
        report = self._statistics_report() if state.display.statistics_overlay else None
        self.difference.set_corner(
            Corner.BOTTOM_RIGHT, statistics_text(report) if report is not None else ""
        )

    def _statistics_report(self) -> StatisticsReport | None:
        result = engine_result(self.state.explanation)
        return report_of(result) if result is not None else None
