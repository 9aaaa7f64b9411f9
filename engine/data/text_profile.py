"""What can be said truly about any text: the Data tab's charts for text that is not the generated world.

The generated world labels each document with a topic and a year, so its charts (coverage per
topic, documents per year, the bias meter) have something to count. A book or a folder of notes
has no such labels: every document is "other text" with no date, and those charts would only say
nonsense. This module counts what every text does have:

- **length of documents**: how many documents fall in each length band;
- **most frequent words**: the commonest words and their share of all words;
- **characters outside the alphabet**: punctuation, digits, other letters and symbols, and how many
  different characters there are (a character tokenizer needs one token for each);
- **repeated lines**: lines that come more than once, which a model learns word for word.

``text_profile`` counts once (it runs on a worker thread: its cost grows with the text). Each
``*_chart`` function then turns the profile of the curated documents and that of the loaded ones
into bar rows plus one sentence, and the sentence is computed from exactly the numbers of those
rows, so what the chart says cannot disagree with what it shows. The GUI only draws them.

``has_world_labels`` decides which charts a text gets: the world's charts when its documents carry
topics or years, these when they do not.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from engine.data.documents import Document

# (lowest, highest + 1 or None, label): length bands in characters.
LENGTH_BANDS = (
    (0, 100, "Under 100"),
    (100, 500, "100 to 499"),
    (500, 2_000, "500 to 1,999"),
    (2_000, 10_000, "2,000 to 9,999"),
    (10_000, None, "10,000 or more"),
)
CHARACTER_KINDS = ("Punctuation", "Digits", "Other letters (é, ß, Ω…)", "Symbols and the rest")
TOP_WORDS = 10  # rows of the words chart
TOP_LINES = 8  # rows of the repeated lines chart
LINE_LABEL_CHARS = 28  # a repeated line is shown with at most this many characters
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")  # letters, with inner apostrophes (don't, o'er)
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class ChartRow:
    label: str  # the category, in words
    value: int  # the count after curation (the bar)
    text: str  # the number as shown beside the bar
    before: int  # the count before curation (the pale ghost bar)


@dataclass(frozen=True)
class Chart:
    rows: tuple[ChartRow, ...]
    sentence: str  # what the rows mean for the model, from the rows' own numbers


@dataclass(frozen=True)
class TextProfile:
    """Plain counts over a list of documents (``text_profile``)."""

    documents: int
    length_bands: tuple[int, ...]  # documents per LENGTH_BANDS entry
    characters: int  # characters of the documents' texts (not counting the blank lines between them)
    character_kinds: dict[str, int]  # characters outside the plain alphabet and whitespace, per CHARACTER_KINDS
    distinct_characters: int  # different characters in the corpus text: a character tokenizer's vocabulary
    words: Counter = field(repr=False)  # lower-case word → occurrences
    lines: Counter = field(repr=False)  # non-blank line (stripped) → occurrences

    @property
    def word_total(self) -> int:
        return sum(self.words.values())

    @property
    def repeated_lines(self) -> int:
        """Lines that repeat an earlier line (what removing repeated lines would remove)."""
        return sum(n - 1 for n in self.lines.values() if n > 1)


def has_world_labels(documents) -> bool:
    """True if the documents carry what the world's charts count: a year, or more than one topic."""
    topics = set()
    for d in documents:
        if d.year is not None:
            return True
        topics.add(d.topic)
    return len(topics) > 1


def character_kind(c: str) -> str | None:
    """Which of CHARACTER_KINDS ``c`` is, or None for a plain letter a–z, A–Z or whitespace."""
    if c in _PLAIN or c.isspace():
        return None
    category = unicodedata.category(c)
    if category.startswith("P"):
        return CHARACTER_KINDS[0]
    if category == "Nd":
        return CHARACTER_KINDS[1]
    if category.startswith("L"):
        return CHARACTER_KINDS[2]
    return CHARACTER_KINDS[3]


def length_band(n: int) -> int:
    """The index in LENGTH_BANDS of a document of ``n`` characters."""
    return next(i for i, (low, high, _label) in enumerate(LENGTH_BANDS) if n >= low and (high is None or n < high))


