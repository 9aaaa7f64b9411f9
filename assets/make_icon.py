"""Draw Training Explorer's icon: an SVG, and PNGs rendered from it for launchers that want bitmaps.

    python assets/make_icon.py          writes training-explorer.svg and icons/<size>.png next to this file

The picture is the app in one glance: a loss curve falling over a grid, with the next-token bars of
a model that has learned something. The same drawing in every size, so it is written as SVG by hand
(coordinates on a 256-unit canvas) and rendered by Qt's SVG module; re-running gives the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SVG_PATH = HERE / "training-explorer.svg"
PNG_SIZES = (48, 128, 256)  # the sizes hicolor themes look in first

BACKGROUND = "#1f4f8f"  # the app's blue, darkened so the curve stands out
GRID = "#ffffff"
CURVE = "#ffb347"  # the validation orange, lightened for contrast on the blue
BARS = ("#ffffff", "#cfe0f7", "#9fc0ea")  # most likely next token first

# A loss curve: fast fall, then a slow tail, as every first training run draws it.
CURVE_POINTS = [(40, 60), (62, 118), (84, 150), (108, 168), (136, 178), (168, 184), (216, 188)]


def icon_svg() -> str:
    grid = "".join(
        f'<line x1="{x}" y1="40" x2="{x}" y2="200" />' for x in (72, 112, 152, 192)
    ) + "".join(f'<line x1="40" y1="{y}" x2="216" y2="{y}" />' for y in (80, 120, 160))
    path = "M " + " L ".join(f"{x} {y}" for x, y in CURVE_POINTS)
    widths = (104, 48, 24)  # three next-token bars, the first clearly the most likely
    bars = "".join(
        f'<rect x="{40 + sum(widths[:i]) + i * 8}" y="212" width="{w}" height="16" rx="4" fill="{color}" />'
        for i, (w, color) in enumerate(zip(widths, BARS))
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Training Explorer icon. Written by assets/make_icon.py; edit that script, not this file. -->
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <title>Training Explorer</title>
  <rect x="8" y="8" width="240" height="240" rx="40" fill="{BACKGROUND}" />
  <g stroke="{GRID}" stroke-opacity="0.25" stroke-width="3">{grid}</g>
  <path d="M 40 40 V 200 H 216" fill="none" stroke="{GRID}" stroke-width="8" stroke-linecap="round"
        stroke-linejoin="round" />
  <path d="{path}" fill="none" stroke="{CURVE}" stroke-width="14" stroke-linecap="round"
        stroke-linejoin="round" />
  {bars}
</svg>
"""


def render_pngs(svg_path: Path, sizes=PNG_SIZES) -> list[Path]:
    """PNG copies of the SVG, rendered by Qt (no window needed)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1] + ["-platform", "offscreen"])
    renderer = QSvgRenderer(str(svg_path))
    if not renderer.isValid():
        raise ValueError(f"{svg_path} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = svg_path.parent / "icons" / f"{size}.png"
        out.parent.mkdir(exist_ok=True)
        if not image.save(str(out), "PNG"):
            raise OSError(f"could not write {out}")
        written.append(out)
    del app
    return written


def main() -> int:
    SVG_PATH.write_text(icon_svg(), encoding="utf-8")
    for path in [SVG_PATH, *render_pngs(SVG_PATH)]:
        print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
