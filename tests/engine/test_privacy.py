"""Every output made from a DICOM with fake identifiers is free of them, byte for byte.

``tests/engine/explain/test_cli_explain.py`` checks the raw UTF-8 bytes of ``explain``'s files;
this test adds ``batch`` and the CLI's own output, other encodings (UTF-16, Latin-1), the text
inside compressed containers (PNG text chunks and zlib streams, GIF comments and application
blocks, TIFF tags) and the output file names.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import main
from engine.io import load_radiograph
from engine.testing import fake_dicom, write_tiny_models

IDENTITY = {
    "PatientName": "PRIVACYTEST^JANE^Q",
    "PatientID": "PID-7316402",
    "OtherPatientIDs": "OTHERID-55821",
    "PatientBirthDate": "19330517",
    "PatientAddress": "12 Nowhere Lane Faketown",
    "PatientTelephoneNumbers": "+44 20 7946 0321",
    "AccessionNumber": "ACCN-660193",
    "StudyID": "STUDY-48213",
    "StudyDate": "20190312",
    "StudyTime": "101112",
    "StudyDescription": "CHEST PA Privacytest Protocol",
    "InstitutionName": "Imaginary Royal Infirmary",
    "ReferringPhysicianName": "REFERRER^FAKE",
    "OperatorsName": "OPERATOR^FAKE",
    "StationName": "XRAYSTATION77",
    "DeviceSerialNumber": "SERIAL-90417",
    "StudyInstanceUID": "1.2.826.0.1.3680043.9.7316.1.42",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.9.7316.2.42",
}
# Inputs are named neutrally: the test is about what the header leaks, not what the user named.
SOURCE_NAME = "image_a.dcm"


def _needles(dicom: Path) -> list[str]:
    """Every identifying value the loader sees (the planted ones plus generated UIDs)."""
    values = set(load_radiograph(dicom).identity.values())
    assert set(IDENTITY.values()) <= values
    needles = set()
    for value in values:
        needles.add(value)
        # Person names also by component (a writer may reformat "FAMILY^GIVEN").
        needles.update(part for part in value.split("^") if len(part) >= 5)
    return sorted(n for n in needles if len(n) >= 5)


def _write_dicom(path: Path, seed: int) -> Path:
    rows, columns = np.mgrid[0:48, 0:40]
    rng = np.random.default_rng(seed)
    pixels = 1000 + 2000 * (np.hypot(rows - 24, columns - 20) > 12) + rng.integers(0, 50, (48, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset = fake_dicom(pixels.astype(np.uint16), IDENTITY, BitsStored=12, HighBit=11)
    dataset.save_as(path, enforce_file_format=True)
    return path


def _encodings(text: str) -> list[bytes]:
    out = []
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "latin-1"):
        try:
            out.append(text.encode(encoding))
        except UnicodeEncodeError:
            continue
    # Case-folded forms, too: a writer may upper- or lower-case names.
    out += [text.upper().encode(), text.lower().encode()]
    return out


def _png_texts(data: bytes) -> list[bytes]:
    """Decompressed PNG chunks: tEXt, zTXt, iTXt, eXIf and the zlib stream of IDAT."""
    texts, idat = [], b""
    position = 8
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"tEXt" or kind == b"eXIf":
            texts.append(body)
        elif kind == b"zTXt":
            keyword, _, rest = body.partition(b"\0")
            texts.append(keyword + zlib.decompress(rest[1:]))
        elif kind == b"iTXt":
            keyword, _, rest = body.partition(b"\0")
            compressed = rest[0] == 1
            fields = rest[2:].split(b"\0", 2)
            payload = fields[2] if len(fields) == 3 else b""
            texts.append(keyword + b" ".join(fields[:2]))
            texts.append(zlib.decompress(payload) if compressed else payload)
        elif kind == b"IDAT":
            idat += body
    if idat:
        texts.append(zlib.decompress(idat))
    return texts


def _gif_texts(data: bytes) -> list[bytes]:
    """GIF comment and application extension blocks, and what Pillow reports as metadata."""
    texts = []
    for marker in (b"\x21\xfe", b"\x21\xff", b"\x21\x01"):
        start = 0
        while (start := data.find(marker, start)) >= 0:
            position, block = start + 2, b""
            while position < len(data) and data[position] != 0:
                size = data[position]
                block += data[position + 1 : position + 1 + size]
                position += 1 + size
            texts.append(block)
            start += 2
    with Image.open(io.BytesIO(data)) as image:
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            texts.append(repr(image.info).encode())
    return texts


def _tiff_texts(data: bytes) -> list[bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return [repr(dict(image.tag_v2)).encode(), repr(image.info).encode()]


def _contents(path: Path) -> list[bytes]:
    data = path.read_bytes()
    parts = [data]
    if data.startswith(b"\x89PNG"):
        parts += _png_texts(data)
    elif data.startswith(b"GIF8"):
        parts += _gif_texts(data)
    elif data.startswith((b"II*\0", b"MM\0*")):
        parts += _tiff_texts(data)
    return parts


def _assert_no_identifier(outputs: list[Path], root: Path, needles: list[str], extra: str) -> None:
    assert outputs, "nothing was written"
    kinds = {path.suffix for path in outputs}
    for path in outputs:
        relative = path.relative_to(root).as_posix()
        parts = _contents(path)
        for needle in needles:
            assert needle.lower() not in relative.lower(), (relative, needle)
            for form in _encodings(needle):
                for part in parts:
                    assert form not in part, (relative, needle)
    for needle in needles:
        for form in _encodings(needle):
            assert form.decode("latin-1") not in extra, needle
    assert kinds  # the caller checks which kinds it expects


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    return write_tiny_models(tmp_path_factory.mktemp("models"))


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_explain_outputs_carry_no_identifier(tmp_path, models, capsys):
    source = _write_dicom(tmp_path / "in" / SOURCE_NAME, seed=1)
    needles = _needles(source)
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(source),
            "--out",
            str(out),
            "--models",
            str(models),
            "--gif",
            "--frames",
            "3",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    outputs = _files(out)
    assert {p.suffix for p in outputs} >= {".png", ".tiff", ".json", ".gif"}
    _assert_no_identifier(outputs, out, needles, captured.out + captured.err)


def test_batch_outputs_carry_no_identifier(tmp_path, models, capsys):
    root = tmp_path / "cohort"
    for index, label in enumerate(("healthy", "disease")):
        _write_dicom(root / label / f"image_{index}.dcm", seed=index)
    needles = _needles(root / "healthy" / "image_0.dcm")
    out = tmp_path / "batch"
    code = main(["batch", str(root), "--out", str(out), "--models", str(models)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["failed"] == 0
    outputs = _files(out)
    assert {p.suffix for p in outputs} >= {".csv", ".json", ".png"}
    _assert_no_identifier(outputs, out, needles, captured.out + captured.err)


def test_info_prints_no_identifier_by_default(tmp_path, capsys):
    source = _write_dicom(tmp_path / SOURCE_NAME, seed=3)
    needles = _needles(source)
    assert main(["info", str(source)]) == 0
    captured = capsys.readouterr()
    _assert_no_identifier([source], tmp_path, [], "")  # (the input itself is not an output)
    for needle in needles:
        assert needle not in captured.out + captured.err


def test_the_scanner_finds_identifiers_where_they_hide(tmp_path):
    """The scan must be able to fail: plant the name in each hiding place it decodes."""
    secret = "PRIVACYTEST^JANE^Q"
    pixels = np.zeros((4, 4), np.uint8)
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", secret, zip=True)
    Image.fromarray(pixels).save(tmp_path / "ztxt.png", pnginfo=info)
    itxt = PngImagePlugin.PngInfo()
    itxt.add_itxt("Comment", secret, zip=True)
    Image.fromarray(pixels).save(tmp_path / "itxt.png", pnginfo=itxt)
    Image.fromarray(pixels).save(tmp_path / "comment.gif", comment=secret.encode())
    Image.fromarray(pixels).save(tmp_path / "tag.tiff", tiffinfo={270: secret})
    (tmp_path / "utf16.json").write_bytes(json.dumps({"n": secret}).encode("utf-16-le"))
    for path in sorted(tmp_path.iterdir()):
        with pytest.raises(AssertionError):
            _assert_no_identifier([path], tmp_path, [secret], "")
    with pytest.raises(AssertionError):
        _assert_no_identifier([tmp_path / "ztxt.png"], tmp_path, ["ztxt"], "")  # file name
