"""The lessons page through its widgets: a lesson with missing models says so and offers to train them;
the button trains them, the lesson then runs on its own, and its numbers and plot appear."""

from __future__ import annotations

import pytest

from engine.evaluation import lesson_models as lm
from engine.config import ModelConfig, replace
from tests.gui.conftest import RUN_TIMEOUT_MS

# Tiny variants with a recipe of their own (3 log points where tests/engine/test_lessons.py has 2), so no
# other test's models count as trained. (Not the seed: each variant trains with its own seed, and its recipe
# records that one.)
RECIPE = {"model": ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32),
          "train": replace(lm.LESSON_TRAIN, total_steps=4, warmup_steps=1, log_every=3, eval_batches=1)}


@pytest.fixture
def page(qtbot):
    from gui.lessons_page import LessonsPage
    from gui.model_shelf import ModelShelf
    from gui.zoom import ZoomController

    shelf = ModelShelf()
    widget = LessonsPage(ZoomController(remember=False), shelf, recipe=RECIPE)
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    yield widget
    assert widget.shutdown(60)


def test_missing_models_are_named_then_trained_and_the_lesson_shows_its_result(qtbot, page):
    page.select_lesson("agreement")
    assert page.train_button.isEnabled()
    assert lm.SECOND_SEED.title in page.status_label.text()

    page.run_button.click()  # refused with the reason, and the fix offered
    assert page.message_bar.level() == "warning"
    assert lm.BASE.title in page.message_bar.text() and lm.SECOND_SEED.title in page.message_bar.text()
    assert page.message_bar.action_labels() == ["Train the missing models"]

    with qtbot.waitSignal(page.result_shown, timeout=2 * RUN_TIMEOUT_MS) as shown:
        page.message_bar.action_button("Train the missing models").click()
        assert page.stop_button.isEnabled() and not page.run_button.isEnabled()
    result = shown.args[0]
    qtbot.waitUntil(lambda: not page.runner.is_running, timeout=RUN_TIMEOUT_MS)
    assert lm.missing([lm.BASE, lm.SECOND_SEED], **RECIPE) == []
    assert result.lesson == "agreement" and not result.partial
    # The numbers on screen are the result's, and the plot draws the outcome shares it counted.
    agree = result.numbers["agreement_between_models"]
    assert f"{100 * agree:.0f}%" in page.figures_label.text()
    drawn = page.plots[0].drawn()["share of questions"]
    outcomes = result.numbers["outcomes"]
    assert drawn == pytest.approx([v / sum(outcomes.values()) for v in outcomes.values()])
    assert page.plots[0].isVisible() and not page.plots[1].isVisible()
    assert page.explanation_label.text() == result.explanation
    assert not page.train_button.isEnabled() and page.run_button.isEnabled()
    # The status line says it finished and what it found (it used to flip straight back to "Ready").
    status = page.status_label.text()
    assert status.startswith("Finished in") and result.figures[0][1] in status and "Ready" not in status
    page.select_lesson("hallucination")  # another lesson: nothing of its own on screen yet
    assert page.status_label.text() != status


def test_scale_lesson_runs_with_a_model_from_the_shelf(qtbot, page, trained_model):
    page.shelf.put_session_model(trained_model)
    page.select_lesson("scale")
    page.model_combo.setCurrentText("Pretrained (this session)")
    with qtbot.waitSignal(page.result_shown, timeout=RUN_TIMEOUT_MS) as shown:
        page.run_button.click()
    result = shown.args[0]
    qtbot.waitUntil(lambda: not page.runner.is_running, timeout=RUN_TIMEOUT_MS)
    cfg, train = trained_model.model_config, trained_model.train_config
    assert result.numbers["tokens"] == trained_model.step * train.batch_size * cfg.context_length
    assert page.plots[0].drawn()["training compute"][0] == pytest.approx(result.numbers["flops_this_run"])
    assert "Pretrained (this session)" in page.explanation_label.text()


def test_confidence_reads_in_percent_and_the_numbers_on_bars_stay_above_the_dots(qtbot, page):
    """The hallucination lesson's plot: a bar per group, one dot per answer drawn over it, and the bar's
    value written above the dots, in percent (the benchmark says "88% sure"; lessons once said 0.88)."""
    import pyqtgraph as pg

    from engine.evaluation.lessons import LessonResult, PlotData, Series, _prob

    assert _prob(0.78) == "78%"
    plot = PlotData("How sure", "", "how sure (%)",
                    (Series("mean confidence", (0, 1, 2), (0.78, 0.64, 0.7)),
                     Series("one answer", (0.1, 1.05, 1.9, 2.0), (0.78, 0.64, 0.7, 0.71), "points")),
                    ("right answers", "wrong answers", "made-up countries"), y_range=(0.0, 1.0))
    result = LessonResult("hallucination", "Hallucination", {}, (("Confidence: right answers", _prob(0.78)),),
                          (plot,), "Made-up answers sound as sure as real ones.", False)
    page.show_result(result)
    assert "78%" in page.figures_label.text() and "0.78" not in page.figures_label.text()
    drawn = page.plots[0]
    texts = [i for i in drawn._items if isinstance(i, pg.TextItem)]
    dots = [i for i in drawn._items if isinstance(i, pg.PlotDataItem)]
    assert [t.toPlainText() for t in texts] == ["78%", "64%", "70%"]
    assert dots and all(t.zValue() > d.zValue() for t in texts for d in dots)
    assert all(t.fill.style() != pg.QtCore.Qt.BrushStyle.NoBrush for t in texts)  # on a background of their own
    # Written inside each bar at its foot, below every dot of that bar.
    xs, ys = plot.series[1].x, plot.series[1].y
    for i, t in enumerate(texts):
        assert t.pos().y() < min(y for x, y in zip(xs, ys) if abs(x - i) < 0.5) < plot.series[0].y[i] + 0.1
    ticks = drawn.plotItem.getAxis("left")._tickLevels
    assert [label for _, label in ticks[0]] == ["0%", "25%", "50%", "75%", "100%"]
