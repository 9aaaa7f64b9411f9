"""Real text for tests: a public-domain book where this machine has one, and generated prose everywhere.

The book is read where it lies (never copied into the repository); a test that needs it skips when
it is absent. Unit tests use ``prose``: long paragraphs of ordinary English words, repeated as
prose repeats them, wrapped into lines as a printed book is.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import strategies as st

BOOK = Path(os.environ.get("TRAINING_EXPLORER_REAL_BOOK", "/work/shared/corpora/tinyshakespeare.txt"))

SUBJECTS = ["The old man", "My sister", "A young farmer", "The king", "Our neighbour", "The children",
            "His wife", "The doctor"]
VERBS = ["walked slowly to", "looked for a while at", "spoke again about", "thought of", "came back from",
         "wrote a letter about", "waited by", "remembered"]
OBJECTS = ["the house", "the river", "the garden", "the village", "an old friend", "the church", "the market",
           "the long road"]
TAILS = ["in the morning", "after dinner", "with great care", "without a word", "once again",
         "for a long time", "", "as he always did"]


def real_book() -> Path:
    """The book's path, or a skip when this machine does not have it."""
    if not BOOK.is_file():
        pytest.skip(f"no real book at {BOOK}")
    return BOOK


def sentence(parts: tuple[int, int, int, int]) -> str:
    s, v, o, t = parts
    return " ".join(w for w in (SUBJECTS[s], VERBS[v], OBJECTS[o], TAILS[t]) if w) + "."


def paragraph(parts: list[tuple[int, int, int, int]], width: int = 70) -> str:
    """Sentences one after another, wrapped at ``width`` characters like a printed page."""
    return textwrap.fill(" ".join(sentence(p) for p in parts), width)


_PART = st.tuples(*(st.integers(0, len(words) - 1) for words in (SUBJECTS, VERBS, OBJECTS, TAILS)))
# A long paragraph: 15 to 60 different sentences (about 100 to 500 words), wrapped at 50 to 90 characters.
prose = st.builds(paragraph, st.lists(_PART, min_size=15, max_size=60, unique=True), st.integers(50, 90))
