""""What the model writes now": every sample of the run, with its step, newest at the bottom.

The log follows the newest sample, from its "Step N" heading: a sample taller than the view starts
at the top of it (scrolling to the very end hid the heading of the text on screen). A user who has
scrolled up to read an older one stays where they are. Letters the model left unfinished (byte-level
BPE) show as ``engine.tokenizer.PARTIAL_CHARACTER``, never as "�"; ``partial_changed`` lets the tab
explain the mark.

Reading these in order is the most convincing view of learning there is: noise, then letters, then
words, then phrases. The prompt is shown in grey so it is clear which part the model wrote.

Colours come from the theme: the step headings in the tabs' blue made legible on the log's
background (at least the 4.5:1 of ordinary text), the prompt in the palette's placeholder grey. The
text of a QPlainTextEdit keeps the colours it was written with, so the log remembers its samples and
writes them again, in the new colours, when the theme changes.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from engine.tokenizer import PARTIAL_CHARACTER, PARTIAL_CHARACTER_MEANING, readable
from gui import themes
from gui.zoom import ZoomController

MAX_LINES = 20_000  # a very long run should not grow memory without bound
MAX_SAMPLES = MAX_LINES // 3  # a sample is at least three lines (heading, text, blank): no more can show
HEADING_COLOR = "#1f66c1"  # the tabs' blue; drawn as ``heading_color()``
MIN_TEXT_CONTRAST = 4.5  # WCAG AA for ordinary text


class SampleLog(QPlainTextEdit):
    """A read-only, monospace, scrolling log of ``engine.events.Sample`` events."""

    partial_changed = Signal(bool)  # whether a sample in the log has the partial-letter mark (the tab explains it)

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setPlaceholderText("Samples of the model's writing appear here while it trains.")
        self.setAccessibleName("What the model writes now")
        zoom.follow_zoom(self, zoom.monospace_font)
        self._count = 0
        self._partial = False  # a sample shown has PARTIAL_CHARACTER
        self._followed_at: int | None = None  # where following the newest sample last put the scroll bar
        self._newest_heading = None  # the QTextBlock of the newest sample's "Step N"
        self._samples: deque[tuple[int, str, str]] = deque(maxlen=MAX_SAMPLES)  # (step, prompt, text)
        self._theme = themes.current_theme()
        self._heading = QTextCharFormat()
        self._heading.setFontWeight(QFont.Weight.Bold)
        self._prompt = QTextCharFormat()
        self._written = QTextCharFormat()
        self._pick_colors()

    def sample_count(self) -> int:
        return self._count

    def heading_color(self) -> QColor:
        """The step headings' colour now (tests check its contrast on the background)."""
        return self._heading.foreground().color()

    def prompt_color(self) -> QColor:
        return self._prompt.foreground().color()

    def partial_shown(self) -> bool:
        """Whether a sample in the log has the partial-letter mark (the tab then explains it)."""
        return self._partial

    def add_sample(self, step: int, prompt: str, text: str) -> None:
        prompt, text = readable(prompt), readable(text)  # never "�", also from a model saved before
        scrollbar = self.verticalScrollBar()
        # Follow the newest sample, unless the user has scrolled up to read an older one.
        follow = scrollbar.value() >= scrollbar.maximum() - 2 or scrollbar.value() == self._followed_at
        heading = self._newest_heading = self._write(step, prompt, text)
        self._samples.append((step, prompt, text))
        self._count += 1
        if PARTIAL_CHARACTER in prompt + text and not self._partial:
            self._partial = True
            self.setToolTip(PARTIAL_CHARACTER_MEANING)
            self.partial_changed.emit(True)
        if follow:
            self._show_from(heading)

    def clear_samples(self) -> None:
        self.clear()
        self._samples.clear()
        self._count = 0
        self._followed_at = None
        self._newest_heading = None
        if self._partial:
            self._partial = False
            self.setToolTip("")
            self.partial_changed.emit(False)

    def heading_visible(self, step: int) -> bool:
        """Whether the "Step N" heading of sample ``step`` is inside the view now (tests)."""
        block = self.document().lastBlock()
        while block.isValid() and not (block.text() == f"Step {step:,}"):
            block = block.previous()
        if not block.isValid():
            return False
        top = self.blockBoundingGeometry(block).translated(self.contentOffset()).top()
        return 0 <= top and top + self.fontMetrics().height() <= self.viewport().height()

    def resizeEvent(self, event) -> None:
        # Shorter (a message appeared above, the zoom grew): still the newest sample from its heading,
        # down as far as it fits, rather than the same top line with the sample's end cut off.
        scrollbar = self.verticalScrollBar()
        following = self._followed_at is not None and scrollbar.value() == self._followed_at
        super().resizeEvent(event)
        if following and self._newest_heading is not None and self._newest_heading.isValid():
            self._show_from(self._newest_heading)

    def _show_from(self, heading) -> None:
        """Scroll to the end, but never so far that ``heading`` (the newest sample's) leaves the top:
        a sample longer than the view is read from its "Step N" down."""
        scrollbar = self.verticalScrollBar()
        scrollbar.setValue(scrollbar.maximum())
        # The scroll bar counts lines from the top; the heading's line is where the view should start.
        scrollbar.setValue(min(scrollbar.maximum(), heading.firstLineNumber()))
        self._followed_at = scrollbar.value()

    # --- theme ------------------------------------------------------------------------------

    def changeEvent(self, event) -> None:
        # A theme switch arrives as a palette change, or as a style change only while high contrast's
        # style sheet is in force (as for the plots, ``gui.widgets.zoomed_plot``).
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.StyleChange):
            if themes.current_theme() is not self._theme:
                self._theme = themes.current_theme()
                self._pick_colors()
                self._rewrite()

    def _pick_colors(self) -> None:
        theme = self._theme
        heading = themes.legible_color(HEADING_COLOR, theme.base, max(MIN_TEXT_CONTRAST, theme.min_curve_contrast))
        self._heading.setForeground(heading)
        self._prompt.setForeground(QColor(theme.placeholder_text))

    def _rewrite(self) -> None:
        """Write every remembered sample again in the current colours, keeping the reader's place."""
        scrollbar = self.verticalScrollBar()
        following = scrollbar.value() >= scrollbar.maximum() - 2 or scrollbar.value() == self._followed_at
        fraction = scrollbar.value() / scrollbar.maximum() if scrollbar.maximum() else 0.0
        self.clear()
        heading = None
        for sample in self._samples:
            heading = self._write(*sample)
        self._newest_heading = heading
        if following and heading is not None:
            self._show_from(heading)
        else:
            scrollbar.setValue(round(fraction * scrollbar.maximum()))

    def _write(self, step: int, prompt: str, text: str):
        """Append one sample; returns its heading's block."""
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.document().isEmpty():
            cursor.insertBlock()
            cursor.insertBlock()
        cursor.insertText(f"Step {step:,}", self._heading)
        heading = cursor.block()
        cursor.insertBlock()
        cursor.insertText(prompt, self._prompt)
        cursor.insertText(text, self._written)
        return heading
