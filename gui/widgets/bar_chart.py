"""A labelled horizontal bar chart, readable from the back of a classroom.

Used for the Data tab's coverage, quality and bias charts. Each row is a label, a bar and the number
written out, all drawn with the application font, so they grow with the zoom like the rest of the
window. A row can also carry a "ghost": the value before curation, drawn as a pale bar behind the
current one, so the effect of a cutoff or a topic toggle is visible at a glance.

Categorical data reads better as rows of text than as pyqtgraph's numeric axes, which cannot show
long category names at projector sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

BAR_COLOR = QColor("#1f66c1")
GHOST_COLOR = QColor("#c9d3e3")  # the value before curation
TRACK_COLOR = QColor("#eef0f4")


@dataclass(frozen=True)
class BarRow:
    label: str  # the category, in words
    value: float  # the bar's length, in the chart's unit
    text: str  # the number as shown beside the bar, e.g. "12,345 characters"
    ghost: float | None = None  # the value before curation, or None to draw no ghost


class _Bar(QWidget):
    """One bar: a track, an optional ghost and the fill, scaled to the chart's largest value."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.fraction = 0.0
        self.ghost_fraction = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance("0" * 16), int(metrics.height() * 1.2))

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance("0" * 4), int(metrics.height() * 1.2))

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        rect = QRectF(self.rect()).adjusted(0, 2, 0, -2)
        radius = rect.height() / 5
        painter.setBrush(TRACK_COLOR)
        painter.drawRoundedRect(rect, radius, radius)
        for fraction, color in ((self.ghost_fraction, GHOST_COLOR), (self.fraction, BAR_COLOR)):
            if fraction > 0:
                filled = QRectF(rect)
                # At least a sliver, so "1 document" is not drawn as nothing at all.
                filled.setWidth(max(rect.width() * fraction, 3.0))
                painter.setBrush(color)
                painter.drawRoundedRect(filled, radius, radius)


class HorizontalBarChart(QWidget):
    """A title, rows of label + bar + number, and one plain sentence saying what it means."""

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.title_label = QLabel(title)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.explanation_label = QLabel()
        self.explanation_label.setWordWrap(True)
        self.empty_label = QLabel("Nothing to show.")
        self._rows: list[BarRow] = []
        self._widgets: list[tuple[QLabel, _Bar, QLabel]] = []
        self._grid = QGridLayout()
        self._grid.setColumnStretch(1, 1)
        self._grid.setVerticalSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title_label)
        layout.addLayout(self._grid)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.explanation_label)
        layout.addStretch(1)

    def set_rows(self, rows: list[BarRow], explanation: str = "") -> None:
        self._rows = list(rows)
        while len(self._widgets) < len(rows):
            widgets = (QLabel(), _Bar(), QLabel())
            r = len(self._widgets)
            for column, widget in enumerate(widgets):
                self._grid.addWidget(widget, r, column)
            widgets[2].setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._widgets.append(widgets)
        largest = max([r.value for r in rows] + [r.ghost or 0 for r in rows] + [1e-12])
        for i, widgets in enumerate(self._widgets):
            label, bar, number = widgets
            visible = i < len(rows)
            for w in widgets:
                w.setVisible(visible)
            if not visible:
                continue
            row = rows[i]
            label.setText(row.label)
            number.setText(row.text)
            bar.fraction = row.value / largest
            bar.ghost_fraction = (row.ghost or 0) / largest
            bar.setAccessibleName(f"{row.label}: {row.text}")
            bar.update()
        self.empty_label.setVisible(not rows)
        self.explanation_label.setText(explanation)
        self.explanation_label.setVisible(bool(explanation))

    def rows(self) -> list[BarRow]:
        return list(self._rows)

    def values(self) -> dict[str, float]:
        """Label → value, as drawn (tests compare these with counts of their own)."""
        return {r.label: r.value for r in self._rows}
