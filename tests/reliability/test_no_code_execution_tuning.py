"""Promise 6 for the tuning stages: a tuned model's file cannot make the app run code.

A tuned checkpoint is a pretraining checkpoint plus two things in its sidecar: the ``stage`` and the
stage's ``details`` (method, LoRA rank, beta, the base model's fingerprint…), and resuming a stopped
run reads all of them back. So, beyond ``test_no_code_execution.py``: a tuned checkpoint whose tensors
are a pickle that would run code is refused; details shaped like the objects pickle-style JSON
libraries rebuild (``py/reduce``, ``__reduce__``) are refused; and pickle bytes hidden in a detail's
text stay text, through opening the file and through resuming a run from it. A marker folder that
only running the payload would create must never appear.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest

from engine.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from engine.errors import CheckpointError, ConfigError
from engine.stages.instruction_tuning import InstructionTuningRun
from tests.engine.tuning_fixtures import instructions, tiny_base, tiny_schedule


class _RunsCodeWhenUnpickled:
    """Unpickling this calls os.mkdir(marker): proof of code execution, harmless otherwise."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def tuned_checkpoint(folder: Path) -> tuple[Path, Path]:
    """A checkpoint as instruction tuning saves one: its stage and details in the sidecar."""
    model = dataclasses.replace(tiny_base(), stage="instruction", step=3, details={
        "method": "full", "base_stage": "pretraining", "base_step": 0, "base_corpus": "colours",
        "base_fingerprint": "0" * 64, "pairs": 20, "truncated": 0, "steps": 3, "stopped": "stopped"})
    return checkpoint_paths(save_checkpoint(model, folder / "tuned"))


def rewrite_sidecar(sidecar: Path, change) -> None:
    meta = json.loads(sidecar.read_text())
    change(meta)
    sidecar.write_text(json.dumps(meta))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_tuned_checkpoint_whose_tensors_are_a_pickle_is_refused_and_never_run(tmp_path, protocol):
    marker = tmp_path / "code-ran"
    weights, sidecar = tuned_checkpoint(tmp_path)
    payload = pickle.dumps({"params/wte": _RunsCodeWhenUnpickled(str(marker))}, protocol=protocol)
    weights.write_bytes(payload)
    rewrite_sidecar(sidecar, lambda meta: meta.update(weights_sha256=hashlib.sha256(payload).hexdigest()))
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(weights)
    assert not marker.exists(), "the checkpoint's pickle was executed"


@pytest.mark.parametrize("details", [
    {"method": {"py/reduce": [{"py/function": "os.mkdir"}, {"py/tuple": ["MARKER"]}]}},  # jsonpickle's shape
    {"method": "full", "base": {"__reduce__": ["os.mkdir", ["MARKER"]]}},
    {"method": ["os.mkdir", "MARKER"]},
    "cos\nmkdir\n(S'MARKER'\ntR.",  # the whole details a protocol-0 pickle, as text
])
def test_details_shaped_like_code_are_refused(tmp_path, details):
    marker = tmp_path / "code-ran"
    weights, sidecar = tuned_checkpoint(tmp_path)
    shaped = json.loads(json.dumps(details).replace("MARKER", str(marker).replace("\\", "/")))
    rewrite_sidecar(sidecar, lambda meta: meta.update(details=shaped))
    with pytest.raises(CheckpointError, match="training record is damaged"):
        load_checkpoint(weights)
    assert not marker.exists()


def test_pickle_bytes_in_a_detail_stay_text_through_opening_and_resuming(tmp_path):
    marker = tmp_path / "code-ran"
    weights, sidecar = tuned_checkpoint(tmp_path)
    hidden = pickle.dumps(_RunsCodeWhenUnpickled(str(marker)), protocol=0).decode("latin-1")
    rewrite_sidecar(sidecar, lambda meta: meta["details"].update(base_corpus=hidden, method=hidden[:40]))
    model = load_checkpoint(weights)
    assert model.details["base_corpus"] == hidden and model.stage == "instruction"
    # Resuming reads the details back to decide whether the run can continue: they are compared as
    # text, never run, and this one is refused in words (its method is not one the app knows).
    run = InstructionTuningRun(tiny_base(), instructions(), tiny_schedule(total_steps=10), resume=model)
    with pytest.raises(ConfigError, match="another method") as err:
        list(run.events())
    assert hidden[:10] not in str(err.value) and "\n" not in str(err.value)  # the file's text is not echoed
    assert not marker.exists()
