"""Guards against a broken Qt binding: PySide6-Essentials 6.12.0 on Python 3.11 lost a reference to
None on every void call and to True on every signal emit, and aborted the interpreter ("Fatal Python
error: none_dealloc") after a few thousand. pyproject.toml excludes it; this catches a regression
in any version we allow, with few enough calls that a leaking binding cannot crash the test run."""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel


class _Emitter(QObject):
    fired = Signal(int)


def test_void_calls_and_emits_keep_reference_counts(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    emitter = _Emitter()
    received = []
    emitter.fired.connect(received.append)
    for _ in range(5):  # warm up caches that legitimately hold references
        label.setText("x")
        emitter.fired.emit(1)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(50):
        label.setText("x")
        emitter.fired.emit(1)
    assert sys.getrefcount(None) - none_before > -10, "the Qt binding leaks references to None"
    assert sys.getrefcount(True) - true_before > -10, "the Qt binding leaks references to True"
    assert len(received) == 55
