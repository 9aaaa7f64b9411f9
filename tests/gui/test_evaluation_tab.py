"""The Evaluation tab through its widgets: benchmark, stop, open/refuse a model, blind rating, red team, compare."""

from __future__ import annotations

import csv
import dataclasses
import re

import jax
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from engine.data.documents import TOPICS
from engine.evaluation.benchmark import MIN_TOPIC_QUESTIONS, RIGHT, WRONG, AnswersGraded, load_ratings, ratings_path
from engine.model import init_params
from engine.data.stage_sets import REFUSAL
from engine.data.tuning_data import load_preferences
from gui.model_shelf import ModelShelf
from gui.preference_tab import votes_path
from gui.zoom import ZoomController
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS

NAMES = ("Model Alpha", "Model Beta")


@pytest.fixture
def clean_files():
    for path in (ratings_path(), votes_path()):
        path.unlink(missing_ok=True)
    yield
    for path in (ratings_path(), votes_path()):
        path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def two_models(world_base):
    other = dataclasses.replace(world_base, params=init_params(world_base.model_config, jax.random.PRNGKey(1)))
    return world_base, other


@pytest.fixture
def make_tab(qtbot, two_models, clean_files):
    tabs = []

    def make(models=two_models):
        from gui.evaluation_tab import EvaluationTab

        shelf = ModelShelf()
        for name, model in zip(NAMES, models):
            shelf.put_opened_model(model, f"/nowhere/{name}.safetensors", name)
        tab = EvaluationTab(ZoomController(remember=False), shelf)
        qtbot.addWidget(tab)
        tab.resize(1280, 800)
        tab.show()
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        assert tab.shutdown()


def _run_to_the_end(qtbot, tab):
    with qtbot.waitSignal(tab.runner.running_changed, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda running: not running):
        tab.run_button.click()


def test_a_benchmark_fills_the_table_and_the_chart(qtbot, make_tab, tmp_path):
    tab = make_tab()
    assert tab.models_under_test() and [n for n, _ in tab.models_under_test()] == list(NAMES)
    _run_to_the_end(qtbot, tab)
    n_questions = int(tab.questions_label.text().split()[0])
    table = tab.answers_table
    assert table.row_count() == 2 * n_questions == tab.progress_bar.value()
    assert "Finished" in tab.status_label.text()

    # The chart's "all topics" bars are the share of each model's rows the table grades right.
    rows = table.shown_rows()
    drawn = {(b.group, b.series): b.value for b in tab.chart.bars()}
    topics = {b.group for b in tab.chart.bars()}
    everything = f"All topics ({n_questions} questions)"
    assert everything in topics and len(topics) >= 3 and tab.chart.series() == list(NAMES)
    assert len(tab.chart.bars()) == len(topics) * 2
    for name in NAMES:
        mine = [r for r in rows if r[0] == name]
        assert drawn[(everything, name)] == pytest.approx(sum(r[4] == RIGHT for r in mine) / len(mine))
    # Every topic bar is named as on the Data tab, shows how many questions it rests on, and rests on
    # at least MIN_TOPIC_QUESTIONS; a smaller topic is named below the chart with its count instead.
    data_tab_names = {TOPICS[t].split(" (")[0] for t in TOPICS}
    asked = {}
    for q in tab._questions():
        asked[q.topic] = asked.get(q.topic, 0) + 1
    for bar in tab.chart.bars():
        name, count = re.fullmatch(r"(.+) \((\d+) questions\)", bar.group).groups()
        assert name in data_tab_names | {"All topics"} and int(count) >= MIN_TOPIC_QUESTIONS
        assert bar.text.endswith(f"/{count})")
    small = {t: n for t, n in asked.items() if n < MIN_TOPIC_QUESTIONS}
    assert small  # the held-out set asks about companies only twice
    assert tab.topics_note.isVisible() == bool(small)
    for topic, n in small.items():
        assert f"{TOPICS[topic].split(' (')[0]} ({n} question" in tab.topics_note.text()
    # The colours of the verdicts are explained under the table.
    legend = tab.answers_table.legend
    assert legend.isVisible() and all(w in legend.text() for w in ("green: right", "red: wrong", "yellow"))
    # The Model column is wide enough for every model's whole name.
    header = table.view.horizontalHeader()
    assert all(header.sectionSize(0) >= table.view.fontMetrics().horizontalAdvance(n) for n in NAMES)

    # Filters narrow the rows; sorting by confidence sorts numbers.
    tab.answers_table.model_filter.setCurrentText(NAMES[1])
    tab.answers_table.verdict_filter.setCurrentText(WRONG)
    wrong = sum(r[0] == NAMES[1] and r[4] == WRONG for r in rows)
    assert table.row_count() == wrong and all(r[0] == NAMES[1] for r in table.shown_rows())
    table.view.sortByColumn(5, Qt.SortOrder.AscendingOrder)
    shown = [float(r[5].rstrip("%")) for r in table.shown_rows()]
    assert shown == sorted(shown)

    # Exports: the CSV holds the rows shown; the PNG is a real picture.
    tab.export_csv(tmp_path / "answers")
    with (tmp_path / "answers.csv").open(encoding="utf-8-sig", newline="") as f:
        exported = list(csv.reader(f))
    assert exported[0][0] == "Model" and exported[1:] == table.shown_rows()
    tab.export_chart(tmp_path / "chart.png")
    image = QImage(str(tmp_path / "chart.png"))
    assert image.width() >= tab.chart.width() and image.height() > 100
    assert "Saved the chart" in tab.message_bar.text()


