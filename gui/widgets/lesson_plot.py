"""Draws a lesson's plot (``engine.evaluation.lessons.PlotData``): bars, lines, points, a marker, a log scale.

Every lesson describes its plot as plain data, so the engine never touches Qt and one widget draws
them all. Categories ("right answers", "1990–1999"…) become the bottom axis's tick labels; several
bar series stand side by side within a category; a log scale (the compute lesson) is drawn as
log10 of the values with ticks written 10¹², 10²³…, since pyqtgraph's own log mode cannot draw bars.
Built on ``ZoomedPlotWidget``, so its text and lines follow the zoom.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics

from gui.widgets.zoomed_plot import ZoomedPlotWidget
from gui.zoom import ZoomController

# Colour-blind-safe and distinct on a washed-out projector (Okabe-Ito blue, orange, green, purple).
COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")
VALUE_LABEL_Z = 50  # the numbers written on bars are drawn above the bars and the points
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(k: int) -> str:
    """10 to the k, written as on a printed page: 10²³."""
    return "10" + str(k).translate(_SUPERSCRIPT)


class LessonPlot(ZoomedPlotWidget):
    """One lesson plot; ``show_plot`` replaces whatever was drawn before (the page sets ``export_name``)."""

    export_name = "lesson-plot"

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(zoom, parent)
        self.plotItem.setMenuEnabled(False)
        self.plotItem.getViewBox().setMouseEnabled(x=False, y=False)
        self.plotItem.hideButtons()
        self._items: list = []  # everything drawn for the current plot, removed by the next one
        self._drawn: dict[str, list[float]] = {}
        self._plot = None
        # Redraw after every zoom, presentation or theme change: labels and lines take the theme's ink.
        self.restyled.connect(self._redraw)

    def sizeHint(self):
        hint = super().sizeHint()
        hint.setHeight(self.fontMetrics().height() * 20)
        return hint

    def drawn(self) -> dict[str, list[float]]:
        """Series name → the values drawn (before any log scale): tests compare them with the result."""
        return {k: list(v) for k, v in self._drawn.items()}

    def show_plot(self, plot) -> None:
        """Draw an ``engine.evaluation.lessons.PlotData`` (None clears the plot)."""
        self._plot = plot
        self._redraw()

    # --- drawing ---------------------------------------------------------------------------------

    def _clear(self) -> None:
        for item in self._items:
            self.plotItem.removeItem(item)
        self._items = []
        self.legend.clear()
        self._drawn = {}

    def _add(self, item, legend_name: str | None = None, color: str | None = None) -> None:
        self.plotItem.addItem(item)
        self._items.append(item)
        if legend_name:
            # Bars have no line for the legend's swatch: a thick line of their colour stands in.
            swatch = pg.PlotDataItem([], [], pen=pg.mkPen(color, width=10 * self.scale)) if color else item
            self.legend.addItem(swatch, legend_name)

    def _redraw(self) -> None:
        self._clear()
        plot = self._plot
        bottom, left = self.plotItem.getAxis("bottom"), self.plotItem.getAxis("left")
        if plot is None:
            bottom.setTicks(None)
            left.setTicks(None)
            return
        self.set_axis_title("bottom", plot.x_label)
        self.set_axis_title("left", plot.y_label + (" (log scale)" if plot.log_y else ""))
        bottom.showLabel(bool(plot.x_label))  # an empty title must not leave the previous lesson's behind

        def transform(values) -> np.ndarray:
            y = np.array(values, dtype=float)
            if plot.log_y:
                with np.errstate(divide="ignore", invalid="ignore"):
                    y = np.where(y > 0, np.log10(y), np.nan)
            return y

        every = [v for v in transform([v for s in plot.series for v in s.y]) if math.isfinite(v)]
        log_floor = math.floor(min(every)) - 1 if every else 0.0  # log bars grow up from here
        bars = [s for s in plot.series if s.style == "bars"]
        has_points = any(s.style == "points" for s in plot.series)
        width = 0.8 / max(len(bars), 1)
        font = self._zoom.font()
        all_y = []
        for index, series in enumerate(plot.series):
            color = COLORS[index % len(COLORS)]
            self._drawn[series.name] = [float(v) for v in series.y]
            x = np.array(series.x, dtype=float)
            y = transform(series.y)
            all_y += [v for v in y if math.isfinite(v)]
            if series.style == "bars":
                offset = (bars.index(series) - (len(bars) - 1) / 2) * width
                keep = np.isfinite(y)
                # Log bars grow up from the smallest power of ten drawn; share bars from zero.
                base = log_floor if plot.log_y else 0.0
                item = pg.BarGraphItem(x=x[keep] + offset, height=y[keep] - base, y0=base, width=width,
                                       brush=pg.mkBrush(color), pen=pg.mkPen(None))
                self._add(item, series.name if len(plot.series) > 1 else None, color)
                for xi, yi, raw in zip(x[keep] + offset, y[keep], np.array(series.y, dtype=float)[keep]):
                    # The hallucination lesson draws one dot per answer around the top of its bars, and the
                    # dots hid the numbers written there: with dots, the number goes inside the bar at its
                    # foot, white on the bar's colour, above everything.
                    inside = has_points and not plot.log_y
                    fill = pg.mkColor(color) if inside else self.background_color()
                    fill.setAlpha(255 if inside else 230)
                    text = pg.TextItem(_value_text(raw, plot.log_y, plot.percent),
                                       color="#ffffff" if inside else self.ink(), anchor=(0.5, 1.0),
                                       fill=pg.mkBrush(fill))
                    text.setFont(font)
                    text.setPos(xi, base + 0.04 * (plot.y_range[1] - plot.y_range[0]) if inside and plot.y_range
                                else yi)
                    text.setZValue(VALUE_LABEL_Z)
                    self._add(text)
            else:
                pen = pg.mkPen(color, width=max(2.0, 3.0 * self.scale))
                if series.style == "dashed":
                    pen.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
                symbol_size = (9 if series.style == "points" else 10) * self.scale
                item = pg.PlotDataItem(x, y, pen=None if series.style == "points" else pen, symbol="o",
                                       symbolSize=symbol_size, symbolBrush=pg.mkBrush(color),
                                       symbolPen=pg.mkPen("w", width=max(1.0, self.scale)), connect="finite")
                self._add(item, series.name)
                for xi, yi, label in zip(x, y, series.labels):
                    if math.isfinite(yi):
                        text = pg.TextItem(label, color=self.ink(), anchor=(0.0, 1.0))
                        text.setFont(font)
                        text.setPos(xi, yi)
                        self._add(text)
        metrics = QFontMetrics(font)
        lines = max([c.count("\n") + 1 for c in plot.categories] or [1]) + (1 if plot.x_label else 0)
        # Room for two-line category names (and the axis title): pyqtgraph reserves one line only.
        bottom.setHeight(int(metrics.lineSpacing() * (lines + 0.6) + 8 * self.scale))
        if plot.categories:
            bottom.setTicks([[(i, c) for i, c in enumerate(plot.categories)]])
            self.plotItem.setXRange(-0.6, len(plot.categories) - 0.4, padding=0)
        else:
            bottom.setTicks(None)
            xs = [v for s in plot.series for v in s.x if math.isfinite(v)]
            if xs:  # room on the right for the labels written beside points
                self.plotItem.setXRange(min(0.0, min(xs)), max(xs) * 1.3 + 1e-9, padding=0.02)
        if plot.log_y and all_y:
            lo, hi = math.floor(min(all_y)) - 1, math.ceil(max(all_y)) + 1
            step = max(1, (hi - lo) // 8)
            left.setTicks([[(k, power_of_ten(k)) for k in range(lo, hi + 1, step)]])
            self.plotItem.setYRange(lo, hi + 0.5, padding=0)
        else:
            # Shares from 0 to 1 are written as percentages on the axis too, as on the bars.
            percent_axis = plot.percent and plot.y_range == (0.0, 1.0)
            left.setTicks([[(k / 4, f"{25 * k}%") for k in range(5)]] if percent_axis else None)
            # Room for "100%" beside the side title: left to itself the axis stayed too narrow for any label.
            left.setWidth(int(metrics.horizontalAdvance("100%") + metrics.lineSpacing() * 1.8 + 10 * self.scale)
                          if percent_axis else None)
            if plot.y_range is not None:
                lo, hi = plot.y_range
                # Room above for the numbers on bars, and for the legend when there is one.
                room = (0.45 if has_points else 0.3) if len(self.legend.items) > 1 else 0.12  # dots reach higher
                self.plotItem.setYRange(lo, hi + room * (hi - lo), padding=0)
            else:
                self.plotItem.enableAutoRange(axis="y")
        if plot.marker_x is not None:
            pen = pg.mkPen(self.ink(), width=max(2.0, 2.0 * self.scale))
            pen.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
            line = pg.InfiniteLine(pos=plot.marker_x, angle=90, pen=pen, label=plot.marker_label,
                                   labelOpts={"position": 0.08, "color": self.ink(), "anchors": [(0, 0), (0, 0)]})
            line.label.setFont(font)
            self._add(line)
        self.legend.setVisible(len(self.legend.items) > 0)


def _value_text(value: float, log_scale: bool, percent: bool = True) -> str:
    """The number written on a bar: a share as a percentage, a huge count as a power of ten."""
    if not math.isfinite(value):
        return ""
    if log_scale:
        exponent = math.floor(math.log10(value))
        return f"{value / 10 ** exponent:.1f}×{power_of_ten(exponent)}"
    return f"{100 * value:.0f}%" if percent and 0 <= value <= 1 else f"{value:.2f}"
