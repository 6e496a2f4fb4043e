"""The single entry point for reading a radiograph from disk.

Every failure leaves here as an ``InputError`` subclass with a one-line message: pydicom alone
raises many exception types on malformed files, codecs raise their own, Pillow raises others.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from concurrent.futures import Future
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from engine.errors import (
    CorruptFileError,
    ImageTooLargeError,
    InputError,
    UnsupportedFormatError,
)
from engine.io import isolation
from engine.io.limits import DecodeBudget
from engine.io.raster import read_raster
from engine.io.sniff import looks_like_raw_dicom, sniff_format
from engine.types import Radiograph, SourceFormat

log = logging.getLogger(__name__)

_HEAD_BYTES = 132


def load_radiograph(
    path: str | os.PathLike[str],
    budget: DecodeBudget | None = None,
    *,
    isolate: bool | None = None,
) -> Radiograph:
    """Read a DICOM, PNG, JPEG or TIFF radiograph.

    Raises ``InputError`` (or a subclass) with a one-line message for anything that cannot be
    shown; never any other exception type (``MemoryError`` becomes ``ImageTooLargeError``).
    ``isolate``: read DICOM files (header, codecs, modality values) in a separate, time- and
    memory-limited process, so a parser or codec crash or hang is a ``CorruptFileError`` (None:
    the process default, on unless turned off; see ``engine.io.isolation``).
    """
    budget = budget or DecodeBudget()
    file_path = Path(path)
    head = _read_head(file_path, budget)
    source = sniff_format(head)
    if source is None and looks_like_raw_dicom(head):
        source = SourceFormat.DICOM
    if source is None:
        raise UnsupportedFormatError("not a DICOM, PNG, JPEG or TIFF image")
    try:
        if source is SourceFormat.DICOM:
            if isolation.isolation_enabled() if isolate is None else isolate:
                return isolation.read_isolated(file_path, budget)
            from engine.io.dicom import read_dicom  # pydicom: only where the file is parsed

            return read_dicom(file_path, head, budget)
        return read_raster(file_path, source, budget)
    except InputError:
        raise
    except MemoryError as error:
        raise ImageTooLargeError("not enough memory to decode this image") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(
            "image decompresses beyond the pixel limit (decompression bomb)"
        ) from error
    except (UnidentifiedImageError, zlib.error, OSError, SyntaxError) as error:
        raise CorruptFileError(f"{source.value.upper()} file is damaged or truncated") from error
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # malformed-file exceptions of every kind end here, even
        # those of native extensions that derive from BaseException (Rust panics via pyo3)
        log.debug("load failed with %s", type(error).__name__, exc_info=True)
        raise CorruptFileError(
            f"{source.value.upper()} file is malformed ({type(error).__name__})"
        ) from error


def start_loading(
    path: str | os.PathLike[str], budget: DecodeBudget | None = None
) -> Future[Radiograph]:
    """``load_radiograph`` begun now in a background thread; ``result()`` gives the radiograph or
    raises its ``InputError``.

    For a command that has to import torch anyway: a DICOM file is read by the decoder process on
    the other core meanwhile while this thread only waits on a pipe, so the read drops off the
    critical path (docs/benchmarks.md).
    """
    future: Future[Radiograph] = Future()

    def read() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(load_radiograph(path, budget))
        except BaseException as error:  # handed to result()'s caller, as if it were synchronous
            future.set_exception(error)

    threading.Thread(target=read, name="radiograph-reader", daemon=True).start()
    return future


def _read_head(path: Path, budget: DecodeBudget) -> bytes:
    try:
        if path.is_dir():
            raise InputError("is a folder, not an image file")
        size = path.stat().st_size
        if size == 0:
            raise CorruptFileError("file is empty")
        if size > budget.max_file_bytes:
            raise ImageTooLargeError(
                f"file of {size / 2**20:.0f} MB exceeds the file size limit "
                f"({budget.max_file_bytes / 2**20:.0f} MB)"
            )
        with path.open("rb") as stream:
            return stream.read(_HEAD_BYTES)
    except FileNotFoundError as error:
        raise InputError("file not found") from error
    except PermissionError as error:
        raise InputError("permission denied reading the file") from error
    except OSError as error:
        raise InputError(
            f"cannot read the file ({error.strerror or type(error).__name__})"
        ) from error
