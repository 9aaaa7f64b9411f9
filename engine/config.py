"""The settings of a run, as frozen dataclasses, plus presets and the arithmetic shown beside them.

Everything here is plain Python, so the GUI can show parameter counts, memory and time estimates
as the user types without importing JAX.
"""

from __future__ import annotations

import dataclasses
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
        if min(self.vocab_size, self.n_layers, self.n_heads, self.d_model, self.context_length) < 1:
            raise ConfigError("Every model setting must be at least 1.")
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
        if self.batch_size < 1 or self.total_steps < 1:
            raise ConfigError("Batch size and steps must be at least 1.")
        if not (self.learning_rate > 0):
            raise ConfigError("The learning rate must be above zero.")
        if self.warmup_steps < 0 or self.log_every < 1 or self.eval_every < 1:
            raise ConfigError("Warmup must be zero or more, and log and evaluation intervals at least 1.")
        if not 0.0 < self.val_fraction < 0.5:
            raise ConfigError("The validation share must be between 0 and 0.5.")


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
