"""Asking the model what comes next: next-token probabilities and text generation.

Generation runs one jitted forward pass per new token over a fixed-size window of the last
``context_length`` tokens (padded on the right), so the program compiles once per model shape no
matter how long the prompt is. Padding after the last real token cannot change its prediction,
because attention is causal.
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from engine.config import ModelConfig
from engine.data.batches import SAMPLE_STREAM, stream_key
from engine.model import Params, forward
from engine.runtime import configure_jax
from engine.tokenizer import Tokenizer
from engine.trained_model import TrainedModel

configure_jax()


@lru_cache(maxsize=8)
def _next_logits_fn(cfg: ModelConfig):
    def next_logits(params: Params, window: jax.Array, length: jax.Array) -> jax.Array:
        logits = forward(params, window[None, :], cfg)  # (1, T, V)
        return logits[0, length - 1]  # (V,): the prediction after the last real token

    return jax.jit(next_logits)


@lru_cache(maxsize=8)
def _sample_fn(cfg: ModelConfig):
    next_logits = _next_logits_fn(cfg)

    def sample(params, window, length, key, temperature, top_k):
        logits = next_logits(params, window, length) / jnp.maximum(temperature, 1e-4)  # (V,)
        # Keep the k most likely tokens: everything below the k-th largest logit is ruled out.
        kth = jnp.sort(logits)[::-1][jnp.clip(top_k, 1, cfg.vocab_size) - 1]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
        return jax.random.categorical(key, logits)

    return jax.jit(sample)


def _window(ids: list[int], context: int) -> tuple[np.ndarray, int]:
    """The last ``context`` ids, right-padded with zeros to exactly ``context``; and how many are real."""
    recent = ids[-context:]
    window = np.zeros(context, dtype=np.int32)
    window[: len(recent)] = recent
    return window, len(recent)


def prompt_token_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """The ids a text starts from (never none: an empty prompt starts as a new line would)."""
    ids = tokenizer.encode(prompt).tolist()
    if not ids:  # an empty prompt: start as a new line would, or with the first token
        ids = tokenizer.encode("\n").tolist() or [0]
    return ids


def next_token_probabilities(params: Params, cfg: ModelConfig, tokenizer: Tokenizer, prompt: str) -> np.ndarray:
    """Probability of every vocabulary entry coming next after ``prompt``: (V,) float64, sums to 1."""
    window, length = _window(prompt_token_ids(tokenizer, prompt), cfg.context_length)
    logits = np.asarray(_next_logits_fn(cfg)(params, window, length), dtype=np.float64)
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def next_token_distribution(model: TrainedModel, prompt: str, top_n: int = 10) -> list[tuple[int, str, float]]:
    """The ``top_n`` most likely next tokens as (token id, visible label, probability), most likely first."""
    probs = next_token_probabilities(model.params, model.model_config, model.tokenizer, prompt)
    order = np.argsort(-probs, kind="stable")[:top_n]
    return [(int(i), model.tokenizer.token_label(int(i)), float(probs[i])) for i in order]


def generate_ids(params: Params, cfg: ModelConfig, prompt_ids: list[int], max_new_tokens: int,
                 temperature: float, top_k: int, key: jax.Array) -> list[int]:
    sample = _sample_fn(cfg)
    ids = list(prompt_ids)
    for i in range(max_new_tokens):
        window, length = _window(ids, cfg.context_length)
        token = sample(params, window, length, jax.random.fold_in(key, i), temperature, top_k)
        ids.append(int(token))
    return ids[len(prompt_ids):]


def generate_from_params(params: Params, cfg: ModelConfig, tokenizer: Tokenizer, prompt: str,
                         max_new_tokens: int, temperature: float, top_k: int, key: jax.Array) -> str:
    new_ids = generate_ids(params, cfg, prompt_token_ids(tokenizer, prompt), max_new_tokens, temperature, top_k, key)
    return tokenizer.display(new_ids)  # for people to read: a letter left unfinished shows as ▯, never as �


def generate_text(model: TrainedModel, prompt: str, max_new_tokens: int = 100, temperature: float = 0.8,
                  top_k: int = 40, seed: int = 0) -> str:
    """The model's continuation of ``prompt`` (without the prompt). Same seed, same text."""
    key = jax.random.fold_in(stream_key(seed, SAMPLE_STREAM), 2**20)
    return generate_from_params(model.params, model.model_config, model.tokenizer, prompt,
                                max_new_tokens, temperature, top_k, key)
