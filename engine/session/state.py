"""Each stage's state, immutable and Qt-free, and the session schema: how they become a session's JSON.

One class per stage holds everything that stage hands on or shows: its settings, its models, its
tables. A tab offers ``state()`` (what it shows now, as one of these) and ``apply(state)`` (show it);
``SessionState`` is all five, plus the stage in front. This module is the only place that knows the
layout of a session's ``tabs.json``, ``curation.json``, ``metrics.json``, ``seeds.json`` and its vote and
rating rows (``engine.session.archive`` stores those entries without interpreting them):

- ``data``         ``{"source": {kind, value, encoding, text_field, world}}`` (absent: nothing loaded);
  the curation settings are ``curation.json``;
- ``pretraining``  ``{model, corpus, tokenizer, model_config, train_config[, interrupted_at_step]}``;
- ``instruction``, ``preference``  ``{rows, base, tuned, method, steps[, comparison][, interrupted_at_step]}``,
  and for preference ``beta, nll_weight, anchor_weight, both_bad, held_out``;
- ``evaluation``   ``{opened: [{name, origin, checkpoint}], unticked, results, question_set}``; the
  ratings are ``ratings.jsonl``, the blind order's seed ``seeds["rating-shuffle"]``;
- ``window``       ``{stage}``.

A model is named by its checkpoint in the session; a model used by two stages (Pretraining's model is
Instruction tuning's base) is stored once, under the first name it gets. A run's model autosaved while
the run still went is named ``<stage>-interrupted-at-step-N``.

Reading (``SessionState.from_contents``) checks every field's type and range and raises a
``SessionError`` in words ("The session's training settings are damaged, so it was not opened: …")
before any tab changes; it runs on a worker thread. Fields missing from an older session take their
defaults, so every session saved since the format began opens unchanged
(tests/fixtures/saved_by_6fd2046.tesession, assets/example_session.tesession).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field

from engine.config import ModelConfig, TrainConfig
from engine.data.curation import CurationSettings
from engine.data.sources import KINDS, SourceRequest
from engine.errors import ConfigError, PlainError, SessionError
from engine.evaluation.benchmark import ComparedRow, GradedAnswer, Rating, load_ratings, save_ratings
from engine.events import PreferenceMetrics
from engine.session.archive import SessionContents
from engine.tokenizer import TokenizerSpec
from engine.trained_model import TrainedModel
from engine.data.world import WorldSettings

INTERRUPTED = "-interrupted-at-step-"  # a run's model autosaved mid-run: "<stage>-interrupted-at-step-N"
INSTRUCTION_COLUMNS = ("prompt", "completion")
PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected", "kind")
VOTE_KIND = "your vote"  # the kind of a preference row the learner voted for
# Where a session's text comes from, when it is a file or folder on this computer (not the app's own text).
PATH_KINDS = {"file": "the text file", "folder": "the folder", "jsonl": "the JSONL file"}


# --- checking plain JSON ------------------------------------------------------------------------------


def damaged(where: str) -> SessionError:
    return SessionError(f"The session's {where} are damaged, so it was not opened.",
                        "Your current work is unchanged. Open another copy, or the autosaved session.")


def config_from_json(cls, data, where: str):
    """``cls(**data)`` for a frozen config, checking each field's type against its default's, and its range."""
    if not isinstance(data, dict):
        raise damaged(where)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue  # saved by a version without it: the default
        value, default = data[f.name], f.default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            value = float(value) if ok else value
        else:
            ok = value is None or isinstance(value, (str, int, float, list))
        if not ok:
            raise damaged(where)
        values[f.name] = value
    try:
        config = cls(**values)
        if hasattr(config, "validate"):
            config.validate()
    except ConfigError as err:  # a setting outside its range (engine.config.RANGES): refused, never clamped
        raise SessionError(f"The session's {where} are damaged, so it was not opened: {err.message}",
                           "Your current work is unchanged. Open another copy, or the autosaved session.") from err
    except (TypeError, ValueError) as err:
        raise damaged(where) from err
    return config


def _text(value, where: str, optional: bool = False) -> str | None:
    if optional and value is None:
        return None
    if not isinstance(value, str):
        raise damaged(where)
    return value


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _rows(data, columns: tuple[str, ...], where: str) -> tuple[dict, ...]:
    """A pairs table's rows: objects of text, one key per column."""
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise damaged(where)
    rows = tuple({key: r.get(key, "") for key in columns} for r in data)
    if not all(isinstance(v, str) for r in rows for v in r.values()):
        raise damaged(where)
    return rows


