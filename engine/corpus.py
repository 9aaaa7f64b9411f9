"""Corpora: the bundled ones, and text files the user opens, checked and explained in plain words.

A corpus is just text plus where it came from. Reading a user's file is where most things go wrong
(empty, binary, not UTF-8, too big), so every failure here raises a ``CorpusError`` whose message
tells the user what happened and what to try. Nothing in this file imports JAX.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from engine.errors import CorpusError, EncodingProblem, TooLargeForMemory

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CORPORA_DIR = REPO_ROOT / "sample_corpora"
DEFAULT_CORPUS_KEY = "fictional_world"

# Training needs the text, its tokens (int32, up to 4 bytes per character) and a copy on the device;
# a generous 12 bytes of memory per byte of file keeps us clear of swapping.
MEMORY_BYTES_PER_FILE_BYTE = 12
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Corpus:
    """Text to train on."""

    name: str  # shown to the user
    text: str = field(repr=False)
    source: str  # a file path, or "bundled:<key>"

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the text: stored with a model so we can tell which text it learned from."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BundledCorpus:
    key: str  # stable identifier, stored in settings and checkpoints
    title: str  # what the user sees in the corpus menu
    description: str  # one plain sentence


_BUNDLED = (
    BundledCorpus(
        "fictional_world",
        "A fictional world (generated)",
        "Encyclopedia entries, news and forum answers about 60 invented countries. "
        "Every fact is known, so later stages can check what the model learned.",
    ),
    BundledCorpus(
        "python_docs",
        "Python's own help pages",
        "Real English technical writing, taken at run time from the help text of the Python on this computer.",
    ),
)


def bundled_corpora() -> list[BundledCorpus]:
    return list(_BUNDLED)


def load_bundled(key: str) -> Corpus:
    """Load a bundled corpus by key."""
    entry = next((b for b in _BUNDLED if b.key == key), None)
    if entry is None:
        raise CorpusError(f"There is no bundled corpus called '{key}'.")
    if key == "python_docs":
        return Corpus(entry.title, _python_help_text(), f"bundled:{key}")
    path = SAMPLE_CORPORA_DIR / f"{key}.txt"
    corpus = read_text_file(path)
    return Corpus(entry.title, corpus.text, f"bundled:{key}")


def _python_help_text() -> str:
    """The topics of Python's interactive help(), which ship with every CPython in pydoc_data.

    Real human-written English, present on every user's machine, so nothing is copied into our repo.
    """
    try:
        from pydoc_data.topics import topics
    except ImportError as err:  # some Linux distributions split pydoc_data into its own package
        raise CorpusError(
            "This Python was installed without its help pages, so this corpus is not available.",
            "Choose another corpus or open a text file.",
        ) from err
    return "\n\n".join(topics[name].strip() for name in sorted(topics))


def _available_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _looks_binary(head: bytes) -> bool:
    """NUL bytes or many control characters mean it is not text (UTF-16 aside, handled by its BOM)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control > max(8, len(head) // 50)


def read_text_file(path: str | os.PathLike, encoding: str | None = None) -> Corpus:
    """Read a text file as a corpus, or raise a CorpusError that says what is wrong.

    ``encoding`` is None for "UTF-8, please" (the only guess we make silently); the user can then
    choose one of ``EncodingProblem.suggested_encodings`` and we read it again with that.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise CorpusError(f"The file '{name}' does not exist (any more).", "Choose another file.")
    if path.is_dir():
        raise CorpusError(f"'{name}' is a folder, not a text file.", "Choose a .txt file.")
    try:
        size = path.stat().st_size
    except OSError as err:
        raise CorpusError(f"The file '{name}' cannot be read: {err.strerror}.") from err
    if size == 0:
        raise CorpusError(f"The file '{name}' is empty.", "Choose a file with some text in it.")
    free = _available_memory_bytes()
    if free is not None and size * MEMORY_BYTES_PER_FILE_BYTE > free:
        raise TooLargeForMemory(
            f"The file '{name}' is {size / 2**20:.0f} MB; training on it would need about "
            f"{size * MEMORY_BYTES_PER_FILE_BYTE / 2**30:.1f} GB of memory, and this computer has "
            f"{free / 2**30:.1f} GB free.",
            "Use a shorter part of the file.",
        )
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"The file '{name}' cannot be read: {err.strerror}.") from err
    except MemoryError as err:
        raise TooLargeForMemory(f"The file '{name}' is too large to load on this computer.") from err
    if encoding is None and _looks_binary(raw[:_SNIFF_BYTES]):
        raise CorpusError(
            f"'{name}' is not a text file (it looks like a program, picture or other binary data).",
            "Choose a plain text file (.txt).",
        )
    text = _decode(raw, name, encoding)
    if not text.strip():
        raise CorpusError(f"The file '{name}' contains only blank space.", "Choose a file with some text in it.")
    return Corpus(name, text, str(path))


def _decode(raw: bytes, name: str, encoding: str | None) -> str:
    if encoding is None:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            try:
                return _normalise(raw.decode("utf-8-sig"))
            except UnicodeDecodeError as err:
                raise EncodingProblem(
                    f"'{name}' is not written in UTF-8, the usual text encoding "
                    f"(byte {err.start} could not be read).",
                    "It may be an older Western European (Latin-1) or a UTF-16 file: choose one to try.",
                    suggested_encodings=("latin-1", "utf-16"),
                ) from err
    try:
        return _normalise(raw.decode(encoding))
    except (UnicodeDecodeError, LookupError) as err:
        raise EncodingProblem(
            f"'{name}' could not be read as {encoding} either.",
            "Try another encoding, or save the file as UTF-8 in a text editor.",
            suggested_encodings=tuple(e for e in ("utf-8", "latin-1", "utf-16") if e != encoding),
        ) from err


def _normalise(text: str) -> str:
    """Windows and old Mac line endings become '\\n', so the model does not learn three kinds."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
