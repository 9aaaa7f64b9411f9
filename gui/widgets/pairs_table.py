"""An editable table of examples (instruction → response, or prompt / chosen / rejected), with undo.

Rows are plain dicts of text, one key per column. Editing a cell, adding a row, deleting rows and
replacing the whole set (a JSONL import) are each one ``QUndoCommand``, so Ctrl+Z (while the table
has the focus) or the Undo button takes back any of them. The table never validates: the engine
does, when training starts, and says in plain words what is wrong with which row.

The buttons sit in two rows above the table, editing (Add, Delete, Undo, Redo) and then files (a
tab's Import/Export, added with ``add_file_buttons``) with the row count: six buttons in one row did
not fit a 1280-pixel projector at 200 % zoom. Tab goes through them in that order, then the table.

A cell draws at most ``MAX_CELL_CHARS`` of its text, with "…" (the whole text is kept, edited and
exported): Qt lays out a cell's whole text at every repaint, and a pasted 200,000-character answer
held the window for 0.2 s each time (issue 16).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.availability import bind_undo_buttons


MAX_CELL_CHARS = 600  # more than a cell shows at any zoom; the loaders allow 4,000 per field


class _ShortCellDelegate(QStyledItemDelegate):
    """Draws (and sizes) a cell from the beginning of its text only; the editor still gets all of it."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        if len(option.text) > MAX_CELL_CHARS:
            option.text = option.text[:MAX_CELL_CHARS] + "…"


class _RowsChange(QUndoCommand):
    """Replace ``rows[index:index + len(before)]`` with ``after`` (and back on undo)."""

    def __init__(self, table: "PairsTable", index: int, before: list[dict], after: list[dict], text: str):
        super().__init__(text)
        self._table, self._index, self._before, self._after = table, index, before, after

    def redo(self) -> None:
        self._table._splice(self._index, len(self._before), self._after)

    def undo(self) -> None:
        self._table._splice(self._index, len(self._after), self._before)


class PairsTable(QWidget):
    """Rows of text with Add, Delete, Undo and Redo; emits ``changed`` after every edit."""

    changed = Signal()
    current_row_changed = Signal(int)

    def __init__(self, columns: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.columns = columns  # (key, title)
        self._rows: list[dict] = []
        self.undo_stack = QUndoStack(self)
        self.table = QTableWidget(0, len(columns))
        self.table.setHorizontalHeaderLabels([title for _key, title in columns])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(True)
        self.table.setItemDelegate(_ShortCellDelegate(self.table))
        self.count_label = QLabel()
        self.add_button = QPushButton("Add row")
        self.delete_button = QPushButton("Delete rows")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self._buttons = [self.add_button, self.delete_button, self.undo_button, self.redo_button]
        self.edit_row = QHBoxLayout()
        for button in self._buttons:
            button.setAutoDefault(False)
            self.edit_row.addWidget(button)
        self.edit_row.addStretch(1)
        self.file_row = QHBoxLayout()  # a tab's file buttons, then the row count on the right
        self.file_row.addStretch(1)
        self.file_row.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.edit_row)
        layout.addLayout(self.file_row)
        layout.addWidget(self.table, 1)
        self._order_tab_stops()

        undo = self.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "Redo")
        redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Shift+Z")])
        for action in (undo, redo):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.undo_button.clicked.connect(self.undo_stack.undo)
        self.redo_button.clicked.connect(self.undo_stack.redo)
        bind_undo_buttons(self.undo_stack, self.undo_button, self.redo_button)
        self.add_button.clicked.connect(self.add_row)
        self.delete_button.clicked.connect(self.delete_selected)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.currentCellChanged.connect(lambda row, *_: self.current_row_changed.emit(row))

    def add_file_buttons(self, *buttons: QPushButton) -> None:
        """Put a tab's file buttons (Import…, Export…) on the second row, before the row count."""
        for button in buttons:
            button.setAutoDefault(False)
            self.file_row.insertWidget(self.file_row.count() - 2, button)  # before the stretch and the count
            self._buttons.append(button)
        self._order_tab_stops()

    def tab_stops(self) -> list[QWidget]:
        """The buttons and the table in the order Tab visits them: as they are shown."""
        return [*self._buttons, self.table]

    def _order_tab_stops(self) -> None:
        # Qt's Tab order is the order widgets were made in: the table came first, and a tab's file
        # buttons are made after the table; order them as they are shown instead.
        stops = self.tab_stops()
        for first, second in zip(stops, stops[1:]):
            QWidget.setTabOrder(first, second)

    # --- reading ------------------------------------------------------------------------------

    def rows(self) -> list[dict]:
        return [dict(r) for r in self._rows]

    def row_count(self) -> int:
        return len(self._rows)

    # --- editing (each one undoable) -------------------------------------------------------------

    def set_rows(self, rows: list[dict], text: str = "Replace all rows") -> None:
        """Replace every row, as one undoable step (e.g. an import)."""
        self.undo_stack.push(_RowsChange(self, 0, self.rows(), [dict(r) for r in rows], text))

    def reset_rows(self, rows: list[dict]) -> None:
        """Replace every row and forget the history (e.g. the bundled set at start-up)."""
        self.undo_stack.clear()
        self._splice(0, len(self._rows), [dict(r) for r in rows])

    def add_row(self, row: dict | None = None) -> None:
        row = dict(row) if row else {key: "" for key, _ in self.columns}
        index = len(self._rows)
        self.undo_stack.push(_RowsChange(self, index, [], [row], "Add a row"))
        self.table.scrollToBottom()
        if not any(row.values()):
            self.table.setCurrentCell(index, 0)
            self.table.editItem(self.table.item(index, 0))

    def delete_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()}, reverse=True)
        if not rows:
            return
        self.undo_stack.beginMacro(f"Delete {len(rows)} row{'s' if len(rows) > 1 else ''}")
        for r in rows:  # from the bottom, so earlier indices stay valid
            self.undo_stack.push(_RowsChange(self, r, [dict(self._rows[r])], [], "Delete a row"))
        self.undo_stack.endMacro()

    def edit_cell(self, row: int, key: str, value: str) -> None:
        before = dict(self._rows[row])
        if before.get(key) == value:
            return
        after = dict(before, **{key: value})
        self.undo_stack.push(_RowsChange(self, row, [before], [after], f"Edit row {row + 1}"))

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        key = self.columns[item.column()][0]
        if item.row() < len(self._rows):
            self.edit_cell(item.row(), key, item.text())

    # --- showing ------------------------------------------------------------------------------

    def _splice(self, index: int, remove: int, insert: list[dict]) -> None:
        self._rows[index:index + remove] = [dict(r) for r in insert]
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._rows))
        for r in range(index, len(self._rows)):
            for c, (key, _title) in enumerate(self.columns):
                text = str(self._rows[r].get(key, ""))
                item = self.table.item(r, c)
                if item is None:
                    self.table.setItem(r, c, QTableWidgetItem(text))
                elif item.text() != text:
                    item.setText(text)
        self.table.blockSignals(False)
        self.count_label.setText(f"{len(self._rows):,} rows")
        self.changed.emit()
