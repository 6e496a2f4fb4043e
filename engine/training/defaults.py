"""The recorded recipe of the shipped default models: phantoms -> segmenter, device segmenter,
classifier, CycleGAN, FIGAN.

``cxr-explain train-defaults`` runs it: (1) generate a paired synthetic phantom data set with
:mod:`engine.phantoms` in the folder layout of :mod:`engine.training.data`, (2) train the
segmenter; the device segmenter on a phantom set of its own (:mod:`engine.training.device_defaults`,
the explanations' keep mask); the classifier and the oracle; the CycleGAN guided by that
classifier and the FIGAN for it (with ``DefaultsPlan.finetune``, off by default: the classifier
fine-tuned on a second phantom set, :mod:`engine.training.finetune_defaults`, and the FIGAN for
the fine-tuned one), (3) write the bundles into ``--out`` (default ``resources/models``) and set
the classifiers' operating point. The plan is sized for a 2-core CPU (times in docs/training.md);
``--quick`` is a tiny smoke run (16 phantoms, 32 px, 1-2 epochs, with the fine-tuning and device
stages) for tests. The sizes are :class:`~engine.training.defaults_plan.DefaultsPlan`.

The classifier and the CycleGAN train on lung-field images made with the phantoms' true lung
masks (exact and free for synthetic data); the viewer makes them with the trained segmenter.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from engine.errors import InputError
from engine.explain.operating_point import calibrate_bundles
from engine.networks import DiscriminatorKind
from engine.training.checkpoint import (
    CHECKPOINT_FOLDER,
    CHECKPOINT_INDEX,
    read_checkpoint_index,
)
from engine.training.classifier import ClassifierConfig
from engine.training.config import DeviceChoice
from engine.training.cyclegan_config import CycleGANConfig
from engine.training.defaults_data import reusable_data_set, write_phantom_dataset
from engine.training.defaults_plan import ClassifierPlan, DefaultsPlan
from engine.training.device_defaults import devices_config, devices_data_plan
from engine.training.device_segmenter import DeviceSegmenterConfig
from engine.training.dispatch import train
from engine.training.figan_defaults import train_default_figan
from engine.training.finetune_defaults import FinetunePlan
from engine.training.loop import TrainResult
from engine.training.segmenter import SegmenterConfig

log = logging.getLogger(__name__)


#: The two classifiers of the recipe: the one the generators and the FIGAN explain, and the oracle.
CLASSIFIER_IDS = ("classifier", "oracle")
#: With a fine-tuning stage: its run folder, and where the classifier before it writes its bundle.
FINETUNE_RUN = "classifier_finetune"
FINETUNE_DATA = "phantoms_finetune"
#: The device segmenter's run folder and phantom set.
DEVICES_RUN = "device_segmenter"
DEVICES_DATA = "phantoms_devices"
BASE_BUNDLES = "base_bundles"


def _common_options(
    data: Path, out: Path, seed: int, device: DeviceChoice | str, progress_bar: bool
) -> dict[str, Any]:
    return {
        "data": data,
        "bundle_dir": out,
        "seed": seed,
        "device": device,
        "progress_bar": progress_bar,
    }


def _resume(work: Path, run: str) -> bool:
    """A rerun continues (or just re-exports) the run that is there."""
    return (work / run / CHECKPOINT_FOLDER / CHECKPOINT_INDEX).is_file()


def segmenter_config(plan: DefaultsPlan, work: Path, common: dict[str, Any]) -> SegmenterConfig:
    """The recipe's segmenter run (``common``: data, bundle_dir, seed, device, progress_bar)."""
    return SegmenterConfig(
        out=work / "segmenter",
        resume=_resume(work, "segmenter"),
        epochs=plan.segmenter.epochs,
        width=plan.segmenter.width,
        depth=min(4, (plan.size // 8).bit_length() - 1),
        batch_size=plan.batch_size,
        size=plan.size,
        **common,
    )


def device_segmenter_config(
    plan: DefaultsPlan, work: Path, common: dict[str, Any]
) -> DeviceSegmenterConfig:
    """The recipe's device-segmenter run (``plan.devices``), on its own phantom set."""
    if plan.devices is None:
        raise ValueError("the plan has no device-segmenter stage")
    return devices_config(
        plan.devices,
        plan.batch_size,
        work / DEVICES_RUN,
        {**common, "data": work / DEVICES_DATA},
        resume=_resume(work, DEVICES_RUN),
    )


def classifier_config(
    plan: DefaultsPlan,
    work: Path,
    common: dict[str, Any],
    model_id: str,
    segmenter: Path | None,
) -> ClassifierConfig:
    """The recipe's run of ``model_id`` (see :data:`CLASSIFIER_IDS`), lungs from ``segmenter``."""
    stages = {"classifier": plan.classifier, "oracle": plan.oracle}
    if model_id not in stages:
        raise ValueError(f"model_id must be one of {CLASSIFIER_IDS}, got {model_id!r}")
    stage = stages[model_id]
    if model_id == "classifier" and plan.finetune is not None:
        # The bundle the fine-tuning starts from; the fine-tuned one goes where this one would.
        common = {**common, "bundle_dir": work / BASE_BUNDLES}
    return ClassifierConfig(
        out=work / model_id,
        resume=_resume(work, model_id),
        epochs=stage.epochs,
        model_id=model_id,
        lr_schedule=stage.lr_schedule,
        **_classifier_options(stage, plan.batch_size, segmenter),
        **{**common, "size": stage.size, "seed": common["seed"] + stage.seed_offset},
    )


def _classifier_options(
    stage: ClassifierPlan, batch_size: int, segmenter: Path | None
) -> dict[str, Any]:
    """The options a classifier stage and its fine-tuning share (the network's shape, the
    batch, the input variations, where the lungs come from)."""
    return {
        "width": stage.width,
        "stages": classifier_stages(stage.size),
        "batch_size": batch_size,
        "augment_shift": stage.augment_shift,
        "augment_input": stage.augment_input,
        "segmenter": segmenter,
    }


def classifier_stages(size: int) -> int:
    """Residual stages of the recipe's classifiers reading ``size`` px (the fine-tuned one keeps
    its starting shape)."""
    return min(4, (size // 8).bit_length() - 1)


def check_work_folder(work: Path, plan: DefaultsPlan) -> None:
    """Refuse a work folder whose classifier was trained with the fine-tuning stage switched the
    other way: its CycleGAN was guided from another bundle folder, and resuming would leave the
    model folder half of one recipe and half of the other."""
    index = read_checkpoint_index(work / "classifier")
    if index is None:
        return
    recorded = Path(str(index.get("config", {}).get("bundle_dir") or ""))
    tuned_before = recorded.name == BASE_BUNDLES and recorded.parent.name == work.name
    if tuned_before != (plan.finetune is not None):
        was, now = ("with", "without") if tuned_before else ("without", "with")
        raise InputError(
            f"{work.name} holds a recipe run {was} the classifier fine-tuning stage and this "
            f"plan is {now} it; give a fresh work folder"
        )


def finetune_config(
    plan: DefaultsPlan, work: Path, common: dict[str, Any], base: Path, segmenter: Path | None
) -> ClassifierConfig:
    """The fine-tuning run of ``plan.finetune``: the ``base`` classifier bundle, the second set."""
    tune = _finetune_plan(plan)
    return ClassifierConfig(
        out=work / FINETUNE_RUN,
        resume=_resume(work, FINETUNE_RUN),
        epochs=tune.epochs,
        lr=tune.lr,
        lr_schedule="cosine",
        init_from=base,
        **_classifier_options(plan.classifier, plan.batch_size, segmenter),
        **{
            **common,
            "data": work / FINETUNE_DATA,
            "size": tune.size,
            "seed": common["seed"] + tune.seed_offset,
        },
    )


def finetune_data_plan(plan: DefaultsPlan) -> DefaultsPlan:
    """The second phantom set: the recipe's sizes and files, the stage's count and findings."""
    tune = _finetune_plan(plan)
    return replace(plan, phantoms=tune.phantoms, disease=tune.disease)


def _finetune_plan(plan: DefaultsPlan) -> FinetunePlan:
    if plan.finetune is None:
        raise ValueError("the plan has no fine-tuning stage")
    return plan.finetune


def _phantom_set(
    folder: Path,
    plan: DefaultsPlan,
    seed: int,
    cancel: threading.Event | None,
    workers: int,
) -> Path:
    """``folder``, holding this plan's phantoms: reused when they are there, written if not."""
    if reusable_data_set(folder, plan, seed):
        log.info("reusing the phantom data set in %s", folder)
        return folder
    stop = cancel.is_set if cancel is not None else None
    return write_phantom_dataset(folder, plan, seed, stop, workers=workers)


def cyclegan_config(
    plan: DefaultsPlan, work: Path, common: dict[str, Any], classifier: Path | None
) -> CycleGANConfig:
    """The recipe's CycleGAN run, guided by ``classifier`` (None: no guidance)."""
    guided = classifier is not None
    stage = plan.cyclegan
    return CycleGANConfig(
        out=work / "cyclegan",
        resume=_resume(work, "cyclegan"),
        epochs=stage.epochs,
        ngf=stage.ngf,
        ndf=stage.ndf,
        residual_blocks=stage.residual_blocks,
        discriminator=DiscriminatorKind.PATCHGAN if plan.size < 48 else DiscriminatorKind.PAPER,
        classifier=classifier,
        classifier_guidance=stage.classifier_guidance if guided else 0.0,
        mask_consistency=stage.mask_consistency,
        guidance_margin=stage.guidance_margin,
        guidance_on_composite=stage.guidance_on_composite and guided,
        upsampling=stage.upsampling,
        size=plan.size,
        **common,
    )


@dataclass(frozen=True, slots=True)
class _Stage:
    """The recipe's stages after the segmenter, callable in this process or a spawned one."""

    plan: DefaultsPlan
    work: Path
    common: dict[str, Any]
    cancel: threading.Event | None = None

    def classifier(self, model_id: str, segmenter: Path | None) -> TrainResult:
        config = classifier_config(self.plan, self.work, self.common, model_id, segmenter)
        return train(config, cancel=self.cancel)

    def cyclegan(self, classifier: Path | None) -> TrainResult:
        config = cyclegan_config(self.plan, self.work, self.common, classifier)
        return train(config, cancel=self.cancel)

    def finetune(self, base: Path, segmenter: Path | None) -> TrainResult:
        config = finetune_config(self.plan, self.work, self.common, base, segmenter)
        return train(config, cancel=self.cancel)

    def figan(self, classifier: Path) -> TrainResult:
        return train_default_figan(
            classifier,
            self.common["data"],
            self.common["bundle_dir"],
            self.plan.figan,
            work=self.work / "figan",
            seed=self.common["seed"],
            device=self.common["device"],
            progress_bar=self.common["progress_bar"],
            cancel=self.cancel,
        )


def _in_parallel(
    jobs: int, calls: list[tuple[Callable[..., TrainResult], tuple[Any, ...]]]
) -> list[TrainResult]:
    """Run ``calls`` one after the other, or (``jobs`` = 2) each in a spawned process."""
    if jobs == 1:
        return [function(*arguments) for function, arguments in calls]
    threads = max(1, torch.get_num_threads() // len(calls))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(calls), mp_context=context) as pool:
        futures = [
            pool.submit(_run_in_child, threads, function, arguments)
            for function, arguments in calls
        ]
        return [future.result() for future in futures]


def _run_in_child(
    threads: int, function: Callable[..., TrainResult], arguments: tuple[Any, ...]
) -> TrainResult:
    torch.set_num_threads(threads)
    return function(*arguments)


@dataclass(frozen=True, slots=True)
class DefaultsResult:
    data: Path
    segmenter: TrainResult
    classifier: TrainResult
    oracle: TrainResult
    cyclegan: TrainResult
    figan: TrainResult | None  # None: the classifier run wrote no bundle (cancelled)
    # With a fine-tuning stage, ``classifier`` is the fine-tuned run and this the one before it
    # (its bundle, in the work folder, is not one of the shipped ones).
    classifier_before_finetune: TrainResult | None = None
    device_segmenter: TrainResult | None = None  # None: the plan has no such stage

    @property
    def bundles(self) -> list[Path]:
        runs = (
            self.segmenter,
            self.device_segmenter,
            self.classifier,
            self.oracle,
            self.cyclegan,
            self.figan,
        )
        return [path for run in runs if run is not None for path in run.bundles]


def train_defaults(
    out: Path,
    work: Path,
    *,
    quick: bool = False,
    seed: int = 0,
    device: DeviceChoice | str = DeviceChoice.AUTO,
    progress_bar: bool = True,
    plan: DefaultsPlan | None = None,
    cancel: threading.Event | None = None,
    phantom_workers: int = 1,
    jobs: int = 1,
) -> DefaultsResult:
    """Run the whole recipe; bundles go to ``out``, data and run folders to ``work``.

    ``phantom_workers``: processes that render the phantom data sets and the calibration images
    (neither the files nor the offsets depend on it).
    ``jobs`` = 2: the independent stages run two at a time in their own processes (the classifier
    beside the oracle, then the CycleGAN beside the FIGAN, or with ``plan.finetune`` beside the
    fine-tuning, the FIGAN after it), each with half the torch threads; the configurations are
    the same, so a rerun with either value resumes the other's runs. Progress bars are off then,
    and ``cancel`` is seen between the spawned stages only.
    """
    if jobs not in (1, 2):
        raise InputError(f"jobs must be 1 or 2, got {jobs}")
    plan = plan or (DefaultsPlan.quick() if quick else DefaultsPlan())
    work = Path(work)
    out = Path(out)
    check_work_folder(work, plan)
    data = _phantom_set(work / "phantoms", plan, seed, cancel, phantom_workers)
    common = _common_options(data, out, seed, device, progress_bar and jobs == 1)
    segmenter = train(segmenter_config(plan, work, common), cancel=cancel)
    device_segmenter = None
    if plan.devices is not None:
        devices_seed = seed + plan.devices.seed_offset
        _phantom_set(
            work / DEVICES_DATA,
            devices_data_plan(plan, plan.devices),
            devices_seed,
            cancel,
            phantom_workers,
        )
        device_segmenter = train(device_segmenter_config(plan, work, common), cancel=cancel)
    # The classifiers find the lungs with the segmenter, as every explanation does.
    lungs_from = segmenter.bundles[0] if segmenter.bundles else None
    # A spawned stage gets no cancel event (an Event does not cross processes): with two jobs,
    # cancel is seen between stages only.
    stage = _Stage(plan, work, common, cancel if jobs == 1 else None)
    classifier, oracle = _in_parallel(
        jobs,
        [
            (stage.classifier, ("classifier", lungs_from)),
            (stage.classifier, ("oracle", lungs_from)),
        ],
    )
    judge = classifier.bundles[0] if classifier.bundles else None
    before_finetune = None
    if judge is None:
        cyclegan = stage.cyclegan(None)
        figan = None
    elif plan.finetune is None:
        cyclegan, figan = _in_parallel(jobs, [(stage.cyclegan, (judge,)), (stage.figan, (judge,))])
    else:
        # The CycleGAN is guided by the classifier before fine-tuning (as the shipped generators
        # were); the FIGAN's PLS belongs to the fine-tuned weights, so it comes after them.
        tune_seed = seed + plan.finetune.seed_offset
        _phantom_set(
            work / FINETUNE_DATA, finetune_data_plan(plan), tune_seed, cancel, phantom_workers
        )
        cyclegan, tuned = _in_parallel(
            jobs, [(stage.cyclegan, (judge,)), (stage.finetune, (judge, lungs_from))]
        )
        before_finetune, classifier = classifier, tuned
        judge = tuned.bundles[0] if tuned.bundles else None
        # In this process: the FIGAN sees ``cancel`` with either number of jobs.
        here = _Stage(plan, work, common, cancel)
        figan = here.figan(judge) if judge is not None else None
    if judge is not None:
        judges = [name for name in ("classifier", "oracle") if (out / name).is_dir()]
        if (out / "segmenter").is_dir():
            calibrate_bundles(out, judges, plan.calibration, workers=phantom_workers, cancel=cancel)
    return DefaultsResult(
        data=data,
        segmenter=segmenter,
        classifier=classifier,
        oracle=oracle,
        cyclegan=cyclegan,
        figan=figan,
        classifier_before_finetune=before_finetune,
        device_segmenter=device_segmenter,
    )
