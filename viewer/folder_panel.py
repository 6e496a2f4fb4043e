"""The study browser: the files of an opened folder grouped by study and series, with thumbnails.

The folder is listed first, with its subfolders (fast: names only, under "Scanning"); then the
main window describes each file on the worker (``study_browser.describe_image``) and hands the
entries here one by one, so the tree fills in while the UI stays responsive. DICOM files group by
study and series wherever they lie; other images group by the subfolder they are in (the class
folders ``healthy/`` and ``pneumoconiosis/`` that ``cxr-explain phantoms`` writes). Activating a
file row opens it.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from viewer.study_browser import BrowserEntry, Group, Thumbnail

_PATH_ROLE = Qt.ItemDataRole.UserRole
_TITLE_ROLE = Qt.ItemDataRole.UserRole + 1  # a group's title without its count
SCANNING_TITLE = "Scanning…"
OTHER_TITLE = "Other images"
UNREADABLE_TITLE = "Not readable"
ICON_SIZE = 64


# Folders of a dataset that hold no radiographs: the phantoms' masks and lesion maps (images the
# loader would happily open, and a reader would mistake for radiographs).
SKIPPED_FOLDERS = frozenset({"masks", "lesions"})
# Files that are never radiographs: manifests, notes, configuration. Other files are offered to
# the loader, which sniffs the format (DICOM files often have no extension).
SKIPPED_SUFFIXES = frozenset(
    {".csv", ".json", ".txt", ".md", ".log", ".ini", ".yaml", ".yml", ".xml", ".html", ".pdf"}
)
SKIPPED_NAMES = frozenset({"dicomdir"})  # a DICOM media index, not an image
MAX_DEPTH = 4  # subfolder levels below the opened folder (study/series/instance and one more)
MAX_FILES = 5000  # a folder opened by mistake (a home folder) must not take hours to describe


def list_image_candidates(folder: Path) -> list[Path]:
    """The files of ``folder`` and its subfolders that may be radiographs: root files first,
    then each subfolder's, sorted by name; hidden entries, ``SKIPPED_FOLDERS`` and non-image
    files (manifests) left out; symbolic links to folders not followed. Runs on the worker."""
    found: list[Path] = []
    for root, folders, files in os.walk(folder):
        here = Path(root)
        depth = len(here.relative_to(folder).parts)
        # Pruned in place: os.walk then does not descend into them.
        folders[:] = [
            name
            for name in folders
            if depth < MAX_DEPTH
            and not name.startswith(".")
            and name.lower() not in SKIPPED_FOLDERS
        ]
        found += [here / name for name in files if _may_be_image(here / name)]
        if len(found) >= MAX_FILES:
            break
    return sorted(found, key=lambda path: _listing_key(folder, path))[:MAX_FILES]


def _may_be_image(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.lower() in SKIPPED_NAMES:
        return False
    return path.suffix.lower() not in SKIPPED_SUFFIXES and path.is_file()


def _listing_key(folder: Path, path: Path) -> tuple[int, tuple[str, ...]]:
    parts = path.relative_to(folder).parts
    return len(parts) > 1, tuple(part.lower() for part in parts)


def thumbnail_icon(pixels: Thumbnail) -> QIcon:
    """A grayscale icon from an (h, w) uint8 thumbnail (GUI thread: QPixmap)."""
    height, width = pixels.shape
    image = QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8)
    return QIcon(QPixmap.fromImage(image.copy()))  # copy: the numpy buffer is not kept alive


class FolderPanel(QWidget):
    """A tree: study > series > file (PNG and friends under "Other images")."""

    file_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder_label = QLabel("No folder open")
        self.folder_label.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.tree.itemActivated.connect(self._on_tree_item_activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.tree, 1)
        self._files: dict[str, QTreeWidgetItem] = {}
        self._studies: dict[str, QTreeWidgetItem] = {}
        self._series: dict[tuple[str, str], QTreeWidgetItem] = {}
        self._fixed: dict[Group, QTreeWidgetItem] = {}
        self._others: dict[str, QTreeWidgetItem] = {}  # non-DICOM images by relative folder
        self._folder: Path | None = None
        self._scanning: QTreeWidgetItem | None = None

    def set_folder(self, folder: Path, files: list[Path]) -> None:
        """List ``files`` under "Scanning…" until their entries arrive."""
        self.folder_label.setText(f"{folder.name or folder} — {len(files)} files")
        self.folder_label.setToolTip(str(folder))
        self.tree.clear()
        self._folder = folder
        self._files.clear()
        self._studies.clear()
        self._series.clear()
        self._fixed.clear()
        self._others.clear()
        self._scanning = QTreeWidgetItem([SCANNING_TITLE]) if files else None
        if self._scanning is not None:
            self.tree.addTopLevelItem(self._scanning)
            for path in files:
                item = QTreeWidgetItem([path.name])
                item.setData(0, _PATH_ROLE, str(path))
                item.setToolTip(0, self._relative(path))
                self._scanning.addChild(item)
                self._files[str(path)] = item
            self._scanning.setExpanded(True)

    def add_entry(self, entry: BrowserEntry) -> None:
        """Move ``entry``'s row into its study/series group, with its thumbnail."""
        item = self._files.get(str(entry.path))
        if item is None:  # an entry of a folder that is no longer shown
            return
        parent = item.parent()
        if parent is not None:
            parent.removeChild(item)
        group = self._group_item(entry)
        group.addChild(item)
        group.setExpanded(True)
        if entry.thumbnail is not None and entry.thumbnail.size:
            item.setIcon(0, thumbnail_icon(entry.thumbnail))
        relative = self._relative(entry.path)
        if entry.error is not None:
            item.setToolTip(0, f"{relative}: {entry.error}")
        else:
            item.setText(0, f"{entry.path.name}\n{entry.description}")
            item.setToolTip(0, f"{relative} — {entry.description}")
        self._update_counts()
        self._drop_empty_scanning()

    def finish_scan(self) -> None:
        self._drop_empty_scanning()

    # Queries (tests, status messages).
    def file_count(self) -> int:
        return len(self._files)

    def file_names(self) -> list[str]:
        """File names in tree order (groups in order of appearance)."""
        names: list[str] = []
        for item in self._top_level_items():
            names += _leaf_names(item)
        return names

    def group_titles(self) -> list[str]:
        return [item.text(0) for item in self._top_level_items()]

    def _top_level_items(self) -> list[QTreeWidgetItem]:
        count = self.tree.topLevelItemCount()
        items = (self.tree.topLevelItem(index) for index in range(count))
        return [item for item in items if item is not None]

    def file_item(self, name: str) -> QTreeWidgetItem | None:
        for path, item in self._files.items():
            if Path(path).name == name:
                return item
        return None

    def thumbnail_count(self) -> int:
        return sum(1 for item in self._files.values() if not item.icon(0).isNull())

    # Groups.
    def _group_item(self, entry: BrowserEntry) -> QTreeWidgetItem:
        if entry.group is Group.OTHER:
            return self._other_item(self._relative(entry.path.parent))
        if entry.group is not Group.STUDY:
            return self._fixed_item(entry.group)
        study = self._studies.get(entry.study_key)
        if study is None:
            study = self._top_level(f"Study {len(self._studies) + 1}", len(self._studies))
            self._studies[entry.study_key] = study
        key = (entry.study_key, entry.series_key)
        series = self._series.get(key)
        if series is None:
            number = sum(1 for study_key, _ in self._series if study_key == entry.study_key) + 1
            series = QTreeWidgetItem([f"Series {number}"])
            study.addChild(series)
            study.setExpanded(True)
            self._series[key] = series
        return series

    def _other_item(self, folder: str) -> QTreeWidgetItem:
        """The group of the non-DICOM images in ``folder`` (relative; "" = the opened folder)."""
        item = self._others.get(folder)
        if item is None:
            # Studies first, then the other images by folder, then "Not readable", "Scanning".
            position = len(self._studies) + len(self._others)
            item = self._top_level(folder or OTHER_TITLE, position)
            self._others[folder] = item
        return item

    def _fixed_item(self, group: Group) -> QTreeWidgetItem:
        item = self._fixed.get(group)
        if item is None:
            position = len(self._studies) + len(self._others) + len(self._fixed)
            item = self._top_level(UNREADABLE_TITLE, position)
            self._fixed[group] = item
        return item

    def _relative(self, path: Path) -> str:
        """``path`` relative to the opened folder, with "/" ("" for the folder itself)."""
        if self._folder is None:
            return path.name
        try:
            relative = path.relative_to(self._folder)
        except ValueError:
            return path.name
        return relative.as_posix() if relative.parts else ""

    def _top_level(self, title: str, position: int) -> QTreeWidgetItem:
        item = QTreeWidgetItem([title])
        item.setData(0, _TITLE_ROLE, title)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
        self.tree.insertTopLevelItem(position, item)
        return item

    def _update_counts(self) -> None:
        for group in [*self._studies.values(), *self._others.values(), *self._fixed.values()]:
            title = str(group.data(0, _TITLE_ROLE))
            count = len(_leaf_names(group))
            group.setText(0, f"{title} ({count} image{'s' if count != 1 else ''})")

    def _drop_empty_scanning(self) -> None:
        if self._scanning is not None and self._scanning.childCount() == 0:
            index = self.tree.indexOfTopLevelItem(self._scanning)
            if index >= 0:
                self.tree.takeTopLevelItem(index)
            self._scanning = None

    def _on_tree_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        path = item.data(0, _PATH_ROLE)
        if path:
            self.file_activated.emit(str(path))


def _leaf_names(item: QTreeWidgetItem) -> list[str]:
    path = item.data(0, _PATH_ROLE)
    if path:
        return [Path(str(path)).name]
    names: list[str] = []
    for index in range(item.childCount()):
        child = item.child(index)
        if child is not None:
            names += _leaf_names(child)
    return names