def _model(name, checkpoints: dict, where: str) -> TrainedModel | None:
    if name is None:
        return None
    if not isinstance(name, str) or name not in checkpoints:
        raise damaged(where)
    return checkpoints[name]


def _interrupted_at(state: dict, model_key: str, where: str) -> int | None:
    """A tab's ``interrupted_at_step``: a whole step ≥ 0, and only beside the model it describes."""
    step = state.get("interrupted_at_step")
    if step is not None and not (_whole(step) and step >= 0 and state.get(model_key) is not None):
        raise damaged(where)
    return step


class _Store:
    """Names models for a session's checkpoints, each model once (a stage's result is the next one's base)."""

    def __init__(self):
        self.checkpoints: dict[str, TrainedModel] = {}

    def __call__(self, model: TrainedModel | None, name: str) -> str | None:
        if model is None:
            return None
        for known, m in self.checkpoints.items():
            if m is model:
                return known
        self.checkpoints[name] = model
        return name


# --- Data ---------------------------------------------------------------------------------------------


def request_to_json(request: SourceRequest) -> dict:
    return {"kind": request.kind, "value": request.value, "encoding": request.encoding,
            "text_field": request.text_field,
            "world": None if request.world is None else dataclasses.asdict(request.world)}


def request_from_json(data) -> SourceRequest:
    where = "data settings"
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        raise damaged(where)
    world = data.get("world")
    return SourceRequest(data["kind"], _text(data.get("value", ""), where),
                         None if world is None else config_from_json(WorldSettings, world, "world settings"),
                         _text(data.get("encoding"), where, optional=True), _text(data.get("text_field", "text"), where))


def curation_to_json(settings: CurationSettings) -> dict:
    return {"cutoff_year": settings.cutoff_year, "topics": None if settings.topics is None else sorted(settings.topics),
            "mix": [[source, weight] for source, weight in settings.mix], "drop_duplicates": settings.drop_duplicates,
            "drop_junk": settings.drop_junk, "seed": settings.seed}


def curation_from_json(data: dict) -> CurationSettings:
    where = "curation settings"
    try:
        cutoff, topics, mix = data.get("cutoff_year"), data.get("topics"), data.get("mix", [])
        if not (cutoff is None or _whole(cutoff)):
            raise TypeError("cutoff")
        if topics is not None and not all(isinstance(t, str) for t in topics):
            raise TypeError("topics")
        pairs = tuple((str(source), float(weight)) for source, weight in mix
                      if isinstance(source, str) and isinstance(weight, (int, float)) and not isinstance(weight, bool))
        if len(pairs) != len(mix) or not isinstance(data.get("drop_duplicates", False), bool) \
                or not isinstance(data.get("drop_junk", False), bool) or isinstance(data.get("seed", 0), bool):
            raise TypeError("mix or flags")
        settings = CurationSettings(cutoff, None if topics is None else frozenset(topics), pairs,
                                    data.get("drop_duplicates", False), data.get("drop_junk", False),
                                    int(data.get("seed", 0)))
        settings.validate()
    except (TypeError, ValueError, ConfigError) as err:
        raise damaged(where) from err
    return settings


@dataclass(frozen=True)
class DataStageState:
    """The Data stage in a session: what was loaded (None: nothing, or leave the tab as it is) and its curation.

    ``hand_on``: Pretraining trains on the curated text (restoring then hands it on, as curating does).
    """

    request: SourceRequest | None = None
    curation: CurationSettings = CurationSettings()
    hand_on: bool = True

    def to_json(self) -> dict:
        return {} if self.request is None else {"source": request_to_json(self.request)}


