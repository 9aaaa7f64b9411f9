"""The loss curve: training loss at every log point, validation loss as markers, growing live.

A vertical cursor line marks the step the time-lapse shows (``gui.widgets.time_lapse_panel``): the
user can drag it along the curve (``cursor_moved`` while dragging, ``cursor_released`` after), and the
panel places it (``set_cursor_step``). It is drawn in the theme's text colour, apart from both curves'
hues, with a "step N" label, and its width and label follow the zoom.

Events arrive every few steps; redrawing pyqtgraph for each would spend the GUI thread's time on
drawing instead of on staying responsive, so new points are collected and drawn at most
``REDRAW_INTERVAL_MS`` apart.
"""

from __future__ import annotations


import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtGui import QFontMetrics

from gui.widgets.zoomed_plot import ZoomedPlotWidget
from gui.zoom import ZoomController

REDRAW_INTERVAL_MS = 100
# Blue and orange stay distinct for the colour-blind; each theme makes them legible on its background
# (``gui.themes.curve_color``), keeping the hues.
TRAIN_COLOR = "#1f66c1"
VALIDATION_COLOR = "#e06c00"
# A line through one point draws nothing: at step 1 the plot had axes and nothing in it. Until the
# curve has this many points each one is also a small dot (smaller than validation's circles).
MARKED_TRAIN_POINTS = 40
TRAIN_MARKER_SIZE = 6


