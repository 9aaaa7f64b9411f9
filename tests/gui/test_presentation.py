"""Classroom presentation: themes, presentation mode, Ctrl+1…5, shortcuts in tooltips, accessible names."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication

from gui import themes
from gui.presentation import name_unnamed_controls, shortcut_text, unnamed_controls
from gui.settings import app_settings
from gui.themes import DARK, HIGH_CONTRAST, LIGHT, THEME_SETTING, contrast_ratio, curve_color, theme_key_for
from gui.widgets.loss_plot import TRAIN_COLOR, VALIDATION_COLOR

pytestmark = pytest.mark.timeout(120)


def _background(plot) -> QColor:
    return plot.backgroundBrush().color()


def test_theme_switching_changes_the_palette_and_the_plots(make_window, qtbot):
    window = make_window(theme="light")
    plot = window.pretraining_tab.plot
    app = QApplication.instance()
    assert app.style().name().lower() == "fusion"
    light_window = app.palette().color(QPalette.ColorRole.Window)
    assert light_window == QColor(LIGHT.window)
    assert light_window != QColor("#ffffff")  # off-white: pure white glares on a projector
    assert _background(plot) == QColor(LIGHT.base)

    with qtbot.waitSignal(window.themes.theme_changed, timeout=1000):
        window.theme_actions["dark"].trigger()
    assert app.palette().color(QPalette.ColorRole.Window) == QColor(DARK.window)
    assert app.palette().color(QPalette.ColorRole.Text) == QColor(DARK.text)
    # Widgets made before the switch follow it too, once Qt has delivered the palette-change events;
    # the plots restyle then: dark background, light axes, curves lightened until they stand out.
    button = window.pretraining_tab.start_button
    qtbot.waitUntil(lambda: button.palette().color(QPalette.ColorRole.ButtonText) == QColor(DARK.text), timeout=2000)
    qtbot.waitUntil(lambda: _background(plot) == QColor(DARK.base), timeout=2000)
    axis_pen = plot.plotItem.getAxis("left").pen().color()
    assert axis_pen == QColor(DARK.text)
    train = plot._train_curve.opts["pen"].color()
    validation = plot._val_curve.opts["pen"].color()
    assert contrast_ratio(train, DARK.base) >= DARK.min_curve_contrast
    assert contrast_ratio(validation, DARK.base) >= DARK.min_curve_contrast
    assert train != validation
    assert window.theme_actions["dark"].isChecked() and not window.theme_actions["light"].isChecked()

    window.theme_actions["high-contrast"].trigger()
    assert app.palette().color(QPalette.ColorRole.Window) == QColor("#000000")
    # Widgets follow at run time too (a style sheet set before the palette used to freeze them).
    qtbot.waitUntil(lambda: button.palette().color(QPalette.ColorRole.ButtonText) == QColor(HIGH_CONTRAST.text),
                    timeout=2000)
    assert button.palette().color(QPalette.ColorRole.Button) == QColor(HIGH_CONTRAST.button)
    qtbot.waitUntil(lambda: _background(plot) == QColor("#000000"), timeout=2000)
    assert app.palette().color(QPalette.ColorRole.Highlight) == QColor(HIGH_CONTRAST.highlight)
    assert contrast_ratio(plot._train_curve.opts["pen"].color(), HIGH_CONTRAST.base) >= 7.0
    # Fusion's outline of a spin box comes from the window colour: made light for high contrast.
    spin = window.instruction_tab.steps_spin
    assert app.palette(spin).color(QPalette.ColorRole.Window) == QColor(HIGH_CONTRAST.outline_window)
    assert app.palette(spin).color(QPalette.ColorRole.Base) == QColor("#000000")

    window.theme_actions["light"].trigger()
    qtbot.waitUntil(lambda: _background(plot) == QColor(LIGHT.base), timeout=2000)
    assert app.palette(spin).color(QPalette.ColorRole.Window) == QColor(LIGHT.window)  # class palette undone
    assert app.styleSheet() == ""


def test_the_chosen_theme_is_remembered(make_window):
    window = make_window()
    window.theme_actions["dark"].trigger()
    assert app_settings().value(THEME_SETTING) == "dark"
    window.close()
    again = make_window()
    assert again.themes.key == "dark"
    assert QApplication.palette().color(QPalette.ColorRole.Window) == QColor(DARK.window)
    assert _background(again.pretraining_tab.plot) == QColor(DARK.base)


def test_with_no_choice_the_system_preference_decides():
    assert theme_key_for(Qt.ColorScheme.Dark, Qt.ContrastPreference.NoPreference) == "dark"
    assert theme_key_for(Qt.ColorScheme.Light, None) == "light"
    assert theme_key_for(Qt.ColorScheme.Unknown, Qt.ContrastPreference.NoPreference) == "light"
    # A high-contrast preference wins over the colour scheme.
    assert theme_key_for(Qt.ColorScheme.Dark, Qt.ContrastPreference.HighContrast) == "high-contrast"
    assert theme_key_for(Qt.ColorScheme.Light, Qt.ContrastPreference.HighContrast) == "high-contrast"


def test_a_first_start_follows_the_system(make_window):
    # Nothing stored: the theme is what this (offscreen) system's hints ask for.
    window = make_window()
    assert window.themes.key == themes.system_theme_key()
    assert app_settings().value(THEME_SETTING) is None  # following the system is not a choice to store


def test_curve_colours_meet_contrast_and_stay_apart_on_every_theme():
    for theme in themes.THEMES.values():
        colors = [curve_color(c, theme) for c in (TRAIN_COLOR, VALIDATION_COLOR, "#d9730d")]
        for color in colors:
            assert contrast_ratio(color, theme.base) >= theme.min_curve_contrast, (theme.key, color.name())
        train, validation = colors[:2]
        assert abs(train.hslHueF() - validation.hslHueF()) > 0.3  # blue and orange, not two blues
    # Text colours pass WCAG AA (4.5:1) on their own backgrounds in every theme.
    for theme in themes.THEMES.values():
        assert contrast_ratio(theme.text, theme.window) >= 4.5
        assert contrast_ratio(theme.text, theme.base) >= 4.5
        assert contrast_ratio(theme.highlighted_text, theme.highlight) >= 4.5
        assert contrast_ratio(theme.disabled_text, theme.window) >= 3.0
    assert contrast_ratio(HIGH_CONTRAST.text, HIGH_CONTRAST.window) == pytest.approx(21.0)


def test_presentation_mode_enlarges_hides_advanced_panels_and_restores(window, qtbot):
    plot = window.pretraining_tab.plot
    advanced = window.pretraining_tab.settings_panel.advanced
    world = window.data_tab.world_section
    window.show_stage("pretraining")
    assert not advanced.isHidden() and not world.isHidden()
    font_before = QApplication.font().pointSizeF()
    tick_before = plot.tick_font_point_size()
    pen_before = plot.line_pen_width(plot._train_curve)
    label_before = plot.plotItem.getAxis("left").labelStyle["font-size"]
    assert not window.isFullScreen() and window.statusBar().isVisible()

    with qtbot.waitSignal(window.presentation.toggled, timeout=1000):
        qtbot.keyClick(window, Qt.Key.Key_F11)
    assert window.presentation.active and window.presentation_action.isChecked()
    assert window.isFullScreen()
    assert QApplication.font().pointSizeF() > font_before * 1.2
    assert plot.tick_font_point_size() > tick_before * 1.2
    assert plot.line_pen_width(plot._train_curve) > pen_before * 2
    assert float(plot.plotItem.getAxis("left").labelStyle["font-size"].rstrip("pt")) > float(label_before.rstrip("pt")) * 1.4
    # The legend grows with the ticks (pyqtgraph only sizes labels when they are made, unless told).
    assert plot.legend_label_sizes() == [f"{window.zoom.point_size:.1f}pt"] * 2
    assert advanced.isHidden() and world.isHidden()
    assert set(window.presentation.hidden_widgets()) == {advanced, world}
    assert window.statusBar().isHidden()
    assert window.zoom.percent == 100  # the remembered zoom is untouched

    with qtbot.waitSignal(window.presentation.toggled, timeout=1000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.presentation.active and not window.presentation_action.isChecked()
    assert not window.isFullScreen()
    assert QApplication.font().pointSizeF() == pytest.approx(font_before)
    assert plot.tick_font_point_size() == pytest.approx(tick_before)
    assert plot.line_pen_width(plot._train_curve) == pytest.approx(pen_before)
    assert plot.plotItem.getAxis("left").labelStyle["font-size"] == label_before
    assert plot.legend_label_sizes() == [f"{window.zoom.point_size:.1f}pt"] * 2
    assert not advanced.isHidden() and not world.isHidden()
    assert window.statusBar().isVisible()


def test_presentation_mode_leaves_a_panel_the_user_had_hidden_hidden(window):
    world = window.data_tab.world_section
    world.hide()
    window.presentation_action.trigger()
    assert world not in window.presentation.hidden_widgets()
    window.presentation_action.trigger()  # F11 again leaves
    assert not window.presentation.active
    assert world.isHidden()


def test_ctrl_and_a_digit_switch_stages(window, qtbot):
    tabs = window.tabs
    for index in (4, 0, 1, 2, 3, 4):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_1 + index), Qt.KeyboardModifier.ControlModifier)
        assert tabs.currentIndex() == index
    assert tabs.currentWidget() is window.evaluation_tab
    assert [a.shortcut() for a in window.stage_actions] == [QKeySequence(f"Ctrl+{i}") for i in range(1, 6)]


def test_every_action_names_its_shortcut_in_its_tooltip(window):
    actions = [a for a in window.findChildren(QAction) if not a.isSeparator() and a.menu() is None]
    with_keys = [a for a in actions if not a.shortcut().isEmpty()]
    assert len(with_keys) >= 16  # zoom ×3, theme ×3, presentation ×2, stages ×5, quit, undo, redo
    for action in with_keys:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert keys in action.toolTip(), (action.text(), action.toolTip())
    for action in (window.presentation_action, window.zoom_in_action, window.quit_action, *window.theme_actions.values()):
        assert not action.shortcut().isEmpty(), action.text()
    assert window.presentation_action.toolTip() == "Full screen, big text, thick lines, advanced panels hidden (F11)"
    assert window.zoom_in_action.toolTip() == f"Zoom in ({shortcut_text(window.zoom_in_action)})"


def test_an_undo_tooltip_follows_its_changing_text(window):
    undo = window.data_tab.undo_action
    keys = shortcut_text(undo)
    undo.setText("Undo cutoff 1990")  # what QUndoStack does after an edit
    assert undo.toolTip() == f"Undo cutoff 1990 ({keys})"


def test_every_control_has_an_accessible_name(window):
    # What a screen reader hears, asked from Qt's accessibility layer, for every control in every tab.
    assert unnamed_controls(window) == []
    # Named from what is shown: a button's text, the label left of a field in a grid, a page's title.
    assert window.pretraining_tab.start_button.accessibleName() == "Start"
    assert window.pretraining_tab.open_button.accessibleName() == "Open model"
    assert window.pretraining_tab.predict_panel.temperature.accessibleName() == "Temperature"
    assert window.pretraining_tab.predict_panel.top_k.accessibleName() == "Top-k"
    name_unnamed_controls(window)  # controls a tab made since (the Data tab's topic boxes, after loading)
    assert name_unnamed_controls(window) == 0  # nothing is named twice


def test_the_tab_key_reaches_every_button_and_passes_over_the_plots(window, qtbot):
    window.show_stage("pretraining")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    tab = window.pretraining_tab
    tab.settings_panel.preset_combo.setFocus(Qt.FocusReason.TabFocusReason)
    reached = []
    for _ in range(30):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    for control in (tab.start_button, tab.open_button, tab.export_button, tab.corpus_panel.corpus_combo):
        assert control in reached, control.accessibleName()
    # A plot answers no key: Tab goes past it instead of stopping twice on it.
    assert tab.plot not in reached and tab.plot.viewport() not in reached
    # Left column before the right one, as the eye reads it: Start comes before Export plot.
    assert reached.index(tab.start_button) < reached.index(tab.export_button)
