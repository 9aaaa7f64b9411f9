"""Entry point: ``training-explorer`` / ``python -m gui``.

    training-explorer                                   open the window
    training-explorer --screenshot shot.png             render the window offscreen to a PNG and exit
        [--tab pretraining] [--zoom 200] [--size 1600x1000] [--theme dark] [--presentation]

``--theme`` and ``--presentation`` work without ``--screenshot`` too: a teacher's launcher can open
the app straight into presentation mode. Neither changes the remembered theme.

    training-explorer --start-pretraining tiny [--steps 5000] [--autosave-seconds 2]

starts a pretraining run as soon as the text is ready and autosaves more often than once a minute:
for the crash-recovery test (``tests/reliability/test_app_kill.py``) and for demonstrating it.

Start-up stays quick because nothing here imports JAX: the engine modules that need it are imported
on worker threads when a run, a prediction or a model file first needs them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path

from gui import background_priority

APP_NAME = "Training Explorer"
DESKTOP_FILE_NAME = "training-explorer"  # assets/training-explorer.desktop: docks group windows by it
ICON_PATH = Path(__file__).resolve().parents[1] / "assets" / "training-explorer.svg"
SCREENSHOT_SETTLE_SECONDS = 20.0  # at most: waits for the text, its tokens and the speed measurement


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from engine.config import PRESETS  # plain Python, no JAX
    from gui.stages import STAGES
    from gui.themes import THEMES

    stage_keys = [s.key for s in STAGES]
    preset_keys = [p.key for p in PRESETS]
    parser = argparse.ArgumentParser(prog="training-explorer", description="Watch a small GPT learn, stage by stage.")
    parser.add_argument("--screenshot", metavar="OUT.png", type=Path,
                        help="render the window offscreen to this PNG file and exit")
    parser.add_argument("--tab", type=str.lower, choices=stage_keys, metavar="NAME",
                        help=f"stage to show: {', '.join(stage_keys)}")
    parser.add_argument("--zoom", type=int, metavar="PERCENT", help="zoom level for this session, e.g. 200")
    parser.add_argument("--size", type=_parse_size, metavar="WxH", help="window size for screenshots, e.g. 1600x1000")
    parser.add_argument("--theme", type=str.lower, choices=list(THEMES), metavar="NAME",
                        help=f"colour theme for this session: {', '.join(THEMES)}")
    parser.add_argument("--presentation", action="store_true",
                        help="start in presentation mode: full screen, big text, thick plot lines")
    parser.add_argument("--autosave-seconds", type=_positive_seconds, metavar="SECONDS",
                        help="autosave the session at most this many seconds apart instead of 60 "
                             "(for testing or showing crash recovery)")
    parser.add_argument("--start-pretraining", type=str.lower, choices=preset_keys, metavar="SIZE",
                        help="press Start on the Pretraining tab with this model size as soon as the text is ready "
                             f"({', '.join(preset_keys)}; for testing or showing crash recovery)")
    parser.add_argument("--steps", type=_positive_int, metavar="N",
                        help="with --start-pretraining: train for N steps instead of the model size's own")
    args = parser.parse_args(argv)
    if args.steps is not None and args.start_pretraining is None:
        parser.error("--steps needs --start-pretraining")
    return args


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from err
    if not 0.1 <= seconds <= 24 * 3600:
        raise argparse.ArgumentTypeError("the autosave interval must be between 0.1 seconds and a day")
    return seconds


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from err
    if value < 1:
        raise argparse.ArgumentTypeError("the number of steps must be at least 1")
    return value


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 1600x1000") from err
    if width < 200 or height < 200:
        raise argparse.ArgumentTypeError("the window must be at least 200x200")
    return width, height


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.screenshot is not None:
        # Must be set before the QApplication exists; an existing one (tests) is already offscreen.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    owns_app = app is None
    if owns_app:
        app = QApplication(sys.argv[:1])
        app.setApplicationName(APP_NAME)
        app.setOrganizationName("TrainingExplorer")
        app.setDesktopFileName(DESKTOP_FILE_NAME)
        # Fusion looks the same on every platform, so what the teacher sees is what the screenshots show.
        app.setStyle("Fusion")
        _set_icon(app)
        collect_garbage_on_the_gui_thread(app)

    if args.screenshot is not None:
        return _screenshot(app, args)

    window, _greeting = open_main_window(args)
    _route_unexpected_errors_to(window)
    background_priority.enable()  # training yields the CPU to the window (gui/background_priority.py)
    warm_up_engine()
    return app.exec() if owns_app else 0


def open_main_window(args: argparse.Namespace):
    """What a start shows: the window, then the welcome screen or the offer to restore the autosave.

    Returns (window, that dialog or None). ``main`` calls it; so does the crash-recovery test, to
    start exactly as the app does.
    """
    from gui.main_window import MainWindow
    from gui.session_controller import greet_or_offer_restore

    window = MainWindow(zoom_percent=args.zoom, theme=args.theme)
    if getattr(args, "autosave_seconds", None) is not None:
        window.session.timer.setInterval(max(1, round(args.autosave_seconds * 1000)))
    if args.tab:
        window.show_stage(args.tab)
    window.show()
    if args.presentation:
        window.presentation.enter()
    # The welcome screen on the first start; later, the offer to restore the autosaved session (then
    # the guided tour, if it was left open). Here only, so that screenshots and tests, which build
    # MainWindow themselves, are never interrupted.
    greeting = greet_or_offer_restore(window)
    if getattr(args, "start_pretraining", None) is not None:
        _start_pretraining_when_ready(window, args.start_pretraining, args.steps)
    return window, greeting


def _start_pretraining_when_ready(window, size: str, steps: int | None) -> None:
    """Choose the model size (and steps), then press Start once the text is ready and Start can be pressed."""
    from engine.config import replace

    tab = window.pretraining_tab
    panel = tab.settings_panel
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData(size))
    if steps is not None:
        panel.set_configs(panel.model_config(), replace(panel.train_config(), total_steps=steps))

    def start_once() -> None:
        if tab.start_button.isEnabled() and not tab.controller.is_running:
            tab.buttons_updated.disconnect(start_once)  # before Start, which updates the buttons again
            tab.start_new()

    tab.buttons_updated.connect(start_once)
    start_once()


def collect_garbage_on_the_gui_thread(app) -> None:
    """Turn off Python's automatic cycle collector and run it from a GUI-thread timer instead.

    The automatic collector runs in whichever thread happens to allocate, often a training worker.
    When it frees a widget left in a reference cycle there, Qt's destructor (which takes a Qt lock)
    waits for the GIL while the GUI thread, holding the GIL, waits for that lock: the app froze
    for good (seen in the test suite, gdb on both threads). pyqtgraph ships the cure.
    """
    from pyqtgraph.util.garbage_collector import GarbageCollector

    app._garbage_collector = GarbageCollector(interval=1.0)  # kept alive with the application


def warm_up_engine() -> threading.Thread:
    """Import JAX and the training code in the background while the user looks at the window.

    The window itself never imports JAX (it opens in about a second); the first Start would otherwise
    spend ~1.5 s importing it. Python's import lock makes a Start during the warm-up simply wait for it.
    A daemon thread never holds up quitting.
    """

    def work() -> None:
        background_priority.lower_background_threads(force=True)  # this thread, and any started earlier
        try:
            import engine.stages.pretraining  # noqa: F401
            import engine.sampling  # noqa: F401
        except Exception:  # the run will report the same problem in words when it starts
            logging.getLogger("gui").exception("warming up the engine failed")

    thread = threading.Thread(target=work, name="engine-warm-up", daemon=True)
    thread.start()
    return thread


def _screenshot(app, args) -> int:
    from PySide6.QtCore import QEventLoop

    from gui.main_window import MainWindow

    window = MainWindow(persist_state=False, zoom_percent=args.zoom, theme=args.theme)
    window.resize(*(args.size or (1440, 900)))
    if args.tab:
        window.show_stage(args.tab)
    window.show()
    if args.presentation:
        window.presentation.enter()
    # Let the background jobs (reading the text, tokenizing, measuring) finish so real numbers show.
    deadline = time.monotonic() + SCREENSHOT_SETTLE_SECONDS
    while (window.pretraining_tab.busy or window.data_tab.busy) and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    for _ in range(5):  # layouts and pyqtgraph settle over a few event-loop turns
        app.processEvents()
    window.pretraining_tab.plot.flush()
    args.screenshot.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(args.screenshot), "PNG")
    window.close()
    window.deleteLater()
    if not ok:
        print(f"Could not write {args.screenshot}", file=sys.stderr)
        return 1
    return 0


def _set_icon(app) -> None:
    """The window and task-bar icon, from the repository's assets (absent in an installed wheel)."""
    from PySide6.QtGui import QIcon

    if ICON_PATH.exists():
        app.setWindowIcon(QIcon(str(ICON_PATH)))


def _route_unexpected_errors_to(window) -> None:
    """A bug in a GUI callback shows a plain message instead of vanishing or killing the app."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        logging.getLogger("gui").error("unexpected error", exc_info=(exc_type, exc, tb))
        try:
            from gui.training_controller import plain_message

            window.pretraining_tab.message_bar.error(plain_message(exc))
        except Exception:  # the window may be half torn down; the log above still has it
            previous(exc_type, exc, tb)

    sys.excepthook = hook


if __name__ == "__main__":
    sys.exit(main())
