"""Issue 15 on the Pretraining tab: every part of it explains itself to a newcomer.

The size menu keeps the chosen size when only the steps change, and its time agrees with the summary;
the sample log shows the newest sample from its heading; the loss plot draws even a single point; and
samples of a byte-level BPE model never show the replacement character.
"""

from __future__ import annotations

import re

import pytest

from engine.config import PRESETS
from engine.tokenizer import PARTIAL_CHARACTER
from gui.widgets.loss_plot import LossPlot
from gui.widgets.model_settings_panel import ModelSettingsPanel
from gui.widgets.sample_log import SampleLog
from gui.zoom import ZoomController


@pytest.fixture
def panel(qtbot):
    panel = ModelSettingsPanel()
    qtbot.addWidget(panel)
    panel.set_flops_per_second(2e10)
    return panel


def _choose(panel, title_start: str) -> None:
    index = next(i for i in range(panel.preset_combo.count()) if panel.preset_combo.itemText(i).startswith(title_start))
    panel.preset_combo.setCurrentIndex(index)


def _type_steps(qtbot, panel, text: str) -> None:
    spin = panel.fields["total_steps"]
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    assert spin.value() == int(text)


def test_typing_a_step_count_keeps_the_chosen_size_and_its_time_follows(qtbot, panel):
    _choose(panel, "Tiny")
    _type_steps(qtbot, panel, "1600")  # four times the preset's 400 steps, typed one digit at a time
    combo = panel.preset_combo
    assert combo.currentText().startswith("Tiny") and panel.preset_key() == "tiny"
    assert "1,600 steps" in panel.preset_explanation.text()
    # The menu's time is the summary's time: both for 1,600 steps.
    in_title = re.search(r"\((.*)\)$", combo.currentText()).group(1)
    in_summary = re.search(r"Training time on this computer: (.*)$", panel.summary.text()).group(1)
    assert in_title == in_summary
    assert panel.train_config().total_steps == 1600
    # A change to the model's shape does make it a size of one's own.
    panel.fields["n_layers"].setValue(3)
    assert combo.currentText().startswith("Custom")


def test_a_different_seed_keeps_the_chosen_size(qtbot, panel):
    _choose(panel, "Small")
    panel.fields["seed"].setValue(7)
    assert panel.preset_key() == "small"


def test_no_size_promises_a_time_the_menu_might_contradict():
    # The measured estimate in the menu is the only time a size states ("in about a minute" once
    # sat beside "about 8 min").
    for preset in PRESETS:
        assert not re.search(r"minute|second|hour|\bmin\b", preset.explanation), preset.explanation


# --- the loss plot at step 1 ---------------------------------------------------------------------------

def test_a_single_loss_point_is_drawn_with_a_marker(qtbot):
    plot = LossPlot(ZoomController(remember=False))
    qtbot.addWidget(plot)
    plot.add_training_losses([1], [4.2])
    plot.flush()
    # A line through one point draws nothing; its marker is what shows at step 1.
    assert plot.train_point_count() == 1 and plot.train_marker() is not None
    assert plot._train_curve.scatter.points()[0].pos().y() == pytest.approx(4.2)
    # A long curve is a line: dots at hundreds of points would blur it.
    plot.add_training_losses(range(2, 400), [3.0] * 398)
    plot.flush()
    assert plot.train_marker() is None
    plot.clear_points()
    assert plot.train_marker() is not None


# --- the sample log ------------------------------------------------------------------------------------

def test_the_newest_samples_heading_stays_in_view(qtbot):
    log = SampleLog(ZoomController(remember=False))
    qtbot.addWidget(log)
    log.resize(420, log.fontMetrics().lineSpacing() * 6)  # a short log: a sample fills more than its height
    log.show()
    qtbot.waitExposed(log)
    long_text = "the king of the north rode to the sea and " * 8
    for step in (0, 50, 100, 150):
        log.add_sample(step, "Once ", long_text)
        # The heading of the text on screen is on screen, at the top.
        assert log.heading_visible(step), step
        assert not log.heading_visible(step - 50) if step else True
    # Scrolled up to read an older one: a new sample does not pull the reader away.
    log.verticalScrollBar().setValue(0)
    log.add_sample(200, "Once ", long_text)
    assert log.heading_visible(0) and not log.heading_visible(200)


def test_partial_letters_show_as_a_mark_with_its_meaning(qtbot, tab):
    # A byte-level BPE sample cut inside a letter, or an old saved model's text with "�" in it.
    tab.sample_log.add_sample(10, "The ", "caf\ufffd and cr\ufffd")
    tab.lower_tabs.setCurrentIndex(0)
    assert "\ufffd" not in tab.sample_log.toPlainText()
    assert f"caf{PARTIAL_CHARACTER} and" in tab.sample_log.toPlainText()
    assert tab.sample_legend.isVisibleTo(tab) and "part of a letter" in tab.sample_legend.text()
    tab.sample_log.clear_samples()
    assert not tab.sample_legend.isVisibleTo(tab)


def test_the_time_lapse_of_a_saved_model_shows_partial_letters_as_the_mark(qtbot):
    # The shipped models' snapshots were saved with "�" in them (decoded before ``display`` existed).
    from engine.stages.time_lapse import Snapshot
    from gui.widgets.time_lapse_panel import TimeLapsePanel

    panel = TimeLapsePanel(ZoomController(remember=False))
    qtbot.addWidget(panel)
    plain = Snapshot(0, None, None, "The ", "king of the sea", (("k", 0.5),))
    broken = Snapshot(10, 3.0, 3.1, "The ", "caf\ufffd\ufffd", (("\ufffd", 0.4), ("c", 0.3)))
    panel.set_snapshots((plain, broken))
    panel.show_step(10)
    assert "\ufffd" not in panel.shown_text() and panel.shown_text().endswith(PARTIAL_CHARACTER * 2)
    assert [token for token, _p in panel.shown_guesses()] == [PARTIAL_CHARACTER, "c"]
    assert panel.partial_legend.isVisibleTo(panel) and "part of a letter" in panel.partial_legend.text()
    panel.show_step(0)
    assert not panel.partial_legend.isVisibleTo(panel)


def test_answers_coloured_by_confidence_show_the_mark_too():
    # The Evaluation tab colours each token of an answer; a token that is half a letter is one of them.
    from gui.widgets.confidence_text import confidence_html

    shown = confidence_html([("caf", 0.9), ("\ufffd", 0.2), ("\ufffd", 0.3)])
    assert "\ufffd" not in shown and shown.count(PARTIAL_CHARACTER) == 2


def test_a_log_made_shorter_still_shows_the_newest_sample_down_to_its_end(qtbot):
    # The message "Stopped at step 60" appears above the log when a run stops, and the log gets shorter.
    log = SampleLog(ZoomController(remember=False))
    qtbot.addWidget(log)
    line = log.fontMetrics().lineSpacing()
    log.resize(600, line * 12)
    log.show()
    qtbot.waitExposed(log)
    for step in (0, 20, 40):
        log.add_sample(step, "The ", "king rode\n\nto the sea")
    log.resize(600, line * 8)
    qtbot.waitUntil(lambda: log.viewport().height() < line * 8)
    assert log.heading_visible(40)
    end = log.document().lastBlock()
    bottom = log.blockBoundingGeometry(end).translated(log.contentOffset()).bottom()
    assert bottom <= log.viewport().height() + 1  # its last line is in view too
