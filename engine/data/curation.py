"""Curating a corpus: pure functions from a list of documents and settings to a smaller (or bigger) list.

Every operation does exactly what its label in the Data tab says, so a student can predict the
result and the tests can check it. Because ``curate`` is pure, undo in the GUI is just "curate the
original documents with the previous settings again", and gives back the same corpus byte for byte.
The statistics behind the Data tab's charts (``corpus_stats``) are plain counts over the same list.

The operations run in a fixed order, each on the previous one's output:

1. **cutoff**: drop every document whose year is later than the cutoff (undated documents stay);
2. **topics**: keep only documents whose topic is switched on;
3. **junk**: drop documents flagged as junk;
4. **duplicates**: drop every document whose text is identical to an earlier document's;
5. **mix**: a source with weight w keeps each of its documents floor(w) times, plus one more copy for
   round((w - floor(w)) * n) of its n documents, drawn with ``random.Random`` from the seed.

Mixing runs last, so repeating a source on purpose is not undone by removing duplicates.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

from engine.data.corpus import Corpus, text_fingerprint
from engine.data.documents import TOPICS, Document, documents_text, short_lines
from engine.errors import ConfigError, CorpusError

MAX_MIX_WEIGHT = 10.0  # more copies than this only makes a corpus memorise one source


@dataclass(frozen=True)
class CurationSettings:
    """What to keep of a corpus. The defaults keep everything as it is."""

    cutoff_year: int | None = None  # drop documents about events after this year; None keeps every year
    topics: frozenset[str] | None = None  # topics to keep; None keeps every topic
    mix: tuple[tuple[str, float], ...] = ()  # (source, weight): 0 drops it, 0.5 halves it, 2 doubles it
    drop_duplicates: bool = False  # drop documents whose text already appeared earlier in the corpus
    drop_junk: bool = False  # drop documents flagged as junk (boilerplate, noise)
    seed: int = 0  # decides which documents a fractional mix weight keeps

    def validate(self) -> None:
        for source, weight in self.mix:
            if not 0.0 <= weight <= MAX_MIX_WEIGHT:
                raise ConfigError(f"The weight for {source} must be between 0 and {MAX_MIX_WEIGHT:g}.")
        if len({s for s, _ in self.mix}) != len(self.mix):
            raise ConfigError("Each source can have only one mix weight.")

    def weight(self, source: str) -> float:
        """The mix weight of a source (1 when none is set)."""
        return dict(self.mix).get(source, 1.0)


@dataclass(frozen=True)
class CorpusStats:
    """The numbers behind the Data tab's charts, all plain counts over the documents."""

    characters: int  # length of the corpus text (documents joined by blank lines, final newline)
    documents: int  # number of documents
    topic_characters: dict[str, int] = field(default_factory=dict)  # coverage: characters per topic
    topic_documents: dict[str, int] = field(default_factory=dict)  # documents per topic
    source_documents: dict[str, int] = field(default_factory=dict)  # documents per source (style)
    documents_per_year: dict[int, int] = field(default_factory=dict)  # dated documents per year, sorted
    undated: int = 0  # documents with no year (timeless facts, code without a date)
    duplicates: int = 0  # documents whose text is identical to an earlier document's
    junk: int = 0  # documents flagged as junk
    short_lines: int = 0  # non-blank lines shorter than documents.SHORT_LINE_CHARS characters
    corrupted: int = 0  # documents stating at least one wrong fact on purpose
    typos: int = 0  # documents with a misspelt word planted on purpose
    answers: dict[str, int] = field(default_factory=dict)  # bias meter: documents giving each competing answer

    @property
    def latest_year(self) -> int | None:
        return max(self.documents_per_year) if self.documents_per_year else None


def drop_after(documents: list[Document], cutoff_year: int) -> list[Document]:
    """Documents dated in or before ``cutoff_year``, and every undated one."""
    return [d for d in documents if d.year is None or d.year <= cutoff_year]


def keep_topics(documents: list[Document], topics: frozenset[str]) -> list[Document]:
    return [d for d in documents if d.topic in topics]


def drop_junk(documents: list[Document]) -> list[Document]:
    return [d for d in documents if not d.junk]


def drop_duplicates(documents: list[Document]) -> list[Document]:
    """The first document with each text, in order; later identical texts are dropped."""
    seen: set[str] = set()
    out = []
    for d in documents:
        if d.text not in seen:
            seen.add(d.text)
            out.append(d)
    return out


def mix(documents: list[Document], settings: CurationSettings) -> list[Document]:
    """Scale each source by its weight (see the module docstring); order stays the corpus order."""
    by_source: dict[str, list[int]] = {}
    for i, d in enumerate(documents):
        by_source.setdefault(d.source, []).append(i)
    copies = [0] * len(documents)
    for source in sorted(by_source):  # sorted: the draw must not depend on the order sources appear in
        indices = by_source[source]
        w = settings.weight(source)
        whole = math.floor(w)
        # Each source draws from its own stream, so changing one weight never reshuffles another source.
        extra = set(random.Random(f"mix:{settings.seed}:{source}").sample(indices, round((w - whole) * len(indices))))
        for i in indices:
            copies[i] = whole + (i in extra)
    return [d for d, n in zip(documents, copies) for _ in range(n)]


