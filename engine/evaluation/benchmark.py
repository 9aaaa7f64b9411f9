"""Evaluation: testing models on a benchmark, by people's ratings, by red teaming, and side by side.

- **Benchmark.** ``BenchmarkRun`` asks every model every question (greedy, so an answer is a property
  of the model) and grades each answer *right*, *wrong* or *"I don't know"*, with the model's
  confidence (the mean probability of the tokens it wrote). It is a generator of plain events, a
  chunk of questions at a time, so the GUI can show progress with an ETA and fill its table as
  answers come; a stop between chunks keeps every answer graded so far. ``accuracy_by_topic`` turns
  graded answers into exact-match accuracy per model and per topic.
- **Human rating.** ``blind_answers`` hides the models' names behind "Answer A", "Answer B"… in an
  order shuffled by a seeded generator; ratings (1 to 5) are saved atomically as JSONL in the user's
  data folder and ``aggregate_ratings`` gives each model's mean with how many ratings it rests on.
- **Red teaming.** A prompt that made a model say something harmful becomes a preference pair
  (chosen: the refusal; rejected: what the model said), appended to the votes file the Preference
  stage trains on.
- **Comparison.** ``answer_with_every_model`` gives each model's answer to one prompt, token by
  token with the probability of each, for the coloured side-by-side view.

A model whose tokenizer cannot write the questions (a character-level model pretrained on other
text) is refused before any work, with the characters it lacks. Nothing here imports Qt.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from engine.errors import PlainError, TokenizerMismatch, TuningDataError
from engine.events import Finished, RunControl, Status
from engine.data.stage_sets import PROMPT_TEMPLATE, REFUSAL
from engine.trained_model import TrainedModel
from engine.data.tuning_data import END_OF_ANSWER, PreferencePair, _read_rows, check_tokenizer, export_jsonl, \
    load_preferences

RIGHT, WRONG, DONT_KNOW = "right", "wrong", "I don't know"
GRADES = (RIGHT, WRONG, DONT_KNOW)
ALL_TOPICS = "all topics"
# A topic gets a bar of its own only with at least this many questions: one question more or less
# right must move its bar by 10 points at most. Smaller topics count only in ``ALL_TOPICS``. (The
# held-out set asks 60 questions about countries, 10 about elections and 2 about companies.)
MIN_TOPIC_QUESTIONS = 10
QUESTIONS_PER_CHUNK = 32  # one batch of ``engine.behaviour``: a stop is obeyed within one batch
RATINGS_FILE = "ratings.jsonl"
MIN_SCORE, MAX_SCORE = 1, 5
RED_TEAM_KIND = "red team"  # the ``kind`` of a pair made from a successful attack


class EvaluationError(PlainError):
    """Models or questions that cannot be evaluated (nothing chosen, no questions, unreadable text)."""


class RatingsFileError(TuningDataError):
    """A ratings file with a malformed line ("ratings.jsonl:LINE: problem")."""


# --- questions and grading ------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One benchmark question with its known answer."""

    question: str  # as a person asks it, without the chat template
    answer: str  # the exact answer (a whole word or name)
    topic: str  # "countries", "companies", …: accuracy is reported per topic
    distractors: tuple[str, ...] = ()  # other answers of the same kind: naming one of them is wrong

    @property
    def prompt(self) -> str:
        return PROMPT_TEMPLATE.format(question=self.question)


def benchmark_questions(rows: Sequence[dict], split: str | None = "held_out") -> list[Question]:
    """The benchmark rows of one split (None: all) as questions.

    A question's distractors are the other answers to the same relation anywhere in ``rows``, as in
    ``engine.behaviour.benchmark_rates``, so listing every capital is not right.
    """
    by_relation: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_relation[str(r.get("relation", ""))].add(r["answer"])
    chosen = [r for r in rows if split is None or r.get("split") == split]
    if not chosen:
        raise EvaluationError(f"The question set has no {split.replace('_', '-')} questions.",
                              "Choose all questions, or another question set.")
    return [Question(r["question"], r["answer"], str(r.get("topic") or "other"),
                     tuple(sorted(a for a in by_relation[str(r.get("relation", ""))] if a != r["answer"])))
            for r in chosen]


@dataclass(frozen=True)
class GradedAnswer:
    """One model's answer to one question, graded."""

    model: str  # the model's name on the shelf
    question: str
    expected: str
    topic: str
    answer: str  # what the model wrote before ending its turn
    grade: str  # RIGHT, WRONG or DONT_KNOW
    in_format: bool  # one sentence, then the turn handed back (see ``engine.behaviour.judge``)
    confidence: float  # mean probability of the answer's tokens, 0..1 (NaN if it wrote none)