def test_stopping_keeps_the_answers_graded_so_far(qtbot, make_tab, monkeypatch):
    import time

    from engine.evaluation.benchmark import BenchmarkRun

    # The worker holds after its first chunk until Stop is pressed: on a busy machine it used to grade every
    # question before the GUI thread got to the first chunk's click (144 of 144, the stop came too late).
    real_events = BenchmarkRun.events

    def events_that_wait_for_the_stop(self):
        for event in real_events(self):
            yield event
            if isinstance(event, AnswersGraded):
                deadline = time.monotonic() + 60
                while not self.control.stop_requested and time.monotonic() < deadline:
                    time.sleep(0.01)

    monkeypatch.setattr(BenchmarkRun, "events", events_that_wait_for_the_stop)
    tab = make_tab()

    def stop_after_the_first_chunk(event):
        if isinstance(event, AnswersGraded) and tab.stop_button.isEnabled():
            tab.stop_button.click()

    tab.runner.event.connect(stop_after_the_first_chunk)
    _run_to_the_end(qtbot, tab)
    graded = tab.answers_table.row_count()
    assert 0 < graded < tab.progress_bar.maximum()
    assert graded == len(tab.results) and "Stopped" in tab.status_label.text()
    assert "Time left" in tab.pace_label.text() and "Time spent" in tab.pace_label.text()
    assert tab.export_csv_button.isEnabled() and tab.run_button.isEnabled()


def test_opening_models_adds_readable_ones_and_refuses_the_others(qtbot, make_tab, world_base, tmp_path):
    from engine.checkpoint import save_checkpoint
    from engine.tokenizer import CharTokenizer

    tab = make_tab()
    cats_tokenizer = CharTokenizer.train("the cat sat on the mat.\nUser:")
    cfg = dataclasses.replace(world_base.model_config, vocab_size=cats_tokenizer.vocab_size)
    cats = dataclasses.replace(world_base, params=init_params(cfg, jax.random.PRNGKey(0)), model_config=cfg,
                               tokenizer=cats_tokenizer)
    save_checkpoint(cats, tmp_path / "cats.safetensors")
    save_checkpoint(world_base, tmp_path / "world.safetensors")

    tab.open_model(tmp_path / "cats.safetensors")
    qtbot.waitUntil(lambda: tab.message_bar.level() == "error", timeout=UI_TIMEOUT_MS)
    assert "“cats.safetensors” cannot be tested" in tab.message_bar.text()
    assert tab.shelf.names() == list(NAMES)

    with qtbot.waitSignal(tab.shelf.changed, timeout=UI_TIMEOUT_MS):
        tab.open_model(tmp_path / "world.safetensors")
    assert tab.shelf.names() == [*NAMES, "world"]
    assert [tab.models_list.item(i).text() for i in range(3)] == [*NAMES, "world"]
    assert [n for n, _ in tab.models_under_test()] == [*NAMES, "world"]
    tab.question_combo.setCurrentIndex(1)  # all questions: remembered for the next session
    assert make_tab().question_combo.currentData() is None and "300 questions" in tab.questions_label.text()
    tab.set_ticked("world", False)
    tab.set_ticked(NAMES[0], False)
    assert [n for n, _ in tab.models_under_test()] == [NAMES[1]]


