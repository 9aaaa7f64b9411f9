"""Promise 5, the tuning stages' JSONL sets: whatever a user opens as instruction pairs, preference
pairs, a benchmark or a red-team set, the loader returns the rows or raises a ``PlainError`` naming
``file:line``. Nothing else escapes, nothing hangs (pytest-timeout), nothing is written.

Hypothesis writes files of random bytes, rows with wrong types and missing or extra fields, JSON
nested far too deep, enormous strings, NUL bytes (raw and escaped) and lines in mixed encodings.
Each file goes through all four loaders, and each answer is checked against an independent reading
of the same bytes: a load must return exactly the rows that reading finds, and a refusal must name
the first line that reading finds wrong.

A required field longer than ``MAX_FIELD_CHARS`` is a bad line like any other (the oracle knows the
limit); ``test_a_field_over_the_length_limit_is_refused_in_words`` checks the sentence itself.

Bug found and fixed: a whole number of more than 4300 digits (``{"prompt": 1111…}``) made Python's
JSON reader raise a plain ``ValueError``, which escaped as a crash instead of "file:line: not valid JSON".
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import PlainError, TuningDataError
from engine.data.tuning_data import (BENCHMARK_FIELDS, INSTRUCTION_FIELDS, MAX_FIELD_CHARS, MAX_TUNING_FILE_BYTES,
                                PREFERENCE_FIELDS,
                                RED_TEAM_FIELDS, InstructionExample, PreferencePair, load_benchmark,
                                load_instructions, load_preferences, load_red_team)
from tests.reliability.file_access import files_opened

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAME = "fuzzed.jsonl"
LOADERS = {  # loader -> (required fields, whether the two answers must differ)
    load_instructions: (INSTRUCTION_FIELDS, False),
    load_preferences: (PREFERENCE_FIELDS, True),
    load_benchmark: (BENCHMARK_FIELDS, False),
    load_red_team: (RED_TEAM_FIELDS, False),
}
ALL_FIELDS = sorted(set(INSTRUCTION_FIELDS + PREFERENCE_FIELDS + BENCHMARK_FIELDS + RED_TEAM_FIELDS))
LINE_ERROR = re.compile(re.escape(NAME) + r":(\d+): ")


def expected(raw: bytes, required, distinct: bool):
    """An independent reading: ("rows", [row, ...]) or ("line", first bad line) or ("file", None)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return "line", raw[: err.start].count(b"\n") + 1
    rows = []
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except Exception:  # noqa: BLE001 - the oracle only needs to know the line is not JSON
            return "line", number
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) and row[k].strip() for k in required):
            return "line", number
        if any(len(row[k]) > MAX_FIELD_CHARS for k in required):
            return "line", number
        if distinct and row["chosen"].strip() == row["rejected"].strip():
            return "line", number
        rows.append(row)
    return ("rows", rows) if rows else ("file", None)


def load_fuzzed(raw: bytes) -> None:
    """Write ``raw`` as a user's file, open it with every loader and check each answer."""
    with tempfile.TemporaryDirectory(prefix="te-fuzz-jsonl-") as folder:
        path = Path(folder) / NAME
        path.write_bytes(raw)
        for loader, (required, distinct) in LOADERS.items():
            with files_opened() as opened:
                try:
                    result = loader(path)
                except PlainError as err:
                    result = err
            assert not opened.written, f"loading wrote files: {opened.written}"
            assert set(opened.read) <= {str(path)}, opened.read
            check(result, expected(raw, required, distinct), required)


