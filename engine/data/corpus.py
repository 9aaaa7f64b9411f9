"""Corpora: the bundled ones, and text the user opens, checked and explained in plain words.

A corpus is just text plus where it came from. Reading a user's file is where most things go wrong
(empty, binary, not UTF-8, too big), so every failure here raises a ``CorpusError`` whose message
tells the user what happened and what to try. Besides single text files, the user can open a
folder of .txt/.md/.py files (what cannot be read is skipped and listed with why) or a JSONL file with one
document per line (a malformed line is named by file and line number, without echoing the row).
These loaders only read and raise: they never touch what the user has already curated, so a bad
load loses nothing. Nothing in this file imports JAX.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from engine.data.documents import Document, documents_from_text, documents_text, looks_like_junk
from engine.errors import CorpusError, EncodingProblem, TooLargeForMemory

REPO_ROOT = Path(__file__).resolve().parents[2]  # engine/data/corpus.py → the repository
SAMPLE_CORPORA_DIR = REPO_ROOT / "sample_corpora"
DEFAULT_CORPUS_KEY = "fictional_world"

# Memory to read a text, split it into documents, curate it and tokenise it (learning BPE, then
# encoding), per byte of file plus a fixed part for the tokenizers' batches. benchmarks/corpus_memory.py
# measured the peak at 13.2 bytes per byte on tinyshakespeare copied 16 times (18 MB; BPE with the
# smallest vocabulary, the most tokens; characters 12.5) and 35 MB on it once (1.1 MB, 31.6 bytes per
# byte: there the batches' fixed part shows). 20 per byte is 1.5 times the first; with 64 MB fixed, the
# 1.1 MB file is allowed 86 MB, over twice the second. The margin leaves room for the app's own copies
# (undo history, a few cached tokenisations) and text whose bytes make more tokens than English.
# Training's own needs (the model, the tokens on the device) are checked again when it starts.
MEMORY_BYTES_PER_FILE_BYTE = 20
MEMORY_FIXED_BYTES = 64 * 2**20
# Larger than any corpus a 2-core CPU can train on in minutes; bigger loads are refused with this named.
MAX_CORPUS_BYTES = 50 * 2**20
FOLDER_SUFFIXES = (".txt", ".md", ".py")
_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: JSON can write one, UTF-8 cannot
_SNIFF_BYTES = 64 * 1024
# UTF-32's marks first: little-endian UTF-32's (FF FE 00 00) starts with little-endian UTF-16's (FF FE).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


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


def memory_needed_bytes(size: int) -> int:
    """Memory that loading and tokenising ``size`` bytes of text may take (see MEMORY_BYTES_PER_FILE_BYTE)."""
    return MEMORY_FIXED_BYTES + size * MEMORY_BYTES_PER_FILE_BYTE


def _check_fits_in_memory(what: str, size: int, hint: str) -> None:
    """Refuse, from its size alone, text that would not fit in the memory this computer has free."""
    free = available_memory_bytes()
    needed = memory_needed_bytes(size)
    if free is not None and needed > free:
        raise TooLargeForMemory(
            f"{what} is {_human_size(size)}; training on it would need about {_human_size(needed)} of "
            f"memory, and this computer has {_human_size(free)} free.", hint)


def _bom_encoding(raw: bytes) -> str | None:
    """"utf-32" or "utf-16" when ``raw`` starts with that encoding's mark (BOM)."""
    return next((encoding for bom, encoding in _BOMS if raw.startswith(bom)), None)


