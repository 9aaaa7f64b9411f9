"""The settings of a run, as frozen dataclasses, plus presets and the arithmetic shown beside them.

Everything here is plain Python, so the GUI can show parameter counts, memory and time estimates
as the user types without importing JAX.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

from engine.errors import ConfigError

BYTES_PER_FLOAT = 4  # float32 everywhere: small models on CPU gain nothing from lower precision


@dataclass(frozen=True)
class ModelConfig:
    """The shape of the transformer."""

    vocab_size: int = 65  # distinct tokens; set from the tokenizer, not by the user
    n_layers: int = 4  # transformer blocks stacked on top of each other
    n_heads: int = 4  # attention heads per block; must divide d_model
    d_model: int = 128  # width: the length of the vector that represents each token
    context_length: int = 64  # how many tokens the model sees at once

    def validate(self) -> None:
        check_ranges("model", self)
        if self.d_model % self.n_heads:
            raise ConfigError(
                f"The width ({self.d_model}) must divide evenly among the {self.n_heads} heads.",
                "Pick a width that is a multiple of the number of heads.",
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class TrainConfig:
    """How the model is trained."""

    batch_size: int = 12  # text snippets per step; more is smoother but slower
    learning_rate: float = 1e-3  # peak step size of AdamW; too high and the loss explodes
    min_learning_rate: float = 1e-4  # where the cosine decay ends
    warmup_steps: int = 100  # steps over which the learning rate ramps up from zero
    total_steps: int = 2000  # optimiser steps in the whole run
    weight_decay: float = 0.1  # pulls weights toward zero (matrices only, not biases or norms)
    beta1: float = 0.9  # AdamW's momentum
    beta2: float = 0.99  # AdamW's memory of gradient size; 0.99 suits small batches
    grad_clip: float = 1.0  # largest allowed global gradient norm
    seed: int = 1337  # every random choice derives from (seed, step)
    log_every: int = 10  # read the loss back from the device every this many steps
    eval_every: int = 250  # measure validation loss every this many steps
    eval_batches: int = 20  # batches averaged for one validation loss
    sample_every: int = 250  # write a sample every this many steps (0: never)
    sample_tokens: int = 120  # length of each sample
    val_fraction: float = 0.1  # the last part of the corpus held out for validation

    def validate(self) -> None:
        check_ranges("train", self)


# --- the range of every setting ------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """The values one setting may take: a finite number (a whole one if ``whole``) between ``low`` and
    ``high``, each end allowed unless it is ``open``."""

    what: str  # what the setting is, in plain words
    low: float
    high: float = math.inf  # math.inf: no upper limit (the value must still be a finite number)
    low_open: bool = False  # True: the low end itself is not allowed ("above 0")
    high_open: bool = False  # True: the high end itself is not allowed ("below 1")
    whole: bool = False  # a whole number, not a decimal
    unit: str = ""  # words after the numbers ("steps")

    def contains(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral if self.whole else numbers.Real):
            return False
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):  # ints are finite (and may
            return False  # be too large for a float: a JSON file can hold 400 digits)
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def words(self) -> str:
        """"a whole number from 1 to 10,000,000 steps", "a number above 0", ..."""
        low, high = _shown(self.low), _shown(self.high)
        if self.high == math.inf:
            span = f"above {low}" if self.low_open else f"{low} or more"
        elif self.low_open and self.high_open:
            span = f"above {low} and below {high}"
        elif self.low_open:
            span = f"above {low} and at most {high}"
        elif self.high_open:
            span = f"from {low} up to, but not including, {high}"
        else:
            span = f"from {low} to {high}"
        return f"{'a whole number' if self.whole else 'a number'} {span}" + (f" {self.unit}" if self.unit else "")

    def lowest(self, decimals: int = 0) -> float:
        """The smallest value a spin box with ``decimals`` decimals can offer inside the range."""
        step = 1 if self.whole else 10.0 ** -decimals
        return self.low + step if self.low_open else self.low

    def highest(self, decimals: int = 0, cap: float = 2**31 - 1) -> float:
        """The largest value a spin box can offer inside the range (``cap`` where there is no limit)."""
        step = 1 if self.whole else 10.0 ** -decimals
        return min(self.high - step if self.high_open else self.high, cap)


def _shown(value) -> str:
    """A number as the user would write it: 10,000,000 and 0.5, inf and nan spelt out."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text {value[:40]!r}" + ("…" if len(value) > 40 else "")  # one line, however long
    if not isinstance(value, numbers.Real):
        return type(value).__name__
    if isinstance(value, numbers.Integral):
        if abs(value) >= 10**18:  # str() of a 5000-digit int raises; the user needs no digits anyway
            return "a huge negative number" if value < 0 else "a huge number"
        return f"{int(value):,}"
    if math.isnan(value):
        return "nan (not a number)"
    if math.isinf(value):
        return "infinite" if value > 0 else "minus infinite"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return repr(float(value))