def test_rating_is_blind_and_adds_up_per_model(qtbot, make_tab):
    tab = make_tab()
    panel = tab.rating_panel
    tab.show_page("Human rating")
    panel.prompt_combo.setCurrentText("What is the capital of Lamlar?")
    panel.ask_button.click()
    qtbot.waitUntil(lambda: len(panel.cards) == 2, timeout=RUN_TIMEOUT_MS)
    assert [c.title() for c in panel.cards] == ["Answer A", "Answer B"]
    shown_text = " ".join(w.text() for c in panel.cards for w in c.findChildren(type(panel.status_label)))
    assert not any(name in shown_text for name in NAMES)  # the names are hidden while rating
    assert not panel.submit_button.isEnabled()

    behind = {c.blind.label: c.blind.model for c in panel.cards}
    panel.rate("Answer A", 5)
    panel.rate("Answer B", 2)
    with qtbot.waitSignal(panel.rated) as rated:
        panel.submit_button.click()
    assert {(r.model, r.score) for r in rated.args[0]} == {(behind["Answer A"], 5), (behind["Answer B"], 2)}
    assert panel.summary_rows() == [(behind["Answer A"], "5.0", "1"), (behind["Answer B"], "2.0", "1")]
    assert load_ratings() == panel.ratings  # saved, and read back the same

    # A second tab (the next session) starts from the saved ratings.
    again = make_tab().rating_panel
    assert again.summary_rows() == panel.summary_rows()


def test_a_damaged_ratings_file_is_reported_and_kept(make_tab):
    ratings_path().write_text('{"prompt": "p", "model": "m", "answer": "a", "score": 9}\n', encoding="utf-8")
    tab = make_tab()
    assert tab.message_bar.level() == "error" and "ratings.jsonl:1:" in tab.message_bar.text()
    assert "score" in ratings_path().read_text(encoding="utf-8")


def test_a_red_team_success_goes_to_the_preference_data(qtbot, make_tab):
    tab = make_tab()
    panel = tab.red_team_panel
    tab.show_page("Red teaming")
    assert "harmful" in panel.hoped_label.text()
    panel.ask_button.click()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=RUN_TIMEOUT_MS)
    assert [panel.table.item(r, 0).text() for r in range(2)] == list(NAMES)
    assert not panel.send_button.isEnabled()
    panel.set_worked(1)
    assert panel.send_button.isEnabled() and "1" in panel.send_button.text()
    with qtbot.waitSignal(tab.pairs_sent) as sent:
        panel.send_button.click()
    pair = sent.args[0][0]
    said = panel.answers[1].text.strip("\n").split("\n", 1)[0]
    assert (pair.prompt, pair.chosen, pair.rejected.strip()) == (panel.prompt_combo.itemData(0)["prompt"], REFUSAL,
                                                                said.strip())
    assert load_preferences(votes_path()) == [pair]
    assert panel.sent_list.count() == 1 and "1 pair" in panel.sent_label.text()

    # The Preference stage reads it back as one of the user's votes.
    from gui.preference_tab import PreferenceTab

    preference = PreferenceTab(ZoomController(remember=False))
    qtbot.addWidget(preference)
    assert [(v["prompt"], v["chosen"]) for v in preference.votes()] == [(pair.prompt, REFUSAL)]
    assert preference.shutdown()


