"""Help > About: the research-use notice and the model cards of the model folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from viewer.about_dialog import NO_CARD_TEXT, model_cards
from viewer.main_window import RESEARCH_NOTICE


def test_about_shows_the_notice_and_every_model_card(
    make_main_window, tiny_models_dir: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    (models / "classifier" / "README.md").write_text("# classifier\n\nTrained on phantoms.\n")
    (models / "not-a-bundle").mkdir()
    window = make_main_window(models_dir=models)

    window.help.show_about()

    dialog = window.help.about_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.notice_label.isVisible()
    assert RESEARCH_NOTICE in dialog.notice_label.text()
    assert "synthetic data" in dialog.notice_label.text()
    assert dialog.card_titles() == [
        "classifier",
        "generator_to_disease",
        "generator_to_healthy",
        "segmenter",
    ]
    assert "Trained on phantoms." in dialog.tabs.widget(0).toPlainText()
    dialog.close()


def test_bundles_without_a_card_say_so(tiny_models_dir: Path) -> None:
    cards = model_cards(tiny_models_dir)
    assert cards
    assert all(card.markdown == NO_CARD_TEXT for card in cards)


def test_about_without_models_still_shows_the_notice(make_main_window, tmp_path: Path) -> None:
    window = make_main_window(models_dir=tmp_path / "missing")
    window.help.show_about()
    dialog = window.help.about_dialog
    assert dialog.notice_label.isVisible()
    assert "No model bundles" in dialog.models_label.text()
    assert dialog.card_titles() == []
    dialog.close()
