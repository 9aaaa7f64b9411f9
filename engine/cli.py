"""``training-explorer-cli``: the app's pipeline without the window, from a TOML config file.

    training-explorer-cli --write-example-config lesson.toml    # a commented config to start from
    training-explorer-cli lesson.toml                            # every stage the config names
    training-explorer-cli lesson.toml --stages instruct --from out/pretrained --json

It runs the same engine code as the app (``PretrainingRun``, ``InstructionTuningRun``,
``PreferenceTuningRun``) on the same corpus path as the Data tab (``load_source`` → ``curate`` →
``curated_corpus``), and saves each stage's model with ``save_checkpoint`` as ``out/pretrained``,
``out/instruction_tuned`` and ``out/preference_tuned`` (``.safetensors`` + ``.json``), which the app's
*Open model…* opens. A stage that is not first in the chain starts from the model the previous stage
made in this run, else from ``--from``, else from the previous stage's file in the output folder.

Everything a user can get wrong is checked before any training and reported in one plain sentence
(exit code 2), never a traceback: unknown keys (with the valid ones listed), wrong types, a number
outside its range (``engine.config.RANGES``, which the runs and the app check too), missing files, a
model too big for this computer's memory, a model file that would be overwritten. A model that cannot
be saved where asked (a full disk) is saved in another folder instead (``save_model``), never lost.
Progress goes to stderr as a bar with ETA (one line per 10% when stderr is a log file, not a
terminal); ``--json`` prints one line of metrics per stage on stdout. Ctrl+C stops at the next step
and saves the model so far; a second Ctrl+C quits at once. Exit codes: 0 done, 1 a stage's loss blew
up (its last good model is saved), 2 a mistake in the config or the data, 130 stopped by Ctrl+C.

The config is read and checked by ``load_config``, which keeps the schema (``SCHEMA``) next to the
message each mistake gets. No Qt here: the engine's generators are iterated on the main thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import signal
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from engine.checkpoint import checkpoint_paths, write_atomically
from engine.config import PRESETS, RANGES, ModelConfig, TrainConfig, estimate_memory_bytes, preset, replace
from engine.data.corpus import REPO_ROOT, available_memory_bytes, bundled_corpora
from engine.data.curation import CurationSettings
from engine.data.sources import KINDS, SourceRequest
from engine.data.documents import SOURCES, TOPICS
from engine.errors import CheckpointError, ConfigError, PlainError
from engine.events import (Diverged, Finished, PreferenceMetrics, RunControl, Sample, Status, TrainProgress,
                           ValidationLoss)
from engine.stages.lora import METHOD_FULL, METHOD_LORA, METHODS, LoraConfig
from engine.stages.preference_tuning import PreferenceConfig
from engine.tokenizer import TokenizerSpec, visible
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, STAGE_PRETRAINING
from engine.data.world import WorldSettings

EXAMPLE_CONFIG = REPO_ROOT / "assets" / "cli_example.toml"
EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

# The chain, in order: (name in the config, checkpoint name in the output folder, title).
CHAIN = (
    ("pretrain", "pretrained", "Pretraining"),
    ("instruct", "instruction_tuned", "Instruction tuning"),
    ("prefer", "preference_tuned", "Preference tuning"),
)
STAGE_NAMES = tuple(name for name, _, _ in CHAIN)
CHECKPOINT_NAME = {name: file for name, file, _ in CHAIN}
TITLE = {name: title for name, _, title in CHAIN}

# --- the config file's schema: section -> {key: kind} -----------------------------------------------


def _texts(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# kind: (what the user is told it must be, the test a TOML value passes)
_KINDS = {
    "int": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "str": ("text", lambda v: isinstance(v, str)),
    "table": ("a table of settings", lambda v: isinstance(v, dict)),
    "number_table": ("a table of numbers", lambda v: isinstance(v, dict)),
    "str_list": ("a list of texts", _texts),
    "stages": ("a text or a list of texts", lambda v: isinstance(v, str) or _texts(v)),
}


def _kinds_of(cls, skip=()) -> dict[str, str]:
    """{field: "int"/"float"/"bool"} of a frozen config dataclass, judged by its default values."""
    defaults = cls()
    return {f.name: type(getattr(defaults, f.name)).__name__ for f in dataclasses.fields(cls) if f.name not in skip}


# The seed is set once, at the top: every stage's schedule uses it.
_TRAIN_KEYS = _kinds_of(TrainConfig, skip=("seed",))
_TUNING_KEYS = {"method": "str", "data": "str", "lora_rank": "int", "lora_alpha": "float", **_TRAIN_KEYS}
SCHEMA: dict[str, dict[str, str]] = {
    "": {"seed": "int", "output": "str", "stages": "stages", "corpus": "table", "tokenizer": "table",
         "model": "table", "pretrain": "table", "instruct": "table", "prefer": "table"},
    "corpus": {"kind": "str", "name": "str", "path": "str", "encoding": "str", "text_field": "str",
               "world": "table", "curation": "table"},
    "corpus.world": _kinds_of(WorldSettings),
    "corpus.curation": {"cutoff_year": "int", "topics": "str_list", "drop_duplicates": "bool",
                        "drop_junk": "bool", "mix": "number_table", "seed": "int"},
    "tokenizer": {"kind": "str", "vocab_size": "int"},
    "model": {"preset": "str", "n_layers": "int", "n_heads": "int", "d_model": "int", "context_length": "int"},
    "pretrain": _TRAIN_KEYS,
    "instruct": _TUNING_KEYS,
    "prefer": {**_TUNING_KEYS, "beta": "float", "nll_weight": "float"},
}


@dataclass(frozen=True)
class TuningSettings:
    """One tuning stage's settings."""

    train: TrainConfig  # its schedule (the stage's recommended one, changed by the config)
    method: str  # "full" fine-tuning or "lora" adapters
    lora: LoraConfig  # adapter size, used when method is "lora"
    data: Path | None  # a JSONL file of pairs; None: the bundled set


