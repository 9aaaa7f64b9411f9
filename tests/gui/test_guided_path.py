"""The guided path for self-study: the welcome screen, the guided tour and "Why does AI do that?".

Real windows, real widgets and the tabs' real signals: each tour step is made to happen by doing
what a learner does (ticking a box, pressing Start, running the benchmark), never by calling the
tour's own bookkeeping.
"""

from __future__ import annotations

import dataclasses
import sys

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication

from engine.shipped_models import shipped_stages
from engine.trained_model import STAGE_INSTRUCTION
from gui import settings
from gui.guided_tour import TOUR_OPEN, TOUR_STEP, TOUR_STEPS
from gui.welcome_dialog import WELCOME_SHOWN, WelcomeDialog, greet_on_start, show_welcome
from gui.why_ai_does_that import QUESTIONS, WhyAiDoesThatPanel
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS, set_tiny_settings

pytestmark = pytest.mark.timeout(300)

STEP_KEYS = [step.key for step in TOUR_STEPS]


def _rect_in_window(widget, window) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _frames(spotlight, widget, window) -> bool:
    """The frame is drawn around ``widget`` where it is now, with the pen's width of margin."""
    margin = spotlight.pen_width
    expected = _rect_in_window(widget, window).adjusted(-margin, -margin, margin, margin)
    return spotlight.isVisible() and spotlight.frame_rect == expected


def _main_windows():
    from gui.main_window import MainWindow

    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


def _close(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not (window.data_tab.busy or window.pretraining_tab.busy or window.evaluation_tab.busy),
                    timeout=UI_TIMEOUT_MS)
    window.close()
    window.deleteLater()


# --- the welcome screen ---------------------------------------------------------------------------------


