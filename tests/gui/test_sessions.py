"""Sessions in the app: Save → Open restores every tab, the autosave is offered and restored, a damaged
file changes nothing, closing the window mid-run stops the worker and autosaves the model so far, and an
autosave during a pretraining, instruction-tuning or DPO run carries the model that run vouched for.

Models are tiny (the session fixtures' one-layer, width-32 models); the tests wait on signals.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from engine.data.curation import CurationSettings
from engine.evaluation.benchmark import DONT_KNOW, RIGHT, GradedAnswer, Rating, load_ratings, ratings_path
from engine.events import PreferenceMetrics
from engine.session.archive import SessionContents, autosave_path, discard_autosave, open_session, save_session
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, LossHistory
from gui import settings
from gui.preference_tab import votes_path
from gui.session_controller import greet_or_offer_restore
from gui.welcome_dialog import WELCOME_SHOWN, WelcomeDialog
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS, set_tiny_settings

pytestmark = pytest.mark.timeout(400)


@pytest.fixture(autouse=True)
def no_autosave_left():
    """Windows autosave when they close; no test may find another test's autosave, votes or ratings."""
    discard_autosave()
    kept = {path: path.read_bytes() if path.exists() else None for path in (votes_path(), ratings_path())}
    yield
    discard_autosave()
    for path, data in kept.items():  # restoring a session writes the votes and ratings files
        path.unlink(missing_ok=True)
        if data is not None:
            path.write_bytes(data)


def _tuned(base, stage: str, steps: int):
    """A model as a tuning stage would hand it on: its own stage, step count and loss curve."""
    history = LossHistory(list(range(0, steps, 5)), [2.0 - 0.01 * s for s in range(0, steps, 5)], [steps], [1.5])
    return dataclasses.replace(base, stage=stage, step=steps, history=history)


def _idle(window):
    return not (window.data_tab.busy or window.pretraining_tab.busy or window.session.busy)


def _same_params(a, b) -> bool:
    import jax

    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params), strict=True))


