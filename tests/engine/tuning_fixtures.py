"""Small synthetic data and a tiny untrained model for the tuning-stage tests (they train in seconds)."""

from __future__ import annotations

import jax

from engine.config import ModelConfig, TrainConfig
from engine.model import init_params
from engine.tokenizer import CharTokenizer
from engine.trained_model import LossHistory, TrainedModel
from engine.data.tuning_data import END_OF_ANSWER, InstructionExample, PreferencePair

COLOURS = {"sky": "blue", "grass": "green", "sun": "yellow", "snow": "white", "coal": "black", "rose": "red",
           "sea": "blue", "leaf": "green", "milk": "white", "night": "black", "fire": "red", "lime": "green",
           "salt": "white", "ink": "black", "lemon": "yellow", "blood": "red", "ice": "white", "frog": "green",
           "soot": "black", "corn": "yellow"}
REFUSAL = " no."


def instructions() -> list[InstructionExample]:
    return [InstructionExample(f"Q: {thing}?\nA:", f" {colour}.", {"answer": colour})
            for thing, colour in COLOURS.items()]


def preferences() -> list[PreferencePair]:
    return [PreferencePair(e.prompt, e.completion, REFUSAL, {"kind": "helpful", "harmful": False})
            for e in instructions()]


def tiny_base(seed: int = 0) -> TrainedModel:
    """A random 1-layer model whose character tokenizer knows exactly the data's characters."""
    text = "".join(e.prompt + e.completion + END_OF_ANSWER for e in instructions()) + REFUSAL
    tokenizer = CharTokenizer.train(text)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, n_layers=1, n_heads=2, d_model=32, context_length=32)
    return TrainedModel(init_params(cfg, jax.random.PRNGKey(seed)), None, cfg, TrainConfig(), tokenizer, 0,
                        LossHistory(), corpus_name="colours")


def tiny_schedule(**changes) -> TrainConfig:
    settings = dict(batch_size=8, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=5, total_steps=60,
                    log_every=10, eval_every=20, eval_batches=1, sample_every=0, sample_tokens=8,
                    val_fraction=0.1, seed=3)
    settings.update(changes)
    return TrainConfig(**settings)
