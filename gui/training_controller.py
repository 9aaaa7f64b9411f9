"""One training run on one worker thread, turned into Qt signals for a stage's tab.

Every stage's run (``PretrainingRun``, ``InstructionTuningRun``, ``PreferenceTuningRun``) has the
same shape: ``events()`` is a plain generator of event objects. Here it runs inside
a superqt ``GeneratorWorker`` (as napari runs its long jobs): every yielded event crosses to the GUI
thread as a queued signal and is re-emitted as a typed signal the widgets subscribe to. Widgets
never see the worker, and the engine never sees Qt.

Pause, resume and stop go through the engine's ``RunControl``, which the run obeys at step
boundaries, so a stop never leaves half-updated parameters. The controller also owns "the current
model": the last trained or opened ``TrainedModel``, which survives stops, divergence and failed
attempts to start or open something else.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import GeneratorWorker

from engine.config import ModelConfig, TrainConfig
from engine.data.corpus import Corpus
from engine.errors import PlainError
from engine.events import (
    AlignmentTax,
    Diverged,
    Finished,
    PreferenceMetrics,
    RunControl,
    Sample,
    Status,
    TrainProgress,
    ValidationLoss,
)
from engine.stages.time_lapse import Snapshot
from engine.tokenizer import TokenizerSpec
from gui.background_priority import lower_background_threads

log = logging.getLogger(__name__)


def plain_message(error: BaseException) -> str:
    """What the message bar says about an exception: the engine's own words, or a short summary."""
    if isinstance(error, PlainError):
        return str(error)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"Something went wrong: {detail}"


@dataclass(frozen=True)
class _RunCreated:
    """First thing the worker yields: the run object, whose ``trained`` model the GUI keeps."""

    run: Any  # engine.stages.pretraining.PretrainingRun (not imported here: it imports jax)


def _run_events(make_run: Callable[[RunControl], Any], control: RunControl, done: threading.Event):
    """The worker's generator. Runs entirely on the worker thread, including the jax import."""
    try:
        if control.stop_requested:  # stopped before the thread even began: nothing to undo
            return
        run = make_run(control)
        yield _RunCreated(run)
        for event in run.events():
            if isinstance(event, TrainProgress):  # by now XLA has started its threads: lower them
                lower_background_threads()
            yield event
    finally:
        done.set()


def _pretraining_run(corpus, tokenizer_spec, model_config, train_config, resume, control):
    from engine.stages.pretraining import PretrainingRun  # imports jax: seconds, so never on the GUI thread

    return PretrainingRun(corpus, tokenizer_spec, model_config, train_config, control=control, resume=resume)