@dataclass(frozen=True)
class CliConfig:
    """A checked config file: everything a headless run needs, in the engine's own types."""

    source: SourceRequest  # where the pretraining text comes from (as the Data tab asks for it)
    curation: CurationSettings  # what the Data stage keeps of it
    tokenizer: TokenizerSpec  # characters or BPE
    model: ModelConfig  # the model's shape; vocab_size is replaced by the tokenizer's
    pretrain: TrainConfig  # pretraining's schedule (the preset's, changed by the config)
    instruct: TuningSettings
    prefer: TuningSettings
    preference: PreferenceConfig  # DPO's beta and the weight of its chosen-answer term
    stages: tuple[str, ...]  # the stages to run, in chain order, a contiguous part of CHAIN
    output: Path  # folder for the checkpoints
    seed: int  # every stage's random choices derive from it


# Where a setting of the file has its range in engine.config.RANGES: section -> that table's section,
# and the file's names that differ from the engine's.
_RANGE_SECTIONS = {"pretrain": "train", "instruct": "train", "prefer": "train", "model": "model",
                   "corpus.world": "world"}
_RANGE_ALIASES = {"lora_rank": ("lora", "rank"), "lora_alpha": ("lora", "alpha"), "beta": ("preference", "beta"),
                  "nll_weight": ("preference", "nll_weight")}


def _range_of(where: str):
    section, _, key = where.rpartition(".")
    if section in ("instruct", "prefer") and key in _RANGE_ALIASES:
        table, key = _RANGE_ALIASES[key]
        return RANGES[table].get(key)
    return RANGES.get(_RANGE_SECTIONS.get(section, ""), {}).get(key)


def _check_value(value, kind: str, where: str) -> None:
    words, test = _KINDS[kind]
    if not test(value):
        shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__
        if isinstance(value, float) and not math.isfinite(value):
            shown = str(value)  # as TOML spells it (inf, -inf, nan), not JSON's Infinity
        rng = _range_of(where)
        allowed = f" It must be {rng.words()}." if rng is not None else ""
        raise ConfigError(f"The setting '{where}' must be {words}, but the file has {shown}.{allowed}")
    if kind == "number_table":
        for k, v in value.items():
            _check_value(v, "float", f"{where}.{k}")


def _check_table(table: dict, section: str) -> None:
    """Every key known, every value of its kind; tables inside are checked the same way."""
    allowed = SCHEMA[section]
    for key, value in table.items():
        where = f"{section}.{key}" if section else key
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"Did you mean '{close[0]}'? " if close else ""
            place = f"in [{section}]" if section else "at the top of the file"
            raise ConfigError(f"Unknown setting '{where}'.",
                              f"{hint}The settings allowed {place} are: {', '.join(allowed)}.")
        _check_value(value, allowed[key], where)
        if allowed[key] == "table":
            _check_table(value, where)


def _numbers(table: dict, kinds: dict[str, str]) -> dict:
    """The table's values with whole numbers turned into floats where the setting is a float (TOML
    writes 1 for 1.0), so a saved config records the same types the app's would."""
    return {k: float(v) if kinds.get(k) == "float" else v for k, v in table.items()}


