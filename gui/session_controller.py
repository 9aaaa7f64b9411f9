"""Sessions in the app: File → Save session… / Open session…, the autosave, and the offer to restore it.

A session (``engine.session``) is one ``.tesession`` file holding every tab's work. This module
reads the tabs' public state into a ``SessionContents`` and puts a reopened one back:

- Data: what was loaded (``tabs["data"]``) and its curation settings (``curation``); the undo
  history starts afresh. A session names a file or folder it loaded (Data's source, Pretraining's text
  file) by its path; opening one asks "Read files named by this session?" before reading any of them,
  since a session can come from anyone (the autosave, the app's own, does not ask). "Open without
  them" restores everything else and leaves those two tabs' text as it was.
- Pretraining: the current model (checkpoint ``pretraining``, its loss curve is its history), the
  corpus, tokenizer and model-size settings.
- Instruction and Preference tuning: the pairs table (votes included; ``votes`` holds them too),
  the model to start from and the tuned one, the method and steps, DPO's settings, the
  before-and-after table and the held-out margin/accuracy curve.
- Evaluation: models opened from files or shipped (the session's own come back through the
  stages), which are unticked, the graded answers, the question set; the blind ratings live in
  their own file, so a session carries them in ``ratings`` and opening one adds those missing there.

A model used by two tabs (Pretraining's model is Instruction tuning's base) is stored once.

Threads: collecting the state is cheap and happens on the GUI thread; turning models into bytes,
writing, reading and checking a file happen on ``BackgroundTask``s. Reading a session also turns
its JSON into typed settings on the worker (``_plan``), so a damaged file is refused before any tab
changes: the message bar says why and the current work stays as it was.

Autosave: a GUI-thread timer saves at most ``AUTOSAVE_INTERVAL_MS`` apart while something changed;
closing the window saves once more, after the tabs' runs have stopped (a stopped run keeps the model
trained so far). While a stage's run goes (pretraining, instruction tuning or DPO), each autosave
carries the newest model the run has vouched for (``TrainProgress.model_so_far``) as the checkpoint
``<stage>-interrupted-at-step-N`` (``pretraining-…``, ``instruction-…``, ``preference-…``), so an app
killed mid-run restores that model and its loss curve, and Continue training goes on from it (not for
LoRA, whose runs cannot be continued).
``greet_or_offer_restore`` is what ``gui.app.main`` calls at start-up: the welcome screen on a first
start, otherwise "Restore the session from 10:42?" when there is an autosave.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.config import ModelConfig, TrainConfig
from engine.curation import CurationSettings
from engine.data_sources import KINDS, SourceRequest
from engine.errors import ConfigError, PlainError, SessionError
from engine.evaluation import GradedAnswer, Rating, load_ratings, save_ratings
from engine.events import PreferenceMetrics
from engine.session import (
    SESSION_SUFFIX,
    SessionContents,
    autosave,
    discard_autosave,
    find_autosave,
    open_session,
    save_session,
)
from engine.tokenizer import TokenizerSpec
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, TrainedModel
from engine.user_paths import data_dir
from engine.world import WorldSettings
from gui.background import BackgroundTask
from gui.stages import STAGES
from gui.training_controller import plain_message
from gui.widgets.comparison_table import ComparedRow

log = logging.getLogger(__name__)

SESSION_FILTER = f"Training Explorer sessions (*{SESSION_SUFFIX})"
AUTOSAVE_INTERVAL_MS = 60_000  # a crash or a closed lid loses at most a minute of work
CLOSE_SAVE_TIMEOUT_S = 60.0  # the last autosave when the window closes (a few MB: well under a second)
NO_COMPARISON = "Tune a model to compare it with the one it started from."
# The autosaved checkpoint of a run still going: the name says what it is and where it was.
INTERRUPTED = "-interrupted-at-step-"
INTERRUPTED_PREFIX = f"pretraining{INTERRUPTED}"
# The stages whose runs are autosaved mid-run (their tab-state keys), and how a message names them.
RUN_STAGES = {"pretraining": "pretraining", "instruction": "instruction tuning", "preference": "preference tuning"}


def interrupted_step(checkpoint_names, stage: str = "pretraining") -> int | None:
    """The step of the interrupted run of ``stage`` a session holds (from its checkpoints' names), or None."""
    prefix = f"{stage}{INTERRUPTED}"
    for name in checkpoint_names:
        number = name[len(prefix):] if name.startswith(prefix) else ""
        if number.isdigit():
            return int(number)
    return None


def interrupted_runs(checkpoint_names) -> list[tuple[str, int]]:
    """Every interrupted run a session holds, in the stages' order: (its stage in words, its step)."""
    steps = ((words, interrupted_step(checkpoint_names, stage)) for stage, words in RUN_STAGES.items())
    return [(words, step) for words, step in steps if step is not None]


def _interrupted_in_words(runs: list[tuple[str, int]]) -> str:
    """ "the pretraining run that was still going (its model at step 10)", joined with "and"."""
    return " and ".join(f"the {words} run that was still going (its model at step {step:,})" for words, step in runs)


# --- plain JSON in, typed settings out (worker thread) ----------------------------------------------


def _damaged(where: str) -> SessionError:
    return SessionError(f"The session's {where} are damaged, so it was not opened.",
                        "Your current work is unchanged. Open another copy, or the autosaved session.")


def _dataclass_from(cls, data, where: str):
    """``cls(**data)`` for a frozen config, checking each field's type against its default's."""
    if not isinstance(data, dict):
        raise _damaged(where)
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
            raise _damaged(where)
        values[f.name] = value
    try:
        config = cls(**values)
        if hasattr(config, "validate"):
            config.validate()
    except ConfigError as err:  # a setting outside its range (engine.config.RANGES): refused, never clamped
        raise SessionError(f"The session's {where} are damaged, so it was not opened: {err.message}",
                           "Your current work is unchanged. Open another copy, or the autosaved session.") from err
    except (TypeError, ValueError) as err:
        raise _damaged(where) from err
    return config


def _text(value, where: str, optional: bool = False) -> str | None:
    if optional and value is None:
        return None
    if not isinstance(value, str):
        raise _damaged(where)
    return value


def _request_to_json(request: SourceRequest) -> dict:
    return {"kind": request.kind, "value": request.value, "encoding": request.encoding,
            "text_field": request.text_field,
            "world": None if request.world is None else dataclasses.asdict(request.world)}


def _request_from_json(data) -> SourceRequest:
    where = "data settings"
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        raise _damaged(where)
    world = data.get("world")
    return SourceRequest(data["kind"], _text(data.get("value", ""), where),
                         None if world is None else _dataclass_from(WorldSettings, world, "world settings"),
                         _text(data.get("encoding"), where, optional=True), _text(data.get("text_field", "text"), where))


def _curation_to_json(settings: CurationSettings) -> dict:
    return {"cutoff_year": settings.cutoff_year, "topics": None if settings.topics is None else sorted(settings.topics),
            "mix": [[source, weight] for source, weight in settings.mix], "drop_duplicates": settings.drop_duplicates,
            "drop_junk": settings.drop_junk, "seed": settings.seed}


def _curation_from_json(data: dict) -> CurationSettings:
    where = "curation settings"
    try:
        cutoff, topics, mix = data.get("cutoff_year"), data.get("topics"), data.get("mix", [])
        if not (cutoff is None or (isinstance(cutoff, int) and not isinstance(cutoff, bool))):
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
        raise _damaged(where) from err
    return settings


def _rows(data, columns: tuple[str, ...], where: str) -> list[dict]:
    """A pairs table's rows: objects of text, one key per column."""
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise _damaged(where)
    rows = [{key: r.get(key, "") for key in columns} for r in data]
    if not all(isinstance(v, str) for r in rows for v in r.values()):
        raise _damaged(where)
    return rows


def _model(name, checkpoints: dict, where: str) -> TrainedModel | None:
    if name is None:
        return None
    if not isinstance(name, str) or name not in checkpoints:
        raise _damaged(where)
    return checkpoints[name]


def _comparison_from_json(data, where: str) -> tuple[list[ComparedRow], str] | None:
    if data is None:
        return None
    try:
        rows = [ComparedRow(str(r["prompt"]), str(r["hoped"]), str(r["before"]), r["before_good"], str(r["after"]),
                            r["after_good"]) for r in data["rows"]]
        summary = _text(data["summary"], where)
    except (TypeError, KeyError) as err:
        raise _damaged(where) from err
    if not all(isinstance(g, (bool, type(None))) for r in rows for g in (r.before_good, r.after_good)):
        raise _damaged(where)
    return rows, summary


def _answer_to_json(answer: GradedAnswer) -> dict:
    row = dataclasses.asdict(answer)
    row["confidence"] = None if math.isnan(answer.confidence) else answer.confidence  # JSON has no NaN
    return row


def _answer_from_json(row) -> GradedAnswer:
    if not isinstance(row, dict):
        raise _damaged("benchmark answers")
    confidence = row.get("confidence")
    texts = [row.get(k) for k in ("model", "question", "expected", "topic", "answer", "grade")]
    if not (all(isinstance(t, str) for t in texts) and isinstance(row.get("in_format"), bool)
            and (confidence is None or (isinstance(confidence, (int, float)) and not isinstance(confidence, bool)))):
        raise _damaged("benchmark answers")
    return GradedAnswer(*texts, row["in_format"], float("nan") if confidence is None else float(confidence))


def _rating_from_json(row: dict) -> Rating:
    score = row.get("score")
    if not (all(isinstance(row.get(k), str) for k in ("prompt", "model", "answer"))
            and isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5):
        raise _damaged("ratings")
    return Rating(row["prompt"], row["model"], row["answer"], score)


@dataclass
class TuningPlan:
    """A tuning tab's part of a session, checked."""

    rows: list[dict]  # the pairs table
    base: TrainedModel | None  # the model to start from
    tuned: TrainedModel | None  # the model tuned from it
    method: str  # "full" or "lora"
    steps: int  # the Steps setting
    comparison: tuple[list[ComparedRow], str] | None  # the before-and-after table and its summary
    extra: dict = field(default_factory=dict)  # the stage's own settings (DPO's beta, …), checked
    interrupted_at_step: int | None = None  # the tuned model is a run's, autosaved mid-run at this step


@dataclass
class RestorePlan:
    """A whole session turned into typed values: applying it can no longer fail on bad data."""

    stage: str  # the tab that was in front
    request: SourceRequest | None  # the Data tab's text (None: leave the Data tab as it is)
    curation: CurationSettings
    corpus: str  # Pretraining's text: "curated", "bundled:<key>" or "file:<path>"
    spec: TokenizerSpec | None
    model_config: ModelConfig | None
    train_config: TrainConfig | None
    pretrained: TrainedModel | None
    instruction: TuningPlan
    preference: TuningPlan
    opened: list[tuple[str, str, TrainedModel]]  # Evaluation's models from files: (name, file, model)
    unticked: list[str]  # Evaluation's models left out of the test
    results: list[GradedAnswer]  # graded benchmark answers
    question_set: str | None  # "held_out", or None for every question
    ratings_note: str = ""  # a problem adding the session's ratings to the ratings file, in words
    interrupted_at_step: int | None = None  # Pretraining's model is a run's, autosaved mid-run at this step


def _tuning_plan(state, checkpoints, columns, where) -> TuningPlan:
    if not isinstance(state, dict):
        raise _damaged(where)
    method, steps = state.get("method", "full"), state.get("steps", 1)
    if method not in ("full", "lora") or not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise _damaged(where)
    extra = {k: state[k] for k in ("beta", "nll_weight", "anchor_weight", "both_bad") if k in state}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in extra.values()):
        raise _damaged(where)
    metrics = state.get("held_out")
    if metrics is not None:
        try:
            extra["held_out"] = [PreferenceMetrics(int(s), float(m), float(a)) for s, m, a in
                                 zip(metrics["steps"], metrics["margins"], metrics["accuracies"], strict=True)]
        except (TypeError, KeyError, ValueError) as err:
            raise _damaged(where) from err
    interrupted = _interrupted_at(state, "tuned", where)
    return TuningPlan(_rows(state.get("rows", []), columns, where), _model(state.get("base"), checkpoints, where),
                      _model(state.get("tuned"), checkpoints, where), method, steps,
                      _comparison_from_json(state.get("comparison"), where), extra, interrupted)