def test_save_then_open_restores_every_tab(qtbot, make_window, trained_model, world_base, tmp_path):
    first = make_window()
    # Data: a curation the defaults do not have.
    curation = CurationSettings(cutoff_year=1990, drop_duplicates=True, seed=3)
    first.data_tab.curate_with(curation)
    # Pretraining: a trained model with its curve.
    first.pretraining_tab.show_model(trained_model)
    # Instruction tuning: an edited table, a base and a tuned model.
    instruction = first.instruction_tab
    instruction.pairs.add_row({"prompt": "What colour is the sky on Zarn?", "completion": "Green."})
    instruction.lora_radio.setChecked(True)
    instruction.steps_spin.setValue(37)
    tuned = _tuned(world_base, STAGE_INSTRUCTION, 40)
    instruction.restore_models(world_base, tuned)
    # Preference tuning: a vote, DPO settings, a tuned model, its held-out curve.
    preference = first.preference_tab
    assert preference.base_model is tuned  # handed on, as after a real run
    preference.add_vote("Is Zarn real?", "Only in this world.", "Yes, obviously.")
    preference.beta_spin.setValue(0.35)
    preference.anchor_spin.setValue(2.5)
    preferred = _tuned(world_base, STAGE_PREFERENCE, 20)
    preference.restore_models(tuned, preferred)
    preference.metrics_plot.add(PreferenceMetrics(10, 0.25, 0.75))
    # Evaluation: a model from a file, unticked; graded answers; a rating.
    shelf, evaluation = first.model_shelf, first.evaluation_tab
    shelf.put_opened_model(world_base, str(tmp_path / "mine.safetensors"), "mine")
    evaluation.set_ticked("mine", False)
    answers = [GradedAnswer("mine", "Capital of Zarn?", "Olo", "geography", "Olo.", RIGHT, True, 0.8),
               GradedAnswer("mine", "Leader of Zarn?", "Ama", "politics", "I don't know.", DONT_KNOW, True,
                            float("nan"))]
    evaluation.show_results(answers)
    rating = Rating("Capital of Zarn?", "mine", "Olo.", 4)
    evaluation.rating_panel.ratings = [rating]
    first.show_stage("preference")
    qtbot.waitUntil(lambda: _idle(first), timeout=UI_TIMEOUT_MS)
    rows = {"instruction": instruction.pairs.rows(), "preference": preference.pairs.rows()}
    shelf_names = shelf.names()

    path = tmp_path / "lesson"
    with qtbot.waitSignal(first.session.saved, timeout=UI_TIMEOUT_MS) as saved:
        first.session.save(path)
    assert saved.args[0].endswith("lesson.tesession")
    assert "Saved the session" in first.preference_tab.message_bar.text()

    second = make_window()
    with qtbot.waitSignal(second.session.opened, timeout=UI_TIMEOUT_MS):
        second.session.open(saved.args[0])
    qtbot.waitUntil(lambda: _idle(second) and second.data_tab.state.settings == curation, timeout=UI_TIMEOUT_MS)

    assert second.tabs.currentWidget() is second.preference_tab
    assert "Opened the session 'lesson.tesession'" in second.preference_tab.message_bar.text()
    # Data
    assert second.data_tab.state.source.request == first.data_tab.state.source.request
    assert second.data_tab.corpus.fingerprint == first.data_tab.corpus.fingerprint
    assert not second.data_tab.undo_stack.canUndo()  # the history starts afresh
    # Pretraining: the same model, the same curve points, the same settings.
    model = second.pretraining_tab.controller.current_model
    assert model.step == trained_model.step and _same_params(model, trained_model)
    assert model.history == trained_model.history
    second.pretraining_tab.plot.flush()
    assert second.pretraining_tab.plot.train_point_count() == len(trained_model.history.train_steps)
    assert second.pretraining_tab.plot.validation_point_count() == len(trained_model.history.val_steps)
    assert second.pretraining_tab.settings_panel.model_config() == first.pretraining_tab.settings_panel.model_config()
    # Instruction tuning
    instruction2 = second.instruction_tab
    assert instruction2.pairs.rows() == rows["instruction"]
    assert instruction2.method == "lora" and instruction2.steps_spin.value() == 37
    assert instruction2.base_model.step == world_base.step and instruction2.tuned_model.step == 40
    assert instruction2.tuned_model.history == tuned.history
    assert instruction2.plot.train_point_count() == len(tuned.history.train_steps)
    # Preference tuning: the vote is a row again, and the held-out curve is back.
    preference2 = second.preference_tab
    assert preference2.pairs.rows() == rows["preference"]
    assert preference2.votes() == [{"prompt": "Is Zarn real?", "chosen": "Only in this world.",
                                    "rejected": "Yes, obviously.", "kind": "your vote"}]
    assert preference2.beta_spin.value() == pytest.approx(0.35)
    assert preference2.anchor_spin.value() == pytest.approx(2.5)
    assert preference2.base_model.step == 40 and preference2.tuned_model.step == 20
    assert (preference2.metrics_plot.steps, preference2.metrics_plot.margins) == ([10], [0.25])
    # Evaluation: the same models on the shelf, the same one unticked, the same answers and ratings.
    assert second.model_shelf.names() == shelf_names
    assert [name for name, _m in evaluation.models_under_test()] == \
        [name for name, _m in second.evaluation_tab.models_under_test()]
    assert second.evaluation_tab.results[0] == answers[0]
    assert np.isnan(second.evaluation_tab.results[1].confidence)
    assert second.evaluation_tab.answers_table.row_count() == 2
    assert rating in load_ratings() and rating in second.evaluation_tab.rating_panel.ratings


def test_the_autosave_is_offered_at_the_next_start_and_restores(qtbot, make_window, trained_model):
    first = make_window()
    first.pretraining_tab.show_model(trained_model)
    with qtbot.waitSignal(first.session.autosaved, timeout=UI_TIMEOUT_MS):
        assert first.session.autosave_now()
    assert not first.session.autosave_now()  # nothing changed since: no second write

    settings.write(WELCOME_SHOWN, 1)  # not the first start, which shows the welcome screen instead
    second = make_window()
    offer = greet_or_offer_restore(second)
    assert offer is not None and offer.isVisible()
    assert re.fullmatch(r"Restore the session from \d\d:\d\d\?", offer.text())
    assert second.findChild(WelcomeDialog) is None  # never two dialogs at once
    with qtbot.waitSignal(second.session.opened, timeout=UI_TIMEOUT_MS):
        offer.restore_button.click()
    assert second.pretraining_tab.controller.current_model.step == trained_model.step
    assert "Restored the session from" in second.tabs.currentWidget().message_bar.text()

    # Start afresh removes it; a damaged autosave is never offered.
    third = make_window()
    offer = greet_or_offer_restore(third)
    offer.afresh_button.click()
    assert not autosave_path().exists()
    autosave_path().write_bytes(b"PK\x03\x04 half a session")
    assert greet_or_offer_restore(make_window()) is None


def test_the_first_start_gets_the_welcome_not_the_offer(qtbot, make_window, trained_model):
    save_session(SessionContents(checkpoints={"pretraining": trained_model}), autosave_path())
    window = make_window()
    dialog = greet_or_offer_restore(window)
    assert isinstance(dialog, WelcomeDialog)
    dialog.reject()


