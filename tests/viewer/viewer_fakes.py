"""Test doubles for the viewer: fake explanation providers (directions, FIGAN features), a gated
loader, fake mouse events."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt

from engine.api import ExplanationResult, Radiograph, load_radiograph, sample_radiograph_path
from engine.explain.statistics import lung_statistics
from viewer.explanation import Direction, ExplanationChoice, Feature, StageProgress

FloatImage = npt.NDArray[np.float32]

FAKE_MODEL = "fake-cyclegan 0.0"
FAKE_FEATURES = (Feature(0, 0.674), Feature(1, 0.043))
FAKE_FEATURE_NOTE = "fake FIGAN feature: synthetic frames"


@dataclass(frozen=True, slots=True)
class FakeFrame:
    strength: float
    translated: FloatImage
    probability: float


@dataclass(frozen=True, slots=True)
class FakeExplanation:
    translated: FloatImage
    difference: FloatImage
    probability_original: float
    probability_translated: float
    positive_label: str
    direction: ExplanationChoice
    model_name: str
    frames: tuple[FakeFrame, ...]
    warnings: tuple[str, ...] = ()
    valid: bool | None = None
    out_of_distribution: str | None = None


def ellipse_bump(shape: tuple[int, int]) -> FloatImage:
    """A smooth bump in ``[0, 1]`` (peak 1) over the left lung field of a (H, W) image."""
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    row0, column0 = 0.45 * shape[0], 0.32 * shape[1]
    radius_row, radius_column = 0.18 * shape[0], 0.10 * shape[1]
    distance = ((rows - row0) / radius_row) ** 2 + ((columns - column0) / radius_column) ** 2
    return np.exp(-distance).astype(np.float32)


def fake_explanation(
    radiograph: Radiograph,
    direction: Direction = Direction.AUTO,
    *,
    frame_count: int = 5,
    amplitude: float = 300.0,
    warnings: tuple[str, ...] = (),
    valid: bool | None = None,
    out_of_distribution: str | None = None,
) -> FakeExplanation:
    """Translated = original brightened in a smooth ellipse, linearly with strength."""
    pixels = radiograph.pixels
    bump = (np.float32(amplitude) * ellipse_bump(radiograph.shape)).astype(np.float32)
    p_original, p_translated = 0.15, 0.85
    frames = []
    for strength in np.linspace(0.0, 1.0, frame_count):
        translated = (pixels + np.float32(strength) * bump).astype(np.float32)
        translated.setflags(write=False)
        probability = p_original + (p_translated - p_original) * float(strength)
        frames.append(FakeFrame(float(strength), translated, probability))
    difference = (frames[-1].translated - pixels).astype(np.float32)
    return FakeExplanation(
        translated=frames[-1].translated,
        difference=difference,
        probability_original=p_original,
        probability_translated=p_translated,
        positive_label="pneumoconiosis",
        direction=direction,
        model_name=FAKE_MODEL,
        frames=tuple(frames),
        warnings=warnings,
        valid=valid,
        out_of_distribution=out_of_distribution,
    )


def fake_explainer(
    radiograph: Radiograph,
    direction: Direction,
    cancel: threading.Event,
    progress: StageProgress | None = None,
) -> FakeExplanation:
    """An ``ExplanationProvider`` backed by ``fake_explanation``."""
    return fake_explanation(radiograph, direction)


def fake_feature_explanation(
    radiograph: Radiograph, feature: Feature, *, frame_count: int = 9, span: float = 2.0
) -> FakeExplanation:
    """Frames at feature scores ``-span .. +span`` SD: the ellipse brightened in proportion to the
    score, P rising with it (more steeply for a higher-ranked feature)."""
    pixels = radiograph.pixels
    bump = (np.float32(100.0) * ellipse_bump(radiograph.shape)).astype(np.float32)
    slope = 0.2 / (feature.index + 1)  # P per SD
    p_original = 0.5
    frames = []
    for score in np.linspace(-span, span, frame_count):
        translated = (pixels + np.float32(score) * bump).astype(np.float32)
        translated.setflags(write=False)
        frames.append(FakeFrame(float(score), translated, p_original + slope * float(score)))
    return FakeExplanation(
        translated=frames[-1].translated,
        difference=(frames[-1].translated - pixels).astype(np.float32),
        probability_original=p_original,
        probability_translated=frames[-1].probability,
        positive_label="pneumoconiosis",
        direction=feature,
        model_name="fake-figan 0.0",
        frames=tuple(frames),
        warnings=(FAKE_FEATURE_NOTE,),
    )


class FakeFeatureExplainer:
    """A ``FeatureExplainer``: the fake CycleGAN directions plus ``features``; records the
    choices it was asked to explain."""

    def __init__(self, features: tuple[Feature, ...] = FAKE_FEATURES) -> None:
        self._features = features
        self.choices: list[ExplanationChoice] = []

    def __call__(
        self,
        radiograph: Radiograph,
        choice: ExplanationChoice,
        cancel: threading.Event,
        progress: StageProgress | None = None,
    ) -> FakeExplanation:
        self.choices.append(choice)
        if isinstance(choice, Feature):
            return fake_feature_explanation(radiograph, choice)
        return fake_explanation(radiograph, choice)

    def features(self) -> tuple[Feature, ...]:
        return self._features


class GatedLoader:
    """Loads the sample; a path named ``slow*`` blocks until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.slow_started = threading.Event()
        self.calls: list[str] = []

    def __call__(self, path: Path) -> Radiograph:
        self.calls.append(path.name)
        if path.name.startswith("slow"):
            self.slow_started.set()
            if not self.gate.wait(timeout=30):
                raise TimeoutError("the test never opened the gate")
        return load_radiograph(sample_radiograph_path())


