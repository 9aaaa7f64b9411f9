"""Promise 3 for the tuning stages: NaN or Inf injected into the loss or the gradients mid-run.

The tuning loop (``engine.stages.tuning_run``) keeps pretraining's design: a loss that stops being finite, or
parameters that do, end the run with ``Diverged``; the model from before the fault is kept and handed
on. The fault goes in through the run's own loss (``_batch_loss``), compiled into a second step by
``_compile_step``: at the chosen step that faulty step runs instead of the real one, on the real
optimiser, so AdamW writes NaN into every trainable number as a real overflow would. Every other step
is the real one. Instruction tuning and DPO are covered with full fine-tuning, and instruction tuning
with LoRA (whose trainable numbers are the adapters).

Whatever the step, the run must end with ``Diverged`` and a one-line message suggesting a lower
learning rate, keep parameters and optimiser state that are finite and equal, bit for bit, to the
state after an earlier step, and never hand the GUI a non-finite number to plot.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.events import Diverged, Finished, PreferenceMetrics, Sample, TrainProgress, ValidationLoss
from engine.stages.instruction_tuning import InstructionTuningRun
from engine.stages.lora import LoraConfig, merge
from engine.stages.preference_tuning import PreferenceTuningRun
from tests.engine.tuning_fixtures import instructions, preferences, tiny_base, tiny_schedule

TRAIN = tiny_schedule(learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=2, total_steps=12, log_every=4,
                      eval_every=4, sample_every=8, sample_tokens=4)
LORA = LoraConfig(rank=2, alpha=4.0)


@jax.custom_vjp
def _grads_plus(tree, value):
    return tree


def _fwd(tree, value):
    return tree, value


def _bwd(value, g):  # every gradient plus `value`: unchanged for 0, all NaN or Inf for NaN or Inf
    return jax.tree.map(lambda x: x + value, g), jnp.zeros_like(value)


_grads_plus.defvjp(_fwd, _bwd)

_COMPILED: dict = {}  # (stage, method, real or faulty) -> compiled step: the same programs for every case


class FaultAt:
    """Mixed into a tuning run: the real step everywhere, a faulty one at ``fault_step``.

    The faulty step is compiled once per stage and method and reads its fault from the data: a
    ``fault`` column of (loss addend, gradient addend) per row, so one program serves every case.
    It copies the trainable numbers before every step, so a test can tell which state was kept.
    """

    def __init__(self, *args, fault_step: int, where: str, value: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.fault_step = fault_step
        self.fault = np.float32([value, 0.0] if where == "loss" else [0.0, value])  # (loss, gradient) addends
        self.tracing_fault = False  # True while the faulty step is being traced
        self.params_before: dict[int, list[np.ndarray]] = {}  # step count -> trainable numbers at that count
        self.calls = 0

    def _batch_loss(self, params, batch, reference=None):
        if not self.tracing_fault:
            return super()._batch_loss(params, batch, reference)
        loss_addend, grads_addend = batch["fault"][0, 0], batch["fault"][0, 1]
        loss = super()._batch_loss(_grads_plus(params, grads_addend), batch, reference)
        return loss + jax.lax.stop_gradient(loss_addend)

    def _compile_step(self, step_fn, state, data, frozen, key):
        rows = next(iter(data.values())).shape[0]
        faulty_data = {**data, "fault": jnp.broadcast_to(jnp.asarray(self.fault), (rows, 2))}  # (N, 2)

        def compiled(kind, step_data):
            cache_key = (self.stage, self.method, kind)
            if cache_key not in _COMPILED:
                self.tracing_fault = kind == "faulty"

                def fresh(*args):  # a new function, so jax traces it anew instead of reusing the real trace
                    return step_fn(*args)

                # The real step keeps its own name, so its program is the one a real run compiles (cached).
                _COMPILED[cache_key] = super(FaultAt, self)._compile_step(
                    fresh if kind == "faulty" else step_fn, state, step_data, frozen, key)
                self.tracing_fault = False
            return _COMPILED[cache_key]

        real, faulty = compiled("real", data), compiled("faulty", faulty_data)
        self.trainable_structure = jax.tree.structure(state.params)
        count = [int(state.step)]

        def step(state, data, frozen, key, learning_rate):
            self.params_before[count[0]] = [np.array(x) for x in jax.tree.leaves(state.params)]
            count[0] += 1
            self.calls += 1
            if count[0] == self.fault_step:
                return faulty(state, faulty_data, frozen, key, learning_rate)
            return real(state, data, frozen, key, learning_rate)

        return step


class FaultyInstructionRun(FaultAt, InstructionTuningRun):
    pass


class FaultyPreferenceRun(FaultAt, PreferenceTuningRun):
    pass


def make_run(stage: str, method: str, **fault):
    if stage == "instruction":
        return FaultyInstructionRun(tiny_base(), instructions(), TRAIN, method=method, lora=LORA, **fault)
    sft = dataclasses.replace(tiny_base(), stage="instruction")
    return FaultyPreferenceRun(sft, preferences(), TRAIN, method=method, lora=LORA, **fault)


CASES = [
    ("instruction", "full", "loss", math.nan, 1),  # the very first step: only the starting model is known good
    ("instruction", "full", "loss", math.inf, 6),  # mid-window
    ("instruction", "full", "grads", math.nan, 4),  # the last step of a log window and an evaluation step
    ("instruction", "full", "grads", math.inf, 12),  # the last step: no later loss will show it
    ("instruction", "lora", "grads", math.nan, 7),  # LoRA: the adapters break
    ("instruction", "lora", "loss", math.inf, 12),
    ("preference", "full", "loss", math.inf, 5),  # the window's first step
    ("preference", "full", "grads", math.nan, 8),  # the last step of a window, an evaluation and a sample step
]


@pytest.mark.parametrize("stage,method,where,value,fault_step", CASES,
                         ids=[f"{s}-{m}-{w}-{v}-step{k}" for s, m, w, v, k in CASES])
def test_a_non_finite_value_mid_tuning_ends_in_diverged_and_keeps_the_last_good_model(
        stage, method, where, value, fault_step, tmp_path):
    run = make_run(stage, method, fault_step=fault_step, where=where, value=value)
    events = list(run.events())
    assert run.calls >= fault_step  # the fault really was injected

    diverged = [e for e in events if isinstance(e, Diverged)]
    assert len(diverged) == 1 and events[-1] == Finished(run.trained.step, "diverged")
    message = diverged[0].message
    assert "learning rate" in message and "lower" in message and "\n" not in message
    # The first step whose result was broken is named: the faulty one (or, for a gradient fault, the
    # next, whose loss is the first measured with the broken numbers).
    assert diverged[0].step in (fault_step, fault_step + 1)
    if where == "loss":
        assert diverged[0].step == fault_step
        assert ("not-a-number" if math.isnan(value) else "infinite") in message

    kept = run.trained
    assert kept.step < fault_step and kept.details["stopped"] == "diverged" and kept.details["steps"] == kept.step
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves((kept.params, kept.opt_state)))
    before = run.params_before[kept.step]  # the trainable numbers after step kept.step
    if method == "full":
        assert [np.asarray(x).tobytes() for x in jax.tree.leaves(kept.params)] == [x.tobytes() for x in before]
    else:  # the base merged with the adapters of that step
        adapters = jax.tree.unflatten(run.trainable_structure, before)
        expected = merge(run.base.params, adapters, LORA)
        # Two compiled programs compute this merge (the run's, inside its jitted code, and this
        # test's), and XLA may fuse W + s·A·B differently in each (it does on AVX-512 machines), so
        # the sums can differ in their last bit. One float32 rounding per element is the most that
        # can differ: a relative 1e-6 says "the same adapters merged", while the neighbouring step's
        # adapters (a whole Adam update away, ~1e-4 of the weights) would fail it.
        for a, b in zip(jax.tree.leaves(kept.params), jax.tree.leaves(expected)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)

    # Nothing non-finite reached the GUI or the history; nothing was measured on a broken model.
    plotted = [loss for e in events if isinstance(e, TrainProgress) for loss in e.losses]
    plotted += [e.loss for e in events if isinstance(e, ValidationLoss)]
    plotted += [x for e in events if isinstance(e, PreferenceMetrics) for x in (e.reward_margin, e.accuracy)]
    assert all(math.isfinite(x) for x in plotted)
    if kept.step > 0:  # the good part of the curve was shown, from the starting model's measurement on
        assert len(plotted) >= kept.step and [e for e in events if isinstance(e, ValidationLoss)][0].step == 0
    # Measurements never go past the fault. A loss fault at the first step of a window also rolls back
    # over the previous log point (that state's next loss was the broken one, so it is not vouched
    # for): what was shown there was finite, but the kept model is the one before it.
    shown = [e.step for e in events if isinstance(e, (ValidationLoss, Sample, PreferenceMetrics))]
    assert all(step < fault_step for step in shown)
    assert all(step <= kept.step for step in shown) or (where == "loss" and (fault_step - 1) % TRAIN.log_every == 0)
    h = kept.history
    assert all(math.isfinite(x) for x in h.train_losses + h.val_losses)
    assert h.train_steps == list(range(1, kept.step + 1)) and all(s <= kept.step for s in h.val_steps)

    # The kept model is worth keeping: it saves and reopens as the stage's model.
    reopened = load_checkpoint(save_checkpoint(kept, tmp_path / "kept"))
    assert reopened.step == kept.step and reopened.history == h and reopened.stage == stage


class BrokenMeasurement(InstructionTuningRun):
    """Finite parameters whose held-out loss is NaN at one evaluation (numbers that overflow)."""

    def __init__(self, *args, broken_at: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.broken_at = broken_at

    def _evaluate(self, step, params, val):
        events = super()._evaluate(step, params, val)
        return [ValidationLoss(step, math.nan)] if step == self.broken_at else events


@pytest.mark.parametrize("broken_at", [0, 8])
def test_a_non_finite_held_out_loss_is_never_plotted_and_its_model_not_kept(broken_at):
    run = BrokenMeasurement(tiny_base(), instructions(), TRAIN, broken_at=broken_at)
    events = list(run.events())
    diverged = [e for e in events if isinstance(e, Diverged)]
    assert len(diverged) == 1 and diverged[0].step == broken_at and "learning rate" in diverged[0].message
    assert all(math.isfinite(e.loss) for e in events if isinstance(e, ValidationLoss))
    assert not any(isinstance(e, Sample) and e.step >= broken_at for e in events)  # nor the broken model's sample
    kept = run.trained
    # The model measured as broken is not kept: the run goes back to the state before it.
    assert events[-1] == Finished(kept.step, "diverged") and kept.step == (0 if broken_at == 0 else 4)
    assert kept.history.val_steps == ([] if broken_at == 0 else [0, 4])
    assert all(math.isfinite(x) for x in kept.history.val_losses + kept.history.train_losses)