def grade_answer(model: str, question: Question, text: str, confidence: float = float("nan")) -> GradedAnswer:
    """Grade a generated continuation ``text``: "I don't know" first, then right (exact match), else wrong.

    Saying "I don't know" counts as not committing even if a name follows ("I don't know, maybe
    Chafo."), so a hedge is never scored as knowledge. Right means the expected answer as a whole
    word (any case) and no distractor; a near miss ("Chafon") is wrong.
    """
    from engine.behaviour import judge

    verdict = judge(text, question.answer, question.distractors)
    grade = DONT_KNOW if verdict.dont_know else RIGHT if verdict.correct else WRONG
    return GradedAnswer(model, question.question, question.answer, question.topic, verdict.answer.strip(), grade,
                        verdict.in_format, float(confidence))


@dataclass(frozen=True)
class Accuracy:
    """How one model did on one topic (or on all of them)."""

    right: int
    dont_know: int
    total: int

    @property
    def rate(self) -> float:
        """Exact-match accuracy, 0..1 (NaN with no questions)."""
        return self.right / self.total if self.total else float("nan")


def accuracy_by_topic(answers: Sequence[GradedAnswer]) -> dict[str, dict[str, Accuracy]]:
    """model → topic → ``Accuracy``, plus ``ALL_TOPICS`` per model; models and topics in first-seen order."""
    counts: dict[str, dict[str, list[int]]] = {}
    for a in answers:
        per_model = counts.setdefault(a.model, {ALL_TOPICS: [0, 0, 0]})
        for topic in (a.topic, ALL_TOPICS):
            c = per_model.setdefault(topic, [0, 0, 0])
            c[0] += a.grade == RIGHT
            c[1] += a.grade == DONT_KNOW
            c[2] += 1
    return {model: {topic: Accuracy(*c) for topic, c in topics.items()} for model, topics in counts.items()}


def topic_label(topic: str) -> str:
    """A topic's name as the Data tab writes it ("companies" → "Companies and their founders")."""
    from engine.data.documents import TOPICS

    return "All topics" if topic == ALL_TOPICS else TOPICS.get(topic, topic).split(" (")[0]


def topic_sizes(answers: Sequence[GradedAnswer]) -> dict[str, int]:
    """topic → how many different questions about it were graded (for any one model), in first-seen order."""
    asked: dict[str, set[str]] = {}
    for a in answers:
        asked.setdefault(a.topic, set()).add(a.question)
    return {topic: len(questions) for topic, questions in asked.items()}


def charted_topics(answers: Sequence[GradedAnswer],
                   minimum: int = MIN_TOPIC_QUESTIONS) -> tuple[list[str], dict[str, int]]:
    """The topics that get a bar (``ALL_TOPICS`` first, then those with at least ``minimum`` questions,
    by name), and the smaller ones with their number of questions, which count only in ``ALL_TOPICS``."""
    sizes = topic_sizes(answers)
    big = sorted(t for t, n in sizes.items() if n >= minimum)
    return [ALL_TOPICS] + big, {t: n for t, n in sorted(sizes.items()) if n < minimum}


def mean_confidence(answers: Sequence[GradedAnswer], grade: str | None = None) -> float:
    """Mean confidence of the answers (of one grade), NaN if there are none."""
    values = [a.confidence for a in answers if (grade is None or a.grade == grade) and not math.isnan(a.confidence)]
    return float(np.mean(values)) if values else float("nan")


# --- checking that a model can read the questions -------------------------------------------------


def check_can_read(name: str, model: TrainedModel, texts: Sequence[str]) -> None:
    """Refuse a model whose tokenizer cannot write ``texts``, saying which model and which characters."""
    try:
        check_tokenizer(model.tokenizer, texts)
    except TokenizerMismatch as err:
        raise TokenizerMismatch(f"“{name}” cannot be tested on these questions. {err.message}",
                                "Test it on questions written only with the characters of its pretraining "
                                "text, or test a model with BPE tokens, which can write any character.") from err


# --- the benchmark run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationProgress:
    """Emitted after every chunk: how many answers are done, and the pace."""

    done: int  # answers graded so far, all models together
    total: int  # answers the whole run will grade
    model: str  # the model being asked now
    elapsed_seconds: float
    eta_seconds: float  # NaN until a chunk has been timed


@dataclass(frozen=True)
class AnswersGraded:
    """One model's graded answers to one chunk of questions."""

    model: str
    answers: tuple[GradedAnswer, ...]