def test_a_damaged_session_says_why_and_keeps_the_work(qtbot, make_window, trained_model, tmp_path):
    window = make_window()
    window.pretraining_tab.show_model(trained_model)
    rows = window.instruction_tab.pairs.rows()

    cut = tmp_path / "cut.tesession"
    save_session(SessionContents(checkpoints={"pretraining": trained_model}), cut)
    cut.write_bytes(cut.read_bytes()[:-200])  # cut short, as by a full disk or a broken copy
    with qtbot.waitSignal(window.session.failed, timeout=UI_TIMEOUT_MS) as failed:
        window.session.open(cut)
    assert "cut.tesession" in failed.args[0]

    # A complete file whose tab state is nonsense is refused before any tab changes.
    odd = tmp_path / "odd.tesession"
    save_session(SessionContents(tabs={"instruction": {"rows": "not a table"}}), odd)
    window.show_stage("evaluation")
    with qtbot.waitSignal(window.session.failed, timeout=UI_TIMEOUT_MS) as failed:
        window.session.open(odd)
    bar = window.evaluation_tab.message_bar
    assert bar.level() == "error" and "instruction tuning settings are damaged" in bar.text()
    assert "Traceback" not in bar.text()
    assert window.pretraining_tab.controller.current_model is trained_model
    assert window.instruction_tab.pairs.rows() == rows


def test_closing_mid_run_stops_the_worker_and_autosaves_the_model_so_far(qtbot, make_window, tiny_configs):
    window = make_window()
    tab = window.pretraining_tab
    set_tiny_settings(tab, tiny_configs, total_steps=100_000)  # far more than the test waits for
    with qtbot.waitSignal(tab.controller.progress, timeout=RUN_TIMEOUT_MS):
        tab.start_button.click()
    window.close()
    saved = open_session(autosave_path())
    model = saved.checkpoints["pretraining"]
    assert 0 < model.step < 100_000 and model.history.train_steps
    assert saved.tabs["pretraining"]["model"] == "pretraining"
    # The thread check of tests/conftest.py verifies that the worker has ended.


def test_an_autosave_mid_run_keeps_the_model_the_run_vouched_for(qtbot, make_window, tiny_configs):
    """Promise 4: the timer's autosave during a run carries the run's model so far, clearly named, so a
    killed app loses at most a log interval (tests/reliability/test_app_kill.py kills the real app)."""
    window = make_window()
    tab = window.pretraining_tab
    set_tiny_settings(tab, tiny_configs, total_steps=100_000)
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.controller.model_so_far is not None, timeout=RUN_TIMEOUT_MS)
    so_far = tab.controller.model_so_far
    assert tab.controller.current_model is None  # the run hands over its own model only when it ends
    with qtbot.waitSignal(window.session.autosaved, timeout=UI_TIMEOUT_MS):
        assert window.session.autosave_now()
    saved = open_session(autosave_path())
    name = saved.tabs["pretraining"]["model"]
    assert name == f"pretraining-interrupted-at-step-{so_far.step}"
    assert saved.tabs["pretraining"]["interrupted_at_step"] == so_far.step > 0
    model = saved.checkpoints[name]
    assert _same_params(model, so_far) and model.opt_state is not None
    assert model.history.train_steps[-1] == so_far.step  # its curve ends where its parameters are
    # A newer model so far makes the next tick autosave again.
    qtbot.waitUntil(lambda: tab.controller.model_so_far.step > so_far.step, timeout=RUN_TIMEOUT_MS)
    assert window.session.changed_since_save
    window.close()  # stops the run: the closing autosave holds the stopped run's own model
    assert open_session(autosave_path()).tabs["pretraining"]["model"] == "pretraining"


def _quick_tuning_schedule(monkeypatch, tab) -> None:
    """The tab's own schedule, made quick for a test: small batches, a log point every 2 steps, no samples."""
    from engine.config import replace

    own = tab.default_train
    monkeypatch.setattr(tab, "default_train", lambda method: replace(
        own(method), batch_size=4, log_every=2, eval_every=4, sample_every=0, warmup_steps=2))


def _plotted_steps(curve) -> list[int]:
    x, _y = curve.getData()
    return [] if x is None else [int(s) for s in x]


def _same_tree(a, b) -> bool:
    import jax

    leaves_a, leaves_b = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(leaves_a) == len(leaves_b) and all(np.array_equal(np.asarray(x), np.asarray(y))
                                                  for x, y in zip(leaves_a, leaves_b))


