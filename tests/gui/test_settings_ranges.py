"""The app offers exactly the ranges the engine accepts (``engine.config.RANGES``): the Advanced spin boxes
cannot be set to a value the run would refuse, and a session whose saved settings are out of range is
refused in words that name the setting and its range."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox

from engine.config import RANGES, TrainConfig
from engine.errors import SessionError
from gui.widgets.model_settings_panel import FIELDS, ModelSettingsPanel


@pytest.fixture
def panel(qtbot):
    panel = ModelSettingsPanel()
    qtbot.addWidget(panel)
    return panel


def _spin(panel, label: str) -> QAbstractSpinBox:
    """The Advanced spin box the user knows by its label."""
    found = [w for w in panel.findChildren(QAbstractSpinBox) if w.accessibleName() == label]
    assert len(found) == 1, label
    return found[0]


def test_every_advanced_spin_box_spans_exactly_the_engines_range(panel):
    for field in FIELDS:
        spin, rng = _spin(panel, field.label), RANGES[field.owner][field.name]
        assert rng.contains(spin.minimum()) and rng.contains(spin.maximum()), field.label
        step = 10.0 ** -field.decimals if field.decimals else 1
        # One step further is what the engine refuses (or what a spin box cannot hold).
        assert not rng.contains(spin.minimum() - step), field.label
        assert not rng.contains(spin.maximum() + step) or spin.maximum() == 2**31 - 1, field.label


@pytest.mark.parametrize("label, typed", [("Learning rate", "0"), ("Learning rate", "99999"), ("Batch size", "0"),
                                          ("Steps", "0"), ("Layers", "5000"), ("Warmup", "-3")])
def test_typing_a_value_the_engine_refuses_leaves_settings_the_engine_accepts(qtbot, panel, label, typed):
    spin = _spin(panel, label)
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, typed)
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    spin.clearFocus()
    panel.model_config().validate()  # raises ConfigError if the panel handed on a refused value
    panel.train_config().validate()


def test_a_session_with_a_setting_out_of_range_is_refused_naming_it():
    from engine.session.state import config_from_json as _dataclass_from

    saved = dataclasses.asdict(TrainConfig())
    assert _dataclass_from(TrainConfig, saved, "training settings") == TrainConfig()
    with pytest.raises(SessionError) as refused:
        _dataclass_from(TrainConfig, {**saved, "grad_clip": -1.0}, "training settings")
    message = str(refused.value)
    assert "training settings are damaged, so it was not opened" in message
    assert "'grad_clip' (the largest allowed gradient size) must be a number above 0; it is -1" in message
    assert "Your current work is unchanged" in message
    with pytest.raises(SessionError, match="'total_steps' .* it is a huge number"):  # JSON allows any digits
        _dataclass_from(TrainConfig, {**saved, "total_steps": 10**5000}, "training settings")
