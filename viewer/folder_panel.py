"""The files of an opened folder, one per row; activating a row opens it.

A first cut: a flat listing. Grouping by patient/study/series (read from DICOM headers on the
worker) is the next step.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

_PATH_ROLE = Qt.ItemDataRole.UserRole


def list_image_candidates(folder: Path) -> list[Path]:
    """Visible regular files of ``folder``, sorted by name. The loader sniffs the format, so
    extensionless DICOM files are included. Runs on the worker."""
    files = (entry for entry in folder.iterdir() if entry.is_file())
    return sorted((entry for entry in files if not entry.name.startswith(".")), key=_name_key)


def _name_key(path: Path) -> str:
    return path.name.lower()


class FolderPanel(QWidget):
    """A list of the files in one folder."""

    file_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder_label = QLabel("No folder open")
        self.folder_label.setWordWrap(True)
        self.list = QListWidget()
        self.list.itemActivated.connect(self._on_list_item_activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.list, 1)

    def set_folder(self, folder: Path, files: list[Path]) -> None:
        self.folder_label.setText(f"{folder.name or folder} — {len(files)} files")
        self.folder_label.setToolTip(str(folder))
        self.list.clear()
        for path in files:
            item = QListWidgetItem(path.name)
            item.setData(_PATH_ROLE, str(path))
            item.setToolTip(str(path))
            self.list.addItem(item)

    def file_count(self) -> int:
        return self.list.count()

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.file_activated.emit(str(item.data(_PATH_ROLE)))
