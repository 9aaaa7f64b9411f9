"""Every greyed-out control on every tab says why it is grey and what to do: on hover and in the tab's message line."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPushButton,
    QScrollBar,
    QTabBar,
    QWidget,
)

from gui.availability import why_unavailable
from gui.presentation import _is_internal_part, plain_words
from tests.gui.conftest import set_tiny_settings

CONTROLS = (QAbstractButton, QAbstractSpinBox, QComboBox, QAbstractSlider, QLineEdit)


def grey_controls(root: QWidget) -> list[QWidget]:
    return [w for w in root.findChildren(QWidget)
            if isinstance(w, CONTROLS) and not isinstance(w, QScrollBar) and not _is_internal_part(w)
            and not isinstance(w.parentWidget(), QTabBar) and not w.isEnabled()]


def grey_controls_without_reason(root: QWidget) -> list[str]:
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or isinstance(widget, QScrollBar) or _is_internal_part(widget):
            continue
        if isinstance(widget.parentWidget(), QTabBar) or widget.isEnabled():
            continue
        # A control greyed out with its whole panel: the panel's reason is the control's.
        holder = widget
        while holder.parentWidget() is not None and holder.isEnabledTo(holder.parentWidget()):
            holder = holder.parentWidget()
        reason = why_unavailable(widget) or why_unavailable(holder)
        if not reason or not widget.toolTip().strip():
            name = plain_words(widget.text()) if isinstance(widget, QAbstractButton) else widget.accessibleName()
            missing.append(f"{type(widget).__name__} “{name or widget.objectName()}”")
    return missing


def _walk_every_tab(window) -> dict[str, list[str]]:
    found = {}
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        found[window.tabs.tabText(index)] = grey_controls_without_reason(window.tabs.widget(index))
    return {tab: names for tab, names in found.items() if names}


def test_every_grey_control_on_every_tab_gives_a_reason_at_start(window):
    assert _walk_every_tab(window) == {}
    # The walk sees the grey controls: Save model…, Pause, Stop, Undo … (a walk that saw none could not fail).
    assert len(grey_controls(window.tabs)) >= 15


def test_the_walk_reports_a_grey_control_that_gives_no_reason(window):
    stray = QPushButton("Mystery", window.evaluation_tab)
    stray.setEnabled(False)
    assert any("Mystery" in name for name in _walk_every_tab(window).get("Evaluation", []))


def test_every_grey_control_gives_a_reason_while_a_run_trains(window, qtbot, tiny_configs):
    tab = window.pretraining_tab
    set_tiny_settings(tab, tiny_configs, total_steps=100_000)  # far more than the test waits for
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.controller.is_running, timeout=30_000)
    try:
        assert _walk_every_tab(window) == {}
        assert "press Stop" in tab.save_button.toolTip()
    finally:
        qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not tab.controller.is_running, timeout=180_000)
    assert _walk_every_tab(window) == {}


def test_the_buttons_the_newcomer_found_grey_explain_themselves(window):
    pre, ins, pref = window.pretraining_tab, window.instruction_tab, window.preference_tab
    assert "Nothing to save yet" in pre.save_button.toolTip()
    assert "press Start" in pre.pause_button.toolTip()
    assert "no model to continue" in pre.continue_button.toolTip()
    for tab in (ins, pref):
        assert not tab.save_button.isEnabled() and "Nothing to save yet" in tab.save_button.toolTip()


def test_clicking_a_grey_button_says_why_in_the_tabs_message_line(window, qtbot):
    tab = window.pretraining_tab
    window.tabs.setCurrentWidget(tab)
    assert not tab.save_button.isEnabled()
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    assert "Save model" in tab.message_bar.text() and "Nothing to save yet" in tab.message_bar.text()
