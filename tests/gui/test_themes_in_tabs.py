"""The classroom presentation inside the tabs' own widgets: theme colours, 200 % zoom, Tab order, advanced panels.

What a teacher sees on a 1280x800 projector at 200 % zoom in each theme, checked through the real
widgets: every tab fits the window (nothing pushes it wider, no page scrolls sideways), the charts,
bars, tables and logs the tabs draw themselves follow the theme, Tab visits the controls made after
loading where they are shown, and presentation mode finds the panels the tabs mark as advanced.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPalette, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractScrollArea, QApplication

from gui import settings
from gui.presentation import is_advanced
from gui.themes import DARK, HIGH_CONTRAST, LIGHT, THEMES, contrast_ratio
from gui.widgets.bar_chart import _Bar
from gui.widgets.comparison_table import ComparedRow, ComparisonTable
from gui.widgets.model_settings_panel import ModelSettingsPanel
from gui.widgets.next_token_bars import ProbabilityBar
from gui.widgets.sample_log import SampleLog
from gui.zoom import ZoomController
from tests.gui.conftest import UI_TIMEOUT_MS

pytestmark = pytest.mark.timeout(180)

PROJECTOR = (1280, 800)
TEXT_CONTRAST = 4.5  # WCAG AA for ordinary text


def _settle() -> None:
    for _ in range(6):  # layouts and deferred fits (QTimer.singleShot(0)) settle over a few turns
        QApplication.processEvents()


def _sideways_scrollers(root) -> list[str]:
    """Shown scroll areas under ``root`` whose contents are wider than they are (a sideways scroll)."""
    found = []
    for area in root.findChildren(QAbstractScrollArea):
        bar = area.horizontalScrollBar()
        if area.isVisible() and bar.maximum() > 0:
            found.append(f"{type(area).__name__} in {type(area.parentWidget()).__name__} by {bar.maximum()} px")
    return found


@pytest.mark.parametrize("theme", list(THEMES))
def test_every_tab_fits_a_1280_by_800_projector_at_200_percent(make_window, theme):
    # Opened straight on a tuning tab, as a teacher resuming a lesson would: the Data tab has not been
    # shown yet (its layout once made the window 1418 px wide then).
    settings.write(settings.LAST_TAB, "preference")
    window = make_window(theme=theme, zoom_percent=200)
    window.resize(*PROJECTOR)
    _settle()
    assert window.tabs.currentWidget() is window.preference_tab
    for index in range(window.tabs.count()):
        if not window.tabs.isTabEnabled(index):
            continue
        window.tabs.setCurrentIndex(index)
        _settle()
        page = window.tabs.widget(index)
        name = window.tabs.tabText(index)
        _assert_fits(window, page, f"{theme}, {name}")
        if page is window.evaluation_tab:
            # Its pages (benchmark, rating, red teaming, compare, lessons) scroll only up and down; only the
            # answers table, six columns of data, may scroll sideways inside itself at 200 %.
            for p in range(page.pages.count()):
                page.pages.setCurrentIndex(p)
                _settle()
                wide = [w for w in _sideways_scrollers(page.pages.widget(p)) if not w.startswith("QTableView")]
                assert wide == [], (theme, name, page.pages.tabText(p))
            continue
        assert _sideways_scrollers(page) == [], (theme, name)
        # The tuning tabs' pages (votes, pairs, examples, before and after) scroll only up and down.
        pages = getattr(page, "pages", None)
        for p in range(pages.count() if pages is not None else 0):
            pages.setCurrentIndex(p)
            _settle()
            assert _sideways_scrollers(pages.widget(p)) == [], (theme, name, pages.tabText(p))
    # The widest the Data and Pretraining tabs get: the BPE vocabulary size showing beside the tokenizer.
    data = window.data_tab
    data.tokenizer_combo.setCurrentIndex(data.tokenizer_combo.findData("bpe"))
    for tab in (data, window.pretraining_tab):
        window.tabs.setCurrentWidget(tab)
        _settle()
        _assert_fits(window, tab, f"{theme}, {type(tab).__name__} with BPE")
    # The controls that were clipped or ran off: each lies wholly inside the window.
    window.show_stage("instruction")
    window.instruction_tab.pages.setCurrentIndex(0)
    _settle()
    tab = window.instruction_tab
    for button in (tab.pairs.add_button, tab.import_button, tab.export_button, tab.start_button, tab.save_button):
        _assert_inside_its_viewport(window, button)
    window.show_stage("preference")
    window.preference_tab.pages.setCurrentIndex(0)
    _settle()
    votes = window.preference_tab.vote_panel
    for button in (votes.write_button, votes.a_button, votes.b_button):
        _assert_inside_its_viewport(window, button)


def _assert_fits(window, page, where: str) -> None:
    hint = page.minimumSizeHint()
    assert hint.width() <= PROJECTOR[0] and hint.height() <= PROJECTOR[1], (where, hint)
    assert window.minimumSizeHint().width() <= PROJECTOR[0], (where, window.minimumSizeHint())
    assert window.width() == PROJECTOR[0], (where, window.width())  # nothing made the window grow


def _assert_inside_its_viewport(window, widget) -> None:
    """No part of ``widget`` is cut off by the window's right edge or by the scroll area it is in."""
    right = widget.mapTo(window, QPoint(widget.width(), 0)).x()
    assert right <= window.width(), (widget.text(), right)
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    if parent is not None:
        viewport = parent.viewport()
        right_in_view = widget.mapTo(viewport, QPoint(widget.width(), 0)).x()
        assert right_in_view <= viewport.width(), (widget.text(), right_in_view, viewport.width())


