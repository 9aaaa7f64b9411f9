"""Where the app keeps the user's things: settings, models, caches (platformdirs folders).

``TRAINING_EXPLORER_HOME`` overrides them all with one folder, which the tests use so they never
touch a real user's files, and which a teacher can use to run the app from a USB stick.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "TrainingExplorer"


def _base(kind: str) -> Path:
    override = os.environ.get("TRAINING_EXPLORER_HOME")
    if override:
        path = Path(override) / kind
    elif kind == "config":
        path = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    elif kind == "cache":
        path = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    else:
        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Settings (zoom, theme, last choices)."""
    return _base("config")


def data_dir() -> Path:
    """The user's models and sessions."""
    return _base("data")


def models_dir() -> Path:
    """Default folder offered by Save model / Open model."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Things that can be rebuilt: compiled programs, machine speed measurements."""
    return _base("cache")


def compilation_cache_dir() -> Path:
    path = cache_dir() / "jax-compilation-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
