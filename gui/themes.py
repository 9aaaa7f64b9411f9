"""Light, dark and high-contrast themes: our own palettes on Qt's Fusion style, plots included.

A projector washes colours out, a dim classroom wants a dark screen, and a learner with low vision
needs true high contrast. Each theme is a frozen set of colours; applying one

- sets Fusion (the same look on every platform, and a style that draws from the palette, so the
  palette really decides every colour) and a ``QPalette`` built from the theme on the application;
- for high contrast only, adds a small style sheet, because Fusion draws button and field borders in
  a shade of the window colour, which on black is black: the borders must be drawn in white;
- records the theme as ``current_theme()``, which pyqtgraph plots read (they paint on a canvas that
  ignores the palette; ``gui.widgets.zoomed_plot`` restyles them on the palette-change event).

The light theme's background is off-white, not pure white: on a projector pure white glares. Curve
colours are the tabs' own, made legible on each theme's plot background by ``curve_color``, which
moves a colour's lightness until it reaches the theme's contrast ratio (WCAG's, as for text).

The choice is remembered in settings; until the user makes one, the app follows the operating
system's colour scheme and contrast preference (``QStyleHints``), read at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from gui import settings

THEME_SETTING = "view/theme"  # the settings key (kept here: gui/settings.py lists the others)
STYLE_NAME = "Fusion"


@dataclass(frozen=True)
class Theme:
    key: str  # stored in settings and accepted by --theme
    title: str  # the View → Theme menu's text
    window: str  # background of the window, panels and buttons' surroundings
    base: str  # background of text fields, tables, lists and plots
    alternate_base: str  # every other row of a table
    text: str  # ordinary text, on window and on base
    button: str  # a push button's face
    highlight: str  # selection and focus
    highlighted_text: str  # text on the highlight
    disabled_text: str  # text of controls that cannot be used now
    placeholder_text: str  # hints inside empty fields, notes on empty plots
    link: str  # links in rich text
    border: str  # frames and the 3D shades Fusion derives from the button colour
    tooltip_base: str  # tooltip background
    tooltip_text: str  # tooltip text
    grid_alpha: float  # opacity of a plot's grid lines, 0..1
    min_curve_contrast: float  # contrast ratio every plot line reaches against the plot background
    outline_window: str = ""  # if set, the window colour given to OUTLINED_CLASSES, for visible outlines
    style_sheet: str = ""  # extra rules, only where the palette cannot reach


LIGHT = Theme(
    key="light", title="&Light",
    window="#efede8", base="#fbfaf7", alternate_base="#f3f1ec", text="#1b1b1b", button="#e6e3dd",
    highlight="#1f66c1", highlighted_text="#ffffff", disabled_text="#6e6e6e", placeholder_text="#666666",
    link="#0b57b0", border="#a09c94", tooltip_base="#fffbe6", tooltip_text="#1b1b1b",
    grid_alpha=0.25, min_curve_contrast=3.0,
)

DARK = Theme(
    key="dark", title="&Dark",
    window="#26282b", base="#1c1e20", alternate_base="#24272a", text="#ebebeb", button="#33373b",
    highlight="#2d6fbf", highlighted_text="#ffffff", disabled_text="#8f8f8f", placeholder_text="#9a9a9a",
    link="#7fb6ff", border="#5c6167", tooltip_base="#33373b", tooltip_text="#ebebeb",
    grid_alpha=0.22, min_curve_contrast=4.5,
    # Fusion's outlines, a darker shade of the window colour, nearly vanish on this dark grey.
    outline_window="#9aa0a6",
)

# Black and white with yellow for selection and focus, as the operating systems' high-contrast modes do.
HIGH_CONTRAST = Theme(
    key="high-contrast", title="&High contrast",
    window="#000000", base="#000000", alternate_base="#000000", text="#ffffff", button="#000000",
    highlight="#ffff00", highlighted_text="#000000", disabled_text="#b0b0b0", placeholder_text="#d0d0d0",
    link="#66ffff", border="#ffffff", tooltip_base="#000000", tooltip_text="#ffffff",
    grid_alpha=0.35, min_curve_contrast=7.0,
    # Fusion outlines fields, check boxes and sliders in a darker shade of the window colour, which
    # on black is black; giving those classes a white "window" makes their outlines light grey.
    outline_window="#ffffff",
    style_sheet=(
        # Buttons and text areas get a thicker white border than Fusion's, yellow under the keyboard
        # focus or the mouse. Spin boxes and combo boxes are left to Fusion (above): a style-sheet
        # border there would also take over drawing their arrows, which then vanish.
        "QPushButton, QToolButton { border: 2px solid #ffffff; border-radius: 3px; padding: 3px 6px; }"
        "QPushButton:checked { background: #ffffff; color: #000000; }"
        "QPushButton:disabled, QToolButton:disabled { border-color: #b0b0b0; border-style: dashed; }"
        "QPushButton:focus, QToolButton:focus, QPushButton:hover, QToolButton:hover { border-color: #ffff00; }"
        "QPlainTextEdit, QTextEdit, QAbstractItemView { border: 2px solid #ffffff; }"
        "QPlainTextEdit:focus, QTextEdit:focus, QAbstractItemView:focus { border-color: #ffff00; }"
        "QToolTip { border: 2px solid #ffffff; }"
    ),
)

# Controls whose outline Fusion derives from the window colour (``QFusionStyle``'s ``outline()``).
OUTLINED_CLASSES = ("QAbstractSpinBox", "QComboBox", "QLineEdit", "QCheckBox", "QRadioButton", "QSlider",
                    "QProgressBar", "QTabBar", "QGroupBox", "QScrollBar")

THEMES = {theme.key: theme for theme in (LIGHT, DARK, HIGH_CONTRAST)}
DEFAULT_THEME = LIGHT

_current = DEFAULT_THEME


def current_theme() -> Theme:
    """The theme applied last (the light one until any is applied)."""
    return _current


# --- colours --------------------------------------------------------------------------------


def relative_luminance(color: QColor | str) -> float:
    """WCAG 2 relative luminance of a colour, 0 (black) to 1 (white)."""
    color = QColor(color)

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast_ratio(first: QColor | str, second: QColor | str) -> float:
    """WCAG 2 contrast ratio, 1 (same) to 21 (black on white)."""
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def legible_color(color: QColor | str, background: QColor | str, min_ratio: float) -> QColor:
    """``color`` with its hue kept, made lighter or darker until it reaches ``min_ratio`` on ``background``.

    Lighter on a dark background, darker on a light one; if even white or black cannot reach the
    ratio, the best of the two is returned.
    """
    color = QColor(color)
    if contrast_ratio(color, background) >= min_ratio:
        return color
    towards_light = relative_luminance(background) < 0.5
    hue, saturation, lightness, alpha = color.getHslF()
    hue = max(hue, 0.0)  # -1 for greys
    steps = 50
    for i in range(1, steps + 1):
        if towards_light:
            shade = lightness + (1.0 - lightness) * i / steps
        else:
            shade = lightness * (1.0 - i / steps)
        candidate = QColor.fromHslF(hue, saturation, shade, alpha)
        if contrast_ratio(candidate, background) >= min_ratio:
            return candidate
    return QColor("#ffffff" if towards_light else "#000000")


def curve_color(color: QColor | str, theme: Theme | None = None) -> QColor:
    """A tab's curve colour as drawn on ``theme``'s plot background (the current theme by default)."""
    theme = theme or _current
    return legible_color(color, theme.base, theme.min_curve_contrast)


def palette_for(theme: Theme) -> QPalette:
    """The QPalette of a theme, for every colour group (active, inactive, disabled)."""
    palette = QPalette(QColor(theme.button), QColor(theme.window))  # derives Fusion's 3D shades
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.alternate_base,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.button,
        QPalette.ColorRole.ButtonText: theme.text,
        QPalette.ColorRole.BrightText: theme.highlighted_text,
        QPalette.ColorRole.Highlight: theme.highlight,
        QPalette.ColorRole.HighlightedText: theme.highlighted_text,
        QPalette.ColorRole.PlaceholderText: theme.placeholder_text,
        QPalette.ColorRole.Link: theme.link,
        QPalette.ColorRole.LinkVisited: theme.link,
        QPalette.ColorRole.ToolTipBase: theme.tooltip_base,
        QPalette.ColorRole.ToolTipText: theme.tooltip_text,
        QPalette.ColorRole.Mid: theme.border,
        QPalette.ColorRole.Dark: theme.border,
        QPalette.ColorRole.Shadow: theme.border,
    }
    for role, value in roles.items():
        palette.setColor(role, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(disabled, role, QColor(theme.disabled_text))
    # A disabled selection keeps its text readable rather than turning grey on the highlight.
    palette.setColor(disabled, QPalette.ColorRole.HighlightedText, QColor(theme.highlighted_text))
    return palette


# --- following the operating system ---------------------------------------------------------------


def theme_key_for(color_scheme: Qt.ColorScheme, contrast: Qt.ContrastPreference | None) -> str:
    """The theme the operating system's preferences ask for: high contrast wins over dark or light."""
    if contrast == Qt.ContrastPreference.HighContrast:
        return HIGH_CONTRAST.key
    return DARK.key if color_scheme == Qt.ColorScheme.Dark else LIGHT.key


