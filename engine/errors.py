"""The engine's error hierarchy.

Every failure that reaches a user is one of these, with a one-line message a radiologist or
researcher can act on. Library code raises them; the CLI and the viewer print ``str(error)``.
"""

from __future__ import annotations


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


class InputError(EngineError):
    """A file or folder the user gave cannot be used (missing, unreadable, wrong kind)."""


class UnsupportedFormatError(InputError):
    """The file is not an image format we read (not DICOM, PNG, JPEG or TIFF)."""


class CorruptFileError(InputError):
    """The file claims a format but its content is malformed, truncated or inconsistent."""


class ImageTooLargeError(InputError):
    """The image declares more pixels or bytes than the documented decode budget allows."""


class MissingDecoderError(InputError):
    """The transfer syntax needs a decoder package that is not installed."""


class ModelError(EngineError):
    """A model bundle is missing, corrupt, unsafe (pickle) or does not match its checksum."""


class CancelledError(EngineError):
    """The caller's cancel event was set while the engine was working."""
