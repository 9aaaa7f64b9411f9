"""The Evaluation stage's seven lessons: each one an experiment that ends in numbers, a plot and a few sentences.

1. **hallucination**: questions about countries that do not exist get answers anyway, as confidently as real ones;
2. **cutoff**: a model trained on text up to a year knows nothing later, and answers about it just as surely;
3. **coverage**: facts the text states often, the model knows; facts it states rarely, it does not;
4. **bias**: the model prefers the library its data recommends, about as strongly as its data does;
5. **context**: the same questions without notes, with true notes and with notes that say otherwise;
6. **agreement**: two models trained from different seeds on the same text, asked the same questions;
7. **scale**: this model's training compute (≈ 6 × parameters × tokens) beside published frontier figures.

``run_lesson(key, model)`` is a generator of ``LessonProgress`` events that ends with one
``LessonResult`` (plain numbers, plot data, an explanation), so the GUI runs it on a worker thread
and anything can print it. A stop between chunks ends it early with a result over what was asked
(``partial``). Lessons 2, 4 and 6 compare variants the lessons train themselves
(``engine.evaluation.lesson_models``); a lesson whose variants are not trained raises ``MissingLessonModels``
naming them. The others test a "model under test" (any model; the lessons' own by default).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from engine.evaluation import lesson_models as lm
from engine.config import ModelConfig, TrainConfig, param_count, replace
from engine.data.curation import corpus_stats, fingerprint
from engine.data.documents import _RECOMMEND, _TASKS
from engine.events import RunControl
from engine.evaluation.lesson_probes import (COUNTRY_RELATIONS, LessonError, LessonProgress, Pace, Reply, WorldQuestion, ask,
                                  check_readable, completion_logprobs, made_up_questions, mean, share,
                                  world_questions)
from engine.data.open_book import Notes, made_up_notes, notes_text
from engine.trained_model import TrainedModel
from engine.data.world import (_ENCYCLOPEDIA, _QUESTIONS, World, WorldSettings, country_values, generate_world,
                          names_taken, world_documents)

# Published training compute of frontier-scale models, each with where it is published.
# (6 × parameters × tokens agrees with each within a few percent.)
PUBLISHED_COMPUTE = (
    ("GPT-3 (175 billion parameters)", 3.14e23,
     "Brown et al. 2020, “Language Models are Few-Shot Learners”, table D.1"),
    ("Chinchilla (70 billion parameters)", 5.76e23,
     "Hoffmann et al. 2022, “Training Compute-Optimal Large Language Models”, table 3"),
    ("PaLM (540 billion parameters)", 2.56e24,
     "Chowdhery et al. 2022, “PaLM: Scaling Language Modeling with Pathways”, table 20"),
    ("Llama 3.1 (405 billion parameters)", 3.8e25,
     "Llama Team, Meta 2024, “The Llama 3 Herd of Models”, section 3.3"),
)


@dataclass(frozen=True)
class Series:
    """One set of values in a lesson's plot."""

    name: str  # shown in the legend
    x: tuple[float, ...]  # positions; for categorical plots, the category index 0, 1, 2…
    y: tuple[float, ...]  # values (NaN: nothing to draw there)
    style: str = "bars"  # "bars", "line", "points" or "dashed"
    labels: tuple[str, ...] = ()  # a text beside each point (e.g. the topic), or none


@dataclass(frozen=True)
class PlotData:
    """Everything a widget needs to draw a lesson's plot; plain values only."""

    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    categories: tuple[str, ...] = ()  # x tick labels at 0, 1, 2… (empty: a numeric x axis)
    log_y: bool = False  # values span many powers of ten: draw log10(y) with ticks 10^k
    y_range: tuple[float, float] | None = None  # fixed y range (e.g. 0..1 for shares)
    marker_x: float | None = None  # a dashed vertical line here (e.g. the cutoff)
    marker_label: str = ""
    percent: bool = True  # values are shares, written on bars as percentages (else as plain numbers)


@dataclass(frozen=True)
class LessonResult:
    """What a lesson found."""

    lesson: str  # the lesson's key
    title: str
    numbers: dict  # the measured effect under stable keys (floats, lists over settings, dicts per topic)
    figures: tuple[tuple[str, str], ...]  # (what, value in words): the numbers shown above the plot
    plots: tuple[PlotData, ...]
    explanation: str  # two or three plain sentences
    partial: bool = False  # stopped before every question was asked: the numbers cover what was
    seconds: float = 0.0  # how long it ran
    models: tuple[str, ...] = field(default=())  # the models it tested, by name


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    summary: str  # one line: what the lesson asks
    needs: tuple[lm.Variant, ...]  # the variants it always trains for itself
    tests_model: bool  # True: it tests the chosen model under test