def _interrupted_at(state: dict, model_key: str, where: str) -> int | None:
    """A tab's ``interrupted_at_step``: a whole step ≥ 0, and only beside the model it describes."""
    step = state.get("interrupted_at_step")
    if step is not None and not (isinstance(step, int) and not isinstance(step, bool) and step >= 0
                                 and state.get(model_key) is not None):
        raise _damaged(where)
    return step


def _plan(contents: SessionContents) -> RestorePlan:
    """Check and type every part of a session the tabs will use (worker thread)."""
    tabs, models = contents.tabs, contents.checkpoints
    data, pre, ev = tabs.get("data", {}), tabs.get("pretraining", {}), tabs.get("evaluation", {})
    request = _request_from_json(data["source"]) if data.get("source") is not None else None
    spec = None
    if pre.get("tokenizer") is not None:
        tokenizer = pre["tokenizer"]
        if not isinstance(tokenizer, dict) or tokenizer.get("kind") not in ("char", "bpe"):
            raise _damaged("pretraining settings")
        spec = _dataclass_from(TokenizerSpec, tokenizer, "tokenizer settings")
    corpus = _text(pre.get("corpus", "curated"), "pretraining settings")
    interrupted = _interrupted_at(pre, "model", "pretraining settings")
    opened = []
    for entry in ev.get("opened", []):
        if not isinstance(entry, dict):
            raise _damaged("evaluation settings")
        opened.append((_text(entry.get("name"), "evaluation settings"), _text(entry.get("origin"), "evaluation settings"),
                       _model(entry.get("checkpoint"), models, "evaluation settings")))
    unticked = ev.get("unticked", [])
    question_set = ev.get("question_set", "held_out")
    if not (isinstance(unticked, list) and all(isinstance(n, str) for n in unticked)
            and question_set in ("held_out", None)):
        raise _damaged("evaluation settings")
    window = tabs.get("window", {})
    return RestorePlan(
        stage=window.get("stage", "data") if isinstance(window.get("stage"), str) else "data",
        request=request, curation=_curation_from_json(contents.curation), corpus=corpus, spec=spec,
        model_config=None if pre.get("model_config") is None else
        _dataclass_from(ModelConfig, pre["model_config"], "model size settings"),
        train_config=None if pre.get("train_config") is None else
        _dataclass_from(TrainConfig, pre["train_config"], "training settings"),
        pretrained=_model(pre.get("model"), models, "pretraining settings"),
        instruction=_tuning_plan(tabs.get("instruction", {}), models, ("prompt", "completion"),
                                 "instruction tuning settings"),
        preference=_tuning_plan(tabs.get("preference", {}), models, ("prompt", "chosen", "rejected", "kind"),
                                "preference tuning settings"),
        opened=opened, unticked=unticked, results=[_answer_from_json(r) for r in ev.get("results", [])],
        question_set=question_set, interrupted_at_step=interrupted,
    )


