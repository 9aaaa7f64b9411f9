"""A process that saves large checkpoints in a loop until it is killed: the victim of the kill -9 test.

    python -m tests.reliability.checkpoint_writer FOLDER FIRST_STEP

Save number k writes ``version(k)`` to FOLDER/model and then prints ``saved k``. Versions alternate
between two sets of ~10 MB of parameters and carry k as their step and in their loss history, so
whoever opens the file after a kill can tell exactly which save it came from and check every byte.
Only numpy builds the parameters (shapes as in ``engine.model.init_params``): the process is ready
to save within about a second, so a test can afford to kill it twenty times and more.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from engine.config import ModelConfig, TrainConfig
from engine.tokenizer import CharTokenizer
from engine.trained_model import LossHistory, TrainedModel

CHARS = [chr(32 + i) for i in range(64)]  # 64 printable characters: the vocabulary
MODEL = ModelConfig(vocab_size=len(CHARS), n_layers=2, n_heads=4, d_model=320, context_length=64)
TRAIN = TrainConfig(total_steps=10**9)  # so that any step k is a plausible step
SAFETY_SECONDS = 120  # a writer whose test died does not write forever


def _params(model: ModelConfig, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    c = model.d_model

    def normal(*shape):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)

    blocks = [
        {
            "ln1": {"scale": np.ones(c, np.float32) + normal(c)},
            "attn": {"qkv": normal(c, 3 * c), "proj": normal(c, c)},  # (C, 3C), (C, C)
            "ln2": {"scale": np.ones(c, np.float32) + normal(c)},
            "mlp": {"fc": normal(c, 4 * c), "proj": normal(4 * c, c)},  # (C, 4C), (4C, C)
        }
        for _ in range(model.n_layers)
    ]
    return {"wte": normal(model.vocab_size, c), "wpe": normal(model.context_length, c), "blocks": blocks,
            "ln_f": {"scale": np.ones(c, np.float32) + normal(c)}}


_PARAM_SETS: dict[tuple[ModelConfig, int], dict] = {}


def params_for(step: int, model: ModelConfig = MODEL) -> dict:
    """Even steps carry parameter set 0, odd steps set 1 (built once per process and model shape)."""
    key = (model, step % 2)
    if key not in _PARAM_SETS:
        _PARAM_SETS[key] = _params(model, 100 + step % 2)
    return _PARAM_SETS[key]


def version(step: int, model: ModelConfig = MODEL) -> TrainedModel:
    """What save number ``step`` writes: recognisable from its step, history and corpus fields."""
    return TrainedModel(
        params=params_for(step, model), opt_state=None, model_config=model, train_config=TRAIN,
        tokenizer=CharTokenizer(CHARS), step=step,
        history=LossHistory(train_steps=[step], train_losses=[step / 7.0]),
        corpus_name=f"version {step}", corpus_fingerprint=f"{step:064x}",
    )


def main(folder: str, first_step: int) -> None:
    from engine.checkpoint import save_checkpoint

    params_for(0), params_for(1)  # build both before the first save, so saves follow each other quickly
    started = time.monotonic()
    step = first_step
    while time.monotonic() - started < SAFETY_SECONDS:
        save_checkpoint(version(step), Path(folder) / "model")
        print(f"saved {step}", flush=True)
        step += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