LESSONS = (
    Lesson("hallucination", "1. Why it hallucinates",
           "Ask about countries the text never mentions. Does the model say it does not know?", (), True),
    Lesson("cutoff", "2. Knowledge cutoff",
           f"A model trained only on text up to {lm.CUTOFF_YEAR}: what does it say about later events?",
           (lm.BASE, lm.CUTOFF), False),
    Lesson("coverage", "3. Coverage",
           "Does the model know best what its text talks about most?", (), True),
    Lesson("bias", "4. Inherited bias",
           "Two models whose forum posts recommend a favourite library more or less often: which do they recommend?",
           (lm.BASE, lm.LOW_SKEW), False),
    Lesson("context", "5. Context helps",
           "The same questions without notes, with true notes, and with notes that say otherwise.", (), True),
    Lesson("agreement", "6. Different models, different answers",
           "Two models trained on the same text from different random seeds answer the same questions.",
           (lm.BASE, lm.SECOND_SEED), False),
    Lesson("scale", "7. Scale and cost",
           "How much computing went into this model, next to the biggest published models?", (), True),
)


def lesson(key: str) -> Lesson:
    for item in LESSONS:
        if item.key == key:
            return item
    raise LessonError(f"There is no lesson called '{key}'.")


class MissingLessonModels(LessonError):
    """The lesson compares models that have not been trained yet; ``variants`` names them."""

    def __init__(self, variants: list[lm.Variant], seconds: float):
        self.variants = tuple(variants)
        names = " and ".join(f"“{v.title}”" for v in variants)
        count = "one model" if len(variants) == 1 else f"{len(variants)} models"
        super().__init__(f"This lesson needs {count} that {'has' if len(variants) == 1 else 'have'} not been "
                         f"trained yet: {names}.",
                         f"Press “Train the missing models” (about {max(1, round(seconds / 60))} min on this "
                         f"computer); they are kept, so this happens only once.")


def default_model(key: str) -> lm.Variant:
    """The lessons' own model a lesson tests when none is chosen: the reader for "context", else the base."""
    return lm.READER if key == "context" else lm.BASE


def needed_variants(key: str, model: TrainedModel | None = None) -> list[lm.Variant]:
    """The lessons' own models this lesson needs: its comparisons, and the default model under test."""
    item = lesson(key)
    needs = list(item.needs)
    if item.tests_model and model is None and key != "scale":
        needs.append(default_model(key))
    return list(dict.fromkeys(needs))


def check_ready(key: str, model: TrainedModel | None = None, recipe: dict | None = None) -> None:
    """Raise ``MissingLessonModels`` if a variant this lesson needs is not trained."""
    absent = lm.missing(needed_variants(key, model), **(recipe or {}))
    if absent:
        raise MissingLessonModels(absent, lm.estimate_train_seconds(absent))


def world_of(model: TrainedModel) -> tuple[WorldSettings, lm.Variant | None]:
    """The world a model's questions come from: a lesson variant's own, else the bundled world."""
    variant = next((v for v in lm.VARIANTS if v.key == model.details.get("lesson_variant")), None)
    return (variant.world, variant) if variant is not None else (WorldSettings(), None)


def run_lesson(key: str, model: TrainedModel | None = None, model_name: str = "",
               control: RunControl | None = None, recipe: dict | None = None) -> Iterator[LessonProgress | LessonResult]:
    """Run one lesson; ``model`` is the model under test (None: the lessons' own). Ends with a ``LessonResult``.

    ``recipe`` ({"model": ModelConfig, "train": TrainConfig}) is for tests that train tiny variants.
    """
    control = control or RunControl()
    item = lesson(key)
    recipe = recipe or {}
    check_ready(key, model, recipe)

    def variant(v: lm.Variant) -> TrainedModel:
        loaded = lm.load_variant(v, recipe.get("model"), recipe.get("train"))
        if loaded is None:  # deleted between the check and now
            raise MissingLessonModels([v], lm.estimate_train_seconds([v]))
        return loaded

    if item.tests_model and model is None and key != "scale":
        default = default_model(key)
        model, model_name = variant(default), default.title
    started = time.perf_counter()
    if key == "hallucination":
        result = yield from hallucination(model, model_name, control)
    elif key == "cutoff":
        result = yield from cutoff(variant(lm.BASE), variant(lm.CUTOFF), control)
    elif key == "coverage":
        result = yield from coverage(model, model_name, control)
    elif key == "bias":
        result = yield from bias([(lm.LOW_SKEW, variant(lm.LOW_SKEW)), (lm.BASE, variant(lm.BASE))], control)
    elif key == "context":
        result = yield from context(model, model_name, control)
    elif key == "agreement":
        result = yield from agreement(variant(lm.BASE), variant(lm.SECOND_SEED), control)
    else:
        result = scale(model, model_name)
    yield replace(result, seconds=time.perf_counter() - started)


