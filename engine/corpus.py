"""Corpora: the bundled ones, and text the user opens, checked and explained in plain words.

A corpus is just text plus where it came from. Reading a user's file is where most things go wrong
(empty, binary, not UTF-8, too big), so every failure here raises a ``CorpusError`` whose message
tells the user what happened and what to try. Besides single text files, the user can open a
folder of .txt/.md/.py files (unreadable ones are skipped and listed) or a JSONL file with one
document per line (a malformed line is named by file and line number, without echoing the row).
These loaders only read and raise: they never touch what the user has already curated, so a bad
load loses nothing. Nothing in this file imports JAX.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from engine.documents import Document, documents_from_text, documents_text, looks_like_junk
from engine.errors import CorpusError, EncodingProblem, TooLargeForMemory

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CORPORA_DIR = REPO_ROOT / "sample_corpora"
DEFAULT_CORPUS_KEY = "fictional_world"

# Training needs the text, its tokens (int32, up to 4 bytes per character) and a copy on the device;
# a generous 12 bytes of memory per byte of file keeps us clear of swapping.
MEMORY_BYTES_PER_FILE_BYTE = 12
# Larger than any corpus a 2-core CPU can train on in minutes; bigger loads are refused with this named.
MAX_CORPUS_BYTES = 50 * 2**20
FOLDER_SUFFIXES = (".txt", ".md", ".py")
_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: JSON can write one, UTF-8 cannot
_SNIFF_BYTES = 64 * 1024


def text_fingerprint(text: str) -> str:
    """sha256 of a text: stored with a model so we can tell which text it learned from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Corpus:
    """Text to train on."""

    name: str  # shown to the user
    text: str = field(repr=False)
    source: str  # a file path, or "bundled:<key>"

    @cached_property
    def fingerprint(self) -> str:
        return text_fingerprint(self.text)


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


def available_memory_bytes() -> int | None:
    """Memory this computer can give us now: Linux's MemAvailable (free plus reclaimable cache), or
    the free pages elsewhere; None when the system will not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
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


def read_text_file(path: str | os.PathLike, encoding: str | None = None,
                   max_bytes: int | None = None) -> Corpus:
    """Read a text file as a corpus, or raise a CorpusError that says what is wrong.

    ``encoding`` is None for "UTF-8, please" (the only guess we make silently); the user can then
    choose one of ``EncodingProblem.suggested_encodings`` and we read it again with that.
    """
    path = Path(path)
    name = _shown(path.name)  # for messages; the corpus keeps the real name
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
    max_bytes = MAX_CORPUS_BYTES if max_bytes is None else max_bytes  # read now, so tests can lower it
    if size > max_bytes:
        raise _size_limit_error(f"The file '{name}'", size, max_bytes)
    free = available_memory_bytes()
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
    return Corpus(path.name, text, str(path))


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


# --- Folders and JSONL ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedDocuments:
    """What a folder or JSONL load produced: the corpus, its documents, and the files left out."""

    corpus: Corpus  # the documents joined by blank lines, ready for tokenizing
    documents: tuple[Document, ...] = field(repr=False)  # one per paragraph, program or JSONL row
    skipped: tuple[str, ...] = ()  # files left out of a folder load, relative to the folder, sorted

    @property
    def skipped_message(self) -> str:
        """E.g. "3 files skipped: a.bin, b.dat, c.txt" (empty when nothing was skipped)."""
        if not self.skipped:
            return ""
        shown = ", ".join(_shown(name) for name in self.skipped[:8])
        more = f" and {len(self.skipped) - 8} more" if len(self.skipped) > 8 else ""
        noun = "file" if len(self.skipped) == 1 else "files"
        return f"{len(self.skipped)} {noun} skipped: {shown}{more}."


def _shown(name: str) -> str:
    """A file name or JSON key as a message may show it: on one line, and printable.

    Names come from the user's disk or file: a newline in one would break the one-line message bar,
    and a name that is not valid UTF-8 (Linux allows any bytes) would break whatever writes it out.
    """
    return "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in name)


def _human_size(n: int) -> str:
    """1.5 MB, 200 KB or 50 bytes, with no needless ".0"."""
    for unit, scale in (("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _size_limit_error(what: str, size: int, max_bytes: int) -> CorpusError:
    return CorpusError(
        f"{what} is {_human_size(size)}, over the limit of {_human_size(max_bytes)} for a corpus.",
        "Use a smaller part of it.",
    )


def read_folder(path: str | os.PathLike, max_bytes: int | None = None) -> LoadedDocuments:
    """Every .txt, .md and .py file under ``path`` (hidden ones aside), in name order, as one corpus.

    Files of other kinds, binary files, empty files and files that are not UTF-8 are skipped and
    listed, not fatal: a folder of notes often holds a picture or two. Text files are split into
    paragraphs; each program stays whole, since a blank line inside code does not end it.
    """
    folder = Path(path)
    shown_folder = _shown(folder.name)
    if not folder.is_dir():
        raise CorpusError(f"'{shown_folder}' is not a folder (any more).", "Choose a folder.")
    try:
        inside = folder.resolve(strict=True)
        # rglob does not descend into linked folders, so a link looping back cannot make it go round.
        files = sorted(p for p in folder.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    except (OSError, RuntimeError) as err:  # RuntimeError: a link loop met while resolving
        raise CorpusError(f"The folder '{shown_folder}' cannot be read: {getattr(err, 'strerror', None) or err}.",
                          "Choose another folder.") from err
    wanted, skipped, sizes = [], [], {}
    for p in files:
        relative = p.relative_to(folder).as_posix()
        if p.suffix.lower() not in FOLDER_SUFFIXES:
            skipped.append(relative)
            continue
        try:
            # A link to a file outside the folder is left out: opening a folder must not pull in,
            # say, a private file that a shared folder links to.
            if p.is_symlink() and not p.resolve(strict=True).is_relative_to(inside):
                skipped.append(relative)
                continue
            sizes[p] = p.stat().st_size
        except (OSError, RuntimeError):  # gone, or a link loop: listed as skipped
            skipped.append(relative)
            continue
        wanted.append(p)
    total = sum(sizes.values())
    max_bytes = MAX_CORPUS_BYTES if max_bytes is None else max_bytes
    if total > max_bytes:
        raise _size_limit_error(f"The text in '{shown_folder}'", total, max_bytes)
    documents: list[Document] = []
    for p in wanted:
        try:
            text = read_text_file(p).text
        except CorpusError:  # binary, not UTF-8, empty or unreadable: listed below instead
            skipped.append(p.relative_to(folder).as_posix())
            continue
        if p.suffix.lower() == ".py":
            # Blank lines separate documents in the corpus, so a program loses its blank lines.
            code = "\n".join(line for line in text.split("\n") if line.strip(" \t"))
            documents.append(Document(code, "code", "code"))  # symbols are normal in code, not junk
        else:
            documents += documents_from_text(text, "file")
    skipped.sort()
    if not documents:
        listing = LoadedDocuments(Corpus("", "", ""), (), tuple(skipped)).skipped_message
        raise CorpusError(f"The folder '{shown_folder}' has no readable .txt, .md or .py files. {listing}".strip(),
                          "Choose a folder with text files in it.")
    corpus = Corpus(folder.name, documents_text(documents), str(folder))
    return LoadedDocuments(corpus, tuple(documents), tuple(skipped))


def _kind(value: object) -> str:
    """A JSON value's type in plain words."""
    if value is None:
        return "empty (null)"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "an object"}.get(type(value), "something else")


