"""The window: the five stages in order, the zoom that scales everything, and what it remembers."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from gui.main_window import STAGES, MainWindow
from gui.settings import ZOOM_PERCENT, app_settings

pytestmark = pytest.mark.timeout(120)


def test_five_stages_in_pipeline_order_with_the_built_ones_enabled(window):
    tabs = window.tabs
    assert window.windowTitle() == "Training Explorer"
    assert [tabs.tabText(i) for i in range(tabs.count())] == [
        "Data", "Pretraining", "Instruction tuning", "Preference tuning", "Evaluation",
    ]
    assert all(tabs.isTabEnabled(i) for i in range(tabs.count()))
    assert tabs.currentWidget() is window.data_tab  # the journey starts with the data
    for index, stage in enumerate(STAGES):
        assert tabs.tabToolTip(index) == stage.promise  # every stage says in one line what it does


def test_zoom_scales_the_app_font_and_the_plot_and_is_remembered(make_window, fresh_settings):
    window = make_window()
    plot = window.pretraining_tab.plot
    base = QApplication.font().pointSizeF()
    assert plot.tick_font_point_size() == pytest.approx(base)

    window.zoom_in_action.trigger()
    window.zoom_in_action.trigger()
    zoomed = QApplication.font().pointSizeF()
    assert window.zoom.percent > 100
    assert zoomed == pytest.approx(base * window.zoom.percent / 100)
    # Plot text follows the app font, and lines never get thinner than 2 px.
    assert plot.tick_font_point_size() == pytest.approx(zoomed)
    assert plot._train_curve.opts["pen"].widthF() >= 2 * window.zoom.scale - 1e-6
    assert int(app_settings().value(ZOOM_PERCENT)) == window.zoom.percent

    remembered = window.zoom.percent
    window.close()
    again = make_window()
    assert again.zoom.percent == remembered
    assert QApplication.font().pointSizeF() == pytest.approx(zoomed)
    assert again.pretraining_tab.plot.tick_font_point_size() == pytest.approx(zoomed)

    again.zoom_out_action.trigger()
    assert again.zoom.percent < remembered
    again.reset_zoom_action.trigger()
    assert again.zoom.percent == 100
    assert QApplication.font().pointSizeF() == pytest.approx(base)
    assert again.pretraining_tab.plot.tick_font_point_size() == pytest.approx(base)


def test_zoom_actions_carry_the_usual_shortcuts(window):
    assert QKeySequence(QKeySequence.StandardKey.ZoomIn) in window.zoom_in_action.shortcuts()
    assert QKeySequence("Ctrl+=") in window.zoom_in_action.shortcuts()
    assert QKeySequence("Ctrl+-") in window.zoom_out_action.shortcuts()
    assert window.reset_zoom_action.shortcut() == QKeySequence("Ctrl+0")


def test_zoom_stays_within_its_range(window):
    for _ in range(30):
        window.zoom.zoom_in()
    assert window.zoom.percent == 300
    for _ in range(30):
        window.zoom.zoom_out()
    assert window.zoom.percent == 50


def test_window_remembers_its_size_and_stage(make_window):
    window = make_window()
    window.resize(760, 560)  # inside the offscreen screen (800x600): restoreGeometry clamps to it
    window.show_stage("pretraining")
    window.close()
    again = MainWindow()
    try:
        assert (again.width(), again.height()) == (760, 560)
        assert again.tabs.currentWidget() is again.pretraining_tab
    finally:
        again.close()


def test_a_stage_can_be_shown_by_name(window):
    window.show_stage("EVALUATION")
    assert window.tabs.currentWidget() is window.evaluation_tab
    with pytest.raises(KeyError):
        window.show_stage("finetuning")


def test_each_stage_puts_its_newest_model_on_the_evaluation_shelf(window, world_base, qtbot):
    from dataclasses import replace

    from gui.model_shelf import SESSION_NAMES

    shelf = window.model_shelf
    tuned = replace(world_base, stage="instruction")
    with qtbot.waitSignal(shelf.changed, timeout=1000):
        window.instruction_tab.model_changed.emit(tuned)
    assert shelf.names() == [SESSION_NAMES["instruction"]] and shelf.get(SESSION_NAMES["instruction"]) is tuned
    window.pretraining_tab.controller.model_changed.emit(world_base)
    newer = replace(world_base, stage="instruction", step=world_base.step + 1)
    window.instruction_tab.model_changed.emit(newer)  # replaces the older one, and sorts after pretraining
    assert shelf.names() == [SESSION_NAMES["pretraining"], SESSION_NAMES["instruction"]]
    assert shelf.get(SESSION_NAMES["instruction"]) is newer
    name = shelf.put_opened_model(world_base, "/tmp/x", SESSION_NAMES["pretraining"])
    assert name == SESSION_NAMES["pretraining"] + " (2)" and len(shelf.names()) == 3
    window.pretraining_tab.controller.model_changed.emit(None)
    assert shelf.names() == [SESSION_NAMES["instruction"], name]
