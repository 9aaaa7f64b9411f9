"""The entry point: screenshots from the command line, and a start-up that never waits for jax."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gui.app import main, parse_args

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.timeout(180)


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env["TRAINING_EXPLORER_HOME"] = os.environ["TRAINING_EXPLORER_HOME"]
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("QT_QPA_PLATFORM", None)  # --screenshot must choose offscreen by itself
    return env


def test_screenshot_from_the_command_line_writes_a_png(tmp_path):
    out = tmp_path / "shots" / "pretraining.png"
    result = subprocess.run(
        [sys.executable, "-m", "gui", "--screenshot", str(out), "--tab", "Pretraining", "--zoom", "150"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=150,
    )
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000


def test_screenshot_in_process_of_a_stage_still_to_come(qtbot, tmp_path):
    out = tmp_path / "data.png"
    assert main(["--screenshot", str(out), "--tab", "data", "--size", "900x600"]) == 0
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_unknown_stage_is_refused_by_the_argument_parser():
    with pytest.raises(SystemExit):
        parse_args(["--screenshot", "x.png", "--tab", "finetuning"])
    assert parse_args(["--tab", "EVALUATION"]).tab == "evaluation"


def test_opening_the_window_does_not_import_jax(tmp_path):
    script = (
        "import sys\n"
        "import gui\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from gui.main_window import MainWindow\n"
        "w = MainWindow(persist_state=False)\n"
        "w.show()\n"
        "while w.pretraining_tab.busy:\n"
        "    app.processEvents()\n"
        "assert w.pretraining_tab.corpus_panel.tokenized is not None\n"
        "w.close()\n"
        "print('jax' in sys.modules)\n"
    )
    env = _env(tmp_path)
    env["QT_QPA_PLATFORM"] = "offscreen"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=150)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_a_screenshot_leaves_the_users_settings_alone(qtbot, tmp_path, fresh_settings):
    assert main(["--screenshot", str(tmp_path / "shot.png"), "--zoom", "175"]) == 0
    assert not fresh_settings.exists()


def test_the_app_collects_garbage_on_the_gui_thread_only(qapp):
    import gc

    from gui.app import collect_garbage_on_the_gui_thread

    collect_garbage_on_the_gui_thread(qapp)
    try:
        assert not gc.isenabled()  # a worker thread can no longer start a collection
        assert qapp._garbage_collector.timer.isActive()  # the GUI thread's timer does it instead
    finally:
        qapp._garbage_collector.timer.stop()
        del qapp._garbage_collector
