"""The model's top guesses for the next token, one row per token: a button and a probability bar.

Clicking a token's button means "take this one": the panel appends it to the prompt and asks again,
so a learner can walk through the model's choices by hand, which is all generation is.

The bars use the theme's colours, as the Data tab's charts do (``gui.widgets.bar_chart``): a track
in the palette's base colour with a border-coloured outline, the blue made legible on it, the
percentage in the palette's text colour after a short bar, and inside a long one in black or white,
whichever stands out more on that blue. They repaint on a theme change.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QWidget

from gui import export, themes
from gui.widgets.bar_chart import bar_color, repaint_on_theme_change, track_brush_and_pen


def text_on(fill: QColor) -> QColor:
    """Black or white, whichever reads better on ``fill``."""
    black, white = QColor("#000000"), QColor("#ffffff")
    return black if themes.contrast_ratio(black, fill) >= themes.contrast_ratio(white, fill) else white


class ProbabilityBar(QWidget):
    """A horizontal bar filled to a probability, with the percentage written beside the fill."""

    def __init__(self, probability: float = 0.0, parent=None):
        super().__init__(parent)
        self._probability = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.set_probability(probability)

    def probability(self) -> float:
        return self._probability

    def set_probability(self, probability: float) -> None:
        self._probability = min(max(float(probability), 0.0), 1.0)
        self.setAccessibleName(f"{self._probability:.1%}")
        self.update()

    def sizeHint(self) -> QSize:
        # Measured from the font, so the bars grow with the zoom like everything else.
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance("0" * 30), int(metrics.height() * 1.4))

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance("100.0 %  ") * 2, int(metrics.height() * 1.4))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        repaint_on_theme_change(self, event)

    def text_color(self) -> QColor:
        """The colour the percentage is written in now (tests check its contrast)."""
        if self._text_inside():
            return text_on(bar_color())
        return self.palette().color(QPalette.ColorRole.Text)

    def _track(self) -> QRectF:
        return QRectF(self.rect()).adjusted(0.5, 2.5, -0.5, -2.5)  # half-pixel in: a crisp 1 px outline

    def _text_inside(self) -> bool:
        """The percentage fits inside the filled part."""
        rect = self._track()
        margin = self.fontMetrics().horizontalAdvance(" ")
        text_width = self.fontMetrics().horizontalAdvance(_percent(self._probability)) + 2 * margin
        return rect.width() * self._probability >= text_width

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self._track()
        radius = rect.height() / 5
        track, outline = track_brush_and_pen(self.palette())
        painter.setPen(outline)
        painter.setBrush(track)
        painter.drawRoundedRect(rect, radius, radius)
        painter.setPen(Qt.PenStyle.NoPen)
        filled = QRectF(rect)
        filled.setWidth(rect.width() * self._probability)
        painter.setBrush(bar_color())
        if filled.width() > 0:
            painter.drawRoundedRect(filled, radius, radius)
        text = _percent(self._probability)
        margin = self.fontMetrics().horizontalAdvance(" ")
        # Inside a long bar, in whichever of black and white stands out on the bar's blue; just after a
        # short one, in the palette's text colour on the track: always readable, in every theme.
        painter.setPen(self.text_color())
        if self._text_inside():
            text_rect = filled.adjusted(0, 0, -margin, 0)
            align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        else:
            text_rect = rect.adjusted(filled.width() + margin, 0, 0, 0)
            align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(text_rect, align, text)
        painter.end()


class NextTokenBars(QWidget):
    """Rows of (token button, probability bar), most likely first."""

    token_chosen = Signal(int)  # the token id whose button was clicked

    def __init__(self, parent=None):
        super().__init__(parent)
        self.export_action = export.add_png_export(self, "next-token-probabilities")  # right-click menu
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setColumnStretch(1, 1)
        self._buttons: list[QPushButton] = []
        self._bars: list[ProbabilityBar] = []
        self._token_ids: list[int] = []
        self._empty = QLabel()
        self._empty.setWordWrap(True)
        self._grid.addWidget(self._empty, 0, 0, 1, 2)
        self.show_empty("Train or open a model, then type a prompt to see what it would write next.")

    # --- reading back -----------------------------------------------------------------------

    def row_count(self) -> int:
        return len(self._buttons)

    def buttons(self) -> list[QPushButton]:
        return list(self._buttons)

    def probabilities(self) -> list[float]:
        return [bar.probability() for bar in self._bars]

    def token_ids(self) -> list[int]:
        return list(self._token_ids)

    # --- showing ----------------------------------------------------------------------------

    def show_empty(self, explanation: str) -> None:
        self._clear_rows()
        self._empty.setText(explanation)
        self._empty.show()

    def set_predictions(self, predictions) -> None:
        """``predictions``: (token_id, visible label, probability) tuples, most likely first."""
        self._clear_rows()
        self._empty.hide()
        for row, (token_id, label, probability) in enumerate(predictions, start=1):
            button = QPushButton(label if label else "(nothing)")
            button.setAutoDefault(False)
            button.setToolTip(f"Token {token_id}: {_percent(probability)} likely. Click to add it to the prompt.")
            button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _checked=False, tid=int(token_id): self.token_chosen.emit(tid))
            bar = ProbabilityBar(probability)
            self._grid.addWidget(button, row, 0)
            self._grid.addWidget(bar, row, 1)
            self._buttons.append(button)
            self._bars.append(bar)
            self._token_ids.append(int(token_id))

    def _clear_rows(self) -> None:
        for widget in (*self._buttons, *self._bars):
            self._grid.removeWidget(widget)
            widget.deleteLater()
        self._buttons, self._bars, self._token_ids = [], [], []


def _percent(probability: float) -> str:
    return f"{probability * 100:.1f} %"
