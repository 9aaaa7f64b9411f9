"""Exporting what the app shows: any plot or chart as a PNG at projector resolution, any table as CSV.

Every export in the app goes through here, so all of them look and behave alike:

- ``save_png(widget, path, size)`` draws a widget into a picture of exactly ``size`` pixels
  (``PROJECTOR_SIZE``, 1920 × 1080, by default). The widget is laid out as if it were
  ``LAYOUT_WIDTH`` pixels wide (so its text stays as large, relative to the picture, as on a laptop
  screen) and drawn scaled up, so lines and text stay sharp. It is drawn by Qt itself, so the picture
  has the current theme's colours (``gui.themes``), as on screen. A widget that needs more room
  (a chart with many bars) is laid out larger and drawn at a smaller scale, never cut off. A
  pyqtgraph plot is laid out inside its scene and a chart with ``draw(painter, rect)`` paints into
  the rectangle, so neither widget changes size (a page's scroll area would size it straight back);
  any other widget is resized for the drawing and then put back.
- ``save_csv(path, header, rows)`` writes a table with the ``csv`` module (UTF-8 with a byte-order
  mark, so spreadsheets read the accents); ``read_csv`` reads one back.
- Both write atomically (``engine.checkpoint.write_atomically``): a failed export leaves no half
  file. Every problem is an ``ExportError`` in plain words, shown in the tab's message bar.
- ``add_png_export`` / ``add_csv_export`` put "Export as PNG…" / "Export as CSV…" on a widget's
  right-click menu (plots drawn with pyqtgraph get theirs from ``ZoomedPlotWidget``); ``ask_png`` and
  ``ask_csv`` ask where to save and report the outcome, for buttons.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import QBuffer, QByteArray, QCoreApplication, QEvent, QIODevice, QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QAction, QColor, QImage, QPainter, QPalette, QRegion, QResizeEvent
from PySide6.QtWidgets import QFileDialog, QGraphicsView, QMessageBox, QWidget

from engine.errors import PlainError

PROJECTOR_SIZE = (1920, 1080)  # full HD: what classroom projectors and slides show
LAYOUT_WIDTH = 960  # a picture is laid out at this width (or wider, if the widget needs it), then scaled
MIN_SIDE, MAX_SIDE = 16, 8192  # pixels: smaller is no picture, larger runs out of memory on a laptop
PNG_FILTER = "PNG pictures (*.png)"
CSV_FILTER = "CSV tables (*.csv)"
PNG_TIP = (f"Save this as a {PROJECTOR_SIZE[0]} × {PROJECTOR_SIZE[1]} PNG picture in the current theme's "
           "colours, sharp on a projector or a slide.")
CSV_TIP = "Save this table as a CSV file that spreadsheets open."


class ExportError(PlainError):
    """A picture or a table that could not be written."""


# --- pictures -----------------------------------------------------------------------------------------


def _background(widget: QWidget) -> QColor:
    """What the widget is drawn on: a plot's own theme colour, else the palette's (which the theme sets)."""
    own = getattr(widget, "background_color", None)
    if callable(own):
        return QColor(own())
    return widget.palette().color(QPalette.ColorRole.Window)


def _layout_size(widget: QWidget, width: int, height: int) -> tuple[int, int]:
    """The size to lay ``widget`` out at: ``width``×``height``'s shape, as large as the widget needs."""
    scale = max(1.0, width / LAYOUT_WIDTH)
    hint = widget.minimumSizeHint()
    need_w = max(widget.minimumWidth(), hint.width() if hint.isValid() else 0, 1)
    for _ in range(6):  # a chart's height depends on its width: settle in a few steps
        w, h = width / scale, height / scale
        need_h = max(widget.minimumHeight(), hint.height() if hint.isValid() else 0, 1)
        if widget.hasHeightForWidth():
            need_h = max(need_h, widget.heightForWidth(int(w)))
        if w >= need_w and h >= need_h:
            break
        scale = min(scale, width / need_w, height / need_h) * 0.98
    return max(1, round(width / scale)), max(1, round(height / scale))


def _deliver_resizes(widget: QWidget) -> None:
    """Send the resize events Qt holds back for hidden widgets (a page not in front), parents first.

    A hidden widget's new size reaches its layout, its children and a plot's view only when it is shown
    (or here): without this, a plot on a page never opened would be drawn at its old size.
    """
    pending = Qt.WidgetAttribute.WA_PendingResizeEvent
    for _ in range(8):  # each pass reaches one more level of children
        waiting = [w for w in [widget, *widget.findChildren(QWidget)] if w.testAttribute(pending)]
        if not waiting:
            return
        for w in waiting:
            w.setAttribute(pending, False)
            QCoreApplication.sendEvent(w, QResizeEvent(w.size(), QSize()))


