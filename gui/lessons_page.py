"""The lessons page of the Evaluation stage: pick a lesson, press one button, read numbers, a plot and why.

On the left: the seven lessons (``engine.evaluation.lessons.LESSONS``), the model to test (the lessons' own, or
any model on the session's shelf), Run / Stop, "Train the missing models", and a progress bar with
the time left. On the right: the lesson's result: its numbers in large type, its plots and two or
three sentences of plain explanation. A message bar on top says, in words, what is missing or
what went wrong, with a button that offers the fix.

A lesson, or training the models a lesson compares, runs on one worker thread (``gui.generator_runner.GeneratorRunner``):
the engine's generator yields plain events that cross to the GUI thread as queued signals. Stop asks
the engine to end between chunks; a stopped lesson still shows what it measured so far.
"""

from __future__ import annotations


from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.events import Finished, Status
from engine.evaluation.lesson_probes import LessonProgress
from engine.evaluation.lessons import LESSONS, LessonResult, MissingLessonModels, check_ready, lesson, needed_variants
from gui import export, formatting
from gui.availability import first_reason, set_available
from gui.generator_runner import GeneratorRunner
from gui.model_shelf import ModelShelf
from gui.training_controller import plain_message
from gui.widgets.group_box import group_box
from gui.widgets.lesson_plot import LessonPlot
from gui.widgets.message_bar import MessageBar
from gui.widgets.vertical_scroll_area import VerticalScrollArea
from gui.zoom import ZoomController

LESSONS_MODEL = "The lessons' own model"  # the first choice of "Model to test"
MAX_PLOTS = 2  # the most plots a lesson shows (coverage has two)


