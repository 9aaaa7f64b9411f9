"""The Evaluation stage: test any set of models on a benchmark, by blind rating, by red teaming, side by side.

- **Left:** the models under test, ticked in a list that the model shelf fills with each stage's
  newest model (and "Open model…" adds saved ones); the question set; Run and Stop; progress with
  the time left.
- **Right, four pages:**
  - *Benchmark:* exact-match accuracy per model per topic as a grouped bar chart (export as PNG),
    and every answer graded right, wrong or "I don't know" with the model's confidence, in a table
    to sort, filter and export as CSV. It fills while the run goes; a stop keeps what was graded.
  - *Human rating:* answers to one prompt, names hidden, scored 1 to 5 (``RatingPanel``).
  - *Red teaming:* attacks, every model's answer, and successful ones sent to the preference data
    (``RedTeamPanel``).
  - *Compare:* one prompt, every model side by side, tokens shaded by confidence (``ComparePanel``).

The benchmark runs as an engine generator (``engine.evaluation.benchmark.BenchmarkRun``) on one superqt worker
(``gui.generator_runner.GeneratorRunner``); the other pages write their answers with ``BackgroundTask``s. Only the GUI
thread touches widgets.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.errors import PlainError
from engine.evaluation.benchmark import (
    ALL_TOPICS,
    DONT_KNOW,
    RIGHT,
    WRONG,
    AnswersGraded,
    BenchmarkRun,
    EvaluationProgress,
    GradedAnswer,
    accuracy_by_topic,
    benchmark_questions,
    charted_topics,
    check_can_read,
    mean_confidence,
    topic_label,
    topic_sizes,
)
from engine.events import Finished, Status
from engine.shipped_models import SHIPPED_TITLES, load_shipped, shipped_model_path, shipped_stages
from engine.session.state import EvaluationState
from engine.data.tuning_data import load_benchmark, load_red_team
from engine.user_paths import data_dir, models_dir
from gui import formatting, settings
from gui.availability import set_available
from gui.export import PNG_TIP, PROJECTOR_SIZE, ExportError
from gui.background import BackgroundTask
from gui.generator_runner import GeneratorRunner
from gui.lessons_page import LessonsPage
from gui.model_shelf import ModelShelf
from gui.preference_tab import votes_path
from gui.training_controller import plain_message
from gui.widgets.answers_table import AnswersTable
from gui.widgets.compare_panel import ComparePanel
from gui.widgets.group_box import group_box
from gui.widgets.grouped_bar_chart import GroupedBarChart
from gui.widgets.message_bar import MessageBar
from gui.widgets.rating_panel import RatingPanel
from gui.widgets.red_team_panel import RedTeamPanel
from gui.widgets.vertical_scroll_area import VerticalScrollArea
from gui.zoom import ZoomController

MODEL_FILE_FILTER = "Training Explorer models (*.safetensors)"
QUESTION_SETS = (("held_out", "Held-out questions (never trained on)"), (None, "All questions"))
QUESTION_SET_SETTING = "evaluation/question_set"  # remembered between sessions
MIN_MODEL_ROWS = 3  # the models list is never shorter than this many rows

NO_RESULTS_YET = "Nothing to export yet: run the benchmark first."


def _open_and_check(path: str, texts: list[str]):
    """Load a checkpoint and refuse it if it cannot read the benchmark (worker thread: imports jax)."""
    from engine.checkpoint import load_checkpoint

    model = load_checkpoint(path)
    check_can_read(Path(path).name, model, texts)
    return model


SHIPPED_TAG = "<shipped models>"  # the open task's tag for adding every shipped model at once


def _open_shipped() -> list[tuple[str, str, object]]:
    """(title, file, model) of every shipped model, in stage order (worker thread: imports jax)."""
    return [(SHIPPED_TITLES[stage], str(shipped_model_path(stage)), load_shipped(stage)) for stage in shipped_stages()]


class EvaluationTab(QWidget):
    """Models under test on the left; benchmark, rating, red teaming and comparison pages on the right."""

    pairs_sent = Signal(list)  # PreferencePairs appended to the votes file (for the Preference tab's table)

    def __init__(self, zoom: ZoomController, shelf: ModelShelf, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluationTab")
        self.zoom = zoom
        self.shelf = shelf
        self.results: list[GradedAnswer] = []
        self._unticked: set[str] = set()  # names the user unticked; every other model is tested
        self.message_bar = MessageBar()
        self._benchmark_rows = load_benchmark()
        self._red_team_rows = load_red_team()

        # --- left ---
        self.models_list = QListWidget()
        self.models_list.setAccessibleName("Models under test")
        self.models_hint = QLabel()
        self.models_hint.setWordWrap(True)
        self.open_button = QPushButton("Open model…")
        self.open_button.setToolTip("Add a model saved earlier to the models under test.")
        models_box = QWidget()
        models_layout = QVBoxLayout(models_box)
        models_layout.setContentsMargins(0, 0, 0, 0)
        models_layout.addWidget(self.models_list)
        models_layout.addWidget(self.models_hint)
        models_layout.addWidget(self.open_button)
        # The models the app ships (one per stage): a class can evaluate before training anything.
        self.shipped_button = QPushButton("Add the shipped models")
        self.shipped_button.setToolTip("Add the pretrained, instruction-tuned and preference-tuned models that "
                                       "come with the app, trained on the fictional world.")
        self.shipped_button.setVisible(bool(shipped_stages()))
        models_layout.addWidget(self.shipped_button)
        self.question_combo = QComboBox()
        for key, title in QUESTION_SETS:
            self.question_combo.addItem(title, key)
        self.question_combo.setAccessibleName("Questions to ask")
        remembered = settings.read_str(QUESTION_SET_SETTING, "held_out")
        self.question_combo.setCurrentIndex(1 if remembered == "all" else 0)
        self.questions_label = QLabel()
        self.questions_label.setWordWrap(True)
        questions_box = QWidget()
        questions_layout = QVBoxLayout(questions_box)
        questions_layout.setContentsMargins(0, 0, 0, 0)
        questions_layout.addWidget(self.question_combo)
        questions_layout.addWidget(self.questions_label)
        settings_column = QWidget()
        settings_layout = QVBoxLayout(settings_column)
        # The list is as tall as its models (at least MIN_MODEL_ROWS), not the column: a tall box with
        # one or two names in it looked broken. The column's spare room goes below the questions.
        settings_layout.addWidget(group_box("Models under test", models_box))
        settings_layout.addWidget(group_box("Benchmark questions", questions_box))
        settings_layout.addStretch(1)
        left_scroll = VerticalScrollArea()
        left_scroll.setWidget(settings_column)
        left_scroll.setFrameShape(VerticalScrollArea.Shape.NoFrame)  # a frame round the column's spare room read as an empty box

        self.run_button = QPushButton("Run benchmark")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End after the questions being answered now. The answers so far are kept.")
        for button in (self.run_button, self.stop_button, self.open_button, self.shipped_button):
            button.setAutoDefault(False)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.progress_bar.setAccessibleName("Benchmark progress")
        self.pace_label = QLabel()
        self.pace_label.setWordWrap(True)
        self.status_label = QLabel("Tick the models to test, then press Run benchmark.")
        self.status_label.setWordWrap(True)
        buttons = QGridLayout()
        buttons.addWidget(self.run_button, 0, 0)
        buttons.addWidget(self.stop_button, 0, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(left_scroll, 1)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress_bar)
        left_layout.addWidget(self.pace_label)
        left_layout.addWidget(self.status_label)

        # --- right ---
        self.chart = GroupedBarChart("Exactly right, per topic (higher is better)",
                                     "Run the benchmark to see each model's accuracy per topic.",
                                     export_name="benchmark-accuracy")
        self.export_chart_button = QPushButton("Export chart (PNG)…")
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.answers_table = AnswersTable()
        self.answers_table.view.setMinimumHeight(self.fontMetrics().height() * 14)
        self.export_csv_button = QPushButton("Export answers (CSV)…")
        self.export_chart_button.setToolTip(PNG_TIP)
        self.export_csv_button.setToolTip("Save the answers shown (after the filters) as a CSV file that "
                                          "spreadsheets open.")
        for button in (self.export_chart_button, self.export_csv_button):
            button.setAutoDefault(False)
            set_available(button, NO_RESULTS_YET)
        benchmark_page = QWidget()
        benchmark_layout = QVBoxLayout(benchmark_page)
        benchmark_layout.addWidget(self.chart)
        self.topics_note = QLabel()
        self.topics_note.setWordWrap(True)
        self.topics_note.setVisible(False)
        benchmark_layout.addWidget(self.topics_note)
        export_row = QHBoxLayout()
        export_row.addWidget(self.summary_label, 1)
        export_row.addWidget(self.export_chart_button, 0, Qt.AlignmentFlag.AlignTop)
        benchmark_layout.addLayout(export_row)
        benchmark_layout.addWidget(self.answers_table, 1)
        self.answers_table.tools_row.addWidget(self.export_csv_button)

        questions = [r["question"] for r in self._benchmark_rows if r.get("split") == "held_out"]
        attack_questions = [r["prompt"].removeprefix("User: ").removesuffix("\nAssistant:")
                            for r in self._red_team_rows]
        self.rating_panel = RatingPanel(questions + attack_questions, self.models_under_test)
        self.red_team_panel = RedTeamPanel(self._red_team_rows, self.models_under_test, votes_path)
        self.compare_panel = ComparePanel(questions + attack_questions, self.models_under_test)
        # The guided experiments: each picks its own models (or the shelf's), so it has its own controls.
        self.lessons_page = LessonsPage(zoom, shelf)
        self.pages = QTabWidget()
        for widget, title in ((benchmark_page, "Benchmark"), (self.rating_panel, "Human rating"),
                              (self.red_team_panel, "Red teaming"), (self.compare_panel, "Compare"),
                              (self.lessons_page, "Lessons")):
            self._add_page(widget, title)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.models_column = left
        self.splitter.addWidget(self.pages)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)

        # --- wiring ---
        self.runner = GeneratorRunner("an evaluation", self)
        self.runner.event.connect(self._on_event)
        self.runner.failed.connect(self._on_failed)
        self.runner.running_changed.connect(lambda _running: self._update_buttons())
        self._open_task = BackgroundTask("opening a model to evaluate", self)
        self._open_task.succeeded.connect(self._on_opened)
        self._open_task.failed.connect(lambda _tag, error: self.message_bar.error(plain_message(error)))
        for panel in (self.rating_panel, self.red_team_panel, self.compare_panel):
            panel.problem.connect(self.message_bar.error)
        self.red_team_panel.pairs_sent.connect(self.pairs_sent.emit)
        shelf.changed.connect(self._refresh_models)
        self.pages.currentChanged.connect(self._on_page_changed)
        self.models_list.itemChanged.connect(self._on_item_changed)
        self.open_button.clicked.connect(self.ask_open_model)
        self.shipped_button.clicked.connect(self.add_shipped_models)
        self.run_button.clicked.connect(self.run_benchmark)
        self.stop_button.clicked.connect(self.runner.stop)
        self.question_combo.currentIndexChanged.connect(self._show_question_count)
        self.export_chart_button.clicked.connect(self.ask_export_chart)
        self.export_csv_button.clicked.connect(self.ask_export_csv)
        self.rating_panel.load_saved()
        zoom.zoom_changed.connect(lambda *_: self._fit_models_list())
        self._refresh_models()
        self._show_question_count()

    def _add_page(self, widget: QWidget, title: str) -> None:
        """A scrollable page, so a small window or a big zoom never clips it."""
        scroll = QScrollArea()
        scroll.setWidget(widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.pages.addTab(scroll, title)

    def _on_page_changed(self, _index: int) -> None:
        # The lessons choose their own models: the benchmark's column would only take room there.
        self.models_column.setVisible(self.pages.currentWidget().widget() is not self.lessons_page)

    def show_page(self, title: str) -> None:
        self.pages.setCurrentIndex(next(i for i in range(self.pages.count()) if self.pages.tabText(i) == title))

    # --- models under test -----------------------------------------------------------------------

    def _refresh_models(self) -> None:
        self.models_list.blockSignals(True)
        self.models_list.clear()
        for name in self.shelf.names():
            item = QListWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Unchecked if name in self._unticked else Qt.CheckState.Checked)
            self.models_list.addItem(item)
        self.models_list.blockSignals(False)
        self.models_hint.setText("" if self.shelf.names() else
                                 "No models yet: each stage's newest model appears here once trained; "
                                 "or open a saved one, or add the shipped ones.")
        self.models_hint.setVisible(not self.shelf.names())
        self._fit_models_list()
        self._update_buttons()

    def _fit_models_list(self) -> None:
        """Make the list exactly tall enough for its models (at least ``MIN_MODEL_ROWS`` rows) at this zoom."""
        listed = self.models_list
        row = listed.sizeHintForRow(0) if listed.count() else listed.fontMetrics().lineSpacing() + 4
        listed.setFixedHeight(max(listed.count(), MIN_MODEL_ROWS) * row + 2 * listed.frameWidth() + 4)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if item.checkState() == Qt.CheckState.Checked:
            self._unticked.discard(item.text())
        else:
            self._unticked.add(item.text())
        self._update_buttons()

    def set_ticked(self, name: str, ticked: bool) -> None:
        item = self.models_list.findItems(name, Qt.MatchFlag.MatchExactly)[0]
        item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    def models_under_test(self) -> list[tuple[str, object]]:
        """(name, TrainedModel) of every ticked model, in the shelf's order."""
        chosen = []
        for name in self.shelf.names():
            model = self.shelf.get(name)
            if name not in self._unticked and model is not None:
                chosen.append((name, model))
        return chosen

    def ask_open_model(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Open a model to test", str(models_dir()), MODEL_FILE_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> None:
        texts = [q.prompt + " " + q.answer for q in benchmark_questions(self._benchmark_rows, None)]
        self.message_bar.info(f"Opening '{Path(path).name}'…")
        self._open_task.submit(_open_and_check, str(path), texts, tag=str(path))

    def add_shipped_models(self) -> None:
        """Put the shipped model of every stage on the shelf (skipping any already there)."""
        self.message_bar.info("Opening the shipped models…")
        self._open_task.submit(_open_shipped, tag=SHIPPED_TAG)

    def _on_opened(self, path: str, model) -> None:
        if path == SHIPPED_TAG:  # several at once: [(title, path, model), ...]
            present = set(self.shelf.names())
            added = [self.shelf.put_opened_model(m, p, title) for title, p, m in model if title not in present]
            self.message_bar.info(f"Added {len(added)} shipped model{'s' if len(added) != 1 else ''} to the "
                                  "models under test." if added else "The shipped models are already here.")
            return
        name = self.shelf.put_opened_model(model, path, Path(path).stem)
        self.message_bar.info(f"Added “{name}” to the models under test.")

    # --- the benchmark --------------------------------------------------------------------------

    def _questions(self):
        return benchmark_questions(self._benchmark_rows, self.question_combo.currentData())

    def _show_question_count(self, *_args) -> None:
        settings.write(QUESTION_SET_SETTING, self.question_combo.currentData() or "all")
        n = len(self._questions())
        sizes: dict[str, int] = {}
        for q in self._questions():
            sizes[q.topic] = sizes.get(q.topic, 0) + 1
        topics = ", ".join(f"{topic_label(t).lower()} {sizes[t]}" for t in sorted(sizes))
        self.questions_label.setText(f"{n:,} questions with known answers: {topics}.")

    def run_benchmark(self) -> None:
        if self.runner.is_running:
            return
        try:
            run = BenchmarkRun(self.models_under_test(), self._questions())
        except PlainError as err:
            self.message_bar.error(str(err))
            return
        self.message_bar.dismiss()
        self.results = []
        self.answers_table.clear()
        self.chart.clear()
        self.summary_label.setText("")
        self.progress_bar.setRange(0, run.total)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"0 / {run.total:,} answers")
        self.pace_label.setText("")
        self.status_label.setText("Preparing the models…")
        self.show_page("Benchmark")
        self.runner.start(lambda _control: run.events(), run.control)

    def _on_event(self, event) -> None:
        if isinstance(event, AnswersGraded):
            self.results.extend(event.answers)
            self.answers_table.add_answers(list(event.answers))
            self._show_accuracy()
        elif isinstance(event, EvaluationProgress):
            self.progress_bar.setRange(0, max(event.total, 1))
            self.progress_bar.setValue(event.done)
            self.progress_bar.setFormat(f"{event.done:,} / {event.total:,} answers")
            left = "estimating…" if math.isnan(event.eta_seconds) else formatting.duration(event.eta_seconds)
            self.pace_label.setText(f"Time left: {left}   ·   Time spent: {formatting.duration(event.elapsed_seconds)}")
        elif isinstance(event, Status):
            self.status_label.setText(event.message)
        elif isinstance(event, Finished):
            n = len(self.results)
            self.status_label.setText(f"Finished: {n:,} answers graded." if event.reason == "completed" else
                                      f"Stopped. The {n:,} answers graded so far are kept.")
            if event.reason == "completed":
                self.pace_label.setText("")

    def show_results(self, results: list[GradedAnswer]) -> None:
        """Show graded answers kept from earlier (a reopened session) as if the benchmark had just run."""
        if self.runner.is_running:
            return
        self.results = list(results)
        self.answers_table.clear()
        self.chart.clear()
        self.summary_label.setText("")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.pace_label.setText("")
        if self.results:
            self.answers_table.add_answers(self.results)
            self._show_accuracy()
            self.status_label.setText(f"{len(self.results):,} answers graded in the session that was opened.")
        else:
            self.status_label.setText("Tick the models to test, then press Run benchmark.")
        self._update_buttons()

    def _on_failed(self, error: Exception) -> None:
        self.message_bar.error(plain_message(error))
        self.status_label.setText("The benchmark could not run to the end; the answers graded so far are kept.")

    def _show_accuracy(self) -> None:
        table = accuracy_by_topic(self.results)
        models = list(table)
        # One bar per topic with enough questions to mean something, named as on the Data tab, with
        # its number of questions; smaller topics count only in "all topics", and the note says so.
        topics, small = charted_topics(self.results)
        sizes = topic_sizes(self.results)
        groups = {t: f"{topic_label(t)} ({sum(sizes.values()) if t == ALL_TOPICS else sizes[t]} questions)"
                  for t in topics}
        values = {(groups[t], m): (acc.rate, f"{acc.rate:.0%} ({acc.right}/{acc.total})")
                  for m, per_model in table.items() for t, acc in per_model.items() if t in groups}
        self.chart.set_data(list(groups.values()), models, values)
        self.topics_note.setText(
            "" if not small else
            "No bar of their own (too few questions to mean much; they count in “all topics”): "
            + ", ".join(f"{topic_label(t)} ({n} question{'s' if n != 1 else ''})" for t, n in small.items()) + ".")
        self.topics_note.setVisible(bool(small))
        lines = []
        for m in models:
            mine = [a for a in self.results if a.model == m]
            counts = {g: sum(a.grade == g for a in mine) for g in (RIGHT, WRONG, DONT_KNOW)}
            right, wrong = mean_confidence(mine, RIGHT), mean_confidence(mine, WRONG)
            sure = ("" if math.isnan(right) or math.isnan(wrong) else
                    f"; it was {right:.0%} sure when right and {wrong:.0%} sure when wrong")
            lines.append(f"{m}: {counts[RIGHT]} right, {counts[WRONG]} wrong, {counts[DONT_KNOW]} “I don't know”{sure}.")
        self.summary_label.setText("\n".join(lines))
        self._update_buttons()

    def ask_export_chart(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(self, "Export chart", str(data_dir() / "benchmark-accuracy.png"),
                                                    "PNG pictures (*.png)")
        if path:
            self.export_chart(path)

    def export_chart(self, path: str | Path) -> None:
        try:
            saved = self.chart.save_png(path)
        except ExportError as err:
            self.message_bar.error(str(err))
            return
        self.message_bar.info(f"Saved the chart as '{saved.name}' ({PROJECTOR_SIZE[0]} × {PROJECTOR_SIZE[1]}).")

    def ask_export_csv(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(self, "Export answers", str(data_dir() / "benchmark-answers.csv"),
                                                    "CSV tables (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> None:
        try:
            saved = self.answers_table.export_csv(path)
        except ExportError as err:
            self.message_bar.error(str(err))
            return
        self.message_bar.info(f"Saved {self.answers_table.row_count():,} answers as '{saved.name}'.")

    def _update_buttons(self) -> None:
        running = self.runner.is_running
        busy = "The benchmark is running now: wait for it, or press Stop." if running else None
        set_available(self.run_button, busy or (
            None if self.models_under_test() else "No model is ticked: tick at least one model to test."))
        set_available(self.stop_button, None if running else "Only while the benchmark runs: press Run first.")
        set_available(self.question_combo, busy)
        for button in (self.export_chart_button, self.export_csv_button):
            set_available(button, None if self.results else NO_RESULTS_YET)

    # --- the stage's state (engine.session.state) ---------------------------------------------------

    def stage_state(self) -> EvaluationState:
        """The models opened from files (the stages' own come back through the stages), those unticked,
        the graded answers, the question set and the ratings."""
        items = [self.models_list.item(i) for i in range(self.models_list.count())]
        return EvaluationState(
            opened=tuple((e.name, e.origin, e.model) for e in self.shelf.entries() if e.origin != "session"),
            unticked=tuple(item.text() for item in items if item.checkState() != Qt.CheckState.Checked),
            results=tuple(self.results), question_set=self.question_combo.currentData(),
            ratings=tuple(self.rating_panel.ratings), rating_seed=self.rating_panel.seed)

    def apply_state(self, state: EvaluationState) -> None:
        """Show a reopened session's models, ticks and answers; the ratings file (with its ratings added)."""
        for entry in [e for e in self.shelf.entries() if e.origin != "session"]:
            self.shelf.remove(entry.name)
        for name, origin, model in state.opened:
            self.shelf.put_opened_model(model, origin, name)
        for name in self.shelf.names():
            self.set_ticked(name, name not in state.unticked)
        self.question_combo.setCurrentIndex(max(0, self.question_combo.findData(state.question_set)))
        self.show_results(list(state.results))
        self.rating_panel.load_saved()

    @property
    def running(self) -> str:
        """The run going now, in words, or ""."""
        return "benchmark" if self.runner.is_running else ""

    def change_signals(self) -> list:
        return [self.rating_panel.rated, self.runner.running_changed]

    # --- threads ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return (self.runner.is_running or self._open_task.busy or self.rating_panel.busy
                or self.red_team_panel.busy or self.compare_panel.busy or self.lessons_page.runner.is_running)

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        """Stop the benchmark and wait for every worker (the window calls this when it closes)."""
        return all([self.runner.stop_and_wait(timeout_s), self._open_task.shutdown(timeout_s),
                    self.rating_panel.shutdown(timeout_s), self.red_team_panel.shutdown(timeout_s),
                    self.compare_panel.shutdown(timeout_s), self.lessons_page.shutdown(timeout_s)])
