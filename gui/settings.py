"""Where the GUI remembers things between sessions: one INI file in the user's config folder.

QSettings' native formats would scatter the values over the Windows registry or macOS plists; an
INI file next to the rest of the app's files can be inspected, deleted, and isolated in tests by
pointing ``TRAINING_EXPLORER_HOME`` at a temporary folder.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from engine.user_paths import config_dir

SETTINGS_FILE_NAME = "settings.ini"

# Keys, in one place, so a typo cannot silently create a second setting.
ZOOM_PERCENT = "view/zoom_percent"
WINDOW_GEOMETRY = "window/geometry"
LAST_TAB = "window/last_tab"
LAST_PRESET = "pretraining/preset"
LAST_CORPUS = "pretraining/corpus"
LAST_TOKENIZER = "pretraining/tokenizer"


_read_only = False


def set_read_only(read_only: bool) -> None:
    """While True, ``write`` does nothing: screenshots must not change what the user chose."""
    global _read_only
    _read_only = read_only


def app_settings() -> QSettings:
    """A QSettings bound to ``config_dir()/settings.ini``; cheap, so make one wherever needed."""
    path = config_dir() / SETTINGS_FILE_NAME
    return QSettings(str(path), QSettings.Format.IniFormat)


def read_int(key: str, default: int) -> int:
    """An integer setting, falling back to ``default`` when missing or edited into nonsense."""
    value = app_settings().value(key, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def read_str(key: str, default: str = "") -> str:
    value = app_settings().value(key, default)
    return value if isinstance(value, str) else default


def write(key: str, value) -> None:
    if _read_only:
        return
    settings = app_settings()
    settings.setValue(key, value)
    settings.sync()  # written now, so a crash or a test re-creating the window sees it
