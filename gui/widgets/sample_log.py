""""What the model writes now": every sample of the run, with its step, newest at the bottom.

Reading these in order is the most convincing view of learning there is: noise, then letters, then
words, then phrases. The prompt is shown in grey so it is clear which part the model wrote.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from gui.zoom import ZoomController

MAX_LINES = 20_000  # a very long run should not grow memory without bound


class SampleLog(QPlainTextEdit):
    """A read-only, monospace, scrolling log of ``engine.events.Sample`` events."""

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setPlaceholderText("Samples of the model's writing appear here while it trains.")
        self.setAccessibleName("What the model writes now")
        zoom.follow_zoom(self, zoom.monospace_font)
        self._count = 0
        self._heading = QTextCharFormat()
        self._heading.setFontWeight(QFont.Weight.Bold)
        self._heading.setForeground(QColor("#1f66c1"))
        self._prompt = QTextCharFormat()
        self._prompt.setForeground(QColor("#8a8a8a"))
        self._written = QTextCharFormat()

    def sample_count(self) -> int:
        return self._count

    def add_sample(self, step: int, prompt: str, text: str) -> None:
        scrollbar = self.verticalScrollBar()
        # Follow the newest sample, unless the user has scrolled up to read an older one.
        follow = scrollbar.value() >= scrollbar.maximum() - 2
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if self._count:
            cursor.insertBlock()
            cursor.insertBlock()
        cursor.insertText(f"Step {step:,}", self._heading)
        cursor.insertBlock()
        cursor.insertText(prompt, self._prompt)
        cursor.insertText(text, self._written)
        self._count += 1
        if follow:
            scrollbar.setValue(scrollbar.maximum())

    def clear_samples(self) -> None:
        self.clear()
        self._count = 0
