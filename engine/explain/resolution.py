"""Whether an image is too coarse for its verdict to carry its usual weight.

The classifier reads a letterboxed square of ``model_side`` pixels. An image with fewer pixels
across reaches it up-sampled: opacities smaller than the image's own pixels are averaged away
before any model sees them. Through files, on `cxr-explain phantoms --paired` sets (11 seeds,
88 pairs per size; docs/validation/resolution.md), the shipped classifiers at their operating
point kept their specificity at every size but found fewer diseased images in the smallest
files: 256 and 288 px, both for the 384 px classifier and for the 512 px one that replaced it.
The loss follows the file's own pixel count, not its share of the model side: the 512 px
classifier reads 320-1024 px files about equally well. A positive verdict on a coarse file is
weaker evidence too, though not at the training noise: the detector noise of a 256 px file,
up-sampled to the classifier's input, makes grains the size of small opacities, and with 1.5
times the training noise the shipped classifier called 17 of 24 healthy 256 px phantoms
diseased (1 of 24 at 512 px, none at 1024; docs/training.md). Either verdict on a coarse image
says so wherever it goes, each with its own reason.

What it cannot show: the share was measured on synthetic phantoms whose 256 px files have 1.6 mm
pixels; a real radiograph's smallest visible finding depends on its pixel spacing and the
findings, which a pixel count alone does not know.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.explain.warning_codes import EngineWarning, WarningCode

#: A source narrower than this counts as low resolution: on the measured sets sensitivity fell
#: in 256 and 288 px files and held from 320 px up, for a 384 and a 512 px classifier alike.
LOW_RESOLUTION_SIDE = 320
#: ... unless the classifier itself reads so few pixels that the file is not up-sampled much
#: (a model trained at 128 px loses nothing of a 256 px file): the source must also be narrower
#: than this share of the model side (a 384 px classifier: 307 px).
LOW_RESOLUTION_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class SourceResolution:
    """The image's longer side and the classifier's input side, in pixels."""

    side: int
    model_side: int

    def __post_init__(self) -> None:
        if self.side < 1 or self.model_side < 1:
            raise ValueError(f"sides must be positive, got {self.side} and {self.model_side}")

    @property
    def low(self) -> bool:
        return self.side < min(LOW_RESOLUTION_SIDE, LOW_RESOLUTION_SHARE * self.model_side)

    def warning(self, healthy_verdict: bool) -> EngineWarning:
        """Why a verdict on this (low-resolution) image is weaker evidence, for that verdict."""
        why = (
            "it finds fewer mild findings in images this coarse, so a healthy verdict is weaker "
            "evidence"
            if healthy_verdict
            else "detector noise in images this coarse can read as disease, so a positive "
            "verdict is weaker evidence"
        )
        return EngineWarning(
            WarningCode.LOW_RESOLUTION,
            f"low resolution ({self.side} px across, the classifier reads {self.model_side} px): "
            f"{why}; open the full-resolution image if there is one",
        )

    def caution(self, healthy_verdict: bool) -> str:
        """The reason's words in :meth:`ExplanationResult.caution` (burned into exports)."""
        what = (
            "a healthy verdict misses more mild findings"
            if healthy_verdict
            else "a positive verdict may be detector noise"
        )
        return f"LOW RESOLUTION ({self.side} px): {what}"
