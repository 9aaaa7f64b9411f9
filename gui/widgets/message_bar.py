"""Orange-style message bar: one plain sentence about what just happened, dismissable.

Every problem the user can cause (a binary file, a width that does not split among the heads, a
damaged model file) ends up here as the engine's own plain message, never as a traceback. A message
can carry buttons that offer the fix, e.g. "Read as latin-1" for a file in an older encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton

INFO, WARNING, ERROR = "info", "warning", "error"

# Pale fills with dark text read well on projectors and in both light and dark desktop themes.
_LOOK = {
    INFO: ("ℹ", "#e7f0fd", "#3b6fb6"),
    WARNING: ("⚠", "#fff5cc", "#b08800"),
    ERROR: ("✖", "#fde8e8", "#c0392b"),
}


class MessageBar(QFrame):
    """A coloured strip with an icon, a sentence, optional action buttons and a close button."""

    dismissed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._level: str | None = None

        self._icon = QLabel()
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextFormat(Qt.TextFormat.PlainText)  # file names may contain '<'
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._close = QToolButton()
        self._close.setText("✕")
        self._close.setAutoRaise(True)
        self._close.setToolTip("Dismiss this message")
        self._close.setAccessibleName("Dismiss message")
        self._close.clicked.connect(self.dismiss)

        self._layout = QHBoxLayout(self)
        self._layout.addWidget(self._icon)
        self._layout.addWidget(self._text, 1)
        self._actions_start = self._layout.count()
        self._layout.addWidget(self._close, 0, Qt.AlignmentFlag.AlignTop)
        self._action_buttons: list[QPushButton] = []
        self.hide()

    # --- reading it (tests and accessibility) ------------------------------------------------

    def text(self) -> str:
        return self._text.text() if not self.isHidden() else ""

    def level(self) -> str | None:
        return self._level if not self.isHidden() else None

    def action_labels(self) -> list[str]:
        return [b.text() for b in self._action_buttons]

    def action_button(self, label: str) -> QPushButton:
        return next(b for b in self._action_buttons if b.text() == label)

    # --- showing ----------------------------------------------------------------------------

    def show_message(
        self, text: str, level: str = INFO, actions: Sequence[tuple[str, Callable[[], None]]] = ()
    ) -> None:
        """Replace whatever was shown with ``text``; each action is (button label, what it does)."""
        icon, fill, edge = _LOOK.get(level, _LOOK[INFO])
        self._level = level
        self._icon.setText(icon)
        self._text.setText(text)
        self.setStyleSheet(
            f"#messageBar {{ background: {fill}; border: 2px solid {edge}; border-radius: 4px; }}"
            f"#messageBar QLabel {{ color: #1b1b1b; background: transparent; }}"
        )
        self._set_actions(actions)
        self.setAccessibleDescription(f"{level}: {text}")
        self.show()

    def info(self, text: str, actions=()) -> None:
        self.show_message(text, INFO, actions)

    def warning(self, text: str, actions=()) -> None:
        self.show_message(text, WARNING, actions)

    def error(self, text: str, actions=()) -> None:
        self.show_message(text, ERROR, actions)

    def dismiss(self) -> None:
        self._level = None
        self._set_actions(())
        self.hide()
        self.dismissed.emit()

    def _set_actions(self, actions) -> None:
        for button in self._action_buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self._action_buttons = []
        for offset, (label, callback) in enumerate(actions):
            button = QPushButton(label)
            button.setAutoDefault(False)
            # The action replaces this message with its own outcome, so it does not dismiss first.
            button.clicked.connect(lambda _checked=False, cb=callback: cb())
            self._layout.insertWidget(self._actions_start + offset, button, 0, Qt.AlignmentFlag.AlignTop)
            self._action_buttons.append(button)
