"""The welcome screen's "Open an example session" opens ``assets/example_session.tesession`` through the
session controller, and every tab then shows a whole lesson: data curated, three models with their loss
curves, votes counted, before-and-after tables, benchmark answers and blind ratings.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.evaluation.benchmark import load_ratings
from engine.session.archive import open_session
from engine.shipped_models import EXAMPLE_SESSION_PATH, example_session_available
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, STAGE_PRETRAINING
from gui.model_shelf import SESSION_NAMES
from gui.welcome_dialog import EXAMPLE_NOTE, NO_EXAMPLE, show_welcome
from tests.gui.conftest import UI_TIMEOUT_MS, window_idle

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("keep_votes_and_ratings")]

OPEN_TIMEOUT_MS = 120_000  # reading three models and regenerating the world on 2 busy cores



@pytest.mark.skipif(not example_session_available(), reason="no example session in this checkout")
def test_the_welcome_button_opens_the_example_session_and_every_tab_shows_it(qtbot, window):
    expected = open_session(EXAMPLE_SESSION_PATH)
    dialog = show_welcome(window)
    assert dialog.example_button.isEnabled() and dialog.example_button.toolTip()
    with qtbot.waitSignal(window.session.opened, timeout=OPEN_TIMEOUT_MS) as opened:
        qtbot.mouseClick(dialog.example_button, Qt.MouseButton.LeftButton)
    assert opened.args[0] == str(EXAMPLE_SESSION_PATH)
    qtbot.waitUntil(lambda: window_idle(window) and window.data_tab.state is not None
                    and window.data_tab.state.settings.drop_duplicates, timeout=OPEN_TIMEOUT_MS)

    # Evaluation is in front, saying what the example is.
    assert window.tabs.currentWidget() is window.evaluation_tab
    assert window.evaluation_tab.message_bar.text() == EXAMPLE_NOTE
    # Data: the curation settings.
    assert window.data_tab.state.settings.drop_junk
    # The three models, each on its stage and on the shelf, with the loss curves of their descriptions.
    shelf = window.model_shelf.names()
    assert [SESSION_NAMES[s] for s in (STAGE_PRETRAINING, STAGE_INSTRUCTION, STAGE_PREFERENCE)] == shelf[:3]
    pretrained = window.pretraining_tab.controller.current_model
    assert pretrained.stage == STAGE_PRETRAINING and pretrained.step == expected.checkpoints["pretraining"].step
    window.pretraining_tab.plot.flush()
    assert window.pretraining_tab.plot.train_point_count() == len(pretrained.history.train_steps) > 0
    instruction, preference = window.instruction_tab, window.preference_tab
    assert instruction.base_model is pretrained and instruction.tuned_model.stage == STAGE_INSTRUCTION
    assert preference.base_model is instruction.tuned_model and preference.tuned_model.stage == STAGE_PREFERENCE
    instruction.plot.flush()
    assert instruction.plot.train_point_count() == len(instruction.tuned_model.history.train_steps) > 0
    # Before-and-after tables and the held-out curve.
    assert instruction.comparison.rows() and preference.comparison.rows()
    assert preference.metrics_plot.steps == expected.tabs["preference"]["held_out"]["steps"]
    # Votes counted.
    votes = preference.votes()
    assert votes and len(votes) == len(expected.votes)
    assert f"Your votes: {len(votes)} pair" in preference.votes_label.text()
    # Benchmark answers and blind ratings.
    evaluation = window.evaluation_tab
    assert len(evaluation.results) == len(expected.tabs["evaluation"]["results"]) > 0
    assert evaluation.answers_table.row_count() > 0 and evaluation.chart.bars()
    ratings = evaluation.rating_panel.ratings
    assert ratings and {r.model for r in ratings} <= set(shelf)
    assert len(load_ratings()) >= len(expected.ratings)


def test_without_the_example_the_button_is_off_and_says_why(qtbot, window, monkeypatch):
    import gui.welcome_dialog as welcome

    monkeypatch.setattr(welcome, "example_session_available", lambda: False)
    dialog = show_welcome(window)
    assert not dialog.example_button.isEnabled() and "Not available" in dialog.example_button.toolTip()
    assert welcome.open_example_session(window) is False
    assert window.tabs.currentWidget() is window.data_tab and window.data_tab.message_bar.text() == NO_EXAMPLE
    qtbot.waitUntil(lambda: window_idle(window), timeout=UI_TIMEOUT_MS)
