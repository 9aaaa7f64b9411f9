"""A pyqtgraph plot that follows the app's zoom: tick fonts, axis labels, legend, line widths.

pyqtgraph paints on a QGraphicsScene, which ignores ``QApplication.setFont``; left alone its axes
would stay at 8-point text while everything around them grows for the projector. Every plot in the
app derives from ``ZoomedPlotWidget``, which subscribes to the ``ZoomController`` and restyles
itself. Lines are registered with ``add_line`` so their widths and marker sizes scale too.

Colours come from the current theme (``gui.themes``): the plot background is the theme's base
colour, axes, ticks and titles its text colour, and every line's colour is made legible on that
background. A theme change reaches the application as a palette change, which every widget receives;
the plot restyles itself then. Presentation mode (``ZoomController.set_presenting``) arrives as a zoom
change and makes lines thicker (``line_scale``) and axis titles bigger.

Subclasses that draw items of their own in theme colours connect to ``restyled``, which fires after
every zoom or theme change, and read ``ink()``.

Every plot's right-click menu offers "Export as PNG…" (``export_action``), which saves it at projector
resolution in the current theme through ``gui.export``; it replaces pyqtgraph's own "Export…",
whose dialog speaks of scene items and offers formats a learner does not need. ``export_name``
names the suggested file.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QMenu
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol

from gui import export, themes
from gui.zoom import ZoomController

INK = "#202020"  # the light theme's ink, for code written before themes; prefer ``ink()``
MIN_LINE_WIDTH = 2.0  # thinner lines vanish on projectors
LEGEND_OPACITY = 220  # of 255: the legend's box hides the grid but lets a curve behind it show


@dataclass
class _LineStyle:
    item: pg.PlotDataItem
    color: str  # as the tab asked for it; drawn as ``themes.curve_color(color)``
    width: float  # at 100 % zoom
    dashed: bool
    symbol: str | None
    symbol_size: float  # at 100 % zoom


class ZoomedPlotWidget(pg.PlotWidget):
    """A PlotWidget whose text and lines scale with the ``ZoomController``."""

    restyled = Signal()  # after every zoom, presentation or theme change has been applied
    export_name = "plot"  # the file name an export suggests ("loss-curve" → loss-curve.png)

    def __init__(self, zoom: ZoomController, parent=None):
        self._theme = themes.current_theme()
        super().__init__(parent, background=self._theme.base)
        self._zoom = zoom
        self._lines: list[_LineStyle] = []
        self._axis_titles: dict[str, str] = {}
        self.legend = self.plotItem.addLegend(offset=(-10, 10), sampleType=_ScaledSample)
        # Nothing in a plot answers the keyboard: Tab goes past it (two stops, the view and its
        # viewport, were dead ends), while a click still focuses it for the mouse wheel.
        for widget in (self, self.viewport()):
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        zoom.zoom_changed.connect(self._apply_zoom)
        self._apply_theme_colors()
        self._apply_zoom()
        # Right-click → "Export as PNG…": at the end of pyqtgraph's menu where a plot keeps it (in place
        # of its "Export…"), else alone in a menu of its own (``contextMenuEvent``).
        self.export_action = export.png_action(self, lambda: self.export_name)
        self.scene().contextMenu = [self.export_action]
        self._export_menu = QMenu(self)
        self._export_menu.addAction(self.export_action)

    def contextMenuEvent(self, event) -> None:
        if self.plotItem.menuEnabled():
            super().contextMenuEvent(event)  # pyqtgraph's menu, which ends with the export
            return
        self._export_menu.popup(event.globalPos())
        event.accept()

    def save_png(self, path, size: tuple[int, int] = export.PROJECTOR_SIZE):
        """Write the plot as a ``size`` PNG in the current theme (``gui.export.save_png``); returns the path."""
        return export.save_png(self, path, size)

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

    @property
    def theme(self) -> themes.Theme:
        """The theme this plot is drawn in."""
        return self._theme

    def ink(self) -> QColor:
        """The colour of axes and text on this plot's background."""
        return QColor(self._theme.text)

    def background_color(self) -> QColor:
        return QColor(self._theme.base)

    def line_pen_width(self, item: pg.PlotDataItem) -> float:
        """The width a line added with ``add_line`` is drawn at now (tests compare it across modes)."""
        return item.opts["pen"].widthF()

    # --- theme ------------------------------------------------------------------------------

    def changeEvent(self, event) -> None:
        # ``themes.apply_theme`` sets the application palette, which reaches every widget as a palette
        # change, or, while a style sheet is in force (high contrast), as a style change only; the
        # canvas does not use the palette, so it is restyled from the theme here.
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.StyleChange):
            if themes.current_theme() is not self._theme:
                self._theme = themes.current_theme()
                self._apply_theme_colors()
                self._apply_zoom()

    def _apply_theme_colors(self) -> None:
        theme = self._theme
        self.setBackground(theme.base)
        self.plotItem.showGrid(x=True, y=True, alpha=theme.grid_alpha)
        self.legend.setLabelTextColor(theme.text)
        fill = QColor(theme.base)
        fill.setAlpha(LEGEND_OPACITY)
        self.legend.setBrush(pg.mkBrush(fill))
        self.legend.setPen(pg.mkPen(theme.border))
        # Labels already in the legend keep the colour they were made with: re-set their text.
        for _sample, label in self.legend.items:
            label.setText(label.text, color=theme.text)

    def legend_label_sizes(self) -> list[str]:
        """The CSS font size each legend label is drawn at, e.g. "12.5pt" (tests compare it with the zoom)."""
        return [label.opts.get("size", "") for _sample, label in self.legend.items]

    def tick_font_point_size(self) -> float:
        """Point size of the tick labels (tests compare it with the application font)."""
        font = self.plotItem.getAxis("bottom").style["tickFont"]
        return font.pointSizeF() if font is not None else 0.0

    def _apply_zoom(self, _percent: int | None = None) -> None:
        for side in ("left", "bottom"):
            self._style_axis(side)
        self.legend.setLabelTextSize(f"{self._zoom.point_size:.1f}pt")
        _ScaledSample.scale = self.scale
        for sample, label in self.legend.items:
            sample.set_scale(self.scale)
            # pyqtgraph stores the new size for labels made later; existing ones must be re-rendered.
            label.setText(label.text, size=f"{self._zoom.point_size:.1f}pt")
        self.legend.updateSize()
        for line in self._lines:
            self._style_line(line)
        # pyqtgraph reserves only 80 % of an axis title's height and nudges it 5 px outwards, which
        # cuts off the bottom of "step" at large sizes: leave a margin that grows with the text.
        margin = QFontMetrics(self._zoom.font()).descent() + int(6 * self.scale)
        self.plotItem.layout.setContentsMargins(margin, margin, margin, margin)
        self.restyled.emit()

    def _style_axis(self, side: str) -> None:
        axis = self.plotItem.getAxis(side)
        # Ticks as big as the app's text; the axis title a little bigger, as in a printed figure.
        ink = self._theme.text
        axis.setTickFont(self._zoom.font())
        axis.setPen(pg.mkPen(ink, width=max(1.0, self.scale)))
        axis.setTextPen(pg.mkPen(ink))
        axis.setStyle(tickLength=int(-6 * self.scale), tickTextOffset=int(4 * self.scale))
        title = self._axis_titles.get(side)
        if title:
            size = self._zoom.point_size * self._zoom.axis_title_relative
            axis.setLabel(title, **{"font-size": f"{size:.1f}pt", "color": ink})
        # The reserved space was computed for the old font: recompute from the new one.
        axis.textWidth = axis.textHeight = 0
        axis._adjustSize()  # noqa: SLF001 - pyqtgraph has no public "re-measure" call

    def _style_line(self, line: _LineStyle) -> None:
        width = max(MIN_LINE_WIDTH, line.width * self._zoom.line_scale)
        color = themes.curve_color(line.color, self._theme)
        pen = pg.mkPen(color, width=width)
        if line.dashed:
            pen.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
        line.item.setPen(pen)
        if line.symbol:
            # Markers grow with the text, not with presentation mode's thicker lines: bigger ones
            # would hide the dashes of the line they sit on, in the plot and in the legend.
            size = line.symbol_size * self.scale
            # Outlined in the background colour, so markers stay apart where they overlap.
            outline = pg.mkPen(self._theme.base, width=max(1.0, self.scale))
            line.item.setSymbol(line.symbol)
            line.item.setSymbolSize(size)
            line.item.setSymbolBrush(pg.mkBrush(color))
            line.item.setSymbolPen(outline)
            # The scatter (and the legend swatch drawn from it) only picks these up with data;
            # set them on it directly so an empty plot's legend shows the right marker too.
            line.item.scatter.setSymbol(line.symbol)
            line.item.scatter.setSize(size)
            line.item.scatter.setBrush(pg.mkBrush(color))
            line.item.scatter.setPen(outline)


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
