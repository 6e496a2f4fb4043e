"""Training the segmenter, the device segmenter, the classifier, the CycleGAN and FIGAN
(``cxr-explain train``).

Nothing in the engine imports this package; it uses ``engine.networks``, ``engine.models`` and
``engine.io``. One shared loop (:func:`engine.training.loop.fit`) gives every model the same
checkpoints (safetensors + JSON, exact resume), logging, NaN checks, devices and DDP;
:func:`train` runs it for whichever model a config describes.
"""

from engine.training.classifier import ClassifierConfig
from engine.training.config import DeviceChoice, ModelKind, TrainConfig, TrainingError
from engine.training.cyclegan_config import CycleGANConfig
from engine.training.data import LungField, Sample, Split, scan_dataset
from engine.training.device_segmenter import DeviceSegmenterConfig
from engine.training.dispatch import train
from engine.training.loop import TrainResult
from engine.training.segmenter import SegmenterConfig

__all__ = [
    "ClassifierConfig",
    "CycleGANConfig",
    "DeviceChoice",
    "DeviceSegmenterConfig",
    "LungField",
    "ModelKind",
    "Sample",
    "SegmenterConfig",
    "Split",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "scan_dataset",
    "train",
]
