"""Sessions in the app: File → Save session… / Open session…, the autosave, and the offer to restore it.

A session (``engine.session.archive``) is one ``.tesession`` file holding every tab's work. The window hands
over every stage's state (``MainWindow.stage_state``, a ``engine.session.state.SessionState``), which
writes itself as the session's entries; a reopened one is read back into a ``SessionState`` and the
window applies it (``MainWindow.apply_state``). This module keeps only the dialogs, the timer and the
worker tasks. What each stage keeps:

- Data: what was loaded (``tabs["data"]``) and its curation settings (``curation``); the undo
  history starts afresh. A session names a file or folder it loaded (Data's source, Pretraining's text
  file) by its path; opening one asks "Read files named by this session?" before reading any of them,
  since a session can come from anyone (the autosave, the app's own, does not ask). "Open without
  them" restores everything else and leaves those two tabs' text as it was.
- Pretraining: the current model (checkpoint ``pretraining``, its loss curve is its history), the
  corpus, tokenizer and model-size settings.
- Instruction and Preference tuning: the pairs table (votes included; ``votes`` holds them too),
  the model to start from and the tuned one, the method and steps, DPO's settings, the
  before-and-after table and the held-out margin/accuracy curve.
- Evaluation: models opened from files or shipped (the session's own come back through the
  stages), which are unticked, the graded answers, the question set; the blind ratings live in
  their own file, so a session carries them in ``ratings`` and opening one adds those missing there.

A model used by two tabs (Pretraining's model is Instruction tuning's base) is stored once.

Threads: collecting the state is cheap and happens on the GUI thread; turning models into bytes,
writing, reading and checking a file happen on ``BackgroundTask``s. Reading a session also turns
its JSON into typed state on the worker (``engine.session.state.open_session_state``), so a damaged
file is refused before any tab changes: the message bar says why and the current work stays as it was.

Autosave: a GUI-thread timer saves at most ``AUTOSAVE_INTERVAL_MS`` apart while something changed;
closing the window saves once more, after the tabs' runs have stopped (a stopped run keeps the model
trained so far). While a stage's run goes (pretraining, instruction tuning or DPO), each autosave
carries the newest model the run has vouched for (``TrainProgress.model_so_far``) as the checkpoint
``<stage>-interrupted-at-step-N`` (``pretraining-…``, ``instruction-…``, ``preference-…``), so an app
killed mid-run restores that model and its loss curve, and Continue training goes on from it (not for
LoRA, whose runs cannot be continued).
``greet_or_offer_restore`` is what ``gui.app.main`` calls at start-up: the welcome screen on a first
start, otherwise "Restore the session from 10:42?" when there is an autosave.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.errors import SessionError
from engine.session.archive import SESSION_SUFFIX, SessionContents, autosave, discard_autosave, find_autosave, save_session
from engine.session.state import INTERRUPTED, SessionState, open_session_state
from engine.user_paths import data_dir
from gui.background import BackgroundTask
from gui.training_controller import plain_message

log = logging.getLogger(__name__)

SESSION_FILTER = f"Training Explorer sessions (*{SESSION_SUFFIX})"
AUTOSAVE_INTERVAL_MS = 60_000  # a crash or a closed lid loses at most a minute of work
CLOSE_SAVE_TIMEOUT_S = 60.0  # the last autosave when the window closes (a few MB: well under a second)
# The autosaved checkpoint of a run still going: the name says what it is and where it was.
INTERRUPTED_PREFIX = f"pretraining{INTERRUPTED}"
# The stages whose runs are autosaved mid-run (their tab-state keys), and how a message names them.
RUN_STAGES = {"pretraining": "pretraining", "instruction": "instruction tuning", "preference": "preference tuning"}


def interrupted_step(checkpoint_names, stage: str = "pretraining") -> int | None:
    """The step of the interrupted run of ``stage`` a session holds (from its checkpoints' names), or None."""
    prefix = f"{stage}{INTERRUPTED}"
    for name in checkpoint_names:
        number = name[len(prefix):] if name.startswith(prefix) else ""
        if number.isdigit():
            return int(number)
    return None


def interrupted_runs(checkpoint_names) -> list[tuple[str, int]]:
    """Every interrupted run a session holds, in the stages' order: (its stage in words, its step)."""
    steps = ((words, interrupted_step(checkpoint_names, stage)) for stage, words in RUN_STAGES.items())
    return [(words, step) for words, step in steps if step is not None]


def _interrupted_in_words(runs: list[tuple[str, int]]) -> str:
    """ "the pretraining run that was still going (its model at step 10)", joined with "and"."""
    return " and ".join(f"the {words} run that was still going (its model at step {step:,})" for words, step in runs)


READ_THEM, OPEN_WITHOUT_THEM = "Read them", "Open without them"
NOT_READ = ("The files it names were not read: the Data and Pretraining tabs keep the text they had "
            "(Load… in the Data tab reads a file you choose).")


def _printable(text: str) -> str:
    """A name from a file, safe to show on one line: no control characters, not endless."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= 200 else text[:200] + "…"


def _autosave_quietly(contents: SessionContents) -> Path | None:
    """The last autosave when the window closes: nobody is left to tell, so a problem goes to the log."""
    try:
        return autosave(contents)
    except Exception:
        log.exception("the autosave on closing failed")
        return None


# --- the controller (GUI thread) ----------------------------------------------------------------------


class SessionController(QObject):
    """Saves, opens and autosaves the window's session; every file operation on a worker thread."""

    saved = Signal(str)  # the path written by Save session…
    opened = Signal(str)  # the path whose session was restored into the tabs
    autosaved = Signal(str)  # the autosave path, after each autosave
    failed = Signal(str)  # a plain message (also shown in the front tab's message bar)

    def __init__(self, window, *, autosave_enabled: bool):
        super().__init__(window)
        self.window = window
        self.autosave_enabled = autosave_enabled  # False for screenshots and tests of other things
        self.changed_since_save = False
        self._save_task = BackgroundTask("saving a session", self)
        self._save_task.succeeded.connect(self._on_saved)
        self._save_task.failed.connect(lambda _tag, error: self._report(plain_message(error)))
        self.read_files_box: QMessageBox | None = None  # "Read files named by this session?", while it is open
        self._open_task = BackgroundTask("opening a session", self)
        self._open_task.succeeded.connect(self._on_opened)
        self._open_task.failed.connect(lambda _tag, error: self._report(plain_message(error)))
        self._autosave_task = BackgroundTask("autosaving the session", self)
        self._autosave_task.succeeded.connect(lambda _tag, path: self.autosaved.emit(str(path)))
        self._autosave_task.failed.connect(self._on_autosave_failed)
        self.timer = QTimer(self)
        self.timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.timer.timeout.connect(self.autosave_now)
        self._watch_for_changes()
        if autosave_enabled:
            self.timer.start()

    def _watch_for_changes(self) -> None:
        """The user's work changed: a run, a model, the data, a table, a result. (Not start-up's own loads.)"""
        signals = [self.window.model_shelf.changed]
        for tab in self.window.stage_tabs.values():
            signals += tab.change_signals()
            if getattr(tab, "controller", None) is not None:  # a stage with a training run
                tab.controller.progress.connect(self._on_run_progress)
        for signal in signals:
            signal.connect(self._mark_changed)

    def _mark_changed(self, *_args) -> None:
        self.changed_since_save = True

    def _on_run_progress(self, event) -> None:
        if event.model_so_far is not None:  # the run vouched for a newer model: the next autosave keeps it
            self.changed_since_save = True

    @property
    def busy(self) -> bool:
        return self._save_task.busy or self._open_task.busy or self._autosave_task.busy

    # --- collecting ----------------------------------------------------------------------------
    def contents(self) -> SessionContents:
        """Every tab's state now, as the session's entries (GUI thread; cheap: models are shared, not copied)."""
        return self.window.stage_state().to_contents()

    # --- saving and opening ----------------------------------------------------------------------

    def ask_save(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(self.window, "Save session",
                                                    str(data_dir() / f"my-session{SESSION_SUFFIX}"), SESSION_FILTER)
        if path:
            self.save(path)

    def save(self, path: str | Path) -> None:
        """Save the whole session to ``path`` (``.tesession`` added if missing) on a worker thread."""
        path = Path(path)
        if path.suffix.lower() != SESSION_SUFFIX:
            path = path.with_name(path.name + SESSION_SUFFIX)
        self._show_status(f"Saving the session as '{path.name}'…")
        self._save_task.submit(save_session, self.contents(), path, tag=str(path))

    def _on_saved(self, _tag, path) -> None:
        self.changed_since_save = False
        self._front_bar().info(f"Saved the session as '{Path(path).name}'. File → Open session… brings it back.")
        self._show_status("")
        self.saved.emit(str(path))

    def ask_open(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self.window, "Open session", str(data_dir()), SESSION_FILTER)
        if path:
            self.open(path)

    def open(self, path: str | Path, *, restored_from: str = "") -> bool:
        """Open a session on a worker thread; the tabs change only once all of it has been read and checked.

        ``restored_from`` ("10:42") words the message for the autosave. Refused while a run goes.
        """
        running = self.window.running_stage()
        if running:
            self._report(f"Stop the {running} run first: a session replaces the work in every tab.")
            return False
        self._show_status(f"Opening '{Path(path).name}'…")
        self._open_task.submit(open_session_state, str(path), tag=(str(path), restored_from))
        return True

    def _on_opened(self, tag, plan: SessionState) -> None:
        path, restored_from = tag
        if self.window.running_stage():  # started while the file was being read
            self._report(f"The session was not opened: the {self.window.running_stage()} run started meanwhile.")
            return
        # A session may come from anyone and name any file or folder here: never read one unasked. The
        # autosave is the app's own, in the user's private data folder, and restores without asking.
        named = [] if restored_from else plan.files_named()
        if named:
            self._ask_to_read(path, plan, named)
            return
        self._restore_opened(path, restored_from, plan)

    def _ask_to_read(self, path: str, plan: SessionState, named: list[tuple[str, str]]) -> None:
        """Ask, in a non-blocking dialog, before reading the files a session names; the tabs wait for the answer."""
        self._show_status("")
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Read files named by this session?")
        box.setText(f"The session '{_printable(Path(path).name)}' loads text from this computer:")
        lines = "\n".join(f"• {what}: '{_printable(where)}'" for what, where in named)
        box.setInformativeText(f"{lines}\n\nA session can name any file or folder. Read them only if you trust "
                               "whoever made the session; otherwise it opens without them.")
        box.read_button = box.addButton(READ_THEM, QMessageBox.ButtonRole.AcceptRole)
        box.without_button = box.addButton(OPEN_WITHOUT_THEM, QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(box.without_button)  # Enter must not read someone's choice of folder
        box.setEscapeButton(box.without_button)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(button) -> None:
            self.read_files_box = None
            if self.window.running_stage():
                self._report(f"The session was not opened: the {self.window.running_stage()} run started meanwhile.")
                return
            if button is box.read_button:
                self._restore_opened(path, "", plan)
            else:
                self._restore_opened(path, "", plan.without_files(), NOT_READ)

        box.buttonClicked.connect(answered)
        self.read_files_box = box
        box.open()

    def _restore_opened(self, path: str, restored_from: str, plan: SessionState, note: str = "") -> None:
        self.window.apply_state(plan)
        words = (f"Restored the session from {restored_from}." if restored_from
                 else f"Opened the session '{Path(path).name}'.")
        interrupted = []
        for stage, step, model in plan.interrupted():
            lora = model is not None and model.details.get("method") == "lora"
            interrupted.append(
                f"{stage} was still running then: its model from step {step:,} is back, with its loss curve"
                + (" (a LoRA run cannot be continued: Start a new one from it)." if lora else
                   ", and Continue training goes on from there."))
        self._front_bar().info(" ".join(filter(None, [words, note, *interrupted, plan.ratings_note])))
        self._show_status("")
        self.opened.emit(path)

    # --- autosave ------------------------------------------------------------------------------

    def autosave_now(self) -> bool:
        """Autosave on a worker thread if anything changed since the last save; True if one was started."""
        if not self.autosave_enabled or not self.changed_since_save or self._autosave_task.busy:
            return False
        contents = self.contents()
        self.changed_since_save = False  # edits from now on go into the next autosave
        self._autosave_task.submit(autosave, contents)
        return True

    def _on_autosave_failed(self, _tag, error) -> None:
        self.changed_since_save = True  # try again at the next tick
        self._show_status(f"The session could not be autosaved: {plain_message(error)}")

    def finish(self, timeout_s: float = CLOSE_SAVE_TIMEOUT_S) -> bool:
        """When the window closes, after the runs have stopped: the last autosave, then no thread is left.

        Waits for an autosave already writing (so the two cannot finish in the wrong order), then
        writes the final state on a worker and waits for it. Returns True if everything finished in time.
        """
        self.timer.stop()
        done = [self._autosave_task.shutdown(timeout_s), self._save_task.shutdown(timeout_s),
                self._open_task.shutdown(timeout_s)]
        if self.autosave_enabled and self.changed_since_save:
            final = BackgroundTask("autosaving on closing", self)
            final.submit(_autosave_quietly, self.contents())
            done.append(final.shutdown(timeout_s))
            self.changed_since_save = False
        return all(done)

    # --- messages -------------------------------------------------------------------------------

    def _front_bar(self):
        return self.window.tabs.currentWidget().message_bar

    def _show_status(self, text: str) -> None:
        self.window.statusBar().showMessage(text)

    def _report(self, message: str) -> None:
        self._show_status("")
        self._front_bar().error(message)
        self.failed.emit(message)


# --- start-up: the offer to restore the autosave ------------------------------------------------------


def offer_restore(window, then=None) -> QMessageBox | None:
    """Ask "Restore the session from 10:42?" if there is a complete autosave; None (nothing shown) if not.

    Non-blocking (``open()``). Restore opens the autosave like any session; Start afresh removes it.
    ``then`` is called after either answer (e.g. to reopen the guided tour).
    """
    info = find_autosave()
    if info is None:
        return None
    when = info.time_in_words()
    runs = interrupted_runs(info.checkpoint_names)
    run = f", with {_interrupted_in_words(runs)}" if runs else ""
    box = QMessageBox(window)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Restore the last session?")
    box.setText(f"Restore the session from {when}?")
    box.setInformativeText("Training Explorer saved your work automatically, last at "
                           f"{when}{run}. Restore it, or start afresh (the saved copy is then removed).")
    box.restore_button = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    box.afresh_button = box.addButton("Start afresh", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(box.restore_button)
    box.setWindowModality(Qt.WindowModality.WindowModal)

    def answered(button) -> None:
        if button is box.restore_button:
            window.session.open(info.path, restored_from=when)
        else:
            try:
                discard_autosave()
            except SessionError as err:
                window.data_tab.message_bar.warning(str(err))
        if then is not None:
            then()

    box.buttonClicked.connect(answered)
    box.open()
    return box


def greet_or_offer_restore(window):
    """What ``gui.app.main`` shows at start: never two dialogs at once.

    A first start gets the welcome screen (there is nothing to restore yet). A later start with an
    autosave gets the offer to restore it, and then what a later start gets without one: the
    guided tour again if it was left open.
    """
    from gui import welcome_dialog  # looked up at call time, so tests can replace greet_on_start

    if welcome_dialog.is_first_start():
        return welcome_dialog.greet_on_start(window)
    offer = offer_restore(window, then=lambda: welcome_dialog.greet_on_start(window))
    return offer if offer is not None else welcome_dialog.greet_on_start(window)
