"""Documents per year: what the corpus says about each year, and where the knowledge cutoff falls.

Pale bars count every dated document of the loaded text; blue bars count the ones curation kept.
A dashed line marks the cutoff year, so moving it shows at once which years the model will never
read about. Built on ``ZoomedPlotWidget``, so its axes grow with the zoom; the bars and the cutoff
line take their colours from the theme (``gui.widgets.bar_chart``'s colours, the plot's ink) and are
restyled on ``restyled``, which fires after every zoom and theme change.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from gui.widgets.bar_chart import bar_color, ghost_color
from gui.widgets.zoomed_plot import ZoomedPlotWidget
from gui.zoom import ZoomController


class YearHistogram(ZoomedPlotWidget):
    """Bars of documents per year, kept (blue) over loaded (pale), with a cutoff marker."""

    export_name = "documents-per-year"

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(zoom, parent)
        self.set_axis_title("bottom", "year")
        self.set_axis_title("left", "documents")
        self.plotItem.setMenuEnabled(False)
        self.plotItem.getViewBox().setMouseEnabled(x=False, y=False)
        self.legend.setVisible(False)
        self._loaded = pg.BarGraphItem(x=[], height=[], width=0.9, pen=pg.mkPen(None))
        self._kept = pg.BarGraphItem(x=[], height=[], width=0.9, pen=pg.mkPen(None))
        self.plotItem.addItem(self._loaded)
        self.plotItem.addItem(self._kept)
        self._cutoff_line = pg.InfiniteLine(angle=90, movable=False)
        self.plotItem.addItem(self._cutoff_line)
        self._cutoff_line.setVisible(False)
        self._counts: dict[int, int] = {}
        # ``restyled`` follows the zoom, presentation mode and the theme; the base class emitted it
        # once already, before these items existed, so style them now as well.
        self.restyled.connect(self._restyle)
        self._restyle()

    def set_counts(self, kept: dict[int, int], loaded: dict[int, int], cutoff_year: int | None) -> None:
        """``kept`` and ``loaded`` map year → documents; ``cutoff_year`` None hides the marker."""
        self._counts = dict(kept)
        years = np.array(sorted(loaded), dtype=float)
        self._loaded.setOpts(x=years, height=[loaded[int(y)] for y in years])
        kept_years = np.array(sorted(kept), dtype=float)
        self._kept.setOpts(x=kept_years, height=[kept[int(y)] for y in kept_years])
        self._cutoff_line.setVisible(cutoff_year is not None)
        if cutoff_year is not None:
            self._cutoff_line.setValue(cutoff_year + 0.5)  # between the last kept year and the first dropped one
        if len(years):
            self.plotItem.setXRange(years[0] - 1, years[-1] + 1, padding=0.02)
            self.plotItem.setYRange(0, max(loaded.values()) * 1.08, padding=0)

    def sizeHint(self):
        # pyqtgraph asks for 640x480; the histogram shares its row with a short bar chart.
        hint = super().sizeHint()
        hint.setHeight(self.fontMetrics().height() * 11)
        return hint

    def counts(self) -> dict[int, int]:
        """Year → documents kept, as drawn."""
        return dict(self._counts)

    def cutoff_pen(self):
        """The pen the cutoff line is drawn with now (tests compare its colour with the background)."""
        return self._cutoff_line.pen

    def bar_brushes(self) -> tuple[QColor, QColor]:
        """(loaded, kept) bar colours as drawn now."""
        return self._loaded.opts["brush"].color(), self._kept.opts["brush"].color()

    def _restyle(self) -> None:
        # The plot's ink: the theme's text colour, legible on the plot background in every theme.
        pen = pg.mkPen(self.ink(), width=max(2.0, 2.0 * self.scale))
        pen.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
        self._cutoff_line.setPen(pen)
        self._loaded.setOpts(brush=pg.mkBrush(ghost_color(self.theme)))
        self._kept.setOpts(brush=pg.mkBrush(bar_color(self.theme)))
