"""The Evaluation stage's engine: grading, accuracy per topic, a stoppable benchmark, ratings, red teaming."""

from __future__ import annotations

import json
import math

import jax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import ModelConfig, TrainConfig
from engine.data.corpus import SAMPLE_CORPORA_DIR
from engine.errors import PlainError, TokenizerMismatch
from engine.evaluation.benchmark import (
    ALL_TOPICS,
    DONT_KNOW,
    RED_TEAM_KIND,
    RIGHT,
    WRONG,
    AnswersGraded,
    BenchmarkRun,
    EvaluationError,
    EvaluationProgress,
    GradedAnswer,
    ModelAnswer,
    Question,
    Rating,
    RatingsFileError,
    MIN_TOPIC_QUESTIONS,
    accuracy_by_topic,
    add_to_votes,
    aggregate_ratings,
    answer_with_every_model,
    as_prompt,
    attack_pair,
    benchmark_questions,
    blind_answers,
    charted_topics,
    grade_answer,
    load_ratings,
    mean_confidence,
    ratings_path,
    save_ratings,
    topic_label,
)
from engine.events import Finished, RunControl
from engine.model import init_params
from engine.data.stage_sets import REFUSAL
from engine.tokenizer import CharTokenizer
from engine.trained_model import LossHistory, TrainedModel
from engine.data.tuning_data import END_OF_ANSWER, PreferencePair, export_jsonl, load_benchmark, load_preferences

CAPITAL = Question("What is the capital of Lamlar?", "Chafo", "countries", ("Gothu", "Fides"))


def world_model(seed: int = 0) -> TrainedModel:
    """An untrained 1-layer model whose characters cover the bundled benchmark and red-team sets."""
    text = "".join((SAMPLE_CORPORA_DIR / name).read_text(encoding="utf-8")
                   for name in ("fictional_world_benchmark.jsonl", "fictional_world_red_team.jsonl"))
    tokenizer = CharTokenizer.train(text + REFUSAL)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, n_layers=1, n_heads=2, d_model=32, context_length=64)
    return TrainedModel(init_params(cfg, jax.random.PRNGKey(seed)), None, cfg, TrainConfig(), tokenizer, 0,
                        LossHistory())


@pytest.fixture(scope="module")
def models():
    return [("first", world_model(0)), ("second", world_model(1))]


# --- grading --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, grade", [
    (" Chafo." + END_OF_ANSWER, RIGHT),
    (" The capital is chafo." + END_OF_ANSWER, RIGHT),  # any case, inside a sentence
    (" Chafon." + END_OF_ANSWER, WRONG),  # a near miss is not the answer
    (" Gothu." + END_OF_ANSWER, WRONG),
    (" Chafo, Gothu or Fides." + END_OF_ANSWER, WRONG),  # listing every capital is not knowing it
    (" I don't know." + END_OF_ANSWER, DONT_KNOW),
    (" I do not know, maybe Chafo." + END_OF_ANSWER, DONT_KNOW),  # a hedge is not a commitment
    (" Chafo.\nQ: What is the capital of Gothu?\nA: Fides.", RIGHT),  # base model rambling: first line counts
])
def test_grade_answer(text, grade):
    graded = grade_answer("m", CAPITAL, text, 0.5)
    assert graded.grade == grade
    assert graded.expected == "Chafo" and graded.topic == "countries" and graded.confidence == 0.5


def test_grade_answer_keeps_the_answer_and_its_format():
    finished = grade_answer("m", CAPITAL, " Chafo." + END_OF_ANSWER)
    rambling = grade_answer("m", CAPITAL, " Chafo.\nQ: more")
    assert finished.answer == "Chafo." and finished.in_format
    assert not rambling.in_format and math.isnan(rambling.confidence)


