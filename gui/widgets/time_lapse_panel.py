"""The time-lapse: slide through pretraining and see what the model wrote, and guessed next, at each point.

The run keeps a few dozen snapshots (``engine.stages.time_lapse``); this panel shows one at a time: its step
and losses, the text the model wrote then from the run's fixed prompt, and its top guesses for the
next token after that prompt as horizontal bars. A slider picks the snapshot (arrow keys, Earlier /
Later, or Play to watch the model learn in a few seconds); the tab ties it to a cursor line on the
loss plot, both ways (``step_selected`` out, ``show_step`` in).

It fills live during a run (``add_snapshot``, following the newest unless the user has moved away
from it) and from an opened model's snapshots (``set_snapshots``). Everything is ordinary widgets in
the palette's colours and the zoomed fonts (the bars are ``next_token_bars.ProbabilityBar``s), so it
follows themes and zoom like the rest of the tab.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.stages.time_lapse import TOP_K, nearest_index
from engine.tokenizer import PARTIAL_CHARACTER, PARTIAL_CHARACTER_MEANING, readable
from gui.availability import set_available
from gui.widgets.next_token_bars import ProbabilityBar
from gui.zoom import ZoomController

PLAY_INTERVAL_MS = 700  # per snapshot: slow enough to read the change, a 30-snapshot run in 20 seconds
TEXT_LINES = 3  # the written text's box shows this many lines before it scrolls
SIDE_BY_SIDE_CHARS = 64  # text and bars side by side when the panel is this many characters wide, else stacked
EMPTY_TEXT = ("Start training (or open a model) to see its time-lapse: what the model wrote, and which "
              "token it expected next, at points spread over its training.")
NO_SNAPSHOTS_TEXT = ("This model has no time-lapse: it was saved by an earlier version. Train it further, or "
                     "train a new one, to record one.")


class TimeLapsePanel(QWidget):
    """A slider over the run's snapshots, the step and losses, the text written then, and next-token bars."""

    step_selected = Signal(int)  # the step of the snapshot now shown, after a slider move (not a cursor drag)

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(parent)
        self.setObjectName("timeLapsePanel")
        self._snapshots: list = []  # engine.stages.time_lapse.Snapshot, oldest first
        self._from_cursor = False  # the slider is moving because the plot's cursor was dragged

        self.heading = QLabel()
        self.heading.setWordWrap(True)
        bold = self.heading.font()
        bold.setBold(True)
        self.heading.setFont(bold)
        self.heading.setAccessibleName("Time-lapse step")

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Training time-lapse")
        self.slider.setToolTip("Slide through training: the model as it was at each saved point. "
                               "The dashed line on the loss plot follows; arrow keys step one point.")
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setPageStep(5)
        self.slider.valueChanged.connect(self._on_slider)
        self.earlier_button = QPushButton("◀ Earlier")
        self.earlier_button.setAccessibleName("Earlier")
        self.earlier_button.setToolTip("Show the model one saved point earlier in its training.")
        self.earlier_button.clicked.connect(lambda: self.slider.setValue(self.slider.value() - 1))
        self.later_button = QPushButton("Later ▶")
        self.later_button.setAccessibleName("Later")
        self.later_button.setToolTip("Show the model one saved point later in its training.")
        self.later_button.clicked.connect(lambda: self.slider.setValue(self.slider.value() + 1))
        self.play_button = QPushButton("Play")
        self.play_button.setAccessibleName("Play the time-lapse")
        self.play_button.setToolTip("Watch the model learn: step through every saved point from the start.")
        self.play_button.clicked.connect(self.toggle_play)
        for button in (self.earlier_button, self.later_button, self.play_button):
            button.setAutoDefault(False)
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(PLAY_INTERVAL_MS)
        self._play_timer.timeout.connect(self._play_next)

        self.prompt_label = QLabel()
        self.prompt_label.setWordWrap(True)
        self.text_view = QPlainTextEdit()
        self.text_view.setReadOnly(True)
        self.text_view.setAccessibleName("What the model wrote then")
        self.text_view.setToolTip("The model's own continuation of the prompt, written at this point of training. "
                                  + PARTIAL_CHARACTER_MEANING)
        # Shown only while the text or the guesses have the mark it explains.
        self.partial_legend = QLabel(PARTIAL_CHARACTER_MEANING)
        self.partial_legend.setWordWrap(True)
        self.text_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        zoom.follow_zoom(self.text_view, zoom.monospace_font)
        self._fit_text_height()
        zoom.zoom_changed.connect(self._fit_text_height)

        self.bars_label = QLabel("Its top guesses for the token after the prompt:")
        self.bars_label.setWordWrap(True)
        self._bars_grid = QGridLayout()
        self._bars_grid.setColumnStretch(1, 1)
        self._bars_grid.setVerticalSpacing(1)
        self.token_labels: list[QLabel] = []
        self.bars: list[ProbabilityBar] = []
        for row in range(TOP_K):
            label = QLabel()
            zoom.follow_zoom(label, zoom.monospace_font)
            bar = ProbabilityBar()
            self._bars_grid.addWidget(label, row, 0)
            self._bars_grid.addWidget(bar, row, 1)
            self.token_labels.append(label)
            self.bars.append(bar)

        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setWordWrap(True)

        controls = QHBoxLayout()
        controls.addWidget(self.earlier_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.later_button)
        controls.addWidget(self.play_button)
        # Text and bars side by side while the panel is wide enough (the bars then show without
        # scrolling in the short area under the plot), stacked when zoom makes it narrow (200 %).
        self._details = QWidget()
        self._body = QBoxLayout(QBoxLayout.Direction.LeftToRight, self._details)
        self._body.setContentsMargins(0, 0, 0, 0)
        written = QVBoxLayout()
        written.addWidget(self.prompt_label)
        written.addWidget(self.text_view)
        written.addWidget(self.partial_legend)
        written.addStretch(1)
        guesses = QVBoxLayout()
        guesses.addWidget(self.bars_label)
        guesses.addLayout(self._bars_grid)
        guesses.addStretch(1)
        self._body.addLayout(written, 1)
        self._body.addLayout(guesses, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(controls)
        layout.addWidget(self.empty_label)
        layout.addWidget(self._details)
        layout.addStretch(1)
        self.clear()

    # --- reading back (the tab, tests) ----------------------------------------------------------

    def snapshot_count(self) -> int:
        return len(self._snapshots)

    def current_index(self) -> int:
        return self.slider.value() if self._snapshots else -1

    def snapshot_at(self, index: int):
        return self._snapshots[index]

    def current_snapshot(self):
        return self._snapshots[self.current_index()] if self._snapshots else None

    def shown_text(self) -> str:
        return self.text_view.toPlainText()

    def shown_guesses(self) -> list[tuple[str, float]]:
        return [(label.text(), bar.probability()) for label, bar in zip(self.token_labels, self.bars)
                if not label.isHidden()]

    @property
    def playing(self) -> bool:
        return self._play_timer.isActive()

    # --- filling ------------------------------------------------------------------------------

    def clear(self, explanation: str = EMPTY_TEXT) -> None:
        """No snapshots (a new run is starting, or there is no model): say what will appear here."""
        self.stop_playing()
        self._snapshots = []
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self.empty_label.setText(explanation)
        self._show_current()

    def set_snapshots(self, snapshots, explanation: str = NO_SNAPSHOTS_TEXT) -> None:
        """Show a model's snapshots (oldest first), at the newest; ``explanation`` if there are none."""
        if not snapshots:
            self.clear(explanation)
            return
        self.stop_playing()
        self._snapshots = list(snapshots)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self._snapshots) - 1)
        self.slider.setValue(len(self._snapshots) - 1)
        self.slider.blockSignals(False)
        self._show_current()
        self.step_selected.emit(self._snapshots[-1].step)

    def add_snapshot(self, snapshot) -> None:
        """A new snapshot from the running run: followed, unless the user is looking at an older one."""
        if self._snapshots and snapshot.step <= self._snapshots[-1].step:
            return  # a repeat (a continued run starts at the model's last snapshot): keep the first
        following = not self._snapshots or self.slider.value() == len(self._snapshots) - 1
        self._snapshots.append(snapshot)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self._snapshots) - 1)
        self.slider.blockSignals(False)
        if following and not self.playing:
            newest = len(self._snapshots) - 1
            if self.slider.value() == newest:  # the very first snapshot: the value does not change
                self._on_slider(newest)
            else:
                self.slider.setValue(newest)  # shows it and moves the cursor
        else:
            self._show_current()  # the range changed: the buttons and the heading's "of N"

    def show_step(self, step: float) -> None:
        """Show the snapshot nearest ``step`` (the plot's cursor was dragged there)."""
        index = nearest_index(self._snapshots, step)
        if index < 0:
            return
        self.stop_playing()
        self._from_cursor = True
        try:
            self.slider.setValue(index)
        finally:
            self._from_cursor = False

    # --- playing ------------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.playing:
            self.stop_playing()
            return
        if len(self._snapshots) < 2:
            return
        if self.slider.value() >= len(self._snapshots) - 1:
            self.slider.setValue(0)  # at the end: play from the start
        self._play_timer.start()
        self.play_button.setText("Pause")
        self.play_button.setAccessibleName("Pause the time-lapse")

    def stop_playing(self) -> None:
        self._play_timer.stop()
        self.play_button.setText("Play")
        self.play_button.setAccessibleName("Play the time-lapse")

    def _play_next(self) -> None:
        if self.slider.value() >= len(self._snapshots) - 1:
            self.stop_playing()
            return
        self.slider.setValue(self.slider.value() + 1)

    # --- showing ------------------------------------------------------------------------------

    def _on_slider(self, _value: int) -> None:
        self._show_current()
        snapshot = self.current_snapshot()
        if snapshot is not None and not self._from_cursor:
            self.step_selected.emit(snapshot.step)

    def _show_current(self) -> None:
        snapshot = self.current_snapshot()
        has = snapshot is not None
        self.empty_label.setVisible(not has)
        self._details.setVisible(has)
        few = None if len(self._snapshots) > 1 else "The time-lapse fills in as a run trains: press Start first."
        set_available(self.slider, few)
        index = self.current_index()
        set_available(self.earlier_button, few or (None if index > 0 else "This is the first snapshot of the run."))
        set_available(self.later_button, few or (
            None if index < len(self._snapshots) - 1 else "This is the newest snapshot of the run."))
        set_available(self.play_button, few)
        if not has:
            self.heading.setText("Time-lapse of training")
            self.text_view.clear()
            return
        losses = []
        if snapshot.train_loss is not None:
            losses.append(f"training loss {snapshot.train_loss:.2f}")
        if snapshot.val_loss is not None:
            losses.append(f"validation loss {snapshot.val_loss:.2f}")
        when = "before any training" if snapshot.step == 0 else f"after {snapshot.step:,} steps"
        self.heading.setText(f"Point {index + 1} of {len(self._snapshots)}: the model {when}"
                             + (f" ({', '.join(losses)})" if losses else ""))
        self.slider.setToolTip(f"Step {snapshot.step:,}. Slide through training: the model as it was at each "
                               "saved point. The dashed line on the loss plot follows; arrow keys step one point.")
        self.prompt_label.setText(f"From “{_visible(snapshot.prompt)}” it wrote:")
        # Saved models' snapshots may hold "�" from before samples were decoded for display.
        text = readable(snapshot.prompt + snapshot.text)
        self.text_view.setPlainText(text)
        partial = PARTIAL_CHARACTER in text
        for row, (label, bar) in enumerate(zip(self.token_labels, self.bars)):
            shown = row < len(snapshot.top_tokens)
            label.setVisible(shown)
            bar.setVisible(shown)
            if shown:
                token, probability = snapshot.top_tokens[row]
                token = readable(token)
                partial = partial or PARTIAL_CHARACTER in token
                label.setText(token)
                label.setToolTip(f"“{token}”: {probability:.1%} likely to come next at step {snapshot.step:,}")
                bar.set_probability(probability)
                bar.setAccessibleName(f"{token}: {probability:.1%}")
        self.partial_legend.setVisible(partial)

    def side_by_side(self) -> bool:
        return self._body.direction() == QBoxLayout.Direction.LeftToRight

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        wide = self.width() >= self.fontMetrics().horizontalAdvance("x" * SIDE_BY_SIDE_CHARS)
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self._body.direction() != direction:
            self._body.setDirection(direction)

    def minimumSizeHint(self):
        # Stacked, the panel needs only one column's width: never ask the splitter for two.
        hint = super().minimumSizeHint()
        if self.side_by_side():
            hint.setWidth(max(self.layout().contentsMargins().left() * 2 + max(
                self.text_view.minimumSizeHint().width(), self.bars[0].minimumSizeHint().width() * 2),
                self.fontMetrics().horizontalAdvance("x" * 24)))
        return hint

    def _fit_text_height(self, *_args) -> None:
        # A few lines of the zoomed font: enough to read a sentence, small enough to leave the bars in view.
        line = self.text_view.fontMetrics().lineSpacing()
        self.text_view.setFixedHeight(int(line * (TEXT_LINES + 0.6)) + 2 * self.text_view.frameWidth())


def _visible(prompt: str) -> str:
    """The prompt as it can be shown inside quotes: a new line as ↵, nothing as (nothing)."""
    return prompt.replace("\n", "↵") if prompt else "(nothing)"
