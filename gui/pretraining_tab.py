"""The Pretraining stage: choose a text and a model size on the left, watch it learn on the right.

Left (scrollable): the text and its tokens, the model size with its estimates, and the buttons.
Right: the loss curve, the progress line and the run's status, and below them what the model
writes now, a panel to ask it for its next token, and the time-lapse (what it wrote and guessed at
points of its training, tied to a cursor line on the loss plot). A message bar across the top explains
every problem in plain words.

All engine work runs off the GUI thread: the run in ``TrainingController`` (one worker thread),
short jobs in ``BackgroundTask``s. This file only wires widgets to those and decides what may be
pressed when.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.errors import CorpusTooShort, PlainError
from engine.events import Diverged, Finished, Sample, Status, TrainProgress, ValidationLoss
from engine.session.state import PretrainingState
from engine.tokenizer import PARTIAL_CHARACTER_MEANING, TokenizerSpec, check_length
from engine.user_paths import models_dir
from gui import export
from gui.availability import first_reason, set_available, set_own_tooltip
from gui.background import BackgroundTask
from gui.training_controller import TrainingController, plain_message
from gui.widgets.corpus_panel import CorpusPanel
from gui.widgets.loss_plot import LossPlot
from gui.widgets.message_bar import MessageBar
from gui.widgets.model_settings_panel import ModelSettingsPanel
from gui.widgets.predict_panel import PredictPanel
from gui.widgets.progress_panel import ProgressPanel
from gui.widgets.sample_log import SampleLog
from gui.widgets.time_lapse_panel import NO_SNAPSHOTS_TEXT, TimeLapsePanel
from gui.widgets.vertical_scroll_area import VerticalScrollArea
from gui.zoom import ZoomController
from gui.widgets.group_box import group_box

MODEL_FILE_FILTER = "Training Explorer models (*.safetensors);;All files (*)"


def _measure_machine() -> float:
    from engine.machine_speed import measured_training_flops

    return measured_training_flops()


def _load_checkpoint(path: str):
    from engine.checkpoint import load_checkpoint  # may import jax: on the worker thread

    return load_checkpoint(path)


class PretrainingTab(QWidget):
    """Controls on the left, live results on the right, messages on top."""

    model_saved = Signal(str)  # the path written
    model_opened = Signal(str)
    buttons_updated = Signal()  # what can be pressed changed (the window mirrors it in its menus)

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(parent)
        self.setObjectName("pretrainingTab")
        self.zoom = zoom
        self.controller = TrainingController(self)
        self.message_bar = MessageBar()
        self._settings_problem_shown: str | None = None
        self._left_width_fitted = False

        # --- left: settings and buttons ---
        self.corpus_panel = CorpusPanel(self.message_bar)
        self.settings_panel = ModelSettingsPanel()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train a new model from scratch with these settings.")
        self.continue_button = QPushButton("Continue training")
        self.continue_button.setToolTip("Train the current model further, up to the number of Steps.")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the run at the next step. The model trained so far is kept.")
        self.save_button = QPushButton("Save model…")
        self.open_button = QPushButton("Open model…")
        for button in self._all_buttons():
            button.setAutoDefault(False)

        run_buttons = QGridLayout()
        run_buttons.addWidget(self.start_button, 0, 0)
        run_buttons.addWidget(self.continue_button, 0, 1)
        run_buttons.addWidget(self.pause_button, 1, 0)
        run_buttons.addWidget(self.stop_button, 1, 1)
        run_buttons.addWidget(self.save_button, 2, 0)
        run_buttons.addWidget(self.open_button, 2, 1)

        settings_column = QWidget()
        settings_layout = QVBoxLayout(settings_column)
        settings_layout.addWidget(group_box("Text to learn from", self.corpus_panel))
        settings_layout.addWidget(group_box("Model size", self.settings_panel))
        settings_layout.addStretch(1)
        self.left_scroll = VerticalScrollArea()
        self.left_scroll.setWidget(settings_column)
        # The buttons stay below the scrolling settings, always in view, even at 300 % zoom.
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.left_scroll, 1)
        left_layout.addLayout(run_buttons)

        # --- right: results ---
        self.plot = LossPlot(zoom)
        plot_title = QLabel("Loss: how surprised the model is by the real next token (lower is better)")
        plot_title.setWordWrap(True)
        self.export_button = QPushButton("Export plot…")
        self.export_button.setAutoDefault(False)
        self.export_button.setToolTip("Save the loss curve as a PNG picture, e.g. for slides.")
        title_row = QHBoxLayout()
        title_row.addWidget(plot_title, 1)
        title_row.addWidget(self.export_button)
        self.progress = ProgressPanel()

        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(title_row)
        upper_layout.addWidget(self.plot, 1)
        upper_layout.addWidget(self.progress)

        self.sample_log = SampleLog(zoom)
        # What ▯ means, under the log, once a sample has one (a letter a BPE model left unfinished).
        self.sample_legend = QLabel(PARTIAL_CHARACTER_MEANING)
        self.sample_legend.setWordWrap(True)
        self.sample_legend.setVisible(False)
        self.sample_log.partial_changed.connect(self.sample_legend.setVisible)
        sample_page = QWidget()
        sample_layout = QVBoxLayout(sample_page)
        sample_layout.setContentsMargins(0, 0, 0, 0)
        sample_layout.addWidget(self.sample_log, 1)
        sample_layout.addWidget(self.sample_legend)
        self.predict_panel = PredictPanel(zoom, self.controller.latest_model)
        predict_scroll = QScrollArea()
        predict_scroll.setWidget(self.predict_panel)
        predict_scroll.setWidgetResizable(True)
        self.lower_tabs = QTabWidget()
        self.lower_tabs.addTab(sample_page, "What the model writes now")
        self.lower_tabs.addTab(predict_scroll, "Predict the next token")
        self.time_lapse = TimeLapsePanel(zoom)
        self.time_lapse_scroll = VerticalScrollArea()  # at 200 % zoom it scrolls up and down, never sideways
        self.time_lapse_scroll.setWidget(self.time_lapse)
        self.lower_tabs.addTab(self.time_lapse_scroll, "Time-lapse")

        right = self.results_splitter = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(upper)
        right.addWidget(self.lower_tabs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setChildrenCollapsible(False)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)

        self._machine_task = BackgroundTask("measuring this computer", self)
        self._machine_task.succeeded.connect(lambda _tag, flops: self.settings_panel.set_flops_per_second(flops))
        self._machine_task.failed.connect(self._on_measure_failed)
        self._open_task = BackgroundTask("opening a model", self)
        self._open_task.succeeded.connect(self._on_model_loaded)
        self._open_task.failed.connect(self._on_model_load_failed)
        self._open_task.busy_changed.connect(lambda _busy: self._update_buttons())

        self._connect()
        self._fit_layout()
        zoom.zoom_changed.connect(self._fit_layout_soon)
        self._machine_task.submit(_measure_machine)
        self._update_buttons()

    # --- wiring -----------------------------------------------------------------------------

    def _connect(self) -> None:
        self.start_button.clicked.connect(self.start_new)
        self.continue_button.clicked.connect(self.continue_training)
        self.pause_button.clicked.connect(self.controller.toggle_pause)
        self.stop_button.clicked.connect(self.controller.stop)
        self.save_button.clicked.connect(self.ask_save_model)
        self.open_button.clicked.connect(self.ask_open_model)
        self.export_button.clicked.connect(self.ask_export_plot)

        self.corpus_panel.tokenization_changed.connect(self._on_tokenization)
        self.corpus_panel.corpus_changed.connect(lambda _corpus: self._update_buttons())
        self.settings_panel.changed.connect(self._on_settings_changed)
        self.predict_panel.problem.connect(self.message_bar.error)

        c = self.controller
        c.status_changed.connect(self._on_status)
        c.progress.connect(self._on_progress)
        c.validation.connect(self._on_validation)
        c.sample.connect(self._on_sample)
        c.snapshot.connect(self._on_snapshot)
        # The time-lapse's slider and the plot's cursor line move each other.
        self.time_lapse.step_selected.connect(self.plot.set_cursor_step)
        self.plot.cursor_moved.connect(self.time_lapse.show_step)
        self.plot.cursor_released.connect(self._snap_cursor)
        c.diverged.connect(self._on_diverged)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.running_changed.connect(self._on_running_changed)
        c.paused_changed.connect(self._on_paused_changed)
        c.model_changed.connect(lambda _model: self.predict_panel.model_changed())
        c.model_changed.connect(lambda _model: self._update_buttons())

    def _all_buttons(self):
        return (self.start_button, self.continue_button, self.pause_button, self.stop_button,
                self.save_button, self.open_button)

    # --- starting runs ------------------------------------------------------------------------

    def start_new(self) -> None:
        """Train a new model from scratch with the settings on the left."""
        corpus = self.corpus_panel.corpus
        if corpus is None:
            self.message_bar.warning("The text is still being read; try again in a moment.")
            return
        model_config = self.settings_panel.model_config()
        train_config = self.settings_panel.train_config()
        if not self._settings_usable(model_config.context_length, train_config.val_fraction):
            return
        self.plot.clear_points()
        self.sample_log.clear_samples()
        self._show_time_lapse((), "The time-lapse fills as the model trains: what it writes and guesses, "
                                  "at points spread over the run.")
        self.progress.reset(train_config.total_steps)
        self.message_bar.dismiss()
        self.controller.start(corpus, self.corpus_panel.spec, model_config, train_config)

    def continue_training(self) -> None:
        """Train the current model further, up to the Steps setting, from where it stopped."""
        model = self.controller.current_model
        corpus = self.corpus_panel.corpus
        if model is None or corpus is None:
            return
        train_config = self.settings_panel.train_config()
        if train_config.total_steps <= model.step:
            self.message_bar.warning(
                f"The model has already trained for {model.step:,} steps. "
                "Raise Steps (in Advanced) above that to train it further."
            )
            return
        if not self._settings_usable(model.model_config.context_length, train_config.val_fraction):
            return
        self.plot.set_history(model.history)
        self._show_time_lapse(model.time_lapse)
        self.progress.reset(train_config.total_steps, model.step)
        self.message_bar.dismiss()
        # On resume the engine takes the tokenizer and the model's shape from the model itself.
        spec = TokenizerSpec(model.tokenizer.kind, model.tokenizer.vocab_size)
        self.controller.start(corpus, spec, model.model_config, train_config, resume=model)

    def _settings_usable(self, context_length: int, val_fraction: float) -> bool:
        problem = self.settings_panel.problem()
        if problem:
            self.message_bar.warning(problem)
            return False
        tokenized = self.corpus_panel.tokenized
        if tokenized is not None:  # otherwise the run checks the length itself, on its thread
            try:
                check_length(len(tokenized.tokens), context_length, val_fraction)
            except CorpusTooShort as err:
                self.message_bar.error(str(err))
                return False
        return True

    # --- run events -----------------------------------------------------------------------------

    def _on_status(self, status: Status) -> None:
        self.progress.show_status(status.message)

    def _on_progress(self, event: TrainProgress) -> None:
        self.plot.add_training_losses(event.steps, event.losses)
        self.progress.show_steps(event.step, event.total_steps)
        self.progress.show_pace(event.eta_seconds, event.tokens_per_second, event.elapsed_seconds)

    def _on_validation(self, event: ValidationLoss) -> None:
        self.plot.add_validation_loss(event.step, event.loss)

    def _on_sample(self, event: Sample) -> None:
        self.sample_log.add_sample(event.step, event.prompt, event.text)
        if self.lower_tabs.currentIndex() == 1:  # watching the guesses: let them sharpen live
            self.predict_panel.refresh()

    def _on_snapshot(self, snapshot) -> None:
        # The cursor's range first: placing it on the new step must not be clamped to the old range.
        count = self.time_lapse.snapshot_count()
        first = self.time_lapse.snapshot_at(0).step if count else snapshot.step
        self.plot.set_cursor_range(first, max(snapshot.step, first))
        self.time_lapse.add_snapshot(snapshot)

    def _show_time_lapse(self, snapshots, explanation: str = NO_SNAPSHOTS_TEXT) -> None:
        """Show these snapshots (a model's), with the plot's cursor at the newest; or, with none, no cursor
        and ``explanation`` in the panel."""
        if snapshots:
            self.plot.set_cursor_range(snapshots[0].step, snapshots[-1].step)
        else:
            self.plot.hide_cursor()
        self.time_lapse.set_snapshots(snapshots, explanation)

    def _snap_cursor(self) -> None:
        # Let go between two snapshots: the line lands on the one the panel shows.
        snapshot = self.time_lapse.current_snapshot()
        if snapshot is not None:
            self.plot.set_cursor_step(snapshot.step)

    def _on_diverged(self, event: Diverged) -> None:
        self.message_bar.error(event.message)

    def _on_finished(self, event: Finished) -> None:
        self.plot.flush()
        self.progress.run_ended()  # said with "Finished", not a moment later when the worker has wound down
        if event.reason == "completed":
            self.progress.show_status(f"Finished: {event.step:,} steps.")
            self.message_bar.info(
                f"Training finished after {event.step:,} steps. Save the model to keep it, or ask it "
                "for its next token below."
            )
        elif event.reason == "stopped":
            self.progress.show_status(f"Stopped at step {event.step:,}.")
            if self.controller.current_model is not None:
                self.message_bar.info(
                    f"Stopped at step {event.step:,}. The model trained so far is kept: you can save it "
                    "or continue training it."
                )
        else:  # diverged: the Diverged message is already on the bar and says more
            self.progress.show_status(f"Stopped at step {event.step:,}: the loss stopped being a number.")

    def _on_failed(self, message: str) -> None:
        self.progress.show_status("The run did not complete.")
        self.message_bar.error(message)

    def _on_running_changed(self, running: bool) -> None:
        self.corpus_panel.set_editable(not running)
        self.settings_panel.set_editable(not running)
        if not running:
            self.progress.run_ended()  # however it ended, no "Time left" stays beside it
            self._machine_task.submit(_measure_machine)  # a finished run refined the estimate
        self._update_buttons()

    def _on_paused_changed(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.progress.show_status(f"Paused at step {self.progress.step:,}. Press Resume to go on.")
        elif self.controller.is_running:
            self.progress.show_status("Training…")

    def _on_tokenization(self, tokenized) -> None:
        if tokenized is not None:
            self.settings_panel.set_vocab_size(tokenized.tokenizer.vocab_size)
        self._update_buttons()

    def _on_settings_changed(self) -> None:
        problem = self.settings_panel.problem()
        if problem and problem != self.message_bar.text():
            self.message_bar.warning(problem)
        elif not problem and self._settings_problem_shown and self.message_bar.text() == self._settings_problem_shown:
            self.message_bar.dismiss()  # the user just fixed it
        self._settings_problem_shown = problem
        self._update_buttons()

    def _on_measure_failed(self, _tag, error: Exception) -> None:
        # Only an estimate: say so quietly in its place rather than alarming the user.
        self.settings_panel.summary.setToolTip(f"The speed of this computer could not be measured ({error}).")

    # --- buttons: what can be pressed now -----------------------------------------------------------

    def _update_buttons(self) -> None:
        running = self.controller.is_running
        opening = self._open_task.busy
        valid = self.settings_panel.problem() is None
        have_corpus = self.corpus_panel.corpus is not None
        model = self.controller.current_model
        problem = self.settings_panel.problem()
        busy = first_reason((running, "A run is going now: wait for it, or press Stop."),
                            (opening, "A model is being opened: wait a moment."))
        cannot_train = busy or first_reason(
            (not valid, f"A setting needs fixing first: {problem}"),
            (not have_corpus, "There is no text to train on yet: choose a corpus above, or load one in the Data tab."))
        set_available(self.start_button, cannot_train)
        set_available(self.continue_button, cannot_train or first_reason(
            (model is None, "There is no model to continue yet: press Start, or Open model…, first.")))
        if model is not None:
            set_own_tooltip(self.continue_button,
                            f"Train the current model (now at step {model.step:,}) further, up to the number of Steps.")
        idle = None if running else "Only while a run is going: press Start first."
        set_available(self.pause_button, idle)
        set_available(self.stop_button, idle)
        set_available(self.save_button, first_reason(
            (running, "The model is still training: wait for the run to end, or press Stop, then save."),
            (model is None, "Nothing to save yet: train a model (Start) or open one first.")))
        set_available(self.open_button, busy)
        if not running:
            self.pause_button.setText("Pause")
        self.buttons_updated.emit()

    # --- files --------------------------------------------------------------------------------

    def ask_save_model(self) -> None:
        model = self.controller.current_model
        if model is None or not self.save_button.isEnabled():  # also reached from the File menu
            return
        suggestion = models_dir() / f"{_file_stem(model.corpus_name)}-step{model.step}.safetensors"
        path, _filter = QFileDialog.getSaveFileName(self, "Save model", str(suggestion), MODEL_FILE_FILTER)
        if path:
            self.save_model(path)

    def save_model(self, path: str | Path) -> Path | None:
        model = self.controller.current_model
        if model is None:
            return None
        path = Path(path)
        if path.suffix.lower() != ".safetensors":
            path = path.with_name(path.name + ".safetensors")
        try:
            from engine.checkpoint import save_checkpoint

            written = Path(save_checkpoint(model, path))
        except PlainError as err:
            self.message_bar.error(str(err))
            return None
        except OSError as err:
            self.message_bar.error(f"The model could not be saved to '{path.name}': {err.strerror or err}.")
            return None
        self.message_bar.info(f"Saved the model (step {model.step:,}) as '{written.name}'.")
        self.model_saved.emit(str(written))
        return written

    def ask_open_model(self) -> None:
        if not self.open_button.isEnabled():  # also reached from the File menu
            return
        path, _filter = QFileDialog.getOpenFileName(self, "Open model", str(models_dir()), MODEL_FILE_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> None:
        """Load a model in the background; the current model stays until the new one has loaded."""
        self._open_task.submit(_load_checkpoint, str(path), tag=str(path))
        self.progress.show_status(f"Opening {Path(path).name}…")

    def _on_model_loaded(self, path: str, model) -> None:
        if self.controller.is_running:  # cannot happen through the buttons, but never swap mid-run
            return
        self.show_model(model)
        where = f" on '{model.corpus_name}'" if model.corpus_name else ""
        self.message_bar.info(
            f"Opened '{Path(path).name}': trained for {model.step:,} steps{where}. "
            "To train it further, raise Steps (in Advanced) and press Continue training."
        )
        self.model_opened.emit(path)

    def show_model(self, model) -> None:
        """Make ``model`` the current one, with its curve, settings and tokenizer (None: no model).

        Used for an opened model file and for a reopened session; ignored while a run goes.
        """
        if self.controller.is_running:
            return
        self.controller.set_model(model)
        if model is None:
            self.plot.clear_points()
            self._show_time_lapse((), "Train or open a model to see its time-lapse.")
            self.progress.reset(self.settings_panel.train_config().total_steps)
            self.progress.show_status("")
            return
        self.plot.set_history(model.history)
        self._show_time_lapse(model.time_lapse)
        self.settings_panel.set_configs(model.model_config, model.train_config)
        self.corpus_panel.set_spec(TokenizerSpec(model.tokenizer.kind, model.tokenizer.vocab_size))
        self.progress.reset(model.train_config.total_steps, model.step)
        self.progress.show_status(f"Opened a model trained for {model.step:,} steps.")

    def _on_model_load_failed(self, path: str, error: Exception) -> None:
        self.progress.show_status("")
        self.message_bar.error(plain_message(error))

    def ask_export_plot(self) -> None:
        """The loss curve as a PNG at projector resolution, like every other plot (``gui.export``)."""
        self.plot.flush()  # the curve is redrawn at most a few times a second: draw the newest points first
        export.ask_png(self.plot, "loss-curve")

    # --- layout and lifecycle -------------------------------------------------------------------

    def _fit_layout(self, *_args) -> None:
        """Settings column: about 50 characters, at most 40 % of the width; results: plot above, 40 % below.

        The results are what the audience looks at. The column never gets less than its contents
        need (``VerticalScrollArea`` reports that), so nothing in it is ever clipped.
        """
        total = self.splitter.width()
        scrollbar = self.left_scroll.verticalScrollBar().sizeHint().width()
        preferred = self.fontMetrics().horizontalAdvance("x" * 50) + scrollbar
        needed = self.splitter.widget(0).minimumSizeHint().width()
        width = max(needed, min(preferred, int(total * 0.4)))
        self.splitter.setSizes([width, max(total - width, 1)])
        # Samples and predictions need room too: about 40 % of the height below the plot.
        height = self.results_splitter.height()
        self.results_splitter.setSizes([int(height * 0.6), height - int(height * 0.6)])

    def _fit_layout_soon(self, *_args) -> None:
        # After a zoom change the layouts recompute their sizes in posted events: measure after them.
        QTimer.singleShot(0, self._fit_layout)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._left_width_fitted:  # the first real size is only known once shown
            self._left_width_fitted = True
            self._fit_layout_soon()

    # --- the stage's state (engine.session.state) -------------------------------------------------------

    def stage_state(self) -> PretrainingState:
        """What the tab shows now. Mid-run, the newest model the run vouched for (the run's own once it
        has ended, e.g. when the window closes), marked as interrupted; with no run, the current model."""
        so_far = self.controller.model_so_far
        panel = self.corpus_panel
        return PretrainingState(
            model=so_far if so_far is not None else self.controller.latest_model(),
            corpus="curated" if panel.using_curated else str(panel.corpus_combo.currentData() or "curated"),
            spec=panel.spec, model_config=self.settings_panel.model_config(),
            train_config=self.settings_panel.train_config(),
            interrupted_at_step=None if so_far is None else int(so_far.step))

    def apply_state(self, state: PretrainingState) -> None:
        """Show a reopened session's model (also handed on), settings and text ("curated": leave it as it is)."""
        self.show_model(state.model)
        if state.model_config is not None and state.train_config is not None:
            self.settings_panel.set_configs(state.model_config, state.train_config)
        if state.spec is not None:
            self.corpus_panel.set_spec(state.spec)
        kind, _, value = state.corpus.partition(":")
        if kind == "bundled":
            self.corpus_panel.choose_bundled(value)
        elif kind == "file":
            self.corpus_panel.open_file(value)

    @property
    def running(self) -> str:
        """The run going now, in words, or ""."""
        return "pretraining" if self.controller.is_running else ""

    def change_signals(self) -> list:
        # A run that starts changes the model soon; while it goes, the model so far is saved.
        return [self.corpus_panel.corpus_combo.activated, self.controller.running_changed,
                self.controller.model_changed]

    @property
    def busy(self) -> bool:
        """Still working in the background (reading, tokenizing, measuring, opening, predicting)."""
        return (self.controller.is_running or self.corpus_panel.busy or self._machine_task.busy
                or self._open_task.busy or self.predict_panel.busy)

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        """Stop the run and wait for every worker thread; called when the window closes."""
        stopped = self.controller.stop_and_wait(timeout_s)
        self.time_lapse.stop_playing()
        others = [
            self.corpus_panel.shutdown(timeout_s),
            self.predict_panel.shutdown(timeout_s),
            self._machine_task.shutdown(timeout_s),
            self._open_task.shutdown(timeout_s),
        ]
        return stopped and all(others)



def _file_stem(name: str) -> str:
    """A file-name-safe version of a corpus name: "A fictional world (generated)" → "a-fictional-world"."""
    words = "".join(ch.lower() if ch.isalnum() else " " for ch in name.split("(")[0]).split()
    return "-".join(words[:4]) or "model"
