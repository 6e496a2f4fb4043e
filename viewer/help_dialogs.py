"""Help > Keyboard Shortcuts and Help > About, each made on first use and kept."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from viewer.about_dialog import AboutDialog
from viewer.shortcuts_dialog import ShortcutsDialog
from viewer.state import ViewerState


class HelpDialogs(QObject):
    """The About dialog names the models of ``state``'s explanation (``models_dir``: the folder
    whose model cards it shows); ``app_name`` and ``notice`` head it."""

    def __init__(
        self,
        parent: QWidget,
        state: ViewerState,
        models_dir: Path | None,
        *,
        app_name: str,
        notice: str,
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._state = state
        self._models_dir = models_dir
        self._app_name = app_name
        self._notice = notice
        self.about_dialog: AboutDialog | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None

    def show_shortcuts(self) -> None:
        """Help > Keyboard Shortcuts (? or F1): every key the window binds, and the mouse map."""
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self._parent)
        self.shortcuts_dialog.open()

    def show_about(self) -> None:
        """Help > About: the research-use notice and the model cards."""
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(
                app_name=self._app_name,
                notice=self._notice,
                models_dir=self._models_dir,
                parent=self._parent,
            )
        shown = self._state.explanation
        self.about_dialog.set_models_in_use(shown.model_name if shown is not None else None)
        self.about_dialog.open()

    def show_models_in_use(self) -> None:
        """An explanation was shown: an About dialog made already names its models."""
        shown = self._state.explanation
        if self.about_dialog is not None and shown is not None:
            self.about_dialog.set_models_in_use(shown.model_name)
