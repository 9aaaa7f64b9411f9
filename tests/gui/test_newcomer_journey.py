"""A newcomer's whole journey, Data → Pretraining → Instruction tuning → Preference tuning → Evaluation,
driven only by what a person sees: tab titles, button texts, field names, status lines, chart rows.

At every stage it checks what issue 15 asked of every screen: each grey control says why it is grey;
no sample or answer shows the replacement character '�'; a chart's sentence agrees with its bars; a
finished run or lesson says that it finished.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QTabWidget,
    QTableWidget,
    QTextEdit,
    QWidget,
)

from gui.presentation import plain_words
from tests.gui.conftest import RUN_TIMEOUT_MS
from tests.gui.test_disabled_controls import grey_controls_without_reason

REPLACEMENT = "\ufffd"


# --- finding things as a person does: by the words on screen ---------------------------------------

def go_to_tab(window, title: str) -> QWidget:
    tabs = window.tabs
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == title)
    tabs.setCurrentIndex(index)
    return tabs.widget(index)


def go_to_page(root: QWidget, title: str) -> None:
    for tab_widget in root.findChildren(QTabWidget):
        for i in range(tab_widget.count()):
            if plain_words(tab_widget.tabText(i)) == title:
                tab_widget.setCurrentIndex(i)
                return
    raise AssertionError(f"no page called {title!r}")


def button(root: QWidget, text: str) -> QAbstractButton:
    found = [b for b in root.findChildren(QAbstractButton) if plain_words(b.text()) == text and b.isVisible()]
    assert found, f"no visible button {text!r}"
    return found[0]


def field(root: QWidget, name: str):
    found = [w for w in root.findChildren(QWidget)
             if isinstance(w, (QAbstractSpinBox, QComboBox)) and w.accessibleName() == name and w.isVisible()]
    assert found, f"no visible field {name!r}"
    return found[0]


def label_texts(root: QWidget) -> list[str]:
    return [label.text() for label in root.findChildren(QLabel) if label.isVisible()]


def all_visible_text(root: QWidget) -> str:
    parts = label_texts(root)
    for edit in root.findChildren(QPlainTextEdit) + root.findChildren(QTextEdit):
        parts.append(edit.toPlainText())
    for table in root.findChildren(QTableWidget):
        for r in range(table.rowCount()):
            for c in range(table.columnCount()):
                item = table.item(r, c)
                parts.append(item.text() if item is not None else "")
    return "\n".join(parts)


def click(qtbot, widget: QAbstractButton) -> None:
    assert widget.isEnabled(), f"“{plain_words(widget.text())}” is grey: {widget.toolTip()}"
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def status_line(root: QWidget) -> str:
    return field_by_name(root, "Status").text()


def field_by_name(root: QWidget, name: str) -> QLabel:
    found = [w for w in root.findChildren(QLabel) if w.accessibleName() == name and w.isVisible()]
    assert found, f"no visible line {name!r}"
    return found[0]


def check_the_screen(window, where: str) -> None:
    """What every screen owes a newcomer: reasons for grey controls and no broken letters."""
    tab = window.tabs.currentWidget()
    assert grey_controls_without_reason(tab) == [], where
    assert REPLACEMENT not in all_visible_text(tab), where


# --- the journey ------------------------------------------------------------------------------------

def test_a_newcomer_goes_through_every_stage_by_what_is_on_screen(window, qtbot):
    # Data: the bundled world is loaded; its coverage chart's sentence names the topic with the smallest bar.
    data = go_to_tab(window, "Data")
    qtbot.waitUntil(lambda: any("Coverage" in t for t in label_texts(data)), timeout=60_000)
    check_the_screen(window, "Data")
    coverage = next(c for c in data.findChildren(QWidget)
                    if hasattr(c, "rows") and any(t.startswith("Coverage") for t in label_texts(c)))
    rows = coverage.rows()
    assert len(rows) >= 3
    smallest = min(rows, key=lambda r: r.value)
    sentence = " ".join(t for t in label_texts(coverage) if len(t) > 40)
    assert smallest.label.split(" (")[0].lower() in sentence.lower(), (smallest, sentence)

    # Pretraining: the smallest size, a few steps, Start.
    pre = go_to_tab(window, "Pretraining")
    check_the_screen(window, "Pretraining before a run")
    size = field(pre, "Model size")
    size.setCurrentIndex(next(i for i in range(size.count()) if size.itemText(i).startswith("Tiny")))
    click(qtbot, button(pre, "Advanced"))  # the number of steps is among the advanced settings
    field(pre, "Steps").setValue(20)
    assert size.currentText().startswith("Tiny")  # typing the steps keeps the chosen size
    click(qtbot, button(pre, "Start"))
    qtbot.waitUntil(lambda: status_line(pre).startswith("Finished"), timeout=RUN_TIMEOUT_MS)
    assert status_line(pre) == "Finished: 20 steps."
    assert "Time left" not in all_visible_text(pre)
    go_to_page(pre, "What the model writes now")
    assert "Step 20" in all_visible_text(pre)
    check_the_screen(window, "Pretraining after the run")

    # Instruction tuning starts from the model just trained.
    ins = go_to_tab(window, "Instruction tuning")
    check_the_screen(window, "Instruction tuning before a run")
    field(ins, "Steps").setValue(3)
    click(qtbot, button(ins, "Start"))
    qtbot.waitUntil(lambda: status_line(ins) == "Finished.", timeout=RUN_TIMEOUT_MS)
    check_the_screen(window, "Instruction tuning after the run")

    # Preference tuning starts from the instruction-tuned model, on the bundled votes.
    pref = go_to_tab(window, "Preference tuning")
    check_the_screen(window, "Preference tuning before a run")
    field(pref, "Steps").setValue(2)
    click(qtbot, button(pref, "Start"))
    qtbot.waitUntil(lambda: status_line(pref) != "" and not button(pref, "Stop").isEnabled()
                    and button(pref, "Start").isEnabled(), timeout=RUN_TIMEOUT_MS)
    assert status_line(pref).startswith(("Finished", "Stopped at step")), status_line(pref)
    check_the_screen(window, "Preference tuning after the run")

    # Evaluation: a lesson on the preference-tuned model says it finished and what it found.
    ev = go_to_tab(window, "Evaluation")
    go_to_page(ev, "Lessons")
    lessons = next(w for w in ev.findChildren(QListWidget) if w.isVisible() and w.count() >= 5)
    lessons.setCurrentRow(next(i for i in range(lessons.count()) if "hallucinates" in lessons.item(i).text()))
    click(qtbot, button(ev, "Run lesson"))
    qtbot.waitUntil(lambda: button(ev, "Run lesson").isEnabled()
                    and any(t.startswith("Finished in") for t in label_texts(ev)), timeout=RUN_TIMEOUT_MS)
    check_the_screen(window, "Evaluation after a lesson")
