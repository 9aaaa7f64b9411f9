"""One zoom level for the whole app, as in Mu: Ctrl+Plus, Ctrl+Minus, Ctrl+0, remembered.

A teacher on a projector needs every piece of text bigger at once: labels, buttons, spin boxes,
plot axes, legends and line widths. Doing it widget by widget would leave whatever a later tab adds
at the wrong size, so it is done centrally:

- ``QApplication.setFont`` scales every widget that uses the default font, and layouts that size
  themselves from font metrics follow, so ordinary widgets need no code at all;
- widgets with a font of their own (monospace text) call ``follow_zoom`` once;
- pyqtgraph draws on a canvas that ignores the application font, so plots subscribe to
  ``zoom_changed`` (``gui.widgets.zoomed_plot.ZoomedPlotWidget`` does this for every plot).

The level is stored in settings and applied again when the window is created.

Presentation mode (``gui.presentation``) makes text bigger still and plot lines thicker, on top of
whatever zoom the teacher chose. It does so here, as two extra factors, and announces the change as
a zoom change: everything that already follows the zoom follows presentation mode with no code of
its own, and leaving it gives back exactly the sizes from before.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication, QWidget

from gui import settings

# Steps a user can reach with the keyboard; browsers use nearly the same ladder.
ZOOM_LEVELS = (50, 67, 75, 80, 90, 100, 110, 125, 150, 175, 200, 250, 300)
DEFAULT_PERCENT = 100
MIN_PERCENT, MAX_PERCENT = ZOOM_LEVELS[0], ZOOM_LEVELS[-1]
# Presentation mode, on top of the zoom: a quarter bigger text reads from the back of a classroom
# without pushing a 1280x800 projector's layouts into scrolling; lines need far more than text,
# since a 2 px curve on a washed-out projector is barely there.
PRESENTATION_TEXT_FACTOR = 1.25
PRESENTATION_LINE_FACTOR = 1.75
NORMAL_AXIS_TITLE_RELATIVE = 1.1  # an axis title a little bigger than its ticks, as in a printed figure
PRESENTATION_AXIS_TITLE_RELATIVE = 1.3


def _base_point_size() -> float:
    """The platform's normal font size, independent of any zoom applied to the app earlier.

    ``QApplication.font()`` cannot be used: after one zoom it already holds the zoomed size.
    """
    size = QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont).pointSizeF()
    return size if size > 0 else 10.0


class ZoomController(QObject):
    """Owns the zoom percentage; applies it to the application font and announces changes."""

    zoom_changed = Signal(int)  # the new percentage

    def __init__(self, parent: QObject | None = None, *, remember: bool = True):
        super().__init__(parent)
        self._remember = remember  # False for screenshots: do not overwrite the user's choice
        self._base_point_size = _base_point_size()
        stored = settings.read_int(settings.ZOOM_PERCENT, DEFAULT_PERCENT)
        self._percent = _clamp(stored)
        self._presenting = False  # presentation mode's extra factors are on
        self._apply()

    # --- the level ---------------------------------------------------------------------------

    @property
    def percent(self) -> int:
        return self._percent

    @property
    def scale(self) -> float:
        """1.0 at 100 % (outside presentation mode); sizes that go with text multiply by this."""
        return self._percent / 100.0 * (PRESENTATION_TEXT_FACTOR if self._presenting else 1.0)

    @property
    def line_scale(self) -> float:
        """What plot line widths and marker sizes multiply by: thicker still in presentation mode."""
        return self.scale * (PRESENTATION_LINE_FACTOR if self._presenting else 1.0)

    @property
    def axis_title_relative(self) -> float:
        """An axis title's size relative to ordinary text: bigger in presentation mode."""
        return PRESENTATION_AXIS_TITLE_RELATIVE if self._presenting else NORMAL_AXIS_TITLE_RELATIVE

    @property
    def presenting(self) -> bool:
        return self._presenting

    def set_presenting(self, presenting: bool) -> None:
        """Presentation mode's bigger text and thicker lines on or off; never stored in settings."""
        presenting = bool(presenting)
        if presenting == self._presenting:
            return
        self._presenting = presenting
        self._apply()
        # The percentage is unchanged, but every size derived from it changed: announce it the same
        # way, so that fonts, plots and layouts refresh through the one path they already follow.
        self.zoom_changed.emit(self._percent)

    def set_percent(self, percent: int) -> None:
        percent = _clamp(percent)
        if percent == self._percent:
            return
        self._percent = percent
        self._apply()
        if self._remember:
            settings.write(settings.ZOOM_PERCENT, percent)
        self.zoom_changed.emit(percent)

    def zoom_in(self) -> None:
        self.set_percent(next((p for p in ZOOM_LEVELS if p > self._percent), MAX_PERCENT))

    def zoom_out(self) -> None:
        self.set_percent(next((p for p in reversed(ZOOM_LEVELS) if p < self._percent), MIN_PERCENT))

    def reset(self) -> None:
        self.set_percent(DEFAULT_PERCENT)

    # --- fonts for those who need their own -------------------------------------------------

    @property
    def point_size(self) -> float:
        """The zoomed size of ordinary text, in points (bigger in presentation mode)."""
        return self._base_point_size * self.scale

    def font(self, relative: float = 1.0) -> QFont:
        """The application font at the current zoom, optionally bigger or smaller (``relative``)."""
        font = QFont(QApplication.font())
        font.setPointSizeF(self.point_size * relative)
        return font

    def monospace_font(self, relative: float = 1.0) -> QFont:
        """A fixed-width font at the current zoom: samples and tokens line up as the model sees them."""
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(self.point_size * relative)
        return font

    def follow_zoom(self, widget: QWidget, make_font: Callable[[], QFont]) -> None:
        """Give ``widget`` the font ``make_font()`` returns, now and after every zoom change."""
        widget.setFont(make_font())

        def refresh(_percent: int) -> None:
            if shiboken6.isValid(widget):  # the widget may be gone before this controller is
                widget.setFont(make_font())

        self.zoom_changed.connect(refresh)

    # --- internals --------------------------------------------------------------------------

    def _apply(self) -> None:
        app = QApplication.instance()
        if app is None:
            return
        font = QFont(app.font())
        font.setPointSizeF(self.point_size)
        # Propagates to every widget without a font of its own, including ones created later.
        app.setFont(font)


def _clamp(percent) -> int:
    try:
        percent = int(percent)
    except (TypeError, ValueError):
        return DEFAULT_PERCENT
    return max(MIN_PERCENT, min(MAX_PERCENT, percent))

