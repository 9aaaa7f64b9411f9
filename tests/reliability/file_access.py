"""Record which files code opens, and how: for "never opens a half-written file" and "writes nothing"."""

from __future__ import annotations

import builtins
import io
import os
import pathlib
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


@dataclass
class Opened:
    read: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return self.read + self.written


def _name(file) -> str:
    return os.fsdecode(file) if isinstance(file, (str, bytes, os.PathLike)) else repr(file)


def app_home() -> str:
    """The app's own folders (settings, caches: JAX's compilation cache is written there on first use)."""
    return os.path.realpath(os.environ["TRAINING_EXPLORER_HOME"])


def outside(paths: list[str], *allowed: str) -> list[str]:
    """The paths not inside any of the ``allowed`` folders (nor the app's own folders)."""
    roots = [os.path.realpath(a) + os.sep for a in (*allowed, app_home())]
    return [p for p in paths if not any(os.path.realpath(p).startswith(r) for r in roots)]


@contextmanager
def files_opened():
    """Every path opened while the block runs, split by whether it was opened for writing.

    Covers the ways Python code opens files (builtins/io.open, pathlib, os.open); pathlib's
    read_bytes/read_text/write_* all go through Path.open.
    """
    opened = Opened()
    real_open, real_os_open, real_path_open = builtins.open, os.open, pathlib.Path.open

    def note(file, mode="r"):
        (opened.written if any(c in str(mode) for c in "wax+") else opened.read).append(_name(file))

    def open_(file, mode="r", *args, **kwargs):
        note(file, mode)
        return real_open(file, mode, *args, **kwargs)

    def path_open(self, mode="r", *args, **kwargs):
        note(self, mode)
        return real_path_open(self, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        (opened.written if flags & _WRITE_FLAGS else opened.read).append(_name(path))
        return real_os_open(path, flags, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtins, "open", open_)
        mp.setattr(io, "open", open_)
        mp.setattr(pathlib.Path, "open", path_open)
        mp.setattr(os, "open", os_open)
        yield opened