def _choice(value: str, choices, where: str) -> str:
    if value not in choices:
        raise ConfigError(f"The setting '{where}' cannot be \"{value}\".",
                          f"Choose one of: {', '.join(choices)}.")
    return value


def _existing_file(value: str, base: Path, where: str, folder: bool = False) -> Path:
    path = base / Path(value).expanduser()  # an absolute path replaces base
    if not (path.is_dir() if folder else path.is_file()):
        what = "folder" if folder else "file"
        raise ConfigError(f"The {what} '{path}' named by '{where}' does not exist.",
                          f"Check the path; a relative path counts from the config file's folder ({base}).")
    return path


def _validated(section: str, check) -> None:
    """Run an engine ``validate()`` and say which section of the file its message is about."""
    try:
        check()
    except ConfigError as err:
        raise ConfigError(f"In [{section}]: {err.message}", err.hint) from err


def _stages(value) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else list(value)
    if "all" in names:
        return STAGE_NAMES
    for name in names:
        _choice(name, STAGE_NAMES + ("all",), "stages")
    indices = sorted({STAGE_NAMES.index(n) for n in names})
    if not indices:
        raise ConfigError("The setting 'stages' names no stage.", f"Choose from: {', '.join(STAGE_NAMES)}, all.")
    if indices != list(range(indices[0], indices[-1] + 1)):
        raise ConfigError("The stages must follow one another: each stage starts from the one before it.",
                          "For example pretrain and instruct, or instruct and prefer, or all.")
    return tuple(STAGE_NAMES[i] for i in indices)


def _tuning(section: str, table: dict, base: Path, seed: int, default_train) -> TuningSettings:
    method = _choice(table.get("method", METHOD_FULL), METHODS, f"{section}.method")
    train_changes = _numbers({k: v for k, v in table.items() if k in _TRAIN_KEYS}, _TRAIN_KEYS)
    train = replace(default_train(method), seed=seed, **train_changes)
    lora = LoraConfig(rank=table.get("lora_rank", LoraConfig.rank), alpha=float(table.get("lora_alpha", LoraConfig.alpha)))
    _validated(section, train.validate)
    _validated(section, lora.validate)
    data = _existing_file(table["data"], base, f"{section}.data") if "data" in table else None
    return TuningSettings(train, method, lora, data)


def parse_config(data: dict, base: Path, output: str | None = None, stages: str | None = None) -> CliConfig:
    """A checked ``CliConfig`` from a parsed TOML document; relative paths count from ``base``.

    ``output`` and ``stages`` (from the command line) replace the file's. Raises ``ConfigError``.
    """
    from engine.stages import instruction_tuning
    from engine.stages import preference_tuning

    _check_table(data, "")
    seed = data.get("seed", TrainConfig.seed)

    corpus = data.get("corpus", {})
    kind = _choice(corpus.get("kind", "bundled"), tuple(KINDS), "corpus.kind")
    needs = {"bundled": {"name"}, "world": {"world"}, "file": {"path", "encoding"}, "folder": {"path"},
             "jsonl": {"path", "text_field"}}[kind] | {"kind", "curation"}
    for key in corpus:
        if key not in needs:
            raise ConfigError(f"The setting 'corpus.{key}' does not apply to corpus.kind = \"{kind}\".",
                              f"With that kind, [corpus] takes: {', '.join(sorted(needs))}.")
    if kind == "bundled":
        name = _choice(corpus.get("name", "fictional_world"), [b.key for b in bundled_corpora()], "corpus.name")
        source = SourceRequest("bundled", name)
    elif kind == "world":
        world = WorldSettings(**_numbers(corpus.get("world", {}), SCHEMA["corpus.world"]))
        _validated("corpus.world", world.validate)
        source = SourceRequest("world", world=world)
    else:
        if "path" not in corpus:
            raise ConfigError(f"corpus.kind = \"{kind}\" needs 'corpus.path', the {kind} to read.")
        path = _existing_file(corpus["path"], base, "corpus.path", folder=kind == "folder")
        source = SourceRequest(kind, str(path), encoding=corpus.get("encoding"),
                               text_field=corpus.get("text_field", "text"))
    curation_table = dict(corpus.get("curation", {}))
    if "topics" in curation_table:
        curation_table["topics"] = frozenset(_choice(t, tuple(TOPICS), "corpus.curation.topics")
                                             for t in curation_table["topics"])
    if "mix" in curation_table:
        curation_table["mix"] = tuple(sorted((_choice(k, tuple(SOURCES), "corpus.curation.mix"), float(v))
                                             for k, v in curation_table["mix"].items()))
    curation = CurationSettings(**curation_table)
    _validated("corpus.curation", curation.validate)

    tok = data.get("tokenizer", {})
    tokenizer = TokenizerSpec(_choice(tok.get("kind", "char"), ("char", "bpe"), "tokenizer.kind"),
                              tok.get("vocab_size", TokenizerSpec.vocab_size))
    _validated("tokenizer", tokenizer.validate)

    model_table = data.get("model", {})
    chosen = preset(_choice(model_table.get("preset", "tiny"), [p.key for p in PRESETS], "model.preset"))
    model = replace(chosen.model, **{k: v for k, v in model_table.items() if k != "preset"})
    _validated("model", model.validate)
    pretrain = replace(chosen.train, seed=seed, **_numbers(data.get("pretrain", {}), _TRAIN_KEYS))
    _validated("pretrain", pretrain.validate)

    prefer_table = data.get("prefer", {})
    preference = PreferenceConfig(beta=float(prefer_table.get("beta", PreferenceConfig.beta)),
                                  nll_weight=float(prefer_table.get("nll_weight", PreferenceConfig.nll_weight)))
    _validated("prefer", preference.validate)
    return CliConfig(
        source=source, curation=curation, tokenizer=tokenizer, model=model, pretrain=pretrain,
        instruct=_tuning("instruct", data.get("instruct", {}), base, seed, instruction_tuning.default_train),
        prefer=_tuning("prefer", prefer_table, base, seed, preference_tuning.default_train),
        preference=preference,
        stages=_stages(stages.split(",") if stages else data.get("stages", "all")),
        output=Path(output) if output else base / data.get("output", "out"),
        seed=seed,
    )


