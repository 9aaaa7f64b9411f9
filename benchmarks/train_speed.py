"""Training speed of the engine, on the same code path the app uses. Prints one JSON line.

Default: the nanoGPT "shakespeare_char on CPU" recipe (4 layers, 4 heads, width 128, context 64,
batch 12, AdamW 1e-3, betas 0.9/0.99, weight decay 0.1, 100 warmup steps then cosine to 1e-4,
2000 steps), at character level with a 90/10 split, so the figures compare directly with
``../shared/bench/torch_ref.py`` run on the same machine in the same sitting.

    python benchmarks/train_speed.py ../shared/corpora/tinyshakespeare.txt [--steps 2000] [--preset nanogpt]

The "bigger" recipe of the issue (6 layers, 6 heads, width 384, context 256, batch 64), a few steps:

    python benchmarks/train_speed.py CORPUS --bigger --steps 6 --eval-batches 1

and the reference with the same shape: ``torch_ref.py --n_layer 6 --n_head 6 --n_embd 384 --block_size 256
--batch_size 64 --steps 6 --skip_steps 1``.

Fields: params, tokens_per_s (training steps only, after compilation), compile_s, first_loss_s (from
creating the run to the first loss point), train_loss and val_loss (mean of ``--eval-batches`` fixed
batches at the end, drawn as the engine draws them), val_loss_ref_batches (character level only: the
mean over exactly the 20 held-out windows ``torch_ref.py`` scores, so the two val losses compare
without the noise of different batches), wall_s, peak_rss_mb, matmul_peak_gflops (numpy, measured in
this run) and mfu.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine  # noqa: E402,F401  (tunes the allocator before jax starts)
from engine.config import PRESETS, ModelConfig, flops_per_token, param_count, preset, replace  # noqa: E402


def matmul_peak_gflops(size: int = 1024, reps: int = 10) -> float:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * size**3 / sorted(times)[len(times) // 2] / 1e9


def reference_val_loss(trained, text: str, train, seed: int = 1337, n_batches: int = 20) -> float:
    """Mean loss over the held-out windows ``../shared/bench/torch_ref.py`` scores (its ``CharData``):
    the last 10% of the characters, ``n_batches`` batches of ``batch_size`` windows drawn with numpy's
    ``default_rng([seed, 11])``. One character is one token in both, so the windows are the same text."""
    import jax.numpy as jnp
    import numpy as np

    from engine.model import loss_fn

    ids = np.asarray(trained.tokenizer.encode(text), dtype=np.int32)
    assert len(ids) == len(text), "character level only"
    val = ids[int(0.9 * len(ids)):]
    context, batch = trained.model_config.context_length, train.batch_size
    rng = np.random.default_rng([seed, 11])
    offsets = np.arange(context + 1)
    losses = []
    for _ in range(n_batches):
        starts = rng.integers(0, len(val) - context, size=batch)
        windows = val[starts[:, None] + offsets]  # (B, T+1)
        losses.append(float(loss_fn(trained.params, jnp.asarray(windows[:, :-1]), jnp.asarray(windows[:, 1:]),
                                    trained.model_config)))
    return float(np.mean(losses))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", help="a text file, e.g. ../shared/corpora/tinyshakespeare.txt")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    parser.add_argument("--preset", default="nanogpt", choices=[p.key for p in PRESETS])
    parser.add_argument("--tokenizer", default="char", choices=["char", "bpe"])
    parser.add_argument("--bpe-vocab", type=int, default=768)
    parser.add_argument("--bigger", action="store_true",
                        help="the bigger recipe: 6 layers, 6 heads, width 384, context 256, batch 64")
    parser.add_argument("--eval-batches", type=int, default=20, help="batches per held-out loss (default 20)")
    args = parser.parse_args(argv)

    from engine.data.corpus import read_text_file
    from engine.events import Finished, TrainProgress
    from engine.stages.pretraining import PretrainingRun
    from engine.tokenizer import TokenizerSpec

    started = time.perf_counter()
    chosen = preset(args.preset)
    train, model = chosen.train, chosen.model
    if args.bigger:
        model = replace(model, n_layers=6, n_heads=6, d_model=384, context_length=256)
        train = replace(train, batch_size=64)
    steps = args.steps or train.total_steps
    # Log rarely and evaluate/sample only at the end, so the figures measure training itself.
    train = replace(train, total_steps=steps, log_every=100, eval_every=10**9, sample_every=0,
                    eval_batches=args.eval_batches)
    corpus = read_text_file(args.corpus)
    run = PretrainingRun(corpus, TokenizerSpec(args.tokenizer, args.bpe_vocab), model, train)
    first_loss_s = None
    val_loss = None
    for event in run.events():
        if isinstance(event, TrainProgress) and first_loss_s is None:
            first_loss_s = time.perf_counter() - started
        if isinstance(event, Finished):
            assert event.reason == "completed", event
    trained = run.trained
    val_loss = trained.history.val_losses[-1]

    # Training loss measured like validation: 20 fixed batches, here from the training split.
    import jax.numpy as jnp

    from engine.data.batches import EVAL_STREAM, split_tokens, stream_key
    from engine.train import make_eval_loss

    cfg: ModelConfig = trained.model_config
    train_tokens, _ = split_tokens(trained.tokenizer.encode(corpus.text), train.val_fraction)
    train_loss = float(make_eval_loss(cfg, train)(trained.params, jnp.asarray(train_tokens), stream_key(train.seed, EVAL_STREAM)))
    # Not for the bigger recipe: 20 of its batches take minutes, and a few steps make no meaningful loss.
    ref_val_loss = reference_val_loss(trained, corpus.text, train) if args.tokenizer == "char" and not args.bigger else None
    wall_s = time.perf_counter() - started

    peak = matmul_peak_gflops()
    achieved = run.tokens_per_second * flops_per_token(cfg) / 1e9
    print(json.dumps({
        "preset": args.preset + ("+bigger" if args.bigger else ""),
        "tokenizer": args.tokenizer,
        "params": param_count(cfg),
        "steps": steps,
        "tokens_per_s": round(run.tokens_per_second, 1),
        "compile_s": round(run.compile_seconds, 2),
        "first_loss_s": round(first_loss_s, 2),
        "train_loss": round(train_loss, 4),
        "val_loss": round(val_loss, 4),
        "val_loss_ref_batches": None if ref_val_loss is None else round(ref_val_loss, 4),
        "wall_s": round(wall_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "matmul_peak_gflops": round(peak, 1),
        "mfu": round(achieved / peak, 3),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
