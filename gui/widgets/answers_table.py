"""Every graded benchmark answer in one table: sortable, filterable by model and verdict, exportable as CSV.

A row is one model's answer to one question: the question, the known answer, what the model said,
the verdict (right, wrong, "I don't know", coloured so a room can see the pattern) and the model's
confidence. Clicking a header sorts (confidence sorts as a number, not as text); the two filters
above narrow the rows to one model or one verdict, e.g. "wrong answers the model was sure of".
Rows arrive a chunk at a time while the benchmark runs. Export writes the rows shown, in the order
shown, so what a teacher filtered is what lands in the spreadsheet.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, \
    QWidget

from engine.evaluation.benchmark import DONT_KNOW, RIGHT, WRONG, GradedAnswer
from gui import export
from gui.widgets.colour_legend import colour_legend

COLUMNS = ("Model", "Question", "Known answer", "The model said", "Verdict", "Confidence")
MODEL_COLUMN, VERDICT_COLUMN, CONFIDENCE_COLUMN = 0, 4, 5
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
EVERY = "(all)"
VERDICT_FILLS = {RIGHT: "#d4f2d0", WRONG: "#f8d6d3", DONT_KNOW: "#fff1c2"}


def confidence_text(confidence: float) -> str:
    return "–" if math.isnan(confidence) else f"{confidence:.0%}"


class _Filter(QSortFilterProxyModel):
    """Keeps the rows of the chosen model and verdict (``EVERY``: no filter)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model_name = EVERY
        self.verdict = EVERY
        self.setSortRole(SORT_ROLE)

    def set_filters(self, model_name: str, verdict: str) -> None:
        self.beginFilterChange()  # (Qt 6.10's replacement for invalidateFilter)
        self.model_name, self.verdict = model_name, verdict
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent) -> bool:
        source = self.sourceModel()
        model_name = source.index(row, MODEL_COLUMN, parent).data()
        verdict = source.index(row, VERDICT_COLUMN, parent).data()
        return self.model_name in (EVERY, model_name) and self.verdict in (EVERY, verdict)


class AnswersTable(QWidget):
    """Two filters, a count, and the table of graded answers."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.source = QStandardItemModel(0, len(COLUMNS), self)
        self.source.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = _Filter(self)
        self.proxy.setSourceModel(self.source)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # arrival order until a header is clicked
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(True)
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        for column in range(len(COLUMNS)):
            mode = QHeaderView.ResizeMode.Stretch if column in (1, 3) else QHeaderView.ResizeMode.ResizeToContents
            header.setSectionResizeMode(column, mode)
        # Model names can be long ("Instruction-tuned (this session)"): a fixed share, the full name on hover.
        header.setSectionResizeMode(MODEL_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(MODEL_COLUMN, self.fontMetrics().horizontalAdvance("Instruction-tuned"))
        self.view.setAccessibleName("Graded answers")

        self.model_filter = QComboBox()
        self.model_filter.setAccessibleName("Show the answers of")
        # Model names are long; under the high-contrast style sheet the box grew to the longest one and
        # pushed the Evaluation page wider than the tab at 200 % zoom. The list still shows names whole.
        self.model_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_filter.setMinimumContentsLength(8)
        self.verdict_filter = QComboBox()
        self.verdict_filter.addItems([EVERY, RIGHT, WRONG, DONT_KNOW])
        self.verdict_filter.setAccessibleName("Show the verdicts")
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)  # "216 of 216 answers shown." must never set the page's width
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Model"))
        filters.addWidget(self.model_filter, 1)
        filters.addWidget(QLabel("Verdict"))
        filters.addWidget(self.verdict_filter)
        # The count, and the owner's export button, on a row of their own: beside the filters they made
        # the page wider than the Evaluation tab at 200 % zoom on a 1280 x 800 screen.
        self.tools_row = QHBoxLayout()
        self.tools_row.addWidget(self.count_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addLayout(self.tools_row)
        layout.addWidget(self.view, 1)
        self.legend = colour_legend("Verdict colours:", [(VERDICT_FILLS[RIGHT], "green: right"),
                                                         (VERDICT_FILLS[WRONG], "red: wrong"),
                                                         (VERDICT_FILLS[DONT_KNOW], "yellow: said “I don't know”")])
        layout.addWidget(self.legend)
        self.model_filter.currentTextChanged.connect(self._apply_filters)
        self.verdict_filter.currentTextChanged.connect(self._apply_filters)
        self.clear()

    # --- rows -------------------------------------------------------------------------------

    def clear(self) -> None:
        self.source.removeRows(0, self.source.rowCount())
        self.model_filter.blockSignals(True)
        self.model_filter.clear()
        self.model_filter.addItem(EVERY)
        self.model_filter.blockSignals(False)
        self._apply_filters()

    def add_answers(self, answers: list[GradedAnswer]) -> None:
        for a in answers:
            if self.model_filter.findText(a.model) < 0:
                self.model_filter.addItem(a.model)
            cells = [(a.model, a.model), (a.question, a.question), (a.expected, a.expected),
                     (a.answer or "(nothing)", a.answer), (a.grade, a.grade),
                     (confidence_text(a.confidence), -1.0 if math.isnan(a.confidence) else a.confidence)]
            items = []
            for text, key in cells:
                item = QStandardItem(text)
                item.setData(key, SORT_ROLE)
                item.setToolTip(text)  # long questions and answers are cut in the cell
                items.append(item)
            items[VERDICT_COLUMN].setBackground(QBrush(QColor(VERDICT_FILLS[a.grade])))
            items[VERDICT_COLUMN].setForeground(QBrush(QColor("#1b1b1b")))
            items[CONFIDENCE_COLUMN].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.source.appendRow(items)
        self._fit_model_column(answers)
        self._show_count()

    def _fit_model_column(self, answers: list[GradedAnswer]) -> None:
        """Widen the Model column to the longest name shown, so no model's name is cut off."""
        metrics = self.view.fontMetrics()
        padding = 3 * metrics.averageCharWidth()
        widest = max([metrics.horizontalAdvance(a.model) + padding for a in answers] + [0])
        header = self.view.horizontalHeader()
        if widest > header.sectionSize(MODEL_COLUMN):
            header.resizeSection(MODEL_COLUMN, widest)

    def _apply_filters(self, *_args) -> None:
        self.proxy.set_filters(self.model_filter.currentText() or EVERY, self.verdict_filter.currentText() or EVERY)
        self._show_count()

    def _show_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.source.rowCount()
        self.count_label.setText(f"{shown:,} of {total:,} answers shown." if total
                                 else "Run the benchmark to see every answer here.")

    # --- reading (tests, export) ------------------------------------------------------------

    def row_count(self) -> int:
        """Rows shown now (after the filters)."""
        return self.proxy.rowCount()

    def shown_rows(self) -> list[list[str]]:
        """The cells shown, in the order shown."""
        return [[self.proxy.index(r, c).data() for c in range(len(COLUMNS))] for r in range(self.proxy.rowCount())]

    def export_csv(self, path: str | Path) -> Path:
        """Write the rows shown as CSV (``gui.export.save_csv``); raises ExportError in words."""
        return export.save_csv(path, COLUMNS, self.shown_rows())
