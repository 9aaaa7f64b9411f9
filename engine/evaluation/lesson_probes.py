"""How the lessons question a model: prompts, greedy answers graded with confidence, answer log-probabilities.

Two ways of asking, chosen by what a small model can honestly show:

- **Greedy answers** (``ask``): the model writes its answer, and the first line is graded by exact
  match (``engine.behaviour.judge``: the expected name as a whole word, no other candidate). A base
  (pretrained) model is asked in the forum form its corpus uses, ``"Q: …\\nA:"``; a tuned model in
  the chat form it was tuned on (``PROMPT_TEMPLATE``). Measured on the lessons' base model (350
  steps): the forum form answers most covered facts right, and the answer is the first line. The
  *confidence* of an answer is the mean probability the model gave the tokens of that line.
- **Answer log-probabilities** (``completion_logprobs``): how likely the model finds each of several
  given completions, summed over their tokens. The bias lesson compares competing answers this way:
  it measures the preference itself, not whichever answer happens to win a greedy race.

Asking runs a chunk of prompts at a time (``engine.behaviour.scored_answers``' batch), and reports
progress after each chunk, so a lesson can show a bar with an ETA and stop between chunks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Generator, Sequence

import numpy as np

from engine.errors import PlainError, TokenizerMismatch
from engine.events import RunControl
from engine.data.stage_sets import PROMPT_TEMPLATE, fact_topic
from engine.trained_model import STAGE_PRETRAINING, TrainedModel
from engine.data.documents import Fact
from engine.data.world import _QUESTIONS, N_ASKED_UNKNOWN_NAMES, World, WorldSettings, unknown_country_names

CHUNK = 32  # prompts per batch: engine.behaviour.ROWS_PER_BATCH, so each chunk is one compiled call
MAX_ANSWER_TOKENS = 16  # the answers are a name or a short sentence; the first line is graded
# The relations a question about a country can ask (and that a made-up country can be asked about).
COUNTRY_RELATIONS = ("capital", "language", "currency", "founded_in")


@dataclass(frozen=True)
class LessonProgress:
    """Where a lesson stands: for a progress bar with an ETA."""

    done: int  # units of work done (answers, or training steps)
    total: int  # units the whole lesson needs
    message: str  # what it is doing now, in words
    eta_seconds: float  # time left (NaN until some work has been timed)


@dataclass(frozen=True)
class WorldQuestion:
    """A question about the world, with its answer and where it comes from."""

    question: str  # e.g. "What is the capital of Lamlar?"
    answer: str | None  # the exact answer; None for a question about something that does not exist
    relation: str  # the fact's relation, e.g. "capital"
    topic: str  # the Data stage's topic (engine.data.documents.TOPICS)
    year: int | None  # the year of the event, for dated facts
    fact: Fact | None  # the fact asked about (None for made-up entities)
    distractors: tuple[str, ...] = ()  # every other answer of the same relation: naming one is wrong


def world_questions(world: World, settings: WorldSettings, relations: Sequence[str] | None = None,
                    every_wording: bool = False) -> list[WorldQuestion]:
    """Each fact (of ``relations``) as its canonical question, or in every wording the world uses."""
    pools: dict[str, set[str]] = {}
    rows = []
    for f in world.facts:
        if relations is not None and f.relation not in relations:
            continue
        wordings = _QUESTIONS[f.relation] if every_wording else _QUESTIONS[f.relation][:1]
        for template, slot in wordings:
            values = {"s": f.subject, "o": f.object, "y": str(f.year)}
            rows.append((template.format(**values), values[slot], f, slot))
            pools.setdefault(f"{f.relation}:{slot}", set()).add(values[slot])
    return [WorldQuestion(q, a, f.relation, fact_topic(world, f), f.year, f,
                          tuple(sorted(pools[f"{f.relation}:{slot}"] - {a})))
            for q, a, f, slot in rows]


def made_up_questions(world: World, settings: WorldSettings, n_names: int = 12) -> list[WorldQuestion]:
    """Questions about countries the world does not contain (names made like real ones), one per relation."""
    names = unknown_country_names(world, settings, N_ASKED_UNKNOWN_NAMES)[40:40 + n_names]  # the red-team set's unknown names
    rows = []
    for i, name in enumerate(names):
        for relation in COUNTRY_RELATIONS:
            rows.append(WorldQuestion(_QUESTIONS[relation][0][0].format(s=name), None, relation, "made up",
                                      None, None))
    return rows


def prompt_for(model: TrainedModel, question: str, context: str = "") -> str:
    """The prompt to ask ``model`` a question, optionally with a fact written before it.

    A pretrained model continues text, so it gets the forum form of its corpus (which also writes
    reading passages followed by a question on them); a tuned model gets the chat form.
    """
    if model.stage == STAGE_PRETRAINING:
        return f"{context}\nQ: {question}\nA:" if context else f"Q: {question}\nA:"
    return PROMPT_TEMPLATE.format(question=f"{context} {question}" if context else question)


@dataclass(frozen=True)
class Reply:
    """A model's answer to one question, graded."""

    text: str  # the first line of what it wrote, stripped
    correct: bool | None  # exact match (None when there is no right answer: made-up entities)
    dont_know: bool  # it said it does not know
    confidence: float  # mean probability of the tokens of that line, 0..1 (NaN if it wrote none)