def _looks_binary(head: bytes) -> bool:
    """NUL bytes or many control characters mean it is not text (UTF-16 and UTF-32 aside)."""
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control > max(8, len(head) // 50)


def _unmarked_utf16_or_32(head: bytes) -> str | None:
    """"utf-16-le", "utf-16-be", "utf-32-le" or "utf-32-be" when the NUL bytes fall where that encoding
    puts them for mostly Latin text, and the start reads cleanly that way; None otherwise."""
    n = len(head) - len(head) % 4
    if n < 8:
        return None
    zeros = [head[i:n:4].count(0) / (n // 4) for i in range(4)]  # share of NULs at each place of four
    high, low = 0.6, 0.1
    patterns = {"utf-32-le": (low, high, high, high), "utf-32-be": (high, high, high, low),
                "utf-16-le": (low, high, low, high), "utf-16-be": (high, low, high, low)}
    for encoding, pattern in patterns.items():
        if all(z >= p if p == high else z <= p for z, p in zip(zeros, pattern)):
            try:
                text = codecs.getincrementaldecoder(encoding)().decode(head[:n], final=False)
            except UnicodeDecodeError:
                return None
            return encoding if "\x00" not in text and sum(c.isprintable() or c in "\t\n\r" for c in text) \
                >= 0.95 * len(text) else None
    return None


def _plain_encoding(encoding: str) -> str:
    """"utf-16-le" as "UTF-16 (little-endian)"."""
    return encoding.upper().replace("-LE", " (little-endian)").replace("-BE", " (big-endian)")


def _why_unreadable(err: OSError) -> str:
    """Why the system would not let us read a file, in words."""
    if isinstance(err, PermissionError):
        return "this user account is not allowed to open it"
    return (err.strerror or str(err)).rstrip(".").lower() or "the system would not say why"


def _refused(err: CorpusError, reason: str) -> CorpusError:
    """``err`` with a few words (``reason``) that a folder load lists beside the file it skipped."""
    err.reason = reason
    return err


def read_text_file(path: str | os.PathLike, encoding: str | None = None,
                   max_bytes: int | None = None) -> Corpus:
    """Read a text file as a corpus, or raise a CorpusError that says what is wrong.

    ``encoding`` is None for "UTF-8, please" (the only guess we make silently, besides an encoding the
    file itself names with a byte-order mark); the user can then choose one of
    ``EncodingProblem.suggested_encodings`` and we read it again with that. A file a folder load skips
    raises an error whose ``reason`` says why in a few words.
    """
    path = Path(path)
    name = _shown(path.name)  # for messages; the corpus keeps the real name
    try:
        if not path.exists():
            raise _refused(CorpusError(f"The file '{name}' does not exist (any more).", "Choose another file."),
                           "gone")
        if path.is_dir():
            raise _refused(CorpusError(f"'{name}' is a folder, not a text file.", "Choose a .txt file."), "a folder")
        size = path.stat().st_size
    except OSError as err:  # a folder on the way that this account may not open, say
        raise _unreadable(name, err) from err
    if size == 0:
        raise _refused(CorpusError(f"The file '{name}' is empty.", "Choose a file with some text in it."), "empty")
    max_bytes = MAX_CORPUS_BYTES if max_bytes is None else max_bytes  # read now, so tests can lower it
    if size > max_bytes:
        raise _refused(_size_limit_error(f"The file '{name}'", size, max_bytes), "too large")
    try:
        _check_fits_in_memory(f"The file '{name}'", size, "Use a shorter part of the file.")
    except TooLargeForMemory as err:
        raise _refused(err, "too large for this computer's memory") from None
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise _unreadable(name, err) from err
    except MemoryError as err:
        raise _refused(TooLargeForMemory(f"The file '{name}' is too large to load on this computer."),
                       "too large for this computer's memory") from err
    if encoding is None and _bom_encoding(raw) is None and _looks_binary(raw[:_SNIFF_BYTES]):
        unmarked = _unmarked_utf16_or_32(raw[:_SNIFF_BYTES])
        if unmarked:
            raise _refused(EncodingProblem(
                f"'{name}' looks like text saved as {_plain_encoding(unmarked)}, but without the mark at its "
                f"start that says so.",
                f"Choose to read it as {unmarked}, or save it as UTF-8 in a text editor.",
                suggested_encodings=(unmarked,)), "not UTF-8")
        raise _not_text(name)
    text = _decode(raw, name, encoding)
    if "\x00" in text:  # past the start checked above, or in text read with an encoding the user chose
        where = len(text[:text.index("\x00")].encode("utf-8", "replace"))
        raise _not_text(name, f", from about {_human_size(where)} into it" if where >= _SNIFF_BYTES else "")
    if not text.strip():
        raise _refused(CorpusError(f"The file '{name}' contains only blank space.",
                                   "Choose a file with some text in it."), "only blank space")
    return Corpus(path.name, text, str(path))


def _unreadable(name: str, err: OSError) -> CorpusError:
    why = _why_unreadable(err)
    hint = "Ask whoever manages this computer for access, or copy the file somewhere you can open it." \
        if isinstance(err, PermissionError) else "Check that the disk or network drive is still there."
    return _refused(CorpusError(f"The file '{name}' cannot be read: {why}.", hint), f"cannot be read: {why}")


def _not_text(name: str, where: str = "") -> CorpusError:
    return _refused(CorpusError(
        f"'{name}' is not a text file (it looks like a program, picture or other binary data{where}).",
        "Choose a plain text file (.txt)."), "not text")


def _decode(raw: bytes, name: str, encoding: str | None) -> str:
    if encoding is None:
        encoding = _bom_encoding(raw)
        if encoding is None:
            try:
                return _normalise(raw.decode("utf-8-sig"))
            except UnicodeDecodeError as err:
                raise _refused(EncodingProblem(
                    f"'{name}' is not written in UTF-8, the usual text encoding "
                    f"(byte {err.start} could not be read).",
                    "It may be an older Western European (Latin-1) or a UTF-16 file: choose one to try.",
                    suggested_encodings=("latin-1", "utf-16"),
                ), "not UTF-8") from err
    try:
        return _normalise(raw.decode(encoding))
    except (UnicodeDecodeError, LookupError) as err:
        problem = (f"'{name}' starts with the mark of {encoding} text, but could not be read as {encoding}."
                   if _bom_encoding(raw) == encoding else f"'{name}' could not be read as {encoding} either.")
        raise _refused(EncodingProblem(
            problem,
            "Try another encoding, or save the file as UTF-8 in a text editor.",
            suggested_encodings=tuple(e for e in ("utf-8", "latin-1", "utf-16") if e != encoding),
        ), f"not {encoding}") from err


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
    reasons: tuple[str, ...] = ()  # why each was left out, in a few words ("not text"), in the same order

    @property
    def skipped_message(self) -> str:
        """E.g. "3 files skipped: a.bin, b.dat (not a .txt, .md or .py file); c.txt (empty)." (empty when
        nothing was skipped): the first eight names, each group followed by why it was left out."""
        if not self.skipped:
            return ""
        groups: dict[str, list[str]] = {}
        for name, reason in zip(self.skipped[:8], self.reasons[:8] or ("",) * 8):
            groups.setdefault(reason, []).append(_shown(name))
        shown = "; ".join(", ".join(names) + (f" ({_shown(reason)})" if reason else "")
                          for reason, names in groups.items())
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
    """2.1 GB, 1.5 MB, 200 KB or 50 bytes, with no needless ".0"."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
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
    listed with the reason, not fatal: a folder of notes often holds a picture or two. So are links
    that loop or lead outside the folder, links to folders (never followed) and folders inside that
    cannot be opened. Text files are split into paragraphs; each program stays whole, since a blank
    line inside code does not end it.
    """
    folder = Path(path)
    shown_folder = _shown(folder.name)
    try:
        if not folder.is_dir():
            raise CorpusError(f"'{shown_folder}' is not a folder (any more).", "Choose a folder.")
        inside = folder.resolve(strict=True)
    except (OSError, RuntimeError) as err:  # RuntimeError: a link loop met while resolving
        raise _folder_unreadable(shown_folder, err) from err
    wanted, sizes = [], {}
    left_out: dict[str, str] = {}  # relative name -> why it was left out

    def unopened(err: OSError) -> None:  # os.walk met a folder it could not list
        if err.filename is None or Path(err.filename) == folder:
            raise _folder_unreadable(shown_folder, err) from err
        left_out[Path(err.filename).relative_to(folder).as_posix() + "/"] = \
            f"a folder that cannot be opened: {_why_unreadable(err)}"

    for top, folders, names in os.walk(folder, onerror=unopened):  # never follows links to folders
        top = Path(top)
        folders[:] = sorted(d for d in folders if not d.startswith("."))
        for d in list(folders):
            if (top / d).is_symlink():
                folders.remove(d)
                left_out[(top / d).relative_to(folder).as_posix() + "/"] = _linked_folder_reason(top / d)
        for file_name in names:
            if file_name.startswith("."):
                continue
            p = top / file_name
            relative = p.relative_to(folder).as_posix()
            reason = _unwanted_file_reason(p, inside)
            if reason:
                left_out[relative] = reason
            else:
                wanted.append(p)
    wanted.sort()  # folder by folder, as a file manager lists a tree: "a/x.txt" before "a.txt"
    readable = []
    for p in wanted:
        try:
            sizes[p] = p.stat().st_size
        except OSError as err:  # gone since listing, say
            left_out[p.relative_to(folder).as_posix()] = f"cannot be read: {_why_unreadable(err)}"
            continue
        readable.append(p)
    total = sum(sizes[p] for p in readable)
    max_bytes = MAX_CORPUS_BYTES if max_bytes is None else max_bytes
    if total > max_bytes:
        raise _size_limit_error(f"The text in '{shown_folder}'", total, max_bytes)
    _check_fits_in_memory(f"The text in '{shown_folder}'", total, "Choose a folder with fewer or shorter files.")
    documents: list[Document] = []
    for p in readable:
        try:
            text = read_text_file(p).text
        except CorpusError as err:  # binary, not UTF-8, empty or unreadable: listed below instead
            left_out[p.relative_to(folder).as_posix()] = getattr(err, "reason", "cannot be used")
            continue
        if p.suffix.lower() == ".py":
            # Blank lines separate documents in the corpus, so a program loses its blank lines.
            code = "\n".join(line for line in text.split("\n") if line.strip(" \t"))
            documents.append(Document(code, "code", "code"))  # symbols are normal in code, not junk
        else:
            documents += documents_from_text(text, "file")
    skipped = tuple(sorted(left_out))
    reasons = tuple(left_out[name] for name in skipped)
    if not documents:
        listing = LoadedDocuments(Corpus("", "", ""), (), skipped, reasons).skipped_message
        raise CorpusError(f"The folder '{shown_folder}' has no readable .txt, .md or .py files. {listing}".strip(),
                          "Choose a folder with text files in it.")
    corpus = Corpus(folder.name, documents_text(documents), str(folder))
    return LoadedDocuments(corpus, tuple(documents), skipped, reasons)


def _folder_unreadable(shown_folder: str, err: OSError | RuntimeError) -> CorpusError:
    why = _why_unreadable(err) if isinstance(err, OSError) else "a link on its way loops back on itself"
    return CorpusError(f"The folder '{shown_folder}' cannot be read: {why}.", "Choose another folder.")


def _linked_folder_reason(link: Path) -> str:
    """Why a link to a folder is left out: links to folders are never followed (one back up would loop)."""
    try:
        target = link.resolve(strict=True)
        parent = link.parent.resolve(strict=True)
    except (OSError, RuntimeError):
        return "a link that loops back on itself"
    if parent.is_relative_to(target):
        return "a link back to a folder it is in"
    return "a link to a folder (links to folders are not followed)"


def _unwanted_file_reason(p: Path, inside: Path) -> str:
    """Why the file at ``p`` is left out before reading it, or "" to read it."""
    try:
        if p.is_symlink():
            try:
                target = p.resolve(strict=True)
            except RuntimeError:  # Python 3.11 reports a loop this way; later ones as OSError ELOOP
                return "a link that loops back on itself"
            except FileNotFoundError:
                return "a link to something that is not there"
            except OSError as err:
                if err.errno == errno.ELOOP:
                    return "a link that loops back on itself"
                return f"a link that cannot be followed: {_why_unreadable(err)}"
            # A link to a file outside the folder is left out: opening a folder must not pull in,
            # say, a private file that a shared folder links to.
            if not target.is_relative_to(inside):
                return "a link to a file outside this folder"
        if p.suffix.lower() not in FOLDER_SUFFIXES:
            return f"not a {', '.join(FOLDER_SUFFIXES[:-1])} or {FOLDER_SUFFIXES[-1]} file"
        if not stat.S_ISREG(p.stat().st_mode):  # a named pipe would wait forever for a writer
            return "not an ordinary file"
    except OSError as err:
        return f"cannot be read: {_why_unreadable(err)}"
    return ""


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
    try:
        if not path.is_file():
            raise CorpusError(f"The file '{name}' does not exist (any more).", "Choose another file.")
        size = path.stat().st_size
        max_bytes = MAX_CORPUS_BYTES if max_bytes is None else max_bytes  # read now, so tests can lower it
        if size > max_bytes:
            raise _size_limit_error(f"The file '{name}'", size, max_bytes)
        _check_fits_in_memory(f"The file '{name}'", size, "Use a shorter part of the file.")
        raw = path.read_bytes()
    except OSError as err:  # no permission, on the file or a folder on its way; a disk error
        raise _unreadable(name, err) from err
    except MemoryError as err:
        raise TooLargeForMemory(f"The file '{name}' is too large to load on this computer.") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        marked = _bom_encoding(raw)
        if marked:  # the whole file is in another encoding: say so, rather than blame line 1
            raise CorpusError(f"{name}:1: this file is saved as {marked.upper()}, but JSONL files must be UTF-8.",
                              "Save the file as UTF-8 and open it again.") from err
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
            unmarked = _unmarked_utf16_or_32(raw[:_SNIFF_BYTES])
            if unmarked:  # NUL bytes between the letters: the file is UTF-16 or UTF-32 with no mark saying so
                raise CorpusError(f"{where}: this line is not valid JSON, because the file looks saved as "
                                  f"{_plain_encoding(unmarked)}, but JSONL files must be UTF-8.",
                                  "Save the file as UTF-8 and open it again.") from err
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
