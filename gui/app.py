"""Entry point: ``training-explorer`` / ``python -m gui``.

    training-explorer                                   open the window
    training-explorer --screenshot shot.png             render the window offscreen to a PNG and exit
        [--tab pretraining] [--zoom 200] [--size 1600x1000] [--theme dark] [--presentation]

``--theme`` and ``--presentation`` work without ``--screenshot`` too: a teacher's launcher can open
the app straight into presentation mode. Neither changes the remembered theme.

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

APP_NAME = "Training Explorer"
DESKTOP_FILE_NAME = "training-explorer"  # assets/training-explorer.desktop: docks group windows by it
ICON_PATH = Path(__file__).resolve().parents[1] / "assets" / "training-explorer.svg"
SCREENSHOT_SETTLE_SECONDS = 20.0  # at most: waits for the text, its tokens and the speed measurement


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from gui.main_window import STAGES  # no Qt objects are created by this import
    from gui.themes import THEMES

    stage_keys = [s.key for s in STAGES]
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
    return parser.parse_args(argv)


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

    from gui.main_window import MainWindow

    if args.screenshot is not None:
        return _screenshot(app, args)

    window = MainWindow(zoom_percent=args.zoom, theme=args.theme)
    if args.tab:
        window.show_stage(args.tab)
    _route_unexpected_errors_to(window)
    window.show()
    if args.presentation:
        window.presentation.enter()
    # The welcome screen on the first start; later, the offer to restore the autosaved session (then
    # the guided tour, if it was left open). Here only, so that screenshots and tests, which build
    # MainWindow themselves, are never interrupted.
    from gui.session_controller import greet_or_offer_restore

    greet_or_offer_restore(window)
    warm_up_engine()
    return app.exec() if owns_app else 0


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
        try:
            import engine.pretraining  # noqa: F401
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