MAX_CONFIG_BYTES = 1 * 2**20


def load_config(path: str | Path, output: str | None = None, stages: str | None = None) -> CliConfig:
    """Read and check a TOML config file (see ``parse_config``); every problem is a ``ConfigError``."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:  # refused before it is read: a config is a few kB
            raise ConfigError(f"The config file '{path}' is {path.stat().st_size / 2**20:.0f} MB, far too large "
                              "to be a config.", "Choose the .toml file that describes the run.")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"The config file '{path}' does not exist.",
                          "Write one with: training-explorer-cli --write-example-config lesson.toml") from None
    except OSError as err:
        raise ConfigError(f"The config file '{path}' cannot be read: {err.strerror}.") from None
    try:
        # "utf-8-sig": Windows editors (Notepad) start a UTF-8 file with a byte-order mark, which TOML
        # itself does not allow; it is dropped here rather than reported as a mistake at line 1.
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"The config file '{path}' is not UTF-8 text.", "Save it as UTF-8.") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"The config file '{path}' is not valid TOML: {err}.",
                          "Each setting is written as name = value; text goes in quotes.") from None
    return parse_config(data, path.resolve().parent, output, stages)


# --- progress on stderr, Ctrl+C ---------------------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressBar:
    """One stage's progress: a bar redrawn in place on a terminal, or, in a log file (where redrawing
    would pile up carriage returns), a new line each time another tenth of the run is done."""

    WIDTH = 24  # characters of the bar itself
    LOG_EVERY_SECONDS = 60.0  # in a log, a line at least this often even when a tenth takes longer

    def __init__(self, label: str, stream: TextIO, tty: bool | None = None):
        self.label = label
        self.stream = stream
        self.tty = getattr(stream, "isatty", lambda: False)() if tty is None else tty
        self._drawn = 0  # length of the bar line now on screen (terminal only), 0 when none
        self._logged_tenth = -1
        self._logged_at = 0.0

    def line(self, p: TrainProgress) -> str:
        fraction = min(p.step / max(p.total_steps, 1), 1.0)
        filled = int(round(self.WIDTH * fraction))
        speed = p.tokens_per_second
        speed_text = f"{speed / 1000:.1f}k" if speed >= 1000 else f"{speed:.0f}"
        return (f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {100 * fraction:3.0f}% "
                f"{p.step}/{p.total_steps} steps  loss {p.losses[-1]:.3f}  {speed_text} tokens/s  "
                f"ETA {_duration(p.eta_seconds)}")

    def update(self, p: TrainProgress) -> None:
        text = self.line(p)
        if self.tty:
            self.stream.write("\r" + text + " " * max(0, self._drawn - len(text)))
            self._drawn = len(text)
        else:
            tenth, now = int(10 * p.step / max(p.total_steps, 1)), time.monotonic()
            if tenth == self._logged_tenth and now - self._logged_at < self.LOG_EVERY_SECONDS:
                return
            self._logged_tenth, self._logged_at = tenth, now
            self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        self.close()
        self.stream.write(f"{self.label}: {message}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line, so what follows starts on a line of its own."""
        if self._drawn:
            self.stream.write("\n")
            self._drawn = 0


