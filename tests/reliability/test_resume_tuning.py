"""Promise 2 for the tuning stages: N steps, save, a new process opens the files and runs N more =
2N steps at once, for instruction tuning and for DPO (full fine-tuning; a LoRA run cannot be resumed,
see ``engine/stages/tuning_run.py`` and ``tests/engine/test_instruction_tuning.py``).

The processes share nothing but files: the starting models, the stopped run's checkpoint (parameters,
AdamW moments, step, history, data fingerprint, details) and the training data, which the second
process reads again. XLA is pinned to one thread in both, so reductions happen in the same order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.reliability.tuning_resume_worker import N, STAGES

ROOT = Path(__file__).resolve().parents[2]
PINNED = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def worker(mode: str, folder: Path) -> None:
    env = dict(os.environ, XLA_FLAGS=PINNED)
    done = subprocess.run([sys.executable, "-m", "tests.reliability.tuning_resume_worker", mode, str(folder)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]


def results(folder: Path, name: str):
    with np.load(folder / f"{name}.npz", allow_pickle=False) as data:
        leaves = [data[f"arr_{i}"] for i in range(len(data.files))]
    return leaves, json.loads((folder / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tuning-resume")
    worker("first", folder)
    worker("second", folder)  # a fresh interpreter: only the saved files carry over
    return folder


@pytest.mark.parametrize("stage", STAGES)
def test_a_tuning_run_resumed_in_a_new_process_equals_an_uninterrupted_run(runs, stage):
    whole, whole_meta = results(runs, f"{stage}-whole")
    half, half_meta = results(runs, f"{stage}-half-result")
    resumed, resumed_meta = results(runs, f"{stage}-resumed")
    assert half_meta["step"] == N and whole_meta["step"] == resumed_meta["step"] == 2 * N
    assert whole_meta["stage"] == resumed_meta["stage"] == stage
    assert len(whole) == len(resumed) > 10  # parameters and AdamW's moments
    # The restart really continued training: the parameters moved on from the saved ones.
    assert any(not np.array_equal(a, b) for a, b in zip(half, resumed))
    for a, b in zip(whole, resumed, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    h_whole, h_resumed = whole_meta["history"], resumed_meta["history"]
    assert h_resumed["train_steps"] == h_whole["train_steps"] == list(range(1, 2 * N + 1))
    assert h_resumed["val_steps"] == h_whole["val_steps"] == [0, 3, 6, 9, 12]
    np.testing.assert_allclose(h_resumed["train_losses"], h_whole["train_losses"], rtol=1e-6)
    np.testing.assert_allclose(h_resumed["val_losses"], h_whole["val_losses"], rtol=1e-6)
    # The first half of the resumed history is exactly what was saved, not measured again.
    assert h_resumed["train_losses"][:N] == half_meta["history"]["train_losses"]
    # With threads pinned, the runs agree bit for bit, as pretraining's do.
    assert all(np.array_equal(a, b) for a, b in zip(whole, resumed))
    assert h_resumed == h_whole
    # The tuned model says the same about where it came from: same base, same data, same run.
    assert resumed_meta["details"] == whole_meta["details"] and resumed_meta["fingerprint"] == whole_meta["fingerprint"]
    assert len(whole_meta["details"]["base_fingerprint"]) == 64


@pytest.mark.parametrize("stage", STAGES)
def test_the_resumed_run_shows_only_its_own_steps(runs, stage):
    """The GUI appends what a resumed run shows to the saved curve: no step twice, no second 'step 0'."""
    whole = results(runs, f"{stage}-whole")[1]["events"]
    resumed = results(runs, f"{stage}-resumed")[1]["events"]
    assert resumed["progress_steps"] == list(range(N + 1, 2 * N + 1))
    assert resumed["progress_losses"] == whole["progress_losses"][N:]
    assert resumed["validation_steps"] == [9, 12] and whole["validation_steps"] == [0, 3, 6, 9, 12]
    assert resumed["sample_steps"] == [12] and whole["sample_steps"] == [0, 6, 12]
    if stage == "preference":
        assert resumed["metric_steps"] == [9, 12]
    assert resumed["finished"] == [2 * N, "completed"]
    assert resumed["eta"][-1] == 0 and all(eta >= 0 for eta in resumed["eta"])