def test_the_tabs_own_drawings_follow_the_theme(make_window, qtbot):
    window = make_window(theme="light")
    data = window.data_tab
    window.show_stage("data")
    data.curation_panel.cutoff_box.setChecked(True)  # shows the cutoff line
    histogram = data.year_histogram
    log = window.pretraining_tab.sample_log
    log.add_sample(10, "the cat ", "sat on the mat")
    bar = next(b for b in data.coverage_chart.findChildren(_Bar) if b.isVisible() and b.fraction < 0.5)

    for key in ("dark", "high-contrast"):
        theme = THEMES[key]
        window.theme_actions[key].trigger()
        qtbot.waitUntil(lambda: histogram.background_color() == QColor(theme.base), timeout=2000)
        # The cutoff line is drawn in the plot's ink, not the light theme's dark grey.
        assert histogram.cutoff_pen().color() == QColor(theme.text)
        assert contrast_ratio(histogram.cutoff_pen().color(), theme.base) >= TEXT_CONTRAST
        loaded, kept = histogram.bar_brushes()
        assert contrast_ratio(kept, theme.base) >= theme.min_curve_contrast
        assert loaded != kept
        # A chart's empty track, as painted: the theme's base colour, not a light grey that glares.
        # (Only after a switch to dark: a switch to high contrast does not reach the widgets' palettes
        # yet, because ``themes.apply_theme`` sets the style sheet before the palette; reported.)
        if key == "dark":
            qtbot.waitUntil(lambda: bar.palette().color(QPalette.ColorRole.Base) == QColor(theme.base), timeout=2000)
            image = bar.grab().toImage()
            track = image.pixelColor(image.width() - 8, image.height() // 2)
            assert _close(track, QColor(theme.base)), (key, track.name())
        # The samples already in the log are written again in colours that read on its background.
        assert contrast_ratio(log.heading_color(), theme.base) >= TEXT_CONTRAST
        assert contrast_ratio(log.prompt_color(), theme.base) >= TEXT_CONTRAST
        cursor = QTextCursor(log.document())
        cursor.movePosition(QTextCursor.MoveOperation.NextCharacter)
        assert cursor.charFormat().foreground().color() == log.heading_color()
        assert "Step 10" in log.toPlainText() and log.sample_count() == 1


def _close(a: QColor, b: QColor, tolerance: int = 6) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a.getRgb()[:3], b.getRgb()[:3]))


