"""Explanation runs: what to explain for the shown image, computing it on the worker, and showing
the result in the panes, the explanation panel, the banner and the statistics.

A CycleGAN direction is computed as soon as it is chosen (seconds). A FIGAN feature is explored on
request only, after a dialog with a time estimate (up to a minute and a half); its explorations
are kept per image and feature, and a new image goes back to the last direction chosen.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from qasync import asyncSlot

from engine.api import EngineError
from viewer.explanation import (
    NO_EXPLANATION_TEXT,
    Direction,
    Explanation,
    ExplanationChoice,
    ExplanationProvider,
    Feature,
    engine_result,
    explanation_alerts,
    feature_explainer,
)
from viewer.explanation_status import READY, ExplanationState, ExplanationStatus, computing, failed
from viewer.feature_cache import FeatureCache, ImageKey, image_key
from viewer.feature_run_dialog import FeatureRunDialog, feature_estimate
from viewer.statistics_report import report_of_shown
from viewer.worker import JobChannel, SupersededError

if TYPE_CHECKING:
    from viewer.session import Session

log = logging.getLogger(__name__)


class ExplanationRuns(QObject):
    """Explains the session's shown image with ``explainer`` (None: no models are loaded; a
    ``FeatureExplainer`` also lists its FIGAN features once the first explanation is asked
    for)."""

    explanation_shown = Signal()

    def __init__(self, session: Session, explainer: ExplanationProvider | None) -> None:
        super().__init__(session)
        self._session = session
        self._parts = session.parts
        self._explainer = explainer
        # Whether the explainer's FIGAN features were listed already (found unusable, or there
        # are none to list: the explainer is no FeatureExplainer).
        self._features_listed = feature_explainer(explainer) is None
        # Feature mode is per image: a new image goes back to the last direction chosen.
        self._direction: ExplanationChoice = Direction.AUTO
        self._shown_choice: ExplanationChoice = Direction.AUTO  # shown or being computed
        self._image_key: ImageKey | None = None  # the shown file, for the feature cache
        self._feature_cache = FeatureCache()
        self._feature_seconds: float | None = None  # how long the last exploration took here
        self.feature_dialog: FeatureRunDialog | None = None  # asks before an exploration
        self._parts.explanation_panel.choice_changed.connect(self._on_choice_changed)

    @property
    def explainer(self) -> ExplanationProvider | None:
        return self._explainer

    @property
    def available(self) -> bool:
        """Models are loaded: opening an image computes its explanation."""
        return self._explainer is not None

    def prepare_for_image(self, path: Path) -> None:
        """A new image is about to be shown: its own feature explorations, and a direction."""
        panel = self._parts.explanation_panel
        self._image_key = image_key(path)
        self._close_feature_dialog()
        if isinstance(panel.choice, Feature):
            # A feature is explored on request, image by image: the next image gets the
            # direction, not a minute-long exploration nobody asked for.
            panel.set_choice(self._direction)
        self._shown_choice = panel.choice

    def computing_status(self) -> ExplanationStatus:
        """What the panes say while the chosen explanation is computed."""
        return self._computing(self._parts.explanation_panel.choice)

    def clear_views(self) -> None:
        """Empty what describes an explanation outside the panes and the panel."""
        self._parts.banner.set_alerts(())
        self._parts.statistics_panel.set_report(None)

    @asyncSlot()
    async def request_explanation(self) -> None:
        """Compute the explanation of the current image for the chosen direction or feature; a
        newer request supersedes it."""
        session, panel = self._session, self._parts.explanation_panel
        radiograph = session.state.radiograph
        explainer = self._explainer
        if radiograph is None or explainer is None:
            return
        session.set_status(self._computing(panel.choice))
        if not self._features_listed and not await self._list_features():
            return  # superseded by a newer request, which lists them
        choice = panel.choice  # listing the features may have changed it
        session.set_status(self._computing(choice))
        image = self._image_key
        started = time.monotonic()
        try:
            result = await session.jobs.submit(
                JobChannel.EXPLANATION,
                lambda job: explainer(radiograph, choice, job.cancel, job.report_progress),
            )
        except SupersededError:
            return  # cancelled (Esc, another image) or superseded: that caller set the status
        except EngineError as error:
            message = f"No explanation: {error}"
            session.set_status(failed(message))
            session.errors.report_error(message)
            return
        except Exception as error:
            message = session.errors.report_unexpected("Computing the explanation failed", error)
            session.set_status(failed(message))
            return
        if isinstance(choice, Feature):
            self._feature_seconds = time.monotonic() - started
            self._feature_cache.put(image, choice, result)
        if session.state.radiograph is radiograph:  # the user may have opened another image
            self.show_explanation(result)

    async def _list_features(self) -> bool:
        """Ask the explainer for its FIGAN features (on the worker: it loads the FIGAN models) and
        list them in the explanation panel. False when a newer request superseded this one.

        A bundle that cannot be used (made for another classifier, damaged) leaves the directions
        only, with the reason in the log and the choice's tooltip: no error dialog, since the user
        did not ask for a feature.
        """
        explainer = feature_explainer(self._explainer)
        if explainer is None:
            return True
        unavailable = ""
        try:
            features = await self._session.jobs.submit(
                JobChannel.EXPLANATION, lambda _job: explainer.features()
            )
        except SupersededError:
            return False
        except EngineError as error:
            log.warning("FIGAN features unavailable: %s", error)
            features, unavailable = (), str(error)
        except Exception as error:  # a bug: say so, and keep explaining the directions
            self._session.errors.report_unexpected("Listing the FIGAN features failed", error)
            features, unavailable = (), "see the error report"
        self._features_listed = True
        self._parts.explanation_panel.set_features(features, unavailable)
        return True

    def show_explanation(self, explanation: Explanation) -> None:
        """Show a finished explanation of the current image (the engine's wire-in point)."""
        session, parts = self._session, self._parts
        session.state.show_explanation(explanation)
        parts.explanation_panel.set_explanation(explanation)
        parts.banner.set_alerts(explanation_alerts(explanation))
        session.set_status(READY)
        result = engine_result(explanation)
        radiograph = session.state.radiograph
        report = report_of_shown(result, radiograph) if result is not None else None
        parts.statistics_panel.set_report(report)
        caution = result.caution() if result is not None else None
        if caution is None:
            parts.say("Explanation ready", 3000)
        else:  # stays until the next message: it describes what is on screen
            parts.say(f"Explanation ready - caution: {caution}")
        self.explanation_shown.emit()

    def compute_explanation(self) -> None:
        """E: compute the shown image's explanation again (after a cancel or a failure); nothing
        while one is being computed."""
        if self._session.state.radiograph is None:
            return
        if self._explainer is None:
            self._parts.say(NO_EXPLANATION_TEXT, 5000)
            return
        if self._session.status.state is not ExplanationState.COMPUTING:
            self._restart()

    def _on_choice_changed(self) -> None:
        choice = self._parts.explanation_panel.choice
        if isinstance(choice, Feature):
            self._choose_feature(choice)
            return
        self._close_feature_dialog()
        self._direction = self._shown_choice = choice
        self._restart()

    def _choose_feature(self, feature: Feature) -> None:
        """Show ``feature``'s exploration of this image: kept from before, or computed once the
        user agreed to the wait (the dialog gives an estimate)."""
        if self._explainer is None or self._session.state.radiograph is None:
            self._shown_choice = feature
            return
        cached = self._feature_cache.get(self._image_key, feature)
        if cached is not None:
            self._session.jobs.cancel(JobChannel.EXPLANATION)  # a direction still computing
            self._close_feature_dialog()
            self._shown_choice = feature
            self.show_explanation(cached)
            return
        self._close_feature_dialog()
        estimate = feature_estimate(self._feature_seconds)
        dialog = FeatureRunDialog(feature, estimate, self._parts.window)
        dialog.confirmed.connect(self._on_feature_dialog_confirmed)
        dialog.declined.connect(self._on_feature_dialog_declined)
        dialog.finished.connect(dialog.deleteLater)
        self.feature_dialog = dialog
        dialog.open()

    def _close_feature_dialog(self) -> None:
        dialog, self.feature_dialog = self.feature_dialog, None
        if dialog is not None:
            dialog.declined.disconnect(self._on_feature_dialog_declined)
            dialog.confirmed.disconnect(self._on_feature_dialog_confirmed)
            dialog.reject()

    def _on_feature_dialog_confirmed(self, feature: Feature) -> None:
        self.feature_dialog = None
        if self._parts.explanation_panel.choice == feature:
            self._shown_choice = feature
            self._restart()

    def _on_feature_dialog_declined(self, feature: Feature) -> None:
        self.feature_dialog = None
        panel = self._parts.explanation_panel
        if panel.choice == feature:
            panel.set_choice(self._shown_choice)  # the panes still show it

    def _computing(self, choice: ExplanationChoice) -> ExplanationStatus:
        if isinstance(choice, Feature):
            estimate = feature_estimate(self._feature_seconds)
            return computing(f"Exploring {choice.name.lower()} (FIGAN, {estimate})")
        return computing("Computing the explanation")

    def _restart(self) -> None:
        """Drop the shown explanation (if any) and compute the chosen one."""
        if self._explainer is None or self._session.state.radiograph is None:
            return
        status = self._computing(self._parts.explanation_panel.choice)
        self._parts.comparison.clear_explanation(status.text)
        self.clear_views()
        self._session.set_status(status)
        self.request_explanation()