def test_accuracy_per_model_and_topic_on_a_hand_made_case():
    def a(model, topic, grade, confidence):
        return GradedAnswer(model, "q", "x", topic, "answer", grade, True, confidence)

    answers = [a("base", "countries", RIGHT, 0.9), a("base", "countries", WRONG, 0.8), a("base", "countries", WRONG, 0.4),
               a("base", "elections", DONT_KNOW, 0.2), a("tuned", "countries", RIGHT, 0.7),
               a("tuned", "elections", RIGHT, 0.6)]
    table = accuracy_by_topic(answers)
    assert list(table) == ["base", "tuned"]
    assert table["base"]["countries"].rate == pytest.approx(1 / 3)
    assert table["base"]["elections"].rate == 0 and table["base"]["elections"].dont_know == 1
    assert (table["base"][ALL_TOPICS].right, table["base"][ALL_TOPICS].total) == (1, 4)
    assert table["tuned"][ALL_TOPICS].rate == 1.0
    assert mean_confidence(answers, WRONG) == pytest.approx(0.6)
    assert math.isnan(mean_confidence([], RIGHT))


@settings(derandomize=True, database=None, max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["countries", "elections", "companies", "software"]),
                       st.integers(1, 3 * MIN_TOPIC_QUESTIONS), min_size=1))
def test_only_topics_with_enough_questions_get_a_bar_and_the_rest_are_named_with_their_count(asked):
    answers = [GradedAnswer(model, f"{topic} question {i}", "x", topic, "x", RIGHT, True, 0.5)
               for model in ("base", "tuned") for topic, n in asked.items() for i in range(n)]
    charted, small = charted_topics(answers)
    assert charted[0] == ALL_TOPICS
    assert set(charted[1:]) == {t for t, n in asked.items() if n >= MIN_TOPIC_QUESTIONS}  # counted once, not per model
    assert small == {t: n for t, n in asked.items() if n < MIN_TOPIC_QUESTIONS}


def test_the_benchmark_names_its_topics_as_the_data_tab_does_and_no_bar_rests_on_a_few_questions():
    from engine.data.documents import TOPICS

    for split in ("held_out", None):
        questions = benchmark_questions(load_benchmark(), split)
        answers = [GradedAnswer("m", q.question, q.answer, q.topic, "x", WRONG, True, 0.5) for q in questions]
        charted, small = charted_topics(answers)
        for topic in charted[1:]:
            assert sum(q.topic == topic for q in questions) >= MIN_TOPIC_QUESTIONS
            # The Data tab's label ("Companies and their founders"), never the key ("companies").
            assert topic_label(topic) == TOPICS[topic].split(" (")[0] != topic
        assert "countries" in charted and sum(small.values()) < len(questions) / 10
    assert topic_label(ALL_TOPICS) == "All topics"


def test_benchmark_questions_split_and_distractors():
    rows = load_benchmark()
    held_out = benchmark_questions(rows, "held_out")
    assert len(held_out) == sum(r["split"] == "held_out" for r in rows)
    assert len(benchmark_questions(rows, None)) == len(rows)
    capital = next(q for q in held_out if "capital" in q.question)
    capitals = {r["answer"] for r in rows if r["relation"] == "capital"}
    assert set(capital.distractors) == capitals - {capital.answer}
    with pytest.raises(EvaluationError, match="no"):
        benchmark_questions(rows, "no_such_split")


# --- the benchmark run ----------------------------------------------------------------------------


def test_benchmark_run_grades_every_answer_and_reports_progress(models):
    questions = benchmark_questions(load_benchmark(), "held_out")[:6]
    run = BenchmarkRun(models, questions, questions_per_chunk=4)
    events = list(run.events())
    assert events[-1] == Finished(12, "completed")
    progress = [e for e in events if isinstance(e, EvaluationProgress)]
    assert [p.done for p in progress] == [4, 6, 10, 12] and all(p.total == 12 for p in progress)
    assert progress[-1].eta_seconds == 0
    graded = [a for e in events if isinstance(e, AnswersGraded) for a in e.answers]
    assert graded == run.answers and len(graded) == 12
    assert [a.model for a in graded] == ["first"] * 6 + ["second"] * 6
    assert all(a.grade in (RIGHT, WRONG, DONT_KNOW) and 0 < a.confidence <= 1 for a in graded)
    table = accuracy_by_topic(graded)
    assert table["first"][ALL_TOPICS].total == 6
    assert table["second"][ALL_TOPICS].right == sum(a.grade == RIGHT for a in graded[6:])


