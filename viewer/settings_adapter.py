"""The one place where the viewer state meets the stored settings: the display options are
loaded from ``ViewerSettings`` when the window starts and each change is saved as it happens.

Every ``DisplayOptions`` field is stored under the ``ViewerSettings`` property of the same name,
which owns the key, the type and the default, and turns a damaged stored value into the default:
settings written by earlier versions load unchanged.
"""

from __future__ import annotations

from viewer.settings import ViewerSettings
from viewer.state import DisplayOptions

PERSISTED_FIELDS = DisplayOptions.field_names()


class SettingsAdapter:
    """Keeps ``options`` and ``settings`` in step once ``attach`` was called."""

    def __init__(self, settings: ViewerSettings, options: DisplayOptions) -> None:
        self._settings = settings
        self._options = options

    def load(self) -> None:
        """Set the options to the stored values (notifying their subscribers)."""
        stored = {field: getattr(self._settings, field) for field in PERSISTED_FIELDS}
        self._options.update(**stored)

    def save(self, fields: frozenset[str] | tuple[str, ...] = PERSISTED_FIELDS) -> None:
        for field in fields:
            setattr(self._settings, field, getattr(self._options, field))

    def attach(self) -> None:
        """Load the stored options, then save every later change. Loading saves nothing: a first
        launch leaves the defaults unwritten, as before."""
        self.load()
        self._options.events.changed.connect(self.save)
