"""A small fictional world, the facts that are true in it, and the text written about it.

The bundled default corpus comes from here. Because every country, person, company and library is
invented, whatever a trained model says about them can be graded exactly: it is either a fact of
this world, a wrong fact, or something the world does not contain. Nothing a model saw in some
other training text can help it, so what it knows, it learned from this corpus.

``world_documents`` returns the text as ``engine.data.documents.Document`` records that know their
topic, year, style and quality flags (for the Data stage's charts and curation); the knobs in
``WorldSettings`` control coverage, quality (wrong facts, typos, duplicates, junk), recency and
bias (how famous each topic is, and how skewed the forum's library recommendations are).

Everything is deterministic for a given seed: the world comes from ``random.Random("world:<seed>")``
and the text from ``random.Random("text:<seed>")``. String seeds are hashed with SHA-512 by the
``random`` module, so unlike ``hash()`` they give the same stream in every process.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass

from engine.data.documents import (
    Corruption,
    Document,
    Fact,
    code_documents,
    damage,
    documents_text,
    recommendation_documents,
)
from engine.config import check_ranges
from engine.errors import ConfigError


@dataclass(frozen=True)
class WorldSettings:
    """What world to invent and how much text to write about it."""

    seed: int = 7  # every random choice derives from this; same seed, same world, same text
    n_countries: int = 60  # countries in the world; people and companies scale with it
    first_year: int = 1800  # earliest year anything in the world happened
    last_year: int = 2025  # the world's "now": latest election, founding or release
    repeats: int = 4  # how many times each fact is written in each style (before the knobs below)
    coverage: float = 1.0  # fraction of facts written at all; the rest exist but are never mentioned
    error_rate: float = 0.0  # fraction of mentions that state a wrong object (low-quality sources)
    recency: float = 0.0  # extra mentions of recent events: last_year's get (1 + recency) times as many
    bias: float = 0.0  # 0: every topic gets equal attention; 1: from one mention (obscure) to 2x (famous)
    held_out_share: float = 0.25  # share of countries never asked about in Q/A text (tests transfer later)
    code_snippets: int = 80  # short programs that use the world's libraries
    rare_language_share: float = 0.1  # share of those programs in JavaScript; the rest are Python
    recommendations: int = 60  # forum posts recommending one of the competing libraries
    answer_skew: float = 0.8  # 0: recommendations split evenly; 1: every one names the favourite library
    typo_rate: float = 0.0  # share of prose documents with one misspelt word (low-quality sources)
    duplicate_rate: float = 0.0  # planted copies of documents, as a share of the clean document count
    junk_rate: float = 0.0  # planted junk documents (boilerplate, noise), as a share of the clean count
    safety_stories: int = 6  # stories per harmful act of refusing it and of helping with its twin (0: none)
    open_book_documents: int = 0  # notes followed by a question only they answer (engine.data.open_book)

    def validate(self) -> None:
        check_ranges("world", self)  # each knob's own range (engine.config.RANGES)
        if self.last_year - self.first_year < 80:
            raise ConfigError("The world's history must span at least 80 years.")


@dataclass(frozen=True)
class Country:
    name: str
    capital: str
    language: str
    currency: str  # a common noun, written lower-case: "the telmar"
    founded: int


@dataclass(frozen=True)
class Person:
    name: str
    role: str  # "president" (of a country) or "founder" (of a company)
    organisation: str  # the country or company the role belongs to
    year: int  # elected or founded


@dataclass(frozen=True)
class Company:
    name: str
    founder: str
    country: str
    founded: int


@dataclass(frozen=True)
class Library:
    name: str  # a programming library, like a fictional numpy
    developer: str  # the company that makes it
    released: int


@dataclass(frozen=True)
class World:
    countries: tuple[Country, ...]
    people: tuple[Person, ...]
    companies: tuple[Company, ...]
    libraries: tuple[Library, ...]
    facts: tuple[Fact, ...]

    def entity_names(self) -> list[str]:
        """Every invented name in the world (currencies in their lower-case form)."""
        names = [n for c in self.countries for n in (c.name, c.capital, c.language, c.currency)]
        names += [p.name for p in self.people] + [c.name for c in self.companies]
        return names + [lib.name for lib in self.libraries]


# --- Names -----------------------------------------------------------------------------------
# Names are built from simple consonant-vowel syllables so they are easy to read aloud, and are
# rejected if they match a real country or capital: a student should never wonder whether the
# model is remembering the real world. Names are also kept from containing one another, so that
# grading an answer by looking for a name in it cannot be fooled by a longer name.

_ONSETS = "b d f g h k l m n p r s t v z b d l m n r s t v br dr gr tr st th sh ch".split()
_VOWELS = "a e i o u a e o a i".split()
_CODAS = ["", "", "", "", "", "", "n", "r", "l", "s", "m"]
_COUNTRY_ENDINGS = ["ia", "ia", "a", "ar", "en", "or", "esh", "ova", "ira", "ovia"]
_CITY_ENDINGS = ["", "", "", "mar", "dun", "es", "ek", "ora"]
_LANGUAGE_ENDINGS = ["ic", "ish", "ese", "i", "an", "ari"]
_SURNAME_ENDINGS = ["", "", "ow", "in", "ek", "er", "ley", "an"]
_LIBRARY_ENDINGS = ["ix", "o", "a", "on", "ly"]
_SOFTWARE_KINDS = ["Labs", "Software", "Systems"]  # the companies that make the libraries
_COMPANY_KINDS = ["Works", "Foods", "Motors", "Trading", "Textiles", "Shipping", "Mining"]

# Real places and languages the syllables could produce; no generated word may contain one.
_REAL_PLACES = set(
    """afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan
    bahamas bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia botswana
    brazil brunei bulgaria burundi cambodia cameroon canada chad chile china colombia comoros congo
    croatia cuba cyprus czechia denmark djibouti dominica ecuador egypt eritrea estonia eswatini
    ethiopia fiji finland france gabon gambia georgia germany ghana greece grenada guatemala guinea
    guyana haiti honduras hungary iceland india indonesia iran iraq ireland israel italy jamaica japan
    jordan kazakhstan kenya kiribati kosovo kuwait laos latvia lebanon lesotho liberia libya
    lithuania luxembourg madagascar malawi malaysia maldives mali malta mauritania mauritius mexico
    moldova monaco mongolia montenegro morocco mozambique myanmar namibia nauru nepal netherlands
    nicaragua niger nigeria norway oman pakistan palau panama paraguay peru philippines poland
    portugal qatar romania russia rwanda samoa senegal serbia seychelles singapore slovakia slovenia
    somalia spain sudan suriname sweden switzerland syria taiwan tajikistan tanzania thailand togo
    tonga tunisia turkey tuvalu uganda ukraine uruguay uzbekistan vanuatu venezuela vietnam yemen
    zambia zimbabwe abuja accra amman ankara asmara athens baku bamako berlin bern bogota dakar dhaka
    doha dublin hanoi harare havana kabul kampala kiev kyiv lima lisbon london luanda lusaka madrid
    male manila maseru minsk moscow nairobi oslo paris prague quito rabat riga rome sanaa seoul sofia
    suva tallinn tbilisi tehran tirana tokyo tunis vaduz vienna warsaw yerevan zagreb
    dakota alaska texas kansas samara sana tiber kosova mara lesbos malabar kerala petra gandia
    danish english polish spanish irish swedish finnish turkish hindi urdu bengali farsi pashto arabic
    hebrew swahili zulu xhosa amharic malay tamil telugu nepali maori tagalog basque breton welsh""".split()
)
# Common English words the syllables can spell (words ending in a silent "e" are refused anyway).
_ENGLISH = set(
    """sofa soda data memo demo solo polo halo hero zero tuna lava coma diva visa beta pita mama papa
    lager metal motor robin melon lemon salon baron bacon canon cabin basin resin raven seven haven
    tenor manor minor donor rotor humor tumor radar cedar solar polar molar sugar total rival canal
    salad medal pedal moral mural tidal vital fatal level lever never fever river liver diner miner
    liner timer tiger paper super viper radio piano banana potato tomato vanilla kilo tango mango
    bingo limbo pesto lotus bonus focus virus sinus locus minus tonic panic manic sonic comic relic
    topic logic magic music pupil lapis pilot robot habit rapid timid vivid livid solid valid lemur
    denim venom lotion motion nation ration potion vision lesson person reason season poison salmon""".split()
)
# Fragments that should never appear in a name shown to students.
_BLOCKED = ("fuk", "fuc", "shit", "cum", "nig", "fag", "dik", "cok", "tit", "sex", "rap", "anal",
            "porn", "nazi", "kill", "dam", "hel", "piss", "poo", "ass", "bum", "cunt", "dick")


class _Namer:
    """Draws fresh names, remembering every word used so far."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: list[str] = []

    def _syllables(self, n: int) -> str:
        out, prev_coda = [], ""
        for i in range(n):
            # A syllable after a closed one takes a single consonant, so clusters stay sayable.
            onsets = [o for o in _ONSETS if len(o) == 1] if prev_coda else _ONSETS
            onset = "" if i == 0 and self.rng.random() < 0.15 else self.rng.choice(onsets)
            prev_coda = self.rng.choice(_CODAS) if i < n - 1 else ""
            out.append(onset + self.rng.choice(_VOWELS) + prev_coda)
        return "".join(out)

    def word(self, lo: int, hi: int, endings: list[str] | None = None, min_len: int = 4) -> str:
        for _ in range(10_000):
            root = self._syllables(self.rng.randint(lo, hi))
            ending = self.rng.choice(endings) if endings else ""
            if ending and root[-1] in "aeiou" and ending[0] in "aeiou":
                root = root[:-1]  # "Vela" + "ia" reads better as "Velia"
            w = (root + ending).lower()
            if len(w) < min_len or w in _ENGLISH or any(b in w for b in _BLOCKED):
                continue
            if w.endswith("e") and not ending.endswith("e"):
                continue  # "Like", "Lure": a final silent e makes too many English words
            if any(p in w for p in _REAL_PLACES if len(p) >= 4):
                continue  # also refuses near misses such as "Pindia" or "Tomalia"
            if any(w in u or u in w for u in self.used):
                continue
            self.used.append(w)
            return w.capitalize()
        raise ConfigError("Ran out of fresh names; ask for a smaller world.")