def read_jsonl(path: str | os.PathLike, text_field: str = "text",
               max_bytes: int | None = None) -> LoadedDocuments:
    """One document per line: the ``text_field`` of each JSON object (blank lines are allowed).

    Optional fields ``topic`` (text) and ``year`` (a whole number) become the document's topic and
    year, so a JSONL corpus can be cut off and filtered like the generated one. Any malformed line
    stops the load with "file:line: the problem", never the row itself, which may be huge or private.
    """
    path = Path(path)
    name = _shown(path.name)
    if not path.is_file():
        raise CorpusError(f"The file '{name}' does not exist (any more).", "Choose another file.")
    try:
        size = path.stat().st_size
        max_bytes = MAX_CORPUS_BYTES if max_bytes is None else max_bytes  # read now, so tests can lower it
        if size > max_bytes:
            raise _size_limit_error(f"The file '{name}'", size, max_bytes)
        raw = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"The file '{name}' cannot be read: {err.strerror or err}.") from err
    except MemoryError as err:
        raise TooLargeForMemory(f"The file '{name}' is too large to load on this computer.") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise CorpusError(f"{name}:{line}: this line is not UTF-8 text, which JSONL files must be.",
                          "Save the file as UTF-8 and open it again.") from err
    documents = []
    for number, line in enumerate(_normalise(text).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusError(f"{where}: this line is not valid JSON ({err.msg} at column {err.colno}).",
                              "Each line must be one JSON object, such as {\"text\": \"...\"}.") from err
        except (ValueError, RecursionError) as err:  # a number of thousands of digits; nesting thousands deep
            raise CorpusError(f"{where}: this line holds a number too long or lists nested too deep to read.",
                              "Each line must be one JSON object, such as {\"text\": \"...\"}.") from err
        if not isinstance(row, dict):
            raise CorpusError(f"{where}: this line is {_kind(row)}, not a JSON object.",
                              "Each line must be one JSON object, such as {\"text\": \"...\"}.")
        if text_field not in row:
            keys = ", ".join(_shown(k if len(k) <= 30 else k[:29] + "…") for k in sorted(row)[:6])
            keys = keys or "no fields at all"
            raise CorpusError(f"{where}: there is no '{text_field}' field (this line has: {keys}).",
                              "Choose the field that holds the text.")
        value = row[text_field]
        if not isinstance(value, str):
            raise CorpusError(f"{where}: the '{text_field}' field is {_kind(value)}, not text.")
        if not value.strip():
            continue  # an empty document adds nothing; not worth stopping the load for
        if _SURROGATE.search(value):
            # JSON may write half of a character ("\\ud800"); such text cannot be saved or tokenized.
            raise CorpusError(f"{where}: the '{text_field}' field holds a broken character (half of one, "
                              f"written as \\ud800 to \\udfff).", "Fix or remove that character and open it again.")
        topic = row.get("topic")
        topic = topic if isinstance(topic, str) and not _SURROGATE.search(topic) else "other"
        year = row.get("year") if type(row.get("year")) is int else None
        documents.append(Document(value.strip("\n"), topic, "file", year, junk=looks_like_junk(value)))
    if not documents:
        raise CorpusError(f"'{name}' has no lines with text in a '{text_field}' field.",
                          "Choose a JSONL file with one JSON object per line.")
    return LoadedDocuments(Corpus(name, documents_text(documents), str(path)), tuple(documents))
