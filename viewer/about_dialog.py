"""Help > About: what the program is, the research-use notice, and each model's card.

Model cards are the ``README.md`` of each bundle in the model folder (MONAI-style bundles carry
their own card); a bundle without one says so instead of being left out. The model identity lives
here (each bundle's full weight checksum, and the models of the explanation on screen), not in
the image panes: a reader needs it for a report, not while reading the image.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

MODEL_CARD_FILE = "README.md"
BUNDLE_CONFIG_FILE = "config.json"
MAX_CARD_BYTES = 256 * 1024  # a card is prose; anything larger is not a card
NO_CARD_TEXT = "*This model bundle has no model card (README.md).*"


@dataclass(frozen=True, slots=True)
class ModelCard:
    model_id: str  # the bundle's folder name
    markdown: str
    sha256: str | None = None  # of the weights, as the bundle's config.json states it


def model_cards(models_dir: Path | None) -> list[ModelCard]:
    """The card of every bundle (a sub-folder with ``config.json``) of ``models_dir``, by name."""
    if models_dir is None or not models_dir.is_dir():
        return []
    cards = []
    for bundle in sorted(models_dir.iterdir(), key=lambda path: path.name):
        if bundle.is_dir() and (bundle / BUNDLE_CONFIG_FILE).is_file():
            card = _read_card(bundle / MODEL_CARD_FILE)
            cards.append(ModelCard(bundle.name, card, _read_checksum(bundle / BUNDLE_CONFIG_FILE)))
    return cards


def model_checksums(models_dir: Path | None) -> dict[str, str]:
    """The full weight checksum of every bundle of ``models_dir`` that states one, by model id."""
    return {card.model_id: card.sha256 for card in model_cards(models_dir) if card.sha256}


def _read_checksum(path: Path) -> str | None:
    """The ``sha256`` of a bundle's ``config.json``; None when it cannot be read (the engine
    says why when it loads the bundle: this is only a display)."""
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            return None
        value = json.loads(path.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def _read_card(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            return f"*The model card is larger than {MAX_CARD_BYTES // 1024} KiB; not shown.*"
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return NO_CARD_TEXT
    except OSError as error:
        return f"*The model card cannot be read: {error.strerror or error}*"


class AboutDialog(QDialog):
    """The notice on top, then one tab per model card."""

    def __init__(
        self,
        *,
        app_name: str,
        notice: str,
        models_dir: Path | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {app_name}")
        self.resize(720, 560)
        title = QLabel(f"<h3>{app_name}</h3>")
        self.notice_label = QLabel(f"⚠ {notice}. Not a medical device; not for diagnosis.")
        self.notice_label.setObjectName("aboutNotice")
        self.notice_label.setWordWrap(True)
        description = QLabel(
            "Explains a chest X-ray classifier: the original radiograph, a CycleGAN-translated "
            "counterfactual of the other class, and their signed difference, side by side."
        )
        description.setWordWrap(True)
        self.cards = model_cards(models_dir)
        self.tabs = QTabWidget()
        for card in self.cards:
            browser = QTextBrowser()
            browser.setOpenExternalLinks(False)  # offline tool: no links leave the machine
            browser.setMarkdown(card.markdown)
            self.tabs.addTab(browser, card.model_id)
        folder = models_dir.name if models_dir is not None else "—"
        self.models_label = QLabel(
            f"Model cards from the model folder “{folder}”:"
            if self.cards
            else f"No model bundles found in “{folder}”: explanations are off."
        )
        self.models_label.setWordWrap(True)
        self.checksums_label = QLabel(_checksums_html(self.cards))
        self.checksums_label.setObjectName("aboutChecksums")
        self.checksums_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.checksums_label.setVisible(bool(self.cards))
        self.in_use_label = QLabel()
        self.in_use_label.setWordWrap(True)
        self.in_use_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.set_models_in_use(None)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.notice_label)
        layout.addWidget(description)
        layout.addWidget(self.models_label)
        layout.addWidget(self.checksums_label)
        layout.addWidget(self.in_use_label)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.tabs.setVisible(bool(self.cards))

    def card_titles(self) -> list[str]:
        return [self.tabs.tabText(index) for index in range(self.tabs.count())]

    def set_models_in_use(self, model_label: str | None) -> None:
        """Name the models behind the explanation on screen (the engine's label: folder and
        ``model@checksum`` words); None while none is shown."""
        if not model_label:
            self.in_use_label.hide()
            return
        self.in_use_label.setText(f"Explanation on screen made with: {html.escape(model_label)}")
        self.in_use_label.show()


def _checksums_html(cards: list[ModelCard]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(card.model_id)}&nbsp;&nbsp;</td>"
        f"<td><code>{html.escape(card.sha256 or 'no checksum stated')}</code></td></tr>"
        for card in cards
    )
    return f"<table><tr><th align='left'>Model</th><th align='left'>SHA-256</th></tr>{rows}</table>"