def system_theme_key() -> str:
    """The theme for the system's current colour scheme and contrast preference (Qt 6.10+ exposes both)."""
    hints = QGuiApplication.styleHints()
    accessibility = getattr(hints, "accessibility", None)  # QAccessibilityHints, Qt 6.10 and later
    contrast = accessibility().contrastPreference() if accessibility is not None else None
    return theme_key_for(hints.colorScheme(), contrast)


# --- applying ------------------------------------------------------------------------------------


def apply_theme(theme: Theme) -> None:
    """Fusion, the theme's palette and style sheet on the whole application, now."""
    global _current
    app = QApplication.instance()
    # First, so that the palette-change events the plots restyle on already see the new theme.
    _current = theme
    if app is None:
        return
    if app.style().name().lower() != STYLE_NAME.lower():
        app.setStyle(STYLE_NAME)
    # Qt ignores a palette set while a style sheet is on: switching to high contrast at run time
    # left every widget in the old theme's colours (white text on light grey). So the palette goes
    # in with no style sheet on, and the new style sheet (if any) comes last.
    app.setStyleSheet("")
    palette = palette_for(theme)
    app.setPalette(palette)
    outlined = QPalette(palette)
    if theme.outline_window:
        outlined.setColor(QPalette.ColorRole.Window, QColor(theme.outline_window))
    for class_name in OUTLINED_CLASSES:
        # Always set, so that leaving high contrast also undoes its class palettes.
        app.setPalette(outlined, class_name)
    if theme.style_sheet:
        app.setStyleSheet(theme.style_sheet)


class ThemeController(QObject):
    """Which theme is on; applies it and remembers the user's choice."""

    theme_changed = Signal(str)  # the new theme's key

    def __init__(self, parent: QObject | None = None, *, remember: bool = True, key: str | None = None):
        """``key`` forces a theme for this session (``--theme``); otherwise the stored choice, else the OS's."""
        super().__init__(parent)
        self._remember = remember  # False for screenshots: do not overwrite the user's choice
        stored = settings.read_str(THEME_SETTING, "")
        chosen = key if key in THEMES else stored if stored in THEMES else system_theme_key()
        self._theme = THEMES[chosen]
        apply_theme(self._theme)

    @property
    def theme(self) -> Theme:
        return self._theme

    @property
    def key(self) -> str:
        return self._theme.key

    def set_theme(self, key: str) -> None:
        """Switch to the theme named ``key`` (raises KeyError for an unknown one) and remember it."""
        theme = THEMES[key]
        if self._remember:
            settings.write(THEME_SETTING, theme.key)
        if theme is self._theme:
            return
        self._theme = theme
        apply_theme(theme)
        self.theme_changed.emit(theme.key)
