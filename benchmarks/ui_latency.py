"""Does the window stay fluid while a model trains? The Qt event loop's waits, measured by a timer probe.

Opens the real main window (offscreen), picks a preset, presses Start and, until the run finishes, fires a
10 ms ``QTimer`` probe: each tick records how much later than due it fired, which is how long the GUI thread
could not serve the event loop (a click or a repaint waits that long). Meanwhile the window is resized and
the tabs are switched every couple of seconds, as a user on a projector would. Prints one JSON line:

    {"preset": "tiny", "steps": 1500, "ticks": 2300, "p50_ms": 0.1, "p99_ms": 12.0, "max_ms": 40.0, ...}

    python benchmarks/ui_latency.py [--preset tiny] [--steps 500] [--profile] [--no-resize] [--same-priority]

``--no-resize`` leaves the window's size alone (only the tabs switch: what a class watching a run does);
``--same-priority`` leaves the training threads at the GUI thread's priority, as before
``gui/background_priority.py`` (the app lowers them; so does this benchmark by default).

``--profile`` also times the GUI-thread work the run triggers (plot updates, progress text, sample log,
layout on resize) and adds per-slot totals and maxima to the JSON, to find what blocks the loop.
The issue's target: p99 ≤ 50 ms during training.

``--huge-row CHARS`` measures something else: the Instruction tab with the shipped pretrained model, where
a pair whose answer is CHARS characters long is put at the top of the table (as a paste would) and
selected, so the tab shows its tokens. The same 10 ms probe records the longest wait of the GUI thread
until the token view has been filled, and one JSON line says it:

    {"case": "huge_row", "chars": 200000, "max_stall_ms": 5600.0, "filled_s": 5.7, "rss_growth_mb": 515, ...}

(issue 16: before the token view moved to a worker, a 200,000-character answer froze the window 5.6 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE_MS = 10  # the probe's period: finer than a frame (16 ms), coarse enough to cost nothing
RESIZE_EVERY_MS = 2000
SWITCH_TAB_EVERY_MS = 3000
SIZES = ((1280, 800), (1024, 700), (1600, 900), (900, 650))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


class SlotTimer:
    """Wraps methods of GUI objects to time them on the GUI thread (``--profile``)."""

    def __init__(self):
        self.totals: dict[str, list[float]] = {}

    def wrap(self, obj, name: str, label: str) -> None:
        original = getattr(obj, name)
        times = self.totals.setdefault(label, [])

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                times.append((time.perf_counter() - start) * 1000)

        setattr(obj, name, timed)

    def report(self) -> dict:
        return {label: {"calls": len(t), "total_ms": round(sum(t), 1), "max_ms": round(max(t), 1)}
                for label, t in self.totals.items() if t}


def measure(preset_key: str, steps: int | None, profile: bool, resize_window: bool = True,
            lower_priority: bool = True) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.config import replace
    from gui import background_priority
    from gui.app import warm_up_engine
    from gui.main_window import MainWindow

    if lower_priority:
        background_priority.enable()  # as gui/app.py's main() does
    app = QApplication.instance() or QApplication([])
    window = MainWindow(persist_state=False)
    window.show()
    app.processEvents()
    warm_up_engine()
    tab = window.pretraining_tab
    panel = tab.settings_panel
    combo = panel.preset_combo
    combo.setCurrentIndex(combo.findData(preset_key))
    if steps:
        panel.set_configs(panel.model_config(), replace(panel.train_config(), total_steps=steps))

    slots = SlotTimer()
    if profile:
        slots.wrap(tab.plot, "add_training_losses", "plot.add_training_losses")
        slots.wrap(tab.plot, "add_validation_loss", "plot.add_validation_loss")
        slots.wrap(tab.progress, "show_steps", "progress.show_steps")
        slots.wrap(tab.progress, "show_pace", "progress.show_pace")
        slots.wrap(tab.progress, "show_status", "progress.show_status")
        slots.wrap(tab.sample_log, "add_sample", "sample_log.add_sample")
        slots.wrap(tab.predict_panel, "refresh", "predict_panel.refresh")
        slots.wrap(window, "resize", "window.resize")
        # The plot redraws on its own timer, connected to the bound method at construction: re-connect it timed.
        slots.wrap(tab.plot, "_redraw", "plot._redraw")
        tab.plot._redraw_timer.timeout.disconnect()
        tab.plot._redraw_timer.timeout.connect(tab.plot._redraw)

    lateness_ms: list[float] = []
    result: dict = {"preset": preset_key, "resize": resize_window, "lower_priority": lower_priority}
    clock = QElapsedTimer()
    last = [0]
    probing = [False]

    late_at: list[tuple[float, float]] = []  # (ms late, seconds since Start): where the worst waits were

    def probe():
        now = clock.nsecsElapsed()
        if probing[0]:
            late = max(0.0, (now - last[0]) / 1e6 - PROBE_MS)
            lateness_ms.append(late)
            if late > 50:
                late_at.append((round(late, 1), round(time.perf_counter() - pressed, 2)))
        last[0] = now

    # Switch among the enabled main tabs, or the Pretraining tab's lower tabs where it is the only one.
    enabled = [i for i in range(window.tabs.count()) if window.tabs.isTabEnabled(i)]
    switches = [0]

    def switch_tab():
        switches[0] += 1
        if len(enabled) > 1:
            window.tabs.setCurrentIndex(enabled[switches[0] % len(enabled)])
        tab.lower_tabs.setCurrentIndex(switches[0] % tab.lower_tabs.count())

    resizes = [0]

    def resize():
        resizes[0] += 1
        window.resize(*SIZES[resizes[0] % len(SIZES)])

    last_progress = [None]

    def on_progress(event):
        last_progress[0] = event
        if not probing[0]:  # probe from the first loss point: before it the GUI thread is idle, waiting
            probing[0] = True
            result["first_loss_s"] = round(time.perf_counter() - pressed, 2)

    def on_running(running: bool):
        if not running:
            app.quit()

    timers = []
    actions = [(PROBE_MS, probe), (SWITCH_TAB_EVERY_MS, switch_tab)]
    if resize_window:
        actions.append((RESIZE_EVERY_MS, resize))
    for period, slot in actions:
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.timeout.connect(slot)
        timers.append((timer, period))
    tab.controller.progress.connect(on_progress)
    tab.controller.running_changed.connect(on_running)
    QTimer.singleShot(10 * 60_000, app.quit)  # never hang a benchmark

    clock.start()
    for timer, period in timers:
        timer.start(period)
    pressed = time.perf_counter()
    tab.start_button.click()
    app.exec()
    train_s = time.perf_counter() - pressed
    for timer, _ in timers:
        timer.stop()
    window.close()

    if not lateness_ms:
        raise SystemExit("The run produced no loss point; nothing was measured.")
    event = last_progress[0]
    result.update({
        "steps": event.step if event else 0,
        "ticks": len(lateness_ms),
        "p50_ms": round(percentile(lateness_ms, 50), 2),
        "p99_ms": round(percentile(lateness_ms, 99), 2),
        "max_ms": round(max(lateness_ms), 1),
        "over_50ms": sum(1 for x in lateness_ms if x > 50),
        "run_s": round(train_s, 1),
        "tokens_per_s": round(event.tokens_per_second, 1) if event else 0.0,
        "resizes": resizes[0],
        "tab_switches": switches[0],
        # The whole app's peak (window, engine, compiled programs): on the defaults, the issue's ≤ 1.5 GB.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })
    if profile:
        result["slots"] = slots.report()
        result["worst"] = sorted(late_at, reverse=True)[:15]
    return result


def measure_huge_row(chars: int) -> dict:
    """The GUI thread's longest wait while a pair with a ``chars``-character answer is selected."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.shipped_models import load_shipped
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(persist_state=False)
    window.resize(1280, 800)
    window.show()
    tab = window.instruction_tab
    window.tabs.setCurrentWidget(tab)
    tab.set_base_model(load_shipped("pretraining"))
    rows = tab.pairs.rows()
    words = " ".join(r["completion"].strip() for r in rows)  # real answers, so BPE splits them as usual
    answer = " " + (words * (chars // len(words) + 1))[: chars - 1]
    rows.insert(0, {"prompt": "User: Tell me everything you know.\nAssistant:", "completion": answer})
    for _ in range(20):
        app.processEvents()

    clock = QElapsedTimer()
    gaps_ms: list[float] = []
    last = [0]
    result: dict = {"case": "huge_row", "chars": len(answer)}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def probe():
        now = clock.nsecsElapsed()
        if last[0]:
            gaps_ms.append(max(0.0, (now - last[0]) / 1e6 - PROBE_MS))
        last[0] = now

    def shown() -> bool:  # the token view describes the huge pair, and no worker is still at it
        task = getattr(tab, "_tokens_task", None)
        return (task is None or not task.busy) and "tokens" in tab.tokens_view.toPlainText()

    def select():
        selected[0] = time.perf_counter()
        result["selected_at_s"] = round(selected[0] - started, 2)
        tab.pairs.reset_rows(rows)  # what pasting the pair, or importing it before issue 16, did
        tab.pairs.table.setCurrentCell(0, 1)

    selected = [None]

    def watch():
        if selected[0] is not None and shown():
            if "filled_s" not in result:
                result["filled_s"] = round(time.perf_counter() - selected[0], 2)
                QTimer.singleShot(500, app.quit)  # and half a second more of probing

    probe_timer = QTimer()
    probe_timer.setTimerType(Qt.TimerType.PreciseTimer)
    probe_timer.timeout.connect(probe)
    watcher = QTimer()
    watcher.timeout.connect(watch)
    QTimer.singleShot(300, select)
    QTimer.singleShot(5 * 60_000, app.quit)  # never hang a benchmark
    clock.start()
    started = time.perf_counter()
    probe_timer.start(PROBE_MS)
    watcher.start(20)
    app.exec()
    probe_timer.stop()
    watcher.stop()
    result.update({
        "ticks": len(gaps_ms),
        "max_stall_ms": round(max(gaps_ms), 1),
        "p99_ms": round(percentile(gaps_ms, 99), 2),
        "over_50ms": sum(1 for x in gaps_ms if x > 50),
        "token_view": tab.tokens_view.toPlainText().split("\n")[0][:120],
        "rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1),
    })
    window.close()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    parser.add_argument("--profile", action="store_true", help="also time the GUI slots the run triggers")
    parser.add_argument("--no-resize", action="store_true", help="switch tabs only; never resize the window")
    parser.add_argument("--same-priority", action="store_true",
                        help="leave the training threads at the GUI thread's priority (the app lowers them)")
    parser.add_argument("--huge-row", type=int, default=None, metavar="CHARS",
                        help="instead: select a pair with an answer this long in the Instruction tab")
    args = parser.parse_args(argv)
    # A private home folder: no settings or saved models of the user's are touched.
    os.environ.setdefault("TRAINING_EXPLORER_HOME", tempfile.mkdtemp(prefix="te-bench-"))
    if args.huge_row:
        print(json.dumps(measure_huge_row(args.huge_row)), flush=True)
        return 0
    print(json.dumps(measure(args.preset, args.steps, args.profile, not args.no_resize, not args.same_priority)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
