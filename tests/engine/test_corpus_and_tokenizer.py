"""Reading the user's text files, and both tokenizers."""

import codecs
import os
import pathlib

import numpy as np
import pytest

from engine.data import corpus as corpus_module
from engine.data.corpus import bundled_corpora, load_bundled, read_text_file
from engine.errors import CorpusError, CorpusTooShort, EncodingProblem, TooLargeForMemory
from engine.tokenizer import TokenizerSpec, build_tokenizer, check_length, preview, tokenizer_from_json


def test_every_bundled_corpus_loads_with_real_text():
    for entry in bundled_corpora():
        corpus = load_bundled(entry.key)
        assert len(corpus.text) > 100_000, entry.key
        assert corpus.source == f"bundled:{entry.key}" and len(corpus.fingerprint) == 64


def test_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match="is empty"):
        read_text_file(tmp_path / "empty.txt")


def test_blank_file(tmp_path):
    (tmp_path / "blank.txt").write_text("   \n\n  ")
    with pytest.raises(CorpusError, match="only blank"):
        read_text_file(tmp_path / "blank.txt")


def test_binary_file(tmp_path):
    (tmp_path / "image.png").write_bytes(bytes(range(256)) * 50)
    with pytest.raises(CorpusError, match="not a text file"):
        read_text_file(tmp_path / "image.png")