class StopOnCtrlC:
    """While active, the first Ctrl+C asks the running stage to stop after its current step (the
    stage then saves its model as usual); a second one, or one between stages, quits at once."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.control: RunControl | None = None  # the running stage's switch
        self._previous = None
        self._installed = False

    def __enter__(self) -> "StopOnCtrlC":
        # Python lets only the main thread set signal handlers; elsewhere Ctrl+C keeps its default.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        control = self.control
        if control is None or control.stop_requested:
            raise KeyboardInterrupt
        control.stop()
        self.stream.write("\nStopping after the current step; the model so far will be saved. "
                          "Press Ctrl+C again to quit at once without saving it.\n")
        self.stream.flush()


# --- the run ----------------------------------------------------------------------------------------


def choose_devices(requested: int | None, cfg: CliConfig, say) -> tuple[object, int]:
    """(mesh or None, devices used) for pretraining: ``requested``, else 1 on CPU and all on a GPU.

    Several host devices on a CPU made training slower (``engine.parallel``), so a CPU gets one unless
    asked. Raises ``ConfigError`` for more devices than there are, or a batch that does not split.
    """
    import jax

    from engine.parallel import check_batch_divides, make_data_mesh

    n = requested if requested is not None else (1 if jax.default_backend() == "cpu" else jax.device_count())
    mesh = make_data_mesh(n)
    if n == 1:
        return None, 1
    if "pretrain" not in cfg.stages:
        say(f"note: only pretraining runs on several devices; the tuning stages use one of the {n}.")
        return None, 1
    check_batch_divides(cfg.pretrain.batch_size, mesh)
    return mesh, n


def _check_outputs(cfg: CliConfig, start_from: Path | None, overwrite: bool, make: bool) -> None:
    """Make the output folder (if ``make``), and refuse to overwrite a model another run saved there."""
    try:
        if make:
            cfg.output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"The output folder '{cfg.output}' cannot be made: {err.strerror or err}.",
                          "Choose another folder with --output.") from None
    if overwrite:
        return
    continued = checkpoint_paths(start_from)[1].resolve() if start_from else None
    taken = [checkpoint_paths(cfg.output / CHECKPOINT_NAME[s]) for s in cfg.stages]
    taken = [str(weights) for weights, sidecar in taken if sidecar.exists() and sidecar.resolve() != continued]
    if taken:
        raise ConfigError(f"This run would replace models saved earlier: {', '.join(taken)}.",
                          "Add --overwrite to replace them, or choose another folder with --output.")


def _starting_model(cfg: CliConfig, start_from: Path | None):
    """(model, its file) the first stage starts from: ``--from``, the previous stage's file, or (None, None)."""
    from engine.checkpoint import load_checkpoint

    first = cfg.stages[0]
    if start_from is None:
        if first == "pretrain":
            return None, None
        previous = STAGE_NAMES[STAGE_NAMES.index(first) - 1]
        start_from = cfg.output / CHECKPOINT_NAME[previous]
        weights, sidecar = checkpoint_paths(start_from)
        if not sidecar.exists():
            raise ConfigError(f"{TITLE[first]} starts from the {previous} stage's model, and '{weights}' does "
                              "not exist.", f"Run the {previous} stage first, or name a model with --from.")
    model = load_checkpoint(start_from)
    if first == "pretrain":
        if model.stage != STAGE_PRETRAINING:
            raise ConfigError(f"'{start_from}' is a model from {model.stage} tuning; pretraining can only "
                              "continue a pretrained model.", "Name a pretrained model with --from.")
        if model.step >= cfg.pretrain.total_steps:
            raise ConfigError(f"The model in '{start_from}' has already taken {model.step} steps, and "
                              f"pretrain.total_steps is {cfg.pretrain.total_steps}.",
                              f"Set pretrain.total_steps above {model.step} to train it further.")
    if first == "prefer" and model.stage not in (STAGE_INSTRUCTION, STAGE_PREFERENCE):
        raise ConfigError(f"'{start_from}' is a {model.stage} model; preference tuning starts from an "
                          "instruction-tuned one.", "Run the instruct stage first, or name its model with --from.")
    return model, start_from