def first_line(token_ids: Sequence[int], probabilities: Sequence[float], tokenizer) -> tuple[str, float]:
    """The text of the first line of an answer, and the mean probability of the tokens that wrote it.

    The line ends at the first token whose text holds a line break (that token is left out, unless
    the line would be empty without it).
    """
    end = len(token_ids)
    for k in range(1, len(token_ids) + 1):
        if "\n" in tokenizer.decode(list(token_ids[:k])).lstrip("\n"):
            end = k - 1
            break
    text = tokenizer.decode(list(token_ids[:end]))
    own = list(probabilities[:end]) or list(probabilities[:1])
    return text.strip().split("\n")[0].strip(), (float(np.mean(own)) if own else math.nan)


class Pace:
    """Counts work done and estimates the time left from the pace so far (the first chunk compiles,
    so the estimate is taken from the chunks after it once there are some)."""

    def __init__(self, total: int):
        self.total = max(int(total), 1)
        self.done = 0
        self._started = time.perf_counter()
        self._first: tuple[float, int] | None = None  # (time, done) after the first timed chunk

    def advance(self, units: int, message: str) -> LessonProgress:
        self.done = min(self.total, self.done + int(units))
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, self.done)
            rate = self.done / max(now - self._started, 1e-9)
        elif self.done > self._first[1]:
            rate = (self.done - self._first[1]) / max(now - self._first[0], 1e-9)
        else:
            rate = 0.0
        eta = (self.total - self.done) / rate if rate > 0 else math.nan
        return LessonProgress(self.done, self.total, message, eta)


def check_readable(name: str, model: TrainedModel, texts: Sequence[str]) -> None:
    """Refuse a model whose tokenizer cannot write the lesson's questions, saying why in words."""
    from engine.data.tuning_data import check_tokenizer

    try:
        check_tokenizer(model.tokenizer, texts)
    except TokenizerMismatch as err:
        raise TokenizerMismatch(f"“{name}” cannot take this lesson. {err.message}",
                                "Use a model with BPE tokens (they can write any character), or the lessons' "
                                "own model.") from err


def ask(model: TrainedModel, questions: Sequence[WorldQuestion], control: RunControl, pace: Pace,
        message: str, contexts: Sequence[str] | None = None) -> Generator[LessonProgress, None, list[Reply]]:
    """Greedy answers to ``questions``, graded, a chunk at a time: ``replies = yield from ask(...)``.

    Stops between chunks when ``control`` asks; the replies so far are returned (fewer than asked).
    """
    from engine.behaviour import judge, scored_answers

    contexts = contexts or [""] * len(questions)
    prompts = [prompt_for(model, q.question, c) for q, c in zip(questions, contexts)]
    replies: list[Reply] = []
    for start in range(0, len(prompts), CHUNK):
        if control.stop_requested:
            break
        chunk = prompts[start:start + CHUNK]
        answers = scored_answers(model.params, model.model_config, model.tokenizer, chunk, MAX_ANSWER_TOKENS)
        for q, a in zip(questions[start:start + CHUNK], answers):
            text, confidence = first_line(a.token_ids, a.probabilities, model.tokenizer)
            verdict = judge(" " + text, q.answer, q.distractors)
            replies.append(Reply(text, verdict.correct, verdict.dont_know, confidence))
        yield pace.advance(len(chunk), message)
    return replies


@lru_cache(maxsize=8)
def _token_logprobs_fn(cfg):
    import jax
    import jax.numpy as jnp

    from engine.model import forward

    def run(params, windows):
        """windows (B, T) → log-probability of each token given the ones before it: (B, T-1)."""
        logits = forward(params, windows, cfg)  # (B, T, V)
        logp = jax.nn.log_softmax(logits[:, :-1], axis=-1)  # (B, T-1, V)
        return jnp.take_along_axis(logp, windows[:, 1:, None], axis=-1)[..., 0]  # (B, T-1)

    return jax.jit(run)


def completion_logprobs(model: TrainedModel, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """log P(completion | prompt) for each (prompt, completion), summed over the completion's tokens.

    Prompt and completion are tokenized separately and joined, as the tuning stages do, so a
    completion that starts with a space splits the same way whatever comes before it. A prompt too
    long for the window keeps its end.
    """
    import jax.numpy as jnp

    cfg, tokenizer = model.model_config, model.tokenizer
    width = cfg.context_length
    fn = _token_logprobs_fn(cfg)
    out = np.zeros(len(pairs))
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start:start + CHUNK]
        windows = np.zeros((CHUNK, width), np.int32)  # (B, T): a fixed batch, one compile
        spans = []
        for row, (prompt, completion) in enumerate(chunk):
            answer = tokenizer.encode(completion).tolist()[: width - 1]
            context = tokenizer.encode(prompt).tolist()[-(width - len(answer)):] or [0]
            ids = (context + answer)[:width]
            windows[row, :len(ids)] = ids
            spans.append((len(context), len(ids)))
        logp = np.asarray(fn(model.params, jnp.asarray(windows)), dtype=np.float64)  # (B, T-1)
        for row, (begin, end) in enumerate(spans):
            # Token i is predicted at position i-1.
            out[start + row] = float(logp[row, begin - 1:end - 1].sum())
    return out


def share(flags: Sequence[bool]) -> float:
    """The share of true flags, 0..1 (NaN for none)."""
    return float(np.mean(flags)) if len(flags) else math.nan


def mean(values: Sequence[float]) -> float:
    """The mean of the finite values (NaN for none)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


class LessonError(PlainError):
    """A lesson cannot run as asked (no model, a model that cannot read the questions…)."""