class TrainingController(QObject):
    """Starts, pauses and stops training runs and republishes their events as signals."""

    status_changed = Signal(object)  # engine.events.Status
    progress = Signal(object)  # TrainProgress
    validation = Signal(object)  # ValidationLoss
    preference_metrics = Signal(object)  # PreferenceMetrics (preference tuning only)
    alignment_tax = Signal(object)  # AlignmentTax (preference tuning only)
    sample = Signal(object)  # Sample
    snapshot = Signal(object)  # engine.stages.time_lapse.Snapshot (pretraining's time-lapse)
    diverged = Signal(object)  # Diverged
    finished = Signal(object)  # Finished: the run's own last event
    failed = Signal(str)  # the run could not start, or crashed: a plain message
    running_changed = Signal(bool)  # True at start; False once the worker thread has ended
    paused_changed = Signal(bool)
    model_changed = Signal(object)  # the current TrainedModel, or None

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker: GeneratorWorker | None = None
        self._control: RunControl | None = None
        self._run = None
        self._done: threading.Event | None = None
        self._model = None  # engine.trained_model.TrainedModel
        self._model_so_far = None  # the running run's latest vouched-for model (TrainProgress.model_so_far)

    # --- state ------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._worker is not None

    @property
    def is_paused(self) -> bool:
        return self._control is not None and self._control.paused

    @property
    def current_model(self):
        """The model the user has now: the last finished, stopped or opened one (or None)."""
        return self._model

    def latest_model(self):
        """The freshest model: the run's once it has one, else the current model.

        The engine publishes ``run.trained`` when the run ends, so during a run this is the model
        the user had before it (predictions keep working, on the older parameters).
        """
        if self._run is not None and getattr(self._run, "trained", None) is not None:
            return self._run.trained
        return self._model

    @property
    def model_so_far(self):
        """Mid-run only: the newest model the run has published at a log point, else None.

        For the autosave, so that killing the app mid-run loses at most a log interval of training.
        None once the run has handed over its own model (``latest_model`` then has it).
        """
        if self._run is None or getattr(self._run, "trained", None) is not None:
            return None
        return self._model_so_far

    def set_model(self, model) -> None:
        """Adopt a model opened from a file (refused while a run is going)."""
        if self.is_running:
            raise RuntimeError("cannot replace the model while training")
        self._model = model
        self.model_changed.emit(model)

    # --- commands ---------------------------------------------------------------------------

    def start(
        self,
        corpus: Corpus,
        tokenizer_spec: TokenizerSpec,
        model_config: ModelConfig,
        train_config: TrainConfig,
        resume=None,
    ) -> None:
        """Begin a pretraining run on the worker thread; events follow as signals. One run at a time."""
        self.start_run(partial(_pretraining_run, corpus, tokenizer_spec, model_config, train_config, resume))

    def start_run(self, make_run: Callable[[RunControl], Any]) -> None:
        """Begin any stage's run: ``make_run(control)`` builds it on the worker thread (it may import jax)."""
        if self.is_running:
            raise RuntimeError("a run is already going")
        self._control = RunControl()
        self._done = threading.Event()
        self._run = None
        self._model_so_far = None
        worker = GeneratorWorker(_run_events, make_run, self._control, self._done)
        worker.yielded.connect(self._on_yielded)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        self.running_changed.emit(True)
        # The engine says "Preparing data…" itself, but only after jax is imported; say it now.
        self.status_changed.emit(Status("Preparing data…", "preparing"))
        # Straight onto the pool (worker.start() would wait for the event loop), so that a window
        # closed a moment after Start can still wait for the thread it started.
        QThreadPool.globalInstance().start(worker)

    def pause(self) -> None:
        if self._control is not None and not self._control.paused:
            self._control.pause()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._control is not None and self._control.paused:
            self._control.resume()
            self.paused_changed.emit(False)

    def toggle_pause(self) -> None:
        self.resume() if self.is_paused else self.pause()

    def stop(self) -> None:
        """Ask the run to end at the next step boundary; it then yields Finished("stopped")."""
        if self._control is not None:
            was_paused = self._control.paused
            self._control.stop()  # also wakes a paused run
            if was_paused:
                self.paused_changed.emit(False)

    def stop_and_wait(self, timeout_s: float = 60.0) -> bool:
        """Stop and block until the worker's generator has returned (used when the window closes).

        A step, or a compilation, cannot be interrupted, so this may take a few seconds.
        Returns True if the thread ended in time.
        """
        if self._worker is None or self._done is None:
            return True
        self.stop()
        return self._done.wait(timeout_s)

    # --- events from the worker (queued onto the GUI thread) ------------------------------------

    def _on_yielded(self, event) -> None:
        if isinstance(event, _RunCreated):
            self._run = event.run
        elif isinstance(event, TrainProgress):
            if event.model_so_far is not None:
                self._model_so_far = event.model_so_far
            self.progress.emit(event)
        elif isinstance(event, ValidationLoss):
            self.validation.emit(event)
        elif isinstance(event, PreferenceMetrics):
            self.preference_metrics.emit(event)
        elif isinstance(event, AlignmentTax):
            self.alignment_tax.emit(event)
        elif isinstance(event, Sample):
            self.sample.emit(event)
        elif isinstance(event, Snapshot):
            self.snapshot.emit(event)
        elif isinstance(event, Status):
            self.status_changed.emit(event)
        elif isinstance(event, Diverged):
            self.diverged.emit(event)
        elif isinstance(event, Finished):
            # (The run itself records its speed for the time estimates; nothing to do here.)
            self._adopt_trained_model()
            self.finished.emit(event)

    def _on_errored(self, error: Exception) -> None:
        # Logged for developers (with its traceback) but shown to the user in plain words only.
        log.error("training run failed", exc_info=error)
        self._adopt_trained_model()  # a crash mid-run still leaves the steps done so far
        self.failed.emit(plain_message(error))

    def _on_worker_finished(self) -> None:
        was_paused = self.is_paused
        self._worker = None
        self._control = None
        self._run = None
        self._model_so_far = None
        self._done = None
        if was_paused:
            self.paused_changed.emit(False)
        self.running_changed.emit(False)

    def _adopt_trained_model(self) -> None:
        trained = getattr(self._run, "trained", None)
        if trained is not None and trained is not self._model:
            self._model = trained
            self.model_changed.emit(trained)