@pytest.mark.parametrize("theme", [DARK, HIGH_CONTRAST])
def test_probability_bars_and_judged_cells_stay_readable(qtbot, theme):
    from gui.themes import apply_theme

    apply_theme(theme)
    try:
        short, long = ProbabilityBar(0.03), ProbabilityBar(0.9)
        for bar in (short, long):
            qtbot.addWidget(bar)
            bar.resize(400, 40)
        # After a short bar the percentage sits on the track: the palette's text on its base colour.
        assert short.text_color() == QColor(theme.text)
        assert contrast_ratio(short.text_color(), theme.base) >= TEXT_CONTRAST
        image = short.grab().toImage()
        assert _close(image.pixelColor(image.width() - 6, image.height() // 2), QColor(theme.base))
        # Inside a long bar it is black or white, whichever reads on the bar's blue.
        fill = long.grab().toImage().pixelColor(40, 20)
        assert contrast_ratio(long.text_color(), fill) >= TEXT_CONTRAST, fill.name()

        table = ComparisonTable("Before", "After", "")
        qtbot.addWidget(table)
        table.set_rows([ComparedRow("Capital of Techova?", "Delvora", "Delvora.", True, "Fides.", False)], "")
        for column in (2, 3):
            item = table.table.item(0, column)
            foreground = item.data(Qt.ItemDataRole.ForegroundRole)
            assert foreground is not None, "a pale cell must not take the theme's light text"
            assert contrast_ratio(foreground.color(), item.background().color()) >= TEXT_CONTRAST
    finally:
        apply_theme(LIGHT)


def test_tab_visits_the_rows_made_after_loading_where_they_are_shown(window, qtbot):
    window.show_stage("data")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    panel = window.data_tab.curation_panel
    stops = [w for w in panel.tab_stops() if w.isVisible() and w.isEnabled()]
    assert len(stops) >= 10  # cutoff, five topics, five weights, two cleaning boxes
    reached = _tab_from(stops[0], len(stops) + 2)
    owners = [_owner(w, stops) for w in reached]
    # Each control once, top to bottom, then on to the Undo row below the panel.
    assert [w for w in owners if w in stops] == stops[1:]
    assert reached[len(stops) - 1] in (window.data_tab.undo_button, window.data_tab.redo_button,
                                      window.data_tab.reset_button)

    window.show_stage("preference")
    tab = window.preference_tab
    reached = _tab_from(tab.steps_spin, 4)
    spins = [tab.beta_spin, tab.nll_spin, tab.anchor_spin]
    assert [_owner(w, spins) for w in reached[:3]] == spins

    window.show_stage("instruction")
    pairs = window.instruction_tab.pairs
    stops = [w for w in pairs.tab_stops() if w.isEnabled()]
    reached = _tab_from(stops[0], len(stops) - 1)
    assert reached == stops[1:]  # Delete, Import, Export (Undo and Redo wait for an edit), then the table


def _tab_from(widget, presses: int) -> list:
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    reached = []
    for _ in range(presses):
        QApplication.processEvents()
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    return reached


def _owner(widget, stops):
    """The control a focused part belongs to (a spin box's line edit belongs to the spin box)."""
    while widget is not None and widget not in stops:
        widget = widget.parentWidget()
        if widget is not None and widget.isWindow():
            return None
    return widget


def test_the_tabs_mark_their_own_advanced_panels(qtbot):
    # Built outside the main window, which no longer has to know which panels are for experts.
    panel = ModelSettingsPanel()
    qtbot.addWidget(panel)
    assert is_advanced(panel.advanced)
    from gui.data_tab import DataTab

    data = DataTab(ZoomController(remember=False))
    qtbot.addWidget(data)
    try:
        qtbot.waitUntil(lambda: not data.busy, timeout=UI_TIMEOUT_MS)
        assert is_advanced(data.world_section)
        assert not is_advanced(data.curation_panel)
    finally:
        data.shutdown()


def test_a_theme_change_keeps_the_zoomed_text_zoomed(make_window):
    """Leaving high contrast clears the application's style sheet, which used to put widgets with a
    zoomed font of their own (a lesson's title and figures) back to the size before the last zoom."""
    window = make_window()
    window.themes.set_theme("light")
    figures = window.evaluation_tab.lessons_page.figures_label
    plain = figures.font().pointSizeF()
    window.themes.set_theme("high-contrast")
    _settle()
    window.zoom.set_percent(200)
    for key in ("light", "dark", "high-contrast"):
        window.themes.set_theme(key)
        _settle()
        assert figures.font().pointSizeF() == pytest.approx(2 * plain), key
    window.zoom.set_percent(100)
    assert figures.font().pointSizeF() == pytest.approx(plain)
