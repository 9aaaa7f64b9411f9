"""One process of the resume-across-a-restart test (promise 2).

    python -m tests.reliability.resume_worker first  FOLDER   # 2N steps in one go; then N steps and save
    python -m tests.reliability.resume_worker second FOLDER   # a fresh process: open the save, run N more

Results go to FOLDER/<name>.npz (every parameter and optimiser array, in tree order) and
FOLDER/<name>.json (step and loss history): plain arrays and JSON, nothing pickled.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from engine.config import ModelConfig, TrainConfig
from engine.data.corpus import Corpus

N = 10  # steps before the restart; the whole run is 2N
MODEL = ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32)
TRAIN = TrainConfig(batch_size=8, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=4, total_steps=2 * N,
                    log_every=5, eval_every=5, eval_batches=2, sample_every=0, seed=11)


def corpus() -> Corpus:
    from tests.engine.conftest import make_text

    return Corpus("resume test corpus", make_text(300, seed=5), "test")


def dump(model, folder: Path, name: str) -> None:
    import jax

    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves((model.params, model.opt_state))]
    np.savez(folder / f"{name}.npz", *leaves)
    (folder / f"{name}.json").write_text(json.dumps({"step": model.step, "history": model.history.to_json()}))


def first(folder: Path) -> None:
    from engine.checkpoint import save_checkpoint
    from engine.events import RunControl, TrainProgress
    from engine.stages.pretraining import PretrainingRun
    from engine.tokenizer import TokenizerSpec

    whole = PretrainingRun(corpus(), TokenizerSpec("bpe", 280), MODEL, TRAIN)
    for _ in whole.events():
        pass
    dump(whole.trained, folder, "whole")

    control = RunControl()
    half = PretrainingRun(corpus(), TokenizerSpec("bpe", 280), MODEL, TRAIN, control=control)
    for event in half.events():
        if isinstance(event, TrainProgress) and event.step == N:
            control.stop()  # as the Stop button does: the run ends at this step boundary
    assert half.trained.step == N, half.trained.step
    save_checkpoint(half.trained, folder / "half")
    dump(half.trained, folder, "half-result")


def second(folder: Path) -> None:
    from engine.checkpoint import load_checkpoint
    from engine.stages.pretraining import PretrainingRun
    from engine.tokenizer import TokenizerSpec

    loaded = load_checkpoint(folder / "half.safetensors")
    resumed = PretrainingRun(corpus(), TokenizerSpec("bpe", 280), loaded.model_config, loaded.train_config,
                             resume=loaded)
    for _ in resumed.events():
        pass
    dump(resumed.trained, folder, "resumed")


if __name__ == "__main__":
    {"first": first, "second": second}[sys.argv[1]](Path(sys.argv[2]))
