"""Documents: a piece of corpus text plus what it is about, when, in which style, and how clean it is.

The Data stage needs to know more about its text than the characters: a knowledge cutoff drops
documents by year, topic toggles drop them by subject, mix weights scale a source up or down, and
quality signals count duplicates and junk. A ``Document`` carries exactly that, so curation
(``engine/data/curation.py``) can be a set of pure functions over a list of them.

This module also writes the kinds of text that are not fact sentences, because they only need
names and a random stream, not the whole world: code snippets in two languages, forum posts that
recommend one of several competing libraries (the bias meter counts these), junk such as
boilerplate and symbol noise, and the quality knob's damage (typos, duplicated documents).
It imports nothing from ``engine.data.world`` so that ``world`` can build on it.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Fact:
    """One true statement: ``subject relation object``, with the year it happened if it is an event."""

    subject: str
    relation: str
    object: str
    year: int | None = None


# Topic keys, with the plain label the Data tab shows for each.
TOPICS = {
    "countries": "Countries (capitals, languages, money, history)",
    "elections": "People and elections",
    "companies": "Companies and their founders",
    "software": "Software libraries",
    "code": "Program code",
    "other": "Other text",
}
# Source (style) keys, with their plain labels.
SOURCES = {
    "encyclopedia": "Encyclopedia",
    "news": "News",
    "forum": "Forum questions and answers",
    "passage": "Reading passages",
    "code": "Code snippets",
    "story": "Stories",
    "web": "Web pages",
    "file": "Your files",
}
# A line shorter than this (not counting blank lines) counts as "very short" in the quality signals.
SHORT_LINE_CHARS = 12
# Text made of at most this many different words, each used three times or more on average, is junk
# (menu word soup such as "Home | Login | Search | Home | Login | Search").
JUNK_HANDFUL = 8


@dataclass(frozen=True)
class Corruption:
    """A fact the quality knob stated wrongly on purpose: ``fact`` is the truth, ``stated`` what was written."""

    fact: Fact  # the true fact from the world's fact table
    stated: str  # the wrong object the document states instead of ``fact.object``


@dataclass(frozen=True)
class Document:
    """One document of a corpus and what is known about it."""

    text: str  # the text itself, without the blank line that separates documents
    topic: str  # one of TOPICS: what the document is about
    source: str  # one of SOURCES: the style it is written in
    year: int | None = None  # latest year of an event it reports; None for timeless text
    facts: tuple[Fact, ...] = ()  # every world fact it states (true or corrupted), for grading and tests
    corrupted: tuple[Corruption, ...] = ()  # the facts it states wrongly on purpose (quality knob)
    duplicate: bool = False  # a planted copy of another document (quality knob)
    junk: bool = False  # boilerplate or noise rather than real text
    typo: bool = False  # a word in it was misspelt on purpose (quality knob)
    answer: str | None = None  # the competing answer it gives, e.g. the library a forum post recommends


def documents_text(documents: list[Document]) -> str:
    """The corpus as one text: documents separated by blank lines, ending with a newline."""
    if not documents:
        return ""
    return "\n\n".join(d.text for d in documents) + "\n"


def looks_like_junk(text: str) -> bool:
    """True for noise or boilerplate: mostly symbols, one line making up half the lines (3+ times), or a
    handful of words repeated.

    Used to flag junk in text the user brings, where no generator flags it for us; the planted junk
    below is written so that this test catches all of it (tested), and no clean generated text trips it.
    "A handful" is at most JUNK_HANDFUL different words: a long paragraph of ordinary prose repeats
    its common words far more than three times each on average, but it uses many different words,
    so it is never junk for that reason (tested with generated prose, and with a real book).
    """
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return True
    if sum(c.isalpha() for c in visible) < 0.6 * len(visible):
        return True
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) >= 3:
        repeats = Counter(lines).most_common(1)[0][1]
        if repeats >= 3 and 2 * repeats >= len(lines):  # a play's speaker names come often, but not half the lines
            return True
    words = re.findall(r"[a-z]+", text.lower())
    distinct = len(set(words))
    return len(words) >= 6 and distinct <= JUNK_HANDFUL and distinct * 3 <= len(words)


def documents_from_text(text: str, source: str = "file") -> list[Document]:
    """Split plain text into documents at blank lines (the user's text has no metadata to go on)."""
    parts = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text)]
    return [Document(p, "other", source, junk=looks_like_junk(p)) for p in parts if p.strip()]


# --- Code snippets ----------------------------------------------------------------------------
# Library names are written in lower case in code, as imports are: "Velix" in prose, "velix" in a
# program. The frequent language is Python; the rare one is JavaScript, so a model trained on the
# default mix writes Python far more readily than JavaScript (the coverage lesson).

_DATA_FILES = ["prices.csv", "weather.csv", "scores.csv", "votes.csv", "trains.csv", "harvest.csv"]
_PYTHON = [
    "import {lib}\n\ntable = {lib}.load_table(\"{file}\")\nprint(table.mean())",
    "import {lib}\n\ndata = {lib}.read(\"{file}\")\nfor row in data.rows():\n    print(row)",
    "from {lib} import chart\n\npoints = [3, 1, 4, 1, 5]\nchart.line(points, title=\"{title}\")",
    "import {lib}\n\nvalues = {lib}.array([2, 7, 1, 8])\nprint(values.sum(), values.max())",
    "# count the rows with {lib}\nimport {lib}\n\nrows = {lib}.read(\"{file}\").rows()\nprint(len(rows))",
]
_JAVASCRIPT = [
    "const {lib} = require(\"{lib}\");\n\nconst table = {lib}.loadTable(\"{file}\");\nconsole.log(table.mean());",
    "import {{ chart }} from \"{lib}\";\n\nchart.line([3, 1, 4, 1, 5], {{ title: \"{title}\" }});",
    "const {lib} = require(\"{lib}\");\n\n{lib}.read(\"{file}\").rows().forEach(row => console.log(row));",
]
_TITLES = ["rain per month", "sales", "visitors", "votes per town", "train delays"]


