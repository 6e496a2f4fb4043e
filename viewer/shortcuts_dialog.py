"""Help > Keyboard Shortcuts (also ``?`` and F1): the shortcut table and the mouse map."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.shortcuts import MOUSE_BINDINGS, SHORTCUTS, key_sequences, key_text

_KEYS_COLUMN = 0
_GROUP_COLUMN = 2
_KEY_SEPARATOR = ", "
MOUSE_GROUP = "Mouse (image panes)"


class ShortcutsDialog(QDialog):
    """One row per shortcut of ``viewer.shortcuts.SHORTCUTS``, by group, then the mouse map."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 620)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(("Keys", "Action", "Menu"))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for shortcut in SHORTCUTS:
            keys = _KEY_SEPARATOR.join(key_text(sequence) for sequence in key_sequences(shortcut))
            self._add_row(keys, shortcut.description, shortcut.group.value)
        for gesture, meaning in MOUSE_BINDINGS:
            self._add_row(gesture, meaning, MOUSE_GROUP)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def listed_keys(self) -> set[str]:
        """Every key sequence the table shows, as native text, read back from its cells."""
        keys: set[str] = set()
        for row in range(self.table.rowCount()):
            group, cell = self.table.item(row, _GROUP_COLUMN), self.table.item(row, _KEYS_COLUMN)
            if group is not None and cell is not None and group.text() != MOUSE_GROUP:
                keys.update(cell.text().split(_KEY_SEPARATOR))
        return keys

    def _add_row(self, keys: str, action: str, group: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, text in enumerate((keys, action, group)):
            self.table.setItem(row, column, QTableWidgetItem(text))
