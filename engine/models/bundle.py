"""Model bundles: ``<dir>/<model_id>/`` with ``model.safetensors``, ``config.json``, ``README.md``.

``config.json`` (format version 1) states everything needed to rebuild and use the network::

    {
      "format_version": 1,
      "model_id": "cyclegan-healthy-to-pneumo",
      "architecture": "generator",                    # engine.networks.Architecture value
      "architecture_kwargs": {"base_width": 64, ...},  # keyword arguments of its constructor
      "input_size": [512, 512],                        # [H, W] the model was trained at
      "normalisation": {"input_range": [-1, 1], "from": "display [0,1]"},
      "labels": ["healthy", "pneumoconiosis"],         # output meaning, where relevant
      "value_ranges": {"input": [-1, 1], "output": [-1, 1]},
      "training": {"data": ..., "command": ..., "seed": ..., "epochs": ...},
      "metrics": {...},
      "created": "2025-01-01T00:00:00+00:00",
      "sha256": "<hex digest of model.safetensors>"
    }

Loading never unpickles: weights come only from safetensors, after their SHA-256 matched the one
in ``config.json``; the architecture comes only from the explicit registry
``engine.networks.ARCHITECTURES``. Every failure is an :class:`engine.errors.ModelError` with a
one-line message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file
from torch import nn

from engine.atomic import atomic_path, write_text_atomically
from engine.errors import ModelError
from engine.networks import Architecture, architecture_of, build_network

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
MODEL_CARD_FILE = "README.md"

#: Suffixes of PyTorch pickle checkpoints, refused by name before any byte is read.
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
_MAX_CONFIG_BYTES = 1_000_000
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_REQUIRED_KEYS = (
    "format_version",
    "model_id",
    "architecture",
    "architecture_kwargs",
    "input_size",
    "normalisation",
    "sha256",
)


def _freeze(value: Any) -> Any:
    """Deep read-only copy of JSON data: dicts -> mapping proxies, lists -> tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    """Inverse of :func:`_freeze`, giving plain JSON types."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class BundleConfig:
    """The content of a bundle's ``config.json`` (see the module docstring).

    Mappings are read-only deep copies. ``created`` and ``sha256`` may be left empty when saving:
    :func:`save_bundle` fills them in.
    """

    model_id: str
    architecture: Architecture
    architecture_kwargs: Mapping[str, Any]
    input_size: tuple[int, int]
    normalisation: Mapping[str, Any]
    labels: tuple[str, ...] = ()
    value_ranges: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    created: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.model_id, str) or not _MODEL_ID.fullmatch(self.model_id):
            raise ModelError(
                f"model_id {self.model_id!r} is not a safe folder name "
                "(letters, digits, '.', '_', '-'; at most 128 characters)"
            )
        try:
            architecture = Architecture(self.architecture)
        except ValueError:
            raise ModelError(
                f"model {self.model_id!r}: unknown architecture {self.architecture!r}; "
                f"known: {', '.join(a.value for a in Architecture)}"
            ) from None
        size = tuple(self.input_size) if isinstance(self.input_size, list | tuple) else ()
        if len(size) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size
        ):
            raise ModelError(
                f"model {self.model_id!r}: input_size must be [H, W] positive ints, "
                f"got {self.input_size!r}"
            )
        if not isinstance(self.format_version, int) or self.format_version != FORMAT_VERSION:
            raise ModelError(
                f"model {self.model_id!r}: bundle format_version {self.format_version!r} is not "
                f"supported (this build reads version {FORMAT_VERSION})"
            )
        for name in ("architecture_kwargs", "normalisation", "value_ranges", "training", "metrics"):
            if not isinstance(getattr(self, name), Mapping):
                raise ModelError(f"model {self.model_id!r}: {name} must be a JSON object")
        if not isinstance(self.labels, list | tuple) or not all(
            isinstance(label, str) for label in self.labels
        ):
            raise ModelError(f"model {self.model_id!r}: labels must be a list of strings")
        if not isinstance(self.sha256, str) or not isinstance(self.created, str):
            raise ModelError(f"model {self.model_id!r}: sha256 and created must be strings")
        set_ = object.__setattr__
        set_(self, "architecture", architecture)
        set_(self, "input_size", (int(size[0]), int(size[1])))
        set_(self, "labels", tuple(self.labels))
        for name in ("architecture_kwargs", "normalisation", "value_ranges", "training", "metrics"):
            set_(self, name, _freeze(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, keys in the documented order."""
        return {
            "format_version": self.format_version,
            "model_id": self.model_id,
            "architecture": self.architecture.value,
            "architecture_kwargs": _thaw(self.architecture_kwargs),
            "input_size": list(self.input_size),
            "normalisation": _thaw(self.normalisation),
            "labels": list(self.labels),
            "value_ranges": _thaw(self.value_ranges),
            "training": _thaw(self.training),
            "metrics": _thaw(self.metrics),
            "created": self.created,
            "sha256": self.sha256,
        }

    def to_json(self) -> str:
        """``config.json`` text (UTF-8, indented, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = CONFIG_FILE) -> BundleConfig:
        """Parse ``config.json`` text; ``ModelError`` (naming ``source``) on any problem."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ModelError(f"{source} is not valid JSON ({error.msg})") from None
        if not isinstance(data, dict):
            raise ModelError(f"{source} must hold a JSON object")
        missing = [key for key in _REQUIRED_KEYS if key not in data]
        if missing:
            raise ModelError(f"{source} lacks required key(s): {', '.join(missing)}")
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        unknown = sorted(set(data) - set(known))
        if unknown:
            log.warning("%s: ignoring unknown key(s) %s", source, ", ".join(unknown))
        try:
            return cls(**known)
        except ModelError as error:
            raise ModelError(f"{source}: {error}") from None


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A network rebuilt from a bundle: ``module`` is in eval mode on the requested device."""

    module: nn.Module
    config: BundleConfig
    path: Path


# --------------------------------------------------------------------------- pickle refusal

_PICKLE_MAGIC_PROTOCOLS = frozenset({2, 3, 4, 5})
_ZIP_MAGIC = b"PK\x03\x04"


def is_pickle_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is named or starts like a pickle / torch.save checkpoint.

    Looks at the suffix and at most the first 8 bytes: pickle protocol 2-5 (``0x80 <proto>``),
    a zip archive (``torch.save`` since 1.6), or protocol 0/1 opcodes where a safetensors header
    length would be. Never deserialises anything.
    """
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_ZIP_MAGIC):
        return True
    if len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_MAGIC_PROTOCOLS:
        return True
    # Protocol 0/1 pickles start with an opcode such as '(' (MARK), ']' or '}'; a safetensors
    # header length in little endian would need an absurd 2**40+ byte header to look like that.
    return head[:1] in (b"(", b"]", b"}", b"c") and not _looks_like_safetensors(head)


