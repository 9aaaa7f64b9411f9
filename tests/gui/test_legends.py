"""Every colour that carries a meaning is explained on screen, in words, next to where it is used (issue 15)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


def _labels_saying(widget, *words: str) -> list[QLabel]:
    return [label for label in widget.findChildren(QLabel) if all(w in label.text() for w in words)]


def test_every_coloured_table_and_the_pale_bars_have_a_legend(window):
    # The Data tab's charts: the pale bar behind each solid one is the text before curation.
    window.tabs.setCurrentWidget(window.data_tab)
    [ghost] = _labels_saying(window.data_tab, "pale bar", "before curation")
    assert ghost.isVisible() and "solid bar" in ghost.text()

    # Both tuning tabs' before-and-after tables colour each answer green or red.
    for tab in (window.instruction_tab, window.preference_tab):
        [legend] = _labels_saying(tab, "green: what we hoped for", "red: not what we hoped for")
        assert legend is tab.comparison.legend
        window.tabs.setCurrentWidget(tab)
        tab.show_page(tab.comparison)
        assert legend.isVisible()

    # The Evaluation tab: the answers' verdicts (green, red, yellow) and the red team's refusals (green).
    evaluation = window.evaluation_tab
    window.tabs.setCurrentWidget(evaluation)
    [verdicts] = _labels_saying(evaluation, "green: right", "red: wrong", "yellow: said “I don't know”")
    assert verdicts.isVisible()
    [refused] = _labels_saying(evaluation, "green: the model refused")
    evaluation.show_page("Red teaming")
    assert refused.isVisible()
