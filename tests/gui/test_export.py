"""Exports: every plot and chart as a PNG of the size asked for, in the theme's colours; comparison tables as
CSV that reads back to the same rows; a folder that cannot be written to gives a plain message, never a
traceback. Real widgets in a real window; the file dialog is answered by the test.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
from PySide6.QtGui import QAction, QColor, QImage
from PySide6.QtWidgets import QFileDialog, QPushButton

from engine.evaluation.benchmark import ModelAnswer
from engine.events import PreferenceMetrics
from gui import export
from gui.presentation import unnamed_controls
from gui.themes import DARK, LIGHT
from gui.widgets.bar_chart import BarRow
from gui.widgets.comparison_table import ComparedRow, rows_from_csv

ROWS = [
    ComparedRow("Capital of Zarn?", "Olo", "Olo, of course.", True, "Olo.", True),
    ComparedRow('Say "hi", then stop', "answer", "hi,\nthen more", False, "Hi.", None),
    ComparedRow("Où est Ümlaut?", "say “I don't know”", "", None, "I don't know 🙂", True),
]


def _answer_dialog(monkeypatch, path) -> list[str]:
    """Answer the next Save dialogs with ``path``; returns the file names they suggested."""
    suggested = []

    def dialog(_parent, _caption, suggestion, _filter):
        suggested.append(suggestion)
        return str(path), _filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    return suggested


def _size(path) -> tuple[int, int]:
    image = QImage(str(path))
    assert not image.isNull(), path
    return image.width(), image.height()


def test_png_export_writes_an_image_of_the_requested_size(qtbot, window, tmp_path, monkeypatch):
    # Something in each kind of plot: a loss curve, a held-out metrics plot, bar charts, a histogram.
    loss_plot = window.instruction_tab.plot
    loss_plot.add_training_losses([0, 10, 20, 30], [5.0, 3.5, 2.5, 2.0])
    metrics = window.preference_tab.metrics_plot
    metrics.add(PreferenceMetrics(0, 0.0, 0.0))
    metrics.add(PreferenceMetrics(50, 1.5, 0.75))
    chart = window.evaluation_tab.chart
    chart.set_data(["people", "places"], ["base", "tuned"],
                   {(g, s): (v, f"{v:.0%}") for g in ("people", "places") for s, v in (("base", 0.2), ("tuned", 0.6))})
    bars = window.data_tab.coverage_chart
    bars.set_rows([BarRow("people", 10, "10"), BarRow("places", 30, "30")], "Most text is about places.")
    histogram = window.data_tab.year_histogram
    next_tokens = window.pretraining_tab.predict_panel.bars

    for widget, size in ((loss_plot, (1920, 1080)), (metrics, (1280, 720)), (chart, (1920, 1080)),
                         (bars, (1024, 768)), (histogram, (1920, 1080)), (next_tokens, (800, 600))):
        before = widget.size()
        written = export.save_png(widget, tmp_path / f"{type(widget).__name__}-{size[0]}", size)
        assert written.suffix == ".png" and _size(written) == size, type(widget).__name__
        # Laid out for the picture, then put back (a page's scroll area may apply the size it was holding back).
        assert widget.size() in (before, widget.parentWidget().size())

    # The right-click menu's action, the tab's button and the older entry points all write projector PNGs.
    suggested = _answer_dialog(monkeypatch, tmp_path / "from-menu.png")
    loss_plot.export_action.trigger()
    assert _size(tmp_path / "from-menu.png") == export.PROJECTOR_SIZE
    assert suggested[-1].endswith("instruction-tuning-loss.png")
    assert "Saved the picture as 'from-menu.png'" in window.instruction_tab.message_bar.text()
    _answer_dialog(monkeypatch, tmp_path / "from-button")
    window.preference_tab.export_plot_button.click()
    assert _size(tmp_path / "from-button.png") == export.PROJECTOR_SIZE
    window.pretraining_tab.plot.export_action.trigger()  # the loss plot in Pretraining gets the menu too
    window.evaluation_tab.export_chart(tmp_path / "chart.png")
    assert _size(tmp_path / "chart.png") == export.PROJECTOR_SIZE
    assert window.data_tab.export_charts(tmp_path / "charts") is not None
    assert _size(tmp_path / "charts.png") == export.PROJECTOR_SIZE


def _main_colour(image: QImage) -> str:
    """The colour of most of a picture (sampled on a grid): its background."""
    samples = Counter(image.pixelColor(x, y).name() for x in range(0, image.width(), 7)
                      for y in range(0, image.height(), 7))
    return samples.most_common(1)[0][0]


def test_an_exported_png_has_the_current_themes_colours(qtbot, make_window, tmp_path):
    window = make_window(theme="light")
    plot, chart = window.pretraining_tab.plot, window.evaluation_tab.chart
    assert _main_colour(QImage(str(export.save_png(plot, tmp_path / "light.png")))) == QColor(LIGHT.base).name()
    with qtbot.waitSignal(window.themes.theme_changed, timeout=1000):
        window.theme_actions["dark"].trigger()
    qtbot.waitUntil(lambda: plot.background_color() == QColor(DARK.base), timeout=2000)
    assert _main_colour(QImage(str(export.save_png(plot, tmp_path / "dark.png")))) == QColor(DARK.base).name()
    qtbot.waitUntil(lambda: chart.palette().color(chart.backgroundRole()) == QColor(DARK.window), timeout=2000)
    image = QImage(str(export.save_png(chart, tmp_path / "dark-chart.png")))
    assert _main_colour(image) == QColor(DARK.base).name()  # the chart's card, as on screen


def test_csv_export_of_a_comparison_table_round_trips_its_rows(qtbot, window, tmp_path, monkeypatch):
    for tab in (window.instruction_tab, window.preference_tab):
        table = tab.comparison
        assert not table.export_button.isEnabled()  # nothing to export yet
        table.set_rows(ROWS, "Right: 33% → 67%.")
        assert table.export_button.isEnabled()
        path = tmp_path / f"{tab.objectName()}.csv"
        _answer_dialog(monkeypatch, path)
        table.export_button.click()
        header, rows = export.read_csv(path)
        assert header[:3] == ["Asked", "Hoped for", table.before_title] and table.after_title in header
        assert rows_from_csv(rows) == ROWS == table.rows()
        assert "Saved 3 rows" in tab.message_bar.text()
        table.export_action.trigger()  # the table's right-click menu writes the same file
        assert rows_from_csv(export.read_csv(path)[1]) == ROWS


def test_the_compare_panels_answers_export_as_csv(qtbot, window, tmp_path, monkeypatch):
    panel = window.evaluation_tab.compare_panel
    answers = [ModelAnswer("Pretrained", "Olo is, is, is", (("Olo", 0.5),), 0.5, False, False),
               ModelAnswer("Tuned, kindly", "I don't know.", (), float("nan"), False, True)]
    panel._asked = 7
    panel._on_answers((7, "Capital of Zarn?"), answers)  # as the worker hands them over
    assert panel.export_button.isEnabled()
    _answer_dialog(monkeypatch, tmp_path / "compared")
    panel.export_button.click()
    header, rows = export.read_csv(tmp_path / "compared.csv")
    assert header[:3] == ["Prompt", "Model", "Answer"]
    assert [r[:3] for r in rows] == [["Capital of Zarn?", a.model, a.text] for a in answers]
    assert float(rows[0][3]) == pytest.approx(0.5) and rows[1][3] == "" and math.isnan(answers[1].confidence)
    assert rows[1][5] == "yes"


def test_a_file_that_cannot_be_written_gives_a_plain_message(qtbot, window, tmp_path):
    tab = window.instruction_tab
    tab.comparison.set_rows(ROWS, "")
    in_the_way = tmp_path / "taken.png"
    in_the_way.mkdir()  # a folder where the file should go: the write itself fails
    for target, widget, bar in ((tmp_path / "no-such-folder" / "x.png", tab.plot, tab.message_bar),
                                (in_the_way, tab.plot, tab.message_bar)):
        assert export.export_png(widget, target) is None
        message = bar.text()
        assert "could not be saved" in message and "Traceback" not in message and "\n" not in message
    assert export.export_csv(tab.comparison, tmp_path / "no-such-folder" / "t.csv", *tab.comparison.csv_table()) is None
    assert "does not exist" in tab.message_bar.text()
    with pytest.raises(export.ExportError, match="between"):
        export.save_png(tab.plot, tmp_path / "huge.png", (100_000, 10))
    assert not list(tmp_path.glob("**/*.partial")) and not (tmp_path / "huge.png").exists()


def test_every_export_control_is_named_and_explained(window):
    actions = [a for a in window.findChildren(QAction) if a.text().startswith("Export as")]
    assert len(actions) >= 12  # every plot, chart and comparison table
    assert all(a.toolTip() and a.toolTip() != a.text().rstrip("…") for a in actions)
    buttons = [b for b in window.findChildren(QPushButton) if b.text().startswith("Export")]
    assert len(buttons) >= 6
    for button in buttons:
        assert button.toolTip() and button.accessibleName(), button.text()
    assert unnamed_controls(window) == []


def test_the_tabs_export_plot_buttons_write_projector_size_pictures(qtbot, window, tmp_path, monkeypatch):
    # The buttons beside each loss curve go through the same helper as the right-click menu.
    window.pretraining_tab.plot.add_training_losses([0, 10, 20], [4.0, 3.0, 2.5])
    window.instruction_tab.plot.add_training_losses([0, 10, 20], [5.0, 3.5, 2.5])
    for name, button in (("pretraining", window.pretraining_tab.export_button),
                         ("instruction", window.instruction_tab.export_plot_button),
                         ("preference", window.preference_tab.export_plot_button)):
        target = tmp_path / f"{name}.png"
        suggested = _answer_dialog(monkeypatch, target)
        button.click()
        assert suggested and suggested[-1].endswith(".png")
        assert _size(target) == export.PROJECTOR_SIZE, name


def test_the_tuning_curves_name_what_their_dashed_line_measures(window):
    # Tuning checks on pairs held back from training, not on unseen running text as pretraining does.
    def labels(plot):
        return [item.name() for item in plot.plotItem.listDataItems()]

    assert "validation loss (unseen text)" in labels(window.pretraining_tab.plot)
    for tab in (window.instruction_tab, window.preference_tab):
        assert "loss on held-back pairs" in labels(tab.plot)
        assert "validation loss (unseen text)" not in labels(tab.plot)
