"""The "Predict the next token" panel: type a prompt, see the model's top ten guesses, pick one.

It makes generation tangible: the bars are the probabilities the model assigns, clicking a token is
what sampling does automatically, and "Write 100 tokens" does it a hundred times with the chosen
temperature and top-k. The model runs on worker threads (``BackgroundTask``) because the first call
compiles it, which takes seconds; the newest prompt always wins over older, slower answers.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.availability import set_available
from gui.background import BackgroundTask
from gui.training_controller import plain_message
from gui.widgets.next_token_bars import NextTokenBars
from gui.zoom import ZoomController

TOP_N = 10
WRITE_TOKENS = 100
TYPING_PAUSE_MS = 300  # ask the model once the user stops typing, not at every key


def _next_token_distribution(model, prompt: str, top_n: int):
    from engine.sampling import next_token_distribution  # imports jax, on the worker thread

    return next_token_distribution(model, prompt, top_n=top_n)


def _generate_text(model, prompt: str, max_new_tokens: int, temperature: float, top_k: int, seed: int) -> str:
    from engine.sampling import generate_text

    return generate_text(model, prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, seed=seed)


class PredictPanel(QWidget):
    """Prompt, top-10 bars, temperature and top-k, and a button that writes 100 tokens."""

    problem = Signal(str)  # a plain message for the tab's message bar
    predictions_shown = Signal()  # the bars now answer the current prompt
    text_written = Signal(str)  # a "Write 100 tokens" continuation was appended

    def __init__(self, zoom: ZoomController, model_provider: Callable[[], object], parent=None):
        super().__init__(parent)
        self._model_provider = model_provider
        self._write_count = 0  # a new seed per press, so pressing again writes something new

        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Type the start of a sentence…")
        self.prompt.setAccessibleName("Prompt")
        self.prompt.setTabChangesFocus(True)
        zoom.follow_zoom(self.prompt, zoom.monospace_font)
        self._fit_prompt_height()
        zoom.zoom_changed.connect(self._fit_prompt_height)

        self.bars = NextTokenBars()
        self.bars.token_chosen.connect(self._append_token)

        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.1, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.8)
        self.temperature.setToolTip("Below 1 the model plays safe; above 1 it takes more chances.")
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 1000)
        self.top_k.setValue(40)
        self.top_k.setToolTip("The model picks only among this many most likely tokens.")
        self.write_button = QPushButton(f"Write {WRITE_TOKENS} tokens")
        self.write_button.setToolTip("Let the model continue the prompt by itself.")
        self.write_button.clicked.connect(self.write)

        # Prompt and controls on the left, the bars on the right: the panel sits in a wide, short
        # area under the plot, and stacking them would push the bars out of sight when zoomed.
        controls = QGridLayout()
        controls.addWidget(QLabel("Temperature"), 0, 0)
        controls.addWidget(self.temperature, 0, 1)
        controls.addWidget(QLabel("Top-k"), 1, 0)
        controls.addWidget(self.top_k, 1, 1)
        controls.setColumnStretch(2, 1)

        self._status = QLabel()
        self._status.setWordWrap(True)

        left = QVBoxLayout()
        left.addWidget(QLabel("Prompt:"))
        left.addWidget(self.prompt)
        left.addLayout(controls)
        left.addWidget(self.write_button)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._status)
        right.addWidget(self.bars)
        right.addStretch(1)

        layout = QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addLayout(right, 3)

        self._predict_task = BackgroundTask("next-token predictions", self)
        self._predict_task.succeeded.connect(self._on_predictions)
        self._predict_task.failed.connect(self._on_failed)
        self._write_task = BackgroundTask("text generation", self)
        self._write_task.succeeded.connect(self._on_written)
        self._write_task.failed.connect(self._on_failed)
        self._write_task.busy_changed.connect(self._on_write_busy)

        self._typing_timer = QTimer(self)
        self._typing_timer.setSingleShot(True)
        self._typing_timer.setInterval(TYPING_PAUSE_MS)
        self._typing_timer.timeout.connect(self.refresh)
        self.prompt.textChanged.connect(self._typing_timer.start)
        self.model_changed()

    # --- public -----------------------------------------------------------------------------

    def prompt_text(self) -> str:
        return self.prompt.toPlainText()

    def set_prompt(self, text: str) -> None:
        self.prompt.setPlainText(text)
        self._move_cursor_to_end()
        self.refresh()

    def model_changed(self) -> None:
        """Call when the current model changes: enables the panel and asks the new model."""
        has_model = self._model_provider() is not None
        set_available(self.write_button, None if has_model else "There is no model yet: train one (Start), or open one, first.")
        if has_model:
            self.refresh()
        else:
            self.bars.show_empty("Train or open a model first; then its guesses for the next token appear here.")

    def refresh(self) -> None:
        """Ask the model for its top guesses after the current prompt."""
        self._typing_timer.stop()
        model = self._model_provider()
        if model is None:
            return
        prompt = self.prompt_text()
        self._status.setText("The model is thinking…")
        self._predict_task.submit(_next_token_distribution, model, prompt, TOP_N, tag=prompt)

    def write(self) -> None:
        model = self._model_provider()
        if model is None:
            return
        self._write_count += 1
        prompt = self.prompt_text()
        self._write_task.submit(
            _generate_text, model, prompt, WRITE_TOKENS, self.temperature.value(), self.top_k.value(),
            self._write_count, tag=prompt,
        )

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        self._typing_timer.stop()
        predict_done = self._predict_task.shutdown(timeout_s)
        write_done = self._write_task.shutdown(timeout_s)
        return predict_done and write_done

    @property
    def busy(self) -> bool:
        return self._predict_task.busy or self._write_task.busy

    # --- results ----------------------------------------------------------------------------

    def _on_predictions(self, prompt: str, predictions) -> None:
        if prompt != self.prompt_text():
            return  # an answer to text the user has since changed; the newer request is coming
        self._status.setText("The model's top guesses for what comes next (click one to add it):")
        self.bars.set_predictions(predictions)
        self.predictions_shown.emit()

    def _on_written(self, prompt: str, continuation: str) -> None:
        if prompt != self.prompt_text():
            return  # the user edited the prompt meanwhile; appending would garble it
        self.prompt.setPlainText(prompt + continuation)
        self._move_cursor_to_end()
        self.text_written.emit(continuation)
        self.refresh()

    def _on_failed(self, _tag, error: Exception) -> None:
        self._status.setText("")
        self.problem.emit(plain_message(error))

    def _on_write_busy(self, busy: bool) -> None:
        set_available(self.write_button, "The model is writing now: wait a moment." if busy else (
            None if self._model_provider() is not None else "There is no model yet: train one (Start), or open one, first."))
        self.write_button.setText("Writing…" if busy else f"Write {WRITE_TOKENS} tokens")

    def _append_token(self, token_id: int) -> None:
        model = self._model_provider()
        if model is None:
            return
        self.set_prompt(self.prompt_text() + model.tokenizer.decode([token_id]))

    # --- layout -----------------------------------------------------------------------------

    def _move_cursor_to_end(self) -> None:
        cursor = self.prompt.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.prompt.setTextCursor(cursor)

    def _fit_prompt_height(self, *_args) -> None:
        # Three lines of the current (zoomed) font: room for a sentence without hiding the bars.
        line = self.prompt.fontMetrics().lineSpacing()
        self.prompt.setFixedHeight(int(line * 3.6) + 2 * self.prompt.frameWidth())
