"""Human rating, blind: every chosen model answers one prompt, and a person scores each answer 1 to 5.

The answers appear as "Answer A", "Answer B"… in an order shuffled afresh for every prompt (a seeded
generator, with a seed drawn once per session), so nobody can favour the model they expect to be
better. Model names appear only in the table below, which averages every rating per model and
says how many ratings each mean rests on: a mean of 5 from one rating says little. Ratings are
saved in the user's data folder after every round and come back next time.

The answers are written on a worker thread (``BackgroundTask``); the panel asks its owner for the
models to test through ``models_provider``.
"""

from __future__ import annotations

import random
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import PlainError
from engine.evaluation.benchmark import (
    MAX_SCORE,
    MIN_SCORE,
    BlindAnswer,
    Rating,
    aggregate_ratings,
    answer_with_every_model,
    blind_answers,
    load_ratings,
    save_ratings,
)
from gui import export
from gui.availability import set_available
from gui.background import BackgroundTask
from gui.training_controller import plain_message

NO_SCORE_YET = "Give at least one answer a score first (the buttons under each answer)."
WRITING = "The models are writing their answers now: wait a moment."
SCORE_WORDS = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}


class _AnswerCard(QGroupBox):
    """One blind answer and its five score buttons."""

    def __init__(self, blind: BlindAnswer, parent=None):
        super().__init__(blind.label, parent)
        self.blind = blind
        text = QLabel(blind.text.strip() or "(nothing)")
        text.setWordWrap(True)
        self.group = QButtonGroup(self)
        self.buttons: dict[int, QPushButton] = {}
        row = QHBoxLayout()
        for score in range(MIN_SCORE, MAX_SCORE + 1):
            button = QPushButton(str(score))
            button.setCheckable(True)
            button.setAutoDefault(False)
            button.setToolTip(f"{score}: {SCORE_WORDS[score]}")
            button.setAccessibleName(f"Rate {blind.label} {score} ({SCORE_WORDS[score]})")
            self.group.addButton(button, score)
            self.buttons[score] = button
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(row)

    @property
    def score(self) -> int | None:
        score = self.group.checkedId()
        return score if score >= MIN_SCORE else None


