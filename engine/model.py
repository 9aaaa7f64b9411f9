"""The model: a small decoder-only transformer (GPT) as pure functions over a parameter pytree.

Token and learned position embeddings, then ``n_layers`` pre-norm blocks (causal multi-head
self-attention, then a GELU MLP), a final layer norm, and an output layer tied to the token
embedding. No biases and no dropout, as in nanoGPT's shakespeare_char recipe.

Parameters are a plain nested dict of arrays, so optax, safetensors and ``jax.tree`` all work on it
directly. Shapes use B = batch, T = time (context), C = width, H = heads, D = C / H, V = vocabulary.

Speed note (measured on 2 CPU cores, see DEVELOPERS notes): activations are kept flattened as
(B·T, C) around every weight matmul. With (B, T, C) activations XLA's weight-gradient matmuls
contract over two dimensions and run ~1.8x slower.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from engine.config import ModelConfig

Params = dict


def init_params(cfg: ModelConfig, key: jax.Array) -> Params:
    """Random initial parameters: N(0, 0.02), residual projections scaled by 1/sqrt(2·layers) (GPT-2)."""
    cfg.validate()
    c, std = cfg.d_model, 0.02
    residual_std = std / math.sqrt(2 * cfg.n_layers)
    k_wte, k_wpe, *k_blocks = jax.random.split(key, 2 + cfg.n_layers)

    def normal(k, shape, scale):
        return scale * jax.random.normal(k, shape, dtype=jnp.float32)

    blocks = []
    for kb in k_blocks:
        k_qkv, k_proj, k_fc, k_out = jax.random.split(kb, 4)
        blocks.append(
            {
                "ln1": {"scale": jnp.ones((c,), jnp.float32)},
                "attn": {
                    "qkv": normal(k_qkv, (c, 3 * c), std),  # (C, 3C)
                    "proj": normal(k_proj, (c, c), residual_std),  # (C, C)
                },
                "ln2": {"scale": jnp.ones((c,), jnp.float32)},
                "mlp": {
                    "fc": normal(k_fc, (c, 4 * c), std),  # (C, 4C)
                    "proj": normal(k_out, (4 * c, c), residual_std),  # (4C, C)
                },
            }
        )
    return {
        "wte": normal(k_wte, (cfg.vocab_size, c), std),  # (V, C), also the output layer
        "wpe": normal(k_wpe, (cfg.context_length, c), std),  # (T, C)
        "blocks": blocks,
        "ln_f": {"scale": jnp.ones((c,), jnp.float32)},
    }


def layer_norm(p: Params, x: jax.Array, eps: float = 1e-5) -> jax.Array:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * p["scale"]


def attention(p: Params, x: jax.Array, batch: int, time: int, cfg: ModelConfig) -> jax.Array:
    """Causal multi-head self-attention. x: (B·T, C) -> (B·T, C)."""
    h, d = cfg.n_heads, cfg.head_dim
    qkv = x @ p["qkv"]  # (B·T, 3C)
    qkv = qkv.reshape(batch, time, 3, h, d).transpose(2, 0, 3, 1, 4)  # (3, B, H, T, D)
    q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, T, D) each
    scores = jnp.einsum("bhtd,bhsd->bhts", q, k) * (1.0 / math.sqrt(d))  # (B, H, T, T)
    causal = jnp.tril(jnp.ones((time, time), dtype=bool))
    # A token may only look back: future positions get -inf before the softmax.
    scores = jnp.where(causal, scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores, axis=-1)  # (B, H, T, T)
    y = jnp.einsum("bhts,bhsd->bhtd", weights, v)  # (B, H, T, D)
    y = y.transpose(0, 2, 1, 3).reshape(batch * time, h * d)  # (B·T, C)
    return y @ p["proj"]  # (B·T, C)


def mlp(p: Params, x: jax.Array) -> jax.Array:
    """x: (B·T, C) -> (B·T, C). tanh-approximated GELU: 3-5% faster on CPU, same learning."""
    return jax.nn.gelu(x @ p["fc"], approximate=True) @ p["proj"]


def forward(params: Params, tokens: jax.Array, cfg: ModelConfig) -> jax.Array:
    """Next-token logits for every position. tokens: (B, T) int32 -> logits (B, T, V)."""
    batch, time = tokens.shape
    x = params["wte"][tokens] + params["wpe"][:time]  # (B, T, C)
    x = x.reshape(batch * time, cfg.d_model)  # (B·T, C): every matmul below is plain 2-D
    for block in params["blocks"]:
        x = x + attention(block["attn"], layer_norm(block["ln1"], x), batch, time, cfg)
        x = x + mlp(block["mlp"], layer_norm(block["ln2"], x))
    x = layer_norm(params["ln_f"], x)
    logits = x @ params["wte"].T  # (B·T, V): the output layer is the embedding, transposed
    return logits.reshape(batch, time, cfg.vocab_size)


def loss_fn(params: Params, inputs: jax.Array, targets: jax.Array, cfg: ModelConfig,
            weights: jax.Array | None = None) -> jax.Array:
    """Mean cross-entropy of predicting ``targets`` (B, T) from ``inputs`` (B, T).

    ``weights`` (B, T), if given, selects which positions count (e.g. response tokens only when
    instruction tuning); the mean is then over the counted positions.
    """
    logits = forward(params, inputs, cfg)  # (B, T, V)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, targets)  # (B, T)
    if weights is None:
        return jnp.mean(losses)
    return jnp.sum(losses * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def count_params(params: Params) -> int:
    return sum(int(x.size) for x in jax.tree.leaves(params))
