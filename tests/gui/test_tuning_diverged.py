"""Promise 3 in the tuning tabs: a run whose loss blows up says so in plain words, keeps the last good
model, and never leaves points on the plots that belong to a model it took back.

Two ways in: an absurd learning rate (what a user can cause), and a NaN loss injected at the first
step of a log window (``_compile_step`` is the engine's hook, as in
``tests/reliability/test_non_finite_tuning.py``). The second case is the one where the run rolls back
over a log point already plotted: the kept model is from step 1, while steps 2..10 had been drawn.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np
import pytest

from engine.config import replace
from tests.gui.conftest import RUN_TIMEOUT_MS

pytestmark = pytest.mark.timeout(400)

FAULT_STEP = 11  # the first step of the second full log window (log_every=10): rolls back to step 1


def _inject_nan_loss(tab, monkeypatch, fault_step: int) -> None:
    """The tab's runs report a NaN loss at ``fault_step`` (the real compiled step runs every time)."""
    make_run = tab.make_run

    def faulty_run(*args, **kwargs):
        run = make_run(*args, **kwargs)
        compile_step = run._compile_step

        def compile_faulty(step_fn, state, data, frozen, key):
            real = compile_step(step_fn, state, data, frozen, key)
            count = [int(state.step)]

            def step(state, *rest):
                state, loss = real(state, *rest)
                count[0] += 1
                return state, (loss * np.float32(np.nan) if count[0] == fault_step else loss)

            return step

        run._compile_step = compile_faulty
        return run

    monkeypatch.setattr(tab, "make_run", faulty_run)


def _plotted(curve):
    x, y = curve.getData()
    return ([] if x is None else list(x)), ([] if y is None else list(y))


def _run_until_diverged(qtbot, tab, steps: int):
    tuned = []
    tab.model_changed.connect(tuned.append)
    tab.steps_spin.setValue(steps)
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS) as finished:
        tab.start_button.click()
    event = finished.args[0]
    assert event.reason == "diverged"
    qtbot.waitUntil(lambda: not tab.busy, timeout=RUN_TIMEOUT_MS)  # the run, then the comparison
    assert tuned and tuned[-1] is tab.tuned_model  # handed on to the next stage like any tuned model
    return event


def _check_diverged_tab(tab, event) -> None:
    # Plain words in the message bar, with the way out.
    text = tab.message_bar.text()
    assert tab.message_bar.level() == "error"
    assert "learning rate" in text and "lower" in text and "kept" in text and "Traceback" not in text
    assert f"The model from step {event.step:,} is kept" in tab.progress.status.text()
    assert "Time left" not in tab.progress.pace.text()  # the run is over: no stale estimate beside it

    # The last good model is kept, finite and usable.
    kept = tab.tuned_model
    assert kept is not None and kept.step == event.step and kept.details["stopped"] == "diverged"
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(kept.params))
    assert tab.save_button.isEnabled()

    # The plots end at the kept model's step and show only numbers.
    tab.plot.flush()
    for curve in (tab.plot._train_curve, tab.plot._val_curve):
        steps, losses = _plotted(curve)
        assert all(s <= kept.step for s in steps) and all(math.isfinite(v) for v in losses)
    assert _plotted(tab.plot._train_curve)[0] == [float(s) for s in kept.history.train_steps]

    # The before-and-after comparison ran on the kept model.
    assert len(tab.comparison.rows()) == 24 and "→" in tab.comparison.summary_label.text()


def test_an_absurd_learning_rate_in_instruction_tuning_is_caught_in_words(qtbot, window, world_base, monkeypatch):
    tab = window.instruction_tab
    tab.set_base_model(world_base)
    absurd = replace(tab.default_train("full"), learning_rate=1e3, min_learning_rate=1e3, warmup_steps=0)
    monkeypatch.setattr(tab, "default_train", lambda method: absurd)
    event = _run_until_diverged(qtbot, tab, 20)
    _check_diverged_tab(tab, event)
    assert "(1000)" in tab.message_bar.text()  # names the learning rate that was too high


@pytest.mark.parametrize("stage", ["instruction", "preference"])
def test_a_nan_loss_cuts_the_curves_back_to_the_kept_model(qtbot, window, world_base, monkeypatch, stage):
    if stage == "instruction":
        tab, base = window.instruction_tab, world_base
    else:
        tab, base = window.preference_tab, dataclasses.replace(world_base, stage="instruction")
    tab.set_base_model(base)
    _inject_nan_loss(tab, monkeypatch, FAULT_STEP)
    plotted_before_the_end = []
    tab.controller.progress.connect(lambda e: plotted_before_the_end.extend(e.steps))
    event = _run_until_diverged(qtbot, tab, 20)
    assert event.step == 1  # the log point at step 10 was not vouched for: its next loss was the NaN
    assert max(plotted_before_the_end) == 10  # ...but it had been drawn
    _check_diverged_tab(tab, event)
    assert _plotted(tab.plot._train_curve)[0] == [1.0]
    assert "NaN" in tab.message_bar.text() and f"step {FAULT_STEP}" in tab.message_bar.text()
    if stage == "preference":
        assert tab.metrics_plot.steps and all(s <= event.step for s in tab.metrics_plot.steps)
