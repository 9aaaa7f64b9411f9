"""Sessions saved by earlier versions open unchanged and restore every tab.

``tests/fixtures/saved_by_6fd2046.tesession`` was saved by the app at commit 6fd2046 (before each
stage's state moved into the engine), driven headless: the Data tab curated (cutoff 1990, duplicates
dropped, seed 3), tiny models (one layer, width 16) on Pretraining and both tuning tabs, an edited
instruction table with LoRA and 37 steps, a vote, DPO's beta 0.35, NLL weight 0.5 and anchor 2.5, a
held-out curve of two points, one shelf model unticked, two graded answers, one rating, Preference
tuning in front. (The shipped example session, ``assets/example_session.tesession``, is opened by
tests/gui/test_example_session.py.)

Opening it must restore each of those, and saving the window again must give back the same tab state.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.session.archive import open_session
from tests.gui.conftest import UI_TIMEOUT_MS, window_idle

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("keep_votes_and_ratings")]

OLD_SESSION = Path(__file__).resolve().parent.parent / "fixtures" / "saved_by_6fd2046.tesession"



def _same_json(a, b) -> bool:
    """Equal as JSON, with NaN equal to itself."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def test_a_session_saved_by_an_earlier_version_restores_every_tab(qtbot, window):
    saved = open_session(OLD_SESSION)
    with qtbot.waitSignal(window.session.opened, timeout=UI_TIMEOUT_MS):
        window.session.open(OLD_SESSION)
    qtbot.waitUntil(lambda: window_idle(window) and window.data_tab.state is not None
                    and window.data_tab.state.settings.cutoff_year == 1990, timeout=UI_TIMEOUT_MS)

    assert window.tabs.currentWidget() is window.preference_tab
    data = window.data_tab.state
    assert (data.settings.drop_duplicates, data.settings.seed, data.source.request.kind) == (True, 3, "world")
    pre = window.pretraining_tab.controller.current_model
    assert pre.step == 30 and pre.model_config.d_model == 16 and pre.history.train_steps == [0, 10, 20]
    instruction, preference = window.instruction_tab, window.preference_tab
    assert instruction.method == "lora" and instruction.steps_spin.value() == 37
    assert instruction.pairs.rows()[-1] == {"prompt": "What colour is the sky on Zarn?", "completion": "Green."}
    assert instruction.base_model is pre and instruction.tuned_model.step == 40
    assert preference.base_model is instruction.tuned_model and preference.tuned_model.step == 20
    assert preference.votes() == [dict(saved.votes[0])]
    assert (preference.beta_spin.value(), preference.nll_spin.value(), preference.anchor_spin.value()) == \
        pytest.approx((0.35, 0.5, 2.5))
    assert preference.metrics_plot.steps == [0, 10] and preference.metrics_plot.accuracies == [0.5, 0.75]
    evaluation = window.evaluation_tab
    assert [r.question for r in evaluation.results] == ["Capital of Zarn?", "Leader of Zarn?"]
    assert math.isnan(evaluation.results[1].confidence)
    assert "Pretrained (this session)" not in [name for name, _m in evaluation.models_under_test()]
    assert saved.ratings[0]["answer"] in [r.answer for r in evaluation.rating_panel.ratings]

    # Saved again, the window gives back what it opened: every tab's state, the curation, the votes.
    again = window.session.contents()
    assert _same_json(again.tabs, saved.tabs)
    assert again.curation == saved.curation and list(again.votes) == list(saved.votes)
    assert sorted(again.checkpoints) == sorted(saved.checkpoints)


def test_the_window_loops_over_its_stage_tabs_for_state_and_runs(qtbot, window):
    from gui.stages import STAGES

    assert list(window.stage_tabs) == [stage.key for stage in STAGES]
    assert [window.tabs.widget(i) for i in range(window.tabs.count())] == list(window.stage_tabs.values())
    assert window.running_stage() == ""
    window.session.open(OLD_SESSION)
    qtbot.waitUntil(lambda: window_idle(window) and window.data_tab.state is not None
                    and window.data_tab.state.settings.cutoff_year == 1990, timeout=UI_TIMEOUT_MS)
    before = window.stage_state()
    assert before.stage == "preference" and before.preference.beta == pytest.approx(0.35)
    # Showing the window's own state again changes nothing a session would save.
    window.apply_state(before)
    qtbot.waitUntil(lambda: window_idle(window), timeout=UI_TIMEOUT_MS)
    assert _same_json(window.stage_state().to_contents().tabs, before.to_contents().tabs)
