"""The bundled sets for instruction tuning, preference tuning and evaluation."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from engine.data.stage_sets import (
    PROMPT_TEMPLATE,
    REFUSAL,
    benchmark_questions,
    instruction_pairs,
    preference_pairs,
    red_team_prompts,
    stage_set_files,
)
from engine.data.world import _QUESTIONS, WorldSettings, generate_world, held_out_countries

SAMPLES = Path(__file__).resolve().parents[2] / "sample_corpora"


@pytest.fixture(scope="module")
def world():
    return generate_world(WorldSettings())


@pytest.fixture(scope="module")
def sets(world):
    return {"instructions": instruction_pairs(world), "preferences": preference_pairs(world),
            "benchmark": benchmark_questions(world), "red_team": red_team_prompts(world)}


def _word(text: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def _truth(world) -> dict[tuple[str, str], tuple[str, int | None]]:
    return {(f.subject, f.relation): (f.object, f.year) for f in world.facts}


def test_schema_of_every_row(sets):
    assert all(set(r) == {"prompt", "completion", "question", "answer", "subject", "relation", "topic"}
               for r in sets["instructions"])
    assert all(set(r) == {"prompt", "chosen", "rejected", "kind", "harmful", "look_alike"} for r in sets["preferences"])
    assert all(set(r) == {"question", "answer", "subject", "relation", "year", "topic", "split"}
               for r in sets["benchmark"])
    fields = {"prompt", "kind", "expected", "seen_template", "novelty"}
    assert all(set(r) == fields | ({"answer"} if r["kind"] == "benign" else set()) for r in sets["red_team"])
    for rows in sets.values():
        for r in rows:
            assert json.loads(json.dumps(r)) == r
            if "prompt" in r:
                question = r["prompt"].removeprefix("User: ").removesuffix("\nAssistant:")
                assert r["prompt"] == PROMPT_TEMPLATE.format(question=question)
    assert Counter(r["kind"] for r in sets["preferences"]).keys() == {"helpful", "safety"}


def test_answers_start_with_a_space_after_the_marker(sets):
    for r in sets["instructions"]:
        assert r["completion"].startswith(" ") and r["completion"][1] != " " and r["completion"].endswith(".")
    for r in sets["preferences"]:
        for answer in (r["chosen"], r["rejected"]):
            assert answer.startswith(" ") and answer[1] != " ", r


def test_every_answer_agrees_with_the_fact_table(world, sets):
    truth = _truth(world)
    people = {p.name for p in world.people}
    for r in sets["benchmark"] + sets["instructions"]:
        obj, year = truth[(r["subject"], r["relation"])]
        assert r["answer"] in (r["subject"], obj, str(year))
        # The expected answer is the one part of the fact the question does not already give away.
        assert not _word(r["question"], r["answer"])
        if r["answer"] in people:
            assert r["answer"] == r["subject"]
    for r in sets["instructions"]:
        assert _word(r["completion"], r["answer"]), r
    assert len(sets["benchmark"]) == len(world.facts)
    assert [(r["subject"], r["relation"]) for r in sets["benchmark"]] == [(f.subject, f.relation) for f in world.facts]


def test_helpful_pairs_prefer_the_true_answer(world, sets):
    answers = {}  # every wording of every fact's question -> its answer, straight from the fact table
    for f in world.facts:
        values = {"s": f.subject, "o": f.object, "y": str(f.year)}
        for template, slot in _QUESTIONS[f.relation]:
            answers[template.format(**values)] = values[slot]
    helpful = [r for r in sets["preferences"] if r["kind"] == "helpful" and r["rejected"] != REFUSAL]
    assert len(helpful) == 228  # every training fact once (fewer than N_HELPFUL_PAIRS)
    for r in helpful:
        answer = answers[r["prompt"].removeprefix("User: ").removesuffix("\nAssistant:")]
        assert _word(r["chosen"], answer) and not _word(r["rejected"], answer), r


def test_safety_pairs_refuse_harm_and_help_with_look_alikes(sets):
    safety = [r for r in sets["preferences"] if r["kind"] == "safety"]
    harmful = [r for r in safety if r["harmful"]]
    benign = [r for r in safety if not r["harmful"] and r["look_alike"]]
    plain = [r for r in sets["preferences"] if r["rejected"] == REFUSAL and not r["look_alike"]]
    assert len(harmful) == len(benign) == 100 and len(safety) == 200 and len(plain) == 60
    assert all(r["kind"] == "helpful" for r in plain)  # near misses, but help is what they teach
    # Safety is a minority of the mix, helpfulness the largest part.
    assert len(safety) < len(sets["preferences"]) / 2
    # Plain harmless requests teach that helping is the rule: a helpful answer beats the refusal.
    assert all(r["rejected"] == REFUSAL and r["chosen"].startswith(" ") and r["chosen"].endswith(".")
               for r in plain)
    assert all(r["chosen"] == REFUSAL and r["rejected"] != REFUSAL for r in harmful)
    assert all(r["rejected"] == REFUSAL and r["chosen"] != REFUSAL for r in benign)
    # Look-alikes differ from a harmful request by a word or two (names aside), for every template.
    def shape(prompt: str) -> frozenset[str]:
        return frozenset(w for w in re.findall(r"\w+", prompt) if w[0].islower())

    harmful_shapes = {shape(r["prompt"]) for r in harmful}
    benign_shapes = {shape(r["prompt"]) for r in benign}
    assert len(harmful_shapes) >= 6 and len(benign_shapes) >= 6
    for b in benign_shapes:
        assert any(len(h ^ b) <= 3 for h in harmful_shapes), b


def test_no_pair_teaches_i_dont_know(sets):
    """A tiny model cannot tell a country read of once from one never read of: "I don't know" pairs
    taught it to deny most held-out facts it knew. Neither side of any pair says it."""
    assert not any("don't know" in r["chosen"] or "don't know" in r["rejected"] for r in sets["preferences"])


def test_held_out_countries_are_absent_from_every_tuning_set(world, sets):
    held = held_out_countries(world)
    assert 0 < len(held) < len(world.countries)
    for r in sets["instructions"]:
        assert not any(_word(r["prompt"] + r["completion"], c) for c in held), r
    for r in sets["preferences"]:
        assert not any(_word(r["prompt"] + r["chosen"] + r["rejected"], c) for c in held), r
    split = Counter(r["split"] for r in sets["benchmark"])
    held_rows = [r for r in sets["benchmark"] if r["split"] == "held_out"]
    assert split["held_out"] == len(held_rows) >= 4 * len(held)
    for r in sets["benchmark"]:
        truth_obj = _truth(world)[(r["subject"], r["relation"])][0]
        assert (r["split"] == "held_out") == (r["subject"] in held or truth_obj in held)
    trained_questions = {r["question"] for r in sets["instructions"]}
    assert not trained_questions & {r["question"] for r in held_rows}


def test_red_team_uses_held_out_names_and_unseen_unknowns(world, sets):
    held = held_out_countries(world)
    presidents = {p.organisation: p.name for p in world.people if p.role == "president"}
    names_of = {c.name: {c.name, c.capital, presidents.get(c.name, c.name)} for c in world.countries}
    rows = sets["red_team"]
    assert Counter(r["expected"] for r in rows) == {"refuse": 40, "answer": 40, "dont_know": 20}
    assert Counter(r["novelty"] for r in rows if r["kind"] == "harmful") == {"seen": 10, "new_framing": 20,
                                                                            "new_act": 10}
    preference_text = " ".join(r["prompt"] for r in sets["preferences"])
    for r in rows:
        if r["kind"] == "unknown":
            name = re.findall(r"\b[A-Z][a-z]{3,}\b", r["prompt"].split("\n")[0].removeprefix("User: "))[-1]
            assert name not in names_of and not _word(preference_text, name)
            continue
        named = {c for c, names in names_of.items() if any(_word(r["prompt"], n) for n in names)}
        assert named <= held, r["prompt"]  # only held-out countries, their capitals and presidents
        if not any(_word(r["prompt"], co.name) for co in world.companies):
            assert named, r["prompt"]


def test_sets_are_deterministic_and_shipped(world, sets):
    again = stage_set_files(generate_world(WorldSettings()))
    assert again == stage_set_files(world)
    for name, text in again.items():
        assert (SAMPLES / name).read_bytes() == text.encode("utf-8"), name
    other = stage_set_files(generate_world(WorldSettings(seed=8)), WorldSettings(seed=8))
    assert other["fictional_world_benchmark.jsonl"] != again["fictional_world_benchmark.jsonl"]


def _request_shape(prompt: str) -> str:
    """A request with every name (capitalised word after the first) replaced by X."""
    question = prompt.removeprefix("User: ").removesuffix("\nAssistant:")
    first, _, rest = question.partition(" ")
    return first + " " + re.sub(r"\b[A-Z][a-z]+\b", "X", rest)


def test_held_out_framings_and_acts_never_appear_in_preference_tuning(world, sets):
    from engine.data.harmful_requests import FRAMINGS, held_out_acts, held_out_framings, train_acts, train_framings

    assert len(FRAMINGS) >= 20 and len(held_out_framings()) >= 5 and len(held_out_acts()) >= 3
    taught = " ".join(r["prompt"] for r in sets["preferences"])
    # A held-out act's harmful or harmless verb phrase (names aside) is never in a tuning prompt.
    for act in held_out_acts():
        for phrase in (act.harmful, act.harmless):
            words = re.sub(r"\{\w+\}", "", phrase).split()
            assert " ".join(words) not in taught, phrase
    # A held-out framing's fixed words never frame a tuning request.
    def skeleton(framing: str) -> str:
        return framing.removeprefix("TYPOS:").split("{act}")
    for framing in held_out_framings():
        if framing.startswith("TYPOS:"):  # a seen framing whose act is misspelt: checked by shape below
            continue
        before, after = skeleton(framing)
        assert not any(r["prompt"].startswith("User: " + before) and r["prompt"].endswith(after + "\nAssistant:")
                       and before.strip() for r in sets["preferences"] if r["kind"] == "safety"), framing
    # Every seen red-team request is worded as some tuning request is (names aside); every new one is not.
    taught_shapes = {_request_shape(r["prompt"]) for r in sets["preferences"]}
    for r in sets["red_team"]:
        if r["kind"] in ("harmful", "benign"):
            assert (_request_shape(r["prompt"]) in taught_shapes) == (r["novelty"] == "seen"), r["prompt"]
    assert {a.harmful for a in train_acts()} & {a.harmful for a in held_out_acts()} == set()
    assert set(train_framings()) & set(held_out_framings()) == set()


def test_a_character_model_of_the_bundled_world_can_read_every_bundled_set():
    """The default path (characters, the bundled world) must reach Evaluation: a letter used only by the
    tuning sets (a rejected answer's 'Yes' was the only 'Y') stopped preference tuning with "cannot read"."""
    from engine.data.tuning_data import bundled_instructions, bundled_preferences, load_benchmark, load_red_team
    from engine.data.world import corpus_text

    known = set(corpus_text())
    used = set()
    for example in bundled_instructions():
        used |= set(example.prompt) | set(example.completion)
    for pair in bundled_preferences():
        used |= set(pair.prompt) | set(pair.chosen) | set(pair.rejected)
    for row in load_benchmark() + load_red_team():
        used |= {c for value in row.values() if isinstance(value, str) for c in value}
    assert used - known == set()
