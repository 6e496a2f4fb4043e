"""What ``cxr-explain validate`` measures and on which phantoms: the configuration, the file
formats and the names of the maps and metrics (shared by the report's modules)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from engine.explain.cout import DEFAULT_STEPS
from engine.phantoms import DEFAULT_RECIPE, RECIPES, DiseaseRecipe
from engine.phantoms.population import BREAST_PROBABILITY, FOREIGN_OBJECT_PROBABILITY

__all__ = [
    "BASELINE_MAPS",
    "LOCALISATION_METRICS",
    "MAPS",
    "RECIPES",
    "SLIDER_FRAMES",
    "FileFormat",
    "ValidationConfig",
]

MAPS = ("difference", "gradcam", "gradient", "integrated_gradients", "random")
BASELINE_MAPS = ("gradcam", "gradient", "integrated_gradients")
LOCALISATION_METRICS = ("iou", "roc_auc", "pr_auc", "pointing")
#: Slider frames per explanation: enough for the monotonic check to mean something.
SLIDER_FRAMES = 5


class FileFormat(StrEnum):
    PNG = "png"
    DICOM = "dicom"


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """``n`` paired phantoms, anatomy seeds ``seed .. seed + n - 1``, findings from ``recipe``;
    pair ``i`` is ``sizes[i % len]`` px, stored as ``formats[i % len]``.

    The defaults match the shipped models' training recipe; its anatomies use seeds 0-999, so
    seed 1000 on is held out. ``work``: where the files go (a temporary folder when None).
    """

    n: int = 40
    seed: int = 1000
    sizes: tuple[int, ...] = (256, 512, 1024)
    formats: tuple[FileFormat, ...] = (FileFormat.PNG, FileFormat.DICOM)
    recipe: DiseaseRecipe = DEFAULT_RECIPE
    # Devices and breast shadows in both images of a pair, as often as `cxr-explain phantoms`
    # draws them: the population users meet (the training phantoms have none), and devices make
    # the device-change ratio measurable.
    foreign_object_probability: float = FOREIGN_OBJECT_PROBABILITY
    breast_probability: float = BREAST_PROBABILITY
    integrated_gradients: bool = True
    cout_steps: int = DEFAULT_STEPS
    bootstrap: int = 1000
    threshold: float = 0.5
    work: Path | None = None

    def __post_init__(self) -> None:
        if self.n < 2:
            raise ValueError(f"n must be at least 2 (intervals need two pairs), got {self.n}")
        if not self.sizes or min(self.sizes) < 32:
            raise ValueError(f"sizes must be at least 32, got {self.sizes}")
        if not self.formats:
            raise ValueError("formats must name at least one file format")
        object.__setattr__(self, "formats", tuple(FileFormat(f) for f in self.formats))
        if self.cout_steps < 1:
            raise ValueError(f"cout_steps must be at least 1, got {self.cout_steps}")
        for name in ("foreign_object_probability", "breast_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.bootstrap < 100:
            raise ValueError(f"bootstrap must be at least 100, got {self.bootstrap}")
