"""A one-line legend under a table whose cells are coloured: a swatch of each colour and what it means.

The colours are the tables' own pale fills with dark text, the same in every theme, so the swatch
reads like the cells it explains.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

INK = "#1b1b1b"  # the text on a coloured cell, as the tables write it


def legend_html(lead: str, entries: list[tuple[str, str]]) -> str:
    """``lead`` then, per (fill colour, meaning), the meaning written on a swatch of that colour."""
    swatches = "  ".join(f'<span style="background-color:{fill}; color:{INK};">&nbsp;{html.escape(words, quote=False)}&nbsp;</span>'
                         for fill, words in entries)
    return f"{html.escape(lead, quote=False)} {swatches}"


def colour_legend(lead: str, entries: list[tuple[str, str]]) -> QLabel:
    """A wrapped label for ``legend_html``; its accessible name says the same in words."""
    label = QLabel(legend_html(lead, entries))
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setObjectName("colourLegend")
    label.setAccessibleName(f"{lead} " + "; ".join(words for _fill, words in entries))
    return label
