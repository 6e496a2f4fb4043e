"""``cxr-explain pacs echo|find|get|send``: studies from a PACS and results back to it.

The server is ``--server HOST:PORT --called-aet AET [--aet OURS]`` (DIMSE) or ``--dicomweb URL``.
``find`` prints one JSON line per study, without patient identifiers unless ``--show-phi`` (as
``info``); ``get`` writes ``<SOP Instance UID>.dcm`` files into ``--out`` with a progress bar.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.base import EXIT_OK, Subcommand
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.pacs.client import Pacs

ACTIONS = ("echo", "find", "get", "send")


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--server", metavar="HOST:PORT", help="DIMSE service (C-ECHO/FIND/GET/STORE)"
    )
    where.add_argument("--dicomweb", metavar="URL", help="DICOMweb base URL (QIDO/WADO/STOW-RS)")
    parser.add_argument("--called-aet", metavar="AET", help="the PACS's AE title (with --server)")
    parser.add_argument(
        "--aet", default="CXREXPLAIN", metavar="AET", help="our AE title (default CXREXPLAIN)"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="network timeout (default 10 s)"
    )


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    echo = actions.add_parser("echo", help="check that the PACS answers")
    _add_server_arguments(echo)
    find = actions.add_parser("find", help="list studies, one JSON line each")
    _add_server_arguments(find)
    find.add_argument("--patient-id", help="match this Patient ID (wildcards * and ?)")
    find.add_argument("--study-date", help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    find.add_argument("--modality", help="studies that hold this modality (e.g. CR)")
    find.add_argument("--study", metavar="UID", help="one study by Study Instance UID")
    find.add_argument(
        "--show-phi", action="store_true", help="include patient name, ID, dates, accession"
    )
    get = actions.add_parser("get", help="retrieve one study into a folder")
    _add_server_arguments(get)
    get.add_argument("--study", required=True, metavar="UID", help="Study Instance UID")
    get.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    get.add_argument("--no-progress", dest="progress_bar", action="store_false")
    send = actions.add_parser("send", help="store DICOM files (e.g. explain --dicom results)")
    _add_server_arguments(send)
    send.add_argument("paths", nargs="+", type=Path, help="DICOM files or folders of them")


def _pacs(args: argparse.Namespace) -> Pacs:
    # Imported here: pynetdicom and requests cost nothing to the other commands.
    from engine.pacs.client import Pacs
    from engine.pacs.dicomweb import DicomWebServer
    from engine.pacs.server import DimseServer

    if args.dicomweb:
        return Pacs(DicomWebServer(args.dicomweb, timeout_s=args.timeout))
    if not args.called_aet:
        raise InputError("--server needs --called-aet (the PACS's AE title)")
    return Pacs(DimseServer.parse(args.server, args.called_aet, args.aet, timeout_s=args.timeout))


def _filters(args: argparse.Namespace) -> dict[str, str]:
    chosen = {
        "PatientID": args.patient_id,
        "StudyDate": args.study_date,
        "ModalitiesInStudy": args.modality,
        "StudyInstanceUID": args.study,
    }
    return {keyword: value for keyword, value in chosen.items() if value}


def _files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path} does not exist")
    if not files:
        raise InputError("no files to send")
    return files


def _run(args: argparse.Namespace) -> int:
    pacs = _pacs(args)
    if args.action == "echo":
        pacs.echo()
        sys.stdout.write(json.dumps({"server": pacs.label, "echo": "ok"}) + "\n")
    elif args.action == "find":
        for study in pacs.find_studies(_filters(args)):
            sys.stdout.write(json.dumps(study.as_dict(show_phi=args.show_phi)) + "\n")
    elif args.action == "get":
        from tqdm import tqdm

        with tqdm(
            unit="instance", disable=not args.progress_bar, file=sys.stderr, leave=False
        ) as bar:

            def progress(done: int, total: int) -> None:
                if total and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            files = pacs.get_study(args.study, args.out, progress=progress)
        summary = {"study_uid": args.study, "out": str(args.out), "instances": len(files)}
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        stored = pacs.send(_files(args.paths))
        sys.stdout.write(json.dumps({"server": pacs.label, "stored": stored}) + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    name="pacs",
    help="talk to a PACS: echo, find studies, get a study, send DICOM files",
    add_arguments=_add_arguments,
    run=_run,
)
