"""Fixtures of the FIGAN tests: a classifier and a FIGAN trained for a few seconds on a tiny
generated folder (session-scoped, shared read-only by the tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from figan_helpers import SIZE, TINY_FIGAN, TinyModels, write_dataset


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: the machine is shared; results do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """A classifier (2 epochs) and a FIGAN (6 epochs) on a tiny folder: seconds on one core."""
    from engine.training.classifier import ClassifierConfig
    from engine.training.dispatch import train
    from engine.training.figan import FIGANConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        root = tmp_path_factory.mktemp("figan")
        data = write_dataset(root / "data")
        models = root / "models"
        train(
            ClassifierConfig(
                data=data,
                out=root / "clf",
                bundle_dir=models,
                size=SIZE,
                epochs=3,
                batch_size=4,
                width=4,
                stages=2,
                feature_dim=8,
                sample_every=0,
                progress_bar=False,
            )
        )
        train(
            FIGANConfig(
                data=data,
                out=root / "run",
                bundle_dir=models,
                classifier=models / "classifier",
                epochs=6,
                **TINY_FIGAN,  # type: ignore[arg-type]
            )
        )
    finally:
        torch.set_num_threads(threads)
    return TinyModels(data=data, models=models, run=root / "run")
