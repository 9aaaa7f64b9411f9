"""Promise 5, the Data stage's JSONL and folder loads: whatever a user opens with ``read_jsonl`` or
``read_folder``, the loader returns the right documents or raises a ``CorpusError`` with a one-line
message (naming ``file:line`` where one line of a JSONL file is at fault). Nothing else escapes,
nothing hangs (pytest-timeout), nothing is written, and nothing outside the chosen file or folder is read.

Hypothesis writes JSONL files of random bytes, rows with wrong types and missing or extra fields,
JSON nested far too deep, 5000-digit numbers, enormous strings, NUL bytes (raw and escaped) and lines
in mixed encodings; and folders holding text, binary, empty, blank and non-UTF-8 files, files of
other kinds, hidden ones, nested folders, links to files inside and outside the folder, links that
loop, and files that cannot be read. Each answer is checked against an independent reading of the
same bytes: a load must return exactly the documents that reading finds, and a refusal must name
the first line that reading finds wrong.

Bugs found and fixed (``engine/data/corpus.py``):
- A JSONL file that could not be read (no permission, a disk error) escaped as a bare
  ``PermissionError``/``OSError`` instead of "The file '…' cannot be read".
- A JSON key holding a newline or other control character, echoed in "this line has: …", made the
  message several lines long; names of files and folders (Linux allows newlines and bytes that are
  not UTF-8 in them) did the same in the skipped-files list and in errors. They are shown with "?".
- A JSONL text written with half of a UTF-16 pair (``"\\ud800"``) loaded, and then crashed whatever
  encoded it (the corpus fingerprint, the tokenizer) with ``UnicodeEncodeError``; it is now refused
  as "file:line: … a broken character". Such a ``topic`` becomes "other".
- A folder holding a link to a file outside it (``notes/key.txt -> ~/.ssh/id_rsa``) read that file
  into the corpus; it is now skipped and listed. A folder that could not be listed escaped as a bare
  ``PermissionError``; it is now "The folder '…' cannot be read". (A file that vanishes between listing
  and sizing, a race no test here makes, also escaped as ``OSError``; it is now skipped.)
- (Issue 16) Links that loop, links to nothing and links to folders vanished from a folder load
  without being listed; so did folders inside that could not be opened. Every link but one to a file
  inside is now listed, with why, and the oracle checks the words. A file starting with UTF-32's
  byte-order mark was read as UTF-16; a NUL past the first 64 kB loaded. The oracle now reads UTF-32
  first and counts a NUL anywhere as not text.
- A .py file ending (or starting) with a line of spaces kept it, though a program loses its blank
  lines so that it stays one document: the corpus then held "code\\n \\n\\n", which splits differently.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data.corpus import MAX_CORPUS_BYTES, LoadedDocuments, read_folder, read_jsonl
from engine.data.documents import looks_like_junk
from engine.errors import CorpusError, PlainError
from tests.reliability.file_access import files_opened

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAME = "fuzzed.jsonl"
LINE_ERROR = re.compile(re.escape(NAME) + r":(\d+): ")
SURROGATE = re.compile("[\ud800-\udfff]")


def assert_plain(err: PlainError) -> str:
    assert isinstance(err, CorpusError), type(err)
    message = str(err)
    assert message.strip() and message.isprintable() and "Traceback" not in message and len(message) < 500, message
    message.encode("utf-8")  # shows and saves anywhere
    return message


def user_reads(opened, *allowed: Path) -> list[str]:
    """Files read outside ``allowed`` (the system's own /proc figures aside: how much memory is free)."""
    roots = [os.path.realpath(a) for a in allowed]
    return [p for p in opened.read if not p.startswith("/proc/")
            and not any(os.path.realpath(p) == r or os.path.realpath(p).startswith(r + os.sep) for r in roots)]


# --- JSONL ----------------------------------------------------------------------------------------


def expected_jsonl(raw: bytes):
    """An independent reading: ("docs", [(text, topic, year), ...]) or ("line", first bad line) or ("file", None)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return "line", raw[: err.start].count(b"\n") + 1
    docs = []
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except Exception:  # noqa: BLE001 - the oracle only needs to know the line is not JSON
            return "line", number
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            return "line", number
        value = row["text"]
        if not value.strip():
            continue
        if SURROGATE.search(value):
            return "line", number
        topic = row.get("topic")
        topic = topic if isinstance(topic, str) and not SURROGATE.search(topic) else "other"
        year = row.get("year") if type(row.get("year")) is int else None
        docs.append((value.strip("\n"), topic, year))
    return ("docs", docs) if docs else ("file", None)


def load_jsonl(raw: bytes) -> None:
    """Write ``raw`` as a user's file, open it with ``read_jsonl`` and check the answer."""
    with tempfile.TemporaryDirectory(prefix="te-fuzz-jsonl-") as folder:
        path = Path(folder) / NAME
        path.write_bytes(raw)
        with files_opened() as opened:
            try:
                result = read_jsonl(path)
            except PlainError as err:
                result = err
        assert not opened.written, f"loading wrote files: {opened.written}"
        assert not user_reads(opened, path), opened.read
    kind, value = expected_jsonl(raw)
    if isinstance(result, PlainError):
        message = assert_plain(result)
        found = LINE_ERROR.match(message)
        if kind == "line":
            assert found and int(found.group(1)) == value, (message, value)
        else:
            assert kind == "file" and not found and NAME in message, (kind, message)
        return
    assert kind == "docs", (kind, value)
    check_loaded(result, value)
    assert result.skipped == ()


def check_loaded(result: LoadedDocuments, docs) -> None:
    assert [(d.text, d.topic, d.year) for d in result.documents] == docs
    # Symbols are normal in code: a program is never marked as junk.
    assert [d.junk for d in result.documents] == [topic != "code" and looks_like_junk(text) for text, topic, _ in docs]
    assert result.corpus.text == "\n\n".join(text for text, _, _ in docs) + "\n"
    result.corpus.fingerprint  # noqa: B018 - the text encodes (a lone surrogate would raise here)


TEXT = st.text(max_size=30)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
GOOD_TEXT = st.text(min_size=1, max_size=40).filter(str.strip)


@st.composite
def rows(draw) -> dict:
    """A row whose text, topic and year are each missing, of a wrong type, blank or right; plus any extra fields."""
    row = {}
    for key, good in (("text", GOOD_TEXT), ("topic", TEXT), ("year", st.integers(-3000, 3000))):
        fate = draw(st.integers(0, 7))
        if fate:
            row[key] = draw(st.one_of(st.sampled_from([" ", "", "\n\t"]), JSON_VALUES) if fate == 1 else good)
    row.update(draw(st.dictionaries(TEXT, JSON_VALUES, max_size=3)))
    return row


@st.composite
def jsonl_files(draw) -> bytes:
    row = st.one_of(rows(), rows(), rows(), JSON_VALUES, st.just(""), st.just("   "), st.text(max_size=20))
    out = []
    for _ in range(draw(st.integers(1, 6))):
        value = draw(row)
        out.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=draw(st.booleans())))
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(out).encode("utf-8")


