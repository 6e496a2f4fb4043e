"""``cxr-explain train ...`` and ``cxr-explain train-defaults`` end to end, at tiny sizes."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch

from engine.cli.main import main
from engine.models import load_bundle
from engine.networks import Architecture
from engine.training.bundle_writer import NORMALISATION_INPUT
from engine.training.gan_guidance import guidance_term

REPO = Path(__file__).resolve().parents[3]
TINY_GAN = ["--size", "32", "--ngf", "4", "--ndf", "4", "--residual-blocks", "1"]
TINY_GAN += ["--discriminator", "patchgan", "--epochs", "1", "--no-progress"]


def run_cli(argv: Sequence[str]) -> int:
    return main(list(argv))


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_cli_trains_all_three_and_bundles_load_back(
    shared_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--data", str(shared_dataset), "--size", "32", "--epochs", "1", "--no-progress"]
    segmenter = ["train", "segmenter", *common, "--out", str(tmp_path / "seg")]
    assert run_cli([*segmenter, "--width", "4", "--depth", "2"]) == 0
    classifier = ["train", "classifier", *common, "--out", str(tmp_path / "clf")]
    variations = ["--augment-input", "--augment-stripes", "0.5"]
    assert (
        run_cli([*classifier, "--width", "4", "--stages", "2", "--batch-size", "4", *variations])
        == 0
    )
    gan = ["train", "cyclegan", "--data", str(shared_dataset), "--out", str(tmp_path / "gan")]
    clf_bundle = str(tmp_path / "clf" / "classifier")
    capsys.readouterr()
    assert run_cli([*gan, *TINY_GAN, "--classifier", clf_bundle]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert "test_flip_rate_to_disease" in summary["metrics"]

    expected = {
        "seg/segmenter": Architecture.UNET,
        "clf/classifier": Architecture.CLASSIFIER,
        "gan/generator_to_disease": Architecture.GENERATOR,
        "gan/generator_to_healthy": Architecture.GENERATOR,
    }
    for folder, architecture in expected.items():
        loaded = load_bundle(tmp_path / folder, expected_architecture=architecture)
        config = loaded.config
        assert config.input_size == (32, 32)
        assert config.labels == ("healthy", "pneumoconiosis")
        assert config.normalisation["input"] == NORMALISATION_INPUT
        training = config.training
        assert training["data"] == "data"  # the folder name, never the full path
        assert str(tmp_path) not in json.dumps(dict(training["options"]))
        assert training["images"]["test"] == {"healthy": 1, "pneumoconiosis": 1}
        assert training["seed"] == 0
        assert training["command"].startswith("cxr-explain train ")
        assert config.metrics
        card = (tmp_path / folder / "README.md").read_text()
        assert "## Test metrics" in card
        assert "Research only" in card
        with torch.no_grad():
            out = loaded.module(torch.zeros(1, 1, 32, 32))
        assert torch.isfinite(out).all()
    seg = load_bundle(tmp_path / "seg/segmenter").config
    assert seg.normalisation["lung_field"] == "none"
    assert seg.architecture_kwargs["out_channels"] == 2
    assert load_bundle(tmp_path / "clf/classifier").config.normalisation["lung_field"] == "mask"


def test_lung_masks_predicted_by_a_segmenter_bundle(
    shared_dataset: Path, make_dataset: Callable[..., Path], tmp_path: Path
) -> None:
    common = ["--size", "32", "--epochs", "1", "--no-progress"]
    segmenter = ["train", "segmenter", "--data", str(shared_dataset), "--out", str(tmp_path / "s")]
    assert run_cli([*segmenter, *common, "--width", "4", "--depth", "2"]) == 0
    unmasked = make_dataset("unmasked", n_ids=3, masks=False)
    classifier = ["train", "classifier", "--data", str(unmasked), "--out", str(tmp_path / "c")]
    classifier += ["--segmenter", str(tmp_path / "s" / "segmenter"), "--width", "4"]
    assert run_cli([*classifier, *common, "--stages", "2", "--batch-size", "2"]) == 0
    options = load_bundle(tmp_path / "c" / "classifier").config.training["options"]
    assert options["segmenter"] == "segmenter"


def test_cli_resume_of_a_finished_run_rewrites_the_bundles(
    shared_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gan"
    argv = ["train", "cyclegan", "--data", str(shared_dataset), "--out", str(out), *TINY_GAN]
    assert run_cli(argv) == 0
    assert run_cli([*argv, "--resume"]) == 0  # finished: re-evaluates and rewrites the bundles
    with (out / "metrics.csv").open() as handle:
        assert [row[1] for row in csv.reader(handle)][1:] == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "classifier", "--data", "{tmp}/missing", "--out", "{tmp}/o"], "does not exist"),
        (["train", "classifier", "--data", "{empty}", "--out", "{tmp}/o"], "holds no PNG or DICOM"),
        (["train", "classifier", "--data", "{data}", "--out", "{tmp}/o", "--epochs", "0"],
         "--epochs must be a whole number >= 1"),
        (["train", "cyclegan", "--data", "{data}", "--out", "{tmp}/o", "--size", "40"],
         "--size must be a multiple of 16"),
        (["train", "segmenter", "--data", "{nomasks}", "--out", "{tmp}/o"], "_left.png"),
    ],
)  # fmt: skip
def test_bad_inputs_give_one_line_and_exit_2(
    argv: list[str],
    message: str,
    make_dataset: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = make_dataset("data", n_ids=2)
    empty = make_dataset("empty", n_ids=1)
    for path in (empty / "pneumoconiosis").iterdir():
        path.unlink()
    nomasks = make_dataset("nomasks", n_ids=2, masks=False)
    names = {"tmp": tmp_path, "data": data, "empty": empty, "nomasks": nomasks}
    assert run_cli([a.format(**names) for a in argv]) == 2
    assert message in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "transformer", "--data", "d", "--out", "o"], "invalid choice: 'transformer'"),
        (["train", "classifier", "--out", "o"], "required: --data"),
        (["train"], "required: MODEL"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(argv)
    assert exit_info.value.code == 2
    assert message in _one_error_line(capsys.readouterr().err)


def test_two_process_gloo_ddp_run(shared_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node=2", "-m", "engine.cli.train", "train", "classifier"]
    command += ["--data", str(shared_dataset), "--out", str(out), "--size", "32"]
    command += ["--width", "4", "--stages", "2", "--batch-size", "2", "--epochs", "1"]
    command += ["--no-progress", "--device", "cpu"]
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error::FutureWarning"}
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count('"bundles"') == 1  # only rank 0 reports and writes
    index = json.loads((out / "checkpoint" / "latest.json").read_text())
    assert index["world_size"] == 2
    assert index["step"] == 2  # 8 train images / 2 ranks / batch 2
    with (out / "metrics.csv").open() as handle:
        assert len(list(csv.reader(handle))) == 1 + 2
    loaded = load_bundle(out / "classifier", expected_architecture=Architecture.CLASSIFIER)
    assert loaded.config.training["world_size"] == 2


@pytest.mark.skipif(
    importlib.util.find_spec("engine.phantoms") is None,
    reason="engine.phantoms (the phantom generator) is not importable yet",
)
def test_train_defaults_quick_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    argv = ["train-defaults", "--quick", "--out", str(models), "--work", str(tmp_path / "work")]
    assert run_cli([*argv, "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(Path(p).name for p in report["bundles"]) == [
        "classifier",
        "device_segmenter",
        "figan",
        "generator_to_disease",
        "generator_to_healthy",
        "oracle",
        "segmenter",
    ]
    assert (models / "figan" / "pls.json").is_file()
    names = ("segmenter", "device_segmenter", "classifier", "oracle", "generator_to_disease")
    for name in (*names, "generator_to_healthy"):
        loaded = load_bundle(models / name)
        assert loaded.config.training["synthetic"] is True
        assert "synthetic phantoms" in (models / name / "README.md").read_text()
    gan = load_bundle(models / "generator_to_disease").config
    assert "test_flip_rate_to_disease" in gan.metrics
    # The oracle is a classifier of its own seed and width that no generator was trained against.
    oracle = load_bundle(models / "oracle").config
    classifier = load_bundle(models / "classifier").config
    assert oracle.training["seed"] != classifier.training["seed"]
    assert oracle.architecture_kwargs["base_width"] != classifier.architecture_kwargs["base_width"]
    assert gan.training["options"]["classifier"] == "classifier"
    assert "--augment-input" in classifier.training["command"]
    # a rerun resumes the finished runs instead of refusing or retraining
    assert run_cli([*argv, "--no-progress"]) == 0


def test_paper_preset_sets_the_papers_options_and_later_options_override(
    shared_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    from engine.cli import train as train_cli

    seen = []
    monkeypatch.setattr(
        train_cli, "train", lambda config: seen.append(config) or types.SimpleNamespace(bundles=())
    )
    base = ["train", "cyclegan", "--data", str(shared_dataset), "--out", str(tmp_path / "run")]
    assert run_cli([*base, "--preset", "paper"]) == 0
    paper = seen[-1]
    assert (paper.size, paper.ngf, paper.ndf, paper.residual_blocks) == (512, 64, 64, 9)
    assert paper.attention
    assert paper.discriminator.value == "paper"
    assert (paper.batch_size, paper.epochs, paper.lr, paper.beta1) == (1, 700, 2e-4, 0.5)
    assert (paper.classifier_guidance, paper.mask_consistency) == (0.0, 0.0)
    assert run_cli([*base, "--preset", "paper", "--size", "256", "--epochs", "3"]) == 0
    overridden = seen[-1]
    assert (overridden.size, overridden.epochs, overridden.ngf) == (256, 3, 64)
    assert "--size 256" in overridden.command_line()
    assert "--ngf 64" in overridden.command_line()


def test_guidance_on_the_composite_with_a_margin(
    shared_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The classifier judges the change resampled to its own size and added to the image loaded
    at that size; the hinge stops at the margin."""
    from engine.training.cyclegan import CycleGANTask
    from engine.training.cyclegan_config import CycleGANConfig
    from engine.training.runtime import start_runtime
    from engine.training.task import prepare_data

    common = ["--data", str(shared_dataset), "--epochs", "1", "--no-progress"]
    classifier = ["train", "classifier", *common, "--out", str(tmp_path / "clf"), "--size", "64"]
    assert run_cli([*classifier, "--width", "4", "--stages", "2", "--batch-size", "4"]) == 0
    clf_bundle = tmp_path / "clf" / "classifier"
    gan = ["train", "cyclegan", "--data", str(shared_dataset), "--out", str(tmp_path / "gan")]
    guided = ["--classifier", str(clf_bundle), "--classifier-guidance", "1"]
    capsys.readouterr()
    assert (
        run_cli([*gan, *TINY_GAN, *guided, "--guidance-margin", "2", "--guidance-on-composite"])
        == 0
    )
    header = (tmp_path / "gan" / "metrics.csv").read_text().splitlines()[0]
    assert "guidance" in header.split(",")

    config = CycleGANConfig(
        data=shared_dataset,
        out=tmp_path / "unit",
        size=32,
        epochs=1,
        ngf=4,
        ndf=4,
        residual_blocks=1,
        discriminator="patchgan",
        classifier=clf_bundle,
        classifier_guidance=1.0,
        guidance_margin=2.0,
        guidance_on_composite=True,
        progress_bar=False,
    )
    runtime = start_runtime("cpu")
    task = CycleGANTask(config, runtime, prepare_data(config, runtime))
    assert task.composite_a is not None
    assert task.composite_a.images.shape[-1] == 64  # the classifier's size, not the GAN's
    real_a, _, lungs_a, *_ = task.batch([0], 0)
    assert task._large is not None
    large = task._large[0]
    # The change reaches the classifier through each file's own pixel grid (the batch's sample).
    assert large.source_shapes is not None
    first = int(task._domain_order(0, 0, len(task.composite_a))[0])
    assert large.source_shapes == [tuple(task.composite_a.source_shapes[first])]
    # No change: the classifier sees exactly the image loaded at its own size.
    assert task.guides is not None
    unchanged = task.guides.composite(real_a, real_a.clone(), lungs_a, *large)
    torch.testing.assert_close(unchanged, large.pair[0])
    # The hinge is zero beyond the margin and linear before it.
    logits = torch.tensor([3.0, 1.0, -3.0])
    assert float(guidance_term(logits, True, 2.0)) == pytest.approx((0 + 1 + 5) / 3)
    assert float(guidance_term(logits, False, 2.0)) == pytest.approx((5 + 3 + 0) / 3)

    # An ensemble: a second classifier (own seed) guides as well; the term is the guides' mean.
    second = [
        "--out",
        str(tmp_path / "clf2"),
        "--size",
        "64",
        "--seed",
        "1",
        "--model-id",
        "oracle",
    ]
    assert run_cli(["train", "classifier", *common, *second, "--width", "4", "--stages", "2"]) == 0
    oracle_bundle = tmp_path / "clf2" / "oracle"
    extra = ["--extra-guides", str(oracle_bundle), "--out", str(tmp_path / "gan2")]
    assert run_cli([*gan, *TINY_GAN, *guided, "--guidance-margin", "2", *extra]) == 0
    card = load_bundle(
        tmp_path / "gan2" / "generator_to_healthy", expected_architecture=Architecture.GENERATOR
    )
    recorded = card.config.training["command"]
    assert "--extra-guides oracle" in recorded
    ensemble = CycleGANConfig(**{**config.to_dict(), "extra_guides": [oracle_bundle]})
    assert ensemble.extra_guides == (oracle_bundle,)
    both = CycleGANTask(ensemble, runtime, prepare_data(ensemble, runtime))
    assert both.guides is not None
    assert len(both.guides.modules) == 2
    seen = both.guides.composite(real_a, real_a + 0.1, lungs_a, *large)
    with torch.no_grad():
        each = [guidance_term(m(seen).float(), False, 2.0) for m in both.guides.modules]
        assert float(both.guides.loss(seen, False, 2.0)) == pytest.approx(
            float(sum(each) / 2), rel=1e-5
        )
        assert float(each[0]) != pytest.approx(float(each[1]))  # two guides, not one twice


