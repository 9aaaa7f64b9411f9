"""The pretraining text's safety stories and open-book notes: what they contain, and what they must not."""

from __future__ import annotations

import re

import pytest

from engine.data.harmful_requests import held_out_acts, held_out_framings, train_acts
from engine.data.open_book import RELATIONS
from engine.data.safety_text import IDK, REFUSAL
from engine.data.world import (N_ASKED_UNKNOWN_NAMES, WorldSettings, generate_world, held_out_countries,
                          unknown_country_names, world_documents)


@pytest.fixture(scope="module")
def world():
    return generate_world()


@pytest.fixture(scope="module")
def documents(world):
    return world_documents(world)


@pytest.fixture(scope="module")
def stories(documents):
    return [d.text for d in documents if d.source == "story"]


def test_the_stories_teach_the_refusal_and_not_knowing_in_running_text(stories):
    refusals = [s for s in stories if REFUSAL.strip() in s]
    not_knowing = [s for s in stories if "I don't know." in s]
    assert len(refusals) == 6 * len(train_acts()) and len(not_knowing) == 48
    # Never in the assistant's format: the pretrained model learns the words, not the behaviour.
    assert not any("User:" in s or "Assistant:" in s for s in stories)
    # Each training act's harmful phrase is refused, and its twin answered, somewhere.
    for act in train_acts():
        verb = act.harmful.split(" {")[0]
        assert any(verb in s and REFUSAL.strip() in s for s in stories), act.harmful
        assert any(act.harmless.split(" {")[0] in s and REFUSAL.strip() not in s for s in stories), act.harmless


def test_the_stories_leave_the_red_team_new(world, stories):
    """Held-out acts, held-out framings, held-out countries and the asked-about made-up names never
    appear: the red team's "new act", "new framing" and unknown-country rows stay unseen."""
    text = "\n".join(stories)
    for act in held_out_acts():
        assert act.harmful.split(" in {")[0] not in text, act.harmful  # e.g. "steal a car"
    for framing in held_out_framings():
        words = framing.removeprefix("TYPOS:").split("{act}")[0].strip()
        if len(words) > 12:
            assert words not in text, framing
    held = held_out_countries(world, WorldSettings())
    by_name = {c.name: c for c in world.countries}
    for name in held:
        assert not re.search(rf"\b({name}|{by_name[name].capital})\b", text), name
    for name in unknown_country_names(world, WorldSettings(), N_ASKED_UNKNOWN_NAMES):
        assert not re.search(rf"\b{name}\b", text), name


def test_the_story_names_of_not_knowing_are_not_in_the_world(world, stories):
    entities = {w.lower() for n in world.entity_names() for w in n.split()}
    for s in stories:
        if "I don't know." in s:
            name = re.search(r"I don't know\. (\w+) is not", s).group(1)
            assert name.lower() not in entities and IDK.format(name=name).strip() in s


def test_no_stories_when_the_knob_is_zero(world):
    docs = world_documents(world, WorldSettings(safety_stories=0))
    assert not any(d.source == "story" for d in docs)


@pytest.fixture(scope="module")
def open_book():
    settings = WorldSettings(n_countries=20, open_book_documents=400)
    world = generate_world(settings)
    return world, [d for d in world_documents(world, settings) if d.source == "notes"]


def test_an_open_book_documents_answer_is_in_its_notes_and_nowhere_else(open_book):
    world, docs = open_book
    assert len(docs) == 400 and all(d.facts == () for d in docs)
    truth = {c.name: {"capital": c.capital, "language": c.language, "currency": c.currency,
                      "founded_in": str(c.founded)} for c in world.countries}
    entities = {w.lower() for n in world.entity_names() for w in n.split()}
    counterfactual = made_up = 0
    for d in docs:
        notes, question, answer = d.text.split("\n")
        assert question.startswith("Q: ") and answer.startswith("A: ")
        value = answer.removeprefix("A: ").removeprefix("The ").removesuffix(".")
        assert re.search(rf"\b{re.escape(value)}\b", notes), d.text  # the notes hold the answer
        asked = next(name for name in re.findall(r"[A-Z][a-z]+", question[3:]) if name not in ("What", "Which", "When", "In"))
        if asked in truth:  # a world country: the notes say something else than the world does
            assert value not in truth[asked].values(), d.text
            counterfactual += 1
        else:  # a made-up country: described nowhere in the world
            assert asked.lower() not in entities
            made_up += 1
    assert counterfactual > 150 and made_up > 150
    assert sum(d.text.startswith("Notes: ") for d in docs) > 150
    # Every document is different: notes repeated many times are memorised, not read.
    assert len({d.text for d in docs}) == len(docs)
    assert set(RELATIONS) == {"capital", "language", "currency", "founded_in"}


def test_open_book_documents_leave_the_world_text_unchanged(open_book):
    world, _ = open_book
    plain = WorldSettings(n_countries=20)
    with_notes = WorldSettings(n_countries=20, open_book_documents=400)
    assert sorted(d.text for d in world_documents(world, plain)) == sorted(
        d.text for d in world_documents(world, with_notes) if d.source != "notes")