def check(result, oracle, required) -> None:
    kind, value = oracle
    if isinstance(result, PlainError):
        assert isinstance(result, TuningDataError), type(result)
        message = str(result)
        assert message.strip() and "\n" not in message and "Traceback" not in message and len(message) < 400
        found = LINE_ERROR.match(message)
        if kind == "line":
            assert found and int(found.group(1)) == value, (message, value)
        else:
            assert kind == "file" and not found and NAME in message and "has no rows" in message, message
        return
    assert kind == "rows", (kind, value)
    assert len(result) == len(value)
    for got, row in zip(result, value):
        if isinstance(got, InstructionExample):
            assert (got.prompt, got.completion) == (row["prompt"], row["completion"])
        elif isinstance(got, PreferencePair):
            assert (got.prompt, got.chosen, got.rejected) == (row["prompt"], row["chosen"], row["rejected"])
        else:
            assert got == row
        if isinstance(got, (InstructionExample, PreferencePair)):  # the other fields are kept, untouched
            assert got.meta == {k: v for k, v in row.items() if k not in required}


# --- strategies ---------------------------------------------------------------------------------------

TEXT = st.text(min_size=0, max_size=30)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
GOOD_TEXT = st.text(min_size=1, max_size=30).filter(str.strip)
BAD_VALUE = st.one_of(st.sampled_from([" ", "", "\t"]), JSON_VALUES)


@st.composite
def rows(draw) -> dict:
    """A row with each known field missing (1 in 12), of a wrong type or blank (1 in 12), or text;
    and any extra fields. Most files fail at some line, and enough load to check what loads."""
    row = {}
    for key in ALL_FIELDS:
        fate = draw(st.integers(0, 11))
        if fate:
            row[key] = draw(BAD_VALUE if fate == 1 else GOOD_TEXT)
    row.update(draw(st.dictionaries(TEXT, JSON_VALUES, max_size=3)))
    return row


def lines(draw, row_strategy, count=st.integers(1, 6)) -> list[str]:
    out = []
    for _ in range(draw(count)):
        value = draw(row_strategy)
        out.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=draw(st.booleans())))
    return out


@st.composite
def jsonl_files(draw) -> bytes:
    """Rows of any shape, with blank lines and any line ending: the common case of a wrong file."""
    row = st.one_of(rows(), rows(), rows(), JSON_VALUES, st.just(""), st.just("   "), st.text(max_size=20))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return ending.join(lines(draw, row)).encode("utf-8")


