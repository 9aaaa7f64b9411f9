"""The Pretraining tab's time-lapse: filled live by a run and from opened models, its slider and the loss
plot's cursor moving each other, and readable in every theme at 200 % zoom (``gui/widgets/time_lapse_panel.py``)."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine.events import Finished
from engine.shipped_models import shipped_model_path, shipped_stages
from engine.trained_model import STAGE_PRETRAINING
from gui.themes import THEMES, contrast_ratio
from gui.widgets.time_lapse_panel import NO_SNAPSHOTS_TEXT
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS, set_tiny_settings

pytestmark = pytest.mark.timeout(400)


def _settle() -> None:
    for _ in range(6):
        QApplication.processEvents()


def test_a_run_fills_the_time_lapse_and_slider_and_cursor_move_each_other(qtbot, tab, tiny_configs):
    set_tiny_settings(tab, tiny_configs)  # 30 steps logged every 5: a snapshot every 5 steps
    panel, plot = tab.time_lapse, tab.plot
    arrived = []
    tab.controller.snapshot.connect(arrived.append)
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda e: isinstance(e, Finished) and e.reason == "completed"):
        tab.start_button.click()
    qtbot.waitUntil(lambda: not tab.controller.is_running, timeout=UI_TIMEOUT_MS)

    steps = [0, 5, 10, 15, 20, 25, 30]
    assert [s.step for s in arrived] == steps  # live, as events, one per planned step
    assert panel.snapshot_count() == len(steps) and panel.slider.maximum() == len(steps) - 1
    assert [s.step for s in tab.controller.current_model.time_lapse] == steps
    # It followed the run to its newest snapshot, and the cursor stands on that step.
    assert panel.current_index() == len(steps) - 1 and plot.cursor.isVisible() and plot.cursor_step() == 30
    last_text, last_guesses = panel.shown_text(), panel.shown_guesses()
    assert "after 30 steps" in panel.heading.text() and last_text.startswith(arrived[-1].prompt)

    # The slider moves the text, the bars and the cursor.
    panel.slider.setValue(0)
    assert panel.shown_text() != last_text and panel.shown_guesses() != last_guesses
    assert "before any training" in panel.heading.text()
    assert plot.cursor_step() == 0
    qtbot.keyClick(panel.slider, Qt.Key.Key_Right)  # the keyboard works too
    assert panel.current_index() == 1 and plot.cursor_step() == 5

    # Dragging the cursor moves the slider to the nearest snapshot; letting go lands the line on it.
    plot.cursor.setValue(21.0)  # what a drag does
    assert panel.current_index() == steps.index(20)
    assert panel.shown_text() == panel.snapshot_at(steps.index(20)).prompt + panel.snapshot_at(steps.index(20)).text
    plot.cursor.sigPositionChangeFinished.emit(plot.cursor)
    assert plot.cursor_step() == 20
    plot.cursor.setValue(1_000.0)  # dragged past the end: held at the last snapshot
    assert plot.cursor_step() == 30 and panel.current_index() == len(steps) - 1

    # Play walks through every snapshot from the start and stops at the end.
    panel._play_timer.setInterval(5)
    panel.play_button.click()
    assert panel.playing and panel.current_index() == 0
    qtbot.waitUntil(lambda: not panel.playing, timeout=UI_TIMEOUT_MS)
    assert panel.current_index() == len(steps) - 1 and plot.cursor_step() == 30

    # A new run starts an empty time-lapse, with no cursor until its first snapshot.
    tab.settings_panel.fields["total_steps"].setValue(10)
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS):
        tab.start_button.click()
        assert panel.snapshot_count() == 0 and not plot.cursor.isVisible()
    qtbot.waitUntil(lambda: not tab.controller.is_running, timeout=UI_TIMEOUT_MS)
    assert [panel.snapshot_at(i).step for i in range(panel.snapshot_count())] == [0, 5, 10]


def test_an_opened_model_shows_its_time_lapse_and_an_older_one_says_it_has_none(qtbot, tab, trained_model,
                                                                                tmp_path):
    from engine.checkpoint import save_checkpoint

    steps = [s.step for s in trained_model.time_lapse]
    assert steps == [0, 5, 10, 15, 20]
    path = save_checkpoint(trained_model, tmp_path / "cats")
    with qtbot.waitSignal(tab.model_opened, timeout=UI_TIMEOUT_MS):
        tab.open_model(path)
    panel = tab.time_lapse
    assert panel.snapshot_count() == len(steps) and tab.plot.cursor_step() == 20
    panel.slider.setValue(1)
    assert tab.plot.cursor_step() == 5 and panel.shown_text().endswith(trained_model.time_lapse[1].text)

    older = save_checkpoint(dataclasses.replace(trained_model, time_lapse=()), tmp_path / "older")
    with qtbot.waitSignal(tab.model_opened, timeout=UI_TIMEOUT_MS):
        tab.open_model(older)
    assert panel.snapshot_count() == 0 and not tab.plot.cursor.isVisible()
    assert panel.empty_label.text() == NO_SNAPSHOTS_TEXT and not panel.slider.isEnabled()


@pytest.mark.skipif(STAGE_PRETRAINING not in shipped_stages(), reason="the shipped models are not installed")
def test_the_shipped_pretrained_model_opens_into_the_time_lapse(qtbot, tab):
    with qtbot.waitSignal(tab.model_opened, timeout=UI_TIMEOUT_MS):
        tab.open_model(shipped_model_path(STAGE_PRETRAINING))
    model = tab.controller.current_model
    assert len(model.time_lapse) >= 20  # the shipped model carries its time-lapse
    assert tab.time_lapse.snapshot_count() == len(model.time_lapse)
    last = model.time_lapse[-1].step
    assert tab.plot.cursor_step() == last
    # The cursor's label names the step it stands at (it once still said "step 0" there).
    assert tab.plot.cursor.label.toPlainText() == f"step {last:,}"


@pytest.mark.parametrize("theme", list(THEMES))
def test_the_time_lapse_is_readable_at_200_percent_on_a_projector_in_every_theme(make_window, trained_model, theme):
    window = make_window(theme=theme, zoom_percent=200)
    window.resize(1280, 800)
    tab = window.pretraining_tab
    window.tabs.setCurrentWidget(tab)
    tab.show_model(trained_model)
    tab.lower_tabs.setCurrentWidget(tab.time_lapse_scroll)
    _settle()
    panel = tab.time_lapse
    assert panel.isVisible() and window.width() <= 1280
    assert tab.time_lapse_scroll.horizontalScrollBar().maximum() == 0  # never scrolls sideways
    # Slider, buttons and bars fit the panel's width; the bars are long enough to compare.
    for widget in (panel.slider, panel.play_button, panel.later_button, *panel.bars[:3]):
        assert widget.isVisible() and widget.geometry().right() <= panel.width(), widget
    assert panel.bars[0].width() >= panel.bars[0].fontMetrics().horizontalAdvance("100.0 %") * 2
    # Text in the theme's colours, legible on its background; the cursor drawn in the plot's ink.
    theme_colors = THEMES[theme]
    for label in panel.token_labels[:3]:
        assert contrast_ratio(label.palette().color(label.foregroundRole()), theme_colors.window) >= 4.5
    assert tab.plot.cursor.pen.color().name() == tab.plot.ink().name()
    assert tab.plot.cursor.label.textItem.font().pointSizeF() == pytest.approx(window.zoom.point_size, rel=0.01)
    assert panel.text_view.font().pointSizeF() >= window.zoom.point_size * 0.9
    assert panel.slider.accessibleName() and panel.slider.toolTip()
