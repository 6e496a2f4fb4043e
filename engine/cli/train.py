"""``cxr-explain train MODEL`` (segmenter, devices, classifier, cyclegan, figan); train-defaults.

Every option maps onto one field of the model's config dataclass (``--batch-size`` ->
``batch_size``); options left out keep the dataclass default, which ``--help`` shows. Under
torchrun, before this module is registered in ``engine.cli.main``::

    torchrun --nproc_per_node=2 -m engine.cli.train train classifier --data D --out O
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.cli.base import EXIT_OK, Subcommand
from engine.networks import Upsampling
from engine.training.adversarial import ADVERSARIAL_NORMS
from engine.training.classifier import ClassifierConfig
from engine.training.config import DeviceChoice, ModelKind, TrainConfig
from engine.training.cyclegan_config import (
    PRESETS,
    ChangeSign,
    CycleGANConfig,
    GeneratorKind,
    Preset,
)
from engine.training.data import LungField
from engine.training.device_segmenter import DeviceSegmenterConfig
from engine.training.dispatch import train
from engine.training.figan import FIGANConfig
from engine.training.loop import TrainResult
from engine.training.segmenter import SegmenterConfig

_TRAINERS: dict[ModelKind, tuple[type[TrainConfig], str]] = {
    ModelKind.SEGMENTER: (
        SegmenterConfig,
        "U-Net lung segmenter (image -> left/right lung masks)",
    ),
    ModelKind.DEVICES: (
        DeviceSegmenterConfig,
        "U-Net device segmenter (image -> pacemaker, wires, ECG leads: the keep mask)",
    ),
    ModelKind.CLASSIFIER: (
        ClassifierConfig,
        "healthy vs pneumoconiosis classifier (the CNN being explained)",
    ),
    ModelKind.CYCLEGAN: (
        CycleGANConfig,
        "CycleGAN healthy <-> pneumoconiosis generators",
    ),
    ModelKind.FIGAN: (
        FIGANConfig,
        "FIGAN feature explorer (classifier PLS components -> conditional generator)",
    ),
}


def _default(config: type[TrainConfig], name: str) -> Any:
    return config.__dataclass_fields__[name].default


def _option(
    parser: argparse.ArgumentParser,
    config: type[TrainConfig],
    name: str,
    help_text: str,
    **options: Any,
) -> None:
    """``--name-with-dashes`` for the config field ``name``; absent = the dataclass default."""
    default = _default(config, name)
    if isinstance(default, Path):
        default = str(default)
    shown = getattr(default, "value", default)
    parser.add_argument(
        "--" + name.replace("_", "-"),
        dest=name,
        default=argparse.SUPPRESS,
        help=f"{help_text} (default: {shown})" if shown is not None else help_text,
        **options,
    )


def _add_common(parser: argparse.ArgumentParser, config: type[TrainConfig]) -> None:
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="data folder")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="run folder (checkpoint, metrics)"
    )
    _option(parser, config, "bundle_dir", "write the final bundles here", type=Path, metavar="DIR")
    _option(parser, config, "size", "square model input side in px", type=int)
    _option(parser, config, "epochs", "epochs", type=int)
    _option(parser, config, "batch_size", "images per step (per process)", type=int)
    _option(parser, config, "lr", "Adam learning rate", type=float)
    _option(parser, config, "beta1", "Adam beta1", type=float)
    _option(parser, config, "beta2", "Adam beta2", type=float)
    _option(parser, config, "seed", "random seed (weights, data order, pools)", type=int)
    _option(
        parser,
        config,
        "device",
        "auto = CUDA, then MPS, then CPU",
        choices=[d.value for d in DeviceChoice],
    )
    if not issubclass(config, SegmenterConfig):
        _option(
            parser,
            config,
            "lung_field",
            "mask: train on the lung-field image; none: the whole image",
            choices=[m.value for m in LungField],
        )
        _option(
            parser,
            config,
            "segmenter",
            "predict lung masks with this segmenter bundle instead of DIR/masks",
            type=Path,
            metavar="BUNDLE_DIR",
        )
    _option(
        parser,
        config,
        "augment_shift",
        "largest random shift as a fraction of --size (0 = off; never flipped)",
        type=float,
    )
    _option(
        parser,
        config,
        "checkpoint_every",
        "steps between mid-epoch checkpoints (0 = end of each epoch only)",
        type=int,
    )
    _option(parser, config, "sample_every", "epochs between sample grids (0 = none)", type=int)
    parser.add_argument(
        "--no-progress",
        dest="progress_bar",
        action="store_false",
        default=argparse.SUPPRESS,
        help="no progress bar on stderr",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        default=argparse.SUPPRESS,
        help="continue the checkpoint in --out exactly where it stopped",
    )


def _add_segmenter(
    parser: argparse.ArgumentParser, config: type[SegmenterConfig] = SegmenterConfig
) -> None:
    _add_common(parser, config)
    _option(parser, config, "width", "U-Net channels at the first level", type=int)
    _option(parser, config, "depth", "U-Net down-samplings", type=int)
    _option(parser, config, "dice_weight", "weight of the Dice loss", type=float)


def _add_device_segmenter(parser: argparse.ArgumentParser) -> None:
    _add_segmenter(parser, DeviceSegmenterConfig)
    _option(
        parser,
        DeviceSegmenterConfig,
        "positive_weight",
        "BCE weight of device pixels (devices cover about 1 %% of an image)",
        type=float,
    )


def _add_classifier(parser: argparse.ArgumentParser) -> None:
    _add_common(parser, ClassifierConfig)
    _option(parser, ClassifierConfig, "width", "channels of the stem", type=int)
    _option(parser, ClassifierConfig, "stages", "residual stages", type=int)
    _option(parser, ClassifierConfig, "feature_dim", "width of the feature layer", type=int)
    _option(parser, ClassifierConfig, "dropout", "dropout before the logit", type=float)
    _option(parser, ClassifierConfig, "weight_decay", "Adam weight decay", type=float)
    _option(
        parser,
        ClassifierConfig,
        "lr_schedule",
        "learning rate over the epochs: constant, or cosine (falls to near 0 by the end)",
        choices=["constant", "cosine"],
    )
    parser.add_argument(
        "--augment-input",
        dest="augment_input",
        action="store_true",
        default=argparse.SUPPRESS,
        help="vary resampling, lung-mask border, window, gamma, noise and bit depth per batch",
    )
    _option(
        parser,
        ClassifierConfig,
        "augment_stripes",
        "with --augment-input, the share of training images that also get a label-free "
        "horizontal line pattern (patterns a guided generator used to hide disease)",
        type=float,
    )
    _option(
        parser,
        ClassifierConfig,
        "adversarial_radius",
        "train on the worst lung-field change of this size per pixel (model units; 0 = off; "
        "an RMS, or with --adversarial-norm linf a largest change): a classifier small changes "
        "cannot move",
        type=float,
    )
    _option(
        parser,
        ClassifierConfig,
        "adversarial_norm",
        "what --adversarial-radius bounds: l2 (RMS per lung pixel) or linf (every lung pixel)",
        choices=ADVERSARIAL_NORMS,
    )
    _option(
        parser,
        ClassifierConfig,
        "adversarial_clean_share",
        "with --adversarial-radius, the loss's share of the clean images (0: adversarial "
        "images only)",
        type=float,
    )
    _option(
        parser,
        ClassifierConfig,
        "gradient_alignment",
        "weight of a term that points the disease gradient of each diseased training image "
        "along its difference from its healthy twin (paired data only; 0 = off)",
        type=float,
    )
    _option(
        parser,
        ClassifierConfig,
        "adversarial_steps",
        "gradient steps that search for that change",
        type=int,
    )
    _option(
        parser,
        ClassifierConfig,
        "model_id",
        "bundle folder name (classifier, or oracle for the independent judge)",
    )
    _option(
        parser,
        ClassifierConfig,
        "init_from",
        "start from this classifier bundle's weights (fine-tuning; same width, stages and "
        "feature size; its operating point is not carried over)",
        type=Path,
        metavar="BUNDLE_DIR",
    )


def _add_cyclegan(parser: argparse.ArgumentParser) -> None:
    config = CycleGANConfig
    parser.add_argument(
        "--preset",
        choices=[p.value for p in Preset],
        default=argparse.SUPPRESS,
        help="start from a named option set (paper: 512 px, ngf/ndf 64, 9 residual blocks, "
        "attention, the paper's discriminator, batch 1, 700 epochs, Adam 2e-4); options given "
        "as well override it",
    )
    _add_common(parser, config)
    _option(parser, config, "ngf", "generator width (paper: 64)", type=int)
    _option(parser, config, "ndf", "discriminator width (paper: 64)", type=int)
    _option(parser, config, "residual_blocks", "generator residual blocks (paper: 9)", type=int)
    parser.add_argument(
        "--no-attention",
        dest="attention",
        action="store_false",
        default=argparse.SUPPRESS,
        help="leave out the generator's self-attention layer",
    )
    _option(parser, config, "discriminator", "critic architecture", choices=["paper", "patchgan"])
    _option(parser, config, "cycle_weight", "cycle-consistency weight", type=float)
    _option(
        parser, config, "identity_weight", "identity weight, times the cycle weight", type=float
    )
    _option(parser, config, "pool_size", "image pool size (0 = off)", type=int)
    _option(parser, config, "decay_epochs", "epochs of linear lr decay (default: half)", type=int)
    _option(
        parser,
        config,
        "classifier",
        "classifier bundle: flip-rate metric and guidance",
        type=Path,
        metavar="BUNDLE_DIR",
    )
    _option(
        parser,
        config,
        "classifier_guidance",
        "weight of the classifier-guided loss (0 = off)",
        type=float,
    )
    _option(
        parser,
        config,
        "extra_guides",
        "more classifier bundles the guidance must move too (an ensemble; judge the result with "
        "a classifier that is none of them)",
        type=Path,
        nargs="+",
        metavar="BUNDLE_DIR",
    )
    _option(
        parser,
        config,
        "mask_consistency",
        "weight of the penalty on changes outside the lung field (0 = off)",
        type=float,
    )
    _option(
        parser,
        config,
        "generator",
        "paper: Table 1; constrained: an additive change inside the lung field only",
        choices=[g.value for g in GeneratorKind],
    )
    _option(parser, config, "max_change", "constrained: largest change, model units", type=float)
    _option(
        parser,
        config,
        "sparsity_weight",
        "weight of the L1 term on the change (0 = off)",
        type=float,
    )
    _option(
        parser,
        config,
        "upsampling",
        "generator upsampling: transpose (paper) or resize (nearest + conv: no stripe pattern)",
        choices=[u.value for u in Upsampling],
    )
    _option(
        parser,
        config,
        "change_sign",
        "constrained: free (either sign) or directional (toward disease only brighter, "
        "toward healthy only darker)",
        choices=[c.value for c in ChangeSign],
    )
    _option(
        parser,
        config,
        "edit_margin",
        "constrained: px along the inside of the lung field's edge that never change (0 = none)",
        type=int,
    )
    _option(
        parser,
        config,
        "smoothness_weight",
        "weight of the total-variation term on the change (0 = off)",
        type=float,
    )
    _option(
        parser,
        config,
        "guidance_margin",
        "guidance as a hinge that stops once the logit is this far across (default: BCE)",
        type=float,
    )
    parser.add_argument(
        "--guidance-on-composite",
        dest="guidance_on_composite",
        action="store_true",
        default=argparse.SUPPRESS,
        help="the classifier judges the change resampled to its size and added to the image "
        "loaded at that size (what the user sees), not the generator's own output",
    )


def _add_figan(parser: argparse.ArgumentParser) -> None:
    config = FIGANConfig
    _add_common(parser, config)
    parser.add_argument(
        "--classifier",
        type=Path,
        required=True,
        metavar="BUNDLE_DIR",
        help="the classifier bundle whose features FIGAN explains",
    )
    _option(parser, config, "components", "PLS components (the condition's length)", type=int)
    _option(parser, config, "latent_dim", "noise vector length", type=int)
    _option(parser, config, "ngf", "generator channels at full resolution", type=int)
    _option(parser, config, "ndf", "critic channels at full resolution", type=int)
    _option(parser, config, "max_width", "channel cap of both networks", type=int)
    _option(
        parser,
        config,
        "score_weight",
        "weight of the term matching the classifier's scores to the condition (0 = off)",
        type=float,
    )


_ADDERS: dict[ModelKind, Callable[[argparse.ArgumentParser], None]] = {
    ModelKind.SEGMENTER: _add_segmenter,
    ModelKind.DEVICES: _add_device_segmenter,
    ModelKind.CLASSIFIER: _add_classifier,
    ModelKind.CYCLEGAN: _add_cyclegan,
    ModelKind.FIGAN: _add_figan,
}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    for kind in ModelKind:
        _, help_text = _TRAINERS[kind]
        model_parser = models.add_parser(kind.value, help=help_text, description=help_text)
        _ADDERS[kind](model_parser)


def _summary(result: TrainResult) -> str:
    return json.dumps(
        {
            "bundles": [str(p) for p in result.bundles],
            "metrics": dict(result.metrics),
            "steps": result.steps,
        },
        indent=2,
    )


def config_from(args: argparse.Namespace) -> TrainConfig:
    """The config of parsed ``cxr-explain train MODEL ...`` arguments (a preset first)."""
    config_class, _ = _TRAINERS[ModelKind(args.model)]
    names = {field.name for field in dataclasses.fields(config_class)}
    given = {k: v for k, v in vars(args).items() if k in names}  # unset options are absent
    preset = getattr(args, "preset", None)
    options = {**PRESETS[Preset(preset)], **given} if preset else given
    return config_class(**options)


def _run(args: argparse.Namespace) -> int:
    result = train(config_from(args))
    if result.bundles:  # rank 0 of a torchrun job, or the only process
        sys.stdout.write(_summary(result) + "\n")
    return EXIT_OK


COMMAND: Subcommand = Subcommand(
    name="train",
    help="train the segmenter, the classifier, the CycleGAN or FIGAN from a data folder",
    add_arguments=_add_arguments,
    run=_run,
)


def _add_defaults_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.resources import default_models_dir

    parser.add_argument(
        "--out",
        type=Path,
        default=default_models_dir(),
        metavar="DIR",
        help="where the bundles go (default: resources/models)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("build/train-defaults"),
        metavar="DIR",
        help="phantoms, checkpoints, metrics and samples (default: build/train-defaults); "
        "a rerun resumes what is there",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny smoke run (16 images, 32 px, and 16 more to fine-tune on)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--device",
        choices=[d.value for d in DeviceChoice],
        default=DeviceChoice.AUTO.value,
        help="auto = CUDA, then MPS, then CPU",
    )
    parser.add_argument(
        "--phantom-workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        metavar="N",
        help="processes that render the phantoms and the calibration images (default: one per "
        "core, at most 4; same files and offsets for any N)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: train the independent stages two at a time in their own processes (the "
        "classifier beside the oracle, the CycleGAN beside the FIGAN or the fine-tuning); same "
        "configurations",
    )
    parser.add_argument("--no-progress", dest="progress_bar", action="store_false")


def _run_defaults(args: argparse.Namespace) -> int:
    from engine.training.defaults import train_defaults

    result = train_defaults(
        args.out,
        args.work,
        quick=args.quick,
        seed=args.seed,
        device=args.device,
        progress_bar=args.progress_bar,
        phantom_workers=max(1, args.phantom_workers),
        jobs=args.jobs,
    )
    bundles = [str(path) for path in result.bundles]
    sys.stdout.write(json.dumps({"data": str(result.data), "bundles": bundles}, indent=2) + "\n")
    return EXIT_OK


TRAIN_DEFAULTS_COMMAND: Subcommand = Subcommand(
    name="train-defaults",
    help="generate phantoms and train the shipped default models (the recorded recipe)",
    add_arguments=_add_defaults_arguments,
    run=_run_defaults,
)


if __name__ == "__main__":  # torchrun -m engine.cli.train ...
    from engine.cli.main import main

    raise SystemExit(main(sys.argv[1:]))
