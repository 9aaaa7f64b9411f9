"""A section that folds away behind a "▸ Title" button, for settings most users never need.

superqt's QCollapsible animates a fixed-size pixmap arrow and caps its content's height, which goes
wrong when the zoom changes the content's size; a text arrow and a plain show/hide follow the zoom
for free.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QPushButton, QSizePolicy, QVBoxLayout, QWidget


class CollapsibleSection(QWidget):
    toggled = Signal(bool)  # True when opened

    def __init__(self, title: str, content: QWidget, parent=None, *, expanded: bool = False):
        super().__init__(parent)
        self._title = title
        self.button = QPushButton()
        self.button.setCheckable(True)
        self.button.setFlat(True)
        self.button.setAutoDefault(False)
        self.button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # No font-size here: the zoom sets it through the application font.
        self.button.setStyleSheet("QPushButton { text-align: left; font-weight: bold; padding: 4px 2px; }")
        self.button.toggled.connect(self._on_toggled)
        self.content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(content)
        self.button.setChecked(expanded)
        self._on_toggled(expanded)

    def is_expanded(self) -> bool:
        return self.button.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        self.button.setChecked(expanded)

    def _on_toggled(self, expanded: bool) -> None:
        self.button.setText(f"{'▾' if expanded else '▸'}  {self._title}")
        self.content.setVisible(expanded)
        self.toggled.emit(expanded)