# Where a session's text comes from, when it is a file or folder on this computer (not the app's own text).
PATH_KINDS = {"file": "the text file", "folder": "the folder", "jsonl": "the JSONL file"}
READ_THEM, OPEN_WITHOUT_THEM = "Read them", "Open without them"
NOT_READ = ("The files it names were not read: the Data and Pretraining tabs keep the text they had "
            "(Load… in the Data tab reads a file you choose).")


def files_named(plan: RestorePlan) -> list[tuple[str, str]]:
    """The files and folders on this computer that restoring ``plan`` would read: (what, path), in words."""
    named = []
    if plan.request is not None and plan.request.kind in PATH_KINDS:
        named.append((f"Data, {PATH_KINDS[plan.request.kind]}", plan.request.value))
    kind, _, value = plan.corpus.partition(":")
    if kind == "file":
        named.append(("Pretraining, the text file", value))
    return named


def without_files(plan: RestorePlan) -> RestorePlan:
    """``plan`` reading no file or folder: the Data tab and Pretraining's text stay as they are."""
    request = None if plan.request is not None and plan.request.kind in PATH_KINDS else plan.request
    corpus = "curated" if plan.corpus.startswith("file:") else plan.corpus  # "curated": leave Pretraining's text
    return dataclasses.replace(plan, request=request, corpus=corpus)