def test_extra_guides_are_refused_without_guidance_or_at_another_size(
    shared_dataset: Path, tmp_path: Path
) -> None:
    from engine.errors import InputError
    from engine.training.cyclegan_config import CycleGANConfig
    from engine.training.gan_guidance import ClassifierGuides

    base = {"data": shared_dataset, "out": tmp_path / "gan", "size": 64}
    with pytest.raises(InputError, match="--extra-guides needs --classifier-guidance"):
        CycleGANConfig(**base, extra_guides=[tmp_path / "x"])
    common = ["--data", str(shared_dataset), "--epochs", "1", "--no-progress", "--width", "4"]
    for size in ("32", "64"):
        out = ["--out", str(tmp_path / f"clf{size}"), "--size", size, "--stages", "2"]
        assert run_cli(["train", "classifier", *common, *out]) == 0
    bundles = [tmp_path / f"clf{size}" / "classifier" for size in ("32", "64")]
    with pytest.raises(InputError, match="different input sizes"):
        ClassifierGuides(bundles, "mask", "cpu")


def test_total_variation_prices_stripes_far_above_blobs() -> None:
    """The smoothness term's purpose: a 2-pixel stripe pattern of the same mean |change| as a few
    4-pixel blobs (what the sparsity term alone cannot tell apart) costs twice as much."""
    from engine.training.gan_losses import total_variation

    stripes = torch.zeros(1, 1, 32, 32)
    stripes[..., ::2, :] = 0.1
    blobs = torch.zeros(1, 1, 32, 32)
    for row, column in ((5, 5), (5, 20), (20, 12), (26, 26)):
        blobs[..., row : row + 4, column : column + 4] = 0.1
    blobs *= stripes.abs().mean() / blobs.abs().mean()  # same L1 (same sparsity cost)
    assert float(total_variation(stripes)) > 1.8 * float(total_variation(blobs))
    assert float(total_variation(torch.full((1, 1, 8, 8), 0.3))) == 0.0


