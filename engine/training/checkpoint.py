"""Checkpoints: save a task's whole training state, and restore it for an exact resume.

- checkpoints: ``OUT/checkpoint/step_NNNNNNNN.safetensors`` (weights, optimizer tensors, image
  pools, RNG states as uint8 tensors) and ``OUT/checkpoint/latest.json`` (position, non-tensor
  optimizer state, config, the SHA-256 of the tensor file). Both are written to a temporary file
  and moved into place with ``os.replace``; ``latest.json`` is written last and is the commit
  point, so a kill at any moment leaves the previous complete checkpoint. No pickle anywhere.
- resume: restores every tensor, RNG state and the position inside the epoch, so an interrupted
  and resumed run gives bit-identical weights to an uninterrupted one (same device and threads).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.atomic import atomic_path
from engine.training.config import TrainingError
from engine.training.run_files import write_json
from engine.training.task import TrainingTask

CHECKPOINT_FOLDER = "checkpoint"
CHECKPOINT_INDEX = "latest.json"
CHECKPOINT_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Position:
    """Where training stands: ``step`` steps done; the next is ``step_in_epoch`` of ``epoch``;
    ``seconds`` of training loop spent so far, over every run that led here (a resumed run
    goes on counting, so its metrics and its bundle record the whole training time)."""

    epoch: int = 0
    step_in_epoch: int = 0
    step: int = 0
    seconds: float = 0.0


def _rng_tensors() -> dict[str, torch.Tensor]:
    tensors = {"rng/torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{index}"] = state
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        tensors["rng/mps"] = torch.mps.get_rng_state()
    return tensors


def _restore_rng(tensors: Mapping[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng/torch_cpu"])
    cuda = sorted(
        (int(name.rsplit("/", 1)[1]), t)
        for name, t in tensors.items()
        if name.startswith("rng/cuda/")
    )
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t for _, t in cuda][: torch.cuda.device_count()])
    mps = getattr(torch.backends, "mps", None)
    if "rng/mps" in tensors and mps is not None and mps.is_available():
        torch.mps.set_rng_state(tensors["rng/mps"])


def save_checkpoint(task: TrainingTask, out: Path, position: Position) -> Path:
    """Write the checkpoint of ``task`` at ``position`` (see the module docstring); its path."""
    folder = out / CHECKPOINT_FOLDER
    tensors: dict[str, torch.Tensor] = {}
    for name, module in task.modules().items():
        for key, value in module.state_dict().items():
            tensors[f"model/{name}/{key}"] = value
    optimizers: dict[str, Any] = {}
    for name, optimizer in task.optimizers().items():
        state = optimizer.state_dict()
        other: dict[str, dict[str, Any]] = {}
        for param_id, param_state in state["state"].items():
            for key, value in param_state.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim/{name}/{param_id}/{key}"] = value
                else:
                    other.setdefault(str(param_id), {})[key] = value
        optimizers[name] = {"param_groups": state["param_groups"], "state": other}
    for name, pool in task.pools().items():
        tensors[f"pool/{name}"] = pool.state()
    tensors.update(_rng_tensors())
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    weights_name = f"step_{position.step:08d}.safetensors"
    with atomic_path(folder / weights_name) as temporary:
        save_file(tensors, str(temporary), metadata={"format": str(CHECKPOINT_FORMAT)})
        digest = _sha256(temporary)
    index = {
        "format": CHECKPOINT_FORMAT,
        "model_kind": task.config.KIND.value,
        "tensors": weights_name,
        "sha256": digest,
        "epoch": position.epoch,
        "step_in_epoch": position.step_in_epoch,
        "step": position.step,
        "seconds": round(position.seconds, 3),
        "optimizers": optimizers,
        "config": task.config.to_dict(),
        "torch": torch.__version__,
        "world_size": task.runtime.world_size,
        "saved": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(folder / CHECKPOINT_INDEX, index)
    for old in folder.glob("step_*.safetensors"):
        if old.name != weights_name:
            old.unlink(missing_ok=True)
    return folder / weights_name


def read_checkpoint_index(out: Path) -> dict[str, Any] | None:
    """``OUT/checkpoint/latest.json`` as a dict, or None when there is no checkpoint."""
    path = out / CHECKPOINT_FOLDER / CHECKPOINT_INDEX
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TrainingError(f"cannot read checkpoint {path}: {error}") from None
    if not isinstance(index, dict) or index.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path} is not a cxr-explain checkpoint (format {CHECKPOINT_FORMAT})")
    return index


def load_checkpoint(task: TrainingTask, out: Path, index: Mapping[str, Any]) -> Position:
    """Restore ``task`` from the checkpoint ``index`` describes; the position to continue from."""
    folder = out / CHECKPOINT_FOLDER
    weights = folder / str(index["tensors"])
    if Path(index["tensors"]).name != index["tensors"] or not weights.is_file():
        raise TrainingError(f"checkpoint tensor file {weights.name} is missing")
    if _sha256(weights) != index["sha256"]:
        raise TrainingError(f"checkpoint {weights.name} does not match its sha256; it is corrupt")
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise TrainingError(f"unreadable checkpoint {weights.name}: {error}") from None
    device = task.runtime.device
    try:
        for name, module in task.modules().items():
            prefix = f"model/{name}/"
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            module.load_state_dict(state, strict=True)
        for name, optimizer in task.optimizers().items():
            saved = index["optimizers"][name]
            prefix = f"optim/{name}/"
            per_param: dict[int, dict[str, Any]] = {}
            for key, value in tensors.items():
                if key.startswith(prefix):
                    param_id, state_key = key[len(prefix) :].split("/", 1)
                    per_param.setdefault(int(param_id), {})[state_key] = value
            for param_id, values in saved["state"].items():
                per_param.setdefault(int(param_id), {}).update(values)
            groups = [
                {k: tuple(v) if k == "betas" else v for k, v in group.items()}
                for group in saved["param_groups"]
            ]
            optimizer.load_state_dict({"state": per_param, "param_groups": groups})
        for name, pool in task.pools().items():
            pool.load_state(tensors[f"pool/{name}"], device)
    except (KeyError, RuntimeError, ValueError) as error:
        one_line = " ".join(str(error).split())[:300]
        raise TrainingError(f"checkpoint does not fit this model: {one_line}") from None
    _restore_rng(tensors)
    if task.runtime.rank > 0:  # ranks restored rank 0's RNG; give each its own stream again
        torch.manual_seed(task.config.seed + 7919 * task.runtime.rank + int(index["step"]))
    return Position(
        epoch=int(index["epoch"]),
        step_in_epoch=int(index["step_in_epoch"]),
        step=int(index["step"]),
        seconds=float(index.get("seconds", 0.0)),  # absent in checkpoints of earlier versions
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
