"""Loading a folder of text files or a JSONL file, and every bad input the Data stage promises to handle."""

from __future__ import annotations

import json

import pytest

from engine.corpus import read_folder, read_jsonl, read_text_file
from engine.curation import CurationSettings, corpus_stats, curate
from engine.documents import documents_text
from engine.errors import CorpusError


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("First paragraph about hills.\n\nSecond paragraph about rivers.\n")
    (root / "b.md").write_text("# Heading\n\nSome markdown text here.\n")
    (root / "sub" / "prog.py").write_text("def f(x):\n    return x + 1\n\n\nprint(f(2))\n")
    (root / "picture.bin").write_bytes(bytes(range(256)) * 4)
    (root / "data.dat").write_text("a text file, but not one of the kinds we read\n")
    (root / "broken.txt").write_bytes(b"\x00\x01\x02binary pretending to be text" * 10)
    (root / "latin.md").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (root / "empty.txt").write_text("")
    (root / ".hidden.txt").write_text("never read")
    return root


def test_folder_reads_text_files_and_lists_the_skipped_ones(folder):
    loaded = read_folder(folder)
    assert loaded.skipped == ("broken.txt", "data.dat", "empty.txt", "latin.md", "picture.bin")
    assert loaded.skipped_message == "5 files skipped: broken.txt, data.dat, empty.txt, latin.md, picture.bin."
    texts = [d.text for d in loaded.documents]
    assert texts == ["First paragraph about hills.", "Second paragraph about rivers.", "# Heading",
                     "Some markdown text here.", "def f(x):\n    return x + 1\nprint(f(2))"]
    assert [d.source for d in loaded.documents] == ["file"] * 4 + ["code"]
    assert loaded.corpus.text == documents_text(list(loaded.documents))
    assert "never read" not in loaded.corpus.text
    assert corpus_stats(list(loaded.documents)).documents == 5


def test_a_long_skip_list_is_shortened(tmp_path):
    (tmp_path / "keep.txt").write_text("Some real text.\n")
    for i in range(11):
        (tmp_path / f"img{i:02d}.png").write_bytes(b"\x89PNG\x00")
    message = read_folder(tmp_path).skipped_message
    assert message.startswith("11 files skipped: img00.png, img01.png,") and message.endswith("and 3 more.")


def test_folder_without_text_files_says_so(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"\x00" * 10)
    with pytest.raises(CorpusError, match=r"no readable .txt, .md or .py files\. 1 file skipped: a.bin\."):
        read_folder(tmp_path)
    with pytest.raises(CorpusError, match="is not a folder"):
        read_folder(tmp_path / "missing")


def test_size_limit_is_named(folder, tmp_path):
    with pytest.raises(CorpusError, match="over the limit of 50 bytes") as err:
        read_folder(folder, max_bytes=50)
    assert "notes" in str(err.value)
    big = tmp_path / "big.txt"
    big.write_text("word " * 400_000)  # 2 MB
    with pytest.raises(CorpusError, match=r"'big.txt' is 1.9 MB, over the limit of 1 MB"):
        read_text_file(big, max_bytes=2**20)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"text": "x" * 2_000_000}) + "\n")
    with pytest.raises(CorpusError, match="over the limit of 1 MB"):
        read_jsonl(rows, max_bytes=2**20)


def test_jsonl_rows_become_documents_with_topic_and_year(tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [{"text": "An old story.", "year": 1990, "topic": "history"}, {"text": "A new story.", "year": 2020},
            {"text": "No date here.", "year": "soon"}, {"text": "   "}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    loaded = read_jsonl(path)
    assert [(d.text, d.topic, d.year) for d in loaded.documents] == [
        ("An old story.", "history", 1990), ("A new story.", "other", 2020), ("No date here.", "other", None)]
    assert loaded.corpus.text == "An old story.\n\nA new story.\n\nNo date here.\n"
    kept = curate(list(loaded.documents), CurationSettings(cutoff_year=2000))
    assert [d.text for d in kept] == ["An old story.", "No date here."]
    other_field = tmp_path / "pairs.jsonl"
    other_field.write_text(json.dumps({"prompt": "Q", "completion": "Some answer."}) + "\n")
    assert read_jsonl(other_field, text_field="completion").corpus.text == "Some answer.\n"


SECRET = "private-row-content-" * 20


@pytest.mark.parametrize("line, problem", [
    ('{"text": "fine"', r"docs.jsonl:3: this line is not valid JSON \(Expecting ',' delimiter at column"),
    ('["a list", "' + SECRET + '"]', r"docs.jsonl:3: this line is a list, not a JSON object\."),
    ('{"body": "' + SECRET + '", "id": 3}', r"docs.jsonl:3: there is no 'text' field \(this line has: body, id\)"),
    ('{"text": 42, "note": "' + SECRET + '"}', r"docs.jsonl:3: the 'text' field is a number, not text\."),
    ('{"text": "' + SECRET + '", }', r"docs.jsonl:3: this line is not valid JSON"),
    ('{"text": "x", "n": ' + "9" * 5000 + '}', r"docs.jsonl:3: this line holds a number too long or lists nested"),
    ('{"text": ' + "[" * 100_000 + "]" * 100_000 + '}', r"docs.jsonl:3: this line holds a number too long or lists"),
])
def test_malformed_jsonl_names_file_and_line_without_echoing_the_row(tmp_path, line, problem):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "one"}\n\n' + line + '\n{"text": "four"}\n')
    with pytest.raises(CorpusError, match=problem) as err:
        read_jsonl(path)
    assert "private-row-content" not in str(err.value)
    assert len(str(err.value)) < 200


def test_jsonl_that_is_not_utf8_or_has_no_text(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(CorpusError, match=r"latin.jsonl:2: this line is not UTF-8"):
        read_jsonl(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": ""}\n\n')
    with pytest.raises(CorpusError, match="has no lines with text in a 'text' field"):
        read_jsonl(empty)
    with pytest.raises(CorpusError, match="does not exist"):
        read_jsonl(tmp_path / "missing.jsonl")
