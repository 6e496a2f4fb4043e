"""Decode the first frame of DICOM pixel data with the fastest available plugin.

pydicom finds decoder plugins lazily; a missing one is reported with the package to install
instead of failing at import. The preference order comes from ``benchmarks/bench_loading.py``
(results in ``docs/benchmarks.md``).
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
from pydicom.dataset import FileDataset
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from engine.errors import CorruptFileError, MissingDecoderError, UnsupportedFormatError
from engine.io.dicom_header import PixelLayout

log = logging.getLogger(__name__)

# Plugins tried in this order (fastest first, measured); pydicom's own choice is the fallback.
PLUGIN_PREFERENCE: dict[UID, tuple[str, ...]] = {
    JPEG2000Lossless: ("gdcm", "pylibjpeg"),
    JPEG2000: ("pylibjpeg", "gdcm"),
    HTJ2K: ("pylibjpeg",),
    HTJ2KLossless: ("pylibjpeg",),
    HTJ2KLosslessRPCL: ("pylibjpeg",),
    RLELossless: ("pylibjpeg", "pydicom"),
    JPEGLosslessSV1: ("gdcm",),
    JPEGLossless: ("gdcm",),
    JPEGLSLossless: ("gdcm",),
    JPEGLSNearLossless: ("gdcm",),
    JPEGBaseline8Bit: ("gdcm", "pillow"),
    JPEGExtended12Bit: ("gdcm",),
}

# What to install when a transfer syntax has no usable plugin.
PACKAGE_HINT: dict[UID, str] = {
    JPEG2000Lossless: "pylibjpeg-openjpeg",
    JPEG2000: "pylibjpeg-openjpeg",
    HTJ2K: "pylibjpeg-openjpeg",
    HTJ2KLossless: "pylibjpeg-openjpeg",
    HTJ2KLosslessRPCL: "pylibjpeg-openjpeg",
    RLELossless: "pylibjpeg-rle",
    JPEGLosslessSV1: "python-gdcm",
    JPEGLossless: "python-gdcm",
    JPEGLSLossless: "python-gdcm",
    JPEGLSNearLossless: "python-gdcm",
    JPEGBaseline8Bit: "Pillow or python-gdcm",
    JPEGExtended12Bit: "python-gdcm",
}


def check_decoder(layout: PixelLayout) -> tuple[str, ...]:
    """The plugins to try for ``layout``, fastest first; refuse what no installed one decodes."""
    syntax = layout.transfer_syntax
    decoder = get_decoder(syntax)
    if decoder is None:
        raise UnsupportedFormatError(f"DICOM transfer syntax {_name(syntax)} is not supported")
    if not decoder.is_available:
        hint = PACKAGE_HINT.get(syntax, "a pydicom pixel data plugin")
        raise MissingDecoderError(
            f"no decoder installed for DICOM transfer syntax {_name(syntax)}: install {hint}"
        )
    if syntax == JPEGExtended12Bit and layout.bits_stored > 8:
        # Only pylibjpeg-libjpeg decodes 12-bit JPEG; it is GPL, so we do not distribute it.
        raise MissingDecoderError(
            "12-bit JPEG Extended DICOM needs pylibjpeg-libjpeg (GPL, not bundled): "
            "convert the file to JPEG 2000 or uncompressed"
        )
    available = decoder.available_plugins
    return tuple(name for name in PLUGIN_PREFERENCE.get(syntax, ()) if name in available) or ("",)


def decode_first_frame(dataset: FileDataset, layout: PixelLayout) -> npt.NDArray[np.generic]:
    """Return frame 0 as decoded by pydicom: (rows, columns) or (rows, columns, 3) for colour."""
    syntax = layout.transfer_syntax
    plugins = check_decoder(layout)
    index = 0 if layout.number_of_frames > 1 else None
    failures: list[str] = []
    for plugin in plugins:
        try:
            return pixel_array(dataset, index=index, decoding_plugin=plugin)
        except (MemoryError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # codecs raise anything (pylibjpeg-rle: a Rust panic,
            # which is a BaseException; found by fuzz/fuzz_loader.py); reported below
            log.debug("decoder plugin %r failed: %s", plugin or "default", type(error).__name__)
            failures.append(f"{plugin or 'default'}: {type(error).__name__}")
    raise CorruptFileError(
        f"could not decode DICOM pixel data ({_name(syntax)}; {', '.join(failures)})"
    )


def _name(syntax: UID) -> str:
    return syntax.name if syntax.is_valid and syntax.name != str(syntax) else f"UID {syntax}"
