"""A labelled horizontal bar chart, readable from the back of a classroom.

Used for the Data tab's coverage, quality and bias charts. Each row is a label, a bar and the number
written out, all drawn with the application font, so they grow with the zoom like the rest of the
window. A row can also carry a "ghost": the value before curation, drawn as a pale bar behind the
current one, so the effect of a cutoff or a topic toggle is visible at a glance.

Categorical data reads better as rows of text than as pyqtgraph's numeric axes, which cannot show
long category names at projector sizes.

Colours follow the theme (``gui.themes``): the track is the palette's base colour with a thin
outline in its border colour (a light grey track glared on the dark themes, and on high contrast's
black only the outline shows where a bar would end); the bar is the tabs' blue made legible on that
base (``themes.curve_color``), and the ghost is the bar's colour faded into the base. Bars read the
palette each time they paint, and repaint on a palette or style change, so a theme switch reaches
them at once. ``gui.widgets.year_histogram`` and ``gui.widgets.next_token_bars`` use the same colours.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui import export, themes

BAR_COLOR = QColor("#1f66c1")  # the tabs' blue, as asked for; drawn as ``bar_color()``
GHOST_STRENGTH = 0.3  # how much of the bar's colour the ghost (the value before curation) keeps


def bar_color(theme: themes.Theme | None = None) -> QColor:
    """The bars' blue as drawn on ``theme``'s base colour (the current theme by default)."""
    return themes.curve_color(BAR_COLOR, theme)


def ghost_color(theme: themes.Theme | None = None) -> QColor:
    """The pale "before curation" bar: the bar's colour faded into the theme's base colour."""
    theme = theme or themes.current_theme()
    return blend(bar_color(theme), QColor(theme.base), GHOST_STRENGTH)


def blend(color: QColor, background: QColor, amount: float) -> QColor:
    """``amount`` of ``color`` over ``background`` (0: the background, 1: the colour)."""
    return QColor.fromRgbF(*(amount * a + (1 - amount) * b for a, b in zip(
        (color.redF(), color.greenF(), color.blueF()), (background.redF(), background.greenF(), background.blueF()))))


def track_brush_and_pen(palette: QPalette) -> tuple[QColor, QPen]:
    """Fill and outline of an empty track, from the widget's palette (its theme's base and border)."""
    pen = QPen(palette.color(QPalette.ColorRole.Mid))
    pen.setWidthF(1.0)
    return palette.color(QPalette.ColorRole.Base), pen


def repaint_on_theme_change(widget: QWidget, event: QEvent) -> None:
    """Call from ``changeEvent``: a palette change (a theme switch) or a style change (high contrast's
    style sheet) repaints a widget that picks its colours while painting."""
    if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.StyleChange):
        widget.update()


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

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        repaint_on_theme_change(self, event)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 2.5, -0.5, -2.5)
        radius = rect.height() / 5
        track, outline = track_brush_and_pen(self.palette())
        painter.setPen(outline)
        painter.setBrush(track)
        painter.drawRoundedRect(rect, radius, radius)
        painter.setPen(Qt.PenStyle.NoPen)
        for fraction, color in ((self.ghost_fraction, ghost_color()), (self.fraction, bar_color())):
            if fraction > 0:
                filled = QRectF(rect)
                # At least a sliver, so "1 document" is not drawn as nothing at all.
                filled.setWidth(max(rect.width() * fraction, 3.0))
                painter.setBrush(color)
                painter.drawRoundedRect(filled, radius, radius)


class HorizontalBarChart(QWidget):
    """A title, rows of label + bar + number, and one plain sentence saying what it means.

    Its right-click menu exports it as a PNG at projector resolution (``gui.export``).
    """

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.export_action = export.add_png_export(self, export.file_name(title))
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
