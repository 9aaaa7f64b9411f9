"""A pyqtgraph plot that follows the app's zoom: tick fonts, axis labels, legend, line widths.

pyqtgraph paints on a QGraphicsScene, which ignores ``QApplication.setFont``; left alone its axes
would stay at 8-point text while everything around them grows for the projector. Every plot in the
app derives from ``ZoomedPlotWidget``, which subscribes to the ``ZoomController`` and restyles
itself. Lines are registered with ``add_line`` so their widths and marker sizes scale too.

The background is white with dark ink, which survives washed-out projectors far better than
pyqtgraph's default black.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QFontMetrics
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol

from gui.zoom import ZoomController

INK = "#202020"
MIN_LINE_WIDTH = 2.0  # thinner lines vanish on projectors


@dataclass
class _LineStyle:
    item: pg.PlotDataItem
    color: str
    width: float  # at 100 % zoom
    dashed: bool
    symbol: str | None
    symbol_size: float  # at 100 % zoom


class ZoomedPlotWidget(pg.PlotWidget):
    """A PlotWidget whose text and lines scale with the ``ZoomController``."""

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(parent, background="w")
        self._zoom = zoom
        self._lines: list[_LineStyle] = []
        self._axis_titles: dict[str, str] = {}
        self.plotItem.showGrid(x=True, y=True, alpha=0.25)
        self.legend = self.plotItem.addLegend(offset=(-10, 10), sampleType=_ScaledSample)
        self.legend.setLabelTextColor(INK)
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 220))
        self.legend.setPen(pg.mkPen("#c0c0c0"))
        zoom.zoom_changed.connect(self._apply_zoom)
        self._apply_zoom()

    # --- building ---------------------------------------------------------------------------

    def set_axis_title(self, side: str, title: str) -> None:
        """``side`` is "left" or "bottom"; the title is re-rendered at the zoomed size."""
        self._axis_titles[side] = title
        self._style_axis(side)

    def add_line(
        self,
        name: str,
        color: str,
        *,
        width: float = 2.5,
        dashed: bool = False,
        symbol: str | None = None,
        symbol_size: float = 9.0,
    ) -> pg.PlotDataItem:
        """A named data line (shown in the legend) whose width and markers follow the zoom."""
        item = self.plotItem.plot([], [], name=name)
        self._lines.append(_LineStyle(item, color, width, dashed, symbol, symbol_size))
        self._style_line(self._lines[-1])
        return item

    # --- zoom -------------------------------------------------------------------------------

    @property
    def scale(self) -> float:
        return self._zoom.scale

    def tick_font_point_size(self) -> float:
        """Point size of the tick labels (tests compare it with the application font)."""
        font = self.plotItem.getAxis("bottom").style["tickFont"]
        return font.pointSizeF() if font is not None else 0.0

    def _apply_zoom(self, _percent: int | None = None) -> None:
        for side in ("left", "bottom"):
            self._style_axis(side)
        self.legend.setLabelTextSize(f"{self._zoom.point_size:.1f}pt")
        _ScaledSample.scale = self.scale
        for sample, _label in self.legend.items:
            sample.set_scale(self.scale)
        self.legend.updateSize()
        for line in self._lines:
            self._style_line(line)
        # pyqtgraph reserves only 80 % of an axis title's height and nudges it 5 px outwards, which
        # cuts off the bottom of "step" at large sizes: leave a margin that grows with the text.
        margin = QFontMetrics(self._zoom.font()).descent() + int(6 * self.scale)
        self.plotItem.layout.setContentsMargins(margin, margin, margin, margin)

    def _style_axis(self, side: str) -> None:
        axis = self.plotItem.getAxis(side)
        # Ticks as big as the app's text; the axis title a little bigger, as in a printed figure.
        axis.setTickFont(self._zoom.font())
        axis.setPen(pg.mkPen(INK, width=max(1.0, self.scale)))
        axis.setTextPen(pg.mkPen(INK))
        axis.setStyle(tickLength=int(-6 * self.scale), tickTextOffset=int(4 * self.scale))
        title = self._axis_titles.get(side)
        if title:
            axis.setLabel(title, **{"font-size": f"{self._zoom.point_size * 1.1:.1f}pt", "color": INK})
        # The reserved space was computed for the old font: recompute from the new one.
        axis.textWidth = axis.textHeight = 0
        axis._adjustSize()  # noqa: SLF001 - pyqtgraph has no public "re-measure" call

    def _style_line(self, line: _LineStyle) -> None:
        width = max(MIN_LINE_WIDTH, line.width * self.scale)
        pen = pg.mkPen(line.color, width=width)
        if line.dashed:
            pen.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
        line.item.setPen(pen)
        if line.symbol:
            line.item.setSymbol(line.symbol)
            line.item.setSymbolSize(line.symbol_size * self.scale)
            line.item.setSymbolBrush(pg.mkBrush(line.color))
            line.item.setSymbolPen(pg.mkPen("w", width=max(1.0, self.scale)))
            # The scatter (and the legend swatch drawn from it) only picks these up with data;
            # set them on it directly so an empty plot's legend shows the right marker too.
            line.item.scatter.setSymbol(line.symbol)
            line.item.scatter.setSize(line.symbol_size * self.scale)
            line.item.scatter.setBrush(pg.mkBrush(line.color))
            line.item.scatter.setPen(pg.mkPen("w", width=max(1.0, self.scale)))


class _ScaledSample(ItemSample):
    """pyqtgraph's legend swatch is a fixed 20 px square; this one grows with the zoom."""

    scale = 1.0  # the size new swatches start at; set_scale changes existing ones
    BASE = 20

    def __init__(self, item):
        super().__init__(item)
        self.set_scale(_ScaledSample.scale)

    def set_scale(self, scale: float) -> None:
        self._scale = scale
        side = int(self.BASE * scale)
        self.setFixedWidth(side)
        self.setFixedHeight(side)
        self.update()

    def boundingRect(self):
        side = self.BASE * self._scale
        return QRectF(0, 0, side, side)

    def paint(self, painter, *args):
        # Drawn here rather than by scaling ItemSample's painter: the line pen and the marker are
        # already zoomed, and scaling the painter would enlarge the marker a second time.
        side = self.BASE * self._scale
        opts = self.item.opts
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        painter.setPen(pg.mkPen(opts["pen"]))
        painter.drawLine(QPointF(0, side / 2), QPointF(side, side / 2))
        symbol = opts.get("symbol")
        if symbol is not None:
            scatter = self.item.scatter.opts
            painter.translate(side / 2, side / 2)
            drawSymbol(painter, symbol, scatter["size"], pg.mkPen(scatter["pen"]), pg.mkBrush(scatter["brush"]))
