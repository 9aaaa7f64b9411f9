"""``engine.config.estimate_memory_bytes`` against the real peak memory of training, for two model sizes.

What is compared: the whole process's peak resident memory (``VmHWM``) of a fresh Python process that
imports the engine, tokenizes a ~100k-character corpus and trains a few steps through ``PretrainingRun``,
with a validation loss and a sample (so the evaluation and sampling programs are compiled and run too),
starting from an *empty* compilation cache. That is what a user's computer must have free on the first run
of a model, the worst case: with a warm cache XLA does not compile and the peak is ~110 MB lower. The
estimate covers the Python interpreter and JAX's runtime as well, so nothing is added or subtracted.

Each measurement runs in its own process because a peak only ever grows: in the pytest process it would
include everything earlier tests did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.config import estimate_memory_bytes, preset, replace

ROOT = Path(__file__).resolve().parents[2]
CORPUS_CHARS = 100_000
STEPS = 10
TOLERANCE = 0.30  # the bound: within 30% of the measured peak

CHILD = textwrap.dedent(
    """
    import json, sys
    import engine  # tunes the allocator before jax starts, as the app does
    from engine.config import preset, replace
    from engine.data.corpus import Corpus, load_bundled
    from engine.events import Finished
    from engine.stages.pretraining import PretrainingRun
    from engine.tokenizer import TokenizerSpec

    key, steps, chars = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    chosen = preset(key)
    train = replace(chosen.train, total_steps=steps, log_every=5, eval_every=steps // 2, sample_every=steps // 2)
    corpus = Corpus("memory probe", load_bundled("fictional_world").text[:chars], "test")
    run = PretrainingRun(corpus, TokenizerSpec("char"), chosen.model, train)
    reasons = [e.reason for e in run.events() if isinstance(e, Finished)]
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork/vfork + exec, so
    # the child would report the pytest process's own peak whenever that is larger (it was, in CI).
    hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"peak_bytes": hwm_kb * 1024,
                      "vocab_size": run.model_config.vocab_size, "reasons": reasons}))
    """
)


def measured_peak(preset_key: str, home: Path) -> dict:
    env = dict(os.environ, TRAINING_EXPLORER_HOME=str(home), JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)  # one device, as the app runs
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD, preset_key, str(STEPS), str(CORPUS_CHARS)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("preset_key", ["tiny", "small"])
def test_estimate_is_within_30_percent_of_the_measured_peak(preset_key, tmp_path):
    found = measured_peak(preset_key, tmp_path / "home")  # an empty compilation cache: the first run
    assert found["reasons"] == ["completed"]
    chosen = preset(preset_key)
    model = replace(chosen.model, vocab_size=found["vocab_size"])
    estimate = estimate_memory_bytes(model, chosen.train)
    peak = found["peak_bytes"]
    mb = 2**20
    assert abs(estimate - peak) <= TOLERANCE * peak, (
        f"{preset_key}: estimate {estimate / mb:.0f} MiB, measured peak {peak / mb:.0f} MiB"
    )


def test_bigger_models_are_estimated_to_need_more():
    tiny, small = preset("tiny"), preset("small")
    assert estimate_memory_bytes(small.model, small.train) > estimate_memory_bytes(tiny.model, tiny.train)