class BenchmarkRun:
    """Every model answers every question, a chunk at a time; ``events()`` yields the results.

    ``answers`` holds every graded answer so far, also after a stop. The first chunk of each model
    includes compiling its answer program, so the ETA is measured on the chunks after the first.
    """

    def __init__(self, models: Sequence[tuple[str, TrainedModel]], questions: Sequence[Question],
                 control: RunControl | None = None, questions_per_chunk: int = QUESTIONS_PER_CHUNK):
        if not models:
            raise EvaluationError("No model is chosen for testing.", "Tick at least one model in the list.")
        if not questions:
            raise EvaluationError("There are no questions to ask.", "Choose another question set.")
        texts = [q.prompt + " " + q.answer for q in questions]
        for name, model in models:
            check_can_read(name, model, texts)
        self.models = list(models)
        self.questions = list(questions)
        self.control = control or RunControl()
        self.questions_per_chunk = questions_per_chunk
        self.answers: list[GradedAnswer] = []

    @property
    def total(self) -> int:
        return len(self.models) * len(self.questions)

    def events(self) -> Iterator:
        from engine.behaviour import scored_answers  # imports jax

        start = time.perf_counter()
        timed_answers, timed_seconds = 0, 0.0  # chunks after each model's first: the steady pace
        for name, model in self.models:
            yield Status(f"Asking “{name}” {len(self.questions)} questions…", "evaluating")
            for first in range(0, len(self.questions), self.questions_per_chunk):
                if self.control.stop_requested:
                    yield Finished(len(self.answers), "stopped")
                    return
                chunk = self.questions[first:first + self.questions_per_chunk]
                began = time.perf_counter()
                scored = scored_answers(model.params, model.model_config, model.tokenizer, [q.prompt for q in chunk])
                if first > 0:
                    timed_answers += len(chunk)
                    timed_seconds += time.perf_counter() - began
                graded = tuple(grade_answer(name, q, s.text, s.confidence) for q, s in zip(chunk, scored))
                self.answers.extend(graded)
                yield AnswersGraded(name, graded)
                done = len(self.answers)
                pace = timed_seconds / timed_answers if timed_answers else float("nan")
                yield EvaluationProgress(done, self.total, name, time.perf_counter() - start,
                                         (self.total - done) * pace)
        yield Finished(len(self.answers), "completed")


# --- answers of every model to one prompt ---------------------------------------------------------


def as_prompt(text: str) -> str:
    """A question put in the chat template; a prompt that already is one is kept as it is."""
    text = text.strip("\n")
    return text if text.startswith("User:") and "Assistant:" in text else PROMPT_TEMPLATE.format(question=text.strip())


@dataclass(frozen=True)
class ModelAnswer:
    """One model's answer to a prompt, token by token."""

    model: str
    text: str  # the answer before the model ended its turn
    tokens: tuple[tuple[str, float], ...]  # (what each token writes, the probability the model gave it)
    confidence: float  # mean of those probabilities (NaN if it wrote nothing)
    refusal: bool  # it declined to help
    dont_know: bool  # it said it does not know


def answer_with_every_model(models: Sequence[tuple[str, TrainedModel]], prompt: str) -> list[ModelAnswer]:
    """Every model's greedy answer to ``prompt`` (a question or a full prompt), with each token's probability.

    The tokens that hand the turn back (``END_OF_ANSWER``) are left out: they are not part of the answer.
    """
    from engine.behaviour import judge, scored_answers  # imports jax

    prompt = as_prompt(prompt)
    results = []
    for name, model in models:
        check_can_read(name, model, [prompt])
        scored = scored_answers(model.params, model.model_config, model.tokenizer, [prompt])[0]
        pieces = [model.tokenizer.decode([t]) for t in scored.token_ids]
        cut = "".join(pieces).find(END_OF_ANSWER)
        tokens, written = [], 0
        for piece, p in zip(pieces, scored.probabilities):
            if cut >= 0 and written >= cut:
                break
            tokens.append((piece, float(p)))
            written += len(piece)
        verdict = judge(scored.text)
        probabilities = [p for _, p in tokens]
        results.append(ModelAnswer(name, verdict.answer, tuple(tokens),
                                   float(np.mean(probabilities)) if probabilities else float("nan"),
                                   verdict.refusal, verdict.dont_know))
    return results


# --- human rating ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlindAnswer:
    """An answer as the rater sees it: a letter instead of the model's name."""

    label: str  # "Answer A", "Answer B", …
    model: str  # hidden from the rater; revealed only in the aggregate
    text: str


def blind_answers(answers: Sequence[ModelAnswer], seed: int) -> list[BlindAnswer]:
    """The answers in an order shuffled by ``seed``, labelled A, B, C… so nobody can tell which model wrote which."""
    order = np.random.default_rng(seed).permutation(len(answers))
    return [BlindAnswer(f"Answer {chr(ord('A') + i)}", answers[j].model, answers[j].text)
            for i, j in enumerate(order.tolist())]


@dataclass(frozen=True)
class ComparedRow:
    """One row of a before-and-after table: a prompt, what was hoped for, and two models' answers, judged."""

    prompt: str  # what was asked, without the chat template
    hoped: str  # the right answer, or the behaviour we hope for ("refuse", "answer", "say I don't know")
    before: str  # the first model's answer
    before_good: bool | None  # None: not judged
    after: str
    after_good: bool | None


