"""What the two tuning stages share: a base model in, a run with a live loss curve, a tuned model out.

Instruction tuning (``gui.instruction_tab``) and preference tuning (``gui.preference_tab``) look and
work alike, as the engine's runs do (``engine.stages.tuning_run``). This base tab holds:

- on the left: the model to start from (handed on by the previous stage, or opened from a file),
  full fine-tuning or LoRA with a one-line explanation each, the number of steps, and
  Start / Stop / Save;
- on the right: the loss curve and the progress bar with ETA above, and the stage's own pages
  below (its data table, its before-and-after comparison);
- a message bar on top, for every problem in plain words.

A subclass says what its run is (``make_run``), which pages it shows, and what to compare once a
run has finished. The tuned model is published with ``model_changed`` for the next stage.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.events import Diverged, Finished, Status, TrainProgress, ValidationLoss
from engine.stages.lora import METHOD_EXPLANATIONS, METHOD_FULL, METHOD_LORA
from engine.shipped_models import SHIPPED_TITLES, load_shipped, shipped_stages
from engine.session.state import InstructionState
from engine.user_paths import models_dir
from gui import export
from gui.availability import first_reason, set_available, set_own_tooltip
from gui.background import BackgroundTask
from gui.bindings import Bindings, SpinSetting
from gui.training_controller import TrainingController, plain_message
from gui.widgets.loss_plot import LossPlot
from gui.widgets.message_bar import MessageBar
from gui.widgets.progress_panel import ProgressPanel
from gui.widgets.vertical_scroll_area import VerticalScrollArea
from gui.zoom import ZoomController
from gui.widgets.group_box import group_box

NOTHING_TO_CONTINUE = "Train further a run that was stopped or has finished, from where it ended. Tune a model first."
LORA_CANNOT_CONTINUE = ("A LoRA run cannot be continued exactly: when it ended, its small add-on matrices were "
                        "merged into the model and no longer exist. Start a new run, or use full fine-tuning, "
                        "whose runs can be continued.")
MODEL_FILE_FILTER = "Training Explorer models (*.safetensors)"
# How a base model is described: "A pretrained model, 1,200 steps…" (its stage field is a noun).
STAGE_ADJECTIVES = {"pretraining": "A pretrained", "instruction": "An instruction-tuned",
                    "preference": "A preference-tuned"}


LONGEST_BUTTON_LINE = len("Use the shipped pretrained model")  # fits the settings column at 200 % zoom

NO_COMPARISON = "Tune a model to compare it with the one it started from."
STEPS = SpinSetting("steps", "Steps", "train", range_name="total_steps", step=50, cap=100_000)

def _two_lines_if_long(text: str) -> str:
    """A button's text, broken at the space nearest its middle if one line would widen the column.

    A push button never wraps by itself; "Use the shipped instruction-tuned model" on one line made
    the settings column, and so the window, wider than a 1280-pixel projector at 200 % zoom.
    """
    if len(text) <= LONGEST_BUTTON_LINE or " " not in text:
        return text
    spaces = [i for i, c in enumerate(text) if c == " "]
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return f"{text[:cut]}\n{text[cut + 1:]}"


def _load_checkpoint(path: str):
    from engine.checkpoint import load_checkpoint  # imports jax: on the worker thread only

    return load_checkpoint(path)


def _save_checkpoint(model, path: str):
    from engine.checkpoint import save_checkpoint

    return save_checkpoint(model, path)


class TuningTab(QWidget):
    """The shared anatomy of a tuning stage; subclasses fill in the data and the comparison."""

    model_changed = Signal(object)  # the tuned TrainedModel, for the next stage
    model_cleared = Signal()  # a session without a tuned model was applied: the shelf drops this stage's
    state_class = InstructionState  # the stage's state (engine.session.state)
    stage_title = ""  # e.g. "Instruction tuning"
    base_stages: tuple[str, ...] = ()  # TrainedModel.stage values this stage can start from
    base_hint = ""  # what to do when there is no base model yet

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(parent)
        self.zoom = zoom
        self.base_model = None  # the TrainedModel to start from
        self.controller = TrainingController(self)
        self.message_bar = MessageBar()
        self._left_width_fitted = False
        self._page_widgets: list[QWidget] = []  # the pages' contents, whose minimum follows the zoom

        # --- left ---
        self.base_label = QLabel(self.base_hint)
        self.base_label.setWordWrap(True)
        self.open_button = QPushButton("Open model…")
        self.open_button.setToolTip("Start from a model saved earlier.")
        # The model the app ships for the stage before this one: a class can tune at once.
        self.shipped_stage = self.base_stages[0] if self.base_stages else None
        self.shipped_button = QPushButton(_two_lines_if_long(f"Use the {SHIPPED_TITLES[self.shipped_stage].lower()}")
                                          if self.shipped_stage in SHIPPED_TITLES else "")
        self.shipped_button.setToolTip("Start from the model that comes with the app, trained on the fictional "
                                       "world. Nothing to train first.")
        self.shipped_button.clicked.connect(self.use_shipped_model)
        self.shipped_button.setVisible(self.shipped_stage in shipped_stages())
        base_box = QWidget()
        base_layout = QVBoxLayout(base_box)
        base_layout.setContentsMargins(0, 0, 0, 0)
        base_layout.addWidget(self.base_label)
        base_layout.addWidget(self.open_button)
        base_layout.addWidget(self.shipped_button)

        self.full_radio = QRadioButton("Full fine-tuning")
        self.lora_radio = QRadioButton("LoRA (small add-on matrices)")
        self.method_group = QButtonGroup(self)
        self.method_group.addButton(self.full_radio)
        self.method_group.addButton(self.lora_radio)
        self.full_radio.setChecked(True)
        self.method_explanation = QLabel()
        self.method_explanation.setWordWrap(True)
        # The run's settings, bound by name to the stage state's fields (gui/bindings.py).
        self.run_settings = Bindings()
        self.steps_spin = self.run_settings.spin(STEPS, 1)  # the method's default steps replace the 1
        method_box = QWidget()
        method_layout = QVBoxLayout(method_box)
        method_layout.setContentsMargins(0, 0, 0, 0)
        method_layout.addWidget(self.full_radio)
        method_layout.addWidget(self.lora_radio)
        method_layout.addWidget(self.method_explanation)
        steps_form = QFormLayout()
        steps_form.addRow(STEPS.label, self.steps_spin)
        method_layout.addLayout(steps_form)

        self.settings_column = QWidget()
        self.settings_layout = QVBoxLayout(self.settings_column)
        self.settings_layout.addWidget(group_box("Start from", base_box))
        self.settings_layout.addWidget(group_box("How to train", method_box))
        self.left_scroll = VerticalScrollArea()
        self.left_scroll.setWidget(self.settings_column)

        self.start_button = QPushButton("Start")
        self.continue_button = QPushButton("Continue training")
        self.continue_button.setAccessibleName("Continue training")
        self.continue_button.setToolTip(NOTHING_TO_CONTINUE)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the run at the next step. The model tuned so far is kept.")
        self.save_button = QPushButton("Save model…")
        for button in (self.start_button, self.continue_button, self.stop_button, self.save_button, self.open_button,
                       self.shipped_button):
            button.setAutoDefault(False)
        buttons = QGridLayout()
        buttons.addWidget(self.start_button, 0, 0)
        buttons.addWidget(self.stop_button, 0, 1)
        buttons.addWidget(self.continue_button, 1, 0, 1, 2)
        buttons.addWidget(self.save_button, 2, 0, 1, 2)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.left_scroll, 1)
        left_layout.addLayout(buttons)

        # --- right ---
        # The tuning stages check on pairs held back from training, not on unseen running text.
        self.plot = LossPlot(zoom, validation_label="loss on held-back pairs")
        self.plot.export_name = f"{self.stage_title.lower().replace(' ', '-')}-loss"  # the right-click export's file
        self.plot_title = QLabel("Loss on the examples (lower is better)")
        self.plot_title.setWordWrap(True)
        self.export_plot_button = QPushButton("Export plot…")
        self.export_plot_button.setAutoDefault(False)
        self.export_plot_button.setToolTip(export.PNG_TIP)
        self.export_plot_button.setAccessibleName("Export the loss plot as PNG")
        self.export_plot_button.clicked.connect(self.ask_export_plot)
        self.progress = ProgressPanel()
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        title_row = QHBoxLayout()
        title_row.addWidget(self.plot_title, 1)
        title_row.addWidget(self.export_plot_button, 0, Qt.AlignmentFlag.AlignTop)
        upper_layout.addLayout(title_row)
        upper_layout.addWidget(self.plot, 1)
        upper_layout.addWidget(self.progress)
        self.pages = QTabWidget()
        self.results_splitter = QSplitter(Qt.Orientation.Vertical)
        self.results_splitter.addWidget(upper)
        self.results_splitter.addWidget(self.pages)
        self.results_splitter.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.results_splitter)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)

        self._open_task = BackgroundTask(f"opening a model for {self.stage_title}", self)
        self._open_task.succeeded.connect(lambda _tag, model: self.set_base_model(model, opened=True))
        self._open_task.failed.connect(lambda _tag, error: self.message_bar.error(plain_message(error)))
        self._save_task = BackgroundTask(f"saving a {self.stage_title} model", self)
        self._save_task.succeeded.connect(lambda _tag, path: self.message_bar.info(f"Saved as '{Path(path).name}'."))
        self._save_task.failed.connect(lambda _tag, error: self.message_bar.error(plain_message(error)))

        c = self.controller
        c.status_changed.connect(self._on_status)
        c.progress.connect(self._on_progress)
        c.validation.connect(self._on_validation)
        c.diverged.connect(self._on_diverged)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.running_changed.connect(lambda _running: self._update_buttons())
        # However the run ended (finished, stopped, diverged, failed), no "Time left" stays beside it.
        c.running_changed.connect(lambda running: None if running else self.progress.run_ended())
        self.open_button.clicked.connect(self.ask_open_model)
        self.start_button.clicked.connect(self.start)
        self.continue_button.clicked.connect(self.continue_training)
        self.stop_button.clicked.connect(self.controller.stop)
        self.save_button.clicked.connect(self.ask_save_model)
        self.full_radio.toggled.connect(self._on_method_changed)
        zoom.zoom_changed.connect(lambda *_: QTimer.singleShot(0, self._fit_layout))

    def ask_export_plot(self) -> None:
        """The loss curve as a PNG at projector resolution (``gui.export``), newest points drawn first."""
        self.plot.flush()
        export.ask_png(self.plot, self.plot.export_name)

    def add_page(self, widget: QWidget, title: str) -> None:
        """A page below the plot, scrollable, so a small window or a big zoom never clips it."""
        scroll = QScrollArea()
        scroll.setWidget(widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        widget.setMinimumSize(widget.minimumSizeHint())  # scroll rather than squeeze it (again on zoom)
        self._page_widgets.append(widget)
        self.pages.addTab(scroll, title)

    def show_page(self, widget: QWidget) -> None:
        for i in range(self.pages.count()):
            page = self.pages.widget(i)
            if page is widget or (isinstance(page, QScrollArea) and page.widget() is widget):
                self.pages.setCurrentIndex(i)

    def finish_setup(self) -> None:
        """Subclasses call this at the end of their __init__, once their pages exist."""
        self.settings_layout.addStretch(1)
        self.progress.show_status("Choose the model to start from, then press Start.")
        self._on_method_changed()
        self._update_buttons()

    # --- what a stage provides ------------------------------------------------------------------

    def make_run(self, base, train_config, method: str, control, resume=None):
        """Build the engine run (on the worker thread). Must raise PlainError for bad data.

        ``resume`` is the tuned model of a stopped or finished full fine-tuning run to continue."""
        raise NotImplementedError

    def prepare_run(self, resuming: bool) -> None:
        """Called on the GUI thread just before a run starts: snapshot the data the run will read."""

    def default_train(self, method: str):
        raise NotImplementedError

    def check_ready(self) -> str | None:
        """A plain reason why Start cannot be pressed yet, or None."""
        return None

    def on_tuned(self, base, tuned) -> None:
        """Called after a run has produced ``tuned`` from ``base`` (e.g. to compare them)."""

    def on_base_changed(self) -> None:
        """Called when the model to start from changes."""

    def truncate_plots_after(self, step: int) -> None:
        """A diverged run kept the model from ``step``: drop the stage's own plotted points past it."""

    # --- the model to start from -------------------------------------------------------------------

    @property
    def method(self) -> str:
        return METHOD_LORA if self.lora_radio.isChecked() else METHOD_FULL

    @property
    def tuned_model(self):
        """The model this stage produced (the last finished or stopped run), or None."""
        model = self.controller.current_model
        return model if model is not self.base_model else None

    def set_base_model(self, model, opened: bool = False) -> None:
        """Offer ``model`` as the starting point (ignored while a run goes; refused from a later stage)."""
        if model is None or self.controller.is_running:
            return
        if self.base_stages and model.stage not in self.base_stages:
            if opened:
                self.message_bar.error(
                    f"This model comes from {model.stage.replace('instruction', 'instruction tuning')}, but "
                    f"{self.stage_title.lower()} starts from a {' or '.join(self.base_stages)} model.")
            return
        self.base_model = model
        where = f" on “{model.corpus_name}”" if model.corpus_name else ""
        self.base_label.setText(f"{STAGE_ADJECTIVES.get(model.stage, 'A ' + model.stage)} model, {model.step:,} steps{where}, "
                                f"{model.tokenizer.kind.upper() if model.tokenizer.kind == 'bpe' else 'character'} "
                                f"tokens.")
        if opened:
            self.message_bar.info("Opened. Press Start to tune it.")
        self.on_base_changed()
        self._update_buttons()

    def restore_models(self, base, tuned, interrupted: bool = False) -> None:
        """Adopt a reopened session's models: the one to start from and the one tuned from it (either may be None).

        The tuned model's curve is redrawn from its history, and it is handed on like a freshly tuned one
        (to the next stage and the model shelf). ``interrupted``: ``tuned`` is a run's model autosaved
        mid-run (the app was closed or killed while it went). Ignored while a run goes.
        """
        if self.controller.is_running:
            return
        self.base_model = None
        self.base_label.setText(self.base_hint)
        if base is not None:
            self.set_base_model(base)
        else:
            self.on_base_changed()
        self.controller.set_model(tuned)
        if tuned is None:
            self.plot.clear_points()
            self.progress.reset(self.steps_spin.value())
            self.progress.show_status("Choose the model to start from, then press Start.")
        else:
            self.plot.set_history(tuned.history)
            self.progress.reset(tuned.train_config.total_steps, tuned.step)
            self.progress.show_status(f"The run was interrupted; its model from step {tuned.step:,} is back."
                                      if interrupted else f"Tuned for {tuned.step:,} steps.")
            self.model_changed.emit(tuned)
        self._update_buttons()

    def ask_open_model(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Open a model", str(models_dir()), MODEL_FILE_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> None:
        self._open_task.submit(_load_checkpoint, str(path))

    def use_shipped_model(self) -> None:
        """Start from the shipped model of the stage before this one (opened on a worker thread)."""
        self._open_task.submit(load_shipped, self.shipped_stage)

    def ask_save_model(self) -> None:
        model = self.tuned_model
        if model is None:
            return
        suggestion = models_dir() / f"{model.stage}-step{model.step}.safetensors"
        path, _filter = QFileDialog.getSaveFileName(self, "Save model", str(suggestion), MODEL_FILE_FILTER)
        if path:
            self.save_model(path)

    def save_model(self, path: str | Path) -> None:
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        self._save_task.submit(_save_checkpoint, self.tuned_model, str(path))

    # --- running ------------------------------------------------------------------------------------

    def start(self) -> None:
        base = self.base_model
        if base is None or self.controller.is_running:
            return
        problem = self.check_ready()
        if problem:
            self.message_bar.error(problem)
            return
        from engine.config import replace

        train = replace(self.default_train(self.method), total_steps=self.steps_spin.value())
        method = self.method
        self.message_bar.dismiss()
        self.plot.clear_points()
        self.progress.reset(train.total_steps)
        self._run_base = base
        self.prepare_run(resuming=False)
        self.controller.start_run(lambda control: self.make_run(base, train, method, control))

    def continue_problem(self) -> str | None:
        """Why Continue training cannot be pressed now (for its tooltip), or None."""
        tuned = self.tuned_model
        if tuned is None:
            return NOTHING_TO_CONTINUE
        if tuned.details.get("method") == METHOD_LORA:
            return LORA_CANNOT_CONTINUE
        if self.method == METHOD_LORA:
            return ("The tuned model was made by full fine-tuning, and a LoRA run cannot continue it exactly. "
                    "Choose Full fine-tuning to continue it.")
        if tuned.details.get("stopped") == "diverged":
            return ("This run's loss blew up. Continuing it would take the same steps again and blow up at the "
                    "same place; press Start for a new run instead.")
        if self.base_model is None:
            return self.base_hint
        return self.check_ready()

    def continue_training(self) -> None:
        """Train the tuned model further, up to the Steps setting, from where its run ended.

        The engine continues exactly (``resume=``): the same starting model and pairs are needed,
        and it refuses in words otherwise. The new points are appended to the curve shown.
        """
        tuned = self.tuned_model
        base = self.base_model
        if self.controller.is_running or self.continue_problem() is not None:
            return
        total = self.steps_spin.value()
        if total <= tuned.step:
            self.message_bar.warning(f"The tuned model has already trained for {tuned.step:,} steps. "
                                     "Raise Steps above that to train it further.")
            return
        from engine.config import replace

        train = replace(self.default_train(self.method), total_steps=total)
        method = self.method
        self.message_bar.dismiss()
        self.plot.set_history(tuned.history)  # the run's curve so far; the continuation appends to it
        self.progress.reset(total, tuned.step)
        self._run_base = base
        self.prepare_run(resuming=True)
        self.controller.start_run(lambda control: self.make_run(base, train, method, control, resume=tuned))

    def _on_status(self, status: Status) -> None:
        self.progress.show_status(status.message)

    def _on_progress(self, event: TrainProgress) -> None:
        self.plot.add_training_losses(event.steps, event.losses)
        self.progress.show_steps(event.step, event.total_steps)
        self.progress.show_pace(event.eta_seconds, event.tokens_per_second, event.elapsed_seconds)

    def _on_validation(self, event: ValidationLoss) -> None:
        self.plot.add_validation_loss(event.step, event.loss)

    def _on_diverged(self, event: Diverged) -> None:
        self.message_bar.error(event.message)

    def _on_finished(self, event: Finished) -> None:
        self.progress.run_ended()  # said with "Finished", not a moment later when the worker has wound down
        if event.reason == "diverged":
            # The run kept the model from ``event.step``; points past it (a log point it rolled back
            # over) belong to a model that is gone, so the curves end where the kept model's record does.
            self.plot.truncate_after(event.step)
            self.truncate_plots_after(event.step)
        self.plot.flush()
        tuned = self.controller.current_model
        if tuned is None or tuned is self._run_base:
            return
        if event.reason == "completed":
            self.progress.show_status("Finished.")
        elif event.reason == "diverged":  # the Diverged message is already on the bar and says more
            self.progress.show_status(f"Stopped at step {event.step:,}: the loss stopped being a number. "
                                      f"The model from step {event.step:,} is kept.")
        else:
            self.progress.show_status("Stopped; the model so far is kept.")
        self.model_changed.emit(tuned)
        self.on_tuned(self._run_base, tuned)
        self._update_buttons()

    def _on_failed(self, message: str) -> None:
        self.message_bar.error(message)
        self.progress.show_status("Could not train.")

    def _on_method_changed(self, *_args) -> None:
        self.method_explanation.setText(METHOD_EXPLANATIONS[self.method])
        if not self.controller.is_running:
            self.steps_spin.setValue(self.default_train(self.method).total_steps)
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.controller.is_running
        busy = "A run is going now: wait for it, or press Stop." if running else None
        not_ready = None if self.base_model is not None and self.check_ready() is None else (
            self.check_ready() or self.base_hint)
        set_available(self.start_button, busy or not_ready)
        problem = self.continue_problem()
        tuned = self.tuned_model
        set_own_tooltip(self.continue_button, "" if problem else (
            f"Train the tuned model (now at step {tuned.step:,}) further, up to the number of Steps, "
            "from exactly where its run ended. Needs the same starting model and pairs."))
        set_available(self.continue_button, busy or problem)
        set_available(self.stop_button, None if running else "Only while a run is going: press Start first.")
        set_available(self.save_button, first_reason(
            (running, "The model is still being tuned: wait for the run to end, or press Stop, then save."),
            (tuned is None, "Nothing to save yet: press Start to tune a model first.")))
        for w in (self.open_button, self.full_radio, self.lora_radio, self.steps_spin):
            set_available(w, None if not running else "Not while a run is going: wait for it, or press Stop.")

    # --- layout and lifecycle -----------------------------------------------------------------------

    def _fit_layout(self) -> None:
        # A page's minimum was measured at the zoom it was made at: measure again at this one, so a
        # page scrolls rather than squeezes when zoomed in and stops scrolling when zoomed out.
        for widget in self._page_widgets:
            widget.setMinimumSize(0, 0)
            widget.setMinimumSize(widget.minimumSizeHint())
        total = self.splitter.width()
        scrollbar = self.left_scroll.verticalScrollBar().sizeHint().width()
        preferred = self.fontMetrics().horizontalAdvance("x" * 44) + scrollbar
        needed = self.splitter.widget(0).minimumSizeHint().width()
        width = max(needed, min(preferred, int(total * 0.35)))
        self.splitter.setSizes([width, max(total - width, 1)])
        height = self.results_splitter.height()
        self.results_splitter.setSizes([int(height * 0.45), height - int(height * 0.45)])

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._left_width_fitted:
            self._left_width_fitted = True
            QTimer.singleShot(0, self._fit_layout)

    # --- the stage's state (engine.session.state) -------------------------------------------------------

    def stage_state(self):
        """What the tab shows now. Mid-run, the newest model the run vouched for, marked as interrupted."""
        so_far = self.controller.model_so_far
        latest = self.controller.latest_model()
        tuned = so_far if so_far is not None else latest if latest is not self.base_model else None
        # The table compares the model of an earlier run, not the interrupted one: left out then.
        comparison = ((tuple(self.comparison.rows()), self.comparison.summary_label.text())
                      if self.comparison.rows() and so_far is None else None)
        return self.state_class(rows=tuple(self.pairs.rows()), base=self.base_model, tuned=tuned, method=self.method,
                                comparison=comparison, **self.run_settings.values(),
                                interrupted_at_step=None if so_far is None else int(so_far.step),
                                **self.own_state(so_far))

    def own_state(self, so_far) -> dict:
        """The stage's own fields of its state (DPO's settings, …), for ``stage_state``."""
        return {}

    def apply_state(self, state) -> None:
        """Show ``state`` (a reopened session's): settings, table, models, before-and-after table."""
        (self.lora_radio if state.method == METHOD_LORA else self.full_radio).setChecked(True)
        self.run_settings.apply(state)  # after the method, which sets its own default steps
        self.pairs.reset_rows([dict(r) for r in state.rows])
        self.restore_models(state.base, state.tuned, interrupted=state.interrupted_at_step is not None)
        if state.tuned is None:
            self.model_cleared.emit()  # no leftover from the work before
        if state.comparison is not None:
            self.comparison.set_rows(list(state.comparison[0]), state.comparison[1])
        else:
            self.comparison.set_rows([], NO_COMPARISON)

    @property
    def running(self) -> str:
        """The run going now, in words ("instruction tuning"), or ""."""
        return self.stage_title.lower() if self.controller.is_running else ""

    def change_signals(self) -> list:
        return [self.controller.running_changed, self.controller.model_changed, self.model_changed,
                self.pairs.changed]

    @property
    def busy(self) -> bool:
        return self.controller.is_running or self._open_task.busy or self._save_task.busy

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        stopped = self.controller.stop_and_wait(timeout_s)
        others = [self._open_task.shutdown(timeout_s), self._save_task.shutdown(timeout_s)]
        return stopped and all(others)
