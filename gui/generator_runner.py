"""Run one engine generator at a time on a worker thread, and hand its events to the GUI thread.

The Evaluation tab's benchmark and the lessons are generators of small event objects, like a
training run, but they need none of the training controller's pause, speed or model bookkeeping.
This is the small common part: start, stop between events, wait for the end when the window
closes, and signals that arrive on the GUI thread (superqt's ``GeneratorWorker`` on Qt's pool).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import GeneratorWorker

from engine.errors import PlainError
from engine.events import RunControl
from gui.background_priority import lower_background_threads

log = logging.getLogger(__name__)


def _events(make: Callable[[RunControl], Iterator[Any]], control: RunControl, done: threading.Event):
    """The worker's generator: builds the engine's generator on the worker (it may import jax),
    passes its events on, and marks when it has returned (for ``stop_and_wait``)."""
    try:
        if control.stop_requested:
            return
        for event in make(control):
            lower_background_threads()  # XLA starts its threads lazily; at most once a second
            yield event
    finally:
        done.set()


class GeneratorRunner(QObject):
    """One engine generator at a time; ``event`` carries each event it yields, on the GUI thread."""

    event = Signal(object)  # whatever the generator yields
    failed = Signal(object)  # the exception that ended it (PlainError: a message for the user)
    running_changed = Signal(bool)  # True at start; False once the worker has returned

    def __init__(self, what: str, parent: QObject | None = None):
        super().__init__(parent)
        self._what = what  # e.g. "a lesson", for the programming-error message and the log
        self._worker: GeneratorWorker | None = None
        self._control: RunControl | None = None
        self._done: threading.Event | None = None

    @property
    def is_running(self) -> bool:
        return self._worker is not None

    def start(self, make: Callable[[RunControl], Iterator[Any]], control: RunControl | None = None) -> None:
        """Run ``make(control)`` on the worker; ``control`` is one the generator already watches, if any."""
        if self.is_running:
            raise RuntimeError(f"{self._what} is already running")
        self._control, self._done = control or RunControl(), threading.Event()
        worker = GeneratorWorker(_events, make, self._control, self._done)
        worker.yielded.connect(self.event.emit)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.running_changed.emit(True)
        QThreadPool.globalInstance().start(worker)  # at once, so stop_and_wait can always wait for it

    def stop(self) -> None:
        """Ask the generator to end at its next check; what it produced so far stays."""
        if self._control is not None:
            self._control.stop()

    def stop_and_wait(self, timeout_s: float = 60.0) -> bool:
        """Stop and block until the generator has returned (the window is closing). True if it has."""
        if self._done is None:
            return True
        self.stop()
        return self._done.wait(timeout_s)

    def _on_errored(self, error: Exception) -> None:
        if not isinstance(error, PlainError):
            log.error("%s failed", self._what, exc_info=error)
        self.failed.emit(error)

    def _on_finished(self) -> None:
        self._worker = self._control = self._done = None
        self.running_changed.emit(False)