# --- Pretraining --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PretrainingState:
    """The Pretraining stage: its model (with its loss curve), the text, the tokenizer and the settings."""

    model: TrainedModel | None = None
    corpus: str = "curated"  # "curated", "bundled:<key>" or "file:<path>"
    spec: TokenizerSpec | None = None  # None: leave the tab's as it is
    model_config: ModelConfig | None = None
    train_config: TrainConfig | None = None
    interrupted_at_step: int | None = None  # the model is a run's, autosaved mid-run at this step

    def to_json(self, store) -> dict:
        name = "pretraining" if self.interrupted_at_step is None else f"pretraining{INTERRUPTED}{self.interrupted_at_step}"
        state = {"model": store(self.model, name), "corpus": self.corpus,
                 "tokenizer": None if self.spec is None else dataclasses.asdict(self.spec),
                 "model_config": None if self.model_config is None else dataclasses.asdict(self.model_config),
                 "train_config": None if self.train_config is None else dataclasses.asdict(self.train_config)}
        if self.interrupted_at_step is not None:
            state["interrupted_at_step"] = int(self.interrupted_at_step)
        return state

    @classmethod
    def from_json(cls, state, checkpoints: dict) -> PretrainingState:
        where = "pretraining settings"
        if not isinstance(state, dict):
            raise damaged(where)
        spec = None
        if state.get("tokenizer") is not None:
            tokenizer = state["tokenizer"]
            if not isinstance(tokenizer, dict) or tokenizer.get("kind") not in ("char", "bpe"):
                raise damaged(where)
            spec = config_from_json(TokenizerSpec, tokenizer, "tokenizer settings")
        model_config, train_config = state.get("model_config"), state.get("train_config")
        return cls(model=_model(state.get("model"), checkpoints, where),
                   corpus=_text(state.get("corpus", "curated"), where), spec=spec,
                   model_config=None if model_config is None else
                   config_from_json(ModelConfig, model_config, "model size settings"),
                   train_config=None if train_config is None else
                   config_from_json(TrainConfig, train_config, "training settings"),
                   interrupted_at_step=_interrupted_at(state, "model", where))


# --- Instruction and Preference tuning ----------------------------------------------------------------


def _comparison_from_json(data, where: str) -> tuple[tuple[ComparedRow, ...], str] | None:
    if data is None:
        return None
    try:
        rows = tuple(ComparedRow(str(r["prompt"]), str(r["hoped"]), str(r["before"]), r["before_good"], str(r["after"]),
                                 r["after_good"]) for r in data["rows"])
        summary = _text(data["summary"], where)
    except (TypeError, KeyError) as err:
        raise damaged(where) from err
    if not all(isinstance(g, (bool, type(None))) for r in rows for g in (r.before_good, r.after_good)):
        raise damaged(where)
    return rows, summary


@dataclass(frozen=True)
class TuningState:
    """A tuning stage: its pairs table, the model it starts from and the one it tuned, and the run's settings."""

    KEY = "instruction"
    COLUMNS = INSTRUCTION_COLUMNS

    rows: tuple[dict, ...] = ()
    base: TrainedModel | None = None
    tuned: TrainedModel | None = None
    method: str = "full"  # "full" or "lora"
    steps: int = 1
    comparison: tuple[tuple[ComparedRow, ...], str] | None = None  # the before-and-after table and its summary
    interrupted_at_step: int | None = None  # the tuned model is a run's, autosaved mid-run at this step

    def to_json(self, store) -> dict:
        key = self.KEY
        name = key if self.interrupted_at_step is None else f"{key}{INTERRUPTED}{self.interrupted_at_step}"
        state = {"rows": [dict(r) for r in self.rows], "base": store(self.base, f"{key}-base"),
                 "tuned": store(self.tuned, name), "method": self.method, "steps": int(self.steps)}
        if self.comparison is not None:
            rows, summary = self.comparison
            state["comparison"] = {"rows": [dataclasses.asdict(r) for r in rows], "summary": summary}
        if self.interrupted_at_step is not None:
            state["interrupted_at_step"] = int(self.interrupted_at_step)
        return state

    @classmethod
    def _fields_from_json(cls, state, checkpoints: dict, where: str) -> dict:
        if not isinstance(state, dict):
            raise damaged(where)
        method, steps = state.get("method", "full"), state.get("steps", 1)
        if method not in ("full", "lora") or not _whole(steps) or steps < 1:
            raise damaged(where)
        return dict(rows=_rows(state.get("rows", []), cls.COLUMNS, where),
                    base=_model(state.get("base"), checkpoints, where),
                    tuned=_model(state.get("tuned"), checkpoints, where), method=method, steps=steps,
                    comparison=_comparison_from_json(state.get("comparison"), where),
                    interrupted_at_step=_interrupted_at(state, "tuned", where))

    @classmethod
    def from_json(cls, state, checkpoints: dict):
        return cls(**cls._fields_from_json(state, checkpoints, "instruction tuning settings"))