@pytest.mark.parametrize("stage", ["instruction", "preference"])
def test_a_tuning_run_autosaved_mid_run_comes_back_after_a_crash(qtbot, make_window, world_base, monkeypatch,
                                                                 stage):
    """Promise 4 for the tuning runs: an autosave during an instruction-tuning or DPO run carries the run's
    model so far, and a window started after the app died restores it as the tab's tuned model, with its
    curve, its optimiser state and Continue training."""
    first = make_window()
    first.session.timer.stop()  # only this test's own autosave: the run's model must stay the one checked
    tab = getattr(first, f"{stage}_tab")
    words = {"instruction": "instruction tuning", "preference": "preference tuning"}[stage]
    _quick_tuning_schedule(monkeypatch, tab)
    tab.set_base_model(world_base if stage == "instruction" else dataclasses.replace(world_base, stage="instruction"))
    tab.steps_spin.setValue(100_000)  # far more than the test waits for
    first.show_stage(stage)
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.controller.model_so_far is not None, timeout=RUN_TIMEOUT_MS)
    so_far = tab.controller.model_so_far
    assert so_far.stage == stage and so_far.opt_state is not None and so_far.details["method"] == "full"
    with qtbot.waitSignal(first.session.autosaved, timeout=UI_TIMEOUT_MS):
        assert first.session.autosave_now()
    saved = open_session(autosave_path())
    name = f"{stage}-interrupted-at-step-{so_far.step}"
    assert saved.tabs[stage]["tuned"] == name and saved.tabs[stage]["interrupted_at_step"] == so_far.step > 0
    model = saved.checkpoints[name]
    assert _same_params(model, so_far) and _same_tree(model.opt_state, so_far.opt_state)
    assert model.history.train_steps == list(range(1, so_far.step + 1))  # its curve ends where it is
    assert all(s <= so_far.step for s in model.history.val_steps) and model.history.val_steps[0] == 0
    if stage == "preference":  # the held-out figures too: none measured on a later model
        assert saved.tabs[stage]["held_out"]["steps"] and max(saved.tabs[stage]["held_out"]["steps"]) <= so_far.step
    # A newer model so far makes the next tick autosave again.
    qtbot.waitUntil(lambda: tab.controller.model_so_far.step > so_far.step, timeout=RUN_TIMEOUT_MS)
    assert first.session.changed_since_save

    # The app dies: nothing more is saved (a closing window would autosave the stopped run's own model).
    first.session.autosave_enabled = False
    first.close()
    settings.write(WELCOME_SHOWN, 1)
    second = make_window()
    offer = greet_or_offer_restore(second)
    assert f"with the {words} run that was still going (its model at step {so_far.step:,})" \
        in offer.informativeText()
    with qtbot.waitSignal(second.session.opened, timeout=UI_TIMEOUT_MS):
        offer.restore_button.click()
    tab = getattr(second, f"{stage}_tab")
    restored = tab.tuned_model
    assert restored.step == so_far.step and restored.stage == stage
    assert _same_params(restored, so_far) and _same_tree(restored.opt_state, so_far.opt_state)
    tab.plot.flush()
    assert _plotted_steps(tab.plot._train_curve) == model.history.train_steps  # its curve, drawn
    assert _plotted_steps(tab.plot._val_curve) == model.history.val_steps
    assert tab.continue_button.isEnabled() and f"now at step {so_far.step:,}" in tab.continue_button.toolTip()
    assert second.tabs.currentWidget() is tab
    assert (f"{words.capitalize()} was still running then: its model from step {so_far.step:,} is back"
            in tab.message_bar.text()) and "Continue training goes on from there" in tab.message_bar.text()
    assert tab.progress.status.text() == f"The run was interrupted; its model from step {so_far.step:,} is back."