def test_latin1_file_is_explained_then_readable_with_the_offered_encoding(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Café au lait, s'il vous plaît.\n".encode("latin-1") * 20)
    with pytest.raises(EncodingProblem) as info:
        read_text_file(path)
    assert "latin-1" in info.value.suggested_encodings and "utf-16" in info.value.suggested_encodings
    assert read_text_file(path, encoding="latin-1").text.startswith("Café au lait")


def test_utf16_with_bom_and_windows_line_endings(tmp_path):
    path = tmp_path / "notepad.txt"
    path.write_bytes("line one\r\nline two\r\n".encode("utf-16"))
    assert read_text_file(path).text == "line one\nline two\n"


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-be"])
def test_utf32_with_bom_loads_as_text(tmp_path, encoding):
    """UTF-32's little-endian mark (FF FE 00 00) starts like UTF-16's (FF FE): it once loaded as '\\x00h\\x00e'."""
    path = tmp_path / "wide.txt"
    raw = "héllo wörld\r\nline two 🙂\n".encode(encoding)
    path.write_bytes(raw if encoding == "utf-32" else codecs.BOM_UTF32_BE + raw)
    assert read_text_file(path).text == "héllo wörld\nline two 🙂\n"


@pytest.mark.parametrize("encoding, words", [("utf-16-le", "UTF-16 (little-endian)"),
                                             ("utf-16-be", "UTF-16 (big-endian)"),
                                             ("utf-32-le", "UTF-32 (little-endian)"),
                                             ("utf-32-be", "UTF-32 (big-endian)")])
def test_utf16_or_32_without_its_mark_is_named_and_offered(tmp_path, encoding, words):
    """Once called "a program, picture or other binary data" with no encoding offered."""
    path = tmp_path / "unmarked.txt"
    path.write_bytes("Grüße aus dem Dorf.\nA second line of plain text.\n".encode(encoding) * 20)
    with pytest.raises(EncodingProblem) as info:
        read_text_file(path)
    assert info.value.suggested_encodings == (encoding,)
    assert f"saved as {words}, but without the mark" in str(info.value) and "binary" not in str(info.value)
    assert read_text_file(path, encoding).text.startswith("Grüße aus dem Dorf.\nA second line")


def test_binary_data_with_nul_bytes_is_not_mistaken_for_utf16(tmp_path):
    path = tmp_path / "program.bin"
    path.write_bytes(bytes(range(256)) * 50 + b"\x00\x00\x01\x00" * 1000)
    with pytest.raises(CorpusError, match="not a text file") as info:
        read_text_file(path)
    assert not isinstance(info.value, EncodingProblem)


def test_a_nul_byte_past_the_start_is_refused(tmp_path):
    """Only the first 64 kB were checked: a NUL byte after them loaded into the corpus."""
    path = tmp_path / "long.txt"
    path.write_bytes(b"A long line of honest text.\n" * 2500 + b"\x00\x01binary tail" + b"more text\n" * 10)
    with pytest.raises(CorpusError) as info:
        read_text_file(path)
    assert str(info.value) == ("'long.txt' is not a text file (it looks like a program, picture or other binary "
                               "data, from about 68.4 KB into it). Choose a plain text file (.txt).")


def test_binary_data_is_refused_in_an_encoding_the_user_chose(tmp_path):
    """A chosen encoding skips the UTF-8 guess, not the check that the result is text (Latin-1 reads any bytes)."""
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(CorpusError, match="not a text file"):
        read_text_file(path, "latin-1")


def _denied(monkeypatch, method: str, path):
    real = getattr(pathlib.Path, method)

    def fake(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, method, fake)


@pytest.mark.parametrize("method", ["read_bytes", "stat"])
def test_a_file_this_account_may_not_read_says_so(tmp_path, monkeypatch, method):
    """Simulated (tests may run as root, whom permissions do not stop). ``stat`` fails when a folder on
    the way may not be opened: that escaped as a bare PermissionError."""
    path = tmp_path / "private.txt"
    path.write_text("Some private text.\n")
    _denied(monkeypatch, method, path)
    with pytest.raises(CorpusError) as info:
        read_text_file(path)
    assert str(info.value) == ("The file 'private.txt' cannot be read: this user account is not allowed to open "
                               "it. Ask whoever manages this computer for access, or copy the file somewhere "
                               "you can open it.")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission_says_so(tmp_path):
    path = tmp_path / "private.txt"
    path.write_text("Some private text.\n")
    path.chmod(0)
    with pytest.raises(CorpusError, match="cannot be read: this user account is not allowed to open it"):
        read_text_file(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        read_text_file(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="folder"):
        read_text_file(tmp_path)


def test_file_too_large_for_free_memory(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("hello world\n" * 1000)
    monkeypatch.setattr(corpus_module, "available_memory_bytes", lambda: 10_000)
    with pytest.raises(TooLargeForMemory) as caught:
        read_text_file(path)
    assert str(caught.value) == ("The file 'big.txt' is 11.7 KB; training on it would need about 64.2 MB of memory, "
                                 "and this computer has 9.8 KB free. Use a shorter part of the file.")


def test_corpus_shorter_than_context():
    with pytest.raises(CorpusTooShort, match="lower the context length"):
        check_length(100, 64)
    check_length(10_000, 64)


@pytest.mark.parametrize("spec", [TokenizerSpec("char"), TokenizerSpec("bpe", 300)])
def test_tokenizers_round_trip_and_survive_json(spec):
    text = load_bundled("fictional_world").text[:20_000]
    tokenizer = build_tokenizer(text, spec)
    ids = tokenizer.encode(text)
    assert ids.dtype == np.int32 and ids.max() < tokenizer.vocab_size
    assert tokenizer.decode(ids) == text
    again = tokenizer_from_json(tokenizer.to_json())
    assert again.encode(text).tolist() == ids.tolist()
    if spec.kind == "bpe":
        assert tokenizer.vocab_size == 300 and len(ids) < 0.75 * len(text)  # word pieces: fewer tokens


def test_token_labels_make_spaces_and_newlines_visible():
    tokenizer = build_tokenizer("a b\n", TokenizerSpec("char"))
    labels = [tokenizer.token_label(i) for i in range(tokenizer.vocab_size)]
    assert "␣" in labels and "⏎" in labels


def test_char_tokenizer_skips_characters_it_never_saw():
    tokenizer = build_tokenizer("abc", TokenizerSpec("char"))
    assert tokenizer.decode(tokenizer.encode("abzc")) == "abc"
    assert tokenizer.unknown("abzc") == {"z"}


def test_preview_is_cached():
    corpus = load_bundled("fictional_world")
    assert preview(corpus, TokenizerSpec("char")) is preview(corpus, TokenizerSpec("char"))


@pytest.mark.parametrize("spec", [TokenizerSpec("char"), TokenizerSpec("bpe", 300)])
def test_encoding_a_batch_at_a_time_gives_the_same_tokens(spec, monkeypatch):
    """Tokens are encoded a few kB at a time to bound the memory (benchmarks/corpus_memory.py); the
    batches must not change them, even where a paragraph with no blank lines is cut after its lines."""
    import engine.tokenizer as tokenizer_module

    text = load_bundled("fictional_world").text[:20_000]
    one_paragraph = text.replace("\n\n", "\n")  # no blank lines at all: one long paragraph
    tokenizer = build_tokenizer(text, spec)
    whole = [tokenizer.encode(t).tolist() for t in (text, one_paragraph)]
    monkeypatch.setattr(tokenizer_module, "_ENCODE_BATCH_CHARS", 500)  # dozens of batches, each cut many times
    for t, ids in zip((text, one_paragraph), whole):
        batched = tokenizer.encode(t)
        assert batched.dtype == np.int32 and batched.tolist() == ids
        assert tokenizer.decode(batched) == t


def test_a_paragraph_is_cut_after_line_ends_and_a_long_line_kept_whole():
    from engine.tokenizer import _batches

    para = "short line\n" * 10 + "x" * 50 + "\nend"
    batches = list(_batches(para, 30))
    pieces = [p for batch in batches for p in batch]
    assert "".join(pieces) == para
    assert all(p.endswith("\n") for p in pieces[:-1]) and "x" * 50 + "\n" in pieces
    assert all(sum(map(len, b)) <= 30 for b in batches if len(b) > 1)
