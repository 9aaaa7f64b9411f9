"""Short jobs off the GUI thread: tokenizing a preview, measuring this computer, sampling a model.

Each ``BackgroundTask`` runs one function at a time on a superqt ``FunctionWorker``. When requests
come faster than they finish (the user scrolls through tokenizer settings), only the newest waiting
request is kept: nobody wants the vocabulary of a setting they already left. Results arrive as Qt
signals on the GUI thread, tagged with whatever the caller passed, so a late answer to an old
question can be recognised and ignored.

Training itself is not run here but in ``training_controller``, which owns the one long run.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import FunctionWorker

log = logging.getLogger(__name__)


@dataclass
class _Request:
    func: Callable[..., Any]
    args: tuple
    kwargs: dict
    tag: Any
    done: threading.Event = field(default_factory=threading.Event)


class BackgroundTask(QObject):
    """A one-lane queue of function calls on a worker thread, reporting back with signals."""

    succeeded = Signal(object, object)  # (tag, result)
    failed = Signal(object, object)  # (tag, exception)
    busy_changed = Signal(bool)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self._running: _Request | None = None
        self._waiting: _Request | None = None
        self._worker: FunctionWorker | None = None  # keeps the Python wrapper alive while it runs
        self._outcome: tuple[bool, Any] | None = None  # (succeeded, result or exception) of the running call
        self._closed = False

    @property
    def busy(self) -> bool:
        return self._running is not None or self._waiting is not None

    def submit(self, func: Callable[..., Any], *args, tag: Any = None, **kwargs) -> None:
        """Run ``func(*args, **kwargs)`` on a worker, after the one running now (if any)."""
        if self._closed:
            return
        request = _Request(func, args, kwargs, tag)
        if self._running is None:
            self._start(request)
        else:
            self._waiting = request  # replaces an older waiting request on purpose
            self.busy_changed.emit(True)

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Drop waiting work and block until the running call returns. True if nothing is left running.

        Used when the window closes, so no thread outlives it. The running call cannot be interrupted
        (they are all short), only waited for.
        """
        self._closed = True
        self._waiting = None
        running = self._running
        return running is None or running.done.wait(timeout_s)

    # --- internals --------------------------------------------------------------------------

    def _start(self, request: _Request) -> None:
        self._running = request
        worker = FunctionWorker(_call_and_mark_done, request)
        # Bound methods of this QObject: Qt queues the calls onto the GUI thread it lives in.
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        # Started on the pool directly rather than with worker.start(), which defers the start to
        # the event loop; shutdown() must be able to wait for a request the moment it was submitted.
        QThreadPool.globalInstance().start(worker)
        self.busy_changed.emit(True)

    def _on_returned(self, result: Any) -> None:
        self._outcome = (True, result)

    def _on_errored(self, error: Exception) -> None:
        log.debug("%s failed", self.objectName(), exc_info=error)
        self._outcome = (False, error)

    def _on_finished(self) -> None:
        # Results are announced only once the worker is done, so that whoever handles them sees
        # ``busy`` as it really is (False, unless a newer request is already waiting).
        request, self._running, self._worker = self._running, None, None
        outcome, self._outcome = self._outcome, None
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not self._closed:
            self._start(waiting)
        if request is not None and outcome is not None and not self._closed:
            succeeded, value = outcome
            (self.succeeded if succeeded else self.failed).emit(request.tag, value)
        if not self.busy:
            self.busy_changed.emit(False)


def _call_and_mark_done(request: _Request) -> Any:
    """Runs on the worker thread. ``done`` lets shutdown() wait without an event loop."""
    try:
        return request.func(*request.args, **request.kwargs)
    finally:
        request.done.set()