def _percent(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{100 * x:.0f}%"


def _prob(x: float) -> str:
    """A confidence (mean probability, 0..1) as the rest of the app writes it: a percentage ("78%")."""
    return _percent(x)


# --- 1. hallucination -------------------------------------------------------------------------------


def hallucination(model: TrainedModel, name: str, control: RunControl):
    settings, _ = world_of(model)
    world = generate_world(settings)
    real = world_questions(world, settings, COUNTRY_RELATIONS)
    fake = made_up_questions(world, settings)
    questions = real + fake
    check_readable(name, model, [q.question for q in questions])
    pace = Pace(len(questions))
    replies = yield from ask(model, questions, control, pace, f"Asking “{name}” about real and made-up countries…")
    groups: dict[str, list[float]] = {"right": [], "wrong": [], "made up": []}
    made_up_answered = []
    for q, r in zip(questions, replies):
        if q.answer is None:
            made_up_answered.append(not r.dont_know)
            if not r.dont_know:
                groups["made up"].append(r.confidence)
        elif not r.dont_know:
            groups["right" if r.correct else "wrong"].append(r.confidence)
    conf = {k: mean(v) for k, v in groups.items()}
    answered = share(made_up_answered)
    cats = ("right answers", "wrong answers", "made-up countries")  # short: the plot drops a tick label that does not fit
    rng = random.Random(0)  # a fixed jitter, so the same result draws the same way
    points = [(i + rng.uniform(-0.25, 0.25), c) for i, k in enumerate(groups) for c in groups[k] if math.isfinite(c)]
    plot = PlotData("How sure the model was of each answer (mean probability of the words it wrote)", "",
                    "how sure (%)",
                    (Series("mean confidence", (0, 1, 2), tuple(conf.values())),
                     Series("one answer", tuple(p[0] for p in points), tuple(p[1] for p in points), "points")),
                    cats, y_range=(0.0, 1.0))
    same = math.isfinite(conf["made up"]) and math.isfinite(conf["right"]) and conf["made up"] >= conf["right"] - 0.1
    explanation = (
        f"“{name}” answered {_percent(answered)} of the questions about countries that do not exist, instead of "
        f"saying it does not know, with a mean confidence of {_prob(conf['made up'])} (right answers: "
        f"{_prob(conf['right'])}, wrong ones: {_prob(conf['wrong'])}). "
        + ("Its made-up answers sound as sure as its real knowledge. " if same else
           "It is somewhat less sure about them, but it still names something. ")
        + "A language model writes the most likely next words; nothing in it checks whether the thing it is "
          "asked about exists, so unless tuning taught it to say “I don't know”, it answers anyway.")
    return LessonResult("hallucination", lesson("hallucination").title, {
        "confidence_right": conf["right"], "confidence_wrong": conf["wrong"],
        "confidence_nonexistent": conf["made up"], "nonexistent_answered": answered,
        "accuracy": share([bool(r.correct) for q, r in zip(questions, replies) if q.answer is not None]),
        "answers": len(replies)},
        (("Questions about made-up countries answered anyway", _percent(answered)),
         ("Confidence: right answers", _prob(conf["right"])), ("Confidence: wrong answers", _prob(conf["wrong"])),
         ("Confidence: made-up countries", _prob(conf["made up"]))),
        (plot,), explanation, len(replies) < len(questions), models=(name,))


# --- 2. knowledge cutoff ------------------------------------------------------------------------------

# Bins end at the cutoff year, so no bin mixes events before and after it.
_YEAR_BINS = ((1800, 1899), (1900, 1949), (1950, 1969), (1970, 1990), (1991, 2000), (2001, 2010), (2011, 2025))


def cutoff(full: TrainedModel, limited: TrainedModel, control: RunControl, year: int = lm.CUTOFF_YEAR):
    settings = lm.CUTOFF.world
    world = generate_world(settings)
    questions = [q for q in world_questions(world, settings, every_wording=True) if q.year is not None]
    pace = Pace(2 * len(questions))
    replies = {}
    for key, model in (("limited", limited), ("full", full)):
        replies[key] = yield from ask(model, questions, control, pace,
                                      f"Asking the {'cutoff' if key == 'limited' else 'full'} model about dated events…")

    def rates(key: str, after: bool) -> tuple[float, float]:
        rows = [(q, r) for q, r in zip(questions, replies[key]) if (q.year > year) == after]
        return share([bool(r.correct) for _, r in rows]), mean([r.confidence for _, r in rows])

    bins = [b for b in _YEAR_BINS if any(b[0] <= q.year <= b[1] for q in questions)]

    def by_bin(key: str, what: str) -> tuple[float, ...]:
        out = []
        for lo, hi in bins:
            rows = [r for q, r in zip(questions, replies[key]) if lo <= q.year <= hi]
            out.append(share([bool(r.correct) for r in rows]) if what == "acc" else mean([r.confidence for r in rows]))
        return tuple(out)

    acc_before, conf_before = rates("limited", False)
    acc_after, conf_after = rates("limited", True)
    full_after, _ = rates("full", True)
    xs = tuple(range(len(bins)))
    marker = next((i - 0.5 for i, (lo, _) in enumerate(bins) if lo > year), None)
    plot = PlotData("Right answers by the year of the event", "year of the event", "share right / confidence",
                    (Series("accuracy, trained on all the text", xs, by_bin("full", "acc"), "line"),
                     Series(f"accuracy, text up to {year} only", xs, by_bin("limited", "acc"), "line"),
                     Series(f"confidence, text up to {year} only", xs, by_bin("limited", "conf"), "dashed")),
                    tuple(f"{lo}–\n{hi}" for lo, hi in bins), y_range=(0.0, 1.0), marker_x=marker,
                    marker_label=f"cutoff {year}")
    explanation = (
        f"Trained only on text up to {year}, the model answered {_percent(acc_before)} of the questions about "
        f"earlier events right and {_percent(acc_after)} about later ones, yet its confidence hardly changed "
        f"({_prob(conf_before)} before, {_prob(conf_after)} after). The same model trained on all the text got "
        f"{_percent(full_after)} of the later ones. A model knows nothing that happened after its text was "
        "collected, and nothing in it tells it so: it answers about later events in the same sure voice.")
    n = min(len(replies["limited"]), len(replies["full"]))
    return LessonResult("cutoff", lesson("cutoff").title, {
        "cutoff_year": year, "accuracy_before_cutoff": acc_before, "accuracy_after_cutoff": acc_after,
        "confidence_before_cutoff": conf_before, "confidence_after_cutoff": conf_after,
        "full_model_accuracy_after_cutoff": full_after, "answers": len(replies["limited"]) + len(replies["full"])},
        ((f"Right about events up to {year}", _percent(acc_before)),
         (f"Right about events after {year}", _percent(acc_after)),
         ("Confidence before / after", f"{_prob(conf_before)} / {_prob(conf_after)}"),
         ("The model trained on all the text, after the cutoff", _percent(full_after))),
        (plot,), explanation, n < len(questions), models=(lm.BASE.title, lm.CUTOFF.title))


# --- 3. coverage --------------------------------------------------------------------------------------


# Four levels of how often a fact is stated, 20 questions each on the lessons' world. Measured on the
# lessons' model: thirds gave 42%, 59%, 70% right (a 28-point rise); quarters 40%, 55%, 60%, 75%.
COVERAGE_LEVELS = ("rarely", "now and then", "often", "very often")


def coverage_levels(mentions: Counter, rows: list, total_mentions: int,
                    names: tuple[str, ...] = COVERAGE_LEVELS) -> list[tuple[str, float, float, int]]:
    """(label, share of the text's fact statements, accuracy, questions) at each level of coverage.

    The questions are sorted by how often the text states their fact and cut into equal parts,
    one per name; a level's share is its facts' statements over every fact statement in the text, so with
    equally many facts in each, the levels' shares rise with how often their facts are stated.
    """
    ranked = sorted(rows, key=lambda row: mentions.get(row[0].fact, 0))
    n = len(ranked)
    levels = []
    for k, label in enumerate(names):
        members = ranked[k * n // len(names):(k + 1) * n // len(names)]
        if not members:
            continue
        counts = [mentions.get(q.fact, 0) for q, _ in members]
        times = f"{counts[0]}–{counts[-1]} times" if counts[-1] > counts[0] else f"{counts[0]} times"
        levels.append((f"{label}\n({times} each)", sum(counts) / max(total_mentions, 1),
                       share([bool(r.correct) for _, r in members]), len(members)))
    return levels


def coverage(model: TrainedModel, name: str, control: RunControl):
    settings, variant = world_of(model)
    world = generate_world(settings)
    documents = variant.documents() if variant is not None else world_documents(world, settings)
    # Facts of one kind (a country's capital, language, currency, founding year) are equally hard to
    # learn, so what tells them apart is how often the text states them (the world's fame knob).
    questions = world_questions(world, settings, COUNTRY_RELATIONS)
    check_readable(name, model, [q.question for q in questions])
    pace = Pace(len(questions))
    replies = yield from ask(model, questions, control, pace, f"Asking “{name}” about every country…")
    rows = list(zip(questions, replies))
    mentions = Counter(f for d in documents for f in d.facts)  # every statement of every fact
    levels = coverage_levels(mentions, rows, sum(mentions.values()))
    plot = PlotData("Right answers by how much of the text states the facts", "the facts are stated",
                    "share of questions right",
                    (Series("share right", tuple(range(len(levels))), tuple(lv[2] for lv in levels)),),
                    tuple(lv[0].replace(" each)", ")") for lv in levels), y_range=(0.0, 1.0))
    note = "" if variant is not None or model.corpus_fingerprint == fingerprint(documents) else (
        " (This model was not trained on the bundled world's text as it is, so these shares are only a guide.)")
    if len(levels) >= 2:
        (low, low_share, low_acc, _), (high, high_share, high_acc, _) = levels[0], levels[-1]
        rising = all(a[2] < b[2] for a, b in zip(levels, levels[1:]))
        verdict = ("The more of the text is about a fact, the more often the model knows it; what the text "
                   "hardly mentions, it guesses." if rising else
                   "Here accuracy did not rise step by step with coverage: this model learned some rarely stated "
                   "facts and missed some common ones, so coverage is only part of the story for it.")
        explanation = (f"Country facts stated {low.split(chr(10))[1].strip('()')} ({_percent(low_share)} of the "
                       f"text's statements) were answered right {_percent(low_acc)} of the time; those stated "
                       f"{high.split(chr(10))[1].strip('()')} ({_percent(high_share)}) {_percent(high_acc)}. "
                       f"{verdict}{note}")
    else:
        explanation = f"Every fact is stated equally often in this text, so there is no coverage to compare.{note}"
    return LessonResult("coverage", lesson("coverage").title, {
        "coverage_accuracy_by_share": [[lv[1], lv[2]] for lv in levels],
        "accuracy_by_mentions": {lv[0].replace("\n", " "): lv[2] for lv in levels},
        "questions_by_mentions": {lv[0].replace("\n", " "): lv[3] for lv in levels}, "answers": len(replies)},
        tuple((f"Facts stated {lv[0].split(chr(10))[0]} ({_percent(lv[1])} of statements)", f"{_percent(lv[2])} right")
              for lv in levels),
        (plot,), explanation, len(replies) < len(questions), models=(name,))


# --- 4. inherited bias -----------------------------------------------------------------------------------


def recommendation_prompts() -> list[str]:
    """Forum questions asking which library to use, each cut just before the library is named."""
    prompts = []
    for task in _TASKS:
        for template in _RECOMMEND:
            prompts.append(f"Q: Which library should I use to {task}?\nA: {template.split('{lib}')[0].rstrip()}")
    return prompts


def preference_for(model: TrainedModel, libraries: list[str], prompts: list[str]) -> np.ndarray:
    """(prompts, libraries): how much the model prefers each library after each prompt, rows summing to 1.

    The log-probability of each competing name, turned into shares with a softmax over the names.
    """
    pairs = [(p, f" {lib}") for p in prompts for lib in libraries]
    logp = completion_logprobs(model, pairs).reshape(len(prompts), len(libraries))
    logp -= logp.max(axis=1, keepdims=True)
    return np.exp(logp) / np.exp(logp).sum(axis=1, keepdims=True)


def bias(models: list[tuple[lm.Variant, TrainedModel]], control: RunControl):
    prompts = recommendation_prompts()
    pace = Pace(len(models) * len(prompts))
    data_skew, model_skew, wins, settings, done = [], [], [], [], 0
    favourite = ""
    for variant, model in models:
        if control.stop_requested:
            break
        libraries = [lib.name for lib in generate_world(variant.world).libraries]
        favourite = libraries[0]  # engine.data.documents.recommendation_documents: the first library is the favourite
        answers = corpus_stats(variant.documents()).answers
        data_skew.append(answers.get(favourite, 0) / max(sum(answers.values()), 1))
        shares = preference_for(model, libraries, prompts)  # (prompts, libraries)
        model_skew.append(float(shares[:, 0].mean()))
        wins.append(float((shares.argmax(axis=1) == 0).mean()))
        settings.append(variant.world.answer_skew)
        done += 1
        yield pace.advance(len(prompts), f"Comparing the recommendations of “{variant.title}”…")
    cats = tuple(f"recommendation skew {s:g}" for s in settings)
    xs = tuple(range(len(settings)))
    plot = PlotData(f"How often {favourite} is the answer", "", "share naming the favourite library",
                    (Series("in its training text", xs, tuple(data_skew)),
                     Series("the model's preference", xs, tuple(model_skew))), cats, y_range=(0.0, 1.0))
    pairs = ", ".join(f"{_percent(d)} of its text → {_percent(m)}" for d, m in zip(data_skew, model_skew))
    explanation = (
        f"Where {favourite} was recommended in {pairs} of the model's preference. Nobody told either model "
        f"which library is better: each took its preference from how often its text named it. A model inherits "
        f"the skews of its data, whether they are fair or not.")
    return LessonResult("bias", lesson("bias").title, {
        "bias_settings": settings, "bias_data_skew": data_skew, "bias_model_skew": model_skew,
        "bias_model_first_choice": wins, "favourite": favourite},
        tuple((f"Skew {s:g}: {favourite} in the text / in the model", f"{_percent(d)} / {_percent(m)}")
              for s, d, m in zip(settings, data_skew, model_skew)),
        (plot,), explanation, done < len(models), models=tuple(v.title for v, _ in models))


# --- 5. context ------------------------------------------------------------------------------------------


def context_numbers(without: list[Reply], with_fact: list[Reply]) -> tuple[float, float, float]:
    """(accuracy without the fact, with it, share of the wrong-without answers put right by it).

    Over the questions asked both ways (a stopped lesson may have asked fewer with the fact).
    """
    n = len(with_fact) if with_fact else len(without)
    return (share([bool(r.correct) for r in without[:n]]), share([bool(r.correct) for r in with_fact]),
            share([bool(b.correct) for a, b in zip(without, with_fact) if not a.correct]))


# Made-up countries the lesson writes notes about: it can only answer about them by reading.
CONTEXT_NEW_COUNTRIES = 10


@dataclass(frozen=True)
class ContextQuestions:
    """The context lesson's questions, each with the notes to put before it."""

    questions: list[WorldQuestion]  # the world's countries, then made-up ones
    notes: list[str]  # true notes for each question: its fact and one more about the same country
    counterfactual: list[WorldQuestion]  # each world question, its answer the value the notes claim
    counterfactual_notes: list[str]


def _notes(rng: random.Random, country: str, values: dict, asked: str) -> str:
    others = [r for r in COUNTRY_RELATIONS if r != asked]
    return "Notes: " + notes_text([Notes(country, values)], {country: [asked, rng.choice(others)]}, rng,
                                  _ENCYCLOPEDIA)


def context_questions(world: World, settings: WorldSettings) -> ContextQuestions:
    """Questions about the world's countries and about made-up ones, with true and counterfactual notes."""
    rng = random.Random(f"context-lesson:{settings.seed}")
    known = world_questions(world, settings, COUNTRY_RELATIONS)
    values = {c.name: country_values(c) for c in world.countries}
    avoid = names_taken(world, settings)
    made_up = [made_up_notes(rng, avoid) for _ in range(CONTEXT_NEW_COUNTRIES)]
    pools = {r: sorted({v[r] for v in values.values()} | {m.values[r] for m in made_up}) for r in COUNTRY_RELATIONS}
    new = []
    for m in made_up:
        for relation in COUNTRY_RELATIONS:
            answer = m.values[relation]
            new.append((WorldQuestion(_QUESTIONS[relation][0][0].format(s=m.country), answer, relation, "made up",
                                      None, None, tuple(v for v in pools[relation] if v != answer)), m.country, m.values))
    questions = list(known) + [q for q, _, _ in new]
    notes = [_notes(rng, q.fact.subject, values[q.fact.subject], q.relation) for q in known]
    notes += [_notes(rng, country, vals, q.relation) for q, country, vals in new]
    counterfactual, counterfactual_notes = [], []
    for q in known:
        other = rng.choice([v for v in pools[q.relation] if v != q.answer])
        counterfactual.append(replace(q, answer=other, distractors=tuple(v for v in pools[q.relation] if v != other)))
        counterfactual_notes.append(_notes(rng, q.fact.subject, {**values[q.fact.subject], q.relation: other},
                                           q.relation))
    return ContextQuestions(questions, notes, counterfactual, counterfactual_notes)


def context(model: TrainedModel, name: str, control: RunControl):
    settings, _ = world_of(model)
    asked = context_questions(generate_world(settings), settings)
    questions = asked.questions
    check_readable(name, model, [q.question for q in questions] + asked.notes + asked.counterfactual_notes)
    pace = Pace(2 * len(questions) + len(asked.counterfactual))
    without = yield from ask(model, questions, control, pace, "Asking without notes…")
    with_fact = yield from ask(model, questions, control, pace, "Asking with true notes in the prompt…", asked.notes)
    followed = yield from ask(model, asked.counterfactual, control, pace,
                              "Asking with notes that say something else…", asked.counterfactual_notes)
    n = len(with_fact)
    acc_without, acc_with, fixed = context_numbers(without, with_fact)
    n_known = len(asked.counterfactual)
    new_without = share([bool(r.correct) for r in without[n_known:n]])
    new_with = share([bool(r.correct) for r in with_fact[n_known:]])
    follow = share([bool(r.correct) for r in followed])
    plot = PlotData("The same questions without notes, with true notes, and with notes that say otherwise", "",
                    "share of answers",
                    (Series("share of answers", (0, 1, 2), (acc_without, acc_with, follow)),),
                    ("right without notes", "right with\ntrue notes", "following notes\nthat say otherwise"),
                    y_range=(0.0, 1.0))
    helped = math.isfinite(acc_with) and math.isfinite(acc_without) and acc_with >= acc_without + 0.05
    explanation = (
        f"Without notes, “{name}” answered {_percent(acc_without)} right (about countries it never read of: "
        f"{_percent(new_without)}); with the fact written in notes before the question, {_percent(acc_with)} "
        f"(never read of: {_percent(new_with)}). When the notes said something other than its text, it "
        f"followed the notes {_percent(follow)} of the time. "
        + ("A model can use what it reads in its prompt, which is why tools that first look things up and paste "
           "them into the prompt answer more reliably than the model alone; it also believes whatever the prompt "
           "says." if helped else
           "This model hardly used the notes: reading an answer off the prompt is a skill of its own, which a "
           "model learns only from text that rewards reading (notes followed by questions on them) and enough "
           "training. The lessons' reader model was trained for it."))
    return LessonResult("context", lesson("context").title, {
        "accuracy_without_context": acc_without, "accuracy_with_context": acc_with,
        "accuracy_new_without_context": new_without, "accuracy_new_with_context": new_with,
        "counterfactual_followed": follow, "wrong_without_fixed_by_context": fixed,
        "answers": len(without) + len(with_fact) + len(followed)},
        (("Right without notes", _percent(acc_without)), ("Right with true notes", _percent(acc_with)),
         ("About countries it never read of", f"{_percent(new_without)} → {_percent(new_with)}"),
         ("Followed notes that said otherwise", _percent(follow)),
         ("Wrong answers the notes put right", _percent(fixed))),
        (plot,), explanation, len(followed) < n_known, models=(name,))


# --- 6. different models ----------------------------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    return a.strip().rstrip(".").lower() == b.strip().rstrip(".").lower()


AGREEMENT_KINDS = ("both right", "both wrong,\nthe same answer", "both wrong,\ndifferent answers", "only one right")


def agreement_outcomes(a: list[Reply], b: list[Reply]) -> tuple[Counter, float]:
    """How two models' replies to the same questions compare (``AGREEMENT_KINDS`` → count), and the
    share where they gave the same answer: both right, or the same wrong answer (case and final stop ignored)."""
    counts: Counter = Counter()
    for ra, rb in zip(a, b):
        if ra.correct and rb.correct:
            counts[AGREEMENT_KINDS[0]] += 1
        elif not ra.correct and not rb.correct:
            counts[AGREEMENT_KINDS[1] if _same(ra.text, rb.text) else AGREEMENT_KINDS[2]] += 1
        else:
            counts[AGREEMENT_KINDS[3]] += 1
    n = sum(counts.values())
    return counts, ((counts[AGREEMENT_KINDS[0]] + counts[AGREEMENT_KINDS[1]]) / n if n else math.nan)


def agreement(first: TrainedModel, second: TrainedModel, control: RunControl):
    settings = lm.BASE.world
    world = generate_world(settings)
    questions = world_questions(world, settings)
    pace = Pace(2 * len(questions))
    a = yield from ask(first, questions, control, pace, "Asking the first model…")
    b = yield from ask(second, questions, control, pace, "Asking the model from another seed…")
    kinds = AGREEMENT_KINDS
    counts, agree = agreement_outcomes(a, b)
    n = sum(counts.values())
    examples = [(q.question, f"“{ra.text}” / “{rb.text}”") for q, ra, rb in zip(questions, a, b)
                if not (ra.correct and rb.correct) and not _same(ra.text, rb.text)][:3]
    xs = tuple(range(len(kinds)))
    plot = PlotData("The same questions, two models", "", "share of questions",
                    (Series("share of questions", xs, tuple(counts[k] / n if n else math.nan for k in kinds)),),
                    kinds, y_range=(0.0, 1.0))
    acc_a, acc_b = share([bool(r.correct) for r in a[:n]]), share([bool(r.correct) for r in b[:n]])
    explanation = (
        f"The two models gave the same answer to {_percent(agree)} of the questions ({_percent(acc_a)} and "
        f"{_percent(acc_b)} right). Where both learned a fact they agree; where neither did, each guesses in its own "
        "way, because the random starting point and the order of the text shape what a model makes up. "
        "Asking two models and comparing is a cheap way to find answers that are guesses.")
    return LessonResult("agreement", lesson("agreement").title, {
        "agreement_between_models": agree, "accuracy_first": acc_a, "accuracy_second": acc_b,
        "outcomes": {k.replace("\n", " "): counts[k] for k in kinds}, "answers": len(a) + len(b)},
        (("Same answer", _percent(agree)), ("Right: first / second model", f"{_percent(acc_a)} / {_percent(acc_b)}"))
        + tuple(examples), (plot,), explanation, n < len(questions), models=(lm.BASE.title, lm.SECOND_SEED.title))


# --- 7. scale and cost ------------------------------------------------------------------------------------


def training_flops(model_config: ModelConfig, train_config: TrainConfig, steps: int) -> tuple[float, int, int]:
    """(FLOPs ≈ 6 × parameters × tokens, parameters, tokens) of ``steps`` steps of this training."""
    parameters = param_count(model_config)
    tokens = int(steps) * train_config.batch_size * model_config.context_length
    return 6.0 * parameters * tokens, parameters, tokens


def scale(model: TrainedModel | None, name: str, flops_per_second: float | None = None) -> LessonResult:
    """This model's training compute and time here, beside the published figures (no model: the lessons' recipe)."""
    if flops_per_second is None:
        from engine.machine_speed import measured_training_flops

        flops_per_second = measured_training_flops()
    if model is None:
        cfg = replace(lm.LESSON_MODEL, vocab_size=lm.LESSON_TOKENIZER.vocab_size)
        train, steps, name = lm.LESSON_TRAIN, lm.LESSON_TRAIN.total_steps, lm.BASE.title
    else:
        cfg, train, steps = model.model_config, model.train_config, model.step
    flops, parameters, tokens = training_flops(cfg, train, steps)
    seconds = flops / max(flops_per_second, 1.0)
    names = (name,) + tuple(p[0] for p in PUBLISHED_COMPUTE)
    values = (flops,) + tuple(p[1] for p in PUBLISHED_COMPUTE)
    plot = PlotData("Training compute (log scale: each step up is ten times more)", "",
                    "operations",
                    (Series("training compute", tuple(range(len(values))), values),),
                    tuple(n.replace(" (", "\n(") for n in names), log_y=True)
    gpt3 = PUBLISHED_COMPUTE[0][1]
    years_here = gpt3 / max(flops_per_second, 1.0) / (365.25 * 24 * 3600)
    explanation = (
        f"Training “{name}” took about {_sci(flops)} operations (6 × {parameters:,} parameters × {tokens:,} tokens): "
        f"about {_duration(seconds)} on this computer. GPT-3 took {_in_words(gpt3 / flops)} times as much; on this "
        f"computer that would take about {years_here:,.0f} years, which is why frontier models train on thousands "
        "of special chips for months.")
    figures = ((f"“{name}”", f"{_sci(flops)} operations, about {_duration(seconds)} here"),) + tuple(
        (label, f"{_sci(value)} operations ({source})") for label, value, source in PUBLISHED_COMPUTE)
    return LessonResult("scale", lesson("scale").title, {
        "flops_this_run": flops, "parameters": parameters, "tokens": tokens, "seconds_this_machine": seconds,
        "flops_per_second": flops_per_second, "published": {p[0]: p[1] for p in PUBLISHED_COMPUTE},
        "gpt3_years_this_machine": years_here}, figures, (plot,), explanation, models=(name,))


def _sci(x: float) -> str:
    """1.1 × 10¹², as on a printed page."""
    exponent = math.floor(math.log10(x)) if x > 0 else 0
    return f"{x / 10 ** exponent:.2g} × 10" + str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _in_words(x: float) -> str:
    """A big number as people say it: '300 billion', '4 million'."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if x >= size:
            return f"{x / size:,.0f} {word}"
    return f"{x:,.0f}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} seconds"
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.0f} days"