class RatingPanel(QWidget):
    """A prompt, blind answers with scores 1–5, and the running aggregate per model."""

    problem = Signal(str)  # a plain message for the tab's message bar
    rated = Signal(list)  # the Rating objects of a submitted round

    def __init__(self, prompts: list[str], models_provider: Callable[[], list], parent=None):
        super().__init__(parent)
        self.models_provider = models_provider
        self.seed = random.SystemRandom().randrange(2**31)  # a new shuffle every session…
        self._round = 0  # …and every prompt
        self._prompt = ""
        self.cards: list[_AnswerCard] = []
        self.ratings: list[Rating] = []
        self._ratings_readable = True  # False after a damaged file: saving would overwrite it

        self.prompt_combo = QComboBox()
        self.prompt_combo.setEditable(True)
        # Prompts can be long: the box may be narrower than its longest one (the list still shows it whole),
        # so the page never scrolls sideways at 200 % zoom on a 1280 x 800 screen.
        self.prompt_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.prompt_combo.setMinimumContentsLength(16)
        self.prompt_combo.addItems(prompts)
        self.prompt_combo.setAccessibleName("Prompt to rate answers to")
        self.ask_button = QPushButton("Ask the models")
        self.ask_button.setAutoDefault(False)
        self.status_label = QLabel("Tick two or more models, pick or type a prompt, then press “Ask the models”.")
        self.status_label.setWordWrap(True)
        ask_row = QHBoxLayout()
        ask_row.addWidget(self.prompt_combo, 1)
        ask_row.addWidget(self.ask_button)
        self.cards_grid = QGridLayout()
        self.submit_button = QPushButton("Save my ratings")
        self.submit_button.setAutoDefault(False)
        set_available(self.submit_button, NO_SCORE_YET)

        self.summary_title = QLabel("All ratings so far (model names are shown only here)")
        self.summary_title.setWordWrap(True)
        font = self.summary_title.font()
        font.setBold(True)
        self.summary_title.setFont(font)
        self.summary = QTableWidget(0, 3)
        self.export_action = export.add_table_csv_export(self.summary, "ratings-summary")  # right-click → CSV
        self.summary.setHorizontalHeaderLabels(["Model", "Mean rating (1–5)", "Ratings"])
        self.summary.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            self.summary.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.summary.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary.verticalHeader().setVisible(False)
        self.summary.setAccessibleName("Mean rating per model")

        layout = QVBoxLayout(self)
        layout.addLayout(ask_row)
        layout.addWidget(self.status_label)
        layout.addLayout(self.cards_grid)
        layout.addWidget(self.submit_button)
        layout.addWidget(self.summary_title)
        layout.addWidget(self.summary, 1)

        self._task = BackgroundTask("writing answers to rate", self)
        self._task.succeeded.connect(self._on_answers)
        self._task.failed.connect(self._on_failed)
        self.ask_button.clicked.connect(self.ask)
        self.submit_button.clicked.connect(self.submit)

    def load_saved(self) -> None:
        """Read earlier sessions' ratings (a damaged file is reported and left alone, never overwritten)."""
        try:
            self.ratings = load_ratings()
            self._ratings_readable = True
        except PlainError as err:
            self.ratings = []
            self._ratings_readable = False
            self.problem.emit(f"Your saved ratings could not be read, so new ones are not saved: {err}")
        self._show_summary()

    # --- asking -----------------------------------------------------------------------------

    def ask(self) -> None:
        prompt = self.prompt_combo.currentText().strip()
        models = self.models_provider()
        if len(models) < 2:
            self.status_label.setText("Tick two or more models in the list: rating needs answers to compare.")
            return
        if not prompt:
            self.status_label.setText("Type a prompt, or pick one from the list.")
            return
        self._round += 1
        self._prompt = prompt
        self._clear_cards()
        self.status_label.setText(f"{len(models)} models are writing their answers…")
        set_available(self.ask_button, WRITING)
        self._task.submit(answer_with_every_model, models, prompt, tag=(self._round, prompt))

    def _on_answers(self, tag, answers) -> None:
        set_available(self.ask_button, None)
        if tag[0] != self._round:
            return
        blind = blind_answers(answers, self.seed + self._round)
        columns = 2 if len(blind) > 1 else 1
        for i, b in enumerate(blind):
            card = _AnswerCard(b)
            card.group.idToggled.connect(lambda *_: self._update_submit())
            self.cards.append(card)
            self.cards_grid.addWidget(card, i // columns, i % columns)
        self.status_label.setText("Rate each answer from 1 (bad) to 5 (excellent), then press “Save my ratings”. "
                                  "Which model wrote which answer stays hidden.")
        self._update_submit()

    def _on_failed(self, _tag, error) -> None:
        set_available(self.ask_button, None)
        self.status_label.setText("The models could not answer.")
        self.problem.emit(plain_message(error))

    def _clear_cards(self) -> None:
        for card in self.cards:
            self.cards_grid.removeWidget(card)
            card.deleteLater()
        self.cards = []
        set_available(self.submit_button, NO_SCORE_YET)

    def _update_submit(self) -> None:
        set_available(self.submit_button, None if any(card.score is not None for card in self.cards) else NO_SCORE_YET)

    # --- rating -----------------------------------------------------------------------------

    def rate(self, label: str, score: int) -> None:
        """Press the ``score`` button of the answer called ``label`` ("Answer A")."""
        card = next(c for c in self.cards if c.blind.label == label)
        card.buttons[score].click()

    def submit(self) -> None:
        new = [Rating(self._prompt, c.blind.model, c.blind.text, c.score) for c in self.cards if c.score is not None]
        if not new:
            return
        self.ratings.extend(new)
        if self._ratings_readable:
            try:
                save_ratings(self.ratings)
            except PlainError as err:
                self.problem.emit(str(err))
        self._clear_cards()
        self._show_summary()
        self.status_label.setText(f"Saved {len(new)} rating{'s' if len(new) != 1 else ''}. "
                                  "Ask another prompt, or the same one again.")
        self.rated.emit(new)

    def _show_summary(self) -> None:
        summary = aggregate_ratings(self.ratings)
        self.summary.setRowCount(len(summary))
        for r, (model, s) in enumerate(summary.items()):
            for c, text in enumerate((model, f"{s.mean:.1f}", f"{s.count:,}")):
                self.summary.setItem(r, c, QTableWidgetItem(text))
        self.summary.resizeRowsToContents()

    def summary_rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.summary.item(r, c).text() for c in range(3)) for r in range(self.summary.rowCount())]

    # --- threads ----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._task.busy

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        return self._task.shutdown(timeout_s)