def _paint_twice(image: QImage, widget: QWidget, lw: int, lh: int, draw) -> None:
    """Fill ``image`` and ``draw(painter)`` into it, scaled from ``lw``×``lh``, twice.

    Twice: a plot sizes its axes from the tick labels it has drawn, and lays them out in posted
    events; the second drawing has the room the first one measured.
    """
    for _ in range(2):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        image.fill(_background(widget))
        painter = QPainter(image)
        try:
            painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                                   | QPainter.RenderHint.SmoothPixmapTransform)
            painter.scale(image.width() / lw, image.height() / lh)
            draw(painter)
        finally:
            painter.end()


def _render_plot(view: QGraphicsView, image: QImage, lw: int, lh: int) -> None:
    """A pyqtgraph plot: its plot item laid out at ``lw``×``lh`` in the scene, drawn, and put back.

    The widget itself keeps its size: on a page inside a scroll area, the scroll area would size it
    back before it is drawn.
    """
    item = view.centralWidget
    old = item.geometry()
    item.setGeometry(QRectF(0, 0, lw, lh))
    try:
        _paint_twice(image, view, lw, lh,
                     lambda painter: view.scene().render(painter, QRectF(0, 0, lw, lh), QRectF(0, 0, lw, lh)))
    finally:
        item.setGeometry(old)


def _render_widget(widget: QWidget, image: QImage, lw: int, lh: int) -> None:
    """Any other widget: resized to ``lw``×``lh``, drawn with its children, and put back."""
    old_size = widget.size()
    widget.resize(lw, lh)  # put back below, before anything repaints
    try:
        _deliver_resizes(widget)
        _paint_twice(image, widget, lw, lh, lambda painter: QWidget.render(
            widget, painter, QPoint(0, 0), QRegion(0, 0, lw, lh),
            QWidget.RenderFlag.DrawWindowBackground | QWidget.RenderFlag.DrawChildren))
    finally:
        widget.resize(old_size)
        _deliver_resizes(widget)


def render(widget: QWidget, size: tuple[int, int] = PROJECTOR_SIZE) -> QImage:
    """``widget`` drawn into a ``size`` picture in its current colours (see the module's docstring)."""
    width, height = (int(v) for v in size)
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ExportError(f"A picture must be between {MIN_SIDE} and {MAX_SIDE} pixels on each side, "
                          f"not {width} × {height}.")
    flush = getattr(widget, "flush", None)  # plots that draw new points on a timer draw them now
    if callable(flush):
        flush()
    lw, lh = _layout_size(widget, width, height)
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    if image.isNull():
        raise ExportError(f"There is not enough memory for a {width} × {height} picture.")
    if isinstance(widget, QGraphicsView) and getattr(widget, "centralWidget", None) is not None:
        _render_plot(widget, image, lw, lh)
    elif callable(getattr(widget, "draw", None)):  # a chart that paints itself into any rectangle
        _paint_twice(image, widget, lw, lh, lambda painter: widget.draw(painter, QRectF(0, 0, lw, lh)))
    else:
        _render_widget(widget, image, lw, lh)
    return image


def file_name(title: str) -> str:
    """A title as a file name to suggest: "Coverage: characters per topic" → "coverage-characters-per-topic"."""
    words = "".join(c.lower() if c.isalnum() else " " for c in title).split()
    return "-".join(words)[:60].rstrip("-") or "export"


def _with_suffix(path, suffix: str) -> Path:
    path = Path(path)
    return path if path.suffix.lower() == suffix else path.with_name(path.name + suffix)


def _write(path: Path, data: bytes, what: str) -> Path:
    from engine.checkpoint import write_atomically

    if not path.parent.is_dir():
        raise ExportError(f"The {what} could not be saved: the folder '{path.parent}' does not exist.",
                          "Choose another folder.")
    try:
        write_atomically(path, data)
    except OSError as err:
        raise ExportError(f"The {what} could not be saved as '{path.name}': {err.strerror or err}.",
                          "Choose another folder, or free some disk space.") from err
    return path


def save_png(widget: QWidget, path, size: tuple[int, int] = PROJECTOR_SIZE) -> Path:
    """Write ``widget`` as a ``size`` PNG at ``path`` (".png" added if missing); returns the path."""
    path = _with_suffix(path, ".png")
    image = render(widget, size)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ExportError("The picture could not be made.", "Try a smaller size.")
    buffer.close()
    return _write(path, bytes(data.data()), "picture")


# --- tables -------------------------------------------------------------------------------------------


def save_csv(path, header: Sequence[str], rows: Sequence[Sequence]) -> Path:
    """Write ``header`` and ``rows`` as CSV at ``path`` (".csv" added if missing); returns the path."""
    path = _with_suffix(path, ".csv")
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(list(header))
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return _write(path, text.getvalue().encode("utf-8-sig"), "table")


