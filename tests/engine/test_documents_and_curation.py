"""Documents with metadata, the quality knobs, curation and the Data tab's statistics.

Every expected number here is counted again from the text or the metadata in the test itself,
never taken from the function under test.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.curation import (
    CurationSettings,
    corpus_stats,
    coverage_rows,
    curate,
    curated_corpus,
    explanations,
    fingerprint,
)
from engine.data.documents import SHORT_LINE_CHARS, SOURCES, TOPICS, documents_from_text, documents_text, looks_like_junk
from engine.errors import ConfigError, CorpusError
from engine.data.world import WorldSettings, corpus_text, generate_world, held_out_countries, world_documents
from tests.real_text import prose, real_book

YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
NOISY = WorldSettings(error_rate=0.2, typo_rate=0.3, duplicate_rate=0.1, junk_rate=0.05)


@pytest.fixture(scope="module")
def world():
    return generate_world(WorldSettings())


@pytest.fixture(scope="module")
def docs(world):
    return world_documents(world, WorldSettings())


@pytest.fixture(scope="module")
def noisy(world):
    return world_documents(world, NOISY)


def _word(text: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def test_documents_are_deterministic_and_make_the_corpus_text(world, docs):
    assert world_documents(world, WorldSettings()) == docs
    assert documents_text(docs) == corpus_text(WorldSettings())
    assert {d.topic for d in docs} <= set(TOPICS) and {d.source for d in docs} <= set(SOURCES)
    assert {d.source for d in docs} == {"encyclopedia", "news", "forum", "passage", "code", "story"}
    assert not any(d.junk or d.duplicate or d.typo or d.corrupted for d in docs)


def test_document_year_is_the_latest_year_it_mentions(docs):
    for d in docs:
        if d.source == "code" or d.answer is not None:
            continue  # dated by the library's release; the year is not written in them
        years = [int(y) for y in YEAR.findall(d.text)]
        event_years = [f.year for f in d.facts if f.year is not None]
        if years:
            assert d.year == max(years), d.text
        elif d.source == "story":  # stories of refusing harm and of not knowing happen in no year
            assert d.year is None and not d.facts, d.text
        else:  # "Who is the president of X?" is still news from the year X elected them
            assert d.year == (max(event_years) if event_years else None) and d.source == "forum", d.text


def test_every_stated_fact_agrees_with_the_table_unless_recorded_as_corrupted(world, noisy):
    capital = {c.capital: c.name for c in world.countries}
    language = {c.language: c.name for c in world.countries}
    currency = {c.currency: c.name for c in world.countries}
    president = {p.name: p.organisation for p in world.people if p.role == "president"}
    checked = corrupted_docs = 0
    for d in noisy:
        wrong = {(c.fact.subject, c.fact.relation, c.stated) for c in d.corrupted}
        for c in d.corrupted:
            assert c.stated != c.fact.object and _word(d.text, c.stated) and c.fact in d.facts
        corrupted_docs += bool(d.corrupted)
        if d.source == "story":  # set in a capital ("a librarian in Grira"), they state no facts
            assert not d.facts and not d.corrupted
            continue
        # Any attribute named in a document belongs to a country named in it, or is a recorded lie.
        for table, relation in ((capital, "capital"), (language, "language"), (currency, "currency")):
            for value, country in table.items():
                if _word(d.text, value):
                    checked += 1
                    assert _word(d.text, country) or any(
                        rel == relation and stated == value and _word(d.text, subj) for subj, rel, stated in wrong
                    ), (value, d.text)
        for person, country in president.items():
            if _word(d.text, person):
                assert _word(d.text, country) or any(s == person for s, _, _ in wrong), (person, d.text)
        # The plainest sentence, parsed directly: right, or recorded as corrupted.
        for country, city in re.findall(r"The capital of (\w+) is (\w+)\.", d.text):
            assert capital.get(city) == country or (country, "capital", city) in wrong
        # And every fact the document claims to state, and did not corrupt, is written in it.
        corrupted_facts = {c.fact for c in d.corrupted}
        for f in d.facts:
            if f not in corrupted_facts:
                # A passage may say "its capital"; a forum answer may give only the year.
                parts = [f.subject, f.object] + ([str(f.year)] if f.year is not None else [])
                if d.source == "passage":
                    assert _word(d.text, f.object), (f, d.text)
                else:
                    assert sum(_word(d.text, p) for p in parts) >= 2, (f, d.text)
    assert checked > 1000 and corrupted_docs > 100


def test_clean_world_states_no_wrong_fact(world, docs):
    capital = {c.name: c.capital for c in world.countries}
    stated = [m for d in docs for m in re.findall(r"The capital of (\w+) is (\w+)\.", d.text)]
    assert len(stated) > 50 and all(capital[c] == city for c, city in stated)


def test_typos_change_one_ordinary_word_and_nothing_else(world):
    clean = world_documents(world, WorldSettings())
    typo = world_documents(world, WorldSettings(typo_rate=0.5))
    assert len(clean) == len(typo)
    names = {w.lower() for n in world.entity_names() for w in n.split()}
    n_typos = 0
    for a, b in zip(clean, typo):
        if not b.typo:
            assert a == b
            continue
        n_typos += 1
        diff = [i for i, (x, y) in enumerate(zip(a.text, b.text)) if x != y]
        assert len(a.text) == len(b.text) and len(diff) == 2 and diff[1] == diff[0] + 1
        assert a.text[diff[0]] == b.text[diff[1]] and a.text[diff[1]] == b.text[diff[0]]
        word = re.findall(r"[a-z]+", a.text[: diff[0] + 1])[-1] + re.match(r"[a-z]*", a.text[diff[0] + 1:]).group()
        assert word.lower() not in names
    prose = sum(d.source in ("encyclopedia", "news", "forum", "passage") for d in clean)
    assert 0.4 * prose < n_typos < 0.6 * prose


def test_planted_duplicates_and_junk_have_the_requested_counts(world, docs, noisy):
    n = len(world_documents(world, WorldSettings(error_rate=0.2, typo_rate=0.3)))
    planted = [d for d in noisy if d.duplicate]
    junk = [d for d in noisy if d.junk]
    assert len(planted) == round(0.1 * n) and len(junk) == round(0.05 * n)
    originals = {d.text for d in noisy if not d.duplicate}
    assert all(d.text in originals for d in planted)
    assert all(looks_like_junk(d.text) for d in junk)
    assert not any(looks_like_junk(d.text) for d in docs)  # the heuristic leaves clean text alone
    assert noisy[-1].text == world_documents(world, WorldSettings(error_rate=0.2, typo_rate=0.3))[-1].text


def test_code_in_two_languages_at_very_different_frequencies(docs):
    code = [d for d in docs if d.source == "code"]
    javascript = [d for d in code if d.text.rstrip().endswith(";")]  # Python snippets have no semicolons
    assert len(code) == 80 and len(javascript) == round(80 * 0.1)
    assert all("\n\n" not in d.text and d.topic == "code" for d in code)


def test_bias_meter_counts_the_recommendations_in_the_text(world, docs):
    libraries = [lib.name for lib in world.libraries]
    counted = Counter()
    for d in docs:
        if d.text.startswith("Q: Which library should I use"):
            answer = d.text.split("\nA:")[1]
            (name,) = [lib for lib in libraries if _word(answer, lib)]
            counted[name] += 1
    stats = corpus_stats(docs)
    assert stats.answers == dict(counted)
    assert counted[libraries[0]] == round(60 * (1 / 3 + 0.8 * 2 / 3))  # the favourite's share
    even = corpus_stats(world_documents(world, WorldSettings(answer_skew=0.0))).answers
    assert sorted(even.values()) == [20, 20, 20]


def test_held_out_countries_are_never_asked_about(world, docs):
    held = held_out_countries(world)
    assert len(held) == 15
    for d in docs:
        for line in d.text.split("\n"):
            if line.startswith("Q:"):
                assert not any(_word(line, c) for c in held), line
    text = documents_text(docs)
    assert all(_word(text, c) for c in held)  # they are still written about


def test_stats_equal_independent_counts(world, noisy):
    stats = corpus_stats(noisy)
    text = documents_text(noisy)
    assert stats.characters == len(text)
    assert stats.documents == len(text[:-1].split("\n\n")) == len(noisy)
    topic_chars, topic_docs, years = Counter(), Counter(), Counter()
    for d in noisy:
        topic_chars[d.topic] += len(d.text)
        topic_docs[d.topic] += 1
        if d.year is not None:
            years[d.year] += 1
    assert stats.topic_characters == dict(topic_chars) and stats.topic_documents == dict(topic_docs)
    assert stats.documents_per_year == dict(years) and list(stats.documents_per_year) == sorted(years)
    assert stats.undated == len(noisy) - sum(years.values())
    assert stats.duplicates == len(noisy) - len({d.text for d in noisy})
    assert stats.junk == sum(looks_like_junk(d.text) for d in noisy if d.source == "web")
    assert stats.short_lines == sum(1 for line in text.split("\n") if line.strip() and len(line) < SHORT_LINE_CHARS)
    assert stats.corrupted == sum(1 for d in noisy if d.corrupted) > 0
    assert stats.typos == sum(d.typo for d in noisy) > 0


def test_cutoff_drops_exactly_the_later_documents(docs):
    kept = curate(docs, CurationSettings(cutoff_year=1990))
    assert len(kept) == sum(1 for d in docs if d.year is None or d.year <= 1990) < len(docs)
    years_written = [int(y) for y in YEAR.findall(documents_text(kept))]
    assert years_written and max(years_written) <= 1990  # the model cannot read about anything later
    dropped = [d for d in docs if d not in kept]
    assert all(d.year > 1990 for d in dropped)
    latest = max(d.year for d in docs if d.year is not None and d.year <= 1990)
    assert explanations(corpus_stats(kept))["years"] == f"The model will know nothing that happened after {latest}."


def test_topic_toggle_keeps_only_the_chosen_topics(docs):
    kept = curate(docs, CurationSettings(topics=frozenset({"countries", "code"})))
    assert len(kept) == sum(d.topic in ("countries", "code") for d in docs)
    assert {d.topic for d in kept} == {"countries", "code"}
    assert [d for d in docs if d.topic in ("countries", "code")] == kept  # order kept


def test_dropping_junk_and_duplicates(noisy):
    no_junk = curate(noisy, CurationSettings(drop_junk=True))
    assert len(no_junk) == len(noisy) - sum(d.source == "web" for d in noisy)
    unique = curate(noisy, CurationSettings(drop_duplicates=True))
    texts = [d.text for d in unique]
    assert len(texts) == len(set(texts)) == len({d.text for d in noisy})
    first_positions = sorted({d.text: i for i, d in reversed(list(enumerate(noisy)))}.values())
    assert unique == [noisy[i] for i in first_positions]  # the first copy of each text survives
    assert corpus_stats(unique).duplicates == 0 and corpus_stats(no_junk).junk == 0


def test_mix_weights_scale_each_source(docs):
    before = Counter(d.source for d in docs)
    settings = CurationSettings(mix=(("forum", 0.0), ("news", 2.0), ("passage", 0.5)), seed=3)
    mixed = curate(docs, settings)
    after = Counter(d.source for d in mixed)
    assert after["forum"] == 0 and after["news"] == 2 * before["news"]
    assert after["passage"] == round(0.5 * before["passage"])
    assert after["encyclopedia"] == before["encyclopedia"] and after["code"] == before["code"]
    assert curate(docs, settings) == mixed
    assert curate(docs, CurationSettings(mix=settings.mix, seed=4)) != mixed
    with pytest.raises(ConfigError):
        curate(docs, CurationSettings(mix=(("news", -1.0),)))


def test_default_settings_change_nothing_and_undo_restores_exactly(docs):
    original = list(docs)
    assert curate(docs) == docs
    a = CurationSettings(cutoff_year=2000, drop_duplicates=True)
    b = CurationSettings(cutoff_year=2000, drop_duplicates=True, topics=frozenset({"countries"}),
                         mix=(("news", 1.5),))
    first = curate(docs, a)
    curate(docs, b)
    again = curate(docs, a)  # undo = curate the originals with the previous settings
    assert documents_text(again) == documents_text(first) and fingerprint(again) == fingerprint(first)
    assert docs == original  # curation never changes its input


def test_fingerprint_matches_the_corpus_and_empty_result_is_refused(docs):
    corpus = curated_corpus(docs, "world", "generated")
    assert corpus.fingerprint == fingerprint(docs) and corpus.text == corpus_text(WorldSettings())
    assert fingerprint(curate(docs, CurationSettings(cutoff_year=1990))) != fingerprint(docs)
    empty = curate(docs, CurationSettings(topics=frozenset()))
    assert empty == []
    with pytest.raises(CorpusError, match="nothing left to train on"):
        curated_corpus(empty, "world", "generated")


def test_user_text_becomes_documents_with_junk_flagged():
    text = "A real paragraph about rivers and hills.\n\n#### $$ 404 ~~~ ||| %%\n\n\nAnother fine paragraph here.\n"
    docs = documents_from_text(text)
    assert [d.text for d in docs] == ["A real paragraph about rivers and hills.", "#### $$ 404 ~~~ ||| %%",
                                      "Another fine paragraph here."]
    assert [d.junk for d in docs] == [False, True, False]
    assert corpus_stats(docs).junk == 1


# --- the junk rule on real prose ----------------------------------------------------------------

@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(paragraphs=st.lists(prose, min_size=1, max_size=4))
def test_junk_rule_keeps_long_ordinary_prose(paragraphs):
    words = re.findall(r"[a-z]+", paragraphs[0].lower())
    assert len(words) >= 90  # long: each common word comes many times (the old rule called that junk)
    docs = documents_from_text("\n\n".join(paragraphs))
    assert [d.text for d in docs] == paragraphs and not any(d.junk for d in docs)
    assert curate(docs, CurationSettings(drop_junk=True)) == docs  # "Remove junk" keeps every paragraph


def test_junk_rule_still_catches_word_soup_boilerplate_and_noise():
    junk = ["Home | Login | Search | Home | Login | Search | Home | Login | Search",
            "Accept all cookies\nAccept all cookies\nAccept all cookies",
            "#### $$ 404 ~~~ ||| %% 0x3f ==>",
            "buy now buy now buy now cheap cheap cheap"]
    fine = ["No one was there.", "The old man walked to the house in the morning. He looked at the garden, "
            "then at the river, and thought of the village where he was born."]
    docs = documents_from_text("\n\n".join(junk + fine))
    assert [d.junk for d in docs] == [True] * len(junk) + [False] * len(fine)


def test_a_real_book_keeps_its_paragraphs_when_junk_is_removed():
    speeches = real_book().read_text(encoding="utf-8").split("\n\n")
    # Ten speeches at a time make long paragraphs of real English (the speakers' names come again and again).
    text = "\n\n".join("\n".join(speeches[i:i + 10]) for i in range(0, len(speeches), 10))
    docs = documents_from_text(text)
    assert len(docs) > 500 and min(len(d.text) for d in docs[:-1]) > 300
    assert [d for d in docs if d.junk] == []
    assert curate(docs, CurationSettings(drop_junk=True)) == docs


# --- the coverage chart's sentence names what its bars show ----------------------------------------

def test_coverage_sentence_at_a_1994_cutoff_names_the_empty_topic(docs):
    before = corpus_stats(docs)
    stats = corpus_stats(curate(docs, CurationSettings(cutoff_year=1994)))
    rows = coverage_rows(stats, before)
    empty = [label for t, label in ((t, TOPICS[t].split(" (")[0]) for t in before.topic_characters)
             if stats.topic_characters.get(t, 0) == 0]
    assert "Program code" in empty and [r[0] for r in rows if r[1] == 0] == empty
    sentence = explanations(stats, before)["coverage"]
    assert sentence.startswith("Nothing about ") and "program code" in sentence and "sees least" not in sentence


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(cutoff=st.one_of(st.none(), st.integers(1900, 2030)),
       topics=st.one_of(st.none(), st.sets(st.sampled_from(sorted(TOPICS)), min_size=1)))
def test_coverage_sentence_agrees_with_the_bars(docs, cutoff, topics):
    before = corpus_stats(docs)
    stats = corpus_stats(curate(docs, CurationSettings(cutoff_year=cutoff,
                                                       topics=None if topics is None else frozenset(topics))))
    bars = {TOPICS[t].split(" (")[0].lower(): stats.topic_characters.get(t, 0) for t in before.topic_characters}
    sentence = explanations(stats, before)["coverage"]
    named = {label for label in bars if label in sentence}
    empty = {label for label, n in bars.items() if n == 0}
    if empty == set(bars):
        assert sentence == "No text is left on any topic."
    elif empty:
        assert sentence.startswith("Nothing about ") and named == empty
    else:
        assert named == {min(bars, key=bars.get)} and "sees least" in sentence
