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
        self._apply()

    # --- the level ---------------------------------------------------------------------------

    @property
    def percent(self) -> int:
        return self._percent

    @property
    def scale(self) -> float:
        """1.0 at 100 %; plots multiply line widths and marker sizes by this."""
        return self._percent / 100.0

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
        """The zoomed size of ordinary text, in points."""
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

