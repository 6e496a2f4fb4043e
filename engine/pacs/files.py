"""Files going to and coming from a PACS."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def staged_into(out: Path) -> Iterator[Path]:
    """A hidden temporary folder inside ``out`` to receive into. When the block succeeds its files
    move into ``out`` (replacing same-named ones); when it fails it is removed, and whatever
    ``out`` held before is untouched (a failed re-retrieval never deletes a good copy)."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for path in sorted(staging.iterdir()):
        os.replace(path, out / path.name)
    staging.rmdir()
