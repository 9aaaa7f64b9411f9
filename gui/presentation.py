"""Presentation mode for the classroom, and the keyboard and screen-reader care every control needs.

Presentation mode (F11) is what a teacher switches on in front of a projector: the window goes full
screen, text grows on top of the chosen zoom, plot lines get thick and axis titles big (both through
``ZoomController.set_presenting``, so every widget that follows the zoom follows this too), the status
bar goes, and the panels marked *advanced* are hidden, so the class sees what the lesson is about.
F11 or Esc leaves it and gives back the window exactly as it was.

"Advanced" is a property on a widget (``mark_advanced``), not a list kept here: a tab marks its own
expert-only panels, and presentation mode finds every marked widget in the window when it starts,
including ones created after the window was built.

The helpers below the class are applied by the main window to the whole widget tree:

- ``name_unnamed_controls`` gives each control without an accessible name the words a sighted user
  reads for it (a button's text, a form row's label), so a screen reader says more than "button";
- ``describe_shortcuts`` makes every action's tooltip name its keyboard shortcut, so the mouse user
  learns the keyboard way on the way.
"""

from __future__ import annotations

import re

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAccessible, QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QScrollBar,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from gui.zoom import ZoomController

ADVANCED_PROPERTY = "advanced"  # a widget with this property True is hidden in presentation mode
_OWN_WORDS = "_tooltip_words"  # an action's property: the words its tooltip had before its shortcut was added
_DECORATION = re.compile(r"[▸▾…&]")  # arrows, ellipses and mnemonic marks are not words


def mark_advanced(widget: QWidget, advanced: bool = True) -> None:
    """Say that ``widget`` is for experts: presentation mode hides it."""
    widget.setProperty(ADVANCED_PROPERTY, advanced)


def is_advanced(widget: QWidget) -> bool:
    return bool(widget.property(ADVANCED_PROPERTY))


class PresentationMode(QObject):
    """Full screen, big type, thick lines, no advanced panels: on with ``enter``, off with ``leave``."""

    toggled = Signal(bool)  # True on entering

    def __init__(self, window: QMainWindow, zoom: ZoomController):
        super().__init__(window)
        self._window = window
        self._zoom = zoom
        self._active = False
        self._state_before = Qt.WindowState.WindowNoState  # maximised or not, to go back to
        self._status_bar_was_hidden = False
        self._hidden: list[QWidget] = []  # the advanced widgets this mode hid, to show again

    @property
    def active(self) -> bool:
        return self._active

    def set_active(self, active: bool) -> None:
        if active:
            self.enter()
        else:
            self.leave()

    def toggle(self) -> None:
        self.set_active(not self._active)

    def enter(self) -> None:
        if self._active:
            return
        self._active = True
        window = self._window
        self._state_before = window.windowState() & ~Qt.WindowState.WindowFullScreen
        # Hidden before the fonts grow, so the layouts are computed once, for what will show.
        self._hidden = [w for w in window.findChildren(QWidget) if is_advanced(w) and not w.isHidden()]
        for widget in self._hidden:
            widget.hide()
        self._status_bar_was_hidden = window.statusBar().isHidden()
        window.statusBar().hide()
        self._zoom.set_presenting(True)
        window.setWindowState(self._state_before | Qt.WindowState.WindowFullScreen)
        self.toggled.emit(True)

    def leave(self) -> None:
        if not self._active:
            return
        self._active = False
        window = self._window
        window.setWindowState(self._state_before)
        self._zoom.set_presenting(False)
        window.statusBar().setHidden(self._status_bar_was_hidden)
        for widget in self._hidden:
            if shiboken6.isValid(widget):  # a tab may have replaced it meanwhile
                widget.show()
        self._hidden = []
        self.toggled.emit(False)

    def hidden_widgets(self) -> list[QWidget]:
        """The advanced widgets hidden now (empty outside presentation mode)."""
        return [w for w in self._hidden if shiboken6.isValid(w)]


# --- accessible names ---------------------------------------------------------------------------

_NAMED_BY_LABEL = (QAbstractSpinBox, QComboBox, QLineEdit, QAbstractSlider, QPlainTextEdit, QTextEdit)


def plain_words(text: str) -> str:
    """A control's visible text without arrows, ellipses, mnemonic marks or surrounding spaces."""
    return " ".join(_DECORATION.sub("", text.replace("&&", "and")).split())


