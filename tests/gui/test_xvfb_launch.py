"""The real app on a real X display: start it under Xvfb, not only offscreen, and take a screenshot.

The other GUI tests run on Qt's offscreen platform, which never loads the X11 (xcb) plugin or talks to
an X server. A missing system library for that plugin (libxcb-cursor0 and friends) stops the app on
every Linux desktop while every offscreen test passes; this test catches it. CI installs Xvfb
(``.ci/run``); without it the test is skipped and says why.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

ROOT = Path(__file__).resolve().parents[2]
SCREEN = "1280x800x24"
SHOT_SIZE = (1024, 700)
DISPLAY_WAIT_SECONDS = 20

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("Xvfb") is None,
                       reason="Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb); "
                              "the start-up test on a real X display needs it"),
]


@pytest.fixture
def x_display():
    """A private Xvfb server; yields its DISPLAY string (":N"), and stops it afterwards."""
    read_end, write_end = os.pipe()
    # -displayfd: Xvfb picks a free display number itself and writes it here once it accepts clients.
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], DISPLAY_WAIT_SECONDS)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        if not number:
            server.kill()
            pytest.fail(f"Xvfb did not start: {server.communicate(timeout=10)[1].decode(errors='replace')[-2000:]}")
        yield f":{number}"
    finally:
        os.close(read_end)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def test_the_app_starts_on_an_x_display_and_takes_a_screenshot(x_display, tmp_path):
    out = tmp_path / "xvfb.png"
    env = dict(os.environ)
    env.update(DISPLAY=x_display, QT_QPA_PLATFORM="xcb")  # xcb and nothing else: no fallback
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-m", "gui", "--screenshot", str(out), "--tab", "data",
         "--size", f"{SHOT_SIZE[0]}x{SHOT_SIZE[1]}", "--theme", "dark"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=150,
    )
    # Qt aborts when the xcb plugin cannot load or connect, so success means it ran on the X server.
    assert result.returncode == 0, result.stderr[-3000:]
    image = QImage(str(out))
    assert not image.isNull(), "the screenshot is not a readable PNG"
    # grab() renders at the screen's device pixel ratio; Xvfb's is 1.
    assert (image.width(), image.height()) == SHOT_SIZE
    # A real window, not an empty surface: many colours, and the dark theme's background dominates.
    samples = Counter(image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7))
    assert len(samples) > 50
    most_common = QColor.fromRgb(samples.most_common(1)[0][0])
    assert most_common.lightness() < 80, most_common.name()
