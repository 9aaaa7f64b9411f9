"""The CLI's TOML config: its schema, every check with the plain message each mistake gets, and ``CliConfig``.

``load_config(path)`` reads and checks a file (a UTF-8 byte-order mark is allowed, more than
``MAX_CONFIG_BYTES`` is refused unread); ``parse_config(data, base)`` checks a parsed table. Unknown
keys are named with the valid ones, numbers are checked against ``engine.config.RANGES`` (which the
runs and the app check too), files must exist. ``engine.cli`` runs what it describes.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from engine.config import PRESETS, RANGES, ModelConfig, TrainConfig, preset, replace
from engine.data.corpus import REPO_ROOT, bundled_corpora
from engine.data.curation import CurationSettings
from engine.data.sources import KINDS, SourceRequest
from engine.data.documents import SOURCES, TOPICS
from engine.errors import ConfigError
from engine.stages.lora import METHOD_FULL, METHODS, LoraConfig
from engine.stages.preference_tuning import PreferenceConfig
from engine.tokenizer import TokenizerSpec
from engine.data.world import WorldSettings


EXAMPLE_CONFIG = REPO_ROOT / "assets" / "cli_example.toml"

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


def validated(section: str, check) -> None:
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
    validated(section, train.validate)
    validated(section, lora.validate)
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
        validated("corpus.world", world.validate)
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
    validated("corpus.curation", curation.validate)

    tok = data.get("tokenizer", {})
    tokenizer = TokenizerSpec(_choice(tok.get("kind", "char"), ("char", "bpe"), "tokenizer.kind"),
                              tok.get("vocab_size", TokenizerSpec.vocab_size))
    validated("tokenizer", tokenizer.validate)

    model_table = data.get("model", {})
    chosen = preset(_choice(model_table.get("preset", "tiny"), [p.key for p in PRESETS], "model.preset"))
    model = replace(chosen.model, **{k: v for k, v in model_table.items() if k != "preset"})
    validated("model", model.validate)
    pretrain = replace(chosen.train, seed=seed, **_numbers(data.get("pretrain", {}), _TRAIN_KEYS))
    validated("pretrain", pretrain.validate)

    prefer_table = data.get("prefer", {})
    preference = PreferenceConfig(beta=float(prefer_table.get("beta", PreferenceConfig.beta)),
                                  nll_weight=float(prefer_table.get("nll_weight", PreferenceConfig.nll_weight)))
    validated("prefer", preference.validate)
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
