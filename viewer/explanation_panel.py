"""Explanation controls: what to explain (a CycleGAN direction or a FIGAN feature), the slider
with playback (translation strength, or the feature's score), the classifier's probability per
frame, and a banner for warnings about the explanation."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from viewer.explanation import (
    Alert,
    Direction,
    Explanation,
    ExplanationChoice,
    Feature,
    engine_result,
    explanation_alerts,
)

DEFAULT_FPS = 8
STRENGTH_TITLE = "Translation strength"
FEATURE_SCORE_TITLE = "Feature score (SD)"


class ExplanationPanel(QWidget):
    """Side panel driving the explanation shown in the comparison panes."""

    choice_changed = Signal()  # read ``choice`` for the new one
    frame_changed = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._explanation: Explanation | None = None
        # The combo's entries by item data (``_choice_key``); separators carry no data.
        self._choices: dict[str, ExplanationChoice] = {}
        self._checksums: Mapping[str, str] = {}

        self.direction_combo = QComboBox()
        for direction in Direction:
            self._add_choice(direction)
        self.direction_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.direction_combo.currentIndexChanged.connect(self._on_direction_combo_changed)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys are window shortcuts
        self.slider.setPageStep(1)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.play_button = QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play_button.setText("▶ Play")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.toggled.connect(self._on_play_button_toggled)
        self.fps_spin = QSpinBox()
        self.fps_spin.setRange(1, 30)
        self.fps_spin.setValue(DEFAULT_FPS)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.fps_spin.valueChanged.connect(self._on_fps_spin_changed)
        self.frame_label = QLabel()
        self.frame_label.setObjectName("frameLabel")

        self.probability_label = QLabel()
        self.probability_label.setObjectName("probability")
        self.probability_detail = QLabel()
        self.probability_detail.setWordWrap(True)
        self.model_label = QLabel()
        self.kept_label = QLabel()
        self.kept_label.setToolTip(
            "Pixels the device segmenter marks as foreign objects (pacemaker, wires, ECG leads): "
            "the translation leaves them as they are. Display > Lung contour outlines them in "
            "amber. On images unlike its synthetic training data it also marks bright edges."
        )

        self.banner = QLabel()
        self.banner.setObjectName("warningBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()

        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_timer_timeout)

        self._build_layout()
        self.set_explanation(None)

    def _build_layout(self) -> None:
        translation = QGroupBox("Explanation")
        form = QFormLayout(translation)
        form.addRow("Explain", self.direction_combo)
        form.addRow("Model", self.model_label)
        form.addRow("Unchanged", self.kept_label)

        self.slider_group = strength = QGroupBox(STRENGTH_TITLE)
        strength_layout = QVBoxLayout(strength)
        strength_layout.addWidget(self.slider)
        row = QHBoxLayout()
        row.addWidget(self.play_button)
        row.addWidget(self.fps_spin)
        row.addStretch(1)
        strength_layout.addLayout(row)
        strength_layout.addWidget(self.frame_label)

        classifier = QGroupBox("Classifier")
        classifier_layout = QVBoxLayout(classifier)
        classifier_layout.addWidget(self.probability_label)
        classifier_layout.addWidget(self.probability_detail)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(translation)
        layout.addWidget(strength)
        layout.addWidget(classifier)
        layout.addStretch(1)

    @property
    def choice(self) -> ExplanationChoice:
        """What the user asked to explain: a CycleGAN direction or a FIGAN feature."""
        return self._choices[self.direction_combo.currentData()]

    def set_choice(self, choice: ExplanationChoice) -> None:
        """Select ``choice`` without ``choice_changed`` (the window does it: a new image goes
        back to a direction, a declined feature back to what was shown)."""
        index = self.direction_combo.findData(_choice_key(choice))
        if index < 0:
            return
        self.direction_combo.blockSignals(True)
        self.direction_combo.setCurrentIndex(index)
        self.direction_combo.blockSignals(False)

    @property
    def features(self) -> tuple[Feature, ...]:
        return tuple(choice for choice in self._choices.values() if isinstance(choice, Feature))

    def set_features(self, features: tuple[Feature, ...], unavailable: str = "") -> None:
        """List ``features`` after the directions (none: directions only; ``unavailable`` says
        why in the tooltip). A chosen feature that is no longer offered falls back to the first
        direction, and ``choice_changed`` says so."""
        previous = self.choice
        combo = self.direction_combo
        combo.blockSignals(True)
        while combo.count() > len(Direction):
            combo.removeItem(combo.count() - 1)
        self._choices = {_choice_key(direction): direction for direction in Direction}
        if features:
            combo.insertSeparator(combo.count())
            for feature in features:
                self._add_choice(feature)
        index = combo.findData(_choice_key(previous))
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)
        combo.setToolTip(f"FIGAN features unavailable: {unavailable}" if unavailable else "")
        if self.choice != previous:
            self.choice_changed.emit()

    def set_model_checksums(self, checksums: Mapping[str, str]) -> None:
        """Full weight checksums by model id (the model folder's bundles), for the Model row's
        tooltip: the engine's label carries only their first 8 digits."""
        self._checksums = dict(checksums)

    @property
    def frame(self) -> int:
        return self.slider.value()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_explanation(self, explanation: Explanation | None, message: str = "") -> None:
        """Show ``explanation``'s frames and warnings; None disables the controls (``message``
        says why)."""
        self.set_playing(False)
        self._explanation = explanation
        frames = explanation.frames if explanation is not None else ()
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(frames) - 1, 0))
        self.slider.setValue(max(len(frames) - 1, 0))
        self.slider.blockSignals(False)
        has_frames = len(frames) > 1
        for widget in (self.slider, self.play_button, self.fps_spin):
            widget.setEnabled(has_frames)
        shown = explanation.direction if explanation is not None else self.choice
        self.slider_group.setTitle(
            FEATURE_SCORE_TITLE if isinstance(shown, Feature) else STRENGTH_TITLE
        )
        self.set_alerts(explanation_alerts(explanation) if explanation is not None else ())
        self.kept_label.setText(kept_text(explanation))
        if explanation is None:
            self.model_label.setText("—")
            self.probability_label.setText("—")
            self.probability_detail.setText(message)
            self.frame_label.setText("")
            return
        # The folder name fits the form row; the checksums of every model are in the tooltip
        # and Help > About (a wrapped multi-line label is clipped by the form layout).
        folder, *models = explanation.model_name.split(" ")
        self.model_label.setText(f"{folder} ({len(models)} models)" if models else folder)
        self.model_label.setToolTip(model_tooltip(explanation.model_name, self._checksums))
        self._show_frame_text()

    def set_alerts(self, alerts: tuple[Alert, ...]) -> None:
        """Every alert of the explanation, serious ones included, one line each."""
        self.banner.setText("\n".join(f"⚠ {alert.text}" for alert in alerts))
        self.banner.setVisible(bool(alerts))

    def step(self, delta: int) -> None:
        """Move the slider by ``delta`` frames, wrapping around at either end."""
        count = self.slider.maximum() + 1
        if self.slider.isEnabled() and count > 1:
            self.slider.setValue((self.slider.value() + delta) % count)

    def set_playing(self, playing: bool) -> None:
        self.play_button.setChecked(playing and self.play_button.isEnabled())

    def toggle_playing(self) -> None:
        self.set_playing(not self.playing)

    def _show_frame_text(self) -> None:
        explanation = self._explanation
        if explanation is None:
            return
        label = explanation.positive_label
        frames = explanation.frames
        is_feature = isinstance(explanation.direction, Feature)
        if frames:
            frame = frames[self.slider.value()]
            probability = frame.probability
            strength = frame.strength
            position = f"score {strength:+.2f} SD" if is_feature else f"strength {strength:.2f}"
            self.frame_label.setText(
                f"Frame {self.slider.value() + 1} of {len(frames)} · {position}"
            )
        else:
            probability = explanation.probability_translated
            self.frame_label.setText("")
        self.probability_label.setText(f"P({label}) = {probability:.2f}")
        if is_feature and frames:
            first, last = frames[0], frames[-1]
            self.probability_detail.setText(
                f"original {explanation.probability_original:.2f}; "
                f"{first.strength:+g} SD {first.probability:.2f} → "
                f"{last.strength:+g} SD {last.probability:.2f}"
            )
        else:
            self.probability_detail.setText(
                f"original {explanation.probability_original:.2f} → "
                f"translated {explanation.probability_translated:.2f}"
            )

    def _add_choice(self, choice: ExplanationChoice) -> None:
        key = _choice_key(choice)
        self._choices[key] = choice
        self.direction_combo.addItem(choice.label, key)

    def _on_direction_combo_changed(self, _index: int) -> None:
        self.choice_changed.emit()

    def _on_slider_value_changed(self, value: int) -> None:
        self._show_frame_text()
        self.frame_changed.emit(value)

    def _on_play_button_toggled(self, checked: bool) -> None:
        self.play_button.setText("❚❚ Pause" if checked else "▶ Play")
        if checked:
            self._timer.start(round(1000 / self.fps_spin.value()))
        else:
            self._timer.stop()
        self.playing_changed.emit(checked)

    def _on_fps_spin_changed(self, fps: int) -> None:
        if self._timer.isActive():
            self._timer.setInterval(round(1000 / fps))

    def _on_timer_timeout(self) -> None:
        self.step(1)


def kept_text(explanation: Explanation | None) -> str:
    """What the explanation left unchanged on purpose (the engine's keep mask), one line."""
    result = engine_result(explanation)
    share = None if result is None else result.kept_share
    if share is None:
        return "—"
    if share == 0.0:
        return "no devices marked"
    return f"marked as devices: {100 * share:.1f} % of the lung field"


def model_tooltip(model_label: str, checksums: Mapping[str, str]) -> str:
    """The Model row's tooltip: the model folder, then one line per model with its full checksum
    where ``checksums`` knows it (``model@short`` words of the engine's label otherwise)."""
    folder, *models = model_label.split(" ")
    lines = [f"Model folder: {folder}"]
    for word in models:
        model_id, _, short = word.partition("@")
        full = checksums.get(model_id, "")
        lines.append(f"{model_id}: sha256 {full}" if short and full.startswith(short) else word)
    return "\n".join(lines)


def _choice_key(choice: ExplanationChoice) -> str:
    """The combo's item data for ``choice``: a direction's value, or ``feature-N`` (1-based)."""
    return f"feature-{choice.index + 1}" if isinstance(choice, Feature) else choice.value