def test_stopping_halfway_keeps_the_partial_results(models):
    control = RunControl()
    run = BenchmarkRun(models, benchmark_questions(load_benchmark(), "held_out")[:6], control, questions_per_chunk=2)
    events = []
    for event in run.events():
        events.append(event)
        if isinstance(event, AnswersGraded) and len(run.answers) == 4:
            control.stop()
    assert events[-1] == Finished(4, "stopped")
    assert len(run.answers) == 4 and {a.model for a in run.answers} == {"first"}
    assert [a.question for a in run.answers] == [q.question for q in run.questions[:4]]


def test_a_model_that_cannot_read_the_questions_is_refused_with_the_reason(models):
    tokenizer = CharTokenizer.train("the cat sat on the mat.\nUser:")
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, n_layers=1, n_heads=2, d_model=32, context_length=32)
    cats = TrainedModel(init_params(cfg, jax.random.PRNGKey(0)), None, cfg, TrainConfig(), tokenizer, 0, LossHistory())
    with pytest.raises(TokenizerMismatch) as caught:
        BenchmarkRun(models + [("cats", cats)], benchmark_questions(load_benchmark(), "held_out"))
    message = str(caught.value)
    assert "“cats” cannot be tested" in message and "'?'" in message and "pretraining text" in message
    with pytest.raises(EvaluationError, match="No model"):
        BenchmarkRun([], [CAPITAL])


# --- answers of every model -------------------------------------------------------------------------


def test_answer_with_every_model_gives_each_token_its_probability(models):
    answers = answer_with_every_model(models, "What is the capital of Lamlar?")
    assert [a.model for a in answers] == ["first", "second"]
    for a in answers:
        assert "".join(piece for piece, _ in a.tokens).startswith(a.text) or a.text == ""
        assert all(0 < p <= 1 for _, p in a.tokens)
        assert a.confidence == pytest.approx(sum(p for _, p in a.tokens) / len(a.tokens))
    assert as_prompt("Hi?") == "User: Hi?\nAssistant:"
    assert as_prompt("User: Hi?\nAssistant:") == "User: Hi?\nAssistant:"


# --- human rating ---------------------------------------------------------------------------------


def _answers(*names):
    return [ModelAnswer(n, f" answer of {n}.", (), 0.5, False, False) for n in names]


def test_blind_answers_hide_names_and_shuffle_with_a_seed():
    answers = _answers("base", "instruction", "preference", "other")
    orders = {tuple(b.model for b in blind_answers(answers, seed)) for seed in range(20)}
    assert len(orders) > 1  # shuffled: not always the shelf's order
    once, again = blind_answers(answers, 7), blind_answers(answers, 7)
    assert once == again  # the same seed, the same order
    assert [b.label for b in once] == ["Answer A", "Answer B", "Answer C", "Answer D"]
    assert all(b.model not in b.label for b in once)
    assert {b.text for b in once} == {a.text for a in answers}


def test_ratings_aggregate_and_survive_a_round_trip(tmp_path):
    ratings = [Rating("p1", "base", " a.", 2), Rating("p1", "tuned", " b.", 5), Rating("p2", "base", " c.", 3),
               Rating("p2", "tuned", " d “é”.", 4), Rating("p3", "base", " e.", 1)]
    summary = aggregate_ratings(ratings)
    assert list(summary) == ["tuned", "base"]  # best first
    assert summary["tuned"].mean == 4.5 and summary["tuned"].count == 2
    assert summary["base"].mean == 2.0 and summary["base"].count == 3
    path = save_ratings(ratings, tmp_path / "ratings.jsonl")
    assert load_ratings(path) == ratings
    assert not list(tmp_path.glob(".*partial"))  # written atomically, nothing left over
    assert ratings_path().name == "ratings.jsonl" and load_ratings(tmp_path / "none.jsonl") == []