def _corpus(cfg: CliConfig):
    """The pretraining text, made exactly as the Data tab makes it (load, curate, name)."""
    from engine.data.curation import curate, curated_corpus
    from engine.data.sources import load_source

    source = load_source(cfg.source)
    documents = curate(list(source.documents), cfg.curation)
    name = source.title if cfg.curation == CurationSettings() else f"{source.title}, curated"
    return curated_corpus(documents, name, f"data:{cfg.source.kind}")


def _tuning_data(cfg: CliConfig) -> dict:
    from engine.data.tuning_data import bundled_instructions, bundled_preferences, load_instructions, load_preferences

    data = {}
    if "instruct" in cfg.stages:
        path = cfg.instruct.data
        data["instruct"] = load_instructions(path) if path else bundled_instructions()
    if "prefer" in cfg.stages:
        path = cfg.prefer.data
        data["prefer"] = load_preferences(path) if path else bundled_preferences()
    return data


def _check_before_training(cfg: CliConfig, base, corpus, data: dict) -> None:
    """Everything that could stop a stage after earlier ones have run, checked before the first:
    the text's length, the tuning data's size and characters, and memory."""
    from engine.config import RUNTIME_BYTES
    from engine.tokenizer import check_length, preview
    from engine.data.tuning_data import check_enough_pairs, check_tokenizer

    tokenizer, model = (base.tokenizer, base.model_config) if base is not None else (None, cfg.model)
    needs = []  # (stage, bytes of memory its training needs)
    if "pretrain" in cfg.stages:
        if base is None:
            tokenized = preview(corpus, cfg.tokenizer)  # cached: the run reuses it
            tokenizer, n_tokens = tokenized.tokenizer, len(tokenized.tokens)
            model = replace(cfg.model, vocab_size=tokenizer.vocab_size)
        else:
            n_tokens = len(tokenizer.encode(corpus.text))
        check_length(n_tokens, model.context_length, cfg.pretrain.val_fraction)
        needs.append(("pretrain", estimate_memory_bytes(model, cfg.pretrain) + 2 * n_tokens * 4))
    for stage, fields in (("instruct", ("prompt", "completion")), ("prefer", ("prompt", "chosen", "rejected"))):
        if stage in data:
            rows = data[stage]
            check_enough_pairs(len(rows), TITLE[stage])
            check_tokenizer(tokenizer, (getattr(row, f) for row in rows for f in fields))
            sequences = len(fields) - 1  # a preference pair's model reads two answers per example
            settings = getattr(cfg, stage)
            if settings.method == METHOD_LORA:  # the run checks the rank against the model's width
                _validated(stage, lambda: settings.lora.validate(model))
            train = settings.train
            needs.append((stage, estimate_memory_bytes(model, replace(train, batch_size=sequences * train.batch_size))))
    stage, needed = max(needs, key=lambda n: n[1])
    hint = "Choose a smaller model.preset, or lower n_layers, d_model, context_length or batch_size."
    free = available_memory_bytes()
    if free is not None and needed > free:
        raise ConfigError(f"{TITLE[stage]} would need about {needed / 2**30:.1f} GB of memory, and this "
                          f"computer has {free / 2**30:.1f} GB free.", hint)
    import jax

    device = jax.devices()[0]
    if device.platform != "cpu":  # on an accelerator the model's arrays live in its own memory
        limit = (device.memory_stats() or {}).get("bytes_limit")
        if limit and needed - RUNTIME_BYTES > limit:
            raise ConfigError(f"{TITLE[stage]} would need about {(needed - RUNTIME_BYTES) / 2**30:.1f} GB on "
                              f"the {device.device_kind}, which has {limit / 2**30:.1f} GB.", hint)


def _make_run(stage: str, cfg: CliConfig, base, corpus, data: dict, control: RunControl, mesh):
    from engine.stages.instruction_tuning import InstructionTuningRun
    from engine.stages.preference_tuning import PreferenceTuningRun
    from engine.stages.pretraining import PretrainingRun

    if stage == "pretrain":
        return PretrainingRun(corpus, cfg.tokenizer, cfg.model, cfg.pretrain, control=control, resume=base, mesh=mesh)
    settings = getattr(cfg, stage)
    named = {"data_name": settings.data.name} if settings.data else {}  # else the stage's own name for its set
    if stage == "instruct":
        return InstructionTuningRun(base, data[stage], settings.train, method=settings.method, lora=settings.lora,
                                    control=control, **named)
    return PreferenceTuningRun(base, data[stage], settings.train, cfg.preference, method=settings.method,
                               lora=settings.lora, control=control, **named)


