"""From a token array to training batches: the train/validation split and batch sampling.

Batches are drawn on the device inside the jitted train step, from a key derived from
(seed, step). So a run resumed at step N draws exactly the batches an uninterrupted run would,
and no Python work per step is needed to feed the model.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# Separate random streams derived from the seed, so e.g. adding a sample does not shift the batches.
TRAIN_STREAM, EVAL_STREAM, SAMPLE_STREAM = 0, 1, 2


def split_tokens(tokens: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The first (1 - val_fraction) of the corpus trains; the rest is held out (as in nanoGPT)."""
    n_train = int(len(tokens) * (1.0 - val_fraction))
    return tokens[:n_train], tokens[n_train:]


def stream_key(seed: int, stream: int) -> jax.Array:
    return jax.random.fold_in(jax.random.PRNGKey(seed), stream)


def sample_batch(tokens: jax.Array, key: jax.Array, batch_size: int, context: int) -> tuple[jax.Array, jax.Array]:
    """Random windows of the corpus. tokens: (N,) -> inputs (B, T), targets (B, T) shifted by one."""
    starts = jax.random.randint(key, (batch_size,), 0, tokens.shape[0] - context)  # (B,)
    offsets = jnp.arange(context + 1)  # (T+1,)
    windows = tokens[starts[:, None] + offsets[None, :]]  # (B, T+1)
    return windows[:, :-1], windows[:, 1:]
