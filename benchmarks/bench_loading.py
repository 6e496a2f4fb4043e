"""Loading benchmark: a 2000 x 2000 CR in each encoding, decode time and the rest of the pipeline.

Run: ``.venv/bin/python benchmarks/bench_loading.py`` (or ``make bench``). Prints a Markdown
table; results are recorded in docs/benchmarks.md. Targets (2-core CPU): pipeline after decoding
< 100 ms; a lossless JPEG 2000 CR displayable in < 1 s. Every available decoder plugin is timed
so ``engine/io/dicom_decode.PLUGIN_PREFERENCE`` can put the fastest first. A last table gives the
time that decoding in the isolated decoder process adds (compressed files and the sample).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from engine.io import load_radiograph
from engine.resources import sample_radiograph_path

SIZE = 2000


def _base_dataset() -> pydicom.Dataset:
    """A real CR (pydicom-data RG1, 1955 x 1841, 15-bit) padded to SIZE x SIZE."""
    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    pixels = ds.pixel_array
    canvas = np.zeros((SIZE, SIZE), dtype=np.uint16)
    canvas[: pixels.shape[0], : pixels.shape[1]] = pixels[:SIZE, :SIZE]
    ds.Rows, ds.Columns = canvas.shape
    ds.PixelData = canvas.tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _write(ds: pydicom.Dataset, syntax: UID, path: Path) -> Path | None:
    copy = pydicom.dcmread(_to_bytes(ds), force=True)
    try:
        if syntax in (ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian):
            copy.file_meta.TransferSyntaxUID = syntax
        elif syntax == JPEG2000:
            copy.compress(syntax, j2k_psnr=[60.0])
        elif syntax in (JPEG2000Lossless, RLELossless):
            copy.compress(syntax)
        else:
            return _gdcm_transcode(ds, syntax, path)
        copy.save_as(path, enforce_file_format=True)
        return path
    except Exception as error:  # an encoder missing here only drops a row from the table
        print(f"skip {syntax.name}: {type(error).__name__}: {error}")
        return None


def _gdcm_transcode(ds: pydicom.Dataset, syntax: UID, path: Path) -> Path | None:
    import gdcm

    source = path.with_suffix(".src.dcm")
    ds.save_as(source, enforce_file_format=True)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    if not reader.Read():
        return None
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(str(syntax))))
    change.SetInput(reader.GetImage())
    if not change.Change():
        return None
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(path))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    return path if writer.Write() else None


def _to_bytes(ds: pydicom.Dataset):
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return buffer


def _median_seconds(action: Callable[[], object], repeats: int) -> float:
    action()  # warm caches and lazy plugin imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-isolation", action="store_true", help="skip the decoder isolation table"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    base = _base_dataset()
    syntaxes = [
        ExplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
        RLELossless,
        JPEG2000Lossless,
        JPEG2000,
        JPEGLosslessSV1,
        JPEGLSLossless,
    ]
    print(
        f"# Loading benchmark: {SIZE} x {SIZE} CR (pydicom-data RG1, 15-bit), median of "
        f"{args.repeats}\n"
    )
    print(
        "| encoding | file MB | decoder plugin | decode ms | pipeline without decode ms "
        "| load + display ms |"
    )
    print("|---|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        compressed: list[Path] = []
        for syntax in syntaxes:
            path = _write(base, syntax, Path(folder) / f"{syntax.name[:20]}.dcm")
            if path is None:
                continue
            if syntax.is_compressed:
                compressed.append(path)
            size_mb = path.stat().st_size / 2**20
            dataset = pydicom.dcmread(path)
            decoder = get_decoder(syntax)
            plugins = decoder.available_plugins if decoder and syntax.is_compressed else ("",)
            decode_times = {}
            for plugin in plugins:
                try:
                    decode_times[plugin] = _median_seconds(
                        lambda plugin=plugin, ds=dataset: pixel_array(ds, decoding_plugin=plugin),
                        args.repeats,
                    )
                except Exception as error:  # a plugin that cannot decode this file
                    print(f"<!-- {syntax.name} {plugin}: {type(error).__name__} -->")
            total = _median_seconds(lambda path=path: load_radiograph(path).display(), args.repeats)
            after = _pipeline_without_decode(path, args.repeats)
            for rank, (plugin, seconds) in enumerate(
                sorted(decode_times.items(), key=lambda item: item[1])
            ):
                extra = f"{after * 1000:.0f} | {total * 1000:.0f}" if rank == 0 else " | "
                print(
                    f"| {syntax.name} | {size_mb:.1f} | {plugin or 'native'} "
                    f"| {seconds * 1000:.0f} | {extra} |"
                )
        if not args.no_isolation:
            _isolation_rows(compressed, args.repeats)


def _pipeline_without_decode(path: Path, repeats: int) -> float:
    """Everything but the codec: header, validation, modality, VOI presets, display."""
    from engine.io import dicom as dicom_module

    decoded = pixel_array(pydicom.dcmread(path))
    original = dicom_module.decode_first_frame
    dicom_module.decode_first_frame = lambda dataset, layout: decoded  # type: ignore[assignment]
    try:
        return _median_seconds(lambda: load_radiograph(path, isolate=False).display(), repeats)
    finally:
        dicom_module.decode_first_frame = original


def _isolation_rows(paths: list[Path], repeats: int) -> None:
    """What decoding in the isolated decoder process adds (engine/io/isolation.py)."""
    from engine.io import isolation

    print("\n## Decoder isolation\n")
    isolation.shutdown()
    sample = sample_radiograph_path()
    start = time.perf_counter()
    load_radiograph(sample, isolate=True)
    cold = time.perf_counter() - start
    print(f"First isolated load of the sample (starts the decoder process): {cold * 1000:.0f} ms\n")
    print("| file | in-process load ms | isolated load ms | added ms |")
    print("|---|---:|---:|---:|")
    for path in [sample, *paths]:
        inside = _median_seconds(lambda path=path: load_radiograph(path, isolate=False), repeats)
        isolated = _median_seconds(lambda path=path: load_radiograph(path, isolate=True), repeats)
        name = "sample_cxr.dcm (1024 x 1024)" if path == sample else path.stem
        print(
            f"| {name} | {inside * 1000:.0f} | {isolated * 1000:.0f} "
            f"| {(isolated - inside) * 1000:+.0f} |"
        )


if __name__ == "__main__":
    main()
