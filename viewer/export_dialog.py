"""The export dialog: what to export, and the GIF's frame rate, frame range and size cap.

Patient identifiers stay out of every export unless the user ticks the box, which starts unticked
every time (it is deliberately not remembered).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from viewer.export import (
    DEFAULT_GIF_FPS,
    DEFAULT_GIF_MAX_WIDTH,
    ExportKind,
    ExportRequest,
    GifExportOptions,
)

MIN_GIF_WIDTH = 96  # the engine's lower bound for a three-pane strip


class ExportDialog(QDialog):
    """Collects an ``ExportRequest``; the caller asks for the file name afterwards."""

    def __init__(
        self,
        *,
        frame_count: int,
        has_explanation: bool,
        has_identifiers: bool,
        fps: int = DEFAULT_GIF_FPS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.kind_combo = QComboBox()
        for kind in ExportKind:
            self.kind_combo.addItem(kind.label, kind.value)
            if kind.needs_explanation and not has_explanation:
                index = self.kind_combo.count() - 1
                self.kind_combo.model().item(index).setEnabled(False)  # type: ignore[attr-defined]
        self.kind_combo.setCurrentIndex(
            self.kind_combo.findData(
                ExportKind.GIF.value if has_explanation else ExportKind.PNG.value
            )
        )
        self.kind_combo.currentIndexChanged.connect(self._on_kind_combo_changed)

        last = max(frame_count, 1)
        self.fps_spin = _spin(1, 50, min(max(fps, 1), 50), " fps")
        self.first_frame_spin = _spin(1, last, 1)
        self.last_frame_spin = _spin(1, last, last)
        self.first_frame_spin.valueChanged.connect(self._on_first_frame_spin_changed)
        self.last_frame_spin.valueChanged.connect(self._on_last_frame_spin_changed)
        self.max_width_spin = _spin(MIN_GIF_WIDTH, 4096, DEFAULT_GIF_MAX_WIDTH, " px")
        self.max_width_spin.setToolTip("The three-pane strip is scaled down to at most this width")
        self.identifiers_check = QCheckBox("Include patient identifiers in the GIF header")
        self.identifiers_check.setChecked(False)
        self.identifiers_check.setEnabled(has_identifiers)
        self.identifiers_check.setToolTip(
            "Off by default: exports carry no patient identifiers unless you tick this"
            if has_identifiers
            else "This image has no patient identifiers"
        )

        self.keep_identity_check = QCheckBox(
            "File into the patient's study (keeps the patient's identifiers)"
        )
        self.keep_identity_check.setChecked(False)
        self.keep_identity_check.setEnabled(has_identifiers)
        self.keep_identity_check.setToolTip(
            "Off by default: the DICOM objects are de-identified (DICOM PS3.15 basic profile) "
            "and form a study of their own"
            if has_identifiers
            else "This image has no patient identity: its objects form a new study"
        )
        self.dicom_group = QGroupBox("DICOM")
        QVBoxLayout(self.dicom_group).addWidget(self.keep_identity_check)

        self.gif_group = QGroupBox("GIF")
        form = QFormLayout(self.gif_group)
        form.addRow("Frame rate", self.fps_spin)
        form.addRow("First frame", self.first_frame_spin)
        form.addRow("Last frame", self.last_frame_spin)
        form.addRow("Maximum width", self.max_width_spin)
        form.addRow(self.identifiers_check)

        note = QLabel("File names are fixed defaults; nothing is taken from the image's header.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.kind_combo)
        layout.addWidget(self.gif_group)
        layout.addWidget(self.dicom_group)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self._on_kind_combo_changed(self.kind_combo.currentIndex())

    @property
    def kind(self) -> ExportKind:
        return ExportKind(self.kind_combo.currentData())

    def set_kind(self, kind: ExportKind) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind.value))

    def request(self) -> ExportRequest:
        return ExportRequest(
            kind=self.kind,
            gif=GifExportOptions(
                fps=self.fps_spin.value(),
                first_frame=self.first_frame_spin.value() - 1,
                last_frame=self.last_frame_spin.value() - 1,
                max_width=self.max_width_spin.value(),
                include_identifiers=self.identifiers_check.isChecked(),
            ),
            keep_identity=self.keep_identity_check.isChecked(),
        )

    def _on_kind_combo_changed(self, _index: int) -> None:
        self.gif_group.setVisible(self.kind is ExportKind.GIF)
        self.dicom_group.setVisible(self.kind is ExportKind.DICOM)

    def _on_first_frame_spin_changed(self, value: int) -> None:
        if self.last_frame_spin.value() < value:
            self.last_frame_spin.setValue(value)

    def _on_last_frame_spin_changed(self, value: int) -> None:
        if self.first_frame_spin.value() > value:
            self.first_frame_spin.setValue(value)


def _spin(low: int, high: int, value: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin
