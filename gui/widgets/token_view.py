"""How the tokenizer cuts text: any text the user types, pastes or selects, in coloured pieces.

The top box holds text to look at (a document of the corpus to begin with, then anything the user
types). If part of it is selected, only the selection is cut. The bottom box shows the pieces in
alternating colours, with spaces and line breaks made visible, and the count of tokens. The same
sentence in characters and in BPE makes the difference between the tokenizers obvious: one token
per letter, or a few tokens per word.

Cutting grows with the text (a pasted book), so it runs on a worker (``BackgroundTask``); only the
newest request's answer is shown, and the view draws at most ``MAX_SHOWN_CHARS`` of it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTextBrowser, QVBoxLayout, QWidget

from engine.tokenizer import Tokenizer, visible
from gui import formatting
from gui.background import BackgroundTask

# Pale fills with dark text: legible on a projector, distinguishable side by side.
PIECE_COLORS = ("#ffe3a3", "#bde4ff", "#c8f0c0", "#f7c9e6", "#e0d4ff")
MAX_SHOWN_CHARS = 4000  # beyond this the view would take seconds to lay out; the count stays exact


class TokenView(QWidget):
    """A text box and its tokens, coloured piece by piece."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._tokenizer: Tokenizer | None = None
        self.input = QPlainTextEdit()
        self.input.setAccessibleName("Text to cut into tokens")
        self.input.setPlaceholderText("Type or paste any text to see how it is cut into tokens.")
        self.pieces_view = QTextBrowser()
        self.pieces_view.setAccessibleName("Tokens")
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.input, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(self.pieces_view, 2)
        self._asked = 0  # requests made; an answer to an older one is not shown
        self._task = BackgroundTask("token view", self)
        self._task.succeeded.connect(self._on_cut)
        self._task.failed.connect(self._on_cut_failed)
        self.input.textChanged.connect(self.refresh)
        self.input.selectionChanged.connect(self.refresh)

    def set_tokenizer(self, tokenizer: Tokenizer | None) -> None:
        """None while a new tokenizer is being learned."""
        self._tokenizer = tokenizer
        self.refresh()

    def set_text(self, text: str) -> None:
        self.input.setPlainText(text)

    def shown_text(self) -> str:
        """The selected text if there is a selection, else the whole box."""
        cursor = self.input.textCursor()
        if cursor.hasSelection():
            # Qt uses U+2029 for line breaks inside a selection.
            return cursor.selectedText().replace("\u2029", "\n")
        return self.input.toPlainText()

    def pieces(self) -> list[str]:
        if self._tokenizer is None:
            return []
        return self._tokenizer.pieces(self.shown_text())

    def refresh(self) -> None:
        text = self.shown_text()
        self._asked += 1
        if self._tokenizer is None:
            self.count_label.setText("Learning the tokenizer…")
            self.pieces_view.clear()
            return
        part = "the selection" if self.input.textCursor().hasSelection() else "this text"
        self._task.submit(cut_into_tokens, self._tokenizer, text, tag=(self._asked, part))

    def _on_cut(self, tag, cut: "Cut") -> None:
        asked, part = tag
        if asked != self._asked:
            return  # the text or the tokenizer changed since: a newer answer is on its way
        self.count_label.setText(f"{formatting.count(cut.n_tokens)} tokens for the {formatting.count(cut.n_chars)} "
                                 f"characters of {part}.")
        if cut.unknown:
            shown = " ".join(sorted(visible(c) for c in cut.unknown)[:10])
            self.count_label.setText(self.count_label.text() + f" Not in the corpus, so left out: {shown}")
        self.pieces_view.setHtml(cut.html)

    def _on_cut_failed(self, _tag, error) -> None:
        self.count_label.setText(f"This text could not be cut into tokens: {error}")
        self.pieces_view.clear()

    @property
    def busy(self) -> bool:
        return self._task.busy

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        return self._task.shutdown(timeout_s)

    def render_html(self) -> str:
        return self.pieces_view.toHtml()


@dataclass(frozen=True)
class Cut:
    n_tokens: int
    n_chars: int
    unknown: frozenset[str]
    html: str  # the first MAX_SHOWN_CHARS characters' pieces, coloured


def cut_into_tokens(tokenizer: Tokenizer, text: str) -> Cut:
    """Everything the view shows about ``text`` (on a worker: its cost grows with the text)."""
    return Cut(len(tokenizer.encode(text)), len(text), frozenset(tokenizer.unknown(text)),
               pieces_html(tokenizer.pieces(text[:MAX_SHOWN_CHARS])))


def pieces_html(pieces: list[str]) -> str:
    """Each piece in a coloured span; spaces, tabs and line breaks drawn as visible marks."""
    spans = []
    for i, piece in enumerate(pieces):
        shown = html.escape(visible(piece)).replace("⏎", "⏎<br>")
        color = PIECE_COLORS[i % len(PIECE_COLORS)]
        spans.append(f'<span style="background-color:{color}; color:#111111;">{shown}</span>')
    return '<p style="line-height:150%;">' + "".join(spans) + "</p>"

