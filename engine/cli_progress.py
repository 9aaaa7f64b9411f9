"""The CLI's progress on stderr (a bar with ETA, or one line per 10% in a log file) and its Ctrl+C handling
(the first stops at the next step and keeps the model so far, the second quits at once)."""

from __future__ import annotations

import signal
import threading
import time
from typing import TextIO

from engine.events import RunControl, TrainProgress


# --- progress on stderr, Ctrl+C ---------------------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressBar:
    """One stage's progress: a bar redrawn in place on a terminal, or, in a log file (where redrawing
    would pile up carriage returns), a new line each time another tenth of the run is done."""

    WIDTH = 24  # characters of the bar itself
    LOG_EVERY_SECONDS = 60.0  # in a log, a line at least this often even when a tenth takes longer

    def __init__(self, label: str, stream: TextIO, tty: bool | None = None):
        self.label = label
        self.stream = stream
        self.tty = getattr(stream, "isatty", lambda: False)() if tty is None else tty
        self._drawn = 0  # length of the bar line now on screen (terminal only), 0 when none
        self._logged_tenth = -1
        self._logged_at = 0.0

    def line(self, p: TrainProgress) -> str:
        fraction = min(p.step / max(p.total_steps, 1), 1.0)
        filled = int(round(self.WIDTH * fraction))
        speed = p.tokens_per_second
        speed_text = f"{speed / 1000:.1f}k" if speed >= 1000 else f"{speed:.0f}"
        return (f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {100 * fraction:3.0f}% "
                f"{p.step}/{p.total_steps} steps  loss {p.losses[-1]:.3f}  {speed_text} tokens/s  "
                f"ETA {_duration(p.eta_seconds)}")

    def update(self, p: TrainProgress) -> None:
        text = self.line(p)
        if self.tty:
            self.stream.write("\r" + text + " " * max(0, self._drawn - len(text)))
            self._drawn = len(text)
        else:
            tenth, now = int(10 * p.step / max(p.total_steps, 1)), time.monotonic()
            if tenth == self._logged_tenth and now - self._logged_at < self.LOG_EVERY_SECONDS:
                return
            self._logged_tenth, self._logged_at = tenth, now
            self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        self.close()
        self.stream.write(f"{self.label}: {message}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line, so what follows starts on a line of its own."""
        if self._drawn:
            self.stream.write("\n")
            self._drawn = 0


class StopOnCtrlC:
    """While active, the first Ctrl+C asks the running stage to stop after its current step (the
    stage then saves its model as usual); a second one, or one between stages, quits at once."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.control: RunControl | None = None  # the running stage's switch
        self._previous = None
        self._installed = False

    def __enter__(self) -> "StopOnCtrlC":
        # Python lets only the main thread set signal handlers; elsewhere Ctrl+C keeps its default.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        control = self.control
        if control is None or control.stop_requested:
            raise KeyboardInterrupt
        control.stop()
        self.stream.write("\nStopping after the current step; the model so far will be saved. "
                          "Press Ctrl+C again to quit at once without saving it.\n")
        self.stream.flush()
