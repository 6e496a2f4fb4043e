"""Adapts the engine's FIGAN ``FeatureExploration`` to what the viewer's panes show.

The feature slider reuses the CycleGAN panes and slider: the translated pane shows the frame at the
slider's position, the difference pane that frame's change from the original, and the slider runs
over the feature's score from ``-span`` to ``+span`` SD, with the classifier's probability of every
frame. As in ``engine_bridge``, the engine's display-unit changes are converted to the image's
modality units here, on the worker.

The exploration does not classify the unchanged image, so the caller passes the original's
probability and out-of-distribution verdict (the engine bridge takes both from the classifier
pass of the CycleGAN pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine import api
from viewer.explanation import (
    Explanation,
    Feature,
    FloatImage,
    ShownExplanation,
    readonly_image,
)
from viewer.export import GifExportOptions, write_sequence_gif
from viewer.overlays import RgbaImage, field_contour
from viewer.rendering import symmetric_limit

# First line of the banner for every feature explanation: the frames are not an image of anyone.
SYNTHETIC_NOTE = (
    "Synthetic images: the feature's change is drawn by the FIGAN generator and added to the "
    "radiograph inside the lungs. It shows what the classifier's feature looks like, not a finding."
)


@dataclass(frozen=True, slots=True)
class FeatureFrame:
    """One slider frame. ``strength`` is the feature's requested score (SD units; the slider
    protocol's name); ``achieved_score`` the classifier's reading of the feature in the frame."""

    strength: float
    translated: FloatImage
    probability: float
    achieved_score: float


@dataclass(frozen=True, slots=True)
class FeatureOverlays:
    """The lung field the exploration used; no attribution maps (those explain the classifier's
    decision on the original and come with the CycleGAN explanation)."""

    lung_contour: RgbaImage | None


@dataclass(frozen=True, slots=True)
class FeatureExplanation(ShownExplanation):
    """One feature moved from ``-span`` to ``+span`` SD on one radiograph (an ``Explanation``).

    ``translated`` / ``difference`` / ``probability_translated``: the frame at ``+span``.
    """

    direction: Feature
    frames: tuple[FeatureFrame, ...]
    overlays: FeatureOverlays
    score_correlation: float  # requested vs achieved feature score over the frames (Pearson r)
    exploration: api.FeatureExploration  # the engine's result (frames in display units, GIF)


def bridge_exploration(
    radiograph: api.Radiograph,
    exploration: api.FeatureExploration,
    *,
    probability_original: float,
    out_of_distribution: str | None,
    model_name: str,
) -> FeatureExplanation:
    """Express ``exploration`` of ``radiograph`` in modality units, frames in slider order."""
    sequence = exploration.sequence
    if not sequence.frames:
        raise api.InputError("the FIGAN exploration has no frames")
    changes = [api.modality_change(radiograph, frame.difference) for frame in sequence.frames]
    component = exploration.component
    frames = tuple(
        FeatureFrame(
            strength=frame.position,
            translated=readonly_image(radiograph.pixels + change),
            probability=frame.probability,
            achieved_score=float(achieved[component]),
        )
        for frame, change, achieved in zip(
            sequence.frames, changes, exploration.achieved, strict=True
        )
    )
    contour = field_contour((exploration.lung,), exploration.keep)
    return FeatureExplanation(
        translated=frames[-1].translated,
        difference=readonly_image(changes[-1]),
        probability_original=probability_original,
        probability_translated=frames[-1].probability,
        positive_label=sequence.label,
        direction=Feature(component, exploration.explained_label_variance),
        model_name=model_name,
        frames=frames,
        warnings=(SYNTHETIC_NOTE, *exploration.warnings),
        out_of_distribution=out_of_distribution,
        difference_limit=symmetric_limit(changes),
        overlays=FeatureOverlays(lung_contour=contour),
        score_correlation=exploration.score_correlation,
        exploration=exploration,
    )


def feature_exploration(explanation: Explanation | None) -> api.FeatureExploration | None:
    """The engine's exploration behind ``explanation``, or None for any other explanation."""
    return explanation.exploration if isinstance(explanation, FeatureExplanation) else None


def write_feature_gif(
    path: Path,
    exploration: api.FeatureExploration,
    options: GifExportOptions,
    identity: api.PatientIdentity | None = None,
) -> Path:
    """The exploration's frames ``first..last`` as a GIF (the engine labels every frame
    SYNTHETIC)."""
    return write_sequence_gif(path, exploration.original, exploration.sequence, options, identity)