def test_the_welcome_shows_on_the_first_start_only(qtbot, monkeypatch):
    import gui.app

    monkeypatch.setattr(gui.app, "warm_up_engine", lambda: None)  # no jax import racing the test
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # main() routes errors to its window: undone after
    assert gui.app.main([]) == 0
    (first,) = _main_windows()
    dialog = first.findChild(WelcomeDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.tour_button.text() == "Take the guided tour"
    assert dialog.example_button.text() == "Open an example session"
    assert dialog.scratch_button.text() == "Start from scratch"
    assert settings.read_int(WELCOME_SHOWN, 0) == 1
    dialog.reject()  # closed without choosing: still shown once
    _close(qtbot, first)

    assert gui.app.main([]) == 0
    (second,) = [w for w in _main_windows() if w is not first]
    assert second.findChild(WelcomeDialog) is None
    assert not second.tour.is_open
    _close(qtbot, second)


def test_a_screenshot_never_greets(qtbot, tmp_path, monkeypatch):
    import gui.app
    import gui.welcome_dialog

    greeted = []
    monkeypatch.setattr(gui.welcome_dialog, "greet_on_start", greeted.append)
    assert gui.app.main(["--screenshot", str(tmp_path / "shot.png"), "--size", "800x600"]) == 0
    assert greeted == []
    assert not any(isinstance(w, WelcomeDialog) and w.isVisible() for w in QApplication.topLevelWidgets())
    assert settings.read_int(WELCOME_SHOWN, 0) == 0  # the next real start still greets


def test_start_from_scratch_goes_to_the_data_stage(qtbot, window):
    window.show_stage("evaluation")
    dialog = show_welcome(window)
    qtbot.mouseClick(dialog.scratch_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert window.tabs.currentWidget() is window.data_tab
    assert not window.tour.is_open


def test_take_the_tour_opens_it_at_its_first_step(qtbot, window):
    window.show_stage("evaluation")
    dialog = show_welcome(window)
    qtbot.mouseClick(dialog.tour_button, Qt.MouseButton.LeftButton)
    assert window.tour.is_open and window.tour.index == 0
    assert window.tabs.currentWidget() is window.data_tab
    assert window.tour.panel.title_label.text().startswith("Step 1 of 5")


# "Open an example session" opens the shipped example session: tests/gui/test_example_session.py.


# --- the tour ------------------------------------------------------------------------------------------


def test_the_tour_goes_through_the_five_stages_in_order():
    assert STEP_KEYS == ["data", "pretraining", "instruction", "preference", "evaluation"]
    assert [step.stage for step in TOUR_STEPS] == STEP_KEYS
    for step in TOUR_STEPS:
        sentences = step.explanation.count(". ") + 1
        assert 2 <= sentences <= 3, step.key  # short and plain


def test_next_waits_for_the_data_and_pretraining_steps_to_really_happen(qtbot, window, tiny_configs):
    tour = window.tour
    tour.open()
    panel = tour.panel
    # Data: the default world loading by itself is not the learner's curation.
    assert tour.current_step.key == "data" and not panel.next_button.isEnabled()
    junk_box = window.data_tab.curation_panel.junk_box
    assert tour.spotlight.target is junk_box
    with qtbot.waitSignal(window.data_tab.curated_changed, timeout=UI_TIMEOUT_MS):
        # On the box itself (a check box stretched across the column ignores clicks beside its text).
        qtbot.mouseClick(junk_box, Qt.MouseButton.LeftButton, pos=QPoint(junk_box.height() // 2, junk_box.height() // 2))
    assert panel.next_button.isEnabled() and tour.has_happened("data")
    assert tour.spotlight.target is panel.next_button  # now the control to press is Next
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)

    # Pretraining: Next stays off during the run and comes on when it finishes with a model.
    assert tour.current_step.key == "pretraining"
    tab = window.pretraining_tab
    assert window.tabs.currentWidget() is tab
    assert tour.spotlight.target is tab.start_button and not panel.next_button.isEnabled()
    set_tiny_settings(tab, tiny_configs, total_steps=8)
    with qtbot.waitSignal(tab.controller.running_changed, timeout=UI_TIMEOUT_MS):
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert not panel.next_button.isEnabled()
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS):
        pass
    assert tab.controller.current_model is not None
    assert panel.next_button.isEnabled() and "✓" in panel.status_label.text()
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert tour.current_step.key == "instruction"
    assert window.tabs.currentWidget() is window.instruction_tab
    assert not panel.next_button.isEnabled()  # the next step has not happened yet


def test_next_waits_for_the_tuning_and_evaluation_steps(qtbot, make_window, world_base):
    """Steps 3 to 5. The tuning tabs' runs are tested in their own files (they end in ``model_changed``);
    here each tab announces a real model on that signal, which is what the tour watches, so this test
    spends its time on one real benchmark rather than on two more compilations."""
    settings.write(TOUR_STEP, STEP_KEYS.index("instruction"))
    window = make_window()
    tour = window.tour
    tour.open()
    panel = tour.panel
    tab = window.instruction_tab
    # No model to start from yet: the framed control is the one that provides it.
    assert tour.current_step.key == "instruction" and not panel.next_button.isEnabled()
    assert window.tabs.currentWidget() is tab
    if shipped_stages():
        assert tour.spotlight.target is tab.shipped_button
    tab.set_base_model(world_base)
    qtbot.waitUntil(lambda: tour.spotlight.target is tab.start_button, timeout=UI_TIMEOUT_MS)
    window.pretraining_tab.controller.model_changed.emit(world_base)  # another stage's model: not this step
    assert not panel.next_button.isEnabled()
    instruction_tuned = dataclasses.replace(world_base, stage=STAGE_INSTRUCTION)
    tab.model_changed.emit(instruction_tuned)
    assert panel.next_button.isEnabled()
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)

    # Preference tuning starts from the model just tuned (the window hands it on).
    preference = window.preference_tab
    assert tour.current_step.key == "preference" and not panel.next_button.isEnabled()
    assert window.tabs.currentWidget() is preference
    assert preference.base_model is instruction_tuned
    qtbot.waitUntil(lambda: tour.spotlight.target is preference.start_button, timeout=UI_TIMEOUT_MS)
    preference.model_changed.emit(dataclasses.replace(world_base, stage="preference"))
    assert panel.next_button.isEnabled()
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)

    # Evaluation: a real benchmark; one stopped after its first answers counts, Finish leads to the end.
    evaluation = window.evaluation_tab
    assert tour.current_step.key == "evaluation" and not panel.next_button.isEnabled()
    assert panel.next_button.text() == "Finish"
    for name in window.model_shelf.names()[1:]:
        evaluation.set_ticked(name, False)  # one model is enough to see the signal
    evaluation.question_combo.setCurrentIndex(1)  # all questions: long enough to stop it midway
    assert tour.spotlight.target is evaluation.run_button  # the session's models are under test
    qtbot.mouseClick(evaluation.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(evaluation.results), timeout=RUN_TIMEOUT_MS)
    assert not panel.next_button.isEnabled()  # answers are coming, but the benchmark has not ended
    evaluation.stop_button.click()
    qtbot.waitUntil(lambda: not evaluation.runner.is_running, timeout=RUN_TIMEOUT_MS)
    assert len(evaluation.results) < evaluation.progress_bar.maximum()  # it was stopped, not finished
    assert panel.next_button.isEnabled()
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert tour.current_step is None and panel.why_button.isVisible()
    assert tour.spotlight.target is panel.why_button
    assert settings.read_int(TOUR_STEP, -1) == len(TOUR_STEPS)