def code_documents(libraries: list[tuple[str, int]], n: int, rare_share: float,
                   rng: random.Random) -> list[Document]:
    """``n`` short programs using the libraries (name, release year); ``rare_share`` of them in JavaScript."""
    if not libraries:
        return []
    n_rare = round(n * rare_share)
    docs = []
    for i in range(n):
        name, released = rng.choice(libraries)
        template = rng.choice(_JAVASCRIPT if i < n_rare else _PYTHON)
        # No blank lines inside a document: a blank line is what separates documents.
        text = template.format(lib=name.lower(), file=rng.choice(_DATA_FILES), title=rng.choice(_TITLES))
        docs.append(Document(text.replace("\n\n", "\n"), "code", "code", year=released))
    return docs


# --- Competing answers -------------------------------------------------------------------------
_TASKS = ["read a table of numbers", "draw a chart", "add up a column of prices", "sort a long list",
          "load a spreadsheet", "count the rows in a file"]
_RECOMMEND = ["I would use {lib}.", "Try {lib}, it does exactly that.", "Most people here use {lib}.",
              "Use {lib}. It is easy to learn."]


def recommendation_documents(libraries: list[tuple[str, int]], n: int, skew: float,
                             rng: random.Random) -> list[Document]:
    """Forum posts asking which library to use; the first library is the favourite.

    ``skew`` 0 shares the answers evenly; 1 gives every answer to the favourite. In between, the
    favourite gets ``1/k + skew * (1 - 1/k)`` of them (k libraries), the rest share what is left.
    """
    if not libraries:
        return []
    k = len(libraries)
    favourite_share = 1 / k + skew * (1 - 1 / k)
    n_fav = round(n * favourite_share)
    names = [name for name, _ in libraries]
    picks = [names[0]] * n_fav + [names[1 + i % (k - 1)] for i in range(n - n_fav)] if k > 1 else [names[0]] * n
    rng.shuffle(picks)
    released = dict(libraries)
    docs = []
    for name in picks:
        text = f"Q: Which library should I use to {rng.choice(_TASKS)}?\nA: {rng.choice(_RECOMMEND).format(lib=name)}"
        docs.append(Document(text, "software", "forum", year=released[name], answer=name))
    return docs


# --- Junk and damage ---------------------------------------------------------------------------
_BOILERPLATE = ["Click here to subscribe!", "Accept all cookies", "Page not found", "Share this page",
                "Sign in to continue", "Loading..."]
_MENU = ["Home", "Login", "Search", "Menu", "Contact", "Help"]
_NOISE = ["####", "$$", "404", "~~~", "|||", "0x3f", "%%", "&&&", "==>", "[]", "{}", "**"]


def junk_documents(n: int, rng: random.Random) -> list[Document]:
    """``n`` junk documents: repeated boilerplate, menu word soup, or symbol noise."""
    docs = []
    for _ in range(n):
        kind = rng.randrange(3)
        if kind == 0:
            text = "\n".join([rng.choice(_BOILERPLATE)] * rng.randint(3, 5))
        elif kind == 1:
            words = rng.sample(_MENU, 3)
            text = " | ".join(words * rng.randint(3, 4))
        else:
            text = " ".join(rng.choice(_NOISE) for _ in range(rng.randint(8, 16)))
        docs.append(Document(text, "other", "web", junk=True))
    return docs


def add_typo(text: str, protected: set[str], rng: random.Random) -> str | None:
    """Swap two neighbouring letters in one ordinary lower-case word; None if there is no such word.

    Names (and lower-case currencies, in ``protected``) are never touched, so a typo never turns a
    true fact into a wrong one: the fact check in the tests holds for typo'd documents too.
    """
    words = [m for m in re.finditer(r"\b[a-z]{5,}\b", text) if m.group() not in protected]
    rng.shuffle(words)
    for m in words:
        w = m.group()
        i = rng.randrange(1, len(w) - 2)  # keep first and last letters, so the word stays recognisable
        if w[i] != w[i + 1]:
            return text[: m.start() + i] + w[i + 1] + w[i] + text[m.start() + i + 2:]
    return None


def damage(documents: list[Document], typo_rate: float, duplicate_rate: float, junk_rate: float,
           protected: set[str], rng: random.Random) -> list[Document]:
    """Apply the quality knob: misspell a share of prose documents, then add copies and junk.

    Copies and junk go in at random places, but never after the last document, so the corpus still
    ends the way the clean one does.
    """
    out = list(documents)
    if typo_rate:
        for i, d in enumerate(out):
            if d.source in ("encyclopedia", "news", "forum", "passage") and rng.random() < typo_rate:
                text = add_typo(d.text, protected, rng)
                if text is not None:
                    out[i] = replace(d, text=text, typo=True)
    n = len(documents)
    extra = [replace(rng.choice(out), duplicate=True) for _ in range(round(duplicate_rate * n))]
    extra += junk_documents(round(junk_rate * n), rng)
    for d in extra:
        out.insert(rng.randrange(len(out)), d)
    return out


def short_lines(text: str) -> int:
    """Non-blank lines shorter than SHORT_LINE_CHARS characters."""
    return sum(1 for line in text.split("\n") if line.strip() and len(line) < SHORT_LINE_CHARS)
