"""Files going to and coming from a PACS."""

from __future__ import annotations

import re
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset

from engine.pacs.errors import PacsError


def instance_file_name(uid: str) -> str:
    """A received instance's file name from its UID: digits and dots only, so a hostile server
    cannot name a path."""
    cleaned = re.sub(r"[^0-9.]", "_", uid)[:64].strip(".")
    return f"{cleaned or 'instance'}.dcm"


def read_for_sending(path: Path) -> Dataset:
    """A DICOM file to store, or :class:`PacsError` naming the file that is not one."""
    try:
        return dcmread(path)
    except Exception as error:  # pydicom raises many kinds for a file that is not DICOM
        raise PacsError(f"{path.name} is not a DICOM file ({type(error).__name__})") from None
