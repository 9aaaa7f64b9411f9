"""Training yields the CPU to the window (``gui/background_priority.py``), in a process of its own.

An unprivileged process can never take back a lowered priority, so the check runs in a child
process rather than in this test process (whose later tests would run slower). The whole app's
threads are checked in ``tests/reliability/test_app_kill.py``, mid-run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread priorities are Linux's")

CHILD = textwrap.dedent(
    """
    import json, os, threading
    from gui import background_priority as bp

    started, finish, ids = threading.Event(), threading.Event(), {}

    def work():
        ids["worker"] = threading.get_native_id()
        started.set()
        finish.wait()

    worker = threading.Thread(target=work)
    worker.start()
    started.wait()
    nice = lambda tid: os.getpriority(os.PRIO_PROCESS, tid)
    main = threading.get_native_id()
    result = {"before": [nice(main), nice(ids["worker"])]}
    result["lowered_while_disabled"] = bp.lower_background_threads(force=True)
    bp.enable()
    result["lowered"] = bp.lower_background_threads(force=True)
    result["lowered_again"] = bp.lower_background_threads(force=True)
    result["too_soon"] = bp.lower_background_threads()
    result["after"] = [nice(main), nice(ids["worker"])]
    finish.set()
    worker.join()
    print(json.dumps(result))
    """
)


def test_every_thread_but_the_gui_thread_is_lowered_once_enabled():
    from gui.background_priority import BACKGROUND_NICE

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert result["before"] == [own, own]
    assert result["lowered_while_disabled"] == 0  # tests and scripts: nothing changes unless the app asks
    assert result["lowered"] >= 1  # the worker thread
    assert result["lowered_again"] == 0 and result["too_soon"] == 0  # already lowered; and rate-limited
    assert result["after"] == [own, max(own, BACKGROUND_NICE)]  # the GUI thread keeps its priority