def _printable(text: str) -> str:
    """A name from a file, safe to show on one line: no control characters, not endless."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= 200 else text[:200] + "…"


def _add_ratings(ratings: list[Rating]) -> str:
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


def _open_and_plan(path: str) -> RestorePlan:
    """Worker thread: open, check, type; only then add the ratings (the one file opening writes)."""
    contents = open_session(path)
    plan = _plan(contents)
    plan.ratings_note = _add_ratings([_rating_from_json(r) for r in contents.ratings])
    return plan


def _autosave_quietly(contents: SessionContents) -> Path | None:
    """The last autosave when the window closes: nobody is left to tell, so a problem goes to the log."""
    try:
        return autosave(contents)
    except Exception:
        log.exception("the autosave on closing failed")
        return None


# --- the controller (GUI thread) ----------------------------------------------------------------------


class SessionController(QObject):
    """Saves, opens and autosaves the window's session; every file operation on a worker thread."""

    saved = Signal(str)  # the path written by Save session…
    opened = Signal(str)  # the path whose session was restored into the tabs
    autosaved = Signal(str)  # the autosave path, after each autosave
    failed = Signal(str)  # a plain message (also shown in the front tab's message bar)

    def __init__(self, window, *, autosave_enabled: bool):
        super().__init__(window)
        self.window = window
        self.autosave_enabled = autosave_enabled  # False for screenshots and tests of other things
        self.changed_since_save = False
        self._save_task = BackgroundTask("saving a session", self)
        self._save_task.succeeded.connect(self._on_saved)
        self._save_task.failed.connect(lambda _tag, error: self._report(plain_message(error)))
        self.read_files_box: QMessageBox | None = None  # "Read files named by this session?", while it is open
        self._open_task = BackgroundTask("opening a session", self)
        self._open_task.succeeded.connect(self._on_opened)
        self._open_task.failed.connect(lambda _tag, error: self._report(plain_message(error)))
        self._autosave_task = BackgroundTask("autosaving the session", self)
        self._autosave_task.succeeded.connect(lambda _tag, path: self.autosaved.emit(str(path)))
        self._autosave_task.failed.connect(self._on_autosave_failed)
        self.timer = QTimer(self)
        self.timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.timer.timeout.connect(self.autosave_now)
        self._watch_for_changes()
        if autosave_enabled:
            self.timer.start()

    def _watch_for_changes(self) -> None:
        """The user's work changed: a run, a model, the data, a table, a result. (Not start-up's own loads.)"""
        w = self.window
        signals = [w.data_tab.undo_stack.indexChanged, w.pretraining_tab.corpus_panel.corpus_combo.activated,
                   w.model_shelf.changed, w.evaluation_tab.rating_panel.rated, w.evaluation_tab.runner.running_changed]
        for tab in (w.pretraining_tab, w.instruction_tab, w.preference_tab):
            # A run that starts changes the model soon; while it goes, the model so far is saved.
            signals += [tab.controller.running_changed, tab.controller.model_changed]
            tab.controller.progress.connect(self._on_run_progress)
        for tab in (w.instruction_tab, w.preference_tab):
            signals += [tab.model_changed, tab.pairs.changed]
        for signal in signals:
            signal.connect(self._mark_changed)

    def _mark_changed(self, *_args) -> None:
        self.changed_since_save = True

    def _on_run_progress(self, event) -> None:
        if event.model_so_far is not None:  # the run vouched for a newer model: the next autosave keeps it
            self.changed_since_save = True

    @property
    def busy(self) -> bool:
        return self._save_task.busy or self._open_task.busy or self._autosave_task.busy

    # --- collecting ----------------------------------------------------------------------------

    def contents(self) -> SessionContents:
        """Every tab's state now, as plain JSON and models (GUI thread; cheap: models are shared, not copied)."""
        w = self.window
        checkpoints: dict[str, TrainedModel] = {}

        def stored(model, name: str) -> str | None:
            if model is None:
                return None
            for known, m in checkpoints.items():
                if m is model:  # one model, two tabs (a stage's result is the next stage's base)
                    return known
            checkpoints[name] = model
            return name

        tabs, metrics, seeds = {}, {}, {}
        data = w.data_tab
        curation = {}
        if data.state is not None:
            tabs["data"] = {"source": _request_to_json(data.state.source.request)}
            curation = _curation_to_json(data.state.settings)
            seeds["curation"] = data.state.settings.seed
            if data.state.source.request.world is not None:
                seeds["world"] = data.state.source.request.world.seed

        pre = w.pretraining_tab
        panel = pre.corpus_panel
        # Mid-run: the newest model the run vouched for (the run's own once it has ended, e.g. when
        # the window closes); before its first one, and with no run, the current model.
        so_far = pre.controller.model_so_far
        model = so_far if so_far is not None else pre.controller.latest_model()
        train_config = pre.settings_panel.train_config()
        tabs["pretraining"] = {
            "model": stored(model, "pretraining" if so_far is None else f"pretraining{INTERRUPTED}{so_far.step}"),
            "corpus": "curated" if panel.using_curated else str(panel.corpus_combo.currentData() or "curated"),
            "tokenizer": dataclasses.asdict(panel.spec),
            "model_config": dataclasses.asdict(pre.settings_panel.model_config()),
            "train_config": dataclasses.asdict(train_config),
        }
        seeds["pretraining"] = train_config.seed
        if so_far is not None:
            tabs["pretraining"]["interrupted_at_step"] = int(so_far.step)
        if model is not None:
            metrics["pretraining"] = {"loss": model.history.to_json()}

        tuning_so_far = {}
        for key, tab in (("instruction", w.instruction_tab), ("preference", w.preference_tab)):
            # As for pretraining: mid-run, the newest model the run vouched for, named as interrupted.
            so_far = tuning_so_far[key] = tab.controller.model_so_far
            latest = tab.controller.latest_model()
            tuned = so_far if so_far is not None else latest if latest is not tab.base_model else None
            name = key if so_far is None else f"{key}{INTERRUPTED}{so_far.step}"
            state = {"rows": tab.pairs.rows(), "base": stored(tab.base_model, f"{key}-base"),
                     "tuned": stored(tuned, name), "method": tab.method, "steps": tab.steps_spin.value()}
            # The table compares the model of an earlier run, not the interrupted one: left out then.
            if tab.comparison.rows() and so_far is None:
                state["comparison"] = {"rows": [dataclasses.asdict(r) for r in tab.comparison.rows()],
                                       "summary": tab.comparison.summary_label.text()}
            if so_far is not None:
                state["interrupted_at_step"] = int(so_far.step)
            if tuned is not None:
                metrics[key] = {"loss": tuned.history.to_json()}
            tabs[key] = state
        pref = w.preference_tab
        # Mid-run, the held-out figures end where the interrupted model does (later ones are a newer model's).
        upto = math.inf if tuning_so_far["preference"] is None else tuning_so_far["preference"].step
        kept = [i for i, s in enumerate(pref.metrics_plot.steps) if s <= upto]
        held_out = {"steps": [pref.metrics_plot.steps[i] for i in kept],
                    "margins": [pref.metrics_plot.margins[i] for i in kept],
                    "accuracies": [pref.metrics_plot.accuracies[i] for i in kept]}
        tabs["preference"].update(beta=pref.beta_spin.value(), nll_weight=pref.nll_spin.value(),
                                  anchor_weight=pref.anchor_spin.value(), both_bad=pref.both_bad_count,
                                  held_out=held_out)
        metrics["preference-held-out"] = held_out

        ev = w.evaluation_tab
        opened = [{"name": e.name, "origin": e.origin, "checkpoint": stored(e.model, f"opened-{i + 1}")}
                  for i, e in enumerate(e for e in w.model_shelf.entries() if e.origin != "session")]
        unticked = [ev.models_list.item(i).text() for i in range(ev.models_list.count())
                    if ev.models_list.item(i).checkState() != Qt.CheckState.Checked]
        tabs["evaluation"] = {"opened": opened, "unticked": unticked,
                              "results": [_answer_to_json(a) for a in ev.results],
                              "question_set": ev.question_combo.currentData()}
        seeds["rating-shuffle"] = ev.rating_panel.seed

        tabs["window"] = {"stage": STAGES[w.tabs.currentIndex()].key}
        ratings = tuple(dataclasses.asdict(r) for r in ev.rating_panel.ratings)
        return SessionContents(curation=curation, checkpoints=checkpoints, metrics=metrics,
                               votes=tuple(pref.votes()), ratings=ratings, seeds=seeds, tabs=tabs)

    # --- saving and opening ----------------------------------------------------------------------

    def ask_save(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(self.window, "Save session",
                                                    str(data_dir() / f"my-session{SESSION_SUFFIX}"), SESSION_FILTER)
        if path:
            self.save(path)

    def save(self, path: str | Path) -> None:
        """Save the whole session to ``path`` (``.tesession`` added if missing) on a worker thread."""
        path = Path(path)
        if path.suffix.lower() != SESSION_SUFFIX:
            path = path.with_name(path.name + SESSION_SUFFIX)
        self._show_status(f"Saving the session as '{path.name}'…")
        self._save_task.submit(save_session, self.contents(), path, tag=str(path))

    def _on_saved(self, _tag, path) -> None:
        self.changed_since_save = False
        self._front_bar().info(f"Saved the session as '{Path(path).name}'. File → Open session… brings it back.")
        self._show_status("")
        self.saved.emit(str(path))

    def ask_open(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self.window, "Open session", str(data_dir()), SESSION_FILTER)
        if path:
            self.open(path)

    def open(self, path: str | Path, *, restored_from: str = "") -> bool:
        """Open a session on a worker thread; the tabs change only once all of it has been read and checked.

        ``restored_from`` ("10:42") words the message for the autosave. Refused while a run goes.
        """
        if self._running_stage():
            self._report(f"Stop the {self._running_stage()} run first: a session replaces the work in every tab.")
            return False
        self._show_status(f"Opening '{Path(path).name}'…")
        self._open_task.submit(_open_and_plan, str(path), tag=(str(path), restored_from))
        return True

    def _on_opened(self, tag, plan: RestorePlan) -> None:
        path, restored_from = tag
        if self._running_stage():  # started while the file was being read
            self._report(f"The session was not opened: the {self._running_stage()} run started meanwhile.")
            return
        # A session may come from anyone and name any file or folder here: never read one unasked. The
        # autosave is the app's own, in the user's private data folder, and restores without asking.
        named = [] if restored_from else files_named(plan)
        if named:
            self._ask_to_read(path, plan, named)
            return
        self._restore_opened(path, restored_from, plan)

    def _ask_to_read(self, path: str, plan: RestorePlan, named: list[tuple[str, str]]) -> None:
        """Ask, in a non-blocking dialog, before reading the files a session names; the tabs wait for the answer."""
        self._show_status("")
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Read files named by this session?")
        box.setText(f"The session '{_printable(Path(path).name)}' loads text from this computer:")
        lines = "\n".join(f"• {what}: '{_printable(where)}'" for what, where in named)
        box.setInformativeText(f"{lines}\n\nA session can name any file or folder. Read them only if you trust "
                               "whoever made the session; otherwise it opens without them.")
        box.read_button = box.addButton(READ_THEM, QMessageBox.ButtonRole.AcceptRole)
        box.without_button = box.addButton(OPEN_WITHOUT_THEM, QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(box.without_button)  # Enter must not read someone's choice of folder
        box.setEscapeButton(box.without_button)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(button) -> None:
            self.read_files_box = None
            if self._running_stage():
                self._report(f"The session was not opened: the {self._running_stage()} run started meanwhile.")
                return
            if button is box.read_button:
                self._restore_opened(path, "", plan)
            else:
                self._restore_opened(path, "", without_files(plan), NOT_READ)

        box.buttonClicked.connect(answered)
        self.read_files_box = box
        box.open()

    def _restore_opened(self, path: str, restored_from: str, plan: RestorePlan, note: str = "") -> None:
        self.restore(plan)
        words = (f"Restored the session from {restored_from}." if restored_from
                 else f"Opened the session '{Path(path).name}'.")
        interrupted = []
        for stage, step, model in (("Pretraining", plan.interrupted_at_step, plan.pretrained),
                                   ("Instruction tuning", plan.instruction.interrupted_at_step, plan.instruction.tuned),
                                   ("Preference tuning", plan.preference.interrupted_at_step, plan.preference.tuned)):
            if step is not None:
                lora = model is not None and model.details.get("method") == "lora"
                interrupted.append(
                    f"{stage} was still running then: its model from step {step:,} is back, with its loss curve"
                    + (" (a LoRA run cannot be continued: Start a new one from it)." if lora else
                       ", and Continue training goes on from there."))
        self._front_bar().info(" ".join(filter(None, [words, note, *interrupted, plan.ratings_note])))
        self._show_status("")
        self.opened.emit(path)

    def _running_stage(self) -> str:
        w = self.window
        for name, running in (("pretraining", w.pretraining_tab.controller.is_running),
                              ("instruction tuning", w.instruction_tab.controller.is_running),
                              ("preference tuning", w.preference_tab.controller.is_running),
                              ("benchmark", w.evaluation_tab.runner.is_running)):
            if running:
                return name
        return ""

    # --- restoring (GUI thread) --------------------------------------------------------------------

    def restore(self, plan: RestorePlan) -> None:
        """Put a checked session into the tabs, stage by stage, in the order models flow between them."""
        w = self.window
        pre = w.pretraining_tab
        if plan.request is not None:
            w.data_tab.restore(plan.request, plan.curation, chosen_now=plan.corpus == "curated")
        pre.show_model(plan.pretrained)  # also the shelf's and Instruction tuning's model
        if plan.model_config is not None and plan.train_config is not None:
            pre.settings_panel.set_configs(plan.model_config, plan.train_config)
        if plan.spec is not None:
            pre.corpus_panel.set_spec(plan.spec)
        kind, _, value = plan.corpus.partition(":")
        if kind == "bundled":
            pre.corpus_panel.choose_bundled(value)
        elif kind == "file":
            pre.corpus_panel.open_file(value)
        for tab, part, stage in ((w.instruction_tab, plan.instruction, STAGE_INSTRUCTION),
                                 (w.preference_tab, plan.preference, STAGE_PREFERENCE)):
            self._restore_tuning(tab, part, stage)

        ev = w.evaluation_tab
        for entry in [e for e in w.model_shelf.entries() if e.origin != "session"]:
            w.model_shelf.remove(entry.name)
        for name, origin, model in plan.opened:
            w.model_shelf.put_opened_model(model, origin, name)
        for name in w.model_shelf.names():
            ev.set_ticked(name, name not in plan.unticked)
        ev.question_combo.setCurrentIndex(max(0, ev.question_combo.findData(plan.question_set)))
        ev.show_results(plan.results)
        ev.rating_panel.load_saved()  # the ratings file, with the session's ratings added
        try:
            w.show_stage(plan.stage)
        except KeyError:
            pass  # a stage this version does not have: stay where we are

    def _restore_tuning(self, tab, part: TuningPlan, stage: str) -> None:
        (tab.lora_radio if part.method == "lora" else tab.full_radio).setChecked(True)
        tab.steps_spin.setValue(part.steps)  # after the method, which sets its own default steps
        if "beta" in part.extra:
            tab.beta_spin.setValue(part.extra["beta"])
            tab.nll_spin.setValue(part.extra.get("nll_weight", tab.nll_spin.value()))
            tab.anchor_spin.setValue(part.extra.get("anchor_weight", tab.anchor_spin.value()))
            tab.both_bad_count = int(part.extra.get("both_bad", 0))
        tab.pairs.reset_rows(part.rows)
        tab.restore_models(part.base, part.tuned, interrupted=part.interrupted_at_step is not None)
        if part.tuned is None:
            self.window.model_shelf.put_session_model(None, stage)  # no leftover from the work before
        if part.comparison is not None:
            tab.comparison.set_rows(*part.comparison)
        else:
            tab.comparison.set_rows([], NO_COMPARISON)
        if hasattr(tab, "metrics_plot"):
            tab.metrics_plot.clear_points()
            for event in part.extra.get("held_out", []):
                tab.metrics_plot.add(event)

    # --- autosave ------------------------------------------------------------------------------

    def autosave_now(self) -> bool:
        """Autosave on a worker thread if anything changed since the last save; True if one was started."""
        if not self.autosave_enabled or not self.changed_since_save or self._autosave_task.busy:
            return False
        contents = self.contents()
        self.changed_since_save = False  # edits from now on go into the next autosave
        self._autosave_task.submit(autosave, contents)
        return True

    def _on_autosave_failed(self, _tag, error) -> None:
        self.changed_since_save = True  # try again at the next tick
        self._show_status(f"The session could not be autosaved: {plain_message(error)}")

    def finish(self, timeout_s: float = CLOSE_SAVE_TIMEOUT_S) -> bool:
        """When the window closes, after the runs have stopped: the last autosave, then no thread is left.

        Waits for an autosave already writing (so the two cannot finish in the wrong order), then
        writes the final state on a worker and waits for it. Returns True if everything finished in time.
        """
        self.timer.stop()
        done = [self._autosave_task.shutdown(timeout_s), self._save_task.shutdown(timeout_s),
                self._open_task.shutdown(timeout_s)]
        if self.autosave_enabled and self.changed_since_save:
            final = BackgroundTask("autosaving on closing", self)
            final.submit(_autosave_quietly, self.contents())
            done.append(final.shutdown(timeout_s))
            self.changed_since_save = False
        return all(done)

    # --- messages -------------------------------------------------------------------------------

    def _front_bar(self):
        return self.window.tabs.currentWidget().message_bar

    def _show_status(self, text: str) -> None:
        self.window.statusBar().showMessage(text)

    def _report(self, message: str) -> None:
        self._show_status("")
        self._front_bar().error(message)
        self.failed.emit(message)


# --- start-up: the offer to restore the autosave ------------------------------------------------------


def offer_restore(window, then=None) -> QMessageBox | None:
    """Ask "Restore the session from 10:42?" if there is a complete autosave; None (nothing shown) if not.

    Non-blocking (``open()``). Restore opens the autosave like any session; Start afresh removes it.
    ``then`` is called after either answer (e.g. to reopen the guided tour).
    """
    info = find_autosave()
    if info is None:
        return None
    when = info.time_in_words()
    runs = interrupted_runs(info.checkpoint_names)
    run = f", with {_interrupted_in_words(runs)}" if runs else ""
    box = QMessageBox(window)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Restore the last session?")
    box.setText(f"Restore the session from {when}?")
    box.setInformativeText("Training Explorer saved your work automatically, last at "
                           f"{when}{run}. Restore it, or start afresh (the saved copy is then removed).")
    box.restore_button = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    box.afresh_button = box.addButton("Start afresh", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(box.restore_button)
    box.setWindowModality(Qt.WindowModality.WindowModal)

    def answered(button) -> None:
        if button is box.restore_button:
            window.session.open(info.path, restored_from=when)
        else:
            try:
                discard_autosave()
            except SessionError as err:
                window.data_tab.message_bar.warning(str(err))
        if then is not None:
            then()

    box.buttonClicked.connect(answered)
    box.open()
    return box


def greet_or_offer_restore(window):
    """What ``gui.app.main`` shows at start: never two dialogs at once.

    A first start gets the welcome screen (there is nothing to restore yet). A later start with an
    autosave gets the offer to restore it, and then what a later start gets without one: the
    guided tour again if it was left open.
    """
    from gui import welcome_dialog  # looked up at call time, so tests can replace greet_on_start

    if welcome_dialog.is_first_start():
        return welcome_dialog.greet_on_start(window)
    offer = offer_restore(window, then=lambda: welcome_dialog.greet_on_start(window))
    return offer if offer is not None else welcome_dialog.greet_on_start(window)
