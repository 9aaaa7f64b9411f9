"""The fictional world generator and the bundled corpus it produces."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.data.world import (
    Fact,
    WorldSettings,
    corpus_text,
    facts_jsonl,
    generate_world,
    mentions,
    world_facts_as_records,
    write_documents,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = REPO_ROOT / "sample_corpora"

# Kept here on purpose, separate from the list world.py filters with, so the test checks the output.
REAL_COUNTRIES = """Argentina Australia Austria Belgium Bolivia Brazil Canada Chad Chile China Colombia
Cuba Denmark Egypt Fiji France Gabon Germany Ghana Greece India Iran Iraq Ireland Italy Japan Kenya
Laos Latvia Mali Malta Mexico Moldova Nepal Niger Nigeria Norway Oman Panama Peru Poland Portugal
Qatar Russia Samoa Serbia Spain Sudan Sweden Syria Togo Tonga Turkey Uganda Ukraine Yemen Zambia
Armenia Albania Bulgaria Croatia Estonia Georgia Guinea Haiti Jordan Libya Kosovo Lithuania
Mongolia Namibia Nauru Palau Romania Rwanda Slovakia Slovenia Somalia Tunisia Tuvalu""".split()


@pytest.fixture(scope="module")
def world():
    return generate_world(WorldSettings())


@pytest.fixture(scope="module")
def text():
    return corpus_text(WorldSettings())


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.?:])\s+", text)


def _has_word(sentence: str, word: str) -> bool:
    return word in sentence and re.search(rf"\b{re.escape(word)}\b", sentence) is not None


def test_same_seed_gives_identical_world_and_text(world, text):
    assert generate_world(WorldSettings()) == world
    assert corpus_text(WorldSettings(seed=7)) == text


def test_text_does_not_depend_on_the_process_hash_seed(text):
    # hash() of a string changes with PYTHONHASHSEED; the corpus must not.
    code = (
        "import hashlib; from engine.data.world import corpus_text; "
        "print(hashlib.sha256(corpus_text().encode()).hexdigest())"
    )
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True,
                             text=True, check=True, timeout=120).stdout.strip()
        assert out == hashlib.sha256(text.encode()).hexdigest()


def test_different_seed_gives_a_different_world(world, text):
    other = generate_world(WorldSettings(seed=8))
    assert corpus_text(WorldSettings(seed=8)) != text
    assert {c.name for c in other.countries} != {c.name for c in world.countries}


def test_world_has_the_promised_shape(world):
    assert len(world.countries) == 60
    assert 30 <= len(world.people) <= 60
    assert len(world.companies) >= 10
    assert 2 <= len(world.libraries) <= 3
    for c in world.countries:
        assert 1800 <= c.founded <= 2025
    founded = sorted(c.founded for c in world.countries)
    assert founded[0] < 1860 and founded[-1] > 1960  # spread over the whole span, not bunched
    presidents = [p for p in world.people if p.role == "president"]
    assert len({p.organisation for p in presidents}) == len(presidents)  # one president per country
    for p in presidents:
        country = next(c for c in world.countries if c.name == p.organisation)
        assert country.founded < p.year <= 2025
    for co in world.companies:
        assert co.country in {c.name for c in world.countries}
        assert co.founder in {p.name for p in world.people}
    for lib in world.libraries:
        developer = next(co for co in world.companies if co.name == lib.developer)
        assert developer.founded < lib.released <= 2025


def test_fact_table_matches_the_world(world):
    facts = set(world.facts)
    assert len(facts) == len(world.facts)
    for c in world.countries:
        assert Fact(c.name, "capital", c.capital) in facts
        assert Fact(c.name, "language", c.language) in facts
        assert Fact(c.name, "currency", c.currency) in facts
        assert Fact(c.name, "founded_in", str(c.founded), c.founded) in facts
    for co in world.companies:
        assert Fact(co.founder, "founder_of", co.name, co.founded) in facts
        assert Fact(co.name, "headquarters", co.country) in facts
    assert len(world.facts) == 4 * 60 + 30 + 2 * len(world.companies) + 2 * len(world.libraries)


def test_every_fact_is_stated_in_the_text(world, text):
    sentences = _sentences(text)
    for f in world.facts:
        needed = [f.subject, f.object] + ([str(f.year)] if f.year is not None else [])
        assert any(all(_has_word(s, w) for w in needed) for s in sentences), f


def test_names_are_unique_and_never_contain_each_other(world):
    countries = [c.name for c in world.countries]
    assert len(set(countries)) == len(countries)
    words = {w.lower() for name in world.entity_names() for w in name.split()
             if w not in {"Labs", "Software", "Systems", "Works", "Foods", "Motors", "Trading",
                          "Textiles", "Shipping", "Mining"}}
    assert len(words) == len([w for name in world.entity_names() for w in name.split()
                              if w.lower() in words])
    for a in words:
        for b in words:
            assert a == b or a not in b, (a, b)


def test_names_are_not_real_countries(world):
    real = {r.lower() for r in REAL_COUNTRIES}
    for name in world.entity_names():
        for word in name.lower().split():
            assert word not in real, name
            assert not any(r in word for r in real if len(r) >= 4), name


def test_every_name_follows_a_space(world, text):
    # Byte-level BPE glues a leading space to the next word; " Chafo" and "Chafo" split differently.
    names = sorted(world.entity_names(), key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    seen = set()
    for m in pattern.finditer(text):
        seen.add(m.group(1))
        assert text[m.start() - 1] == " ", text[max(0, m.start() - 40) : m.end()]
    assert seen == set(names)


def test_forum_answers_start_with_a_space(text):
    lines = text.split("\n")
    answers = [line for line in lines if line.startswith("A:")]
    questions = [line for line in lines if line.startswith("Q:")]
    assert len(answers) == len(questions) > 500
    assert all(line.startswith("A: ") and line[3] != " " for line in answers)


def test_text_is_plain_ascii_in_the_size_band(text):
    assert text.isascii()
    assert "\r" not in text and "\n\n\n" not in text and text.endswith(".\n")
    assert 180 * 1024 <= len(text.encode()) <= 260 * 1024


def test_documents_are_shuffled_not_grouped_by_style(world):
    docs = write_documents(world, WorldSettings())
    first_kinds = {d.startswith("Q:") for d in docs[:50]}
    assert first_kinds == {True, False}


def test_records_are_json_and_answer_their_question(world):
    records = world_facts_as_records(world)
    assert len(records) == len(world.facts)
    assert json.loads(json.dumps(records)) == records
    for r, f in zip(records, world.facts):
        assert (r["subject"], r["relation"], r["object"]) == (f.subject, f.relation, f.object)
        assert r["year"] == f.year
        assert r["answer"] in (f.subject, f.object, str(f.year))
        assert r["question"].endswith("?") and r["answer"] not in r["question"]
    lines = facts_jsonl(world).splitlines()
    assert [json.loads(line) for line in lines] == records


def test_shipped_files_match_the_generator(world, text):
    assert (SAMPLES / "fictional_world.txt").read_bytes() == text.encode("utf-8")
    assert (SAMPLES / "fictional_world_facts.jsonl").read_bytes() == facts_jsonl(world).encode("utf-8")


def test_script_agrees_and_check_passes():
    path = REPO_ROOT / "scripts" / "make_sample_corpora.py"
    spec = importlib.util.spec_from_file_location("make_sample_corpora", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for path, content in script.expected_files().items():
        assert path.read_bytes() == content.encode("utf-8"), path
    assert script.main(["--check"]) == 0


def test_coverage_leaves_facts_out(world):
    settings = WorldSettings(coverage=0.5)
    sentences = _sentences(corpus_text(settings))
    missing = [f for f in world.facts
               if not any(_has_word(s, f.object) and _has_word(s, f.subject) for s in sentences)]
    assert 0.3 * len(world.facts) < len(missing) < 0.7 * len(world.facts)


def test_error_rate_writes_wrong_facts(world):
    capitals = {c.name: c.capital for c in world.countries}
    text = corpus_text(WorldSettings(error_rate=0.3))
    stated = re.findall(r"The capital of (\w+) is (\w+)\.", text)
    wrong = [(c, city) for c, city in stated if capitals[c] != city]
    assert 0.1 * len(stated) < len(wrong) < 0.5 * len(stated)


def test_recency_and_bias_change_how_often_facts_appear(world, text):
    assert len(corpus_text(WorldSettings(recency=1.0))) > len(text)
    biased = corpus_text(WorldSettings(bias=1.0))
    counts = sorted(len(mentions(biased, c.name)) for c in world.countries)
    assert counts[-1] > 1.5 * counts[0]


@pytest.mark.parametrize("bad", [dict(n_countries=2), dict(repeats=0), dict(coverage=1.5),
                                 dict(first_year=2000, last_year=2025), dict(recency=-1.0)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ConfigError):
        generate_world(WorldSettings(**bad))
