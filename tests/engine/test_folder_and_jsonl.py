"""Loading a folder of text files or a JSONL file, and every bad input the Data stage promises to handle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.data.corpus import read_folder, read_jsonl, read_text_file
from engine.data.curation import CurationSettings, corpus_stats, curate
from engine.data.documents import documents_text
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
    assert loaded.reasons == ("not text", "not a .txt, .md or .py file", "empty", "not UTF-8",
                              "not a .txt, .md or .py file")
    assert loaded.skipped_message == ("5 files skipped: broken.txt (not text); data.dat, picture.bin (not a .txt, "
                                      ".md or .py file); empty.txt (empty); latin.md (not UTF-8).")
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
    listed = r"1 file skipped: a.bin \(not a .txt, .md or .py file\)\."
    with pytest.raises(CorpusError, match=r"no readable .txt, .md or .py files\. " + listed):
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


# --- Issue 16: links that loop, folders and files that cannot be opened, other encodings, memory ----------


def test_looping_links_and_linked_folders_are_listed_with_the_reason(tmp_path):
    """They vanished from the load without a word, although the code said they were listed."""
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("Some real text.\n")
    (root / "self.txt").symlink_to(root / "self.txt")
    (root / "ping.txt").symlink_to(root / "pong.txt")
    (root / "pong.txt").symlink_to(root / "ping.txt")
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)
    (root / "gone.md").symlink_to(tmp_path / "nowhere.md")
    (tmp_path / "elsewhere").mkdir()
    (root / "other").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    loaded = read_folder(root)
    assert [d.text for d in loaded.documents] == ["Some real text."]
    assert dict(zip(loaded.skipped, loaded.reasons)) == {
        "gone.md": "a link to something that is not there",
        "other/": "a link to a folder (links to folders are not followed)",
        "ping.txt": "a link that loops back on itself",
        "pong.txt": "a link that loops back on itself",
        "self.txt": "a link that loops back on itself",
        "sub/up/": "a link back to a folder it is in",
    }
    assert loaded.skipped_message == (
        "6 files skipped: gone.md (a link to something that is not there); other/ (a link to a folder (links to "
        "folders are not followed)); ping.txt, pong.txt, self.txt (a link that loops back on itself); sub/up/ (a "
        "link back to a folder it is in).")


def test_a_folder_inside_that_cannot_be_opened_is_listed_with_the_reason(tmp_path, monkeypatch):
    """Simulated (tests may run as root): it was skipped without a word."""
    (tmp_path / "a.txt").write_text("Some real text.\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "diary.txt").write_text("Never read.\n")
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == tmp_path / "private":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    loaded = read_folder(tmp_path)
    assert [d.text for d in loaded.documents] == ["Some real text."]
    assert loaded.skipped_message == ("1 file skipped: private/ (a folder that cannot be opened: this user account "
                                      "is not allowed to open it).")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root opens any folder")
def test_a_folder_without_permission_is_listed(tmp_path):
    (tmp_path / "a.txt").write_text("Some real text.\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private").chmod(0)
    try:
        assert read_folder(tmp_path).skipped == ("private/",)
    finally:
        (tmp_path / "private").chmod(0o700)


def test_a_file_in_a_folder_that_cannot_be_read_is_listed_with_why(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("Some real text.\n")
    (tmp_path / "b.txt").write_text("Private text.\n")
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "b.txt":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    loaded = read_folder(tmp_path)
    assert loaded.skipped_message == ("1 file skipped: b.txt (cannot be read: this user account is not allowed to "
                                      "open it).")


@pytest.mark.timeout(20)
def test_a_named_pipe_is_listed_not_waited_on(tmp_path):
    (tmp_path / "a.txt").write_text("Some real text.\n")
    os.mkfifo(tmp_path / "pipe.txt")  # opening it for reading would wait for a writer forever
    loaded = read_folder(tmp_path)
    assert loaded.skipped == ("pipe.txt",) and loaded.reasons == ("not an ordinary file",)


def test_nul_bytes_utf32_and_unmarked_utf16_in_a_folder(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"Clean text.\n" * 6000 + b"\x00tail\n")  # NUL past the first 64 kB
    (tmp_path / "b.txt").write_bytes("Wide text.\n".encode("utf-32"))
    (tmp_path / "c.txt").write_bytes("Unmarked wide text.\n".encode("utf-16-le") * 5)
    loaded = read_folder(tmp_path)
    assert [d.text for d in loaded.documents] == ["Wide text."]
    assert dict(zip(loaded.skipped, loaded.reasons)) == {"a.txt": "not text", "c.txt": "not UTF-8"}


@pytest.mark.parametrize("raw, problem", [
    ('{"text": "hello"}\n'.encode("utf-16"), "rows.jsonl:1: this file is saved as UTF-16, but JSONL files must"),
    ('{"text": "hello"}\n'.encode("utf-32"), "rows.jsonl:1: this file is saved as UTF-32, but JSONL files must"),
    ('{"text": "hello"}\n'.encode("utf-16-le") * 3,
     "rows.jsonl:1: this line is not valid JSON, because the file looks saved as UTF-16 (little-endian), but JSONL"),
])
def test_jsonl_in_another_encoding_says_which(tmp_path, raw, problem):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(raw)
    with pytest.raises(CorpusError) as err:
        read_jsonl(path)
    assert str(err.value).startswith(problem) and "Save the file as UTF-8" in str(err.value)


@pytest.mark.parametrize("method", ["read_bytes", "stat"])
def test_a_jsonl_file_this_account_may_not_read_says_so(tmp_path, monkeypatch, method):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "hello"}\n')
    real = getattr(Path, method)

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, denied)
    with pytest.raises(CorpusError, match=r"^The file 'rows.jsonl' cannot be read: this user account is not allowed"):
        read_jsonl(path)


def test_folders_and_jsonl_too_large_for_free_memory_are_refused_before_reading(tmp_path, monkeypatch):
    """Only single text files were checked against free memory; a folder's total and a JSONL file were not."""
    from engine.data import corpus as corpus_module
    from engine.errors import TooLargeForMemory

    (tmp_path / "notes").mkdir()
    for i in range(3):
        (tmp_path / "notes" / f"{i}.txt").write_text("A line of text.\n" * 2000)  # 32 kB each
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"text": "A line of text."}) + "\n")
    needed = corpus_module.memory_needed_bytes(3 * 32_000)
    monkeypatch.setattr(corpus_module, "available_memory_bytes", lambda: needed - 1)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read"))
    with pytest.raises(TooLargeForMemory, match=r"^The text in 'notes' is 93.8 KB; training on it would need about"):
        read_folder(tmp_path / "notes")
    monkeypatch.setattr(corpus_module, "available_memory_bytes", lambda: 1000)
    with pytest.raises(TooLargeForMemory, match=r"^The file 'rows.jsonl' is \d+ bytes; training on it would need"):
        read_jsonl(rows)
