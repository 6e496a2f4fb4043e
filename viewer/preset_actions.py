"""View > Window Presets: keys 0 to 9 window the shown image with its presets (0: auto)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from engine.api import Radiograph, VoiPreset
from viewer.shortcuts import PRESET_KEYS, Command, KeySpec
from viewer.state import ViewerState

# The window's menu-item factory: (menu, text, slot, command, keys) -> the action it added.
ActionFactory = Callable[
    [QMenu, str, Callable[[], object], Command | None, tuple[KeySpec, ...] | None], QAction
]


class PresetActions:
    """One action per preset key in ``menu``, named and enabled after the shown image's presets
    (they follow ``state``'s image)."""

    def __init__(self, menu: QMenu, make_action: ActionFactory, state: ViewerState) -> None:
        self._state = state
        self.actions = [
            make_action(
                menu,
                f"Preset {index}",
                partial(self.apply_preset_key, index),
                Command.PRESET,
                (key,),
            )
            for index, key in enumerate(PRESET_KEYS)
        ]
        self._update()
        state.events.radiograph.connect(lambda _radiograph: self._update())

    def apply_preset_key(self, key: int) -> None:
        preset = preset_for_key(self._state.radiograph, key)
        if preset is not None:
            self._state.apply_window(preset)

    def _update(self) -> None:
        radiograph = self._state.radiograph
        for key, action in enumerate(self.actions):
            preset = preset_for_key(radiograph, key)
            action.setVisible(preset is not None or key == 0)
            action.setEnabled(preset is not None)
            if preset is not None:
                action.setText(f"{preset.name}  (W {preset.width:.5g} C {preset.center:.5g})")
            elif key == 0:
                action.setText("Auto window")


def preset_for_key(radiograph: Radiograph | None, key: int) -> VoiPreset | None:
    """Key 0: the "auto" preset (else the default); keys 1 to 9: the others, in order."""
    if radiograph is None:
        return None
    auto = next((preset for preset in radiograph.presets if preset.name == "auto"), None)
    others = [preset for preset in radiograph.presets if preset is not auto]
    if key == 0:
        return auto or radiograph.presets[0]
    return others[key - 1] if key - 1 < len(others) else None