MAX_STEPS = 10**9  # a billion steps: "never" as an interval (the lessons' eval_every), any step plausible
MAX_SEED = 2**31 - 1  # numpy's and JAX's generators take it on every platform

# Every numeric setting's range, by section: the one place the CLI's --check, each run's start, a
# session being opened, a model file being opened and the app's spin boxes read it from. Upper limits
# are generous: they keep numbers the engine can compute with, and leave room to show a loss blowing
# up (the runs catch that and keep the last good model); memory is checked separately.
RANGES: dict[str, dict[str, Range]] = {
    "model": {
        "vocab_size": Range("the number of distinct tokens", 1, 1_000_000, whole=True, unit="tokens"),
        "n_layers": Range("the number of layers", 1, 1_000, whole=True, unit="layers"),
        "n_heads": Range("attention heads per layer", 1, 1_000, whole=True, unit="heads"),
        "d_model": Range("the width of the model", 1, 100_000, whole=True),
        "context_length": Range("how many tokens the model sees at once", 1, 100_000, whole=True, unit="tokens"),
    },
    "train": {
        "batch_size": Range("text snippets per step", 1, 100_000, whole=True),
        "learning_rate": Range("the learning rate", 0, 10_000, low_open=True),
        "min_learning_rate": Range("the learning rate at the end of the run", 0, 10_000),
        "warmup_steps": Range("steps over which the learning rate ramps up", 0, MAX_STEPS, whole=True, unit="steps"),
        "total_steps": Range("the number of steps", 1, MAX_STEPS, whole=True, unit="steps"),
        "weight_decay": Range("how strongly weights are pulled toward zero", 0, 1),
        "beta1": Range("AdamW's momentum", 0, 1, high_open=True),
        "beta2": Range("AdamW's memory of gradient size", 0, 1, high_open=True),
        "grad_clip": Range("the largest allowed gradient size", 0, low_open=True),
        "seed": Range("the seed of every random choice", 0, MAX_SEED, whole=True),
        "log_every": Range("steps between loss readings", 1, MAX_STEPS, whole=True, unit="steps"),
        "eval_every": Range("steps between held-out checks", 1, MAX_STEPS, whole=True, unit="steps"),
        "eval_batches": Range("batches averaged for one held-out loss", 1, 10_000, whole=True, unit="batches"),
        "sample_every": Range("steps between samples (0: never)", 0, MAX_STEPS, whole=True, unit="steps"),
        "sample_tokens": Range("the length of each sample", 1, 100_000, whole=True, unit="tokens"),
        "val_fraction": Range("the share of the text held out for checking", 0.001, 0.5, high_open=True),
    },
    "world": {  # the generated world's knobs (engine.data.world), as the Data tab and [corpus.world] set them
        "seed": Range("the seed that invents the world", 0, MAX_SEED, whole=True),
        "n_countries": Range("the number of countries", 3, 400, whole=True, unit="countries"),
        "first_year": Range("the year history starts", 1, 9_999, whole=True),
        "last_year": Range("the world's present year", 1, 9_999, whole=True),
        "repeats": Range("how often each fact is written per style", 1, 10_000, whole=True, unit="times"),
        "coverage": Range("the share of facts written at all", 0, 1),
        "error_rate": Range("the share of mentions that are wrong", 0, 1),
        "recency": Range("how many more mentions the latest events get", 0, 1_000),
        "bias": Range("how unequal the attention topics get", 0, 1),
        "held_out_share": Range("the share of countries never asked about", 0, 1),
        "code_snippets": Range("the number of code snippets", 0, 10_000, whole=True),
        "rare_language_share": Range("the share of code snippets in JavaScript", 0, 1),
        "recommendations": Range("the number of recommendation posts", 0, 10_000, whole=True),
        "answer_skew": Range("how often recommendations name the favourite", 0, 1),
        "typo_rate": Range("the share of documents with a typo", 0, 1),
        "duplicate_rate": Range("the share of planted copies", 0, 1),
        "junk_rate": Range("the share of planted junk documents", 0, 1),
        "safety_stories": Range("safety stories per harmful act", 0, 1_000, whole=True),
        "open_book_documents": Range("the number of open-book notes", 0, 1_000_000, whole=True),
    },
    "lora": {
        "rank": Range("the LoRA rank", 1, 100_000, whole=True),
        "alpha": Range("the LoRA scale (alpha)", 0, 100_000, low_open=True),
    },
    "preference": {
        "beta": Range("Beta, how strongly DPO keeps the model near the one it started from", 0, 1_000,
                      low_open=True),
        "nll_weight": Range("the weight of learning the chosen answers", 0, 1_000),
        "anchor_weight": Range("the weight of keeping the pretraining text", 0, 1_000),
    },
}