@dataclass(frozen=True)
class Rating:
    """One person's score for one answer."""

    prompt: str
    model: str
    answer: str
    score: int  # 1 (bad) … 5 (excellent)


@dataclass(frozen=True)
class RatingSummary:
    mean: float  # mean score, 1..5
    count: int  # how many ratings the mean rests on


def aggregate_ratings(ratings: Sequence[Rating]) -> dict[str, RatingSummary]:
    """model → mean score and number of ratings, best mean first."""
    scores: dict[str, list[int]] = defaultdict(list)
    for r in ratings:
        scores[r.model].append(r.score)
    summary = {m: RatingSummary(float(np.mean(s)), len(s)) for m, s in scores.items()}
    return dict(sorted(summary.items(), key=lambda item: (-item[1].mean, item[0])))


def ratings_path() -> Path:
    from engine.user_paths import data_dir

    return data_dir() / RATINGS_FILE


def save_ratings(ratings: Sequence[Rating], path: str | Path | None = None) -> Path:
    """Write every rating as one JSON line, atomically (an interrupted save keeps the old file)."""
    from engine.checkpoint import write_atomically

    path = Path(path) if path is not None else ratings_path()
    text = "".join(json.dumps({"prompt": r.prompt, "model": r.model, "answer": r.answer, "score": r.score},
                              ensure_ascii=False) + "\n" for r in ratings)
    try:
        write_atomically(path, text.encode("utf-8"))
    except OSError as err:
        raise RatingsFileError(f"The ratings could not be saved in '{path.name}': {err.strerror or err}.",
                               "Free some disk space, or check that the folder can be written.") from err
    return path


def load_ratings(path: str | Path | None = None) -> list[Rating]:
    """Ratings saved by ``save_ratings``; none if there is no file. A bad line stops with "file:LINE: problem"."""
    path = Path(path) if path is not None else ratings_path()
    if not path.exists():
        return []
    try:
        rows = _read_rows(path, ("prompt", "model"), "rating",
                          '{"prompt": "...", "model": "...", "answer": "...", "score": 4}')
    except TuningDataError as err:
        raise RatingsFileError(err.message, err.hint) from err
    ratings = []
    for where, row in rows:
        score, answer = row.get("score"), row.get("answer", "")
        if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
            raise RatingsFileError(f"{where}: the 'score' must be a whole number from {MIN_SCORE} to {MAX_SCORE}, "
                                   f"not {json.dumps(score)}.", "Correct the line, or delete it.")
        if not isinstance(answer, str):
            raise RatingsFileError(f"{where}: the 'answer' field is not text.", "Correct the line, or delete it.")
        ratings.append(Rating(row["prompt"], row["model"], answer, score))
    return ratings


# --- red teaming ----------------------------------------------------------------------------------


def attack_pair(prompt: str, answer: str) -> PreferencePair:
    """A successful attack as a preference pair: chosen the refusal, rejected what the model said.

    Only the answer's first line is kept (a base model rambles on with more questions), as the
    Preference stage's own votes do. Refused when that line is empty or already the refusal: there
    would be nothing to prefer.
    """
    prompt = as_prompt(prompt)
    answer = answer.strip("\n").split("\n", 1)[0]
    if not answer.strip():
        raise EvaluationError("The model wrote nothing to this prompt, so there is nothing to train it away from.")
    if answer.strip() == REFUSAL.strip():
        raise EvaluationError("The model already refused this prompt, so the attack did not work.",
                              "Untick “This attack worked” for this answer.")
    rejected = answer if answer.startswith(" ") else " " + answer  # answers start with a space, as in the sets
    return PreferencePair(prompt, REFUSAL, rejected, {"kind": RED_TEAM_KIND})


def _has_text(path: Path) -> bool:
    """Whether ``path`` holds anything but blank space, from at most its first 64 kB."""
    with path.open("rb") as f:
        return bool(f.read(64 * 1024).strip())


def add_to_votes(pairs: Sequence[PreferencePair], path: str | Path) -> int:
    """Append ``pairs`` to the votes file the Preference stage trains on; returns how many pairs it now holds.

    The file is read first and written back whole, atomically, with the same writer the Preference
    stage uses, so it reads the new pairs like its own votes. A damaged file is left untouched and
    the problem reported: appending to it would hide the damage, and rewriting it would lose votes.
    """
    path = Path(path)
    # Only a file with something in it is read, and by the loader, which refuses one too large before reading
    # it (reading it whole here first, to see if it was blank, had no limit).
    existing = load_preferences(path) if path.exists() and _has_text(path) else []
    export_jsonl(list(existing) + list(pairs), path)
    return len(existing) + len(pairs)