def test_constrained_generator_trains_resumes_and_explains(
    shared_dataset: Path, tmp_path: Path
) -> None:
    """``--generator constrained`` trains with the sparsity term, resumes, and its bundles load
    in a model set; nothing outside the lung field of the model input changes, and with
    ``--change-sign directional`` the generator toward healthy only darkens and the one toward
    disease only brightens."""
    import shutil

    from engine.explain.pipeline import explain
    from engine.inference.model_set import load_model_set
    from engine.io import load_radiograph
    from engine.networks import ConstrainedGenerator
    from engine.testing import write_tiny_models

    out = tmp_path / "gan"
    argv = ["train", "cyclegan", "--data", str(shared_dataset), "--out", str(out), *TINY_GAN]
    argv += ["--generator", "constrained", "--sparsity-weight", "0.5", "--max-change", "0.5"]
    argv += ["--upsampling", "resize", "--smoothness-weight", "0.5"]
    argv += ["--change-sign", "directional", "--edit-margin", "1"]
    assert run_cli(argv) == 0
    header, *rows = (out / "metrics.csv").read_text().splitlines()
    assert {"sparsity", "smoothness"} <= set(header.split(","))
    assert run_cli([*argv, "--resume"]) == 0  # finished: re-evaluates, rewrites the bundles
    assert len((out / "metrics.csv").read_text().splitlines()) == 1 + len(rows)
    loaded = load_bundle(out / "generator_to_healthy")
    assert loaded.config.architecture is Architecture.CONSTRAINED_GENERATOR
    assert isinstance(loaded.module, ConstrainedGenerator)
    assert loaded.config.architecture_kwargs["upsampling"] == "resize"
    assert isinstance(loaded.module.body.decoder[0], torch.nn.Sequential)  # resize + conv
    x = torch.full((1, 1, 32, 32), -1.0)
    x[..., 8:24, 6:14] = 0.2
    x[..., 12:14, 8:10] = 0.6  # an "opacity"
    with torch.no_grad():
        y = loaded.module(x)
        brightened = load_bundle(out / "generator_to_disease").module(x)
    assert torch.equal(y[x == -1.0], x[x == -1.0])
    assert loaded.config.architecture_kwargs["sign"] == -1
    assert loaded.config.architecture_kwargs["edit_margin"] == 1
    assert torch.equal(y[..., 8, :], x[..., 8, :])  # the field's edge row: inside the margin
    assert float((y - x).max()) <= 0.0 < float((x - y).max())
    assert float((brightened - x).min()) >= 0.0 < float((brightened - x).max())
    # The constrained bundles stand in for the paper's in a model set.
    models = write_tiny_models(tmp_path / "models")
    for name in ("generator_to_healthy", "generator_to_disease"):
        shutil.rmtree(models / name)
        shutil.copytree(out / name, models / name)
    image = next((shared_dataset / "pneumoconiosis").iterdir())
    result = explain(load_radiograph(image), load_model_set(models))
    assert result.primary.translated.shape == result.original.shape