def curate(documents: list[Document], settings: CurationSettings = CurationSettings()) -> list[Document]:
    """Apply every operation in ``settings`` in the documented order; the input is not changed."""
    settings.validate()
    docs = list(documents)
    if settings.cutoff_year is not None:
        docs = drop_after(docs, settings.cutoff_year)
    if settings.topics is not None:
        docs = keep_topics(docs, settings.topics)
    if settings.drop_junk:
        docs = drop_junk(docs)
    if settings.drop_duplicates:
        docs = drop_duplicates(docs)
    if settings.mix:
        docs = mix(docs, settings)
    return docs


def corpus_stats(documents: list[Document]) -> CorpusStats:
    """Count everything the Data tab charts, in one pass over the documents."""
    topic_chars: Counter[str] = Counter()
    topic_docs: Counter[str] = Counter()
    source_docs: Counter[str] = Counter()
    years: Counter[int] = Counter()
    answers: Counter[str] = Counter()
    seen: set[str] = set()
    duplicates = junk = short = corrupted = typos = undated = 0
    for d in documents:
        topic_chars[d.topic] += len(d.text)
        topic_docs[d.topic] += 1
        source_docs[d.source] += 1
        if d.year is None:
            undated += 1
        else:
            years[d.year] += 1
        if d.answer is not None:
            answers[d.answer] += 1
        duplicates += d.text in seen
        seen.add(d.text)
        junk += d.junk
        corrupted += bool(d.corrupted)
        typos += d.typo
        short += short_lines(d.text)
    return CorpusStats(
        characters=len(documents_text(documents)),
        documents=len(documents),
        topic_characters=dict(sorted(topic_chars.items())),
        topic_documents=dict(sorted(topic_docs.items())),
        source_documents=dict(sorted(source_docs.items())),
        documents_per_year=dict(sorted(years.items())),
        undated=undated,
        duplicates=duplicates,
        junk=junk,
        short_lines=short,
        corrupted=corrupted,
        typos=typos,
        answers=dict(sorted(answers.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def fingerprint(documents: list[Document]) -> str:
    """sha256 of the curated corpus text; equal to ``Corpus.fingerprint`` of ``curated_corpus``."""
    return text_fingerprint(documents_text(documents))


def curated_corpus(documents: list[Document], name: str, source: str) -> Corpus:
    """The curated documents as the Corpus that Pretraining trains on; refuses an empty result."""
    if not documents:
        raise CorpusError(
            "Curation removed every document, so there is nothing left to train on.",
            "Turn a topic back on, move the cutoff year later, or raise a mix weight.",
        )
    return Corpus(name, documents_text(documents), source)


def topic_label(topic: str) -> str:
    """The short name a chart gives a topic: "Countries" for "countries", "Program code" for "code"."""
    return TOPICS.get(topic, topic).split(" (")[0]


def coverage_rows(stats: CorpusStats, before: CorpusStats) -> list[tuple[str, int, int]]:
    """(topic label, characters now, characters before curation) for every topic of the loaded text.

    A topic that curation emptied stays, with 0 characters now: the coverage bars and their sentence
    (``coverage_sentence``) both come from these rows, so they always name the same topics.
    """
    return [(topic_label(topic), stats.topic_characters.get(topic, 0), n)
            for topic, n in before.topic_characters.items()]


def _names(labels: list[str]) -> str:
    labels = [label.lower() for label in labels]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def coverage_sentence(rows: list[tuple[str, int, int]]) -> str:
    """What the coverage bars mean, from the bars' own numbers: an empty topic first, else the smallest."""
    if not rows:
        return ""
    empty = [label for label, now, _before in rows if now == 0]
    if len(empty) == len(rows):
        return "No text is left on any topic."
    if empty:
        return (f"Nothing about {_names(empty)} is left: the model will know nothing about "
                f"{'it' if len(empty) == 1 else 'them'}.")
    label = min(rows, key=lambda row: row[1])[0]
    return f"The model sees least about {label.lower()}: expect it to know that topic worst."


def _documents_are(n: int) -> str:
    return "1 document is" if n == 1 else f"{n:,} documents are"


def explanations(stats: CorpusStats, before: CorpusStats | None = None) -> dict[str, str]:
    """One plain sentence per chart saying what the numbers mean for the model.

    ``before`` is the loaded text's stats (the topics the coverage chart lists); by default ``stats``.
    """
    out = {}
    if stats.latest_year is not None:
        out["years"] = f"The model will know nothing that happened after {stats.latest_year}."
    if stats.topic_characters or (before is not None and before.topic_characters):
        out["coverage"] = coverage_sentence(coverage_rows(stats, before or stats))
    notes = []
    if stats.duplicates:
        notes.append(f"{_documents_are(stats.duplicates)} exact repeats: the model will memorise them word for word.")
    if stats.junk:
        notes.append(f"{_documents_are(stats.junk)} junk: the model will learn to write junk too.")
    out["quality"] = " ".join(notes) or "No repeated or junk documents."
    if stats.answers:
        total = sum(stats.answers.values())
        top, n = next(iter(stats.answers.items()))
        out["bias"] = (f"{round(100 * n / total)}% of recommendations name {top}, so the model will "
                       f"probably recommend {top} too.")
    return out
