"""The one error a PACS operation raises."""

from __future__ import annotations

from engine.errors import EngineError


class PacsError(EngineError):
    """A PACS could not be reached, or refused or failed a request (one-line message)."""
