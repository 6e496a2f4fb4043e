"""Take docs/images/viewer_pacs_study_list.png: the viewer's PACS study list against a throw-away
Orthanc holding the real chest CR of pydicom-data and the bundled sample.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1920x1080x24" \\
        .venv/bin/python docs/images/pacs_screenshot.py docs/images/viewer_pacs_study_list.png
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import qasync
from pydicom.data import get_testdata_file
from PySide6.QtWidgets import QApplication

from engine.api import sample_radiograph_path
from engine.pacs import dimse
from engine.pacs.testing import PACS_AET, run_orthanc
from viewer.main_window import MainWindow
from viewer.settings import ViewerSettings


async def _search_and_grab(window: MainWindow, out: Path) -> None:
    dialog = window.session.pacs.pacs_dialog
    assert dialog is not None
    dialog.search_button.click()
    for _ in range(100):
        await asyncio.sleep(0.1)
        if dialog.table.rowCount() == 2:
            break
    dialog.table.selectRow(1)
    await asyncio.sleep(0.5)
    dialog.grab().save(str(out))
    window.close()


def main(out: Path) -> None:
    app = QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as work, run_orthanc(Path(work)) as orthanc:
        chest = Path(get_testdata_file("RG1_UNCR.dcm"))
        dimse.send(orthanc.dimse, [chest, sample_radiograph_path()])
        window = MainWindow(settings=ViewerSettings.in_file(Path(work) / "settings.ini"))
        window.resize(1400, 850)
        window.show()
        window.session.pacs.open_pacs_dialog()
        dialog = window.session.pacs.pacs_dialog
        assert dialog is not None
        dialog.host_edit.setText("127.0.0.1")
        dialog.port_spin.setValue(orthanc.dicom_port)
        dialog.called_edit.setText(PACS_AET)
        loop.run_until_complete(_search_and_grab(window, out))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