@st.composite
def deep_nesting(draw) -> bytes:
    depth = draw(st.integers(1, 100_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opener * depth + "1" + closer * depth
    row = draw(st.sampled_from(['{"text": "some text", "extra": %s}', '{"text": %s}', "%s"]))
    return (row % nested).encode("utf-8")


@st.composite
def enormous_values(draw) -> bytes:
    size = draw(st.integers(100_000, 2_000_000))
    unit = draw(st.sampled_from(["a", "é", "日", "🙂", "\\n", "\\u0000", "\\ud800", "\\udfff\\ud83d\\ude42"]))
    huge = unit * (size // len(unit.encode()))
    field = draw(st.sampled_from(["text", "topic", "extra"]))
    text = '{"text": "short text", "topic": "t", "year": 1999' + f', "{field}": "{huge}"' + "}"
    digits = draw(st.sampled_from([None, 4000, 5000]))  # Python refuses ints of more than 4300 digits
    if digits:
        text = text[:-1] + f', "{draw(st.sampled_from(["year", "n"]))}": {"7" * digits}' + "}"
    return text.encode("utf-8")


@st.composite
def with_nul_bytes(draw) -> bytes:
    data = bytearray(draw(jsonl_files()))
    for _ in range(draw(st.integers(1, 4))):
        data.insert(draw(st.integers(0, len(data))), 0)
    return bytes(data)


ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32", "shift_jis", "koi8-r"]


@st.composite
def mixed_encodings(draw) -> bytes:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        row = {"text": draw(st.text(min_size=1, max_size=20)).strip() or "é", "topic": draw(TEXT)}
        out.append(json.dumps(row, ensure_ascii=False).encode(draw(st.sampled_from(ENCODINGS)), errors="replace"))
    return draw(st.sampled_from([b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE])) + b"\n".join(out)


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_jsonl_random_bytes(raw):
    load_jsonl(raw)


@settings(FUZZ, max_examples=120)
@given(raw=jsonl_files())
def test_jsonl_wrong_types_missing_and_extra_fields(raw):
    load_jsonl(raw)


@settings(FUZZ, max_examples=15)
@given(raw=deep_nesting())
def test_jsonl_deep_nesting(raw):
    load_jsonl(raw)


@settings(FUZZ, max_examples=10)
@given(raw=enormous_values())
def test_jsonl_enormous_strings_and_numbers(raw):
    load_jsonl(raw)


@FUZZ
@given(raw=with_nul_bytes())
def test_jsonl_nul_bytes(raw):
    load_jsonl(raw)


@FUZZ
@given(raw=mixed_encodings())
def test_jsonl_mixed_encodings(raw):
    load_jsonl(raw)


@pytest.mark.parametrize("raw", [
    b"", b"\n\n  \r\n", codecs.BOM_UTF8, b"\x00", b"null", b"[]", b"{}", b'"text"', b"1" * 5000,
    b'{"text": "\\u0000"}', b'{"text": "a\\ud800b"}', b'{"text": "ok", "topic": "\\udc00"}',
    b'{"te\\nxt": 1}', b'{"\\u2028\\u0085\\u0000": 1}', b'{"text": 1e999}', b'{"text": "x", "year": 1e999}',
    b"NaN", b'{"text": NaN}', b"\xef\xbb\xbf\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b'{"text": "a"}\n\xff',
], ids=lambda raw: repr(raw[:16]))
def test_jsonl_edge_cases_get_a_plain_error_or_load(raw):
    load_jsonl(raw)


def test_a_jsonl_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / NAME
    with open(path, "wb") as f:  # sparse: the size is there, the disk space is not used
        f.truncate(MAX_CORPUS_BYTES + 1)
    with files_opened() as opened:
        with pytest.raises(CorpusError, match="over the limit of 50 MB") as caught:
            read_jsonl(path)
    assert_plain(caught.value)
    assert not opened.all  # refused from its size alone


def test_a_jsonl_file_that_cannot_be_read_is_refused_in_words(tmp_path, monkeypatch):
    path = tmp_path / NAME
    path.write_text('{"text": "some text"}\n')

    def no_permission(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", no_permission)
    with pytest.raises(CorpusError, match="cannot be read: this user account is not allowed to open it") as caught:
        read_jsonl(path)
    assert_plain(caught.value)


# --- folders ---------------------------------------------------------------------------------------

WORDS = st.text(alphabet=st.sampled_from("abcdefghij KLMN.,'é日🙂\t"), min_size=1, max_size=30)
PARAGRAPH = st.lists(WORDS, min_size=1, max_size=3).map("\n".join)


@st.composite
def clean_text(draw) -> bytes:
    """Text the folder load must read: UTF-8 (perhaps with a BOM), paragraphs, any line ending."""
    text = draw(st.sampled_from(["\n\n", "\n \t\n", "\n\n\n"])).join(draw(st.lists(PARAGRAPH, min_size=1, max_size=4)))
    if not text.strip():
        text += "x"
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return draw(st.sampled_from([b"", codecs.BOM_UTF8])) + text.replace("\n", ending).encode("utf-8")


CONTENTS = st.one_of(
    clean_text(), clean_text(), clean_text(),
    st.binary(max_size=300),  # anything at all: its fate is up to the loader, its answer is checked
    st.just(b""), st.just(b" \n\t \r\n"),  # empty and blank
    st.binary(min_size=1, max_size=100).map(lambda b: b"\x00" + b),  # binary
    st.just("café crème".encode("latin-1")),  # not UTF-8
    st.text(max_size=40).map(lambda t: codecs.BOM_UTF16_LE + (t or "x").encode("utf-16-le")),
    st.text(max_size=40).map(lambda t: codecs.BOM_UTF32_LE + (t or "x").encode("utf-32-le")),
    st.text(max_size=40).map(lambda t: codecs.BOM_UTF32_BE + (t or "x").encode("utf-32-be")),
)
FILE_NAMES = st.sampled_from(["a", "b", "Z", "notes", "é", "line\nbreak", "sp ace", "x" * 60])
SUFFIXES = st.sampled_from([".txt", ".md", ".py", ".TXT", ".bin", ".png", ".json", ""])
PARTS = st.lists(st.sampled_from(["sub", "deeper", ".hidden", "日本"]), max_size=3)
LINKS = st.sampled_from(["outside-file", "outside-folder", "inside-file", "loop-folder", "self-loop", "dangling"])


def in_name_order(relative: str) -> list[str]:
    """Folder by folder ("a/x.txt" before "a.txt"), as a file manager lists a tree."""
    return relative.split("/")


def expected_text(raw: bytes) -> str | None:
    """The text of a file the load may read (None: it must be skipped), decoded independently."""
    try:
        if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE starts both
            text = raw.decode("utf-32")
        elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = raw.decode("utf-16")
        else:
            text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.strip() and "\x00" not in text else None  # a NUL anywhere: not text


def expected_documents(relative: str, text: str) -> list[tuple[str, str, None]]:
    if relative.lower().endswith(".py"):
        return [("\n".join(line for line in text.split("\n") if line.strip(" \t")), "code", None)]
    parts = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text)]
    return [(p, "other", None) for p in parts if p.strip()]


@st.composite
def folders(draw):
    """(files: relative path -> bytes, links: relative path -> kind, unreadable: relative paths)."""
    files = {}
    for _ in range(draw(st.integers(0, 7))):
        parts = draw(PARTS) + [draw(FILE_NAMES) + draw(SUFFIXES)]
        relative = "/".join(parts)
        if not any(relative.startswith(other + "/") or other.startswith(relative + "/") for other in files):
            files[relative] = draw(CONTENTS)
    links = {f"link{i}{draw(st.sampled_from(['.txt', '.md', '']))}": draw(LINKS)
             for i in range(draw(st.integers(0, 3)))}
    unreadable = draw(st.sets(st.sampled_from(sorted(files)), max_size=2)) if files else set()
    return files, links, unreadable


def make_folder(root: Path, files: dict, links: dict) -> Path:
    folder, outside = root / "notes", root / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("A private text that must never be read.\n")
    for relative, raw in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
    first_inside = next((relative for relative in sorted(files)), None)
    for name, kind in links.items():
        link = folder / name
        if kind == "outside-file":
            link.symlink_to(outside / "secret.txt")
        elif kind == "outside-folder":
            link.symlink_to(outside, target_is_directory=True)
        elif kind == "inside-file" and first_inside is not None:
            link.symlink_to(folder / first_inside)
        elif kind == "loop-folder":
            (folder / "sub").mkdir(exist_ok=True)
            link.symlink_to(folder, target_is_directory=True)
        elif kind == "self-loop":
            link.symlink_to(link)
        else:
            link.symlink_to(root / "nowhere.txt")
    return folder


def load_folder(files: dict, links: dict, unreadable: set) -> None:
    with tempfile.TemporaryDirectory(prefix="te-fuzz-folder-") as root:
        folder = make_folder(Path(root), files, links)
        real_read_bytes = Path.read_bytes
        denied = {str(folder / relative) for relative in unreadable}

        def read_bytes(self):
            if str(self) in denied:
                raise PermissionError(13, "Permission denied")
            return real_read_bytes(self)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Path, "read_bytes", read_bytes)
            with files_opened() as opened:
                try:
                    result = read_folder(folder)
                except PlainError as err:
                    result = err
        assert not opened.written, f"loading wrote files: {opened.written}"
        assert not user_reads(opened, folder), opened.read  # never the linked secret outside

        # The independent reading: what each listed file holds, in name order.
        visible = {r: raw for r, raw in files.items() if not any(p.startswith(".") for p in r.split("/"))}
        link_reasons = {}  # what each link left out is listed as, and words its reason must hold
        for name, kind in links.items():
            if kind == "inside-file" and files:
                visible[name] = files[sorted(files)[0]]  # read through the link, even if its target is hidden
            elif kind in ("outside-folder", "loop-folder"):  # links to folders are listed, never followed
                link_reasons[name + "/"] = "a link"
            elif kind != "inside-file":
                visible[name] = None  # must be skipped
                link_reasons[name] = {"outside-file": "outside this folder", "self-loop": "loops back on itself",
                                      "dangling": "not there"}[kind]
        docs, must_skip, may_read = [], set(), {}
        for relative in sorted(visible, key=in_name_order):
            raw = visible[relative]
            wanted = os.path.splitext(relative)[1].lower() in (".txt", ".md", ".py")
            if not wanted or raw is None or relative in unreadable:
                must_skip.add(relative)
            else:
                may_read[relative] = expected_text(raw)
                if may_read[relative] is None:
                    must_skip.add(relative)
    # Clean text must be read; other files (NUL or control bytes, say) may be skipped as binary.
    clean = {r for r, text in may_read.items() if text is not None and all(c.isprintable() or c in "\t\n" for c in text)}
    if isinstance(result, PlainError):
        message = assert_plain(result)
        assert not clean and "no readable" in message, (message, may_read)
        return
    skipped = set(result.skipped)
    assert not clean & skipped, (clean, skipped)
    assert list(result.skipped) == sorted(result.skipped) and skipped <= set(visible) | set(link_reasons), \
        (result.skipped, visible)
    assert must_skip | set(link_reasons) <= skipped, (must_skip, link_reasons, skipped)
    reasons = dict(zip(result.skipped, result.reasons))
    assert len(result.reasons) == len(result.skipped) and all(reasons.values()), reasons
    assert all(words in reasons[name] for name, words in link_reasons.items()), (link_reasons, reasons)
    denied = {name for name in unreadable if name in visible and files[name]  # an empty file is never opened
              and os.path.splitext(name)[1].lower() in (".txt", ".md", ".py")}
    assert all(reasons[name].startswith("cannot be read: ") for name in denied), (denied, reasons)
    for relative in sorted(visible, key=in_name_order):
        if relative not in skipped:
            docs += expected_documents(relative, may_read[relative])
    check_loaded(result, docs)
    assert result.skipped_message.isprintable()


@settings(FUZZ, max_examples=100)
@given(folder=folders())
def test_folders_of_odd_files(folder):
    load_folder(*folder)


def test_a_folder_over_the_limit_is_refused_before_any_file_is_read(tmp_path):
    (tmp_path / "small.txt").write_text("Some real text.\n")
    (tmp_path / "sub").mkdir()
    with open(tmp_path / "sub" / "huge.md", "wb") as f:  # sparse: the size is there, the disk space is not used
        f.truncate(MAX_CORPUS_BYTES)
    with open(tmp_path / "huge.bin", "wb") as f:  # a kind of file the load leaves out: its size does not count
        f.truncate(10 * MAX_CORPUS_BYTES)
    with files_opened() as opened:
        with pytest.raises(CorpusError, match="over the limit of 50 MB") as caught:
            read_folder(tmp_path)
    assert_plain(caught.value)
    assert not user_reads(opened)  # refused from the sizes alone


def test_a_folder_that_cannot_be_listed_is_refused_in_words(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("Some real text.\n")

    def no_permission(self, pattern):
        raise PermissionError(13, "Permission denied")

    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == tmp_path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(CorpusError, match="cannot be read: this user account is not allowed to open it") as caught:
        read_folder(tmp_path)
    assert_plain(caught.value)


def test_names_that_break_lines_are_shown_on_one_line(tmp_path):
    (tmp_path / "good.txt").write_text("Some real text.\n")
    (tmp_path / "two\nlines.png").write_bytes(b"\x89PNG")
    loaded = read_folder(tmp_path)
    assert loaded.skipped == ("two\nlines.png",)
    assert loaded.skipped_message == "1 file skipped: two?lines.png (not a .txt, .md or .py file)."