def test_compare_shows_every_model_with_tokens_shaded(qtbot, make_tab):
    from gui.widgets.confidence_text import BANDS, band

    tab = make_tab()
    panel = tab.compare_panel
    tab.show_page("Compare")
    panel.prompt_combo.setCurrentText("What is the capital of Lamlar?")
    panel.compare_button.click()
    qtbot.waitUntil(lambda: len(panel.columns) == 2, timeout=RUN_TIMEOUT_MS)
    assert list(panel.shown_answers()) == list(NAMES)
    for column in panel.columns:
        html = column.text.toHtml()
        assert column.title() in NAMES and column.answer.tokens
        # every token is drawn in the shade of its own probability
        for _piece, p in column.answer.tokens:
            assert band(p).fill.lower() in html.lower()
        assert f"{column.answer.confidence:.0%}" in column.summary.text()
    assert len(panel.legend.texts()) == len(BANDS) and "sure" in panel.legend.texts()[0]


def test_the_answers_table_sorts_confidence_as_a_number(qtbot):
    from engine.evaluation.benchmark import DONT_KNOW, GradedAnswer
    from gui.widgets.answers_table import AnswersTable

    table = AnswersTable()
    qtbot.addWidget(table)
    table.add_answers([GradedAnswer("m", f"q{i}", "x", "t", "a", grade, True, c)
                       for i, (grade, c) in enumerate([(RIGHT, 0.1), (WRONG, 0.09), (DONT_KNOW, float("nan")),
                                                       (WRONG, 0.5)])])
    table.view.sortByColumn(5, Qt.SortOrder.AscendingOrder)
    assert [r[5] for r in table.shown_rows()] == ["–", "9%", "10%", "50%"]  # as text, "10%" < "9%"
    table.verdict_filter.setCurrentText(WRONG)
    assert [r[1] for r in table.shown_rows()] == ["q1", "q3"] and "2 of 4" in table.count_label.text()


def test_the_shipped_models_join_the_models_under_test_in_one_click(qtbot, make_tab):
    from engine.shipped_models import SHIPPED_TITLES

    tab = make_tab(models=[])
    assert tab.models_list.count() == 0 and "add the shipped ones" in tab.models_hint.text()
    tab.shipped_button.click()
    qtbot.waitUntil(lambda: tab.models_list.count() == 3, timeout=UI_TIMEOUT_MS)
    assert [tab.models_list.item(i).text() for i in range(3)] == list(SHIPPED_TITLES.values())
    assert [tab.shelf.get(name).stage for name in tab.shelf.names()] == ["pretraining", "instruction", "preference"]
    assert tab.run_button.isEnabled()
    tab.shipped_button.click()  # a second click adds nothing
    qtbot.waitUntil(lambda: "already here" in tab.message_bar.text(), timeout=UI_TIMEOUT_MS)
    assert tab.models_list.count() == 3


def test_the_lessons_page_has_the_whole_width(make_tab):
    tab = make_tab()
    assert tab.models_column.isVisible()
    tab.show_page("Lessons")
    assert not tab.models_column.isVisible()  # a lesson picks its own models
    tab.show_page("Benchmark")
    assert tab.models_column.isVisible()


def test_the_models_list_is_as_tall_as_its_models_at_every_zoom(make_tab, two_models):
    from gui.evaluation_tab import MIN_MODEL_ROWS

    tab = make_tab()
    listed = tab.models_list

    def room_for(rows: int) -> bool:  # every row fits, and not much more than that
        row = listed.sizeHintForRow(0)
        return rows * row <= listed.viewport().height() < (rows + 1) * row

    # Two models: the list shows MIN_MODEL_ROWS rows, not the whole column (it was a tall, empty box).
    assert listed.count() == 2 and room_for(MIN_MODEL_ROWS)
    for i in range(3):
        tab.shelf.put_opened_model(two_models[0], f"/nowhere/more-{i}.safetensors", f"More {i}")
    assert listed.count() == 5 and room_for(5)
    tab.zoom.set_percent(200)
    assert room_for(5)
    # Every model is listed whole, so no scroll bar hides one.
    assert not listed.verticalScrollBar().isVisible()
