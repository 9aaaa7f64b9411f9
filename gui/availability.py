"""Every greyed-out control says why it is grey and what to do.

Tabs enable and disable their controls with ``set_available(widget, reason)``: ``None`` enables the
control; a sentence disables it, becomes its tooltip ("Train a model first: press Start.") and is kept
as the widget's ``why_unavailable`` property. The control's own tooltip comes back when it is enabled
again. ``explain_click_on_grey``, called by the main window's one application event filter, answers a click
on a grey control: Qt gives such a click to nobody, so without it nothing at all would happen; with it
the tab's message line says which control is grey and why, and the tooltip shows at the pointer.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QToolTip, QWidget

WHY = "why_unavailable"  # widget property: the reason shown while disabled ("" when enabled)
_OWN_TIP = "own_tooltip"  # widget property: the tooltip the control has while enabled


def set_available(widget: QWidget, reason: str | None) -> None:
    """Enable ``widget`` when ``reason`` is None, else disable it and say ``reason`` on hover and click."""
    if widget.property(_OWN_TIP) is None:
        widget.setProperty(_OWN_TIP, widget.toolTip())
    own = widget.property(_OWN_TIP) or ""
    if reason is None:
        widget.setEnabled(True)
        widget.setProperty(WHY, "")
        widget.setToolTip(own)
        return
    widget.setEnabled(False)
    widget.setProperty(WHY, reason)
    widget.setToolTip(f"{reason}\n\n{own}" if own and own != reason else reason)


def set_own_tooltip(widget: QWidget, tip: str) -> None:
    """Change the tooltip a control shows while enabled (a disabled one keeps showing its reason first)."""
    widget.setProperty(_OWN_TIP, tip)
    reason = widget.property(WHY) or ""
    widget.setToolTip(f"{reason}\n\n{tip}" if reason and tip else (reason or tip))


def why_unavailable(widget: QWidget) -> str:
    """The reason a grey control gives ("" for an enabled one, or one nobody explained)."""
    if widget.isEnabled():
        return ""
    return str(widget.property(WHY) or "")


def control_name(widget: QWidget) -> str:
    """What a person reads on the control, for a message about it."""
    for text in (widget.accessibleName(),
                 widget.text() if isinstance(widget, (QAbstractButton, QLabel)) else "",
                 widget.title() if isinstance(widget, QGroupBox) else ""):
        words = " ".join(str(text).replace("&", "").split())
        if words:
            return words
    return "This control"


def explain_click_on_grey(watched: QWidget, event) -> None:
    """A click on a grey control (Qt gives it to nobody): say in the tab's message line why it is grey,
    and show the reason at the pointer. Called by the window's one event filter."""
    reason = why_unavailable(watched)
    if not reason:
        return
    QToolTip.showText(event.globalPosition().toPoint(), watched.toolTip(), watched)
    bar = _message_bar_of(watched)
    if bar is not None:
        bar.info(f"“{control_name(watched)}” is not available now: {reason}")


def _message_bar_of(widget: QWidget):
    """The message line of the tab (or panel) that holds ``widget``: the nearest ``message_bar``."""
    parent = widget
    while parent is not None:
        bar = getattr(parent, "message_bar", None)
        if bar is not None and hasattr(bar, "info"):
            return bar
        parent = parent.parentWidget()
    return None


def first_reason(*checks: tuple[bool, str]) -> str | None:
    """The sentence of the first check whose condition holds, or None: ``first_reason((running, "Stop first."), …)``."""
    for holds, reason in checks:
        if holds:
            return reason
    return None


def bind_undo_buttons(stack, undo_button: QWidget, redo_button: QWidget) -> None:
    """Undo and Redo buttons that follow a QUndoStack: named after the edit they would undo, grey with a reason."""
    def update(*_args) -> None:
        if not all(shiboken6.isValid(o) for o in (stack, undo_button, redo_button)):
            return  # the stack empties itself as it is destroyed, after the buttons may be gone
        set_own_tooltip(undo_button, f"Undo: {stack.undoText()}" if stack.canUndo() else "")
        set_own_tooltip(redo_button, f"Redo: {stack.redoText()}" if stack.canRedo() else "")
        set_available(undo_button, None if stack.canUndo() else "Nothing to undo yet: no edit has been made here.")
        set_available(redo_button, None if stack.canRedo() else "Nothing to redo: redo brings back an edit you undid.")

    for signal in (stack.canUndoChanged, stack.canRedoChanged, stack.undoTextChanged, stack.redoTextChanged):
        signal.connect(update)
    update()
