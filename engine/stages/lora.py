"""LoRA: tuning a model by training small low-rank additions to its weight matrices, base frozen.

Instead of changing a (n_in, n_out) matrix W, LoRA learns two thin matrices A (n_in, r) and
B (r, n_out) and uses W + (alpha / r) · A·B. With rank r = 8 and width 128 that is 8·(128 + 384)
numbers instead of 128·384 for the attention's query/key/value matrix: a few per cent of the model.
B starts at zero, so the tuned model starts exactly where the base model is.

Here adapters sit on the four matrices of every block (attention qkv and output, MLP up and down);
the embeddings and norms stay as they were. The adapters are merged into the weights *inside* the
loss (``merge``), so the model code is unchanged and gradients reach only A and B. At the end of
tuning they are merged for good, and the stage hands on a plain model of the usual shape, which
samples, saves and tunes further like any other.

Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models".
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import ModelConfig, check_ranges
from engine.errors import ConfigError

METHOD_FULL, METHOD_LORA = "full", "lora"
METHODS = (METHOD_FULL, METHOD_LORA)
# One line each for the GUI's choice between the two.
FULL_EXPLANATION = "Full fine-tuning: every number in the model may change. Learns most, but can forget more."
LORA_EXPLANATION = ("LoRA: the model stays frozen and small add-on matrices learn the change, "
                    "a few per cent of the numbers; they are merged into the model at the end.")
METHOD_EXPLANATIONS = {METHOD_FULL: FULL_EXPLANATION, METHOD_LORA: LORA_EXPLANATION}

# (sub-layer, matrix) of each block that gets an adapter; see engine.model.init_params for shapes.
TARGETS = (("attn", "qkv"), ("attn", "proj"), ("mlp", "fc"), ("mlp", "proj"))


@dataclass(frozen=True)
class LoraConfig:
    """The size of the adapters."""

    rank: int = 8  # r: columns of A and rows of B; more can learn more, but trains more numbers
    alpha: float = 16.0  # the update is scaled by alpha / rank, so changing the rank keeps its size

    def validate(self, model: ModelConfig | None = None) -> None:
        check_ranges("lora", self)
        if model is not None and self.rank > model.d_model:
            raise ConfigError(f"The LoRA rank ({self.rank}) cannot be larger than the model's width "
                              f"({model.d_model}).", "Choose a rank of 4 to 16.")

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


def _shapes(model: ModelConfig) -> dict[tuple[str, str], tuple[int, int]]:
    c = model.d_model
    return {("attn", "qkv"): (c, 3 * c), ("attn", "proj"): (c, c), ("mlp", "fc"): (c, 4 * c),
            ("mlp", "proj"): (4 * c, c)}


def adapter_count(model: ModelConfig, cfg: LoraConfig) -> int:
    """How many numbers LoRA trains (for "trains 4% of the model" beside the choice)."""
    per_block = sum(cfg.rank * (n_in + n_out) for n_in, n_out in _shapes(model).values())
    return model.n_layers * per_block


def init_adapters(model: ModelConfig, cfg: LoraConfig, key):
    """Fresh adapters: A small and random, B zero (so A·B = 0 and nothing changes at first).

    A pytree shaped like the blocks: ``{"blocks": [{"attn": {"qkv": {"a": (C, r), "b": (r, 3C)}, …}}]}``.
    """
    import jax
    import jax.numpy as jnp

    shapes = _shapes(model)
    blocks = []
    for layer_key in jax.random.split(key, model.n_layers):
        block: dict = {"attn": {}, "mlp": {}}
        for k, (part, name) in zip(jax.random.split(layer_key, len(TARGETS)), TARGETS):
            n_in, n_out = shapes[(part, name)]
            # Like a default-initialised linear layer: each output starts with about unit variance.
            a = jax.random.normal(k, (n_in, cfg.rank), jnp.float32) / jnp.sqrt(float(n_in))  # (n_in, r)
            block[part][name] = {"a": a, "b": jnp.zeros((cfg.rank, n_out), jnp.float32)}  # b: (r, n_out)
        blocks.append(block)
    return {"blocks": blocks}


def merge(params: dict, adapters: dict, cfg: LoraConfig) -> dict:
    """The base parameters with every adapter added: W + (alpha / r) · A·B. Pure; works under jit and grad.

    Only the adapted matrices are new arrays; everything else is the base's own (untouched) leaves.
    """
    blocks = []
    for base, adapter in zip(params["blocks"], adapters["blocks"]):
        block = {**base, "attn": dict(base["attn"]), "mlp": dict(base["mlp"])}
        for part, name in TARGETS:
            a, b = adapter[part][name]["a"], adapter[part][name]["b"]
            block[part][name] = base[part][name] + cfg.scale * (a @ b)  # (n_in, r) @ (r, n_out)
        blocks.append(block)
    return {**params, "blocks": blocks}
