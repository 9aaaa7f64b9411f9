"""The optimiser, the immutable train state and the jitted train step (Flax/Levanter style).

``train_step(state, tokens, key, learning_rate) -> (state, loss)`` is a pure function: it samples its own batch from
(key, state.step), takes one AdamW step and returns a new ``TrainState``. It is jitted once per
configuration and donates the old state, so parameters are updated in place in memory.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from engine.config import ModelConfig, TrainConfig
from engine.data.batches import sample_batch
from engine.model import Params, loss_fn
from engine.runtime import configure_jax

configure_jax()


class TrainState(NamedTuple):
    """Everything that changes from step to step. A NamedTuple is an immutable pytree for free."""

    step: jax.Array  # () int32: steps taken so far
    params: Params
    opt_state: optax.OptState


def learning_rate_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of step ``step`` (0-based): linear warmup from zero, then cosine decay to
    ``min_learning_rate`` at ``total_steps`` (optax's warmup_cosine_decay_schedule, in plain Python).

    It is computed here and passed into the jitted step as an argument, so the compiled program does
    not depend on the step count or the learning rate: changing them reuses the compilation cache.
    """
    peak, end, warmup = cfg.learning_rate, cfg.min_learning_rate, cfg.warmup_steps
    if step < warmup:
        return peak * step / warmup
    decay = max(cfg.total_steps, warmup + 1) - warmup
    progress = min(max(step - warmup, 0), decay) / decay
    return end + (peak - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _decay_mask(params: Params):
    # Weight decay shrinks matrices only; decaying the norm scales would fight the normalisation.
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Global-norm clipping, then AdamW without its learning rate (``train_step`` applies that).

    clip -> Adam -> decoupled weight decay is exactly ``optax.adamw`` up to the final scaling by
    -learning_rate, which the step does with the rate it is given.
    """
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.scale_by_adam(b1=cfg.beta1, b2=cfg.beta2),
        optax.add_decayed_weights(cfg.weight_decay, mask=_decay_mask),
    )


def init_state(params: Params, optimizer: optax.GradientTransformation, step: int = 0) -> TrainState:
    return TrainState(jnp.asarray(step, jnp.int32), params, optimizer.init(params))


def make_train_step(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    optimizer: optax.GradientTransformation,
    loss: Callable = loss_fn,
    batch_sharding: jax.sharding.Sharding | None = None,
    jit_options: dict | None = None,
) -> Callable[[TrainState, jax.Array, jax.Array, float], tuple[TrainState, jax.Array]]:
    """Build the jitted step ``(state, tokens, key, learning_rate) -> (state, loss)``.

    ``tokens`` (N,) int32 lives on the device; ``learning_rate`` comes from ``learning_rate_at``.
    ``batch_sharding`` and ``jit_options`` are for data parallelism (``engine.parallel``): the
    sampled batch is constrained to that sharding, and the options (e.g. in/out shardings) go to jit.
    """
    batch_size, context = train_cfg.batch_size, model_cfg.context_length

    def train_step(state: TrainState, tokens: jax.Array, key: jax.Array, learning_rate) -> tuple[TrainState, jax.Array]:
        inputs, targets = sample_batch(tokens, jax.random.fold_in(key, state.step), batch_size, context)  # (B, T)
        if batch_sharding is not None:
            inputs = jax.lax.with_sharding_constraint(inputs, batch_sharding)
            targets = jax.lax.with_sharding_constraint(targets, batch_sharding)
        value, grads = jax.value_and_grad(loss)(state.params, inputs, targets, model_cfg)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        updates = jax.tree.map(lambda u: -learning_rate * u, updates)
        params = optax.apply_updates(state.params, updates)
        return TrainState(state.step + 1, params, opt_state), value

    return jax.jit(train_step, donate_argnums=0, **(jit_options or {}))


def make_eval_loss(model_cfg: ModelConfig, train_cfg: TrainConfig) -> Callable[[Params, jax.Array, jax.Array], jax.Array]:
    """Mean loss over ``eval_batches`` batches drawn from ``key``: the same batches every time."""
    batch_size, context, n = train_cfg.batch_size, model_cfg.context_length, train_cfg.eval_batches

    def eval_loss(params: Params, tokens: jax.Array, key: jax.Array) -> jax.Array:
        def one(i):
            inputs, targets = sample_batch(tokens, jax.random.fold_in(key, i), batch_size, context)
            return loss_fn(params, inputs, targets, model_cfg)

        return jnp.mean(jax.lax.map(one, jnp.arange(n)))

    return jax.jit(eval_loss)