def name_unnamed_controls(root: QWidget) -> int:
    """Give every control under ``root`` that has no accessible name the words shown for it.

    Buttons are named by their text; fields by their label: the label of their form row, the label
    just left of them in a grid, or the QLabel whose buddy they are. A control named already is left
    alone. A label found this way also becomes the field's buddy, so its mnemonic focuses the field.
    Returns how many were named (a second pass over the same widgets names none).
    """
    named = 0
    for button in root.findChildren(QAbstractButton):
        if not button.accessibleName() and plain_words(button.text()):
            button.setAccessibleName(plain_words(button.text()))
            named += 1
    pairs: list[tuple[QLabel, QWidget]] = []
    for form in root.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            pairs.append((_widget_at(form.itemAt(row, QFormLayout.ItemRole.LabelRole)),
                          _widget_at(form.itemAt(row, QFormLayout.ItemRole.FieldRole))))
    for grid in root.findChildren(QGridLayout):
        for index in range(grid.count()):
            row, column, _rows, _columns = grid.getItemPosition(index)
            if column > 0:
                pairs.append((_widget_at(grid.itemAtPosition(row, column - 1)), _widget_at(grid.itemAt(index))))
    pairs.extend((label, label.buddy()) for label in root.findChildren(QLabel))
    # A table alone on a page of a tab widget is named by the page's title ("Votes", "Before and after").
    for tab_widget in root.findChildren(QTabWidget):
        for index in range(tab_widget.count()):
            views = [v for v in tab_widget.widget(index).findChildren(QAbstractItemView) if not _is_internal_part(v)]
            if len(views) == 1 and not views[0].accessibleName() and plain_words(tab_widget.tabText(index)):
                views[0].setAccessibleName(plain_words(tab_widget.tabText(index)))
                named += 1
    for label, field in pairs:
        if isinstance(label, QLabel) and isinstance(field, _NAMED_BY_LABEL) and not field.accessibleName():
            words = plain_words(label.text()).rstrip(":")
            if words:
                field.setAccessibleName(words)
                if label.buddy() is None:
                    label.setBuddy(field)
                named += 1
    return named


def _widget_at(item) -> QWidget | None:
    return item.widget() if item is not None else None


def unnamed_controls(root: QWidget) -> list[QWidget]:
    """Visible-to-the-keyboard controls under ``root`` that a screen reader has no name for.

    Asks Qt's accessibility layer, which is what screen readers hear: it falls back on a button's
    text and a buddy label's text where no accessible name was set.
    """
    interactive = (QAbstractButton, QAbstractItemView, *_NAMED_BY_LABEL)
    found = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, interactive) or isinstance(widget, QScrollBar) or _is_internal_part(widget):
            continue
        interface = QAccessible.queryAccessibleInterface(widget)
        if interface is None or not interface.text(QAccessible.Text.Name).strip():
            found.append(widget)
    return found


def _is_internal_part(widget: QWidget) -> bool:
    # Parts of a control that carries the name: the line edit inside a spin box or combo box, a combo
    # box's pop-up list, a table's headers, and what Qt names "qt_…" (a tab bar's scroll buttons).
    if widget.objectName().startswith("qt_") or isinstance(widget, QHeaderView):
        return True
    parent = widget.parentWidget()
    if isinstance(widget, QLineEdit) and isinstance(parent, (QAbstractSpinBox, QComboBox)):
        return True
    return isinstance(widget, QAbstractItemView) and parent is not None and isinstance(parent.parentWidget(), QComboBox)


# --- shortcuts in tooltips ----------------------------------------------------------------------


def shortcut_text(action: QAction) -> str:
    """The action's shortcuts as the user's platform writes them, e.g. "Ctrl++, Ctrl+="."""
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts() if not s.isEmpty())


def tooltip_with_shortcut(action: QAction) -> str:
    """The action's own words followed by its shortcut, e.g. "Zoom in (Ctrl++)".

    The words are the tooltip the action was given before ``describe_shortcuts`` saw it, or else its
    current text (which for an undo action changes after every edit).
    """
    keys = shortcut_text(action)
    words = action.property(_OWN_WORDS) or plain_words(action.text())
    return f"{words} ({keys})" if keys else words


def describe_shortcuts(actions) -> None:
    """Make each action's tooltip name its shortcut, and keep it so when its text or keys change."""
    for action in actions:
        if action.isSeparator() or action.menu() is not None or action.property(_OWN_WORDS) is not None:
            continue
        # Qt's default tooltip is the text; only a tooltip someone wrote is kept as the words.
        own = plain_words(action.toolTip())
        action.setProperty(_OWN_WORDS, own if own != plain_words(action.text()) else "")
        _describe(action)
        action.changed.connect(lambda a=action: _describe(a))


def _describe(action: QAction) -> None:
    if not shiboken6.isValid(action):
        return
    wanted = tooltip_with_shortcut(action)
    if action.toolTip() != wanted:  # setToolTip emits changed again; this stops once it is right
        action.setToolTip(wanted)
