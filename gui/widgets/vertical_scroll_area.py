"""A scroll area for a settings column: scrolls vertically only, never clips its contents' width."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QScrollArea


class VerticalScrollArea(QScrollArea):
    """A scroll area that scrolls only vertically and is never narrower than its contents need.

    QScrollArea's own minimum ignores its widget, so a splitter could squeeze the settings until
    they were cut off at the right edge (which happened at 200 % zoom).
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def setWidget(self, widget) -> None:
        super().setWidget(widget)
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        # Contents that grow after layout (choosing BPE shows a size box) must widen the column too:
        # tell the splitter, or the new width is clipped (37 px at 200 % zoom on Pretraining).
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        if self.widget() is not None:
            needed = (self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
                      + 2 * self.frameWidth())
            hint.setWidth(max(hint.width(), needed))
        return hint
