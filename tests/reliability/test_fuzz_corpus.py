"""Promise 5, corpus files: whatever bytes a user opens, ``read_text_file`` returns a Corpus or raises
a ``CorpusError`` (or a subclass) with a one-line message. Nothing else, no hang, no file written, and
a loaded corpus never holds a NUL character (the mark of binary data, wherever it is in the file).

Hypothesis generates random bytes, text in mixed encodings (with and without byte-order marks),
huge lines and NUL bytes, and reads each file with no encoding (the silent UTF-8 path) and with one a
user could pick from the "try another encoding" offer, including a name Python does not know.
"""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data.corpus import Corpus, read_text_file
from engine.errors import CorpusError
from tests.reliability.file_access import files_opened

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "shift_jis",
             "koi8-r"]
CHOSEN = st.sampled_from([None, None, "utf-8", "latin-1", "utf-16", "cp1252", "no-such-encoding"])
BOMS = st.sampled_from([b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE,
                        codecs.BOM_UTF32_BE])


@st.composite
def mixed_encodings(draw) -> bytes:
    pieces = draw(st.lists(st.tuples(st.text(max_size=40), st.sampled_from(ENCODINGS)), min_size=1, max_size=6))
    return draw(BOMS) + b"".join(text.encode(enc, errors="replace") for text, enc in pieces)


@st.composite
def huge_lines(draw) -> bytes:
    """One to three lines of 0.5 to 3 MB each, no line break inside: cheap to make, heavy to read."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        unit = draw(st.sampled_from(["a", "é", "日本", "🙂", " ", "\r", "ab\r\n", "\x00"]))
        size = len(unit.encode())
        lines.append(unit * draw(st.integers(-(-500_000 // size), 3_000_000 // size)))  # ceil: >= 0.5 MB
    return draw(BOMS) + draw(st.sampled_from(["\n", "\r\n", ""])).join(lines).encode(
        draw(st.sampled_from(["utf-8", "utf-16"])), errors="replace")


@st.composite
def with_nul_bytes(draw) -> bytes:
    data = bytearray(draw(st.text(min_size=1, max_size=200)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 5))):
        data.insert(draw(st.integers(0, len(data))), 0)
    return draw(BOMS) + bytes(data)


def read_fuzzed(raw: bytes, encoding: str | None, name: str = "fuzzed.txt"):
    """Read ``raw`` as a user's file; returns the Corpus or the CorpusError, lets anything else escape."""
    with tempfile.TemporaryDirectory(prefix="te-fuzz-corpus-") as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        with files_opened() as opened:
            try:
                result = read_text_file(path, encoding)
            except CorpusError as err:
                result = err
        assert not opened.written, f"reading a corpus wrote files: {opened.written}"
        # Reading the system's own figures (/proc/meminfo: how much memory is free) is not touching user files.
        user_files = {p for p in opened.read if not p.startswith("/proc/")}
        assert user_files <= {str(path)}, opened.read
    if isinstance(result, CorpusError):
        message = str(result)
        assert message.strip() and "\n" not in message and "Traceback" not in message
    else:
        assert isinstance(result, Corpus) and isinstance(result.text, str)
        assert result.text.strip() and "\r" not in result.text  # line endings are normalised
        assert "\x00" not in result.text
        assert result.name == name
    return result


@FUZZ
@given(raw=st.binary(max_size=4096), encoding=CHOSEN)
def test_random_bytes(raw, encoding):
    read_fuzzed(raw, encoding)


@FUZZ
@given(raw=mixed_encodings(), encoding=CHOSEN)
def test_text_in_mixed_encodings(raw, encoding):
    result = read_fuzzed(raw, encoding)
    if encoding == "latin-1" and isinstance(result, Corpus):
        assert len(result.text) <= len(raw)  # every byte is one character in Latin-1


@settings(FUZZ, max_examples=12)
@given(raw=huge_lines(), encoding=CHOSEN)
def test_huge_lines(raw, encoding):
    assert len(raw) >= 500_000
    read_fuzzed(raw, encoding)


@FUZZ
@given(raw=with_nul_bytes(), encoding=CHOSEN)
def test_nul_bytes(raw, encoding):
    read_fuzzed(raw, encoding)


@pytest.mark.parametrize("raw", [b"", b"   \n\t ", b"\x00" * 100, codecs.BOM_UTF8, codecs.BOM_UTF16_LE,
                                 codecs.BOM_UTF16_LE + b"\x00", b"\xff\xfe\x00\xd8", b"\xef\xbb\xbf\xff"])
@pytest.mark.parametrize("encoding", [None, "utf-8", "utf-16", "latin-1", "no-such-encoding"])
def test_edge_cases_get_a_plain_error_or_load(raw, encoding):
    read_fuzzed(raw, encoding)


def test_valid_utf8_text_always_loads_unchanged_apart_from_line_endings():
    text = "Grüße, 世界! 🙂\r\nline two\rline three\n"
    corpus = read_fuzzed(text.encode("utf-8"), None)
    assert corpus.text == "Grüße, 世界! 🙂\nline two\nline three\n"
