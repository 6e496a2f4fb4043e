"""Dark theme for the viewer: a Fusion palette, a small style sheet and pyqtgraph colours.

Radiology reading rooms are dim; a dark, low-contrast chrome keeps the eye on the image.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

IMAGE_BACKGROUND = "#000000"
CHROME_BACKGROUND = "#1b1d21"
PANEL_BACKGROUND = "#22252a"
TEXT = "#d7dae0"
TEXT_DIM = "#8b919c"
ACCENT = "#4fa3e0"
WARNING = "#e0a030"
DANGER = "#e05050"
CROSSHAIR = (80, 200, 255, 150)
ANNOTATION = "#e8e8e8"

_STYLE_SHEET = f"""
QMainWindow, QDockWidget {{ background: {CHROME_BACKGROUND}; }}
QDockWidget::title {{ background: {PANEL_BACKGROUND}; padding: 4px 8px; color: {TEXT_DIM}; }}
QGroupBox {{
    border: 1px solid #33373e; border-radius: 4px; margin-top: 14px; padding: 8px 6px 6px 6px;
}}
QGroupBox::title {{
    subcontrol-origin: margin; left: 8px; padding: 0 3px; color: {TEXT_DIM};
}}
QStatusBar {{ background: {PANEL_BACKGROUND}; color: {TEXT_DIM}; }}
QStatusBar QLabel#researchNotice {{ color: {WARNING}; font-weight: 600; padding: 0 8px; }}
QLabel#warningBanner {{
    background: #4a3512; color: #ffd891; border: 1px solid {WARNING}; border-radius: 3px;
    padding: 6px;
}}
QLabel#alertBanner {{
    background: #4a3512; color: #ffd891; border-bottom: 2px solid {WARNING}; padding: 6px 10px;
    font-size: 13px;
}}
QLabel#alertBanner[severity="invalid"] {{
    background: #5a1a1a; color: #ffc9c9; border-bottom: 2px solid {DANGER};
}}
QLabel#aboutNotice {{
    background: #4a3512; color: #ffd891; border: 1px solid {WARNING}; border-radius: 3px;
    padding: 6px; font-weight: 600;
}}
QLabel#paneTitle {{ color: {ACCENT}; font-weight: 600; }}
QLabel#paneCorner {{ color: {ANNOTATION}; background: transparent; font-size: 12px; }}
QLabel#panePlaceholder {{ color: {TEXT_DIM}; font-size: 13px; }}
QLabel#probability {{ font-size: 15px; font-weight: 600; color: {TEXT}; }}
QProgressBar {{ max-height: 12px; border: 1px solid #3a3e45; border-radius: 3px; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
"""


def dark_palette() -> QPalette:
    """The application palette: dark greys with a blue accent."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: CHROME_BACKGROUND,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: "#2b2f36",
        QPalette.ColorRole.AlternateBase: PANEL_BACKGROUND,
        QPalette.ColorRole.ToolTipBase: PANEL_BACKGROUND,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: TEXT_DIM,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: "#2a2d33",
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ff5555",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Highlight: "#2d6da3",
        QPalette.ColorRole.HighlightedText: "#ffffff",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5c616b"))
    return palette


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style, the dark palette, the style sheet and pyqtgraph's colours."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(_STYLE_SHEET)
    pg.setConfigOptions(background=IMAGE_BACKGROUND, foreground=TEXT)