@dataclass(frozen=True)
class InstructionState(TuningState):
    """The Instruction tuning stage (its rows: prompt and completion)."""


@dataclass(frozen=True)
class PreferenceState(TuningState):
    """The Preference tuning stage: a tuning stage with DPO's settings, its "both bad" count and held-out curve.

    A DPO setting that is None was not in the session (an older one): the tab keeps its own.
    """

    KEY = "preference"
    COLUMNS = PREFERENCE_COLUMNS

    beta: float | None = None
    nll_weight: float | None = None
    anchor_weight: float | None = None
    both_bad: int = 0
    held_out: tuple[PreferenceMetrics, ...] = ()  # the held-out reward margin and accuracy, step by step

    @property
    def votes(self) -> tuple[dict, ...]:
        return tuple(r for r in self.rows if r.get("kind") == VOTE_KIND)

    def held_out_json(self) -> dict:
        return {"steps": [m.step for m in self.held_out], "margins": [m.reward_margin for m in self.held_out],
                "accuracies": [m.accuracy for m in self.held_out]}

    def to_json(self, store) -> dict:
        state = super().to_json(store)
        for key in ("beta", "nll_weight", "anchor_weight"):
            if getattr(self, key) is not None:
                state[key] = getattr(self, key)
        state.update(both_bad=self.both_bad, held_out=self.held_out_json())
        return state

    @classmethod
    def from_json(cls, state, checkpoints: dict):
        where = "preference tuning settings"
        values = cls._fields_from_json(state, checkpoints, where)
        extra = {k: state[k] for k in ("beta", "nll_weight", "anchor_weight", "both_bad") if k in state}
        if not all(_number(v) for v in extra.values()):
            raise damaged(where)
        held_out = ()
        if state.get("held_out") is not None:
            metrics = state["held_out"]
            try:
                held_out = tuple(PreferenceMetrics(int(s), float(m), float(a)) for s, m, a in
                                 zip(metrics["steps"], metrics["margins"], metrics["accuracies"], strict=True))
            except (TypeError, KeyError, ValueError) as err:
                raise damaged(where) from err
        return cls(**values, beta=extra.get("beta"), nll_weight=extra.get("nll_weight"),
                   anchor_weight=extra.get("anchor_weight"), both_bad=int(extra.get("both_bad", 0)), held_out=held_out)


# --- Evaluation ---------------------------------------------------------------------------------------


def answer_to_json(answer: GradedAnswer) -> dict:
    row = dataclasses.asdict(answer)
    row["confidence"] = None if math.isnan(answer.confidence) else answer.confidence  # JSON has no NaN
    return row


def answer_from_json(row) -> GradedAnswer:
    if not isinstance(row, dict):
        raise damaged("benchmark answers")
    confidence = row.get("confidence")
    texts = [row.get(k) for k in ("model", "question", "expected", "topic", "answer", "grade")]
    if not (all(isinstance(t, str) for t in texts) and isinstance(row.get("in_format"), bool)
            and (confidence is None or (isinstance(confidence, (int, float)) and not isinstance(confidence, bool)))):
        raise damaged("benchmark answers")
    return GradedAnswer(*texts, row["in_format"], float("nan") if confidence is None else float(confidence))


