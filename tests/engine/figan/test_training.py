"""FIGAN training: a step lowers the losses, the CLI trains and bundles, resume is exact."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from figan_helpers import TINY_FIGAN, TinyModels
from safetensors.torch import load_file

from engine.cli.main import main
from engine.errors import CancelledError
from engine.figan.explore import load_figan_models
from engine.figan.pls import PLS_CONFIG_FILE, PLS_WEIGHTS_FILE
from engine.training.dispatch import train
from engine.training.figan import FIGANConfig, FIGANTask
from engine.training.runtime import seed_everything, start_runtime
from engine.training.task import prepare_data

TINY_CLI = ["--size", "32", "--ngf", "4", "--ndf", "4", "--max-width", "16", "--latent-dim", "4"]
TINY_CLI += ["--components", "2", "--batch-size", "8", "--sample-every", "0", "--no-progress"]


def _task(tiny: TinyModels, tmp_path: Path, **options: object) -> FIGANTask:
    settings = {**TINY_FIGAN, **options}
    config = FIGANConfig(
        data=tiny.data,
        out=tmp_path / "run",
        classifier=tiny.models / "classifier",
        device="cpu",
        **settings,  # type: ignore[arg-type]
    )
    runtime = start_runtime(config.device)
    data = prepare_data(config, runtime)
    seed_everything(0)
    return FIGANTask(config, runtime, data)


def test_one_step_lowers_the_critic_and_score_losses(tiny: TinyModels, tmp_path: Path) -> None:
    task = _task(tiny, tmp_path, lr=1e-3, score_weight=20.0)
    task.set_train_mode(True)
    indices = list(range(8))
    real = torch.from_numpy(task.train_set.images[indices])
    conditions = task.conditions[indices]
    latents = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))

    def losses() -> tuple[float, float]:
        with torch.no_grad():
            fake = task.generator(conditions, latents)
            critic = (
                torch.relu(1 - task.discriminator(real, conditions)).mean()
                + torch.relu(1 + task.discriminator(fake, conditions)).mean()
            )
            return float(critic), float(task.score_loss(fake, conditions))

    critic_before, score_before = losses()
    values = task.train_step(indices, 0, 1)
    critic_after, score_after = losses()
    assert set(values) == set(task.loss_names)
    assert all(np.isfinite(v) for v in values.values())
    assert critic_after < critic_before
    assert score_after < score_before


def test_cli_trains_figan_and_the_bundle_loads(
    tiny: TinyModels, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    argv = ["train", "figan", "--data", str(tiny.data), "--out", str(tmp_path / "run")]
    argv += ["--classifier", str(tiny.models / "classifier"), "--bundle-dir", str(models)]
    assert main([*argv, *TINY_CLI, "--epochs", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert "explained_label_variance_1" in summary["metrics"]
    assert "classifier_feature_frechet_distance" in summary["metrics"]
    bundle = models / "figan"
    assert {PLS_CONFIG_FILE, PLS_WEIGHTS_FILE, "README.md", "config.json"} <= {
        p.name for p in bundle.iterdir()
    }
    card = (bundle / "README.md").read_text()
    assert "PLS" in card
    assert "label variance" in card
    (models / "classifier").symlink_to(tiny.models / "classifier", target_is_directory=True)
    loaded = load_figan_models(models)
    assert loaded.n_components == 2
    assert dict(loaded.pls.source)["classifier_sha256"] == loaded.classifier.config.sha256


def test_cli_errors_are_one_line_exit_2(
    tiny: TinyModels, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", "figan", "--data", str(tiny.data), "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as raised:
        main([*base, *TINY_CLI])  # no --classifier
    assert raised.value.code == 2
    assert main([*base, "--classifier", str(tmp_path / "missing"), *TINY_CLI]) == 2
    assert main([*base, "--classifier", str(tiny.data), "--size", "48", "--no-progress"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines
    assert all(line.startswith("error: ") for line in lines)


def test_interrupted_and_resumed_run_is_bit_identical(tiny: TinyModels, tmp_path: Path) -> None:
    def config(out: str, resume: bool = False) -> FIGANConfig:
        return FIGANConfig(
            data=tiny.data,
            out=tmp_path / out,
            classifier=tiny.models / "classifier",
            device="cpu",
            epochs=2,
            checkpoint_every=1,
            resume=resume,
            **TINY_FIGAN,  # type: ignore[arg-type]
        )

    whole = train(config("whole"))
    cancel = threading.Event()

    def stop_after_two(step: int, total: int) -> None:
        if step == 2:
            cancel.set()

    with pytest.raises(CancelledError):
        train(config("parts"), progress=stop_after_two, cancel=cancel)
    resumed = train(config("parts", resume=True))
    assert resumed.steps == whole.steps
    a = load_file(str(whole.bundles[0] / "model.safetensors"))
    b = load_file(str(resumed.bundles[0] / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert (whole.bundles[0] / PLS_WEIGHTS_FILE).read_bytes() == (
        resumed.bundles[0] / PLS_WEIGHTS_FILE
    ).read_bytes()
