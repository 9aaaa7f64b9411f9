"""Undo and redo for the Data tab: every load and every curation edit is one ``QUndoCommand``.

The state of the Data tab is small and immutable: ``engine.data.sources.DataState``, the loaded
``DataSource`` and the ``CurationSettings``. Because ``engine.data.curation.curate`` is pure, a command only needs the state
before and after; undoing applies the state before again, which gives back the same documents, the
same charts and the same fingerprint, byte for byte. A bad load never reaches the stack, so
nothing the user curated can be lost by it.

Dragging the cutoff slider sends a value per pixel; consecutive edits with the same merge key
("cutoff", "mix:news") merge into one step, so one Ctrl+Z undoes the whole drag.
"""

from __future__ import annotations

import zlib
from typing import Callable

from PySide6.QtGui import QUndoCommand

from engine.data.sources import DataState


class DataStateChange(QUndoCommand):
    """Go from one ``DataState`` to another; ``apply`` shows a state (it is the Data tab's)."""

    def __init__(self, apply: Callable[[DataState], None], before: DataState | None, after: DataState,
                 text: str, merge_key: str = ""):
        super().__init__(text)
        self._apply = apply
        self.before = before
        self.after = after
        self.merge_key = merge_key

    def id(self) -> int:  # noqa: A003 - Qt's name
        # -1 means "never merge"; a merge key becomes a stable positive id.
        return zlib.crc32(self.merge_key.encode()) & 0x7FFFFFFF if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, DataStateChange) or other.merge_key != self.merge_key:
            return False
        if other.before is None or other.before.source is not self.after.source:
            return False
        self.after = other.after
        self.setText(other.text())
        # A drag that ends where it started is no change at all: drop it from the history.
        self.setObsolete(self.before == self.after)
        return True

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        if self.before is not None:
            self._apply(self.before)