def test_a_tuning_runs_model_so_far_is_what_it_vouches_for():
    """The engine's half of the promise: the model a tuning run publishes at each log point is its state at
    the previous log point, which continues exactly (full fine-tuning), or the merged plain model (LoRA)."""
    from engine.events import Finished, TrainProgress
    from engine.stages.instruction_tuning import InstructionTuningRun
    from tests.engine.tuning_fixtures import instructions, tiny_base, tiny_schedule

    base, train = tiny_base(seed=1), tiny_schedule(total_steps=12, log_every=3, eval_every=3)
    whole = InstructionTuningRun(base, instructions(), train)
    published = [e.model_so_far for e in whole.events() if isinstance(e, TrainProgress)]
    assert published[0] is None  # the first log point vouches only for the model the run started from
    so_far = published[1:]
    assert [m.step for m in so_far] == [1, 3, 6, 9]  # each the previous log point's state
    for model in so_far:
        assert model.history.train_steps == list(range(1, model.step + 1))
        assert model.history.val_steps == [s for s in (0, 3, 6, 9) if s <= model.step]
        assert model.details["steps"] == model.step and model.details["stopped"] == "interrupted"
        assert model.corpus_fingerprint == whole.trained.corpus_fingerprint
    # Continued from the one published at step 6, the run ends exactly as the uninterrupted one.
    resumed = InstructionTuningRun(base, instructions(), train, resume=so_far[2])
    assert list(resumed.events())[-1] == Finished(12, "completed")
    import jax

    for a, b in zip(jax.tree.leaves((whole.trained.params, whole.trained.opt_state)),
                    jax.tree.leaves((resumed.trained.params, resumed.trained.opt_state)), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6, atol=1e-7)
    assert _same_params(resumed.trained, whole.trained)
    assert _same_tree(resumed.trained.opt_state, whole.trained.opt_state)
    assert resumed.trained.history == whole.trained.history

    # LoRA: a plain model like the one the run hands on at its end (merged adapters, no optimiser state).
    lora = InstructionTuningRun(base, instructions(), tiny_schedule(total_steps=6, log_every=3), "lora")
    published = [e.model_so_far for e in lora.events() if isinstance(e, TrainProgress)]
    assert [m.step for m in published if m is not None] == [1, 3]
    model = published[-1]
    assert model.opt_state is None and model.details["method"] == "lora"
    assert jax.tree.structure(model.params) == jax.tree.structure(base.params)
    assert not _same_params(model, base)  # the adapters' change is in it
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(model.params))


def test_a_session_naming_files_here_asks_before_reading_them(qtbot, make_window, trained_model, tmp_path,
                                                                monkeypatch):
    """A session can name any folder: opening one someone else made reads none unasked (issue 16)."""
    import engine.data.sources
    import gui.widgets.corpus_panel
    from PySide6.QtWidgets import QMessageBox

    folder = tmp_path / "someone's notes"
    folder.mkdir()
    (folder / "notes.txt").write_text("The otters of Zarn swim at dawn. " * 40)
    text_file = tmp_path / "story.txt"
    text_file.write_text("Once upon a time in Zarn. " * 40)
    reads = []
    for module, name in ((engine.data.sources, "read_folder"), (gui.widgets.corpus_panel, "read_text_file")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda path, *a, _real=real, **k: reads.append(str(path)) or _real(path, *a, **k))
    source = {"kind": "folder", "value": str(folder), "encoding": None, "text_field": "text", "world": None}
    path = save_session(SessionContents(checkpoints={"pretraining": trained_model}, tabs={
        "data": {"source": source}, "pretraining": {"model": "pretraining", "corpus": f"file:{text_file}"}}),
        tmp_path / "shared.tesession")

    def ask(window) -> QMessageBox:
        window.session.open(path)
        qtbot.waitUntil(lambda: window.session.read_files_box is not None, timeout=UI_TIMEOUT_MS)
        box = window.session.read_files_box
        assert box.isVisible() and "shared.tesession" in box.text()
        assert str(folder) in box.informativeText() and str(text_file) in box.informativeText()
        return box

    # Open without them: the session's model comes back, the named files are never read.
    window = make_window()
    qtbot.waitUntil(lambda: _idle(window), timeout=UI_TIMEOUT_MS)
    data_before = window.data_tab.state.source.request
    box = ask(window)
    assert box.defaultButton().text() == "Open without them"  # Enter never reads someone's choice of folder
    with qtbot.waitSignal(window.session.opened, timeout=UI_TIMEOUT_MS):
        next(b for b in box.buttons() if b.text() == "Open without them").click()
    qtbot.waitUntil(lambda: _idle(window), timeout=UI_TIMEOUT_MS)
    assert reads == []
    assert window.pretraining_tab.controller.current_model.step == trained_model.step
    assert window.data_tab.state.source.request == data_before
    assert "were not read" in window.tabs.currentWidget().message_bar.text()

    # Read them: both are read, as the user said.
    window = make_window()
    box = ask(window)
    with qtbot.waitSignal(window.session.opened, timeout=UI_TIMEOUT_MS):
        next(b for b in box.buttons() if b.text() == "Read them").click()
    qtbot.waitUntil(lambda: _idle(window) and window.data_tab.state.source.request.value == str(folder),
                    timeout=UI_TIMEOUT_MS)
    qtbot.waitUntil(lambda: str(text_file) in reads, timeout=UI_TIMEOUT_MS)
    assert str(folder) in reads