def text_profile(documents: list[Document]) -> TextProfile:
    """Count everything the real-text charts show, in one pass over the documents."""
    bands = [0] * len(LENGTH_BANDS)
    for d in documents:
        bands[length_band(len(d.text))] += 1
    # One pass over the texts joined by newlines: no word or line crosses a newline, so the counts are
    # those of the documents one by one, minus the joining newlines themselves.
    text = "\n".join(d.text for d in documents)
    chars = Counter(text)
    if len(documents) > 1:
        chars["\n"] -= len(documents) - 1
    words = Counter(_WORD.findall(text.lower()))
    lines = Counter(s for s in (line.strip() for line in text.split("\n")) if s)
    kinds = dict.fromkeys(CHARACTER_KINDS, 0)
    for c, n in chars.items():
        kind = character_kind(c)
        if kind is not None:
            kinds[kind] += n
    return TextProfile(
        documents=len(documents),
        length_bands=tuple(bands),
        characters=len(text) - max(len(documents) - 1, 0),
        character_kinds=kinds,
        # The corpus text adds blank lines between documents and a final newline (documents_text).
        distinct_characters=len({c for c, n in chars.items() if n > 0} | ({"\n"} if documents else set())),
        words=words,
        lines=lines,
    )


def _percent(part: int, whole: int) -> str:
    share = 100 * part / whole if whole else 0.0
    return f"{share:.0f} %" if share >= 1 or share == 0 else "under 1 %"


def lengths_chart(now: TextProfile, before: TextProfile) -> Chart:
    rows = tuple(ChartRow(label, n, f"{n:,}", b)
                 for (_low, _high, label), n, b in zip(LENGTH_BANDS, now.length_bands, before.length_bands))
    total = sum(r.value for r in rows)
    if not total:
        return Chart(rows, "No documents are left.")
    top = max(rows, key=lambda r: r.value)
    opening = "Most documents are" if 2 * top.value > total else "The commonest length is"
    return Chart(rows, f"{opening} {top.label.lower()} characters long ({top.value:,} of {total:,} documents): "
                       "the model will learn to write pieces about that long before a blank line.")


def words_chart(now: TextProfile, before: TextProfile) -> Chart:
    """The loaded text's commonest words, counted after curation (so the rows stay put while curating)."""
    total = now.word_total
    rows = tuple(ChartRow(word, now.words.get(word, 0), f"{now.words.get(word, 0):,} "
                                                        f"({_percent(now.words.get(word, 0), total)})", b)
                 for word, b in before.words.most_common(TOP_WORDS))
    if not total:
        return Chart(rows, "No words are left.")
    shown = sum(r.value for r in rows)
    return Chart(rows, f"These {len(rows)} words make up {_percent(shown, total)} of the {total:,} words: "
                       "the model will learn them first and write them most.")


def characters_chart(now: TextProfile, before: TextProfile) -> Chart:
    total = now.characters
    rows = tuple(ChartRow(kind, now.character_kinds[kind], f"{now.character_kinds[kind]:,} "
                                                           f"({_percent(now.character_kinds[kind], total)})",
                          before.character_kinds[kind]) for kind in CHARACTER_KINDS)
    tokens = (f"The text uses {now.distinct_characters:,} different characters, so a character tokenizer "
              f"needs {now.distinct_characters:,} tokens.")
    outside = sum(r.value for r in rows)
    if not outside:
        return Chart(rows, f"Every character is a plain letter a–z or a space. {tokens}" if total
                     else "No characters are left.")
    top = max(rows, key=lambda r: r.value)
    return Chart(rows, f"{_percent(outside, total).capitalize()} of the characters are not plain letters or "
                       f"spaces, most of them {top.label.split(' (')[0].lower()}. {tokens}")


def _line_label(line: str) -> str:
    return f"“{line}”" if len(line) <= LINE_LABEL_CHARS else f"“{line[:LINE_LABEL_CHARS - 1].rstrip()}…”"


def _lines(n: int) -> str:
    return "1 line repeats" if n == 1 else f"{n:,} lines repeat"


def repeated_lines_chart(now: TextProfile, before: TextProfile) -> Chart:
    """The loaded text's most repeated lines, with how often each comes after curation."""
    rows = tuple(ChartRow(_line_label(line), now.lines.get(line, 0), f"{now.lines.get(line, 0):,}×", b)
                 for line, b in before.lines.most_common(TOP_LINES) if b > 1)
    repeats = now.repeated_lines
    top = max(rows, key=lambda r: r.value, default=None)
    if not repeats:
        return Chart(rows, "No line comes twice, so no line is learned word for word by repetition.")
    if top is None or top.value < 2:
        return Chart(rows, f"{_lines(repeats)} an earlier line, though none of the lines shown here "
                           "comes twice any more.")
    return Chart(rows, f"{_lines(repeats)} an earlier line; the commonest, {top.label}, comes "
                       f"{top.value:,} times: the model will learn to write lines like it word for word.")
