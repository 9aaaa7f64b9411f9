"""The training loop the three stages share (``engine.stages.loop``), on a stand-in step.

The step here is not a model: it adds 1 to a parameter and reports a loss the test chooses, so each
test can say exactly when hooks run, which state a rollback keeps and what reaches the events. The
stages' own tests (pretraining, instruction tuning, DPO, the non-finite and resume suites) run the
same loop on real models.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import TrainConfig
from engine.events import Diverged, RunControl, Sample, Status, TrainProgress, ValidationLoss
from engine.train import TrainState
from engine.stages.loop import TrainingLoop

LIMIT = 10.0  # the stand-in's divergence limit: a loss above it is "worse than random guessing"


def schedule(total_steps: int = 20, log_every: int = 5) -> TrainConfig:
    return TrainConfig(total_steps=total_steps, log_every=log_every, eval_every=5, warmup_steps=0,
                       learning_rate=1e-3, min_learning_rate=1e-4)


def make_loop(train: TrainConfig, losses=lambda step: 1.0, control: RunControl | None = None, start_step: int = 0):
    """A loop whose step k (1-based) adds 1 to ``w`` and reports ``losses(k)``."""
    def step(state, learning_rate):
        k = int(state.step) + 1
        return TrainState(state.step + 1, {"w": state.params["w"] + 1.0}, state.opt_state), jnp.float32(losses(k))

    state = TrainState(jnp.asarray(start_step, jnp.int32), {"w": jnp.full(3, float(start_step))}, ())
    published = []
    loop = TrainingLoop(step, state, train, control or RunControl(), tokens_per_step=8, divergence_limit=LIMIT,
                        start_step=start_step, publish=lambda at, history: published.append(int(at.step)) or at)
    return loop, published


def recorder(calls: list, make=lambda step: []):
    """A hook that notes (step, w) of every call and returns ``make(step)``."""
    def hook(step, params):
        calls.append((step, float(params["w"][0])))
        return make(step)
    return hook


def log_points(start: int, total: int, log_every: int) -> list[int]:
    return [s for s in range(start + 1, total + 1) if s == start + 1 or s % log_every == 0 or s == total]


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(total=st.integers(1, 40), log_every=st.integers(1, 12), every=st.integers(1, 15), start=st.integers(0, 39),
       at_start=st.booleans())
def test_a_hook_runs_at_the_log_points_its_every_divides_and_at_the_last_step(total, log_every, every, start, at_start):
    start = min(start, total - 1)
    loop, _ = make_loop(schedule(total, log_every), start_step=start)
    calls: list = []
    loop.add_hook(recorder(calls), every=every, at_start=at_start)
    events = list(loop.events())
    expected = [s for s in log_points(start, total, log_every) if s % every == 0 or s == total]
    # The starting model's call comes at the first log point, on the parameters it started with.
    assert calls == [(start, float(start))] * at_start + [(s, float(s)) for s in expected]
    progress = [e for e in events if isinstance(e, TrainProgress)]
    assert [p.step for p in progress] == log_points(start, total, log_every)
    assert [s for p in progress for s in p.steps] == list(range(start + 1, total + 1))  # every step, once
    assert loop.reason == "completed" and loop.step == total and loop.history.train_steps == list(range(start + 1,
                                                                                                          total + 1))


def test_hooks_run_in_the_order_added_and_their_events_follow_each_progress_point():
    loop, published = make_loop(schedule(total_steps=10, log_every=5))
    order: list = []
    loop.add_hook(lambda step, p: order.append(("loss", step)) or [ValidationLoss(step, 1.0)], every=5, at_start=True)
    loop.add_hook(lambda step, p: order.append(("sample", step)) or [Sample(step, "", "text")], every=10,
                  at_start=True)
    events = [e for e in loop.events() if not isinstance(e, Status)]
    assert [(type(e).__name__, e.step) for e in events] == [
        ("TrainProgress", 1), ("ValidationLoss", 0), ("Sample", 0),
        ("TrainProgress", 5), ("ValidationLoss", 5),
        ("TrainProgress", 10), ("ValidationLoss", 10), ("Sample", 10)]
    assert order == [("loss", 0), ("sample", 0), ("loss", 5), ("loss", 10), ("sample", 10)]
    # model_so_far: the state before the latest log point, vouched for by the loss after it.
    assert [e.model_so_far for e in events if isinstance(e, TrainProgress)][0] is None
    assert published == [1, 5]


def test_a_loss_worse_than_random_rolls_back_to_the_state_it_vouched_for():
    loop, _ = make_loop(schedule(total_steps=20, log_every=5), losses=lambda step: 50.0 if step == 13 else 1.0)
    rolled: list = []
    loop.on_rollback(lambda kept, bad: rolled.append((kept, bad)))
    calls: list = []
    loop.add_hook(recorder(calls), every=5)
    events = list(loop.events())
    # Step 13's loss was measured on the state step 12 left; step 11's (fine) vouches for the state at step 10.
    assert events[-1] == Diverged(13, events[-1].message) and "step 13" in events[-1].message
    assert "50" in events[-1].message and "learning rate" in events[-1].message
    assert loop.reason == "diverged" and loop.step == 10 and float(loop.state.params["w"][0]) == 10.0
    assert rolled == [(10, 13)] and loop.history.train_steps == list(range(1, 11))
    assert calls == [(5, 5.0), (10, 10.0)]  # nothing ran on the broken model
    assert all(math.isfinite(x) and x <= LIMIT for e in events if isinstance(e, TrainProgress) for x in e.losses)


def test_a_non_finite_measurement_is_never_shown_and_its_model_not_kept():
    loop, _ = make_loop(schedule(total_steps=20, log_every=5))
    loop.add_hook(lambda step, p: [ValidationLoss(step, math.nan if step == 15 else 1.0)], every=5)
    later: list = []
    loop.add_hook(recorder(later), every=5)
    events = list(loop.events())
    shown = [e.step for e in events if isinstance(e, ValidationLoss)]
    assert shown == [5, 10] and later == [(5, 5.0), (10, 10.0)]  # the broken step stops the hooks after it
    assert events[-1].step == 15 and isinstance(events[-1], Diverged)
    assert loop.step == 10 and float(loop.state.params["w"][0]) == 10.0 and loop.history.val_steps == []


def test_a_guard_sentence_ends_the_run_and_keeps_the_last_good_model():
    loop, _ = make_loop(schedule(total_steps=30, log_every=5))
    loop.add_guard(lambda step: "It stopped answering." if step == 20 else None)
    events = list(loop.events())
    assert events[-1] == Diverged(20, "It stopped answering.")
    assert loop.reason == "diverged" and loop.step == 15 and np.all(np.asarray(loop.state.params["w"]) == 15.0)


def test_a_stop_ends_at_a_log_point_where_a_when_hook_still_runs():
    control = RunControl()

    def losses(step):  # the Stop button, pressed while step 23 runs
        if step == 23:
            control.stop()
        return 1.0

    loop, _ = make_loop(schedule(total_steps=100, log_every=10), losses=losses, control=control)
    seen: list = []
    loop.add_hook(recorder(seen), when=lambda step: control.stop_requested)
    events = list(loop.events())
    assert [e.step for e in events if isinstance(e, TrainProgress)] == [1, 10, 20, 23]
    assert seen == [(23, 23.0)] and loop.reason == "stopped" and loop.step == 23