def test_the_frame_is_around_the_named_control_and_follows_it(qtbot, window):
    settings.write(TOUR_STEP, STEP_KEYS.index("pretraining"))
    window.tour.index = STEP_KEYS.index("pretraining")
    window.tour.open()
    spotlight, button = window.tour.spotlight, window.pretraining_tab.start_button
    assert spotlight.target is button
    qtbot.waitUntil(lambda: _frames(spotlight, button, window), timeout=UI_TIMEOUT_MS)
    before = spotlight.frame_rect

    window.resize(1100, 700)  # the button moves up with the window's bottom edge
    qtbot.waitUntil(lambda: _frames(spotlight, button, window) and spotlight.frame_rect != before,
                    timeout=UI_TIMEOUT_MS)
    width = spotlight.pen_width
    window.zoom_in_action.trigger()  # bigger text: a bigger button and a thicker frame
    window.zoom_in_action.trigger()
    assert spotlight.pen_width > width
    qtbot.waitUntil(lambda: _frames(spotlight, button, window), timeout=UI_TIMEOUT_MS)

    window.show_stage("data")  # the button is not on screen: neither is its frame
    qtbot.waitUntil(lambda: not spotlight.isVisible(), timeout=UI_TIMEOUT_MS)
    window.show_stage("pretraining")
    qtbot.waitUntil(lambda: _frames(spotlight, button, window), timeout=UI_TIMEOUT_MS)
    window.reset_zoom_action.trigger()


def test_leaving_and_coming_back_resumes_the_same_step(qtbot, make_window):
    window = make_window()
    tour = window.tour
    window.tour_action.trigger()  # Help → Guided tour
    assert tour.is_open and tour.index == 0
    window.data_tab.curation_panel.junk_box.click()
    qtbot.waitUntil(tour.panel.next_button.isEnabled, timeout=UI_TIMEOUT_MS)
    tour.panel.next_button.click()
    assert tour.index == 1
    tour.panel.leave_button.click()
    assert not tour.is_open and not tour.spotlight.isVisible()
    assert settings.read_int(TOUR_STEP, -1) == 1 and settings.read_int(TOUR_OPEN, -1) == 0
    window.show_stage("data")
    window.tour_action.trigger()
    assert tour.is_open and tour.index == 1 and window.tabs.currentWidget() is window.pretraining_tab
    window.close()

    # After a restart: the step is remembered, and a tour left open at closing opens again by itself.
    settings.write(WELCOME_SHOWN, 1)
    again = make_window()
    assert not again.tour.is_open and again.tour.index == 1
    assert greet_on_start(again) is None  # not the first start: no welcome
    assert again.tour.is_open and again.tour.current_step.key == "pretraining"
    assert again.tabs.currentWidget() is again.pretraining_tab
    assert not again.tour.panel.next_button.isEnabled()  # this session has trained nothing yet
    again.tour.leave()
    again.close()
    third = make_window()
    assert greet_on_start(third) is None and not third.tour.is_open  # it was left: it stays closed


# --- "Why does AI do that?" ---------------------------------------------------------------------------

# Each question and the lesson (engine.evaluation.lessons) or Data-tab chart its buttons must open, in order.
EXPECTED_PLACES = {
    "hallucination": [("lesson", "hallucination")],
    "outdated": [("lesson", "cutoff"), ("chart", "year_histogram")],
    "context": [("lesson", "context")],
    "tools": [("lesson", "agreement"), ("lesson", "bias")],
    "topics": [("lesson", "coverage"), ("chart", "coverage_chart")],
}


def _shown_in(widget, scroll) -> bool:
    """Some of ``widget`` lies inside the visible part of ``scroll`` (not scrolled away)."""
    viewport = scroll.viewport()
    rect = QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size()).intersected(viewport.rect())
    return widget.isVisible() and rect.height() > widget.height() // 2


def test_each_why_answer_opens_the_lesson_or_chart_that_shows_it(qtbot, window):
    window.resize(900, 600)  # small enough that the Data tab's charts scroll
    charts = window.data_tab.charts_scroll
    window.show_stage("data")
    qtbot.waitUntil(lambda: charts.verticalScrollBar().maximum() > 0, timeout=UI_TIMEOUT_MS)
    window.why_action.trigger()  # Help → Why does AI do that? (F1)
    panel = window.findChild(WhyAiDoesThatPanel)
    assert panel is not None and panel.isVisible()
    assert [q.key for q in QUESTIONS] == list(EXPECTED_PLACES)
    for item in QUESTIONS:
        sentences = item.answer.count(". ") + 1
        assert 2 <= sentences <= 3, item.key
    lessons, pages = window.evaluation_tab.lessons_page, window.evaluation_tab.pages
    for key, places in EXPECTED_PLACES.items():
        buttons = panel.buttons[key]
        assert len(buttons) == len(places)
        for button, (kind, name) in zip(buttons, places):
            # Start somewhere else each time, so that arriving proves the button did it.
            window.show_stage("pretraining")
            lessons.select_lesson("scale")
            bar = charts.verticalScrollBar()
            bar.setValue(bar.maximum() if name == "coverage_chart" else bar.minimum())
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            if kind == "lesson":
                assert window.tabs.currentWidget() is window.evaluation_tab, key
                assert pages.tabText(pages.currentIndex()) == "Lessons", key
                assert lessons.lesson_key == name, key
            else:
                chart = getattr(window.data_tab, name)
                assert window.tabs.currentWidget() is window.data_tab, key
                qtbot.waitUntil(lambda c=chart: _shown_in(c, charts), timeout=UI_TIMEOUT_MS)
    assert panel.isVisible()  # the answer stays readable beside what it opened
    panel.close()
