"""The recipe's optional last classifier stage: the classifier fine-tuned on a second phantom set.

Every miss of the shipped classifier on ``cxr-explain phantoms`` sets is a nodules-only finding of
contrast about 1 (most of them profusion 1 of type p or q), while the recipe draws contrast 1-3
and haze in half the findings. This stage starts from the trained classifier (``--init-from``)
and trains a few epochs on fresh anatomies whose findings lie nearer the plain ones, at an input
size of its own (the classifier is fully convolutional with global pooling, so weights trained at
384 px start a 512 px run). The CycleGAN stays guided by the classifier before this stage; the
FIGAN, whose PLS is tied to the classifier's weights, is trained for the fine-tuned one. Measured
in docs/training.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.phantoms import DiseaseRecipe

#: Contrast 1-2 and haze in a quarter of the findings: nearer what ``cxr-explain phantoms``
#: draws (contrast 1, no haze) than the recipe's contrast 1-3 and haze in half.
FINETUNE_RECIPE = DiseaseRecipe(opacity_density_range=(1.0, 2.0), haze_probability=0.25)


@dataclass(frozen=True, slots=True)
class FinetunePlan:
    """Sizes of the fine-tuning stage; the other options are the recipe classifier's."""

    phantoms: int = 1000
    # The second set's anatomies: recipe seed + this, so none is an anatomy of the first set.
    seed_offset: int = 7
    disease: DiseaseRecipe = FINETUNE_RECIPE
    size: int = 512
    epochs: int = 8
    # About a third of the first run's rate, falling along a cosine: adjust, do not start over.
    lr: float = 3e-4

    @classmethod
    def quick(cls) -> FinetunePlan:
        """Tiny: 8 anatomies at 32 px, one epoch (tests)."""
        return cls(phantoms=8, size=32, epochs=1)