def rating_from_json(row) -> Rating:
    score = row.get("score") if isinstance(row, dict) else None
    if not (isinstance(row, dict) and all(isinstance(row.get(k), str) for k in ("prompt", "model", "answer"))
            and _whole(score) and 1 <= score <= 5):
        raise damaged("ratings")
    return Rating(row["prompt"], row["model"], row["answer"], score)


@dataclass(frozen=True)
class EvaluationState:
    """The Evaluation stage: models opened from files, those left out, the graded answers, the ratings."""

    opened: tuple[tuple[str, str, TrainedModel], ...] = ()  # (name on the shelf, file or "shipped", model)
    unticked: tuple[str, ...] = ()  # models left out of the test
    results: tuple[GradedAnswer, ...] = ()
    question_set: str | None = "held_out"  # "held_out", or None for every question
    ratings: tuple[Rating, ...] = ()  # the blind ratings (the ratings file's; a session's are added to it)
    rating_seed: int | None = None  # the blind order's seed (kept with the session; a tab keeps its own)

    def to_json(self, store) -> dict:
        opened = [{"name": name, "origin": origin, "checkpoint": store(model, f"opened-{i + 1}")}
                  for i, (name, origin, model) in enumerate(self.opened)]
        return {"opened": opened, "unticked": list(self.unticked),
                "results": [answer_to_json(a) for a in self.results], "question_set": self.question_set}

    @classmethod
    def from_json(cls, state, checkpoints: dict, ratings=()) -> EvaluationState:
        where = "evaluation settings"
        if not isinstance(state, dict) or not isinstance(state.get("opened", []), list):
            raise damaged(where)
        opened = []
        for entry in state.get("opened", []):
            if not isinstance(entry, dict):
                raise damaged(where)
            opened.append((_text(entry.get("name"), where), _text(entry.get("origin"), where),
                           _model(entry.get("checkpoint"), checkpoints, where)))
        unticked = state.get("unticked", [])
        question_set = state.get("question_set", "held_out")
        results = state.get("results", [])
        if not (isinstance(unticked, list) and all(isinstance(n, str) for n in unticked)
                and question_set in ("held_out", None) and isinstance(results, list)):
            raise damaged(where)
        return cls(tuple(opened), tuple(unticked), tuple(answer_from_json(r) for r in results), question_set,
                   tuple(rating_from_json(r) for r in ratings))


