"""The Preference tuning tab through its widgets: vote, review votes, train with DPO, compare."""

from __future__ import annotations

import dataclasses

import pytest

from engine.data.tuning_data import MIN_PAIRS, load_preferences
from gui.preference_tab import VOTE_KIND, votes_path
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def tuned_base(world_base):
    """The tiny world model, labelled as instruction-tuned: where preference tuning starts."""
    return dataclasses.replace(world_base, stage="instruction")


@pytest.fixture
def tab(window):
    votes_path().unlink(missing_ok=True)
    yield window.preference_tab
    votes_path().unlink(missing_ok=True)


def _vote(qtbot, tab, button: str) -> None:
    panel = tab.vote_panel
    for _ in range(3):  # two sampled answers are almost never equal; if they are, ask again
        panel.write_button.click()
        qtbot.waitUntil(lambda: not panel.busy, timeout=RUN_TIMEOUT_MS)
        if panel.a_button.isEnabled():
            break
    getattr(panel, f"{button}_button").click()


def test_votes_become_pairs_are_saved_and_come_back(qtbot, make_window, tuned_base, tab):
    bundled = tab.pairs.row_count()
    assert not tab.vote_panel.write_button.isEnabled()  # nothing to answer with yet
    tab.set_base_model(tuned_base)
    _vote(qtbot, tab, "a")
    answers = tab.vote_panel._answers
    votes = tab.votes()
    assert len(votes) == 1 and votes[0]["chosen"] == answers[0] and votes[0]["rejected"] == answers[1]
    assert tab.pairs.row_count() == bundled + 1
    _vote(qtbot, tab, "bad")
    assert len(tab.votes()) == 1 and "1 “both bad”" in tab.votes_label.text()
    saved = load_preferences(votes_path())
    assert [(p.chosen, p.rejected) for p in saved] == [(answers[0], answers[1])]

    again = make_window()  # the votes are kept: a new window finds them
    assert [v["chosen"] for v in again.preference_tab.votes()] == [answers[0]]
    again.close()

    # Reviewing: deleting the vote's row removes it from the saved file too, and undo brings it back.
    tab.pairs.table.selectRow(tab.pairs.row_count() - 1)
    tab.pairs.delete_selected()
    assert tab.votes() == [] and not votes_path().exists()
    tab.pairs.undo_button.click()
    assert len(tab.votes()) == 1 and tab.votes()[0]["kind"] == VOTE_KIND


def test_a_model_from_the_wrong_stage_is_refused(tab, world_base):
    tab.set_base_model(world_base, opened=True)  # a pretrained model, not an instruction-tuned one
    assert tab.base_model is None
    assert tab.message_bar.level() == "error" and "instruction" in tab.message_bar.text()


def test_too_few_pairs_block_training(tab, tuned_base):
    tab.set_base_model(tuned_base)
    assert tab.start_button.isEnabled()
    tab.pairs.reset_rows(tab.pairs.rows()[:3])
    assert not tab.start_button.isEnabled() and str(MIN_PAIRS) in tab.start_button.toolTip()


def test_dpo_shows_margin_and_accuracy_and_compares_behaviour(qtbot, tab, tuned_base):
    tab.set_base_model(tuned_base)
    tab.steps_spin.setValue(20)
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS) as finished:
        tab.start_button.click()
    assert finished.args[0].reason == "completed"
    qtbot.waitUntil(lambda: not tab.busy, timeout=RUN_TIMEOUT_MS)
    tuned = tab.tuned_model
    assert tuned.stage == "preference"
    assert len(tab.metrics_plot.steps) >= 1
    assert all(0.0 <= a <= 1.0 for a in tab.metrics_plot.accuracies)
    # The alignment tax: the model itself asked at every check, starting before the first step.
    tax = tab.tax_plot.points
    assert [p.step for p in tax] == tab.metrics_plot.steps and tax[0].step == 0
    assert all(0.0 <= v <= 1.0 for p in tax for v in (p.refused, p.over_refused, p.facts_right))
    x, y = tab.tax_plot.path_line.getData()
    assert list(x) == [100 * p.facts_right for p in tax] and list(y) == [100 * p.refused for p in tax]
    assert f"held-out facts right {tax[0].facts_right:.0%} → {tax[-1].facts_right:.0%}" in tab.tax_note.text()
    rows = tab.comparison.rows()
    assert {r.hoped for r in rows} == {"refuse", "answer", "say “I don't know”"} and len(rows) == 24
    summary = tab.comparison.summary_label.text()
    assert "Refuses harmful requests" in summary and "over-refusal" in summary and "→" in summary
    qtbot.waitUntil(lambda: not tab.busy, timeout=UI_TIMEOUT_MS)


def test_the_first_question_to_vote_on_is_harmless_and_every_one_is_still_offered(tab):
    from engine.data.tuning_data import load_benchmark, load_red_team

    combo = tab.vote_panel.question_combo
    offered = [combo.itemText(i) for i in range(combo.count())]
    kinds = {r["prompt"].removeprefix("User: ").removesuffix("\nAssistant:"): r["kind"] for r in load_red_team()}
    kinds.update({r["question"]: "taught fact" for r in load_benchmark() if r["split"] == "train"})
    # A class starts on questions the model was taught to answer, then harmless requests; harmful ones come last.
    assert combo.currentText() == offered[0] and kinds[offered[0]] == "taught fact"
    order = [kinds[q] for q in offered]
    assert order[:4] == ["taught fact"] * 4 and order[4] == "benign"
    assert order.index("harmful") > max(i for i, k in enumerate(order) if k != "harmful")
    # No red-team prompt is dropped, and none is offered twice.
    assert {q for q, k in kinds.items() if k != "taught fact"} <= set(offered) and len(offered) == len(set(offered))


@pytest.mark.parametrize("answers, note", [
    (("tttt ttttt.", "·)·?3 ;;e"), "untrained"),
    (("", " 4 4 4 4."), "untrained"),
    ((" The government of Zostia sits in the capital, Rovora.", " In Nosbi, the capital."), "off the question"),
    ((" Never pour oil down the drain, and keep the water clean.", "tttt."), None),
    ((" Filter the water in Fides.", " Boil it."), None),
])
def test_two_nonsense_answers_are_never_offered_without_saying_the_model_is_untrained(qtbot, monkeypatch,
                                                                                      answers, note):
    from gui.widgets import vote_panel
    from gui.widgets.vote_panel import OFF_TOPIC_NOTE, UNTRAINED_NOTE, VotePanel

    monkeypatch.setattr(vote_panel, "write_two_answers", lambda _model, _prompt, _seed: answers)
    panel = VotePanel(["How do I clean the water in Fides?"])
    qtbot.addWidget(panel)
    panel.set_model(object())
    panel.write_button.click()
    qtbot.waitUntil(lambda: panel.a_button.isEnabled(), timeout=UI_TIMEOUT_MS)
    expected = {"untrained": UNTRAINED_NOTE, "off the question": OFF_TOPIC_NOTE, None: "Which answer is better?"}
    said = panel.status_label.text()
    assert said == expected[note]
    assert ("not yet trained" in said or "barely trained" in said) == (note is not None)
    assert panel.bad_button.isEnabled() and panel.b_button.isEnabled()
    assert panel.shutdown()