def generate_world(settings: WorldSettings = WorldSettings()) -> World:
    """Invent countries, people, companies and libraries, and list every fact about them."""
    settings.validate()
    rng = random.Random(f"world:{settings.seed}")
    namer = _Namer(rng)
    first, last = settings.first_year, settings.last_year

    countries = []
    for _ in range(settings.n_countries):
        countries.append(Country(
            name=namer.word(2, 2, _COUNTRY_ENDINGS, min_len=5),
            capital=namer.word(2, 2, _CITY_ENDINGS, min_len=5),
            language=namer.word(1, 2, _LANGUAGE_ENDINGS, min_len=5),
            currency=namer.word(2, 2, min_len=4).lower(),
            founded=rng.randint(first, last - 10),  # old and young countries alike
        ))

    def person_name() -> str:
        return f"{namer.word(2, 2)} {namer.word(2, 2, _SURNAME_ENDINGS, min_len=5)}"

    people = []
    # About half the countries have a named president, elected within the last 40 years.
    for c in rng.sample(countries, max(1, settings.n_countries // 2)):
        year = rng.randint(max(c.founded + 1, last - 40), last)
        people.append(Person(person_name(), "president", c.name, year))

    companies = []
    for i in range(max(3, settings.n_countries // 5)):
        home = rng.choice(countries)
        kinds = _SOFTWARE_KINDS if i < 3 else _COMPANY_KINDS
        name = f"{namer.word(2, 2, min_len=5)} {rng.choice(kinds)}"
        founded = rng.randint(max(home.founded, first + 60), last - 3)
        founder = Person(person_name(), "founder", name, founded)
        people.append(founder)
        companies.append(Company(name, founder.name, home.name, founded))

    libraries = []
    for co in companies[:3]:
        released = rng.randint(min(max(co.founded + 1, 1960), last), last)
        libraries.append(Library(namer.word(2, 2, _LIBRARY_ENDINGS, min_len=5), co.name, released))

    facts: list[Fact] = []
    for c in countries:
        facts += [Fact(c.name, "capital", c.capital), Fact(c.name, "language", c.language),
                  Fact(c.name, "currency", c.currency),
                  Fact(c.name, "founded_in", str(c.founded), c.founded)]
    facts += [Fact(p.name, "president_of", p.organisation, p.year) for p in people if p.role == "president"]
    for co in companies:
        facts += [Fact(co.founder, "founder_of", co.name, co.founded),
                  Fact(co.name, "headquarters", co.country)]
    for lib in libraries:
        facts += [Fact(lib.name, "developed_by", lib.developer),
                  Fact(lib.name, "released_in", str(lib.released), lib.released)]
    return World(tuple(countries), tuple(people), tuple(companies), tuple(libraries), tuple(facts))


# --- Text ------------------------------------------------------------------------------------
# {s} subject, {o} object, {y} year. Several paraphrases per relation, so the model has to learn
# the fact rather than one sentence. Templates that start with a name are never used first in a
# document: every name in the corpus is then preceded by a space, and byte-level BPE (which glues
# the space to the following word) splits each name the same way wherever it appears.

_ENCYCLOPEDIA = {
    "capital": ["The capital of {s} is {o}.", "{o} is the capital city of {s}.",
                "The capital city of {s} is {o}.", "{s} has its capital at {o}.",
                "The government of {s} sits in the capital, {o}."],
    "language": ["The official language of {s} is {o}.", "People in {s} speak {o}.",
                 "{o} is the language spoken in {s}.", "In {s}, most people speak {o}."],
    "currency": ["The currency of {s} is the {o}.", "In {s}, people pay with the {o}.",
                 "The {o} is the currency used in {s}.", "{s} uses the {o} as its currency."],
    "founded_in": ["{s} was founded in {o}.", "The country of {s} was founded in {o}.",
                   "The founding year of {s} is {o}.", "{s} became a country in {o}."],
    "president_of": ["The president of {o} is {s}, who was elected in {y}.",
                     "{s} was elected president of {o} in {y}.",
                     "{s} has been the president of {o} since {y}.",
                     "In {y}, {s} became the president of {o}."],
    "founder_of": ["{o} was founded by {s} in {y}.", "The founder of {o} is {s}, who started it in {y}.",
                   "{s} founded the company {o} in {y}.", "In {y}, {s} started {o}."],
    "headquarters": ["{s} is a company based in {o}.", "The company {s} has its headquarters in {o}.",
                     "{s} is headquartered in {o}.", "The home country of {s} is {o}."],
    "developed_by": ["The {s} library is developed by {o}.", "{o} makes the {s} programming library.",
                     "{s} is a software library made by {o}.", "The programming library {s} comes from {o}."],
    "released_in": ["{s} was first released in {o}.", "The first version of {s} came out in {o}.",
                    "The {s} library was released in {o}.", "In {o}, the first version of {s} was released."],
}
# Dated events only; all start with an ordinary word, since each news item is its own document.
_NEWS = {
    "founded_in": ["In {o}, {s} was founded as a new country.", "The country of {s} was founded in {o}.",
                   "News from {o}: the new country of {s} has been founded."],
    "president_of": ["In {y}, {s} was elected president of {o}.",
                     "In {y}, voters in {o} elected {s} as their president.",
                     "The {y} election in {o} was won by {s}, who became president.",
                     "After the election of {y}, {s} became the president of {o}."],
    "founder_of": ["In {y}, {s} founded the company {o}.", "The company {o} was started by {s} in {y}.",
                   "In {y}, {s} opened a new company called {o}."],
    "released_in": ["In {o}, the {s} library was released to the public.",
                    "The first version of the {s} library came out in {o}.",
                    "News from {o}: programmers can now download the new {s} library."],
}
# (question, which slot answers it); the first one is the canonical question in the facts file.
_QUESTIONS = {
    "capital": [("What is the capital of {s}?", "o"), ("Which city is the capital of {s}?", "o")],
    "language": [("What language do people speak in {s}?", "o"),
                 ("What is the official language of {s}?", "o")],
    "currency": [("What is the currency of {s}?", "o"), ("What money do people use in {s}?", "o")],
    "founded_in": [("When was {s} founded?", "o"), ("In what year was {s} founded?", "o")],
    "president_of": [("Who is the president of {o}?", "s"),
                     ("Who was elected president of {o} in {y}?", "s"),
                     ("When was {s} elected president of {o}?", "y"),
                     ("Which country is {s} the president of?", "o")],
    "founder_of": [("Who founded {o}?", "s"), ("Who is the founder of {o}?", "s"),
                   ("When was {o} founded?", "y")],
    "headquarters": [("Where is {s} based?", "o"), ("In which country is {s} headquartered?", "o")],
    "developed_by": [("Which company develops the {s} library?", "o"), ("Who makes {s}?", "o")],
    "released_in": [("When was {s} first released?", "o"), ("In what year did {s} come out?", "o")],
}
# Reading passages: (relation, sentence) slots. The first slot opens the passage; a passage whose
# opening fact is not covered is skipped, and other uncovered slots are left out.
_COUNTRY_PASSAGES = [
    [("capital", "A traveller who visits {c} usually arrives first in {city}, the capital."),
     ("language", "Most people there speak {lang}, and the street signs are written in it too."),
     ("currency", "Shops and markets ask to be paid in the {cur}."),
     ("founded_in", "The guide book explains that {c} has been a country since {fy}."),
     ("president_of", "Its current president is {p}, who was elected in {py}.")],
    [("founded_in", "Our history class read about {c} this week. It was founded in {fy}."),
     ("capital", "Its capital is {city}."),
     ("president_of", "The teacher told us that {p} was elected president of {c} in {py}."),
     ("language", "Children in {c} learn to read and write in {lang}."),
     ("currency", "Pocket money there is counted in the {cur}.")],
    [("currency", "Dear friend, I changed my money into the {cur} as soon as I landed in {c}."),
     ("capital", "We spent two days in {city}, the capital."),
     ("language", "I am trying to learn a few words of {lang}."),
     ("president_of", "Everyone here talks about {p}, the president elected in {py}."),
     ("founded_in", "Next week the whole country celebrates its founding in {fy}.")],
]
_COMPANY_PASSAGES = [
    [("founder_of", "The story of {co} began in {y}, when {p} started the company."),
     ("headquarters", "Today {co} is based in {c}."),
     ("developed_by", "Programmers know the company for the {lib} library."),
     ("released_in", "The first version of {lib} appeared in {ly}.")],
    [("headquarters", "A business magazine visited {co} at its home in {c}."),
     ("founder_of", "The company was founded in {y} by {p}."),
     ("developed_by", "Its engineers also look after {lib}, a library for programmers."),
     ("released_in", "They released {lib} in {ly}.")],
]


def _topic(fact: Fact) -> str:
    """The entity a fact is 'about', which decides its paragraph and how famous it is."""
    return fact.object if fact.relation in ("president_of", "founder_of") else fact.subject


def held_out_countries(world: World, settings: WorldSettings = WorldSettings()) -> frozenset[str]:
    """Countries kept out of every question-and-answer text, in pretraining and in the tuning sets.

    Their facts appear only as statements (encyclopedia, news, passages), so a question about them
    later tests whether knowledge learned from running text transfers to answering questions.
    """
    names = [c.name for c in world.countries]
    k = round(settings.held_out_share * len(names))
    return frozenset(random.Random(f"split:{settings.seed}").sample(names, k))


def is_held_out(fact: Fact, held_out: frozenset[str]) -> bool:
    """True for a fact about, or naming, a held-out country; no question-and-answer text covers it."""
    return fact.subject in held_out or fact.object in held_out


def _entity_topics(world: World) -> dict[str, str]:
    """Which topic each entity's documents belong to."""
    topics = {c.name: "countries" for c in world.countries}
    topics.update({co.name: "companies" for co in world.companies})
    topics.update({lib.name: "software" for lib in world.libraries})
    return topics


def world_documents(world: World, settings: WorldSettings = WorldSettings()) -> list[Document]:
    """Every document written about the world, with its topic, year, style and quality flags, shuffled.

    Encyclopedia paragraphs, news items, forum Q/A, reading passages (most followed by a question
    on them), code snippets and library recommendations, stories of refusing harm and of not knowing
    (``engine.data.safety_text``), open-book notes if asked for (``engine.data.open_book``), then the quality
    knob's damage.
    """
    settings.validate()
    rng = random.Random(f"text:{settings.seed}")
    cover = random.Random(f"coverage:{settings.seed}")  # own stream: the text knobs never move it
    visible = {f for f in world.facts if settings.coverage >= 1.0 or cover.random() < settings.coverage}
    held_out = held_out_countries(world, settings)
    entity_topic = _entity_topics(world)
    pools: dict[str, list[str]] = {}
    for f in world.facts:
        pools.setdefault(f.relation, []).append(f.object)
    span = settings.last_year - settings.first_year
    # What the document being written so far states; slots() fills it, emit() empties it.
    stated: list[Fact] = []
    wrong: list[Corruption] = []

    def count(f: Fact) -> int:
        # Fame comes from a hash of the name (via its own Random), not from the text stream, so a
        # country is equally famous whatever else changes.
        fame = random.Random(f"fame:{settings.seed}:{_topic(f)}").random()
        weight = (1 - settings.bias) + 2 * settings.bias * fame
        if f.year is not None:
            weight *= 1 + settings.recency * (f.year - settings.first_year) / span
        return max(1, round(settings.repeats * weight)) if f in visible else 0

    def slots(f: Fact) -> dict[str, str]:
        obj = f.object
        if settings.error_rate and rng.random() < settings.error_rate:
            obj = rng.choice([o for o in pools[f.relation] if o != f.object] or [obj])
        stated.append(f)
        if obj != f.object:
            wrong.append(Corruption(f, obj))
        return {"s": f.subject, "o": obj, "y": str(f.year)}

    def sentence(f: Fact, first: bool) -> str:
        options = [t for t in _ENCYCLOPEDIA[f.relation] if not (first and t.startswith("{"))]
        return rng.choice(options).format(**slots(f))

    docs: list[Document] = []

    def emit(text: str, source: str, entity: str, facts: list[Fact] | None = None) -> None:
        facts = list(dict.fromkeys(stated if facts is None else facts))  # in order, once each
        topic = "elections" if facts and all(f.relation == "president_of" for f in facts) else entity_topic[entity]
        years = [f.year for f in facts if f.year is not None]
        docs.append(Document(text, topic, source, max(years) if years else None, tuple(facts), tuple(wrong)))
        stated.clear()
        wrong.clear()

    by_topic: dict[str, list[Fact]] = {}
    for f in world.facts:
        by_topic.setdefault(_topic(f), []).append(f)

    # Encyclopedia: the k-th paragraph about a topic holds every fact still owed a k-th mention.
    for entity, topic_facts in by_topic.items():
        for k in range(max(count(f) for f in topic_facts)):
            chosen = [f for f in topic_facts if count(f) > k]
            rng.shuffle(chosen)
            emit(" ".join(sentence(f, i == 0) for i, f in enumerate(chosen)), "encyclopedia", entity)

    for f in world.facts:
        for _ in range(count(f)):
            if f.relation in _NEWS:
                emit(rng.choice(_NEWS[f.relation]).format(**slots(f)), "news", _topic(f))
            if is_held_out(f, held_out):
                continue  # held-out countries are never asked about; see held_out_countries()
            question, slot = rng.choice(_QUESTIONS[f.relation])
            values = slots(f)
            if rng.random() < 0.5:
                short = values[slot]
                answer = f"The {short}." if f.relation == "currency" and slot == "o" else f"{short}."
            else:
                answer = rng.choice(_ENCYCLOPEDIA[f.relation]).format(**values)
            emit(f"Q: {question.format(**values)}\nA: {answer}", "forum", _topic(f))

    def passage(templates: list[tuple[str, str]], facts: dict[str, Fact], values: dict[str, str],
                entity: str, question: bool) -> None:
        if templates[0][0] not in facts:
            stated.clear()
            wrong.clear()
            return
        parts = [t.format(**values) for rel, t in templates if rel in facts]
        text = " ".join(parts)
        # A question on the passage, answered from it: tiny models only learn to use their context
        # from text that uses it.
        asked = [r for r in ("capital", "language", "currency", "founded_in") if r in facts]
        if question and asked:
            rel = rng.choice(asked)
            short = {"capital": values.get("city"), "language": values.get("lang"),
                     "currency": f"the {values.get('cur')}", "founded_in": values.get("fy")}[rel]
            q = _QUESTIONS[rel][0][0].format(s=entity)
            text += f"\nQ: {q}\nA: {short[0].upper() + short[1:]}."
        emit(text, "passage", entity, [facts[rel] for rel, _ in templates if rel in facts])

    president = {p.organisation: p for p in world.people if p.role == "president"}
    n_passages = max(1, settings.repeats - 1)
    for c in world.countries:
        facts = {f.relation: f for f in by_topic[c.name] if f in visible}
        for _ in range(n_passages):
            v = {"c": c.name, "city": slots(facts["capital"])["o"] if "capital" in facts else "",
                 "lang": slots(facts["language"])["o"] if "language" in facts else "",
                 "cur": slots(facts["currency"])["o"] if "currency" in facts else "",
                 "fy": slots(facts["founded_in"])["o"] if "founded_in" in facts else ""}
            if c.name in president and "president_of" in facts:
                v.update(p=president[c.name].name, py=str(president[c.name].year))
            passage(rng.choice(_COUNTRY_PASSAGES), facts, v, c.name, c.name not in held_out)
    libs = {lib.developer: lib for lib in world.libraries}
    for co in world.companies:
        facts = {f.relation: f for f in by_topic[co.name] if f in visible}
        lib = libs.get(co.name)
        if lib:
            facts.update({f.relation: f for f in by_topic[lib.name] if f in visible})
        for _ in range(n_passages):
            v = {"co": co.name, "p": co.founder, "y": str(co.founded),
                 "c": slots(facts["headquarters"])["o"] if "headquarters" in facts else "",
                 "lib": lib.name if lib else "", "ly": str(lib.released) if lib else ""}
            passage(rng.choice(_COMPANY_PASSAGES), facts, v, co.name, False)

    rng.shuffle(docs)

    # Code and recommendations come from their own stream, so their knobs leave the prose alone.
    # They go in before a random document, never after the last one.
    extra_rng = random.Random(f"extra:{settings.seed}")
    libraries = [(lib.name, lib.released) for lib in world.libraries]
    extra = code_documents(libraries, settings.code_snippets, settings.rare_language_share, extra_rng)
    extra += recommendation_documents(libraries, settings.recommendations, settings.answer_skew, extra_rng)
    for d in extra:
        docs.insert(extra_rng.randrange(len(docs)), d)
    safety_rng = random.Random(f"safety:{settings.seed}")
    for text, _kind in _safety_stories(world, settings, safety_rng):
        docs.insert(safety_rng.randrange(len(docs)), Document(text, "other", "story", None, (), ()))
    if settings.open_book_documents:
        docs = _with_open_book(world, settings, docs)

    protected = {w.lower() for name in world.entity_names() for w in name.split()}
    return damage(docs, settings.typo_rate, settings.duplicate_rate, settings.junk_rate, protected,
                  random.Random(f"quality:{settings.seed}"))


# Stories of not knowing, per harmful act's stories: 8 x 6 = 48 made-up places on the defaults.
UNKNOWN_STORIES_PER_ACT_STORY = 8
# The first names unknown_country_names draws belong to the preference pairs and the red team.
N_ASKED_UNKNOWN_NAMES = 60


def unknown_country_names(world: World, settings: WorldSettings, n: int) -> list[str]:
    """Country names the world does not contain, drawn like real ones so they look plausible.

    The first N_ASKED_UNKNOWN_NAMES are asked about by the later stages (``engine.data.stage_sets``); the
    pretraining text's stories of not knowing take the ones after them. The same ``n`` prefix comes
    out whatever ``n`` is."""
    namer = _Namer(random.Random(f"unknown:{settings.seed}"))
    namer.used = [w.lower() for name in world.entity_names() for w in name.split()]
    # The same endings as real ones, so a fake cannot be spotted by its shape.
    return [namer.word(2, 2, _COUNTRY_ENDINGS, min_len=5) for _ in range(n)]


def _safety_stories(world: World, settings: WorldSettings, rng: random.Random) -> list[tuple[str, str]]:
    """``engine.data.safety_text`` stories set in the world's training countries."""
    from engine.data.safety_text import safety_stories

    if not settings.safety_stories:
        return []
    held = held_out_countries(world, settings)
    presidents = {p.organisation: p.name for p in world.people if p.role == "president"}
    places = [{"c": c.name, "city": c.capital, "p": presidents[c.name], "co": rng.choice(world.companies).name}
              for c in world.countries if c.name not in held and c.name in presidents]
    n_unknown = UNKNOWN_STORIES_PER_ACT_STORY * settings.safety_stories
    names = unknown_country_names(world, settings, N_ASKED_UNKNOWN_NAMES + n_unknown)[N_ASKED_UNKNOWN_NAMES:]
    return safety_stories(places, names, settings.safety_stories, rng)


def country_values(country: Country) -> dict[str, str]:
    """A country's four facts as the text writes them: relation → value ("founded_in" as a string)."""
    return {"capital": country.capital, "language": country.language, "currency": country.currency,
            "founded_in": str(country.founded)}


def names_taken(world: World, settings: WorldSettings) -> frozenset[str]:
    """Every word of every name the world uses or the later stages ask about as made up, lower-case:
    a new made-up country must be none of them."""
    names = world.entity_names() + unknown_country_names(world, settings, N_ASKED_UNKNOWN_NAMES)
    return frozenset(w.lower() for name in names for w in name.split())


def _with_open_book(world: World, settings: WorldSettings, docs: list[Document]) -> list[Document]:
    """``docs`` with ``settings.open_book_documents`` open-book documents spread evenly among them."""
    from engine.data.open_book import Notes, open_book_documents

    rng = random.Random(f"open-book:{settings.seed}")
    countries = [Notes(c.name, country_values(c)) for c in world.countries]
    texts = open_book_documents(countries, settings.open_book_documents, rng, names_taken(world, settings),
                                _ENCYCLOPEDIA, _QUESTIONS)
    merged = docs + [Document(text, "other", "notes", None, (), ()) for text in texts]
    rng.shuffle(merged)
    return merged


def write_documents(world: World, settings: WorldSettings = WorldSettings()) -> list[str]:
    """The documents' texts only, in corpus order."""
    return [d.text for d in world_documents(world, settings)]


def corpus_text(settings: WorldSettings = WorldSettings()) -> str:
    """The whole corpus: documents separated by blank lines, ending with a newline."""
    return documents_text(world_documents(generate_world(settings), settings))


def world_facts_as_records(world: World) -> list[dict]:
    """The ground truth as plain dicts, with a canonical question and answer for grading."""
    records = []
    for i, f in enumerate(world.facts):
        question, slot = _QUESTIONS[f.relation][0]
        values = {"s": f.subject, "o": f.object, "y": str(f.year)}
        records.append({"id": i, "subject": f.subject, "relation": f.relation, "object": f.object,
                        "year": f.year, "question": question.format(**values), "answer": values[slot]})
    return records


def facts_jsonl(world: World) -> str:
    """The records, one JSON object per line, as written to the bundled facts file."""
    return "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in world_facts_as_records(world))


def mentions(text: str, name: str) -> list[int]:
    """Offsets where ``name`` occurs as a whole word in ``text``."""
    return [m.start() for m in re.finditer(rf"\b{re.escape(name)}\b", text)]