@pytest.mark.parametrize(
    ("model", "options"),
    [
        ("segmenter", {"width": 4, "depth": 2, "size": 64}),
        ("devices", {"width": 4, "positive_weight": 3.0, "augment_shift": 0.1}),
        ("classifier", {"width": 4, "lr_schedule": "cosine", "augment_input": True}),
        ("classifier", {"augment_input": True, "augment_stripes": 0.25}),
        ("classifier", {"adversarial_radius": 0.02, "adversarial_steps": 2}),
        (
            "classifier",
            {
                "adversarial_radius": 0.02,
                "adversarial_norm": "linf",
                "adversarial_clean_share": 0.5,
            },
        ),
        ("classifier", {"gradient_alignment": 0.5}),
        ("cyclegan", {"ngf": 8, "attention": False, "classifier": Path("clf")}),
        ("cyclegan", {"generator": "constrained", "change_sign": "directional"}),
        ("cyclegan", {"generator": "constrained", "edit_margin": 4}),
        ("figan", {"components": 3, "classifier": Path("clf")}),
    ],
)
def test_the_recorded_command_parses_back_to_the_same_config(
    model: str, options: dict[str, object]
) -> None:
    """A model card's command must run: every option it records is one the CLI accepts, and
    parsing it gives the run's config again (paths as their last part, as recorded)."""
    import argparse
    import shlex

    from engine.cli.train import _TRAINERS, _add_arguments, config_from
    from engine.training.config import ModelKind

    config_class, _ = _TRAINERS[ModelKind(model)]
    config = config_class(data=Path("data"), out=Path("run"), **options)
    words = shlex.split(config.command_line())
    assert words[:3] == ["cxr-explain", "train", model]
    parser = argparse.ArgumentParser()
    _add_arguments(parser)
    assert config_from(parser.parse_args(words[2:])) == config
