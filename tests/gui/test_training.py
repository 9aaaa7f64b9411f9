"""Runs started from the GUI: the live curve, pause/resume/stop, saving, opening and continuing.

Every run uses the tiny configs so it compiles and trains in seconds; the tests wait on the
controller's signals, never on the clock.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from engine.events import Finished
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS, set_tiny_settings

pytestmark = pytest.mark.timeout(400)


def _finished_with(reason):
    return lambda event: isinstance(event, Finished) and event.reason == reason


def test_a_tiny_run_draws_the_curve_and_finishes(qtbot, tab, tiny_configs):
    set_tiny_settings(tab, tiny_configs)
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=_finished_with("completed")):
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
        # Said at once, before the worker has even imported jax.
        assert tab.progress.status.text() == "Preparing data…"
        assert not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
        assert not tab.settings_panel.fields["n_layers"].isEnabled()
        assert not tab.corpus_panel.corpus_combo.isEnabled()
    qtbot.waitUntil(lambda: not tab.controller.is_running, timeout=UI_TIMEOUT_MS)

    tab.plot.flush()
    assert tab.plot.train_point_count() >= 30 // 5
    assert tab.plot.validation_point_count() >= 3  # steps 0, 10, 20, 30
    assert tab.progress.bar.text() == "step 30 / 30"
    assert "tokens per second" in tab.progress.pace.text()
    assert "Time left" not in tab.progress.pace.text()  # nothing is left of a finished run
    assert tab.sample_log.sample_count() >= 3
    assert "Step 30" in tab.sample_log.toPlainText()
    model = tab.controller.current_model
    assert model is not None and model.step == 30
    assert tab.message_bar.level() == "info"
    # Everything can be used again.
    assert tab.start_button.isEnabled() and tab.save_button.isEnabled() and tab.continue_button.isEnabled()
    assert tab.settings_panel.fields["n_layers"].isEnabled()
    assert not tab.pause_button.isEnabled() and not tab.stop_button.isEnabled()


def test_pause_holds_the_step_resume_continues_and_stop_keeps_a_model(qtbot, tab, tiny_configs, tmp_path,
                                                                       monkeypatch):
    set_tiny_settings(tab, tiny_configs, total_steps=100_000)  # far more than the test will wait for
    controller = tab.controller
    with qtbot.waitSignal(controller.progress, timeout=RUN_TIMEOUT_MS):
        tab.start_button.click()

    with qtbot.waitSignal(controller.status_changed, timeout=UI_TIMEOUT_MS,
                          check_params_cb=lambda status: status.phase == "paused"):
        tab.pause_button.click()
        assert tab.pause_button.text() == "Resume"
    paused_at = tab.progress.step
    # The run is parked at a step boundary: no progress arrives while paused.
    with qtbot.assertNotEmitted(controller.progress, wait=1500):
        pass
    assert tab.progress.step == paused_at

    with qtbot.waitSignal(controller.progress, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda progress: progress.step > paused_at):
        tab.pause_button.click()
        assert tab.pause_button.text() == "Pause"

    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=_finished_with("stopped")):
        tab.stop_button.click()
    qtbot.waitUntil(lambda: not controller.is_running, timeout=UI_TIMEOUT_MS)
    # Issue 15: "Time left: 2 min 57 s" stayed beside "Stopped at step 10."
    assert "Time left" not in tab.progress.pace.text() and "Time spent" in tab.progress.pace.text()
    assert tab.progress.status.text().startswith("Stopped at step")

    model = controller.current_model
    assert model is not None and model.step > paused_at
    assert tab.save_button.isEnabled()
    target = tmp_path / "stopped"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(tab.model_saved, timeout=UI_TIMEOUT_MS):
        tab.save_button.click()
    assert (tmp_path / "stopped.safetensors").stat().st_size > 0
    assert (tmp_path / "stopped.json").exists()


def test_save_then_open_restores_the_curve_and_continue_trains_further(qtbot, make_window, trained_model,
                                                                        tmp_path, monkeypatch):
    first = make_window().pretraining_tab
    first.controller.set_model(trained_model)
    first.plot.set_history(trained_model.history)
    saved_points = (first.plot.train_point_count(), first.plot.validation_point_count())
    assert saved_points[0] > 0 and saved_points[1] > 0

    target = tmp_path / "cats.safetensors"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(first.model_saved, timeout=UI_TIMEOUT_MS):
        first.save_button.click()

    tab = make_window().pretraining_tab  # a fresh window, as after restarting the app
    assert tab.controller.current_model is None and tab.plot.train_point_count() == 0
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(tab.model_opened, timeout=UI_TIMEOUT_MS):
        tab.open_button.click()

    opened = tab.controller.current_model
    assert opened.step == trained_model.step
    assert (tab.plot.train_point_count(), tab.plot.validation_point_count()) == saved_points
    assert tab.settings_panel.model_config(opened.model_config.vocab_size) == opened.model_config
    assert tab.settings_panel.fields["total_steps"].value() == opened.train_config.total_steps
    assert tab.message_bar.level() == "info"

    # Raise the step count and continue from where the file left off.
    tab.settings_panel.fields["total_steps"].setValue(opened.step + 10)
    assert tab.continue_button.isEnabled()
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=_finished_with("completed")):
        tab.continue_button.click()
    qtbot.waitUntil(lambda: not tab.controller.is_running, timeout=UI_TIMEOUT_MS)
    continued = tab.controller.current_model
    assert continued.step == opened.step + 10
    tab.plot.flush()
    assert tab.plot.train_point_count() > saved_points[0]
    assert continued.history.train_steps[: len(opened.history.train_steps)] == opened.history.train_steps


def test_closing_the_window_mid_run_stops_the_run(qtbot, window, tiny_configs):
    tab = window.pretraining_tab
    set_tiny_settings(tab, tiny_configs, total_steps=100_000)
    with qtbot.waitSignal(tab.controller.progress, timeout=RUN_TIMEOUT_MS):
        tab.start_button.click()
    window.close()  # must stop the run and wait for its thread; the autouse check verifies none is left
    assert tab.controller._done is None or tab.controller._done.is_set()


def test_a_model_file_can_be_opened_with_the_steps_already_done(qtbot, tab, trained_model, tmp_path):
    from engine.checkpoint import save_checkpoint

    path = save_checkpoint(trained_model, tmp_path / "done.safetensors")
    with qtbot.waitSignal(tab.model_opened, timeout=UI_TIMEOUT_MS):
        tab.open_model(path)
    # Steps equal to the model's: continuing asks the user to raise them instead of doing nothing.
    tab.settings_panel.fields["total_steps"].setValue(trained_model.step)
    tab.continue_button.click()
    assert not tab.controller.is_running
    assert "Raise Steps" in tab.message_bar.text()
