"""Training the segmenter, the classifier and the CycleGAN (``cxr-explain train``).

Nothing in the engine imports this package; it uses ``engine.networks``, ``engine.models`` and
``engine.io``. One shared loop (:func:`engine.training.trainer.fit`) gives every model the same
checkpoints (safetensors + JSON, exact resume), logging, NaN checks, devices and DDP.
"""

from engine.training.classifier import ClassifierConfig, train_classifier
from engine.training.cyclegan import CycleGANConfig, train_cyclegan
from engine.training.data import LungField, Sample, Split, scan_dataset
from engine.training.segmenter import SegmenterConfig, train_segmenter
from engine.training.trainer import (
    DeviceChoice,
    ModelKind,
    TrainConfig,
    TrainingError,
    TrainResult,
)

__all__ = [
    "ClassifierConfig",
    "CycleGANConfig",
    "DeviceChoice",
    "LungField",
    "ModelKind",
    "Sample",
    "SegmenterConfig",
    "Split",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "scan_dataset",
    "train_classifier",
    "train_cyclegan",
    "train_segmenter",
]
