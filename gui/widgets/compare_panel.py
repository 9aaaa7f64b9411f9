"""Side by side: one prompt, every chosen model's answer, each token shaded by the model's confidence.

The same question put to the base, instruction-tuned and preference-tuned models shows at a glance
what each stage changed: the base model rambles on, the tuned ones answer in one sentence, and the
shading shows where each was sure and where it guessed. The answers are written on a worker thread.
"Export as CSV…" (a button, and the right-click menu) writes one row per model (``gui.export``).
"""

from __future__ import annotations

import math
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QTextBrowser, \
    QVBoxLayout, QWidget

from engine.evaluation.benchmark import ModelAnswer, answer_with_every_model
from gui import export
from gui.availability import set_available
from gui.background import BackgroundTask
from gui.training_controller import plain_message
from gui.widgets.confidence_text import ConfidenceLegend, confidence_html

COLUMNS = 2  # answers per row: wide enough for a sentence at 200 % zoom


class _AnswerColumn(QGroupBox):
    """One model's name, its shaded answer and its mean confidence."""

    def __init__(self, answer: ModelAnswer, parent=None):
        super().__init__(answer.model, parent)
        self.answer = answer
        self.text = QTextBrowser()
        self.text.setHtml(confidence_html(answer.tokens))
        self.text.setAccessibleName(f"Answer of {answer.model}")
        self.text.setMinimumHeight(self.fontMetrics().height() * 6)
        mean = "–" if math.isnan(answer.confidence) else f"{answer.confidence:.0%}"
        notes = [f"On average {mean} sure of each token"]
        if answer.refusal:
            notes.append("it refused")
        if answer.dont_know:
            notes.append("it said it does not know")
        self.summary = QLabel("; ".join(notes) + ".")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.summary)


class ComparePanel(QWidget):
    """A prompt, a Compare button, a legend of the shades, and one column per model."""

    problem = Signal(str)  # a plain message for the tab's message bar

    def __init__(self, prompts: list[str], models_provider: Callable[[], list], parent=None):
        super().__init__(parent)
        self.models_provider = models_provider
        self.columns: list[_AnswerColumn] = []
        self._asked = 0
        self.prompt_combo = QComboBox()
        self.prompt_combo.setEditable(True)
        # Prompts can be long: the box may be narrower than its longest one (the list still shows it whole),
        # so the page never scrolls sideways at 200 % zoom on a 1280 x 800 screen.
        self.prompt_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.prompt_combo.setMinimumContentsLength(16)
        self.prompt_combo.addItems(prompts)
        self.prompt_combo.setAccessibleName("Prompt to compare the models on")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setAutoDefault(False)
        self.export_button = QPushButton("Export as CSV…")
        self.export_button.setAutoDefault(False)
        self.export_button.setToolTip(export.CSV_TIP)
        self.export_button.setAccessibleName("Export the compared answers as CSV")
        set_available(self.export_button, "Nothing to export yet: press Compare first.")
        self.export_button.clicked.connect(self.ask_export_csv)
        self.export_action = export.add_csv_export(self, "compared-answers", self.csv_table)
        self._prompt = ""  # the prompt the shown answers answer
        self.status_label = QLabel("Pick or type a prompt, then press Compare: every ticked model answers it.")
        self.status_label.setWordWrap(True)
        self.legend = ConfidenceLegend()
        ask_row = QHBoxLayout()
        ask_row.addWidget(self.prompt_combo, 1)
        ask_row.addWidget(self.compare_button)
        ask_row.addWidget(self.export_button)
        self.grid = QGridLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(ask_row)
        layout.addWidget(self.legend)
        layout.addWidget(self.status_label)
        layout.addLayout(self.grid, 1)

        self._task = BackgroundTask("comparing the models", self)
        self._task.succeeded.connect(self._on_answers)
        self._task.failed.connect(self._on_failed)
        self.compare_button.clicked.connect(self.compare)

    def compare(self) -> None:
        prompt = self.prompt_combo.currentText().strip()
        models = self.models_provider()
        if not models:
            self.status_label.setText("Tick at least one model in the list.")
            return
        if not prompt:
            self.status_label.setText("Type a prompt, or pick one from the list.")
            return
        self._asked += 1
        set_available(self.compare_button, "The models are answering now: wait a moment.")
        self.status_label.setText(f"{len(models)} model{'s' if len(models) != 1 else ''} answering…")
        self._task.submit(answer_with_every_model, models, prompt, tag=(self._asked, prompt))

    def _on_answers(self, tag, answers: list[ModelAnswer]) -> None:
        set_available(self.compare_button, None)
        asked, prompt = tag
        if asked != self._asked:
            return
        self._prompt = prompt
        for column in self.columns:
            self.grid.removeWidget(column)
            column.deleteLater()
        self.columns = []
        for i, answer in enumerate(answers):
            column = _AnswerColumn(answer)
            self.columns.append(column)
            self.grid.addWidget(column, i // COLUMNS, i % COLUMNS)
        self.status_label.setText("Greedy answers: each model wrote its most likely token every time.")
        set_available(self.export_button, None if self.columns else "Nothing to export yet: press Compare first.")

    def _on_failed(self, _tag, error) -> None:
        set_available(self.compare_button, None)
        self.status_label.setText("The models could not answer.")
        self.problem.emit(plain_message(error))

    def shown_answers(self) -> dict[str, str]:
        """Model name → the answer shown (tests)."""
        return {c.answer.model: c.answer.text for c in self.columns}

    def csv_table(self) -> tuple[list[str], list[list]]:
        """(header, rows) as exported: the prompt, each model's answer and how sure it was."""
        header = ["Prompt", "Model", "Answer", "Mean confidence", "Refused", "Said it does not know"]
        rows = [[self._prompt, a.model, a.text, "" if math.isnan(a.confidence) else f"{a.confidence:.4f}",
                 "yes" if a.refusal else "no", "yes" if a.dont_know else "no"]
                for a in (c.answer for c in self.columns)]
        return header, rows

    def ask_export_csv(self) -> None:
        export.ask_csv(self, "compared-answers", self.csv_table)

    @property
    def busy(self) -> bool:
        return self._task.busy

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        return self._task.shutdown(timeout_s)
