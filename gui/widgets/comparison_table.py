"""Before and after, side by side: the same prompts answered by two models, each answer judged.

Used by both tuning stages. A row is a prompt, what we hoped for, and the two answers; a cell is
green when the answer is what we hoped for and red when it is not, so the difference between the
models reads at a glance from the back of a room. A summary line above gives the rates.

"Export as CSV…" (a button above the table, and its right-click menu) writes the rows with the
verdicts as words (``gui.export``); ``rows_from_csv`` reads such a file back.

The pale green and red are the same in every theme (they carry the meaning), so a judged cell also
gets dark text of its own: in the dark themes the table's text colour is light, and light text on a
pale cell could not be read.
"""

from __future__ import annotations


from PySide6.QtGui import QBrush, QColor
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.evaluation.benchmark import ComparedRow  # noqa: F401 - the table's rows, Qt-free
from gui import export
from gui.availability import set_available
from gui.widgets.colour_legend import colour_legend

NOTHING_TO_EXPORT = "Nothing to export yet: train the stage first, so there are answers before and after."
GOOD = QColor("#d4f2d0")
BAD = QColor("#f8d6d3")
ON_JUDGED = QColor("#1b1b1b")  # text on GOOD and BAD: over 13:1 on both
VERDICT_WORDS = {True: "as hoped", False: "not as hoped", None: ""}  # a judged cell's colour, in the CSV


class ComparisonTable(QWidget):
    """A summary line and a four-column table: prompt, hoped for, before, after."""

    def __init__(self, before_title: str, after_title: str, placeholder: str, parent=None, *,
                 export_name: str = "before-and-after"):
        super().__init__(parent)
        self.before_title, self.after_title, self.export_name = before_title, after_title, export_name
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
        self.export_button = QPushButton("Export as CSV…")
        self.export_button.setAutoDefault(False)
        self.export_button.setToolTip(export.CSV_TIP)
        self.export_button.setAccessibleName("Export the before-and-after table as CSV")
        self.export_button.clicked.connect(self.ask_export_csv)
        set_available(self.export_button, NOTHING_TO_EXPORT)
        self.export_action = export.add_csv_export(self.table, export_name, self.csv_table)
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.summary_label, 1)
        summary_row.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(summary_row)
        layout.addWidget(self.table, 1)
        self.legend = colour_legend("Colours:", [(GOOD.name(), "green: what we hoped for"),
                                                  (BAD.name(), "red: not what we hoped for")])
        layout.addWidget(self.legend)
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
        set_available(self.export_button, None if rows else NOTHING_TO_EXPORT)

    def rows(self) -> list[ComparedRow]:
        return list(self._rows)

    def show_message(self, text: str) -> None:
        self.summary_label.setText(text)

    # --- export -------------------------------------------------------------------------------

    def csv_table(self) -> tuple[list[str], list[list[str]]]:
        """(header, rows) as exported: the answers in full, each verdict in words."""
        header = ["Asked", "Hoped for", self.before_title, f"{self.before_title}: verdict", self.after_title,
                  f"{self.after_title}: verdict"]
        return header, [[r.prompt, r.hoped, r.before, VERDICT_WORDS[r.before_good], r.after,
                         VERDICT_WORDS[r.after_good]] for r in self._rows]

    def export_csv(self, path):
        """Write the table as CSV at ``path``; the outcome goes to the tab's message bar. Returns the path or None."""
        return export.export_csv(self, path, *self.csv_table())

    def ask_export_csv(self) -> None:
        export.ask_csv(self, self.export_name, self.csv_table)


def rows_from_csv(rows: list[list[str]]) -> list[ComparedRow]:
    """The rows of a CSV file ``ComparisonTable.export_csv`` wrote (without its header)."""
    verdicts = {words: good for good, words in VERDICT_WORDS.items()}
    return [ComparedRow(prompt, hoped, before, verdicts[before_good], after, verdicts[after_good])
            for prompt, hoped, before, before_good, after, after_good in rows]
