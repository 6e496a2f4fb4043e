"""Model bundles (safetensors + JSON): saving, loading, refusing pickles.

The reference-weights importer lives in ``engine.models.import_reference`` and is deliberately not
imported here: the application path never reaches ``torch.load``.
"""

from __future__ import annotations

from engine.models.bundle import (
    CONFIG_FILE,
    FORMAT_VERSION,
    MODEL_CARD_FILE,
    WEIGHTS_FILE,
    BundleConfig,
    LoadedModel,
    is_pickle_checkpoint,
    load_bundle,
    refuse_pickle,
    save_bundle,
    sha256_of,
)

__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "MODEL_CARD_FILE",
    "WEIGHTS_FILE",
    "BundleConfig",
    "LoadedModel",
    "is_pickle_checkpoint",
    "load_bundle",
    "refuse_pickle",
    "save_bundle",
    "sha256_of",
]
