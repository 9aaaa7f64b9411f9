"""Shared test set-up: offscreen Qt, an isolated home folder, no network, tiny configs, no leftover threads.

Both environment variables are set at import time, before any test module imports Qt or the engine:
Qt reads QT_QPA_PLATFORM when the QApplication is created, and ``engine.user_paths`` reads
TRAINING_EXPLORER_HOME on every call, so nothing a test does touches a real user's files.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
import sys
import tempfile
import threading
from collections import namedtuple

os.environ["QT_QPA_PLATFORM"] = "offscreen"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each pytest-xdist worker is its own process with a home of its own: two workers sharing one
    # settings file or autosave would see each other's writes.
    os.environ["TRAINING_EXPLORER_HOME"] = tempfile.mkdtemp(prefix=f"te-test-home-{os.environ['PYTEST_XDIST_WORKER']}-")
else:
    os.environ.setdefault("TRAINING_EXPLORER_HOME", tempfile.mkdtemp(prefix="te-test-home-"))

import pytest  # noqa: E402


class NetworkBlocked(OSError):
    """Raised when code under test tries to reach beyond this machine: the app must work offline."""


def _is_local(address) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like never leave the machine
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a host name: resolving it would already need the network
        return False


_real_connect, _real_connect_ex = socket.socket.connect, socket.socket.connect_ex


def _guarded_connect(self, address):
    if not _is_local(address):
        raise NetworkBlocked(f"tests run offline: refused a connection to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise NetworkBlocked(f"tests run offline: refused a connection to {address!r}")
    return _real_connect_ex(self, address)


# At import time, so module imports and fixtures are covered too, not only test bodies.
socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex

from engine.config import ModelConfig, TrainConfig  # noqa: E402

THREAD_GRACE_SECONDS = 5.0

TinyConfigs = namedtuple("TinyConfigs", "model train")


@pytest.fixture
def tiny_configs() -> TinyConfigs:
    """A model and schedule that compile and train in seconds on 2 slow cores."""
    return TinyConfigs(
        ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32),
        TrainConfig(batch_size=8, learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=5, total_steps=30,
                    log_every=5, eval_every=10, eval_batches=2, sample_every=10, sample_tokens=20, seed=7),
    )


def _active_pool_threads() -> int:
    # Only when Qt is already loaded: engine-only test runs must not import it just for this check.
    if "PySide6.QtCore" not in sys.modules:
        return 0
    from PySide6.QtCore import QThreadPool

    return QThreadPool.globalInstance().activeThreadCount()


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_on_the_main_thread_only():
    """As the app does (``gui.app.collect_garbage_on_the_gui_thread``): Python's automatic collector
    could free a widget from a worker thread, which deadlocks Qt against the GIL. Collect between
    tests instead, on the main thread."""
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test(garbage_collected_on_the_main_thread_only):
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def no_thread_left_running():
    """Fail any test that leaves a thread running (a worker the window forgot to stop or wait for).

    Threads get a grace period to finish what they were told to finish; waiting on them is a
    join / waitForDone, not a sleep.
    """
    before = {t for t in threading.enumerate() if not t.daemon}
    yield
    deadline_threads = [t for t in threading.enumerate() if not t.daemon and t not in before]
    for thread in deadline_threads:
        thread.join(THREAD_GRACE_SECONDS)
    leftover = [t.name for t in deadline_threads if t.is_alive()]
    pool_busy = 0
    if "PySide6.QtCore" in sys.modules:
        from PySide6.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(int(THREAD_GRACE_SECONDS * 1000))
        pool_busy = _active_pool_threads()
    assert not leftover, f"threads still running after the test: {leftover}"
    assert pool_busy == 0, f"{pool_busy} Qt worker thread(s) still running after the test"