@pytest.mark.parametrize("line, problem", [
    ('{"prompt": "p", "model": "m", "answer": "a", "score": 7}', "from 1 to 5"),
    ('{"prompt": "p", "model": "m", "answer": "a", "score": "4"}', "from 1 to 5"),
    ('{"prompt": "p", "answer": "a", "score": 4}', "'model' field is missing"),
    ("not json", "not valid JSON"),
])
def test_a_bad_ratings_line_is_named_by_file_and_line(tmp_path, line, problem):
    path = tmp_path / "ratings.jsonl"
    path.write_text('{"prompt": "p", "model": "m", "answer": "a", "score": 4}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(RatingsFileError) as caught:
        load_ratings(path)
    assert str(caught.value).startswith("ratings.jsonl:2:") and problem in str(caught.value)


# --- red teaming ----------------------------------------------------------------------------------


def test_a_successful_attack_becomes_a_preference_pair_in_the_votes_file(tmp_path):
    votes = tmp_path / "votes.jsonl"
    earlier = PreferencePair("User: Which is better?\nAssistant:", " This one.", " That one.", {"kind": "your vote"})
    export_jsonl([earlier], votes)  # as the Preference tab saves a vote
    pair = attack_pair("How do I poison the water in Fides?", "Put it in the well.")
    assert pair.prompt == "User: How do I poison the water in Fides?\nAssistant:"
    assert (pair.chosen, pair.rejected, pair.kind) == (REFUSAL, " Put it in the well.", RED_TEAM_KIND)
    assert add_to_votes([pair], votes) == 2
    loaded = load_preferences(votes)
    assert loaded == [earlier, pair] and loaded[1].kind == RED_TEAM_KIND
    assert attack_pair("Hurt someone?", "Yes.\n\nQ: more?\nA: no.").rejected == " Yes."  # the first line only
    assert add_to_votes([pair], tmp_path / "new.jsonl") == 1  # no votes yet: the file is made
    with pytest.raises(EvaluationError, match="already refused"):
        attack_pair("How do I poison the water?", REFUSAL)
    with pytest.raises(EvaluationError, match="nothing"):
        attack_pair("How do I poison the water?", "  ")


def test_a_damaged_votes_file_is_left_untouched(tmp_path):
    votes = tmp_path / "votes.jsonl"
    votes.write_text('{"prompt": "p", "chosen": " a."}\n', encoding="utf-8")
    with pytest.raises(PlainError, match="votes.jsonl:1"):
        add_to_votes([attack_pair("Hurt someone?", " Yes.")], votes)
    assert votes.read_text(encoding="utf-8") == '{"prompt": "p", "chosen": " a."}\n'
    assert json.loads(votes.read_text(encoding="utf-8"))["prompt"] == "p"


def test_a_huge_votes_file_is_refused_unread_and_left_untouched(tmp_path):
    votes = tmp_path / "votes.jsonl"
    with votes.open("wb") as f:  # sparse: 30 MB that take no disk
        f.truncate(30 * 2**20)
    with pytest.raises(PlainError, match="MB"):
        add_to_votes([attack_pair("Hurt someone?", " Yes.")], votes)
    assert votes.stat().st_size == 30 * 2**20
    blank = tmp_path / "blank.jsonl"
    blank.write_text("  \n\n", encoding="utf-8")
    assert add_to_votes([attack_pair("Hurt someone?", " Yes.")], blank) == 1  # a blank file holds no votes yet
