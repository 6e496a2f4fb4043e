"""The texts of the panes' corners: rich text, ``<br>`` between lines.

The comparison panel decides which corner shows what and when; these functions only word it.
"""

from __future__ import annotations

from engine.api import Radiograph, VoiPreset
from viewer import theme
from viewer.explanation import Explanation, Feature
from viewer.state import PaneRole
from viewer.statistics_report import StatisticsReport

_TIMES = "\u00d7"  # multiplication sign
_MINUS = "\u2212"  # minus sign
DIFFERENCE_UNITS = f"Δ = translated {_MINUS} original"  # in modality values, like the readout
# The statistics' units, short enough for a corner (the statistics panel gives them in full).
STATISTICS_UNITS_SHORT = "intensity 0 to 1 of the model window"


def statistics_text(report: StatisticsReport) -> str:
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


def readout(role: PaneRole, pixel: tuple[int, int], value: float) -> str:
    """The pixel under the cursor and its value (a difference in the difference pane)."""
    row, column = pixel
    shown = f"Δ {value:+.4g}" if role is PaneRole.DIFFERENCE else f"Value {value:.5g}"
    return f"Row {row} · Col {column}<br>{shown}"


def window_text(preset: VoiPreset) -> str:
    """Window and centre, and the preset's name on a line of its own (a long DICOM explanation
    such as "FULL RANGE" would otherwise wrap the numbers)."""
    name = "" if preset.name == "user" else f"<br>{preset.name}"
    return f"W {preset.width:.5g} · C {preset.center:.5g}{name}"


def translated_description(explanation: Explanation) -> str:
    """What the translated pane shows: a synthetic image, and which way it was made."""
    choice = explanation.direction
    if isinstance(choice, Feature):
        return f"Synthetic · {choice.name} (FIGAN)"
    return f"Synthetic · {choice.label.lower()}"


def frame_text(explanation: Explanation, frame: int) -> str:
    """Which slider frame the translated pane shows, on a line of its own ("" without frames)."""
    if not explanation.frames:
        return ""
    shown = explanation.frames[frame]
    count = len(explanation.frames)
    # A FIGAN feature's frames sit at component scores, a CycleGAN's at blend strengths.
    if isinstance(explanation.direction, Feature):
        position = f"score {shown.strength:+.2f} SD"
    else:
        position = f"strength {shown.strength:.2f}"
    return f"<br>Frame {frame + 1}/{count} · {position}"


def image_description(radiograph: Radiograph) -> str:
    """Size, modality and view, pixel spacing, and MONOCHROME1 when the image is stored so."""
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
