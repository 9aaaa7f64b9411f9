"""The glossary: Help → Glossary lists every term, and a control that shows a term explains it on hover."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QTextBrowser, QToolTip

from gui.glossary import TERMS, GlossaryDialog, terms_in

# The words issue 15 found unexplained in the app.
NEWCOMER_WORDS = ["DPO", "LoRA", "BPE", "JSONL", "safetensors", "held-out", "fingerprint", "the format"]


def _hover(widget) -> str:
    """Ask ``widget`` for its tooltip as the mouse resting on it does; the tooltip text shown ("" for none)."""
    centre = widget.rect().center()
    QToolTip.showText(widget.mapToGlobal(centre), "(no tooltip)", widget)  # a marker the hover must replace
    event = QHelpEvent(QEvent.Type.ToolTip, centre, widget.mapToGlobal(centre))
    QApplication.sendEvent(widget, event)
    shown = QToolTip.text()
    return "" if shown == "(no tooltip)" else shown


def test_every_word_a_newcomer_stumbled_on_has_an_entry():
    for word in NEWCOMER_WORDS:
        assert terms_in(f"a sentence with {word} in it"), word


def test_terms_are_found_as_words_not_inside_other_words():
    assert not terms_in("undo")  # no "DPO" in "undo", no "loss" in "glossary"
    assert not terms_in("glossary steppe")
    assert [t.name for t in terms_in("the <b>LoRA</b> adapters")] == ["LoRA"]


def test_help_glossary_opens_the_list_and_its_search_filters_it(window, qtbot):
    menu_texts = [a.text().replace("&", "") for a in window.menuBar().actions()]
    help_menu = window.menuBar().actions()[menu_texts.index("Help")].menu()
    action = next(a for a in help_menu.actions() if a.text().replace("&", "") == "Glossary…")
    action.trigger()
    dialog = window.findChild(GlossaryDialog)
    assert dialog is not None and dialog.isVisible()
    text = dialog.findChild(QTextBrowser).toPlainText()
    assert all(term.name in text for term in TERMS)
    qtbot.keyClicks(dialog.search, "LoRA")
    filtered = dialog.findChild(QTextBrowser).toPlainText()
    assert "LoRA" in filtered and "Safetensors" not in filtered
    dialog.search.setText("zzzz")
    assert "No word in the glossary matches" in dialog.findChild(QTextBrowser).toPlainText()
    dialog.close()


def test_hovering_a_control_that_shows_a_term_explains_it_and_keeps_its_own_tip(window, qtbot):
    label = QLabel("Tune with DPO on the held-out prompts", window.preference_tab)
    label.show()
    tip = _hover(label)
    assert "Direct Preference Optimization" in tip and "Kept out of training" in tip
    button = QPushButton("Save model…", window.pretraining_tab)
    button.setToolTip("Writes a safetensors file.")
    button.setEnabled(False)  # a disabled control explains itself too
    button.show()
    tip = _hover(button)
    assert "Writes a safetensors file." in tip and "can never run a program" in tip
    plain = QLabel("Nothing special here", window.data_tab)
    plain.show()
    assert _hover(plain) == ""


def test_the_real_tabs_explain_their_own_words(window, qtbot):
    """Some control in each of the preference and pretraining tabs names a term, and hovering it explains it."""
    for tab in (window.pretraining_tab, window.preference_tab):
        window.tabs.setCurrentWidget(tab)
        explained = []
        for widget in tab.findChildren(QLabel) + tab.findChildren(QPushButton):
            words = widget.text()
            if widget.isVisible() and terms_in(words):
                tip = _hover(widget)
                explained.append(all(t.meaning in tip.replace("&#x27;", "'") or t.meaning in tip
                                     for t in terms_in(words)))
        assert explained and all(explained), tab
    QToolTip.hideText()