def raising_loader(error: Exception) -> Callable[[Path], Radiograph]:
    def load(path: Path) -> Radiograph:
        raise error

    return load


class FakeDragEvent:
    """The parts of pyqtgraph's ``MouseDragEvent`` that ``RadiologyViewBox`` reads."""

    def __init__(
        self,
        button: Qt.MouseButton,
        delta: tuple[float, float],
        *,
        start: tuple[float, float] = (100.0, 100.0),
        finish: bool = False,
    ) -> None:
        self._button = button
        self._last = pg.Point(*start)
        self._pos = pg.Point(start[0] + delta[0], start[1] + delta[1])
        self._finish = finish
        self.accepted = False

    def button(self) -> Qt.MouseButton:
        return self._button

    def pos(self) -> QPointF:
        return self._pos

    def lastPos(self) -> QPointF:
        return self._last

    def screenPos(self) -> QPointF:
        return self._pos

    def lastScreenPos(self) -> QPointF:
        return self._last

    def buttonDownPos(self, button: Qt.MouseButton | None = None) -> QPointF:
        return self._last

    def isStart(self) -> bool:
        return False

    def isFinish(self) -> bool:
        return self._finish

    def accept(self) -> None:
        self.accepted = True

    def ignore(self) -> None:
        self.accepted = False


class FakeWheelEvent:
    """The parts of a wheel event that ``ViewBox.wheelEvent`` reads."""

    def __init__(self, delta: int, pos: QPointF) -> None:
        self._delta = delta
        self._pos = pos
        self.accepted = False

    def delta(self) -> int:
        return self._delta

    def pos(self) -> QPointF:
        return self._pos

    def accept(self) -> None:
        self.accepted = True

    def ignore(self) -> None:
        self.accepted = False


class FakeClickEvent:
    def __init__(self, button: Qt.MouseButton, *, double: bool) -> None:
        self._button = button
        self._double = double
        self.accepted = False

    def button(self) -> Qt.MouseButton:
        return self._button

    def double(self) -> bool:
        return self._double

    def accept(self) -> None:
        self.accepted = True


def planted_lungs(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Two elliptical lung masks (patient's right = image left), read-only bool (H, W)."""
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    masks = []
    for centre in (0.3, 0.7):
        distance = ((rows - 0.5 * shape[0]) / (0.3 * shape[0])) ** 2 + (
            (columns - centre * shape[1]) / (0.14 * shape[1])
        ) ** 2
        mask = distance <= 1.0
        mask.setflags(write=False)
        masks.append(mask)
    return masks[0], masks[1]


def with_planted_lungs(result: ExplanationResult) -> ExplanationResult:
    """``result`` with known lung masks and the statistics recomputed over them (tiny random
    segmenters find almost no lung, which would leave every statistic empty)."""
    right, left = planted_lungs(result.original.shape)
    primary = result.primary
    statistics = lung_statistics(result.original, primary.translated, right, left)
    counterfactual = dataclasses.replace(primary, statistics=statistics)
    return dataclasses.replace(
        result, right_lung=right, left_lung=left, counterfactuals=(counterfactual,)
    )
