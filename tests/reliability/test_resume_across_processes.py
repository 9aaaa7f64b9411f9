"""Promise 2 (pretraining): N steps, save, a new process opens the file and runs N more = 2N steps at once.

The in-process version lives in tests/engine/test_pretraining.py; this one crosses a real process
boundary, so everything the continuation needs must really be in the two files on disk (optimiser
moments, step, tokenizer, loss history, settings), nothing left over in memory. XLA is pinned to one
thread in both processes so that reductions happen in the same order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.reliability.resume_worker import N

ROOT = Path(__file__).resolve().parents[2]
PINNED = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def worker(mode: str, folder: Path) -> None:
    env = dict(os.environ, XLA_FLAGS=PINNED)
    done = subprocess.run([sys.executable, "-m", "tests.reliability.resume_worker", mode, str(folder)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]


def results(folder: Path, name: str):
    with np.load(folder / f"{name}.npz", allow_pickle=False) as data:
        leaves = [data[f"arr_{i}"] for i in range(len(data.files))]
    return leaves, json.loads((folder / f"{name}.json").read_text())


def test_resume_in_a_new_process_equals_an_uninterrupted_run(tmp_path):
    worker("first", tmp_path)
    worker("second", tmp_path)  # a fresh interpreter: only the saved files carry over

    whole, whole_meta = results(tmp_path, "whole")
    half, half_meta = results(tmp_path, "half-result")
    resumed, resumed_meta = results(tmp_path, "resumed")
    assert half_meta["step"] == N and whole_meta["step"] == resumed_meta["step"] == 2 * N
    assert len(whole) == len(resumed) > 10  # parameters and AdamW's moments
    # The restart really continued training: the parameters moved on from the saved ones.
    assert any(not np.array_equal(a, b) for a, b in zip(half, resumed))
    for a, b in zip(whole, resumed, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    h_whole, h_resumed = whole_meta["history"], resumed_meta["history"]
    assert h_resumed["train_steps"] == h_whole["train_steps"] == list(range(1, 2 * N + 1))
    assert h_resumed["val_steps"] == h_whole["val_steps"] == [0, 5, 10, 15, 20]
    np.testing.assert_allclose(h_resumed["train_losses"], h_whole["train_losses"], rtol=1e-6)
    np.testing.assert_allclose(h_resumed["val_losses"], h_whole["val_losses"], rtol=1e-6)
    # The first half of the resumed history is exactly what was saved, not re-measured.
    assert h_resumed["train_losses"][:N] == half_meta["history"]["train_losses"]
    # With threads pinned, the runs agree bit for bit, as DEVELOPERS.md promises.
    assert all(np.array_equal(a, b) for a, b in zip(whole, resumed))
    assert h_resumed == h_whole
