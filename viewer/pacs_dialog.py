"""File > Open from PACS: where the PACS is, a filtered study list, and Retrieve.

The dialog only collects and shows: the window runs every query and retrieval on its worker
(``MainWindow.search_pacs`` / ``retrieve_study``) and hands the answers back, so nothing here
touches the network or blocks the interface. The server definition is remembered in the settings;
it holds no password (DIMSE has none; a DICOMweb URL with credentials in it is refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from engine.api import StudySummary

COLUMNS = ("Patient", "Patient ID", "Date", "Modalities", "Description", "Images")


class Protocol(StrEnum):
    DIMSE = "DICOM (C-FIND / C-GET)"
    DICOMWEB = "DICOMweb (QIDO / WADO)"


@dataclass(frozen=True, slots=True)
class PacsServerSpec:
    """What the user typed; the window turns it into an engine server on the worker."""

    protocol: Protocol = Protocol.DIMSE
    host: str = "localhost"
    port: int = 4242
    called_aet: str = "ORTHANC"
    calling_aet: str = "CXREXPLAIN"
    url: str = "http://localhost:8042/dicom-web"

    def problem(self) -> str | None:
        """Why this definition cannot be used, or None."""
        if self.protocol is Protocol.DIMSE:
            if not self.host.strip():
                return "enter the PACS host"
            if not self.called_aet.strip() or not self.calling_aet.strip():
                return "enter both AE titles"
            return None
        if not self.url.startswith(("http://", "https://")):
            return "the DICOMweb URL must start with http:// or https://"
        if "@" in self.url.split("//", 1)[1].split("/", 1)[0]:
            return "credentials in the URL are not stored; use a URL without user:password@"
        return None


class PacsDialog(QDialog):
    """Signals: ``search_requested(spec, filters)``, ``retrieve_requested(spec, study_uid)``."""

    search_requested = Signal(object, object)
    retrieve_requested = Signal(object, str)

    def __init__(self, spec: PacsServerSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open from PACS")
        self.resize(820, 460)
        self.protocol_combo = QComboBox()
        for protocol in Protocol:
            self.protocol_combo.addItem(protocol.value, protocol.name)
        self.host_edit = QLineEdit(spec.host)
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(spec.port)
        self.called_edit = QLineEdit(spec.called_aet)
        self.calling_edit = QLineEdit(spec.calling_aet)
        for edit in (self.called_edit, self.calling_edit):
            edit.setMaxLength(16)
        self.url_edit = QLineEdit(spec.url)
        self.patient_filter = QLineEdit()
        self.patient_filter.setPlaceholderText("Patient ID (wildcards * ?)")
        self.date_filter = QLineEdit()
        self.date_filter.setPlaceholderText("YYYYMMDD or YYYYMMDD-YYYYMMDD")
        self.modality_filter = QLineEdit()
        self.modality_filter.setPlaceholderText("e.g. CR")
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self._on_search_button_clicked)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self._on_retrieve_button_clicked())
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.retrieve_button = self.buttons.addButton(
            "Retrieve and Open", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.retrieve_button.setEnabled(False)
        self.retrieve_button.clicked.connect(self._on_retrieve_button_clicked)
        self.buttons.rejected.connect(self.reject)

        server = QFormLayout()
        server.addRow("Protocol", self.protocol_combo)
        server.addRow("Host", self.host_edit)
        server.addRow("Port", self.port_spin)
        server.addRow("PACS AE title", self.called_edit)
        server.addRow("Our AE title", self.calling_edit)
        server.addRow("DICOMweb URL", self.url_edit)
        filters = QHBoxLayout()
        for widget in (self.patient_filter, self.date_filter, self.modality_filter):
            filters.addWidget(widget)
        filters.addWidget(self.search_button)
        layout = QVBoxLayout(self)
        layout.addLayout(server)
        layout.addLayout(filters)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self._studies: list[StudySummary] = []
        self.protocol_combo.currentIndexChanged.connect(self._on_protocol_combo_changed)
        self.protocol_combo.setCurrentIndex(self.protocol_combo.findData(spec.protocol.name))
        self._on_protocol_combo_changed(self.protocol_combo.currentIndex())

    def spec(self) -> PacsServerSpec:
        return PacsServerSpec(
            protocol=Protocol[self.protocol_combo.currentData()],
            host=self.host_edit.text().strip(),
            port=self.port_spin.value(),
            called_aet=self.called_edit.text().strip(),
            calling_aet=self.calling_edit.text().strip(),
            url=self.url_edit.text().strip(),
        )

    def filters(self) -> dict[str, str]:
        chosen = {
            "PatientID": self.patient_filter.text().strip(),
            "StudyDate": self.date_filter.text().strip(),
            "ModalitiesInStudy": self.modality_filter.text().strip().upper(),
        }
        return {keyword: value for keyword, value in chosen.items() if value}

    def show_studies(self, studies: list[StudySummary]) -> None:
        """The answer of a search (the window calls this on the GUI thread)."""
        self._studies = list(studies)
        self.table.setRowCount(len(studies))
        for row, study in enumerate(studies):
            values = (
                study.patient_name.replace("^", " "),
                study.patient_id,
                _date(study.study_date),
                study.modalities,
                study.description,
                "" if study.instances is None else str(study.instances),
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, study.study_uid)
                self.table.setItem(row, column, item)
        self.set_busy(False)
        self.show_message(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} found")

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def set_busy(self, busy: bool) -> None:
        self.search_button.setEnabled(not busy)
        self.retrieve_button.setEnabled(not busy and self.selected_study() is not None)

    def selected_study(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _on_protocol_combo_changed(self, _index: int) -> None:
        dimse = Protocol[self.protocol_combo.currentData()] is Protocol.DIMSE
        for widget in (self.host_edit, self.port_spin, self.called_edit, self.calling_edit):
            widget.setEnabled(dimse)
        self.url_edit.setEnabled(not dimse)

    def _on_search_button_clicked(self) -> None:
        spec = self.spec()
        problem = spec.problem()
        if problem is not None:
            self.show_message(f"Cannot search: {problem}")
            return
        self.set_busy(True)
        self.show_message("Searching…")
        self.search_requested.emit(spec, self.filters())

    def _on_table_selection_changed(self) -> None:
        self.retrieve_button.setEnabled(self.selected_study() is not None)

    def _on_retrieve_button_clicked(self) -> None:
        study = self.selected_study()
        if study is None:
            return
        self.set_busy(True)
        self.show_message("Retrieving… (Cancel in the window's status bar stops it)")
        self.retrieve_requested.emit(self.spec(), study)


def _date(value: str) -> str:
    return (
        f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
    )
