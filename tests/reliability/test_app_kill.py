"""Promise 4, crash recovery: kill -9 the whole app mid-run, and the next start gets the run back.

The app runs in a subprocess exactly as a user starts it (``python -m gui``), offscreen, in a home
folder of its own. It starts a long pretraining run with the tiny model size at launch and autosaves
every second (``--start-pretraining tiny --steps 100000 --autosave-seconds 1``, test-only flags of
``gui/app.py``). As soon as an autosave holds the run's model so far (a checkpoint named
``pretraining-interrupted-at-step-N``), the test sends SIGKILL: no closing, no last autosave.

Then, in this process and on the same home folder, the window starts as ``gui.app.main`` starts it
(``open_main_window``). The test checks that the offer to restore appears and names the interrupted
run, accepts it, and checks that the Pretraining tab now has exactly the autosaved model (its step,
every parameter, its loss history on the plot), says where the run was interrupted, writes text
with it, and can continue training it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.session.archive import autosave_path, find_autosave, open_session
from gui.app import open_main_window, parse_args
from gui.background_priority import BACKGROUND_NICE
from gui.session_controller import INTERRUPTED_PREFIX, interrupted_step

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
STEPS = 100_000  # far more than the run gets through before the kill
AUTOSAVE_TIMEOUT_S = 180.0  # start-up, importing JAX, compiling the tiny model, two log points: 2 busy cores
UI_TIMEOUT_MS = 60_000


def _start_app(home: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, TRAINING_EXPLORER_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    command = [sys.executable, "-m", "gui", "--tab", "pretraining", "--start-pretraining", "tiny",
               "--steps", str(STEPS), "--autosave-seconds", "1"]
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall the app
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_for_mid_run_autosave(app: subprocess.Popen, log: Path) -> int:
    """Poll the manifest only (cheap) until the autosave holds the run's model so far; its step."""
    deadline = time.monotonic() + AUTOSAVE_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.poll() is not None:
            pytest.fail(f"the app ended by itself (exit {app.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        info = find_autosave()
        step = None if info is None else interrupted_step(info.checkpoint_names)
        if step is not None:
            return step
        time.sleep(0.2)  # another process: there is no signal to wait on
    pytest.fail(f"no autosave with a mid-run model after {AUTOSAVE_TIMEOUT_S:.0f} s:\n"
                f"{log.read_text(errors='replace')[-3000:]}")


def _thread_priorities(pid: int) -> dict[str, list[int]]:
    """{thread name: [nice value of each thread of that name]} of a running process (Linux)."""
    found: dict[str, list[int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        nice = int(stat[stat.rindex(")") + 2:].split()[16])  # field 19 of proc(5): nice
        found.setdefault("main" if task.name == str(pid) else name, []).append(nice)
    return found


def _leaves(model) -> list[np.ndarray]:
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(model.params)]


def test_killing_the_app_mid_run_offers_the_autosave_and_restores_the_run(qtbot, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("TRAINING_EXPLORER_HOME", str(home))  # this process reads the same folders
    log = tmp_path / "app.log"
    started = time.monotonic()
    app = _start_app(home, log)
    try:
        first_seen = _wait_for_mid_run_autosave(app, log)
        priorities = _thread_priorities(app.pid)
        os.kill(app.pid, signal.SIGKILL)
        assert app.wait(30) == -signal.SIGKILL
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(30)
    killed_after = time.monotonic() - started

    # Mid-run, XLA's compute threads yield the CPU to the window; the GUI thread keeps its priority
    # (gui/background_priority.py).
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert priorities["main"] == [own], priorities
    assert priorities.get("tf_XLAEigen") and min(priorities["tf_XLAEigen"]) >= max(own, BACKGROUND_NICE), priorities

    # What the autosave holds now (a later autosave may have landed between the look and the kill).
    saved = open_session(autosave_path())
    step = saved.tabs["pretraining"]["interrupted_at_step"]
    assert step >= first_seen > 0
    assert saved.tabs["pretraining"]["model"] == f"{INTERRUPTED_PREFIX}{step}"
    expected = saved.checkpoints[f"{INTERRUPTED_PREFIX}{step}"]
    assert expected.step == step and expected.history.train_steps[-1] == step
    assert expected.opt_state is not None  # Continue training resumes exactly, with AdamW's moments

    # The next start, as the app makes it.
    window, offer = open_main_window(parse_args([]))
    qtbot.addWidget(window)
    try:
        assert offer is not None and offer.isVisible()
        assert re.fullmatch(r"Restore the session from \d\d:\d\d\?", offer.text())
        assert f"pretraining run that was still going (its model at step {step:,})" in offer.informativeText()
        with qtbot.waitSignal(window.session.opened, timeout=UI_TIMEOUT_MS):
            offer.restore_button.click()

        tab = window.pretraining_tab
        model = tab.controller.current_model
        assert model.step == step
        assert all(np.array_equal(a, b) for a, b in zip(_leaves(model), _leaves(expected), strict=True))
        assert model.history.to_json() == expected.history.to_json()
        assert tab.plot.train_point_count() == len(expected.history.train_steps) > 0
        assert window.tabs.currentWidget() is tab
        assert f"its model from step {step:,} is back" in tab.message_bar.text()

        # The restored model writes text, through the tab's own panel.
        qtbot.waitUntil(lambda: not (tab.busy or window.data_tab.busy or window.session.busy), timeout=UI_TIMEOUT_MS)
        tab.lower_tabs.setCurrentIndex(1)
        tab.predict_panel.set_prompt("The ")
        with qtbot.waitSignal(tab.predict_panel.text_written, timeout=UI_TIMEOUT_MS) as written:
            tab.predict_panel.write()
        assert written.args[0].strip()
        assert tab.continue_button.isEnabled()  # and training goes on from the interrupted step
    finally:
        window.close()  # stops every worker; its own autosave goes to this test's home
    print(f"\nkilled after {killed_after:.1f} s at step {step}; whole test {time.monotonic() - started:.1f} s")