# --- the whole session --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionState:
    """Every stage's state and the stage in front: what a session file holds, typed and checked."""

    stage: str = "data"  # the tab in front
    data: DataStageState = DataStageState()
    pretraining: PretrainingState = PretrainingState()
    instruction: InstructionState = InstructionState()
    preference: PreferenceState = PreferenceState()
    evaluation: EvaluationState = EvaluationState()
    ratings_note: str = field(default="", compare=False)  # a problem adding the ratings to the ratings file

    def to_contents(self, shipped: dict[str, str] | None = None) -> SessionContents:
        """The session's entries (plain JSON and models). ``shipped``: checkpoint name → shipped model it is."""
        store = _Store()
        tabs, metrics, seeds, curation = {}, {}, {}, {}
        if self.data.request is not None:
            tabs["data"] = self.data.to_json()
            curation = curation_to_json(self.data.curation)
            seeds["curation"] = self.data.curation.seed
            if self.data.request.world is not None:
                seeds["world"] = self.data.request.world.seed
        tabs["pretraining"] = self.pretraining.to_json(store)
        if self.pretraining.train_config is not None:
            seeds["pretraining"] = self.pretraining.train_config.seed
        if self.pretraining.model is not None:
            metrics["pretraining"] = {"loss": self.pretraining.model.history.to_json()}
        for part in (self.instruction, self.preference):
            tabs[part.KEY] = part.to_json(store)
            if part.tuned is not None:
                metrics[part.KEY] = {"loss": part.tuned.history.to_json()}
        metrics["preference-held-out"] = self.preference.held_out_json()
        tabs["evaluation"] = self.evaluation.to_json(store)
        if self.evaluation.rating_seed is not None:
            seeds["rating-shuffle"] = self.evaluation.rating_seed
        tabs["window"] = {"stage": self.stage}
        return SessionContents(curation=curation, checkpoints=store.checkpoints, metrics=metrics,
                               votes=self.preference.votes,
                               ratings=tuple(dataclasses.asdict(r) for r in self.evaluation.ratings),
                               seeds=seeds, tabs=tabs, shipped=dict(shipped or {}))

    @classmethod
    def from_contents(cls, contents: SessionContents) -> SessionState:
        """Check and type every part of a session the tabs will use (worker thread); raises SessionError."""
        tabs, models = contents.tabs, contents.checkpoints
        data = tabs.get("data", {})
        pretraining = PretrainingState.from_json(tabs.get("pretraining", {}), models)
        window = tabs.get("window", {})
        return cls(
            stage=window.get("stage", "data") if isinstance(window.get("stage"), str) else "data",
            data=DataStageState(request_from_json(data["source"]) if data.get("source") is not None else None,
                                curation_from_json(contents.curation), hand_on=pretraining.corpus == "curated"),
            pretraining=pretraining,
            instruction=InstructionState.from_json(tabs.get("instruction", {}), models),
            preference=PreferenceState.from_json(tabs.get("preference", {}), models),
            evaluation=dataclasses.replace(EvaluationState.from_json(tabs.get("evaluation", {}), models,
                                                                     contents.ratings),
                                           rating_seed=contents.seeds.get("rating-shuffle")),
        )

    def interrupted(self) -> list[tuple[str, int, TrainedModel | None]]:
        """The runs still going when this was saved: (stage in words, step, its model), in the stages' order."""
        runs = (("Pretraining", self.pretraining.interrupted_at_step, self.pretraining.model),
                ("Instruction tuning", self.instruction.interrupted_at_step, self.instruction.tuned),
                ("Preference tuning", self.preference.interrupted_at_step, self.preference.tuned))
        return [run for run in runs if run[1] is not None]

    def files_named(self) -> list[tuple[str, str]]:
        """The files and folders on this computer that restoring this would read: (what, path), in words."""
        named = []
        request = self.data.request
        if request is not None and request.kind in PATH_KINDS:
            named.append((f"Data, {PATH_KINDS[request.kind]}", request.value))
        kind, _, value = self.pretraining.corpus.partition(":")
        if kind == "file":
            named.append(("Pretraining, the text file", value))
        return named

    def without_files(self) -> SessionState:
        """This, reading no file or folder: the Data tab and Pretraining's text stay as they are."""
        request = self.data.request
        data = dataclasses.replace(self.data, request=None) if request is not None and request.kind in PATH_KINDS \
            else self.data
        pretraining = self.pretraining
        if pretraining.corpus.startswith("file:"):  # "curated": leave Pretraining's text as it is
            pretraining = dataclasses.replace(pretraining, corpus="curated")
            data = dataclasses.replace(data, hand_on=True)
        return dataclasses.replace(self, data=data, pretraining=pretraining)


def add_ratings(ratings) -> str:
    """Add the session's ratings missing from the ratings file; a problem is returned in words, not raised."""
    if not ratings:
        return ""
    try:
        existing = load_ratings()
        missing = Counter(ratings) - Counter(existing)
        if missing:
            save_ratings(existing + list(missing.elements()))
    except PlainError as err:
        return f"The session's ratings were not added to your ratings file: {err}"
    return ""


def open_session_state(path) -> SessionState:
    """Worker thread: open a session file, check and type it; only then add its ratings (the one file written)."""
    from engine.session.archive import open_session

    state = SessionState.from_contents(open_session(path))
    return dataclasses.replace(state, ratings_note=add_ratings(list(state.evaluation.ratings)))
