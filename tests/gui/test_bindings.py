"""Settings bound to a stage's state by name (gui/bindings.py): a spin box offers exactly what the
engine accepts (engine.config.RANGES, up to a classroom cap), shows a state's values, and hands on the
values it shows to the state and to the run, so a setting is declared once.
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFormLayout, QLabel

from engine.config import range_problem
from engine.stages.preference_tuning import PreferenceConfig
from engine.session.state import PreferenceState
from gui.preference_tab import DPO_SETTINGS, PreferenceTab
from gui.tuning_tab import STEPS


def _spin_by_label(tab, text: str):
    """The spin box beside the label that reads ``text``, as a learner finds it."""
    for form in tab.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label and isinstance(label.widget(), QLabel) and label.widget().text() == text and field:
                return field.widget()
    raise LookupError(text)


@pytest.fixture
def tab(qtbot, zoom):
    tab = PreferenceTab(zoom)
    qtbot.addWidget(tab)
    return tab


@pytest.fixture
def zoom():
    from gui.zoom import ZoomController

    return ZoomController(None, remember=False)


@pytest.mark.parametrize("setting", [*DPO_SETTINGS, STEPS], ids=lambda s: s.field)
def test_every_value_a_bound_spin_box_offers_is_one_the_engine_accepts(tab, setting):
    spin = _spin_by_label(tab, setting.label)
    section, name = setting.section, setting.range_name or setting.field
    assert range_problem(section, name, spin.minimum()) is None
    assert range_problem(section, name, spin.maximum()) is None
    below = spin.minimum() - (1 if not setting.decimals else 10.0 ** -setting.decimals)
    assert range_problem(section, name, below) is not None  # the spin box stops where the engine does
    assert spin.accessibleName()


def test_the_dpo_settings_shown_are_the_state_and_the_run_config(tab):
    _spin_by_label(tab, "β (beta)").setValue(0.4)
    _spin_by_label(tab, "Keep the pretraining text").setValue(7.5)
    state = tab.stage_state()
    assert (state.beta, state.nll_weight, state.anchor_weight) == pytest.approx((0.4, 1.0, 7.5))
    assert PreferenceConfig(**tab.dpo_settings.values()) == PreferenceConfig(beta=state.beta, nll_weight=1.0,
                                                                            anchor_weight=7.5)
    # An older session without DPO's settings leaves them; one with them shows them.
    tab.apply_state(PreferenceState(steps=12))
    assert _spin_by_label(tab, "β (beta)").value() == pytest.approx(0.4) and tab.steps_spin.value() == 12
    tab.apply_state(PreferenceState(steps=30, beta=0.2, nll_weight=0.5))
    assert tab.dpo_settings.values() == pytest.approx({"beta": 0.2, "nll_weight": 0.5, "anchor_weight": 7.5})
    assert _spin_by_label(tab, "Steps").value() == 30
