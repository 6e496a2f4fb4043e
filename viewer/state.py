"""What the viewer shows and how, as evented models (no Qt): the panels render it, user changes
are written into it, and the settings adapter persists the display options.

``DisplayOptions`` are the user's choices that outlive the session (their field names are the
``ViewerSettings`` properties that store them). ``ViewerState`` is what is shown now: the image
and its file, the explanation and the slider frame, and the per-image view (window/level of each
image pane, the user's polarity toggle, the difference scale). Its methods are the changes that
move several fields at once; each notifies once, after every field is set.
"""

from __future__ import annotations

import operator
from enum import StrEnum
from pathlib import Path

from engine.api import Radiograph, VoiPreset
from viewer.evented import Evented, EventedModel
from viewer.explanation import Explanation
from viewer.overlays import DEFAULT_OVERLAY_OPACITY, Attribution
from viewer.rendering import symmetric_limit

# Smallest difference scale a drag can reach (the scale is halved and doubled, never zero).
MIN_DIFFERENCE_LIMIT = 1e-6


class PaneRole(StrEnum):
    ORIGINAL = "original"
    TRANSLATED = "translated"
    DIFFERENCE = "difference"


class DisplayOptions(EventedModel):
    """The Display panel's choices, remembered between sessions."""

    link_window = Evented(True)  # original and translated share one window/level
    diverging_difference = Evented(False)  # blue-white-red difference instead of gray
    invert_mouse_direction = Evented(False)  # reversed window/level drag directions
    lung_contour = Evented(False)  # the lung contour on all three panes
    statistics_overlay = Evented(True)  # lung statistics in the difference pane's corner
    attribution_overlay = Evented(Attribution.NONE)  # heat map over the original pane
    overlay_opacity = Evented(DEFAULT_OVERLAY_OPACITY)  # of the heat map, in [0, 1]


class ViewerState(EventedModel):
    """The shown image, its explanation and how both are displayed; ``display`` holds the
    user's persistent display options.

    Arrays make ``==`` elementwise, so the image, the explanation and the windows count as
    changed whenever another object is assigned (identity), like a new window from a drag.
    """

    path = Evented[Path | None](None)  # the file shown
    radiograph = Evented[Radiograph | None](None, same=operator.is_)
    explanation = Evented[Explanation | None](None, same=operator.is_)
    frame = Evented(0)  # the slider's frame of the explanation
    original_window = Evented[VoiPreset | None](None, same=operator.is_)
    translated_window = Evented[VoiPreset | None](None, same=operator.is_)
    user_invert = Evented(False)  # the user's polarity toggle (View > Invert)
    difference_limit = Evented(1.0)  # m of the difference pane's symmetric scale (-m, +m)
    auto_difference_limit = Evented(1.0)  # the scale over every frame (View > Reset View)

    def __init__(self, display: DisplayOptions | None = None) -> None:
        super().__init__()
        self.display = display if display is not None else DisplayOptions()

    @property
    def inverted(self) -> bool:
        """Effective polarity: the image's own (MONOCHROME1) combined with the user's toggle."""
        radiograph = self.radiograph
        own = radiograph.invert if radiograph is not None else False
        return own != self.user_invert

    def window(self, role: PaneRole) -> VoiPreset | None:
        """The window/level of an image pane (the difference pane has a scale instead)."""
        if role is PaneRole.ORIGINAL:
            return self.original_window
        if role is PaneRole.TRANSLATED:
            return self.translated_window
        return None

    def show_image(self, path: Path | None, radiograph: Radiograph) -> None:
        """A newly opened image, with its default window and polarity and no explanation."""
        default = radiograph.presets[0]
        self.update(
            path=path,
            radiograph=radiograph,
            user_invert=False,
            original_window=default,
            translated_window=default,
            explanation=None,
            frame=0,
        )

    def show_explanation(self, explanation: Explanation) -> None:
        """A finished explanation of the shown image: the slider at its last frame, the
        difference scale over every frame. Ignored while no image is shown."""
        radiograph = self.radiograph
        if radiograph is None:
            return
        limit = difference_limit_of(explanation, radiograph)
        self.update(
            explanation=explanation,
            frame=max(len(explanation.frames) - 1, 0),
            difference_limit=limit,
            auto_difference_limit=limit,
        )

    def clear_explanation(self) -> bool:
        """No explanation shown (one is being computed, or none will be). False when there
        was none already (nothing notified)."""
        return bool(self.update(explanation=None, frame=0))

    def apply_window(self, preset: VoiPreset) -> None:
        """Window both image panes with ``preset``, or the original only when the window is
        unlinked and an explanation is shown."""
        if self.radiograph is None:
            return
        if self.display.link_window or self.explanation is None:
            self.update(original_window=preset, translated_window=preset)
        else:
            self.update(original_window=preset)

    def drag_window(self, role: PaneRole, preset: VoiPreset) -> None:
        """A window dragged in ``role``'s pane: both image panes when linked."""
        if self.display.link_window:
            self.update(original_window=preset, translated_window=preset)
        elif role is PaneRole.TRANSLATED:
            self.translated_window = preset
        else:
            self.original_window = preset

    def link_windows(self) -> None:
        """The translated pane takes the original's window (the window was linked again)."""
        if self.original_window is not None:
            self.translated_window = self.original_window

    def scale_difference(self, factor: float) -> None:
        self.difference_limit = max(self.difference_limit * factor, MIN_DIFFERENCE_LIMIT)

    def frame_clamped(self, index: int) -> int | None:
        """``index`` clamped to the explanation's frames; None without frames."""
        explanation = self.explanation
        if explanation is None or not explanation.frames:
            return None
        return min(max(index, 0), len(explanation.frames) - 1)

    def reset_view(self) -> None:
        """The image's default window and polarity, the automatic difference scale."""
        radiograph = self.radiograph
        if radiograph is None:
            return
        default = radiograph.presets[0]
        self.update(
            user_invert=False,
            difference_limit=self.auto_difference_limit,
            original_window=default,
            translated_window=default,
        )

    def toggle_invert(self) -> None:
        self.user_invert = not self.user_invert


def difference_limit_of(explanation: Explanation, radiograph: Radiograph) -> float:
    """The symmetric scale over every frame: precomputed on the worker when the explanation
    carries it (the engine bridge does), else computed here."""
    limit = getattr(explanation, "difference_limit", None)
    if isinstance(limit, float) and limit > 0:
        return limit
    pixels = radiograph.pixels
    differences = [explanation.difference]
    differences += [frame.translated - pixels for frame in explanation.frames]
    return symmetric_limit(differences)