def _looks_like_safetensors(head: bytes) -> bool:
    return len(head) == 8 and int.from_bytes(head, "little") < 100_000_000


def refuse_pickle(path: str | os.PathLike[str]) -> None:
    """Raise ``ModelError`` if ``path`` is a pickle checkpoint (:func:`is_pickle_checkpoint`)."""
    if is_pickle_checkpoint(path):
        raise ModelError(
            f"{Path(path).name} is a pickle checkpoint; cxr-explain only loads safetensors + JSON "
            "bundles (a pickle can run code when opened). Convert it once with "
            "engine.models.import_reference, or export model.safetensors + config.json"
        )


# --------------------------------------------------------------------------- checksums, I/O


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_bundle(
    model: nn.Module,
    directory: str | os.PathLike[str],
    config: BundleConfig,
    *,
    model_card: str | None = None,
) -> Path:
    """Write ``model`` as the bundle ``<directory>/<config.model_id>/`` and return that folder.

    The weights are written first, then ``config.json`` with their SHA-256 and the creation time
    (when ``config.created`` is empty), then ``model_card`` as ``README.md`` when given. Each file
    goes to a temporary file in the same folder and is moved into place with ``os.replace``, so a
    reader never sees a half-written file. ``model`` must be an instance of exactly the class
    ``config.architecture`` names, and its state must rebuild from ``config.architecture_kwargs``.
    """
    try:
        actual = architecture_of(model)
    except ValueError as error:
        raise ModelError(f"cannot save {config.model_id!r}: {error}") from None
    if actual is not config.architecture:
        raise ModelError(
            f"cannot save {config.model_id!r}: the model is a {actual.value!r}, "
            f"the config says {config.architecture.value!r}"
        )
    tensors = {
        name: tensor.detach().to("cpu").contiguous().clone()
        for name, tensor in model.state_dict().items()
    }
    _check_state_matches(config, tensors)  # the saved kwargs must rebuild this exact state
    bundle = Path(directory) / config.model_id
    try:
        bundle.mkdir(parents=True, exist_ok=True)
        with atomic_path(bundle / WEIGHTS_FILE) as temporary:
            save_file(tensors, str(temporary), metadata={"model_id": config.model_id})
            digest = sha256_of(temporary)
        created = config.created or datetime.now(UTC).isoformat(timespec="seconds")
        final_config = replace(config, sha256=digest, created=created)
        write_text_atomically(bundle / CONFIG_FILE, final_config.to_json())
        if model_card is not None:
            write_text_atomically(bundle / MODEL_CARD_FILE, model_card)
    except OSError as error:
        raise ModelError(f"cannot write model bundle {bundle}: {error.strerror or error}") from None
    log.info("saved model bundle %s (sha256 %s)", bundle, digest[:12])
    return bundle