class LossPlot(ZoomedPlotWidget):
    """Train and validation loss against the step number, and the time-lapse's cursor.

    Training points carry a small dot while there are few of them (``MARKED_TRAIN_POINTS``), so a
    lone first point is seen; validation points always have their circles.
    """

    cursor_moved = Signal(float)  # the user is dragging the cursor: the step under it now
    cursor_released = Signal()  # the user let go of the cursor (the time-lapse snaps it to a snapshot)

    def __init__(self, zoom: ZoomController, parent=None, *, validation_label: str = "validation loss (unseen text)"):
        super().__init__(zoom, parent)
        self.setObjectName("lossPlot")
        self.set_axis_title("bottom", "step")
        self.set_axis_title("left", "loss")
        self.plotItem.setMenuEnabled(True)  # right-click → "Export as PNG…" (gui/export.py replaces pyqtgraph's own)
        # Steps start at 0: a lone point at step 1 was centred on an axis from -30 to 30.
        self.plotItem.vb.setLimits(xMin=0)
        self._train_curve = self.add_line("training loss", TRAIN_COLOR, width=2.0)
        self._val_curve = self.add_line(
            validation_label, VALIDATION_COLOR, width=2.0, dashed=True, symbol="o", symbol_size=10
        )
        self._train_steps: list[int] = []
        self._train_losses: list[float] = []
        self._val_steps: list[int] = []
        self._val_losses: list[float] = []
        # Its markers come and go with the number of points.
        self._train_style = next(line for line in self._lines if line.item is self._train_curve)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        # Until there is a curve, say what will appear rather than showing bare 0..1 axes.
        self._empty_note = pg.TextItem("The loss appears here once training starts.", anchor=(0.5, 0.5))
        self.plotItem.addItem(self._empty_note, ignoreBounds=True)
        self._empty_note.setPos(0.5, 0.2)  # below the legend (top right), even at 300 % zoom
        self._style_note()
        self.restyled.connect(self._style_note)  # after every zoom, presentation or theme change
        self.cursor = pg.InfiniteLine(angle=90, movable=True, label="step {value:,.0f}",
                                      labelOpts={"position": 0.3})  # below the legend
        self.cursor.setToolTip("The time-lapse shows the model at this step. Drag the line along the curve.")
        self.cursor.setVisible(False)
        self.cursor.setZValue(5)  # above the curves: it is what the hand grabs
        self.plotItem.addItem(self.cursor, ignoreBounds=True)  # never widens the axes by itself
        self._placing = False  # True while the program (not the user) moves the cursor
        self.cursor.sigPositionChanged.connect(self._on_cursor_moved)
        self.cursor.sigPositionChangeFinished.connect(lambda _line: self.cursor_released.emit())
        self._style_cursor()
        self.restyled.connect(self._style_cursor)

    # --- data in ----------------------------------------------------------------------------

    def clear_points(self) -> None:
        self._train_steps.clear()
        self._train_losses.clear()
        self._val_steps.clear()
        self._val_losses.clear()
        self._redraw()

    def add_training_losses(self, steps, losses) -> None:
        self._train_steps.extend(int(s) for s in steps)
        self._train_losses.extend(float(v) for v in losses)
        self._schedule_redraw()

    def add_validation_loss(self, step: int, loss: float) -> None:
        self._val_steps.append(int(step))
        self._val_losses.append(float(loss))
        self._schedule_redraw()

    def truncate_after(self, step: int) -> None:
        """Drop every point past ``step``: a diverged run keeps the model from ``step``, and the curve
        must end where that model's record does, not at points the run has taken back."""
        keep = [i for i, s in enumerate(self._train_steps) if s <= step]
        self._train_steps = [self._train_steps[i] for i in keep]
        self._train_losses = [self._train_losses[i] for i in keep]
        keep = [i for i, s in enumerate(self._val_steps) if s <= step]
        self._val_steps = [self._val_steps[i] for i in keep]
        self._val_losses = [self._val_losses[i] for i in keep]
        self._redraw()

    def set_history(self, history) -> None:
        """Show a saved model's whole curve (an ``engine.trained_model.LossHistory``)."""
        self._train_steps = [int(s) for s in history.train_steps]
        self._train_losses = [float(v) for v in history.train_losses]
        self._val_steps = [int(s) for s in history.val_steps]
        self._val_losses = [float(v) for v in history.val_losses]
        self._redraw()

    # --- the time-lapse cursor ------------------------------------------------------------------

    def set_cursor_step(self, step: float) -> None:
        """Put the cursor at ``step`` (and show it); does not emit ``cursor_moved``."""
        # Shown first: pyqtgraph's label rewrites its "step N" only while it is visible, so a cursor
        # placed while hidden kept saying "step 0" (seen on the shipped model's time-lapse).
        self.cursor.setVisible(True)
        self._placing = True
        try:
            self.cursor.setValue(float(step))
        finally:
            self._placing = False
        self.cursor.label.valueChanged()  # also when the value itself did not change

    def set_cursor_range(self, first: float, last: float) -> None:
        """Where dragging may take the cursor: from the first snapshot's step to the last one's."""
        self._placing = True  # setBounds moves a cursor that is outside them: not the user's doing
        try:
            self.cursor.setBounds((float(first), float(last)))
        finally:
            self._placing = False

    def hide_cursor(self) -> None:
        self.cursor.setVisible(False)

    def cursor_step(self) -> float | None:
        """The step under the cursor, or None while it is hidden."""
        return float(self.cursor.value()) if self.cursor.isVisible() else None

    def _on_cursor_moved(self, _line) -> None:
        if not self._placing:
            self.cursor_moved.emit(float(self.cursor.value()))

    def _style_cursor(self, *_args) -> None:
        ink = self.ink()
        width = max(2.0, 2.0 * self._zoom.line_scale)
        self.cursor.setPen(pg.mkPen(ink, width=width, style=pg.QtCore.Qt.PenStyle.DashLine))
        # Under the mouse it turns the theme's selection colour and thicker: it can be grabbed.
        self.cursor.setHoverPen(pg.mkPen(QColor(self.theme.highlight), width=width * 1.5))
        label = self.cursor.label
        label.setFont(self._zoom.font())
        label.setColor(ink)
        fill = self.background_color()
        fill.setAlpha(220)  # as the legend: the label stays readable over the curves
        label.fill = pg.mkBrush(fill)
        label.border = pg.mkPen(self.theme.border)
        label.prepareGeometryChange()  # its box was measured for the old font: the new text overflowed it
        label.valueChanged()

    def flush(self) -> None:
        """Draw pending points now (before a screenshot or export)."""
        if self._redraw_timer.isActive():
            self._redraw_timer.stop()
            self._redraw()

    # --- reading back (tests, export) -----------------------------------------------------------

    def train_point_count(self) -> int:
        """Points actually drawn on the training curve."""
        x, _y = self._train_curve.getData()
        return 0 if x is None else len(x)

    def validation_point_count(self) -> int:
        x, _y = self._val_curve.getData()
        return 0 if x is None else len(x)

    # --- drawing ----------------------------------------------------------------------------

    def _style_note(self, *_args) -> None:
        self._empty_note.setFont(self._zoom.font(1.2))
        self._empty_note.setColor(self.theme.placeholder_text)  # muted, yet legible on every theme
        # Never squeezed below a readable plot: about ten lines of text high at any zoom.
        self.setMinimumHeight(QFontMetrics(self._zoom.font()).lineSpacing() * 10)

    def _schedule_redraw(self) -> None:
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def train_marker(self) -> str | None:
        """The marker on each training point now (None: the line alone)."""
        return self._train_curve.opts["symbol"]

    def _mark_train_points(self, marked: bool) -> None:
        if marked == (self._train_style.symbol is not None):
            return
        self._train_style.symbol = "o" if marked else None
        self._train_style.symbol_size = TRAIN_MARKER_SIZE
        if marked:
            self._style_line(self._train_style)  # markers at the zoom's size and the theme's colour
        else:
            self._train_curve.setSymbol(None)

    def _redraw(self) -> None:
        self._mark_train_points(len(self._train_steps) < MARKED_TRAIN_POINTS)
        self._train_curve.setData(np.asarray(self._train_steps, float), np.asarray(self._train_losses, float))
        self._val_curve.setData(np.asarray(self._val_steps, float), np.asarray(self._val_losses, float))
        empty = not self._train_steps and not self._val_steps
        self._empty_note.setVisible(empty)
        if empty:
            self.plotItem.enableAutoRange()