def range_problem(section: str, name: str, value, default=None) -> ConfigError | None:
    """The ``ConfigError`` for ``value`` of setting ``name`` in ``section`` if it is outside its range
    (or not a number of the right kind), else None."""
    rng = RANGES[section][name]
    if rng.contains(value):
        return None
    hint = "" if default is None else f"The default is {_shown(default)}."
    return ConfigError(f"'{name}' ({rng.what}) must be {rng.words()}; it is {_shown(value)}.", hint)


def check_ranges(section: str, config) -> None:
    """Raise a ``ConfigError`` naming the first setting of ``config`` (a frozen config dataclass) that
    is outside its range in ``RANGES[section]``."""
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for name in RANGES[section]:
        problem = range_problem(section, name, getattr(config, name), defaults.get(name))
        if problem is not None:
            raise problem


def replace(cfg, **changes):
    """dataclasses.replace, re-exported so callers need one import."""
    return dataclasses.replace(cfg, **changes)


# --- presets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    key: str  # stable identifier, stored in settings
    title: str  # what the user sees
    explanation: str  # one plain sentence
    model: ModelConfig  # vocab_size is replaced by the tokenizer's
    train: TrainConfig


PRESETS: tuple[Preset, ...] = (
    Preset(
        "tiny",
        "Tiny: a quick demo",
        "Two small layers. Learns letters and common words: the quickest to watch.",
        ModelConfig(n_layers=2, n_heads=4, d_model=64, context_length=64),
        TrainConfig(batch_size=16, learning_rate=2e-3, min_learning_rate=2e-4, warmup_steps=30,
                    total_steps=400, eval_every=50, sample_every=50),
    ),
    Preset(
        "small",
        "Small: a lesson's worth",
        "Four layers. Learns to write words and short phrases.",
        ModelConfig(n_layers=4, n_heads=4, d_model=128, context_length=128),
        TrainConfig(batch_size=16, learning_rate=2e-3, min_learning_rate=2e-4, warmup_steps=60,
                    total_steps=1000, eval_every=100, sample_every=100),
    ),
    Preset(
        "nanogpt",
        "Classic: the nanoGPT recipe",
        "The well-known 'shakespeare_char on CPU' set-up: four layers, short context.",
        ModelConfig(n_layers=4, n_heads=4, d_model=128, context_length=64),
        TrainConfig(batch_size=12, learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=100,
                    total_steps=2000, eval_every=250, sample_every=250),
    ),
    Preset(
        "medium",
        "Medium: for patient learners",
        "Six wider layers. Noticeably better text, but several times slower.",
        ModelConfig(n_layers=6, n_heads=6, d_model=192, context_length=128),
        TrainConfig(batch_size=16, learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=100,
                    total_steps=1500, eval_every=150, sample_every=150),
    ),
)


