"""A grouped horizontal bar chart: one group per category, one bar per series, readable on a projector.

The Evaluation stage draws exact-match accuracy per topic (the groups) for every model (the series,
one colour each, named in a legend above the bars). Everything is painted with the widget's font,
so it grows with the app's zoom like any label; the value is written at the end of every bar, so
nobody has to read it off an axis from the back of a room. Colours are the Okabe–Ito palette, which
stays distinguishable for colour-blind viewers and in greyscale print.

``save_png`` (and the right-click menu's "Export as PNG…") writes the chart at projector resolution
in the current theme's colours (``gui.export``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import export, themes
from gui.widgets.bar_chart import repaint_on_theme_change

SERIES_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")


@dataclass(frozen=True)
class DrawnBar:
    """A bar as drawn (tests read these): which group and series, its value and the text beside it."""

    group: str
    series: str
    value: float  # 0..maximum; NaN draws no bar and writes "–"
    text: str


def series_color(index: int) -> QColor:
    """The series' colour (colour-blind-safe), made legible on the current theme's background."""
    return themes.curve_color(SERIES_COLORS[index % len(SERIES_COLORS)])


class GroupedBarChart(QWidget):
    """Groups of bars, a legend of the series, and a title; values between 0 and ``maximum``."""

    def __init__(self, title: str, empty_text: str = "Nothing to show yet.", parent=None, *,
                 export_name: str = "chart"):
        super().__init__(parent)
        self.export_action = export.add_png_export(self, export_name)  # right-click → Export as PNG…
        self.title = title
        self.empty_text = empty_text
        self.maximum = 1.0
        self._groups: list[str] = []
        self._series: list[str] = []
        self._bars: list[DrawnBar] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName(title)

    # --- data -------------------------------------------------------------------------------

    def set_data(self, groups: list[str], series: list[str], values: dict[tuple[str, str], tuple[float, str]],
                 maximum: float = 1.0) -> None:
        """``values[(group, series)] = (value, text)``; a missing pair draws no bar."""
        self._groups, self._series, self.maximum = list(groups), list(series), maximum
        self._bars = [DrawnBar(g, s, *values[(g, s)]) for g in groups for s in series if (g, s) in values]
        self.setAccessibleDescription("; ".join(f"{b.group}, {b.series}: {b.text}" for b in self._bars))
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self.set_data([], [], {})

    def bars(self) -> list[DrawnBar]:
        return list(self._bars)

    def series(self) -> list[str]:
        return list(self._series)

    # --- geometry ---------------------------------------------------------------------------

    def _metrics(self) -> QFontMetricsF:
        return QFontMetricsF(self.font())

    def _row_height(self) -> float:
        return self._metrics().height() * 1.25

    def _legend_rows(self, width: float) -> list[list[int]]:
        """Series indices per legend line, wrapped to ``width``."""
        m = self._metrics()
        rows, line, used = [], [], 0.0
        for i, name in enumerate(self._series):
            item = m.height() * 1.6 + m.horizontalAdvance(name)
            if line and used + item > width:
                rows.append(line)
                line, used = [], 0.0
            line.append(i)
            used += item
        return rows + [line] if line else rows

    def _height_for(self, width: float) -> int:
        m = self._metrics()
        if not self._groups:
            return int(m.height() * 4)
        legend = len(self._legend_rows(width)) * m.height() * 1.3
        label_width = self._label_width(width - 0.8 * m.height())
        groups = sum(self._group_height(g, label_width) + m.height() * 0.8 for g in self._groups)
        return int(m.height() * 1.8 + legend + m.height() * 0.5 + groups + m.height())

    def _label_width(self, width: float) -> float:
        """The group names' column: as wide as the longest name, at most 35 % of the chart."""
        m = self._metrics()
        return min(max(m.horizontalAdvance(g) for g in self._groups) + m.height() * 0.4, width * 0.35)

    def _group_height(self, group: str, label_width: float) -> float:
        """A group's bars, or its name wrapped onto as many lines as it needs, whichever is taller."""
        m = self._metrics()
        wrapped = m.boundingRect(QRectF(0, 0, label_width, 1e6), int(Qt.TextFlag.TextWordWrap), group).height()
        return max(len(self._series) * self._row_height(), wrapped)

    def sizeHint(self) -> QSize:
        width = int(self._metrics().horizontalAdvance("0") * 60)
        return QSize(width, self._height_for(width))

    def minimumSizeHint(self) -> QSize:
        width = int(self._metrics().horizontalAdvance("0") * 30)
        return QSize(width, self._height_for(max(self.width(), width)))

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._height_for(width)

    # --- drawing ----------------------------------------------------------------------------

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        self.draw(painter, QRectF(self.rect()))
        painter.end()

    def changeEvent(self, event) -> None:
        repaint_on_theme_change(self, event)
        super().changeEvent(event)

    def draw(self, painter: QPainter, rect: QRectF) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()  # the theme's: text, background and empty tracks follow it
        ink = palette.color(QPalette.ColorRole.Text)
        track = palette.color(QPalette.ColorRole.AlternateBase)
        painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
        painter.setFont(self.font())
        m = self._metrics()
        pad = m.height() * 0.4
        x0, y = rect.left() + pad, rect.top() + pad
        width = rect.width() - 2 * pad

        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(ink)
        painter.drawText(QRectF(x0, y, width, m.height() * 1.4), Qt.AlignmentFlag.AlignLeft, self.title)
        painter.setFont(self.font())
        y += m.height() * 1.8
        if not self._groups:
            painter.drawText(QRectF(x0, y, width, m.height() * 1.4), Qt.AlignmentFlag.AlignLeft, self.empty_text)
            return

        # Legend: a swatch and a name per series, wrapped over as many lines as needed.
        for line in self._legend_rows(width):
            x = x0
            for i in line:
                side = m.height() * 0.9
                painter.fillRect(QRectF(x, y + (m.height() - side) / 2, side, side), series_color(i))
                x += side + m.height() * 0.3
                name = self._series[i]
                painter.setPen(ink)
                painter.drawText(QRectF(x, y, m.horizontalAdvance(name) + 2, m.height()),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
                x += m.horizontalAdvance(name) + m.height() * 0.7
            y += m.height() * 1.3
        y += m.height() * 0.5

        label_width = self._label_width(width)
        number_width = max([m.horizontalAdvance(b.text) for b in self._bars] + [m.horizontalAdvance("100%")]) + pad
        bar_left = x0 + label_width + pad
        bar_width = max(width - label_width - pad - number_width, m.height())
        row = self._row_height()
        values = {(b.group, b.series): b for b in self._bars}
        for group in self._groups:
            # A long name ("People and elections (10 questions)") wraps rather than being cut off at 200 %.
            group_height = self._group_height(group, label_width)
            painter.setPen(ink)
            painter.drawText(QRectF(x0, y, label_width, group_height),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap,
                             group)
            for i, name in enumerate(self._series):
                top = y + (group_height - len(self._series) * row) / 2  # the bars centred beside a tall name
                bar_rect = QRectF(bar_left, top + i * row + row * 0.1, bar_width, row * 0.8)
                painter.fillRect(bar_rect, track)
                bar = values.get((group, name))
                if bar is None:
                    continue
                if not math.isnan(bar.value) and bar.value > 0:
                    fraction = min(bar.value / self.maximum, 1.0) if self.maximum > 0 else 0.0
                    filled = QRectF(bar_rect)
                    filled.setWidth(max(bar_width * fraction, 3.0))  # a sliver, so 1 % is not nothing
                    painter.fillRect(filled, series_color(i))
                painter.setPen(ink)
                painter.drawText(QRectF(bar_left + bar_width + pad / 2, bar_rect.top(), number_width, bar_rect.height()),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, bar.text)
            y += group_height + m.height() * 0.8

    # --- export -----------------------------------------------------------------------------

    def save_png(self, path: str | Path, size: tuple[int, int] = export.PROJECTOR_SIZE) -> Path:
        """Write the chart as a ``size`` PNG in the current theme (``gui.export``); returns the path."""
        return export.save_png(self, path, size)