def _run_stage(stage: str, run, bar: ProgressBar) -> dict:
    """Iterate a run to its end, drawing its events; returns its metrics (the JSON line's fields)."""
    started = time.perf_counter()
    metrics: dict = {"stage": stage, "reason": "", "final_train_loss": None, "final_val_loss": None}
    for event in run.events():
        if isinstance(event, TrainProgress):
            bar.update(event)
            metrics["final_train_loss"] = round(event.losses[-1], 5)
        elif isinstance(event, Status) and event.phase in ("preparing", "compiling"):
            bar.note(event.message)
        elif isinstance(event, ValidationLoss):
            metrics["final_val_loss"] = round(event.loss, 5)
            bar.note(f"held-out loss at step {event.step}: {event.loss:.4f}")
        elif isinstance(event, PreferenceMetrics):
            metrics.update(reward_margin=round(event.reward_margin, 4), preference_accuracy=round(event.accuracy, 4))
            bar.note(f"held-out reward margin {event.reward_margin:.3f}, preference accuracy {event.accuracy:.0%}")
        elif isinstance(event, Sample):
            shown = visible(event.prompt + event.text)
            bar.note(f"sample at step {event.step}: {shown[:100]}{'…' if len(shown) > 100 else ''}")
        elif isinstance(event, Diverged):
            bar.note(event.message)
        elif isinstance(event, Finished):
            metrics["reason"] = event.reason
    bar.close()
    metrics.update(seconds=round(time.perf_counter() - started, 2),
                   compile_seconds=None if run.compile_seconds is None else round(run.compile_seconds, 2),
                   tokens_per_second=round(run.tokens_per_second, 1))
    return metrics


# When a model cannot be saved where asked (a full disk, a folder that went away), it is saved to these
# folders instead, and when none of them takes it, every place is tried again this often, this many times.
SAVE_RETRY_SECONDS = 30.0
SAVE_RETRIES = 20


def _fallback_folders() -> list[Path]:
    """Other places a model can go: the app's own models folder (what *Open model…* shows first), then
    the system's temporary folder (often another disk, or memory)."""
    import tempfile

    from engine.user_paths import models_dir

    folders = []
    try:
        folders.append(models_dir())
    except OSError:
        pass
    folders.append(Path(tempfile.gettempdir()))
    return folders


def save_model(model, path: Path, say) -> Path:
    """Save a stage's model to ``path``; returns its weights file. Minutes of training are never thrown
    away because one folder cannot take them: if the save fails (no space left, no permission), the model
    is saved under a new name in another folder and ``say`` tells where; if no folder takes it, every
    place is tried again every ``SAVE_RETRY_SECONDS`` (freeing some space lets it through) before a
    ``CheckpointError`` gives up. The model stays in memory all the while."""
    from engine import checkpoint

    try:
        return checkpoint.save_checkpoint(model, path)
    except PlainError as err:
        failure = err
    say(f"{failure.message} Saving it somewhere else instead…")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(SAVE_RETRIES + 1):
        if attempt:
            time.sleep(SAVE_RETRY_SECONDS)
            try:
                return checkpoint.save_checkpoint(model, path)
            except PlainError:
                pass
        for folder in _fallback_folders():
            candidate, n = folder / f"{path.name}-{stamp}", 1
            while any(p.exists() for p in checkpoint_paths(candidate)):  # never replace another model
                candidate, n = folder / f"{path.name}-{stamp}-{n}", n + 1
            try:
                weights = checkpoint.save_checkpoint(model, candidate)
            except PlainError:
                continue
            say(f"The model was saved to '{weights}' instead (with its '{checkpoint_paths(weights)[1].name}'). "
                "Move both files where you want them; the app's Open model… opens them from there.")
            return weights
        if attempt == 0:
            say(f"No other folder could take it either. Free some disk space: every place is tried again every "
                f"{SAVE_RETRY_SECONDS:g} seconds, {SAVE_RETRIES} times (Ctrl+C gives up and loses this model).")
    raise CheckpointError(f"{failure.message} No other folder could take it either, so this stage's model "
                          "is lost.", "Free some disk space, then run the stage again.")


