"""Promise 2 in the tuning tabs: "Continue training" goes on from where a stopped or finished full
fine-tuning run ended (the engine's ``resume=``), and the curve shown goes on with it.

A LoRA run cannot be continued exactly (its adapters were merged into the model it handed on): the
button is then disabled and its tooltip says why.
"""

from __future__ import annotations

import dataclasses

import pytest

from gui.tuning_tab import LORA_CANNOT_CONTINUE
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS

pytestmark = pytest.mark.timeout(400)


def _plotted_steps(curve) -> list[int]:
    x, _y = curve.getData()
    return [] if x is None else [int(s) for s in x]


def _run(qtbot, tab, button):
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS) as finished:
        button.click()
    qtbot.waitUntil(lambda: not tab.busy, timeout=RUN_TIMEOUT_MS)  # the run, then the comparison
    return finished.args[0]


def _check_goes_on(tab, total: int, before: int) -> None:
    model = tab.tuned_model
    assert model.step == total and model.details["steps"] == total and model.details["stopped"] == "completed"
    steps = list(range(1, total + 1))
    assert model.history.train_steps == steps  # one loss per step: nothing lost, nothing twice
    tab.plot.flush()
    assert _plotted_steps(tab.plot._train_curve) == steps and max(steps) > before
    validation = _plotted_steps(tab.plot._val_curve)
    assert validation == sorted(set(validation)) == model.history.val_steps and validation[0] == 0
    assert tab.progress.status.text() == "Finished."


def test_a_stopped_instruction_run_continues_where_it_stopped(qtbot, window, world_base):
    tab = window.instruction_tab
    assert not tab.continue_button.isEnabled() and tab.continue_button.accessibleName() == "Continue training"
    tab.set_base_model(world_base)
    assert not tab.continue_button.isEnabled()  # nothing tuned yet
    tab.steps_spin.setValue(40)
    handed_on = []
    tab.model_changed.connect(handed_on.append)

    def stop_past_ten(event):
        if event.step >= 10:
            tab.controller.stop()

    tab.controller.progress.connect(stop_past_ten)
    assert _run(qtbot, tab, tab.start_button).reason == "stopped"
    tab.controller.progress.disconnect(stop_past_ten)
    stopped = tab.tuned_model
    assert 10 <= stopped.step < 40 and tab.continue_button.isEnabled()
    assert "Time left" not in tab.progress.pace.text() and "Time spent" in tab.progress.pace.text()
    assert f"now at step {stopped.step:,}" in tab.continue_button.toolTip()

    # Changed pairs: the engine refuses in words before any training, and the run stays as it was.
    tab.pairs.table.selectRow(5)
    tab.pairs.delete_selected()
    with qtbot.waitSignal(tab.controller.failed, timeout=RUN_TIMEOUT_MS) as failed:
        tab.continue_button.click()
    assert "pairs have changed" in failed.args[0] and "Traceback" not in failed.args[0]
    qtbot.waitUntil(lambda: not tab.controller.is_running, timeout=UI_TIMEOUT_MS)
    assert tab.tuned_model is stopped and tab.message_bar.level() == "error"
    assert _plotted_steps(tab.plot._train_curve) == stopped.history.train_steps
    tab.pairs.undo_button.click()

    assert _run(qtbot, tab, tab.continue_button).reason == "completed"
    _check_goes_on(tab, 40, stopped.step)
    assert handed_on[-1] is tab.tuned_model and len(handed_on) == 2  # the stopped model, then the continued one
    assert len(tab.comparison.rows()) == 24  # compared with the model it started from, as after Start

    # Finished at all its steps: Continue asks for more steps instead of starting a run.
    tab.continue_button.click()
    assert not tab.controller.is_running and "Raise Steps" in tab.message_bar.text()


def test_a_finished_dpo_run_continues_with_more_steps(qtbot, window, world_base):
    tab = window.preference_tab
    tab.set_base_model(dataclasses.replace(world_base, stage="instruction"))
    tab.steps_spin.setValue(10)
    assert _run(qtbot, tab, tab.start_button).reason == "completed"
    finished = tab.tuned_model
    metrics_before = list(tab.metrics_plot.steps)
    assert finished.step == 10 and metrics_before[-1] == 10
    tab.steps_spin.setValue(20)
    assert _run(qtbot, tab, tab.continue_button).reason == "completed"
    _check_goes_on(tab, 20, 10)
    # The margin and accuracy curve goes on too: the earlier figures stay, new ones come after them.
    steps = tab.metrics_plot.steps
    assert steps[:len(metrics_before)] == metrics_before and steps[-1] == 20 and steps == sorted(set(steps))


def test_continue_is_disabled_for_lora_and_says_why(window, world_base):
    tab = window.instruction_tab
    tab.set_base_model(world_base)
    lora_tuned = dataclasses.replace(world_base, stage="instruction", step=30,
                                     details={"method": "lora", "stopped": "stopped", "steps": 30})
    tab.restore_models(world_base, lora_tuned)
    assert tab.tuned_model is lora_tuned
    assert not tab.continue_button.isEnabled() and tab.continue_button.toolTip() == LORA_CANNOT_CONTINUE
    assert "LoRA" in LORA_CANNOT_CONTINUE and "cannot be continued" in LORA_CANNOT_CONTINUE

    full_tuned = dataclasses.replace(lora_tuned, details={"method": "full", "stopped": "stopped", "steps": 30})
    tab.restore_models(world_base, full_tuned)
    assert tab.continue_button.isEnabled()
    tab.lora_radio.setChecked(True)  # a LoRA run cannot continue a fully fine-tuned one either
    assert not tab.continue_button.isEnabled() and "Full fine-tuning" in tab.continue_button.toolTip()
    tab.full_radio.setChecked(True)
    assert tab.continue_button.isEnabled()
