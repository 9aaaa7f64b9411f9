"""Before and after, side by side: the same prompts answered by two models, each answer judged.

Used by both tuning stages. A row is a prompt, what we hoped for, and the two answers; a cell is
green when the answer is what we hoped for and red when it is not, so the difference between the
models reads at a glance from the back of a room. A summary line above gives the rates.

The pale green and red are the same in every theme (they carry the meaning), so a judged cell also
gets dark text of its own: in the dark themes the table's text colour is light, and light text on a
pale cell could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

GOOD = QColor("#d4f2d0")
BAD = QColor("#f8d6d3")
ON_JUDGED = QColor("#1b1b1b")  # text on GOOD and BAD: over 13:1 on both


@dataclass(frozen=True)
class ComparedRow:
    prompt: str  # what was asked, without the chat template
    hoped: str  # the right answer, or the behaviour we hope for ("refuse", "answer", "say I don't know")
    before: str  # the first model's answer
    before_good: bool | None  # None: not judged
    after: str
    after_good: bool | None


class ComparisonTable(QWidget):
    """A summary line and a four-column table: prompt, hoped for, before, after."""

    def __init__(self, before_title: str, after_title: str, placeholder: str, parent=None):
        super().__init__(parent)
        self.summary_label = QLabel(placeholder)
        self.summary_label.setWordWrap(True)
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Asked", "Hoped for", before_title, after_title])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        self._rows: list[ComparedRow] = []

    def set_rows(self, rows: list[ComparedRow], summary: str) -> None:
        self._rows = list(rows)
        self.summary_label.setText(summary)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = [(row.prompt, None), (row.hoped, None), (row.before, row.before_good), (row.after, row.after_good)]
            for c, (text, good) in enumerate(cells):
                item = QTableWidgetItem(text.strip() or "(nothing)")
                if good is not None:
                    item.setBackground(QBrush(GOOD if good else BAD))
                    item.setForeground(QBrush(ON_JUDGED))
                    item.setToolTip("As hoped" if good else "Not what we hoped for")
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()

    def rows(self) -> list[ComparedRow]:
        return list(self._rows)

    def show_message(self, text: str) -> None:
        self.summary_label.setText(text)