def _build(config: BundleConfig) -> nn.Module:
    """The config's network without storage (meta device): its random initialisation would be
    overwritten by the weights anyway, and took a fifth of loading the shipped models."""
    try:
        with torch.device("meta"):
            return build_network(config.architecture, config.architecture_kwargs)
    except ValueError as error:
        raise ModelError(f"model {config.model_id!r}: {error}") from None


def _check_state_matches(config: BundleConfig, tensors: Mapping[str, torch.Tensor]) -> nn.Module:
    """Build the config's network and compare its state keys, shapes and dtypes to ``tensors``."""
    module = _build(config)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = [
        name
        for name in sorted(set(expected) & set(tensors))
        if expected[name].shape != tensors[name].shape
        or expected[name].dtype != tensors[name].dtype
    ]
    problems = []
    for label, names in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("shape/dtype", mismatched),
    ):
        if names:
            shown = ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
            problems.append(f"{len(names)} {label} tensor(s): {shown}")
    if problems:
        raise ModelError(
            f"model {config.model_id!r}: weights do not fit architecture "
            f"{config.architecture.value!r} with its kwargs; " + "; ".join(problems)
        )
    return module


def load_bundle(
    directory: str | os.PathLike[str],
    expected_architecture: Architecture | str | tuple[Architecture, ...] | None = None,
    device: str | torch.device = "cpu",
) -> LoadedModel:
    """Load the bundle folder ``directory`` (``<dir>/<model_id>/``); the model is in eval mode.

    Order of checks: the folder exists and is not a pickle file; ``config.json`` parses and is
    complete; the architecture is the expected one; ``model.safetensors`` exists, is not a pickle
    and its SHA-256 equals ``config.sha256``; the registry builds the architecture from
    ``architecture_kwargs``; every tensor name, shape and dtype matches (``strict=True``).
    Any failure raises :class:`ModelError`.
    """
    bundle = Path(directory)
    if bundle.is_file():
        refuse_pickle(bundle)
        raise ModelError(f"{bundle} is a file; a model bundle is a folder with {CONFIG_FILE}")
    if not bundle.is_dir():
        raise ModelError(f"model bundle folder {bundle} does not exist")
    config_path = bundle / CONFIG_FILE
    if not config_path.is_file():
        pickles = sorted(p.name for p in bundle.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        hint = f" (found pickle checkpoint {pickles[0]}, which is never loaded)" if pickles else ""
        raise ModelError(f"model bundle {bundle.name} has no {CONFIG_FILE}{hint}")
    try:
        if config_path.stat().st_size > _MAX_CONFIG_BYTES:
            raise ModelError(f"{bundle.name}/{CONFIG_FILE} is larger than 1 MB")
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"cannot read {bundle.name}/{CONFIG_FILE}: {error}") from None
    config = BundleConfig.from_json(text, source=f"{bundle.name}/{CONFIG_FILE}")
    if expected_architecture is not None:
        allowed = (
            tuple(Architecture(a) for a in expected_architecture)
            if isinstance(expected_architecture, tuple)
            else (Architecture(expected_architecture),)
        )
        if config.architecture not in allowed:
            names = " or ".join(repr(a.value) for a in allowed)
            raise ModelError(
                f"model {config.model_id!r} is a {config.architecture.value!r}, expected a {names}"
            )
    weights = bundle / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelError(f"model bundle {bundle.name} has no {WEIGHTS_FILE}")
    refuse_pickle(weights)
    try:
        # Read once: the bytes that were checked are the bytes that get loaded (no swap between).
        data = weights.read_bytes()
    except OSError as error:
        raise ModelError(f"model {config.model_id!r}: cannot read {WEIGHTS_FILE}") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != config.sha256.lower():
        raise ModelError(
            f"model {config.model_id!r}: {WEIGHTS_FILE} does not match the sha256 in "
            f"{CONFIG_FILE} (file {digest[:12]}..., expected {config.sha256[:12]}...); "
            "the file is corrupt or was replaced"
        )
    try:
        tensors = load_safetensors_bytes(data)
    except (SafetensorError, OSError, ValueError) as error:
        one_line = " ".join(str(error).split())
        raise ModelError(
            f"model {config.model_id!r}: unreadable {WEIGHTS_FILE}: {one_line}"
        ) from None
    module = _check_state_matches(config, tensors)
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"model {config.model_id!r}: tensor {name} holds NaN or infinity")
    try:
        module.load_state_dict(tensors, strict=True, assign=True)  # the loaded tensors, no copy
        if any(t.is_meta for t in (*module.parameters(), *module.buffers())):
            # A tensor outside the state dict (a non-persistent buffer) has no stored value.
            raise ModelError(f"model {config.model_id!r}: the network has tensors the file lacks")
        module.to(device)
    except (RuntimeError, ValueError) as error:
        one_line = " ".join(str(error).split())[:300]
        raise ModelError(f"model {config.model_id!r}: {one_line}") from None
    module.eval()
    log.info("loaded model %s (%s) from %s", config.model_id, config.architecture.value, bundle)
    return LoadedModel(module=module, config=config, path=bundle)
