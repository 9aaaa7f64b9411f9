"""Promise 8, the corpus half: a file too large for this computer's memory is refused before it is read.

(The GUI test tests/gui/test_bad_inputs.py checks the message the user sees; this one checks that
the refusal comes from the size alone: the file's contents are never loaded.)
"""

from __future__ import annotations

import pathlib

import pytest

from engine.data import corpus as corpus_module
from engine.errors import TooLargeForMemory


def test_a_file_over_the_memory_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("a perfectly good line of text\n" * 4000)  # 120 kB
    monkeypatch.setattr(corpus_module, "available_memory_bytes", lambda: 2**20)  # 1 MB free: needs ~66 MB

    def no_reading(self, *args, **kwargs):
        raise AssertionError(f"{self} was read although it is too large")

    monkeypatch.setattr(pathlib.Path, "read_bytes", no_reading)
    monkeypatch.setattr(pathlib.Path, "read_text", no_reading)
    with pytest.raises(TooLargeForMemory) as info:
        corpus_module.read_text_file(path)
    message = str(info.value)
    assert "MB" in message and "memory" in message and "shorter part" in message


def test_the_same_file_loads_when_memory_allows(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("a perfectly good line of text\n" * 4000)
    monkeypatch.setattr(corpus_module, "available_memory_bytes", lambda: 2**30)
    assert len(corpus_module.read_text_file(path).text) == 120_000
