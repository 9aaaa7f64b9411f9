"""Loading documents for the Data stage from every kind of source, and cutting text into token pieces."""

from __future__ import annotations

import json

import pytest

from engine.data.corpus import SAMPLE_CORPORA_DIR
from engine.data.curation import fingerprint
from engine.data.sources import SourceRequest, bundled_requests, default_world_request, load_source
from engine.data.documents import documents_text
from engine.errors import ConfigError, CorpusError
from engine.tokenizer import BpeTokenizer, CharTokenizer
from engine.data.world import WorldSettings


def test_the_default_world_is_the_bundled_text_byte_for_byte():
    source = load_source(default_world_request())
    bundled = (SAMPLE_CORPORA_DIR / "fictional_world.txt").read_text(encoding="utf-8")
    assert documents_text(list(source.documents)) == bundled
    assert load_source(SourceRequest("bundled", "fictional_world")).documents == source.documents
    assert source.years is not None and source.years[1] <= 2025
    assert {"countries", "code", "software"} <= set(source.topics)
    assert [title for title, _ in bundled_requests()][0] == source.title


def test_world_knobs_reach_the_documents():
    noisy = load_source(SourceRequest("world", world=WorldSettings(junk_rate=0.2, duplicate_rate=0.1)))
    clean = load_source(default_world_request())
    assert sum(d.junk for d in noisy.documents) > 0 == sum(d.junk for d in clean.documents)
    assert "seed" in noisy.title
    with pytest.raises(ConfigError):
        load_source(SourceRequest("world", world=WorldSettings(n_countries=1)))


def test_file_folder_and_jsonl_sources(tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("First paragraph here.\n\nSecond paragraph here.\n")
    source = load_source(SourceRequest("file", str(text_file)))
    assert [d.text for d in source.documents] == ["First paragraph here.", "Second paragraph here."]

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("Some words in a file.\n")
    (folder / "b.bin").write_bytes(bytes(range(256)))
    source = load_source(SourceRequest("folder", str(folder)))
    assert [d.text for d in source.documents] == ["Some words in a file."]
    assert source.skipped == ("b.bin",) and source.skipped_message == "1 file skipped: b.bin (not a .txt, .md or .py file)."

    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"text": "A dated row.", "year": 2001, "topic": "news"}) + "\n")
    source = load_source(SourceRequest("jsonl", str(rows)))
    assert [(d.text, d.year, d.topic) for d in source.documents] == [("A dated row.", 2001, "news")]


def test_an_empty_file_and_an_unknown_kind_are_plain_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(CorpusError):
        load_source(SourceRequest("file", str(empty)))
    with pytest.raises(CorpusError, match="no way to load"):
        load_source(SourceRequest("spreadsheet", "x"))


@pytest.mark.parametrize("text", ["The capital of Lamlar is Chafo.\n\nA new paragraph.", "café 🎉 naïve", "", "\n\n\n"])
def test_bpe_pieces_join_back_to_the_text(text):
    corpus = (SAMPLE_CORPORA_DIR / "fictional_world.txt").read_text(encoding="utf-8")[:40_000]
    tokenizer = BpeTokenizer.train(corpus, 300)
    pieces = tokenizer.pieces(text)
    assert "".join(pieces) == text
    # A piece is never more than one token except where tokens share one character.
    assert len(pieces) <= len(tokenizer.encode(text))
    if text.isascii():
        assert len(pieces) == len(tokenizer.encode(text))


def test_char_pieces_are_the_known_characters():
    tokenizer = CharTokenizer.train("abc ")
    assert tokenizer.pieces("a cab!") == ["a", " ", "c", "a", "b"]  # "!" is not in the corpus


def test_fingerprint_of_the_default_curation_is_the_bundled_files():
    source = load_source(default_world_request())
    bundled = (SAMPLE_CORPORA_DIR / "fictional_world.txt").read_text(encoding="utf-8")
    import hashlib

    assert fingerprint(list(source.documents)) == hashlib.sha256(bundled.encode()).hexdigest()
