"""The charts for real text: counts checked against counts made here, sentences against their own rows."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.curation import CurationSettings, curate
from engine.data.sources import SourceRequest, default_world_request, load_source
from engine.data.documents import Document, documents_from_text
from engine.data.text_profile import (
    CHARACTER_KINDS,
    LENGTH_BANDS,
    TOP_LINES,
    TOP_WORDS,
    characters_chart,
    has_world_labels,
    lengths_chart,
    repeated_lines_chart,
    text_profile,
    words_chart,
)
from tests.real_text import prose, real_book

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None)
# Documents of words, punctuation, digits, other alphabets, symbols and lines that come again.
_LINE = st.one_of(st.sampled_from(["ROMEO:", "Enter the king.", "Exeunt.", "Où est-il ?", "1. 2. 3.", "$5 & 10%"]),
                  st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40))
_DOCUMENT = st.lists(_LINE, min_size=1, max_size=8).map("\n".join).filter(lambda t: t.strip() == t and t)
_DOCUMENTS = st.lists(_DOCUMENT.map(lambda t: Document(t, "other", "file")), max_size=30)


def _numbers(sentence: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", sentence)]


def test_a_real_book_gets_the_real_text_charts_and_the_world_does_not():
    book = load_source(SourceRequest("file", str(real_book())))
    assert not has_world_labels(book.documents)
    assert has_world_labels(load_source(default_world_request()).documents)
    dated = [Document("A dated note.", "other", "file", year=1999)]
    two_topics = [Document("a", "other", "file"), Document("b", "code", "file")]
    assert has_world_labels(dated) and has_world_labels(two_topics)

    profile = text_profile(list(book.documents))
    text = real_book().read_text(encoding="utf-8")
    assert profile.words["the"] == len(re.findall(r"\bthe\b", text.lower()))
    speakers = Counter(line for line in text.split("\n") if re.fullmatch(r"[A-Z][A-Z ]+:", line))
    name, n = speakers.most_common(1)[0]
    sentence = repeated_lines_chart(profile, profile).sentence
    assert f"the commonest, “{name}”, comes {n:,} times" in sentence


@FUZZ
@given(documents=_DOCUMENTS)
def test_profile_counts_equal_counts_made_here(documents):
    profile = text_profile(documents)
    assert profile.documents == len(documents)
    for i, (low, high, _label) in enumerate(LENGTH_BANDS):
        assert profile.length_bands[i] == sum(low <= len(d.text) and (high is None or len(d.text) < high)
                                              for d in documents)
    kinds = Counter()
    for d in documents:
        for c in d.text:
            if not (("a" <= c <= "z") or ("A" <= c <= "Z") or c.isspace()):
                category = unicodedata.category(c)
                kinds["Punctuation" if category[0] == "P" else "Digits" if category == "Nd"
                      else "Other letters (é, ß, Ω…)" if category[0] == "L" else "Symbols and the rest"] += 1
    assert profile.character_kinds == {kind: kinds[kind] for kind in CHARACTER_KINDS}
    assert profile.characters == sum(len(d.text) for d in documents)
    corpus = "\n\n".join(d.text for d in documents) + "\n" if documents else ""
    assert profile.distinct_characters == len(set(corpus))
    lines = Counter(line.strip() for d in documents for line in d.text.split("\n") if line.strip())
    assert profile.lines == lines
    assert profile.repeated_lines == sum(lines.values()) - len(lines)


@FUZZ
@given(documents=_DOCUMENTS, keep=st.integers(0, 30))
def test_each_sentence_agrees_with_its_rows(documents, keep):
    """Curated (the first ``keep`` documents) against loaded: the sentence quotes the bars' own numbers."""
    before, now = text_profile(documents), text_profile(documents[:keep])

    lengths = lengths_chart(now, before)
    assert [r.label for r in lengths.rows] == [label for _l, _h, label in LENGTH_BANDS]
    total = sum(r.value for r in lengths.rows)
    assert total == now.documents
    if total:
        top = max(lengths.rows, key=lambda r: r.value)
        assert top.label.lower() in lengths.sentence and _numbers(lengths.sentence.split(": ")[0])[-2:] == \
            [top.value, total]
    else:
        assert lengths.sentence == "No documents are left."

    words = words_chart(now, before)
    assert [r.label for r in words.rows] == [w for w, _n in before.words.most_common(TOP_WORDS)]
    assert all(r.value == now.words.get(r.label, 0) and r.before == before.words[r.label] for r in words.rows)
    if now.word_total:
        share = 100 * sum(r.value for r in words.rows) / now.word_total
        shown = f"{share:.0f} %" if share >= 1 or share == 0 else "under 1 %"
        assert f"These {len(words.rows)} words make up {shown} of the {now.word_total:,} words" in words.sentence

    chars = characters_chart(now, before)
    assert {r.label: r.value for r in chars.rows} == now.character_kinds
    outside = sum(now.character_kinds.values())
    assert f"{now.distinct_characters:,} different characters" in chars.sentence or not now.characters
    if outside:
        top = max(chars.rows, key=lambda r: r.value)
        assert top.label.split(" (")[0].lower() in chars.sentence

    lines = repeated_lines_chart(now, before)
    assert len(lines.rows) <= TOP_LINES and all(r.before >= 2 for r in lines.rows)
    assert all(r.value == now.lines.get(line, 0) for r, (line, _n) in zip(lines.rows, before.lines.most_common()))
    if now.repeated_lines == 0:
        assert lines.sentence.startswith("No line comes twice")
    else:
        assert _numbers(lines.sentence)[0] == now.repeated_lines
        top = max(lines.rows, key=lambda r: r.value, default=None)
        if top is not None and top.value >= 2:
            assert f"the commonest, {top.label}, comes {top.value:,} times" in lines.sentence


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(paragraphs=st.lists(prose, min_size=2, max_size=6))
def test_prose_keeps_its_charts_when_junk_is_removed(paragraphs):
    docs = documents_from_text("\n\n".join(paragraphs))
    kept = curate(docs, CurationSettings(drop_junk=True))
    assert text_profile(kept) == text_profile(docs)
