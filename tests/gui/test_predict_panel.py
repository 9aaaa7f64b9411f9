"""Predict the next token: ten bars of real probabilities, a click takes a token, a button writes."""

from __future__ import annotations

import pytest

from tests.gui.conftest import UI_TIMEOUT_MS

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def panel(qtbot, tab, trained_model):
    tab.lower_tabs.setCurrentIndex(1)
    panel = tab.predict_panel
    with qtbot.waitSignal(panel.predictions_shown, timeout=UI_TIMEOUT_MS):
        tab.controller.set_model(trained_model)
    return panel


def test_bars_show_the_top_ten_and_a_click_appends_the_token(qtbot, panel, trained_model):
    with qtbot.waitSignal(panel.predictions_shown, timeout=UI_TIMEOUT_MS):
        panel.set_prompt("the cat sat on ")
    bars = panel.bars
    assert bars.row_count() == 10
    probabilities = bars.probabilities()
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert sum(probabilities) <= 1.0 + 1e-6
    assert probabilities == sorted(probabilities, reverse=True)

    chosen = bars.token_ids()[0]
    with qtbot.waitSignal(panel.predictions_shown, timeout=UI_TIMEOUT_MS):
        bars.buttons()[0].click()
    assert panel.prompt_text() == "the cat sat on " + trained_model.tokenizer.decode([chosen])
    assert bars.row_count() == 10


def test_write_100_tokens_appends_the_models_continuation(qtbot, panel):
    panel.set_prompt("the dog ")
    panel.temperature.setValue(0.5)
    panel.top_k.setValue(5)
    with qtbot.waitSignal(panel.text_written, timeout=UI_TIMEOUT_MS) as written:
        panel.write_button.click()
    continuation = written.args[0]
    assert continuation  # 100 character tokens of real model output
    assert panel.prompt_text() == "the dog " + continuation
    qtbot.waitUntil(lambda: panel.write_button.isEnabled(), timeout=UI_TIMEOUT_MS)


def test_without_a_model_the_panel_explains_itself(tab):
    panel = tab.predict_panel
    assert tab.controller.current_model is None
    assert panel.bars.row_count() == 0
    assert not panel.write_button.isEnabled()