def read_csv(path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a CSV file written by ``save_csv``."""
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    return (rows[0] if rows else []), rows[1:]


# --- asking where, and saying how it went ---------------------------------------------------------------


def _say(widget: QWidget, text: str, problem: bool) -> None:
    """In the message bar of the tab ``widget`` is on; a box if it is on none."""
    holder = widget
    while holder is not None:
        bar = getattr(holder, "message_bar", None)
        if bar is not None and hasattr(bar, "info"):
            (bar.error if problem else bar.info)(text)
            return
        holder = holder.parentWidget()
    if problem:
        QMessageBox.warning(widget.window(), "Export", text)


def _default_folder() -> Path:
    from engine.user_paths import data_dir

    return data_dir()


def ask_png(widget: QWidget, name: str, size: tuple[int, int] = PROJECTOR_SIZE) -> Path | None:
    """Ask where to save ``widget`` as a PNG (suggesting ``name``.png), save it, and say how it went."""
    suggestion = str(_default_folder() / f"{name}.png")
    path, _filter = QFileDialog.getSaveFileName(widget.window(), "Export as PNG", suggestion, PNG_FILTER)
    return export_png(widget, path, size) if path else None


def export_png(widget: QWidget, path, size: tuple[int, int] = PROJECTOR_SIZE) -> Path | None:
    """``save_png``, with the outcome in the tab's message bar; None (and the reason shown) if it failed."""
    try:
        written = save_png(widget, path, size)
    except ExportError as err:
        _say(widget, str(err), problem=True)
        return None
    _say(widget, f"Saved the picture as '{written.name}' ({size[0]} × {size[1]}).", problem=False)
    return written


def ask_csv(widget: QWidget, name: str, table: Callable[[], tuple[Sequence[str], Sequence[Sequence]]]) -> Path | None:
    """Ask where to save ``table()`` (header, rows) as CSV (suggesting ``name``.csv), save it, say how it went."""
    suggestion = str(_default_folder() / f"{name}.csv")
    path, _filter = QFileDialog.getSaveFileName(widget.window(), "Export as CSV", suggestion, CSV_FILTER)
    return export_csv(widget, path, *table()) if path else None


def export_csv(widget: QWidget, path, header: Sequence[str], rows: Sequence[Sequence]) -> Path | None:
    """``save_csv``, with the outcome in the tab's message bar; None (and the reason shown) if it failed."""
    try:
        written = save_csv(path, header, rows)
    except ExportError as err:
        _say(widget, str(err), problem=True)
        return None
    _say(widget, f"Saved {len(rows):,} row{'s' if len(rows) != 1 else ''} as '{written.name}'.", problem=False)
    return written


# --- right-click menus ----------------------------------------------------------------------------------


def png_action(widget: QWidget, name: str | Callable[[], str], size: tuple[int, int] = PROJECTOR_SIZE) -> QAction:
    """An "Export as PNG…" action for ``widget``; ``name`` (or a function giving it) names the suggested file."""
    action = QAction("Export as PNG…", widget)
    action.setToolTip(PNG_TIP)
    action.setStatusTip(PNG_TIP)
    action.triggered.connect(lambda _checked=False: ask_png(widget, name() if callable(name) else name, size))
    return action


def add_png_export(widget: QWidget, name: str | Callable[[], str]) -> QAction:
    """Put "Export as PNG…" on ``widget``'s right-click menu; returns the action (tests trigger it)."""
    action = png_action(widget, name)
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    widget.addAction(action)
    return action


def add_csv_export(widget: QWidget, name: str,
                   table: Callable[[], tuple[Sequence[str], Sequence[Sequence]]]) -> QAction:
    """Put "Export as CSV…" on ``widget``'s right-click menu; ``table()`` gives (header, rows) when chosen."""
    action = QAction("Export as CSV…", widget)
    action.setToolTip(CSV_TIP)
    action.setStatusTip(CSV_TIP)
    action.triggered.connect(lambda _checked=False: ask_csv(widget, name, table))
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    widget.addAction(action)
    return action


def table_widget_rows(table) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a QTableWidget as shown: header labels and each cell's text."""
    header = [table.horizontalHeaderItem(c).text() if table.horizontalHeaderItem(c) else f"Column {c + 1}"
              for c in range(table.columnCount())]
    rows = [[table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
            for r in range(table.rowCount())]
    return header, rows


def add_table_csv_export(table, name: str) -> QAction:
    """"Export as CSV…" on a QTableWidget's right-click menu, writing its cells as shown."""
    return add_csv_export(table, name, lambda: table_widget_rows(table))
