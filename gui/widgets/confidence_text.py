"""An answer written token by token, each token shaded by how sure the model was of it, and a legend.

The model gives every token it writes a probability. Four shades of blue, from dark (sure) to pale
(guessing), make that visible without numbers: a fluent but wrong answer often shows pale tokens
exactly where the facts are. Four steps, not a smooth gradient, so the legend can say in plain
words what each shade means, and a projector's washed-out colours still tell them apart. Hovering a
token shows its exact probability.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.tokenizer import readable, visible


@dataclass(frozen=True)
class Band:
    lowest: float  # the smallest probability in this band
    fill: str  # the token's background
    ink: str  # the token's text colour, legible on that background
    words: str  # what it means, for the legend


BANDS = (
    Band(0.9, "#08306b", "#ffffff", "dark: the model was sure (90 % or more)"),
    Band(0.6, "#2f7abf", "#ffffff", "medium: fairly sure (60 to 90 %)"),
    Band(0.3, "#9ecae1", "#111111", "light: unsure (30 to 60 %)"),
    Band(0.0, "#e8f1fa", "#111111", "palest: guessing (under 30 %)"),
)


def band(probability: float) -> Band:
    return next(b for b in BANDS if probability >= b.lowest)


def confidence_html(tokens: tuple[tuple[str, float], ...] | list[tuple[str, float]]) -> str:
    """Each token in a span shaded by its probability; spaces and line breaks made visible."""
    if not tokens:
        return "<p><i>(the model wrote nothing)</i></p>"
    spans = []
    for text, p in tokens:
        b = band(p)
        shown = html.escape(visible(readable(text))).replace("⏎", "⏎<br>")  # part of a letter: ▯, never �
        spans.append(f'<span title="{p:.0%} sure" style="background-color:{b.fill}; color:{b.ink};">{shown}</span>')
    return '<p style="line-height:160%;">' + "".join(spans) + "</p>"


class ConfidenceLegend(QWidget):
    """A swatch and a sentence per shade, under a one-line heading."""

    def __init__(self, parent=None):
        super().__init__(parent)
        heading = QLabel("Each token's shade shows how sure the model was when it wrote it:")
        heading.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading)
        rows = QGridLayout()  # two by two: four in a row would squeeze the words at projector sizes
        self.labels: list[QLabel] = []
        for i, b in enumerate(BANDS):
            swatch = QLabel("  Aa  ")
            swatch.setStyleSheet(f"background-color:{b.fill}; color:{b.ink}; border: 1px solid #888;")
            words = QLabel(b.words)
            words.setWordWrap(True)
            self.labels.append(words)
            item = QHBoxLayout()
            item.addWidget(swatch)
            item.addWidget(words, 1)
            rows.addLayout(item, i // 2, i % 2)
        layout.addLayout(rows)

    def texts(self) -> list[str]:
        return [label.text() for label in self.labels]
