"""Help > About: what the program is, the research-use notice, and each model's card.

Model cards are the ``README.md`` of each bundle in the model folder (MONAI-style bundles carry
their own card); a bundle without one says so instead of being left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def model_cards(models_dir: Path | None) -> list[ModelCard]:
    """The card of every bundle (a sub-folder with ``config.json``) of ``models_dir``, by name."""
    if models_dir is None or not models_dir.is_dir():
        return []
    cards = []
    for bundle in sorted(models_dir.iterdir(), key=lambda path: path.name):
        if bundle.is_dir() and (bundle / BUNDLE_CONFIG_FILE).is_file():
            cards.append(ModelCard(bundle.name, _read_card(bundle / MODEL_CARD_FILE)))
    return cards


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
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.notice_label)
        layout.addWidget(description)
        layout.addWidget(self.models_label)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.tabs.setVisible(bool(self.cards))

    def card_titles(self) -> list[str]:
        return [self.tabs.tabText(index) for index in range(self.tabs.count())]
