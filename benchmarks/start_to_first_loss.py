"""What a user waits for in the app: process start to a usable window, and Start to the first loss point.

Each measurement runs in a fresh process, like a user opening the app, with its own settings and cache
folder (``TRAINING_EXPLORER_HOME``): the first with an empty compilation cache (the very first run on a
machine), then ``--repeats`` more that find the cache warm. Prints one JSON line:

    {"preset": "tiny", "window_ready_s": [...], "cold_first_loss_s": 9.1, "warm_first_loss_s": [...],
     "warm_first_loss_median_s": 3.2}

    python benchmarks/start_to_first_loss.py [--preset tiny] [--repeats 3] [--press-after 0]

``window_ready_s`` counts from the creation of the process (Python's own start-up included) to the
window shown; ``*_phases_s`` say when, after Start, the run began preparing data, compiling and training.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seconds_since_process_start() -> float | None:
    """Wall time since this process was created (Linux /proc), so Python's own start-up counts too."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22 of proc(5): starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def child(preset_key: str, press_after: float) -> None:
    """Open the window, press Start, and report the waits (seconds) as JSON on stdout."""
    before_imports = seconds_since_process_start()
    started = time.perf_counter()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.app import warm_up_engine
    from gui.main_window import MainWindow

    app = QApplication([])
    window = MainWindow(persist_state=False)
    window.show()
    app.processEvents()
    window_ready = time.perf_counter() - started
    warm_up_engine()  # as gui.app.main does; Start pressed at once (the default) is the worst case
    tab = window.pretraining_tab
    combo = tab.settings_panel.preset_combo
    combo.setCurrentIndex(combo.findData(preset_key))
    result: dict = {"window_ready_s": window_ready + (before_imports or 0.0), "phases": {}}

    def on_status(status):  # when each phase began, from Start: where the wait goes
        result["phases"].setdefault(status.phase, round(time.perf_counter() - pressed, 2))

    def on_progress(_event):
        if "first_loss_s" not in result:
            result["first_loss_s"] = time.perf_counter() - pressed
            tab.controller.stop()

    def on_running(running: bool):
        if not running:
            app.quit()

    tab.controller.progress.connect(on_progress)
    tab.controller.status_changed.connect(on_status)
    tab.controller.running_changed.connect(on_running)
    QTimer.singleShot(60_000 * 5, app.quit)  # never hang a benchmark
    pressed = time.perf_counter()

    def press():
        nonlocal pressed
        pressed = time.perf_counter()
        tab.start_button.click()

    QTimer.singleShot(int(press_after * 1000), press)
    app.exec()
    window.close()
    print(json.dumps(result), flush=True)


def measure(home: str, preset_key: str, press_after: float) -> dict:
    env = dict(os.environ, TRAINING_EXPLORER_HOME=home, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, __file__, "--child", preset_key, "--press-after", str(press_after)],
                         env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--press-after", type=float, default=0.0,
                        help="seconds after the window appears to press Start (default 0: at once, the worst case)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.press_after)
        return 0
    with tempfile.TemporaryDirectory(prefix="te-bench-") as home:
        runs = [measure(home, args.preset, args.press_after) for _ in range(1 + args.repeats)]
    warm = [r["first_loss_s"] for r in runs[1:]]
    print(json.dumps({
        "preset": args.preset,
        "press_after_s": args.press_after,
        "window_ready_s": [round(r["window_ready_s"], 2) for r in runs],
        "cold_first_loss_s": round(runs[0]["first_loss_s"], 2),
        "warm_first_loss_s": [round(x, 2) for x in warm],
        "warm_first_loss_median_s": round(statistics.median(warm), 2) if warm else None,
        "window_ready_median_s": round(statistics.median(r["window_ready_s"] for r in runs), 2),
        "cold_phases_s": runs[0]["phases"],
        "warm_phases_s": [r["phases"] for r in runs[1:]],
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
