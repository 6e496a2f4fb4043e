"""The sizes and options of the recorded recipe (:mod:`engine.training.defaults` runs it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.explain.operating_point import CalibrationConfig
from engine.explain.validate import FileFormat
from engine.networks.generator import Upsampling
from engine.phantoms import DEFAULT_RECIPE, DiseaseRecipe
from engine.training.device_defaults import DevicePlan
from engine.training.figan_defaults import FiganPlan
from engine.training.finetune_defaults import FinetunePlan


@dataclass(frozen=True, slots=True)
class SegmenterPlan:
    """The lung segmenter's stage (at the plan's ``size``)."""

    epochs: int = 5
    width: int = 8


@dataclass(frozen=True, slots=True)
class ClassifierPlan:
    """One classifier stage: the classifier the generators are guided by, or the oracle.

    ``size``: input side (px); ``seed_offset``: added to the recipe seed (the oracle's own
    weights and data order); ``augment_input``: vary file, resolution, mask border and
    processing per batch (:mod:`engine.training.augment`).
    """

    size: int
    width: int
    epochs: int = 20
    augment_shift: float = 0.05
    augment_input: bool = True
    seed_offset: int = 0
    lr_schedule: str = "constant"


@dataclass(frozen=True, slots=True)
class CycleGANPlan:
    """The CycleGAN stage (at the plan's ``size``), guided by the recipe's classifier."""

    epochs: int = 2
    ngf: int = 16
    ndf: int = 16
    residual_blocks: int = 6
    # Off in the paper's recipe, on here: with a few epochs on a CPU the classifier-guided loss
    # is what makes the translations cross the decision boundary, and the mask term keeps the
    # background of the lung-field image untouched.
    classifier_guidance: float = 1.0
    mask_consistency: float = 1.0
    # The guidance judges the composite the user sees, at the classifier's size, and stops once
    # the logit is 2 across the boundary (P 0.12 / 0.88): no pushing into adversarial extremes.
    guidance_margin: float = 2.0
    guidance_on_composite: bool = True
    # The decoder's upsampling: nearest-neighbour then a convolution, not the paper's transposed
    # convolutions. Against the 512 px classifier, on validate's 40 pairs: signed NCC with the
    # planted change 0.138 against 0.062, COUT toward healthy +0.52 against +0.04, a monotonic
    # slider in 0.975 against 0.900; validity as displayed 0.949 against 0.974 (docs/training.md).
    upsampling: Upsampling = Upsampling.RESIZE


@dataclass(frozen=True, slots=True)
class DefaultsPlan:
    """Sizes of the default models. ``phantoms``: anatomies (each healthy and diseased)."""

    # Times per run on a 2-core CPU are recorded in docs/training.md.
    phantoms: int = 1000
    # Anatomy i is drawn at phantom_sizes[i % len]: the models meet 256-1024 px files in use, and
    # each size reaches the model input with another amount of resampling blur and noise.
    phantom_sizes: tuple[int, ...] = (256, 512, 1024)
    # Every n-th anatomy is stored as 16-bit PNG (the rest 8-bit): both occur in use.
    sixteen_bit_every: int = 3
    test_fraction: float = 0.1
    # Chance of devices / breast shadows per anatomy (both images). Off: the whole recipe trained
    # with `cxr-explain phantoms`' rates (0.1 / 0.3) gave a classifier no better on those images
    # and a to-healthy generator that flipped 5 % instead of 95 % (docs/training.md).
    foreign_object_probability: float = 0.0
    breast_probability: float = 0.0
    # Detector noise per anatomy, log-uniform in (low, high) from its own stream (the findings,
    # devices and breast shadows stay as they are). (1, 1), as the shipped models were trained:
    # every phantom at the documented noise, and 256 px files with 1.5x that noise read as
    # diseased (benchmarks/measure_noise_sensitivity.py, docs/training.md).
    noise_levels: tuple[float, float] = (1.0, 1.0)
    # Segmenter and CycleGAN input side.
    size: int = 128
    segmenter: SegmenterPlan = field(default_factory=SegmenterPlan)
    # The foreign-object segmenter whose mask the explanations leave unchanged (issue 19); None:
    # no such stage, and the explanations may change devices like lung tissue.
    devices: DevicePlan | None = field(default_factory=DevicePlan)
    # The classifier reads 512 px. Contrast-1 q opacities (1.5-3 mm) are 1-2 px at 256 and close
    # to the lung texture: at 384 the classifier found twice as many as at 256, and trained from
    # scratch at 512 it called 10 of 11 seeds' fresh phantom pairs right through files at 512 px
    # where the 384 px one called 5 (docs/training.md, "Model trials"). Its learning rate follows
    # half a cosine: it ends at a lower training loss than the constant rate and, through files,
    # called more phantoms right (CI guard accuracy 0.844 against 0.812, specificity 1.0 against
    # 0.938), at the same test AUC (docs/training.md).
    classifier: ClassifierPlan = field(
        default_factory=lambda: ClassifierPlan(size=512, width=16, lr_schedule="cosine")
    )
    # The oracle: an independent classifier that judges counterfactuals and is never used to
    # train a generator. Its own seed, width and constant rate, and 384 px: a judge that reads
    # another resampling of the file, trained another way, is more independent of the
    # classifier the generators were guided by.
    oracle: ClassifierPlan = field(
        default_factory=lambda: ClassifierPlan(size=384, width=12, seed_offset=1)
    )
    cyclegan: CycleGANPlan = field(default_factory=CycleGANPlan)
    batch_size: int = 8
    # What the diseased phantoms look like (see DiseaseRecipe and docs/training.md).
    disease: DiseaseRecipe = DEFAULT_RECIPE
    # The FIGAN of the trained classifier (engine.training.figan_defaults), at 128 px: at the
    # classifier's 512 px one run would take hours on 2 cores; its images are resampled to the
    # classifier's size to be read. 1200 steps of batch 16 (11 epochs of the 1800 training
    # images; times in docs/figan.md).
    figan: FiganPlan = field(default_factory=lambda: FiganPlan(size=128))
    # The classifier fine-tuned at 512 px on findings nearer the plain ones (finetune_defaults).
    # Off: through files it ranks better (ROC AUC 0.974 against 0.956 on 432 phantoms of
    # `cxr-explain phantoms`) but at the operating point it is no better on validate's pairs
    # (docs/training.md), and it needs its own FIGAN. FinetunePlan() turns the stage on.
    finetune: FinetunePlan | None = None
    # Last, the classifier's and the oracle's operating point: P = 0.5 at specificity 0.95 on
    # held-out healthy phantoms through files (engine.explain.operating_point). The generators
    # were guided by the uncalibrated classifier; validate judges them at the operating point.
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)

    @classmethod
    def quick(cls) -> DefaultsPlan:
        """Tiny: 8 anatomies (16 images), 32 px, 1-2 epochs, narrow networks; the device stage
        and the fine-tuning stage on (8 more anatomies each, one epoch), so the tests run them."""
        return cls(
            phantoms=8,
            phantom_sizes=(64, 80),
            test_fraction=0.25,
            size=32,
            segmenter=SegmenterPlan(epochs=1, width=4),
            devices=DevicePlan.quick(),
            classifier=ClassifierPlan(
                size=32, width=4, epochs=2, augment_shift=0.0, lr_schedule="cosine"
            ),
            oracle=ClassifierPlan(size=32, width=6, epochs=2, augment_shift=0.0, seed_offset=1),
            cyclegan=CycleGANPlan(epochs=1, ngf=4, ndf=4, residual_blocks=1),
            batch_size=4,
            figan=FiganPlan.quick(),
            finetune=FinetunePlan.quick(),
            calibration=CalibrationConfig(n=20, sizes=(64, 80), formats=(FileFormat.PNG,)),
        )
