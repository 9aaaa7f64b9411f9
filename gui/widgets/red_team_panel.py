"""Red teaming: try to make the models misbehave, mark the attacks that worked, and train them away.

Type any prompt or pick one of the bundled attacks (harmful requests, harmless look-alikes, and
questions about things that do not exist), and every chosen model answers. Tick "This attack worked"
beside an answer that should not have been given; "Send to preference data" turns each ticked answer
into a preference pair (chosen: the refusal; rejected: what the model said) and appends it to the
votes file the Preference tuning stage trains on. The pairs sent this session stay listed below, so
they can be reviewed; they can be deleted, with undo, on the Preference tuning tab's Pairs page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import PlainError
from engine.evaluation.benchmark import ModelAnswer, add_to_votes, answer_with_every_model, attack_pair
from gui import export
from gui.availability import set_available
from gui.background import BackgroundTask
from gui.training_controller import plain_message
from gui.widgets.colour_legend import colour_legend

REFUSED_FILL = "#d4f2d0"  # a refusal's cell (the tables' green)

NOTHING_TICKED = "Tick at least one answer that should have been a refusal first."
WRITING = "The models are writing their answers now: wait a moment."
HOPED = {"harmful": "refuse", "benign": "answer helpfully", "unknown": "say “I don't know”"}
COLUMNS = ("Model", "Answer", "This attack worked")
WORKED_COLUMN = 2


def _question(prompt: str) -> str:
    return prompt.removeprefix("User: ").removesuffix("\nAssistant:")


class RedTeamPanel(QWidget):
    """A prompt, every model's answer with a tick box, and the pairs sent to the preference data."""

    problem = Signal(str)  # a plain message for the tab's message bar
    pairs_sent = Signal(list)  # the PreferencePair objects just appended to the votes file

    def __init__(self, attacks: list[dict], models_provider: Callable[[], list], votes_path: Callable[[], Path],
                 parent=None):
        super().__init__(parent)
        self.models_provider = models_provider
        self.votes_path = votes_path
        self.answers: list[ModelAnswer] = []
        self.sent: list = []
        self._prompt = ""
        self._asked = 0

        self.prompt_combo = QComboBox()
        self.prompt_combo.setEditable(True)
        # Prompts can be long: the box may be narrower than its longest one (the list still shows it whole),
        # so the page never scrolls sideways at 200 % zoom on a 1280 x 800 screen.
        self.prompt_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.prompt_combo.setMinimumContentsLength(16)
        for row in attacks:
            self.prompt_combo.addItem(_question(row["prompt"]), row)
        self.prompt_combo.setAccessibleName("Attack prompt")
        self.prompt_combo.setCurrentIndex(0 if attacks else -1)
        self.ask_button = QPushButton("Ask every model")
        self.ask_button.setAutoDefault(False)
        self.hoped_label = QLabel()
        self.hoped_label.setWordWrap(True)
        ask_row = QHBoxLayout()
        ask_row.addWidget(self.prompt_combo, 1)
        ask_row.addWidget(self.ask_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.export_action = export.add_table_csv_export(self.table, "red-team-answers")  # right-click → CSV
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setAccessibleName("Every model's answer")
        self.send_button = QPushButton("Send to preference data")
        self.send_button.setAutoDefault(False)
        self.send_button.setToolTip("Each ticked answer becomes a pair: the refusal is preferred over what the "
                                    "model said. Preference tuning then trains on it.")
        set_available(self.send_button, NOTHING_TICKED)
        self.sent_label = QLabel("No attack sent to the preference data yet.")
        self.sent_label.setWordWrap(True)
        review = QLabel("Preference tuning trains on the pairs sent; review or delete them on its Pairs page.")
        review.setWordWrap(True)
        self.sent_list = QListWidget()
        self.sent_list.setAccessibleName("Pairs sent to the preference data")
        self.sent_list.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(ask_row)
        layout.addWidget(self.hoped_label)
        layout.addWidget(self.table, 2)
        self.legend = colour_legend("Colour:", [(REFUSED_FILL, "green: the model refused")])
        layout.addWidget(self.legend)
        layout.addWidget(self.send_button)
        layout.addWidget(self.sent_label)
        layout.addWidget(self.sent_list, 1)
        layout.addWidget(review)

        self._task = BackgroundTask("answering an attack", self)
        self._task.succeeded.connect(self._on_answers)
        self._task.failed.connect(self._on_failed)
        self.ask_button.clicked.connect(self.ask)
        self.send_button.clicked.connect(self.send)
        self.prompt_combo.currentIndexChanged.connect(self._show_hoped)
        self.prompt_combo.editTextChanged.connect(self._show_hoped)
        self.table.itemChanged.connect(lambda *_: self._update_send())
        self._show_hoped()

    def _show_hoped(self, *_args) -> None:
        row = self.prompt_combo.currentData()
        if row is not None and self.prompt_combo.currentText() == _question(row["prompt"]):
            self.hoped_label.setText(f"A bundled {row['kind']} prompt: we hope every model will "
                                     f"{HOPED.get(row['kind'], row.get('expected', ''))}.")
        else:
            self.hoped_label.setText("Your own prompt: judge each answer yourself.")

    # --- asking -----------------------------------------------------------------------------

    def ask(self) -> None:
        prompt = self.prompt_combo.currentText().strip()
        models = self.models_provider()
        if not models:
            self.problem.emit("Tick at least one model in the list to attack.")
            return
        if not prompt:
            self.problem.emit("Type a prompt, or pick a bundled attack.")
            return
        self._asked += 1
        self._prompt = prompt
        self.table.setRowCount(0)
        set_available(self.send_button, NOTHING_TICKED)
        set_available(self.ask_button, WRITING)
        self.hoped_label.setText(f"{len(models)} model{'s' if len(models) != 1 else ''} answering…")
        self._task.submit(answer_with_every_model, models, prompt, tag=self._asked)

    def _on_answers(self, tag, answers: list[ModelAnswer]) -> None:
        set_available(self.ask_button, None)
        if tag != self._asked:
            return
        self._show_hoped()
        self.answers = list(answers)
        self.table.blockSignals(True)
        self.table.setRowCount(len(answers))
        for r, a in enumerate(answers):
            self.table.setItem(r, 0, QTableWidgetItem(a.model))
            answer = QTableWidgetItem(a.text.strip() or "(nothing)")
            if a.refusal:
                answer.setBackground(QBrush(QColor(REFUSED_FILL)))
                answer.setForeground(QBrush(QColor("#1b1b1b")))
                answer.setToolTip("The model refused.")
            self.table.setItem(r, 1, answer)
            worked = QTableWidgetItem("worked")
            worked.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            worked.setCheckState(Qt.CheckState.Unchecked)
            worked.setToolTip("Tick if this answer should not have been given.")
            self.table.setItem(r, WORKED_COLUMN, worked)
        self.table.blockSignals(False)
        self.table.resizeRowsToContents()
        self._update_send()

    def _on_failed(self, _tag, error) -> None:
        set_available(self.ask_button, None)
        self._show_hoped()
        self.problem.emit(plain_message(error))

    # --- marking and sending ----------------------------------------------------------------

    def set_worked(self, row: int, worked: bool = True) -> None:
        self.table.item(row, WORKED_COLUMN).setCheckState(Qt.CheckState.Checked if worked else Qt.CheckState.Unchecked)

    def ticked(self) -> list[ModelAnswer]:
        return [a for r, a in enumerate(self.answers)
                if self.table.item(r, WORKED_COLUMN) is not None
                and self.table.item(r, WORKED_COLUMN).checkState() == Qt.CheckState.Checked]

    def _update_send(self) -> None:
        n = len(self.ticked())
        set_available(self.send_button, None if n > 0 else NOTHING_TICKED)
        self.send_button.setText(f"Send {n} to preference data" if n else "Send to preference data")

    def send(self) -> None:
        try:
            pairs = [attack_pair(self._prompt, a.text) for a in self.ticked()]
            add_to_votes(pairs, self.votes_path())
        except PlainError as err:
            self.problem.emit(str(err))
            return
        for pair in pairs:
            self.sent.append(pair)
            self.sent_list.addItem(f"{_question(pair.prompt)}  →  not “{pair.rejected.strip()}”, "
                                   f"but “{pair.chosen.strip()}”")
        for r in range(self.table.rowCount()):
            self.set_worked(r, False)
        n = len(self.sent)
        self.sent_label.setText(f"Sent to the preference data this session: {n} pair{'s' if n != 1 else ''}.")
        self.sent_label.setToolTip("Preference tuning trains on them. Review or delete them on its Pairs page.")
        self.pairs_sent.emit(pairs)

    # --- threads ----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._task.busy

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        return self._task.shutdown(timeout_s)
