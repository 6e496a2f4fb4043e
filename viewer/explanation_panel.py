"""Explanation controls: direction, the translation-strength slider with playback, the
classifier's probability per frame, and a banner for warnings about the explanation."""

from __future__ import annotations

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

from viewer.explanation import Alert, Direction, Explanation, explanation_alerts

DEFAULT_FPS = 8


class ExplanationPanel(QWidget):
    """Side panel driving the explanation shown in the comparison panes."""

    direction_changed = Signal(str)  # a Direction value
    frame_changed = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._explanation: Explanation | None = None

        self.direction_combo = QComboBox()
        for direction in Direction:
            self.direction_combo.addItem(direction.title, direction.value)
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

        self.banner = QLabel()
        self.banner.setObjectName("warningBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()

        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_timer_timeout)

        self._build_layout()
        self.set_explanation(None)

    def _build_layout(self) -> None:
        translation = QGroupBox("Counterfactual")
        form = QFormLayout(translation)
        form.addRow("Direction", self.direction_combo)
        form.addRow("Model", self.model_label)

        strength = QGroupBox("Translation strength")
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
    def direction(self) -> Direction:
        return Direction(self.direction_combo.currentData())

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
        self.set_alerts(explanation_alerts(explanation) if explanation is not None else ())
        if explanation is None:
            self.model_label.setText("—")
            self.probability_label.setText("—")
            self.probability_detail.setText(message)
            self.frame_label.setText("")
            return
        # The folder name fits the form row; the checksums of every model are in the tooltip
        # and the pane annotation (a wrapped multi-line label is clipped by the form layout).
        folder, *models = explanation.model_name.split(" ")
        self.model_label.setText(f"{folder} ({len(models)} models)" if models else folder)
        self.model_label.setToolTip("\n".join(models) or folder)
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
        if frames:
            frame = frames[self.slider.value()]
            probability = frame.probability
            self.frame_label.setText(
                f"Frame {self.slider.value() + 1} of {len(frames)} · strength {frame.strength:.2f}"
            )
        else:
            probability = explanation.probability_translated
            self.frame_label.setText("")
        self.probability_label.setText(f"P({label}) = {probability:.2f}")
        self.probability_detail.setText(
            f"original {explanation.probability_original:.2f} → "
            f"translated {explanation.probability_translated:.2f}"
        )

    def _on_direction_combo_changed(self, _index: int) -> None:
        self.direction_changed.emit(self.direction.value)

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
