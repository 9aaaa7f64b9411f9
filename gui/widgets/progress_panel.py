"""Where the run is: "step N / M", time left, speed, time spent, and what it is doing right now.

"Time left" is only shown while a run goes: once it has ended (finished, stopped, diverged or failed)
the pace line keeps the speed and the time spent, and the tab calls ``run_ended`` to say so.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from gui import formatting


class ProgressPanel(QWidget):
    """A progress bar plus two plain lines: the pace, and the run's own status message."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.bar.setFormat("Not started")
        self.bar.setAccessibleName("Training progress")
        self.pace = QLabel("")
        self.pace.setWordWrap(True)
        self.status = QLabel("Choose a text and a model size, then press Start.")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Status")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.pace)
        layout.addWidget(self.status)
        self._step = 0
        self._pace: tuple[float, float] | None = None  # (tokens per second, time spent) of the last report

    @property
    def step(self) -> int:
        """The last step reported by the run (tests check it stands still while paused)."""
        return self._step

    def show_steps(self, step: int, total_steps: int) -> None:
        self._step = step
        self.bar.setRange(0, max(total_steps, 1))
        self.bar.setValue(min(step, max(total_steps, 1)))
        self.bar.setFormat(f"step {step:,} / {total_steps:,}")

    def show_pace(self, eta_seconds: float, tokens_per_second: float, elapsed_seconds: float) -> None:
        self._pace = (tokens_per_second, elapsed_seconds)
        self.pace.setText(
            f"Time left: {formatting.duration(eta_seconds)}   ·   "
            f"{formatting.rate(tokens_per_second)} tokens per second   ·   "
            f"Time spent: {formatting.duration(elapsed_seconds)}"
        )

    def run_ended(self) -> None:
        """The run is over: no time is left, so drop "Time left" and keep what the run did."""
        if self._pace is None:
            self.pace.setText("")
            return
        tokens_per_second, elapsed_seconds = self._pace
        self.pace.setText(
            f"Time spent: {formatting.duration(elapsed_seconds)}   ·   "
            f"{formatting.rate(tokens_per_second)} tokens per second"
        )

    def show_status(self, message: str) -> None:
        self.status.setText(message)

    def reset(self, total_steps: int, start_step: int = 0) -> None:
        self.show_steps(start_step, total_steps)
        self._pace = None
        self.pace.setText("")
