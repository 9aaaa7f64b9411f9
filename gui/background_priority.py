"""Training yields the CPU to the window: background threads run at a lower scheduling priority (Linux).

On a 2-core laptop a training step keeps both cores busy with XLA's threads. When the window has
work at the same moment (a tab switch, a resize, a repaint of the loss curve), the GUI thread gets
only its fair share of a core, so a 40 ms repaint stretches to 100 ms and more and the window feels
stuck. Raising the *nice* value of every thread but the GUI thread lets the kernel hand the GUI
thread a core as soon as it wants one. While the window is idle, which is nearly all of a run, the
training threads still get the whole machine, so training is no slower (``benchmarks/README.md``
has the figures).

Only the app turns this on (``enable()`` in ``gui/app.py`` and the UI-latency benchmark): a test
process must not slow down its own later tests. On Linux the nice value is a per-thread attribute,
set through ``/proc/self/task``; elsewhere this does nothing. An unprivileged process can raise a
thread's nice value but never lower it again, which is why it is opt-in and only ever raised.
"""

from __future__ import annotations

import os
import threading
import time

BACKGROUND_NICE = 10  # CFS weight 110 against the GUI thread's 1024: the GUI thread wins a contested core
RECHECK_SECONDS = 1.0  # XLA starts its threads lazily; look for new ones at most this often

_enabled = False
_last_check = 0.0
_lock = threading.Lock()


def enable() -> None:
    """Let ``lower_background_threads`` act in this process (the app calls it once, at start)."""
    global _enabled
    _enabled = True


def _is_qt_thread(tid: int) -> bool:
    """Qt's own helper threads (``QXcbEventQueue`` reads the display's events, ``QDBusConnection``…)
    serve the window, so they keep their priority; ``Thread (pooled)`` is our worker pool."""
    try:
        with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as f:
            name = f.read().strip()
    except OSError:
        return False
    return name.startswith("Q") and not name.startswith("QThreadPool")


def lower_background_threads(force: bool = False) -> int:
    """Raise the nice value of every thread of this process except the main (GUI) thread and Qt's own.

    Call it from any thread, as often as convenient: it looks at most once per ``RECHECK_SECONDS``
    unless ``force``. Returns how many threads it lowered this time (0 when disabled, off Linux, or
    when every thread already was). Never raises: a thread that ended meanwhile is skipped.
    """
    global _last_check
    if not (_enabled and hasattr(os, "setpriority")):
        return 0
    now = time.monotonic()
    with _lock:
        if not force and now - _last_check < RECHECK_SECONDS:
            return 0
        _last_check = now
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:  # not Linux: no per-thread nice values to set
        return 0
    gui = threading.main_thread().native_id
    lowered = 0
    for tid in tids:
        if tid == gui or _is_qt_thread(tid):
            continue
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICE:
                os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICE)
                lowered += 1
        except OSError:  # the thread has ended, or the system refuses: nothing to do
            pass
    return lowered
