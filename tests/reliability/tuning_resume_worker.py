"""One process of the tuning stages' resume-across-a-restart test (promise 2).

    python -m tests.reliability.tuning_resume_worker first  FOLDER  # saves the start models; per stage:
                                                                    # 2N steps in one go, then N steps and save
    python -m tests.reliability.tuning_resume_worker second FOLDER  # a fresh process: open the saves, run N more

Both stages are tuned with full fine-tuning, from models read back from disk: instruction tuning from
a (tiny, random) pretrained model, DPO from an instruction-tuned one, which is also its frozen
reference. Results go to FOLDER/<stage>-<name>.npz (every parameter and optimiser array, in tree
order) and FOLDER/<stage>-<name>.json (step, loss history, details and what the run's events showed):
plain arrays and JSON, nothing pickled.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

N = 6  # steps before the restart; the whole run is 2N
STAGES = ("instruction", "preference")


def schedule():
    from tests.engine.tuning_fixtures import tiny_schedule

    # Sampling on, so the resumed run is seen not to write a second "step 0" sample.
    return tiny_schedule(total_steps=2 * N, log_every=3, eval_every=3, sample_every=6, sample_tokens=4, seed=7)


def start_models(folder: Path) -> None:
    """The two models the stages start from, saved as a user's files would be."""
    from engine.checkpoint import save_checkpoint
    from tests.engine.tuning_fixtures import tiny_base

    save_checkpoint(tiny_base(seed=1), folder / "pretrained")
    # The DPO reference: a model of the instruction stage (its weights need not be tuned for this test).
    save_checkpoint(dataclasses.replace(tiny_base(seed=2), stage="instruction"), folder / "instruction-tuned")


def make_run(stage: str, folder: Path, **options):
    from engine.checkpoint import load_checkpoint
    from engine.stages.instruction_tuning import InstructionTuningRun
    from engine.stages.preference_tuning import PreferenceConfig, PreferenceTuningRun
    from tests.engine.tuning_fixtures import instructions, preferences

    if stage == "instruction":
        return InstructionTuningRun(load_checkpoint(folder / "pretrained.safetensors"), instructions(), schedule(),
                                    **options)
    return PreferenceTuningRun(load_checkpoint(folder / "instruction-tuned.safetensors"), preferences(), schedule(),
                               PreferenceConfig(beta=0.5, nll_weight=1.0), **options)


def dump(run, events: list, folder: Path, name: str) -> None:
    import jax

    from engine.events import PreferenceMetrics, Sample, TrainProgress, ValidationLoss

    model = run.trained
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves((model.params, model.opt_state))]
    np.savez(folder / f"{name}.npz", *leaves)
    shown = {
        "progress_steps": [s for e in events if isinstance(e, TrainProgress) for s in e.steps],
        "progress_losses": [x for e in events if isinstance(e, TrainProgress) for x in e.losses],
        "validation_steps": [e.step for e in events if isinstance(e, ValidationLoss)],
        "metric_steps": [e.step for e in events if isinstance(e, PreferenceMetrics)],
        "sample_steps": [e.step for e in events if isinstance(e, Sample)],
        "finished": [events[-1].step, events[-1].reason],
        "eta": [e.eta_seconds for e in events if isinstance(e, TrainProgress)],
    }
    (folder / f"{name}.json").write_text(json.dumps({
        "step": model.step, "stage": model.stage, "history": model.history.to_json(), "details": model.details,
        "fingerprint": model.corpus_fingerprint, "events": shown}))


def first(folder: Path) -> None:
    from engine.checkpoint import save_checkpoint
    from engine.events import RunControl, TrainProgress

    start_models(folder)
    for stage in STAGES:
        whole = make_run(stage, folder)
        dump(whole, list(whole.events()), folder, f"{stage}-whole")

        control = RunControl()
        half = make_run(stage, folder, control=control)
        events = []
        for event in half.events():
            events.append(event)
            if isinstance(event, TrainProgress) and event.step == N:
                control.stop()  # as the Stop button does: the run ends at this step boundary
        assert half.trained.step == N, half.trained.step
        save_checkpoint(half.trained, folder / f"{stage}-half")
        dump(half, events, folder, f"{stage}-half-result")


def second(folder: Path) -> None:
    from engine.checkpoint import load_checkpoint

    for stage in STAGES:
        stopped = load_checkpoint(folder / f"{stage}-half.safetensors")
        resumed = make_run(stage, folder, resume=stopped)
        dump(resumed, list(resumed.events()), folder, f"{stage}-resumed")


if __name__ == "__main__":
    {"first": first, "second": second}[sys.argv[1]](Path(sys.argv[2]))