class LessonsPage(QWidget):
    """The seven lessons; ``shelf`` supplies the session's models to test."""

    result_shown = Signal(object)  # the LessonResult now on screen (tests and the host tab wait on it)

    def __init__(self, zoom: ZoomController, shelf: ModelShelf, parent=None, *, recipe: dict | None = None):
        super().__init__(parent)
        self.zoom = zoom
        self.shelf = shelf
        self.recipe = dict(recipe or {})  # model=/train= for tests that train tiny variants
        self.result: LessonResult | None = None
        self._pending_lesson: str | None = None  # run this lesson once its models are trained
        self.runner = GeneratorRunner("a lesson", self)
        self.message_bar = MessageBar()

        # --- left: what to run ---
        self.lesson_list = QListWidget()
        self.lesson_list.addItems([item.title for item in LESSONS])
        self.lesson_list.setAccessibleName("Lessons")
        self.lesson_list.setCurrentRow(0)
        self.lesson_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_lesson_list()
        zoom.zoom_changed.connect(lambda *_: self._fit_lesson_list())
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Model to test")
        self.model_note = QLabel()
        self.model_note.setWordWrap(True)
        model_box = QWidget()
        model_layout = QVBoxLayout(model_box)
        model_layout.setContentsMargins(0, 0, 0, 0)
        model_layout.addWidget(self.model_combo)
        model_layout.addWidget(self.model_note)
        self.run_button = QPushButton("Run lesson")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the lesson after the questions being asked now; what it measured is shown.")
        self.train_button = QPushButton("Train the missing models")
        self.train_button.setToolTip("Train the small models this lesson compares. They are kept, so this "
                                     "happens only once.")
        for button in (self.run_button, self.stop_button, self.train_button):
            button.setAutoDefault(False)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.progress_bar.setAccessibleName("Lesson progress")
        self.status_label = QLabel("Choose a lesson, then press Run lesson.")
        self.status_label.setWordWrap(True)
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.addWidget(group_box("Lesson", self.lesson_list))
        column_layout.addWidget(self.summary_label)
        column_layout.addWidget(group_box("Model to test", model_box))
        column_layout.addStretch(1)
        left_scroll = VerticalScrollArea()
        left_scroll.setWidget(column)
        buttons = QGridLayout()
        buttons.addWidget(self.run_button, 0, 0)
        buttons.addWidget(self.stop_button, 0, 1)
        buttons.addWidget(self.train_button, 1, 0, 1, 2)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(left_scroll, 1)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress_bar)
        left_layout.addWidget(self.status_label)

        # --- right: what it found ---
        self.title_label = QLabel("No lesson run yet.")
        self.zoom.follow_zoom(self.title_label, lambda: self._bold(1.3))
        self.figures_label = QLabel()
        self.figures_label.setWordWrap(True)
        self.figures_label.setTextFormat(Qt.TextFormat.RichText)
        self.zoom.follow_zoom(self.figures_label, lambda: self.zoom.font(1.15))
        self.plots = [LessonPlot(zoom) for _ in range(MAX_PLOTS)]
        self.plot_titles = [QLabel() for _ in range(MAX_PLOTS)]
        self.explanation_label = QLabel()
        self.explanation_label.setWordWrap(True)
        self.zoom.follow_zoom(self.explanation_label, lambda: self.zoom.font(1.1))
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.addWidget(self.title_label)
        results_layout.addWidget(self.figures_label)
        for title, plot in zip(self.plot_titles, self.plots):
            self.zoom.follow_zoom(title, lambda: self._bold(1.0))
            title.setWordWrap(True)
            results_layout.addWidget(title)
            results_layout.addWidget(plot)
            title.hide()
            plot.hide()
        results_layout.addWidget(self.explanation_label)
        results_layout.addStretch(1)
        right_scroll = QScrollArea()
        right_scroll.setWidgetResizable(True)
        right_scroll.setWidget(results)
        right_scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right_scroll)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(splitter, 1)

        self.lesson_list.currentRowChanged.connect(lambda _row: self._on_lesson_changed())
        self.model_combo.currentIndexChanged.connect(lambda _i: self._update_state())
        self.run_button.clicked.connect(self.run_lesson)
        self.stop_button.clicked.connect(self.runner.stop)
        self.train_button.clicked.connect(self.train_missing)
        self.runner.event.connect(self._on_event)
        self.runner.failed.connect(self._on_failed)
        self.runner.running_changed.connect(lambda _running: self._update_state())
        shelf.changed.connect(self._refresh_models)
        self._refresh_models()
        self._on_lesson_changed()

    # --- state -------------------------------------------------------------------------------

    @property
    def lesson_key(self) -> str:
        return LESSONS[max(self.lesson_list.currentRow(), 0)].key

    def select_lesson(self, key: str) -> None:
        self.lesson_list.setCurrentRow([item.key for item in LESSONS].index(key))

    def model_under_test(self):
        """(name, TrainedModel or None for the lessons' own model)."""
        name = self.model_combo.currentText()
        if name == LESSONS_MODEL or not name:
            return LESSONS_MODEL, None
        return name, self.shelf.get(name)

    def missing_variants(self) -> list:
        from engine.evaluation import lesson_models

        _, model = self.model_under_test()
        return lesson_models.missing(needed_variants(self.lesson_key, model), **self.recipe)

    def _fit_lesson_list(self) -> None:
        """Wide and tall enough for every title at this zoom: lesson names are never cut off."""
        metrics = QFontMetrics(self.zoom.font())
        width = max(metrics.horizontalAdvance(item.title) for item in LESSONS)
        self.lesson_list.setMinimumWidth(width + metrics.averageCharWidth() * 3)
        self.lesson_list.setMinimumHeight(int(metrics.lineSpacing() * (len(LESSONS) + 1)))

    def _bold(self, relative: float):
        font = self.zoom.font(relative)
        font.setBold(True)
        return font

    def _refresh_models(self) -> None:
        current = self.model_combo.currentText()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems([LESSONS_MODEL] + self.shelf.names())
        index = self.model_combo.findText(current)
        self.model_combo.setCurrentIndex(max(index, 0))
        self.model_combo.blockSignals(False)
        self._update_state()

    def _on_lesson_changed(self) -> None:
        item = lesson(self.lesson_key)
        self.summary_label.setText(item.summary)
        self._update_state()

    def _update_state(self) -> None:
        running = self.runner.is_running
        item = lesson(self.lesson_key)
        set_available(self.model_combo, first_reason(
            (running, "The lesson is running now: wait for it, or press Stop."),
            (not item.tests_model, "This lesson trains and compares its own models, so there is no model to choose.")))
        self.model_note.setText("This lesson tests the model chosen here." if item.tests_model else
                                "This lesson compares models it trains for itself: " +
                                " and ".join(f"“{v.title}”" for v in item.needs) + ".")
        absent = [] if running else self.missing_variants()
        set_available(self.run_button, "The lesson is running now: wait for it, or press Stop." if running else None)
        set_available(self.stop_button, None if running else "Only while a lesson runs: press Run lesson first.")
        set_available(self.train_button, first_reason(
            (running, "The lesson is running now: wait for it, or press Stop."),
            (not absent, "Every model this lesson needs is already trained.")))
        if not running:
            shown = self.result is not None and self.result.lesson == item.key
            self.status_label.setText(
                "Models this lesson still needs: " + ", ".join(f"“{v.title}”" for v in absent) + "."
                if absent else self._finished_text() if shown else "Ready: press Run lesson.")

    def _finished_text(self) -> str:
        """What the lesson on screen found, for the status line: its time and its first figure."""
        result = self.result
        found = f" {result.figures[0][0]}: {result.figures[0][1]}." if result.figures else ""
        return f"{'Stopped' if result.partial else 'Finished'} in {formatting.duration(result.seconds)}.{found}"

    # --- commands ----------------------------------------------------------------------------

    def run_lesson(self) -> None:
        """Run the selected lesson on the worker thread; missing models are named, with an offer to train them."""
        if self.runner.is_running:
            return
        key = self.lesson_key
        name, model = self.model_under_test()
        try:
            check_ready(key, model, self.recipe)
        except MissingLessonModels as err:
            self.message_bar.warning(str(err), [("Train the missing models", self.train_missing)])
            return
        self.message_bar.dismiss()
        self._start_progress(f"Starting “{lesson(key).title}”…")
        recipe = self.recipe

        def make(control):
            from engine.evaluation.lessons import run_lesson  # imports jax: on the worker thread only

            return run_lesson(key, model, name, control, recipe)

        self.runner.start(make)

    def train_missing(self) -> None:
        """Train the variants the selected lesson needs, then run it."""
        if self.runner.is_running:
            return
        absent = self.missing_variants()
        if not absent:
            self.run_lesson()
            return
        self.message_bar.dismiss()
        self._pending_lesson = self.lesson_key
        self._start_progress("Writing the text for the models…")
        recipe = self.recipe

        def make(control):
            from engine.evaluation.lesson_models import train_variants

            return train_variants(absent, control, **recipe)

        self.runner.start(make)

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        """Stop any lesson or training and wait for its thread (the host calls this when the window closes)."""
        self._pending_lesson = None
        return self.runner.stop_and_wait(timeout_s)

    # --- events --------------------------------------------------------------------------------

    def _start_progress(self, message: str) -> None:
        self.progress_bar.setRange(0, 0)  # busy until the first numbers come
        self.progress_bar.setFormat("")
        self.status_label.setText(message)

    def _show_progress(self, done: float, total: float, message: str, eta: float) -> None:
        self.progress_bar.setRange(0, max(int(total), 1))
        self.progress_bar.setValue(int(done))
        self.progress_bar.setFormat(f"{100 * done / max(total, 1):.0f}%   ·   time left: {formatting.duration(eta)}")
        self.status_label.setText(message)

    def _on_event(self, event) -> None:
        from engine.evaluation.lesson_models import TrainingProgress, VariantTrained

        if isinstance(event, LessonProgress):
            self._show_progress(event.done, event.total, event.message, event.eta_seconds)
        elif isinstance(event, TrainingProgress):
            self._show_progress(event.done, event.total, event.message, event.eta_seconds)
        elif isinstance(event, Status):
            self.status_label.setText(event.message)
        elif isinstance(event, VariantTrained):
            self.status_label.setText(f"Saved after {formatting.duration(event.seconds)}.")
        elif isinstance(event, Finished):
            self._on_training_finished(event)
        elif isinstance(event, LessonResult):
            self.show_result(event)

    def _on_training_finished(self, event: Finished) -> None:
        pending, self._pending_lesson = self._pending_lesson, None
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if event.reason == "completed" else 0)
        self.progress_bar.setFormat("Trained" if event.reason == "completed" else "Stopped")
        if event.reason != "completed":
            self.message_bar.info("Training stopped. The models finished before the stop are kept; the one in "
                                  "progress was not saved.")
            return
        self.message_bar.info("The lesson's models are trained and saved.")
        if pending is not None:
            # Run it as soon as the worker has let go (running_changed comes after this event).
            def go(running: bool) -> None:
                if not running:
                    self.runner.running_changed.disconnect(go)
                    if pending == self.lesson_key:
                        self.run_lesson()

            self.runner.running_changed.connect(go)

    def _on_failed(self, error: Exception) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not finished")
        if isinstance(error, MissingLessonModels):
            self.message_bar.warning(str(error), [("Train the missing models", self.train_missing)])
        else:
            self.message_bar.error(plain_message(error))
        self._update_state()

    def show_result(self, result: LessonResult) -> None:
        """Put a lesson's numbers, plots and explanation on screen."""
        self.result = result
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.progress_bar.setFormat("Stopped: partial result" if result.partial else "Done")
        self.title_label.setText(result.title + ("  (stopped early: partial result)" if result.partial else ""))
        rows = "".join(f"<tr><td>{_html(what)}</td><td style='padding-left:1em'><b>{_html(value)}</b></td></tr>"
                       for what, value in result.figures)
        self.figures_label.setText(f"<table>{rows}</table>")
        for i, (title, plot) in enumerate(zip(self.plot_titles, self.plots)):
            data = result.plots[i] if i < len(result.plots) else None
            title.setText(data.title if data else "")
            title.setVisible(data is not None)
            plot.setVisible(data is not None)
            plot.show_plot(data)
            plot.export_name = export.file_name(data.title) if data else "lesson-plot"  # right-click → Export
        self.explanation_label.setText(result.explanation)
        self.status_label.setText(self._finished_text())
        if result.partial:
            self.message_bar.info("The lesson was stopped; the numbers cover the questions asked before the stop.")
        self.result_shown.emit(result)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