def preset(key: str) -> Preset:
    for p in PRESETS:
        if p.key == key:
            return p
    raise ConfigError(f"There is no model size called '{key}'.")


# --- size, memory and work ----------------------------------------------------------------------


def param_count(cfg: ModelConfig) -> int:
    """Exact number of trainable numbers in ``engine.model.init_params(cfg)``.

    No biases anywhere (as in nanoGPT's shakespeare_char recipe), and the output layer shares its
    weights with the token embedding (as in GPT-2).
    """
    c, v, t, layers = cfg.d_model, cfg.vocab_size, cfg.context_length, cfg.n_layers
    embeddings = v * c + t * c
    per_block = (
        c  # ln1 scale
        + c * 3 * c  # query, key, value projection
        + c * c  # attention output projection
        + c  # ln2 scale
        + c * 4 * c  # MLP up
        + 4 * c * c  # MLP down
    )
    return embeddings + layers * per_block + c  # + final layer norm scale


def flops_per_token(cfg: ModelConfig) -> float:
    """Training FLOPs per token (forward + backward): 6N for the weights plus attention scores.

    The embedding lookup costs no multiplications, but the tied output layer does, so N here is the
    non-positional parameter count (PaLM appendix B / nanoGPT's estimate_mfu).
    """
    n = param_count(cfg) - cfg.context_length * cfg.d_model
    attention = 12 * cfg.n_layers * cfg.d_model * cfg.context_length
    return 6.0 * n + attention


def estimate_memory_bytes(model: ModelConfig, train: TrainConfig) -> int:
    """A deliberately generous estimate of the peak memory of training, in bytes: the whole process's
    peak resident memory on a model's *first* run (empty compilation cache), the worst case.

    Weights, gradients and AdamW's two moments are four copies of the parameters. Activations kept
    for the backward pass are counted per block (about 34 numbers per token per width unit, plus the
    attention matrices), and the logits three times (values, softmax, gradient). XLA's buffer
    assignment and the heap's fragmentation add about 10% to that (``MODEL_OVERHEAD``). On top comes a
    fixed ``RUNTIME_BYTES`` that does not grow with the model.

    Both constants were fitted to ``ru_maxrss`` of a fresh process training 10 steps (with one
    evaluation and one sample) on a 100k-character corpus, jax 0.10.2 on a 2-core CPU, 2026-11-23
    (MiB, empty cache / warm cache / this estimate): tiny 471 / 365 / 488, nanogpt 600 / 482 / 540,
    small 659 / 545 / 678, medium 969 / – / 963. With a warm cache XLA compiles nothing and the peak is
    ~110 MiB lower, so repeat runs are over-estimated by up to ~35%: generous, as intended.
    ``tests/engine/test_memory_estimate.py`` keeps tiny and small within 30% of the measured peak.
    """
    b, t, c, h, v = train.batch_size, model.context_length, model.d_model, model.n_heads, model.vocab_size
    params = param_count(model) * BYTES_PER_FLOAT * 4
    per_block = b * t * (34 * c) + 3 * b * h * t * t
    activations = model.n_layers * per_block * BYTES_PER_FLOAT
    logits = 3 * b * t * v * BYTES_PER_FLOAT
    return int(MODEL_OVERHEAD * (params + activations + logits) + RUNTIME_BYTES)


# The Python interpreter with numpy and JAX imported (~185 MiB measured), XLA compiling the train,
# evaluation and sampling programs on a first run (~110 MiB, the empty- minus warm-cache peak), their
# compiled code, and glibc keeping freed buffers (``engine/runtime.py``): fitted to the tiny preset.
RUNTIME_BYTES = 460 * 2**20
# Temporaries and fragmentation beyond the counted buffers: fitted between the tiny and medium presets.
MODEL_OVERHEAD = 1.1


def estimate_seconds(model: ModelConfig, train: TrainConfig, flops_per_second: float) -> float:
    """Training time from the work to do and a measured throughput (see ``engine.machine_speed``)."""
    tokens = train.batch_size * model.context_length * train.total_steps
    return tokens * flops_per_token(model) / max(flops_per_second, 1.0)