def run_pipeline(cfg: CliConfig, start_from: Path | None = None, devices: int | None = None,
                 overwrite: bool = False, as_json: bool = False, check_only: bool = False,
                 stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the config's stages in order; returns the exit code. Raises ``PlainError`` (exit 2) for
    any mistake found before training, and ``KeyboardInterrupt`` on a second Ctrl+C."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr

    def say(message: str) -> None:
        print(message, file=stderr, flush=True)

    _check_outputs(cfg, start_from, overwrite, make=not check_only)
    data = _tuning_data(cfg)
    base, base_path = _starting_model(cfg, start_from)
    corpus = _corpus(cfg) if "pretrain" in cfg.stages else None
    _check_before_training(cfg, base, corpus, data)
    mesh, n_devices = choose_devices(devices, cfg, say)
    if check_only:
        say(f"The config is fine: it would run {', '.join(cfg.stages)} and save to '{cfg.output}'.")
        return EXIT_OK
    if base is not None:
        say(f"Starting from the {base.stage} model in '{checkpoint_paths(base_path)[0]}' (step {base.step}).")

    with StopOnCtrlC(stderr) as ctrl_c:
        model = base
        for stage in cfg.stages:
            control = RunControl()
            run = _make_run(stage, cfg, model, corpus, data, control, mesh if stage == "pretrain" else None)
            first_step = model.step if stage == "pretrain" and model is not None else 0
            ctrl_c.control = control
            metrics = _run_stage(stage, run, ProgressBar(stage, stderr))
            ctrl_c.control = None
            trained = run.trained
            steps_run = trained.step - first_step if trained is not None else 0
            metrics.update(steps=trained.step if trained else first_step, steps_run=steps_run,
                           devices=n_devices if stage == "pretrain" else 1, checkpoint=None)
            if steps_run > 0:  # a stage stopped before its first step made nothing worth keeping
                weights = save_model(trained, cfg.output / CHECKPOINT_NAME[stage], say)
                metrics["checkpoint"] = str(weights)
                say(f"{stage}: saved the model (step {trained.step}) to '{weights}'.")
            if as_json:
                print(json.dumps(metrics), file=stdout, flush=True)
            if metrics["reason"] == "stopped":
                say(f"Stopped during {stage}." + ("" if steps_run else " No step was taken, so nothing was saved."))
                return EXIT_INTERRUPTED
            if metrics["reason"] == "diverged":
                say(f"{TITLE[stage]} went wrong, so the stages after it were not run.")
                return EXIT_DIVERGED
            model = trained
    return EXIT_OK


# --- the command line -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="training-explorer-cli",
        description="Run Training Explorer's stages (pretrain, instruct, prefer) without the window, "
                    "from a TOML config file. The models it saves open in the app.",
        epilog="Exit codes: 0 done, 1 a stage's loss blew up (its last good model is saved), "
               "2 a mistake in the config or the data, 130 stopped with Ctrl+C (the model so far is saved).")
    parser.add_argument("config", nargs="?", help="the TOML config file")
    parser.add_argument("--write-example-config", metavar="FILE", help="write a commented example config and exit")
    parser.add_argument("--stages", help="replaces the config's stages: pretrain, instruct, prefer or all "
                                         "(several joined by commas, e.g. instruct,prefer)")
    parser.add_argument("--from", dest="start_from", metavar="CHECKPOINT",
                        help="start the first stage from this saved model (pretraining continues it)")
    parser.add_argument("--output", metavar="FOLDER", help="replaces the config's output folder")
    parser.add_argument("--devices", type=int, metavar="N",
                        help="devices for pretraining (default: 1 on a CPU, all on a GPU machine)")
    parser.add_argument("--json", action="store_true", help="print one JSON line of metrics per stage on stdout")
    parser.add_argument("--overwrite", action="store_true", help="replace models an earlier run saved")
    parser.add_argument("--check", action="store_true",
                        help="check the config, data and memory, then exit without training")
    return parser


def write_example_config(path: str | Path) -> Path:
    path = Path(path)
    if path.exists():
        raise ConfigError(f"'{path}' already exists.", "Choose a new file name, so nothing is overwritten.")
    try:
        write_atomically(path, EXAMPLE_CONFIG.read_bytes())
    except OSError as err:
        raise ConfigError(f"'{path}' cannot be written: {err.strerror or err}.") from None
    return path


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the problem
        return int(exit_.code or 0)
    try:
        if args.write_example_config:
            written = write_example_config(args.write_example_config)
            print(f"Wrote an example config to '{written}'. Edit it, then run: training-explorer-cli {written}",
                  file=sys.stderr)
            return EXIT_OK
        if not args.config:
            parser.print_usage(sys.stderr)
            print("training-explorer-cli: give a config file, or write one with --write-example-config FILE.",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        cfg = load_config(args.config, args.output, args.stages)
        return run_pipeline(cfg, Path(args.start_from) if args.start_from else None, args.devices,
                            args.overwrite, args.json, args.check)
    except PlainError as err:
        print(f"training-explorer-cli: {err}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\nStopped at once; the stage that was running was not saved.", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
