"""Open-book documents: the text that teaches a model to read its prompt.

A model answers from what it memorised unless its training text rewards reading. Each document
here gives notes and then asks about them, and only the notes hold the answer:

    Notes: Dozova uses the tuti as its currency. The capital city of Dozova is Botadun.
    Q: What is the capital of Dozova?
    A: Botadun.

Half the documents are about made-up countries (names and values drawn afresh for each document,
so no answer can be memorised by name), half about the world's own countries with the asked fact
changed (a *counterfactual*: the notes say another capital), so that only reading the notes lowers
the loss; some name a second country as a distractor. A probe of this project
(``../shared/notes/context-probe.md``) found what it takes on a tiny model: two layers (copying needs
two: induction heads), open-book text a large share of what it reads (60 %), every document distinct,
and a few thousand steps; with 30 % or repeated documents it memorised and never started reading,
and counterfactual notes taught it "after notes, the answer is some other value", which made
context hurt.

``engine.data.world`` files them as documents that state no fact of the world (``Document.facts`` is
empty): the coverage and cutoff lessons count only true statements.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RELATIONS = ("capital", "language", "currency", "founded_in")
_ONSETS = "b d f g h k l m n p r s t v z br dr gr tr st th sh ch".split()
_VOWELS = "a e i o u a e o a i".split()
_ENDINGS = {"country": ["ia", "a", "ar", "en", "or", "esh", "ova", "ira"], "capital": ["", "mar", "dun", "es", "ek"],
            "language": ["ic", "ish", "ese", "i", "an"], "currency": ["", "o", "u", "a"]}
# Probe: about a third of the documents naming two countries kept the model from answering with
# whatever value came first.
TWO_COUNTRY_SHARE = 0.3


@dataclass(frozen=True)
class Notes:
    """One country's facts as the notes state them: relation → value."""

    country: str
    values: dict  # relation -> value as written ("Botadun", "tuti", "1996")


def _word(rng: random.Random, ending: str, syllables: int) -> str:
    root = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
    if ending and ending[0] in "aeiou":
        root = root[:-1]
    return root + ending


def made_up_notes(rng: random.Random, avoid: frozenset[str]) -> Notes:
    """A country that does not exist, with a capital, language, currency and founding year."""
    while True:
        country = _word(rng, rng.choice(_ENDINGS["country"]), 2).capitalize()
        if country.lower() not in avoid:
            break
    return Notes(country, {"capital": _word(rng, rng.choice(_ENDINGS["capital"]), 2).capitalize(),
                           "language": _word(rng, rng.choice(_ENDINGS["language"]), 2).capitalize(),
                           "currency": _word(rng, rng.choice(_ENDINGS["currency"]), 2),
                           "founded_in": str(rng.randint(1800, 2025))})


def notes_text(notes: list[Notes], relations: dict[str, list[str]], rng: random.Random,
               encyclopedia: dict[str, list[str]]) -> str:
    """The notes: each country's chosen facts as encyclopedia sentences, in a shuffled order."""
    sentences = [rng.choice(encyclopedia[rel]).format(s=n.country, o=n.values[rel])
                 for n in notes for rel in relations[n.country]]
    rng.shuffle(sentences)
    return " ".join(sentences)


def short_answer(relation: str, value: str) -> str:
    """The answer as the forum writes it: "Botadun.", "The tuti.", "1996."."""
    return f"The {value}." if relation == "currency" else f"{value}."


def open_book_documents(countries: list[Notes], n: int, rng: random.Random, avoid: frozenset[str],
                        encyclopedia: dict[str, list[str]], questions: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The texts of ``n`` distinct open-book documents: half about made-up countries, half about
    ``countries`` (the world's) with the asked fact given another value; half begin with "Notes: "."""
    pools = {rel: sorted({c.values[rel] for c in countries}) for rel in RELATIONS}
    docs = []
    for _ in range(n):
        if rng.random() < 0.5:
            target = made_up_notes(rng, avoid)
            asked = rng.choice(RELATIONS)
        else:  # a world country, the asked fact changed: only the notes tell the answer
            world = rng.choice(countries)
            asked = rng.choice(RELATIONS)
            other = rng.choice([v for v in pools[asked] if v != world.values[asked]] or [world.values[asked]])
            target = Notes(world.country, {**world.values, asked: other})
        extra = [r for r in RELATIONS if r != asked]
        chosen = {target.country: [asked] + rng.sample(extra, rng.randint(0, 2))}
        group = [target]
        if rng.random() < TWO_COUNTRY_SHARE:
            distractor = made_up_notes(rng, avoid)
            group.append(distractor)
            chosen[distractor.country] = [asked] + rng.sample(extra, rng.randint(0, 1))
        text = notes_text(group, chosen, rng, encyclopedia)
        if rng.random() < 0.5:
            text = "Notes: " + text
        question = rng.choice(questions[asked])[0].format(s=target.country)
        docs.append(f"{text}\nQ: {question}\nA: {short_answer(asked, target.values[asked])}")
    return docs