@st.composite
def deep_nesting(draw) -> bytes:
    depth = draw(st.integers(1, 100_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opener * depth + "1" + closer * depth
    row = draw(st.sampled_from(['{"prompt": "p?", "completion": " c.", "chosen": " c.", "rejected": " r.", '
                                '"question": "q?", "answer": "a", "split": "held_out", "kind": "k", '
                                '"expected": "e", "extra": %s}', "%s"]))
    return (row % nested).encode("utf-8")


@st.composite
def enormous_strings(draw) -> bytes:
    size = draw(st.integers(100_000, 2_000_000))
    unit = draw(st.sampled_from(["a", "é", "日", "🙂", "\\n", "\\u0000", "\\ud800"]))
    huge = unit * (size // len(unit.encode()))
    field = draw(st.sampled_from(ALL_FIELDS + ["extra"]))
    row = {k: "x" for k in ALL_FIELDS}
    row["rejected"] = "y"
    text = json.dumps(row)
    text = text[:-1] + f', "{field}": "{huge}"' + "}"  # a later duplicate key overrides the earlier one
    digits = draw(st.sampled_from([None, 4000, 5000]))  # Python refuses ints of more than 4300 digits
    if digits:
        text = text[:-1] + f', "n": {"7" * digits}' + "}"
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
    """Good rows with non-ASCII text, each line in its own encoding, perhaps after a byte-order mark."""
    good = {k: "x" for k in ALL_FIELDS}
    out = []
    for _ in range(draw(st.integers(1, 4))):
        row = dict(good, prompt=draw(st.text(min_size=1, max_size=20)).strip() or "é", rejected="y")
        encoding = draw(st.sampled_from(ENCODINGS))
        out.append(json.dumps(row, ensure_ascii=False).encode(encoding, errors="replace"))
    bom = draw(st.sampled_from([b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE]))
    return bom + b"\n".join(out)


# --- tests ------------------------------------------------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_random_bytes(raw):
    load_fuzzed(raw)


@settings(FUZZ, max_examples=150)
@given(raw=jsonl_files())
def test_wrong_types_missing_and_extra_fields(raw):
    load_fuzzed(raw)


@settings(FUZZ, max_examples=25)
@given(raw=deep_nesting())
def test_deep_nesting(raw):
    load_fuzzed(raw)


@settings(FUZZ, max_examples=12)
@given(raw=enormous_strings())
def test_enormous_strings_and_numbers(raw):
    load_fuzzed(raw)


@FUZZ
@given(raw=with_nul_bytes())
def test_nul_bytes(raw):
    load_fuzzed(raw)


@FUZZ
@given(raw=mixed_encodings())
def test_mixed_encodings(raw):
    load_fuzzed(raw)


@pytest.mark.parametrize("raw", [
    b"", b"\n\n  \r\n", codecs.BOM_UTF8, b"\x00", b"null", b"[]", b"{}", b'"text"', b"1" * 5000,
    b'{"prompt": "\\u0000", "completion": "\\u0000", "chosen": "a", "rejected": "b", "question": "q", '
    b'"answer": "a", "split": "s", "kind": "k", "expected": "e"}',  # an escaped NUL is text like any other
    b"NaN", b'{"prompt": NaN}', b"\xef\xbb\xbf\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00",
], ids=lambda raw: repr(raw[:12]))
def test_edge_cases_get_a_plain_error_or_load(raw):
    load_fuzzed(raw)


@settings(FUZZ, max_examples=30)
@given(loader=st.sampled_from([load_instructions, load_preferences]), data=st.data(),
       extra=st.sampled_from([-1, 0, 1, 2, 200_000]), unit=st.sampled_from(["a", "é", "日", "🙂"]))
def test_a_field_over_the_length_limit_is_refused_in_words(loader, data, extra, unit):
    """A prompt or answer over the limit stops the load naming the line, the field, its length and the
    limit (a 200,000-character answer froze the Instruction tab for 5.6 s); one at the limit loads."""
    required = LOADERS[loader][0]
    field = data.draw(st.sampled_from(required))
    length = MAX_FIELD_CHARS + extra
    good = {"prompt": "User: Hi?\nAssistant:", "completion": " Hello.", "chosen": " Hello.", "rejected": " Go."}
    long_row = {**good, field: "Secret " + unit * (length - len("Secret "))}
    with tempfile.TemporaryDirectory(prefix="te-fuzz-jsonl-") as folder:
        path = Path(folder) / NAME
        path.write_text(json.dumps(good) + "\n" + json.dumps(long_row, ensure_ascii=data.draw(st.booleans())) + "\n",
                        encoding="utf-8")
        if extra <= 0:
            assert len(loader(path)) == 2
            return
        with pytest.raises(TuningDataError) as refused:
            loader(path)
    message = str(refused.value)
    assert message.startswith(f"{NAME}:2: the '{field}' field is {length:,} characters long")
    assert f"{MAX_FIELD_CHARS:,}" in message and "Shorten it" in message
    assert "Secret" not in message and len(message) < 400


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / NAME
    with open(path, "wb") as f:  # sparse: the size is there, the disk space is not used
        f.truncate(MAX_TUNING_FILE_BYTES + 1)
    with files_opened() as opened:
        with pytest.raises(TuningDataError, match="MB"):
            load_preferences(path)
    assert not opened.all  # refused from its size alone


def test_a_file_that_cannot_be_read_is_refused_in_words(tmp_path, monkeypatch):
    path = tmp_path / NAME
    path.write_text('{"prompt": "p", "completion": " c."}\n')

    def no_permission(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", no_permission)
    with pytest.raises(TuningDataError, match="could not be read: Permission denied"):
        load_instructions(path)
