"""The guided tour: five short steps, one per stage, for a learner alone with the app.

Each step says in two or three plain sentences what its stage does to a real model, frames the
control to press (``Spotlight``, a coloured frame drawn over the window that follows the control
when the window is resized, zoomed or scrolled), and enables "Next" only once the step has really
happened in the app:

1. Data: a curation choice changed the text (``DataTab.curated_changed`` from a user action);
2. Pretraining: a run finished, or was stopped, with a model (``TrainingController.finished``);
3. Instruction tuning: the tab produced a tuned model (``InstructionTab.model_changed``);
4. Preference tuning: likewise (``PreferenceTab.model_changed``);
5. Evaluation: a benchmark ran to the end, or was stopped after at least one answer.

The tour listens from the moment the window exists, so something done while the tour was closed
still counts when the learner comes back. Its panel is a dock at the bottom of the window, never a
modal dialog: every control of the tabs stays usable. Leaving closes the panel; the step is kept
in settings, so the tour resumes where it was, also after a restart (``gui.welcome_dialog`` reopens
it on the next start if it was open when the app closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QRegion
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui import settings
from gui.availability import set_available
from gui.presentation import name_unnamed_controls
from gui.themes import current_theme, legible_color
from gui.widgets.vertical_scroll_area import VerticalScrollArea

# Settings keys (kept with the tour, in gui.settings' style: one place per key).
TOUR_STEP = "guide/tour_step"  # index of the step the learner is on (len(TOUR_STEPS): the end page)
TOUR_OPEN = "guide/tour_open"  # 1 if the tour was open when the app closed: reopen it on the next start

SPOTLIGHT_COLOR = "#f08c00"  # amber: unlike the theme's blue (or yellow) focus, never mistaken for a selection
SPOTLIGHT_MIN_CONTRAST = 3.0  # WCAG's minimum for graphical objects, against the window's background
RETARGET_INTERVAL_MS = 300  # how often an open tour checks which control to frame (it depends on the state)


@dataclass(frozen=True)
class TourStep:
    """One stop of the tour."""

    key: str  # remembered in settings; names the step in tests
    stage: str  # the tab this step happens on (a key of gui.main_window.STAGES)
    title: str  # the panel's heading
    explanation: str  # two or three plain sentences: what this stage does to a real model
    action: str  # what to press, in words that name the framed control
    waiting: str  # the status line until the step has happened
    done: str  # the status line once it has
    target: Callable[[object], QWidget]  # window → the control to press now (may depend on the state)
    watch: Callable[[object, Callable[[], None]], None]  # connects the real signals; calls back when it happened


# --- what each step watches ---------------------------------------------------------------------


def _watch_curation(window, happened: Callable[[], None]) -> None:
    # The first load (the default world) is not the learner's doing; every later change is.
    window.data_tab.curated_changed.connect(lambda _corpus, _why, by_user: happened() if by_user else None)


def _watch_pretraining(window, happened: Callable[[], None]) -> None:
    controller = window.pretraining_tab.controller

    def on_finished(event) -> None:
        # "diverged" keeps the last good model, but the run did not work: the learner should try again.
        if event.reason in ("completed", "stopped") and controller.current_model is not None:
            happened()

    controller.finished.connect(on_finished)


def _watch_tuned(tab_name: str) -> Callable[[object, Callable[[], None]], None]:
    def watch(window, happened: Callable[[], None]) -> None:
        # model_changed fires only when a run of the tab produced a model (finished or stopped).
        getattr(window, tab_name).model_changed.connect(lambda _model: happened())

    return watch


def _watch_benchmark(window, happened: Callable[[], None]) -> None:
    from engine.events import Finished

    def on_event(event) -> None:
        # Finished.step counts the answers graded: a benchmark stopped before its first is not a result.
        if isinstance(event, Finished) and (event.reason == "completed" or event.step > 0):
            happened()

    window.evaluation_tab.runner.event.connect(on_event)


def _tuning_target(tab_name: str) -> Callable[[object], QWidget]:
    def target(window) -> QWidget:
        tab = getattr(window, tab_name)
        # Without a model to start from, the first press is the shipped one; then Start.
        if tab.base_model is None and not tab.shipped_button.isHidden():
            return tab.shipped_button
        return tab.start_button

    return target


def _evaluation_target(window) -> QWidget:
    tab = window.evaluation_tab
    if not tab.models_under_test() and not tab.shipped_button.isHidden():
        return tab.shipped_button
    return tab.run_button


TOUR_STEPS: tuple[TourStep, ...] = (
    TourStep(
        "data", "data", "Data: choose what the model will read",
        "A language model knows only what is in its training text. Real models read billions of web pages, "
        "and people decide which to keep: what is too old, repeated or junk, and how much of each kind.",
        "Tick “Remove junk” (or make any other choice under “2. Curate”) and watch the charts change.",
        "Waiting for a curation choice…",
        "Done: the text the model will learn from has changed. Press Next.",
        lambda window: window.data_tab.curation_panel.junk_box,
        _watch_curation,
    ),
    TourStep(
        "pretraining", "pretraining", "Pretraining: learn to predict the next word",
        "The model starts knowing nothing and reads your text over and over, each time adjusting its numbers "
        "(billions in real models, about a hundred thousand here) so that it guesses the next token a little "
        "better. This is where it picks up spelling, words and facts.",
        "Keep the “Tiny” model size and press Start. The menu says how long it takes on this computer; "
        "press Stop early if you like: "
        "the model trained so far is kept.",
        "Waiting for a training run to finish or be stopped…",
        "Done: you have a pretrained model. It continues text, but does not yet answer questions. Press Next.",
        lambda window: window.pretraining_tab.start_button,
        _watch_pretraining,
    ),
    TourStep(
        "instruction", "instruction", "Instruction tuning: learn to answer",
        "A pretrained model only continues text. Training it a little more on questions paired with good "
        "answers teaches it the format of a reply, so that it answers instead of rambling on.",
        "Start from your pretrained model (or press “Use the shipped pretrained model”), then press Start. "
        "Press Stop whenever you like.",
        "Waiting for the instruction-tuned model…",
        "Done: the model has learnt to answer. Compare before and after on the pages below. Press Next.",
        _tuning_target("instruction_tab"),
        _watch_tuned("instruction_tab"),
    ),
    TourStep(
        "preference", "preference", "Preference tuning: answers people prefer",
        "People compared pairs of answers and picked the better one. Preference tuning nudges the model "
        "toward the chosen answers and away from the rejected ones: more helpful, more honest, fewer refusals "
        "where none is needed.",
        "Start from your instruction-tuned model (or press “Use the shipped instruction-tuned model”), then "
        "press Start.",
        "Waiting for the preference-tuned model…",
        "Done: the model leans toward the answers people preferred. Press Next.",
        _tuning_target("preference_tab"),
        _watch_tuned("preference_tab"),
    ),
    TourStep(
        "evaluation", "evaluation", "Evaluation: measure what it learned",
        "A model is only as good as its answers to questions it has not seen. The benchmark asks every model "
        "questions whose answers are known and counts right, wrong and “I don't know”, per topic.",
        "Press “Run benchmark” (with no models yet, first press “Add the shipped models”). "
        "You may stop it after the first answers.",
        "Waiting for a benchmark to run…",
        "Done: you made a model, stage by stage, and tested it. Press Finish.",
        _evaluation_target,
        _watch_benchmark,
    ),
)

END_TITLE = "The end of the tour"
END_TEXT = ("You went through every stage real language models go through, with a model of your own. The lessons "
            "on the Evaluation tab's last page show why such models hallucinate, go out of date or disagree, "
            "measured on this app's models.")


def _clamp_step(index: int) -> int:
    return max(0, min(len(TOUR_STEPS), index))


# --- the frame around the control to press ---------------------------------------------------------


class Spotlight(QWidget):
    """A frame drawn over ``window`` around one of its widgets; it ignores the mouse and follows the widget.

    The frame is an overlay, not a style sheet on the widget: it works on any control and theme, and
    leaves the control's own look (and the other developer's styling) alone. It watches the target
    and every widget between it and the window for moves, resizes and visibility changes, so
    scrolling, splitters, zooming and switching tabs all move or hide it.
    """

    def __init__(self, window: QWidget, zoom):
        super().__init__(window)
        self._window = window
        self._zoom = zoom
        self._target: QWidget | None = None
        self._watched: list[QWidget] = []
        self._follow_pending = False
        self.frame_rect = QRect()  # in the window's coordinates; empty when nothing is framed
        self._painted_width = 0  # the pen width frame_rect was drawn with (the zoom changes it)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAccessibleName("Guided tour highlight")
        window.installEventFilter(self)
        zoom.zoom_changed.connect(lambda *_args: self.follow_soon())
        self.hide()

    @property
    def target(self) -> QWidget | None:
        return self._target if self._target is not None and shiboken6.isValid(self._target) else None

    @property
    def pen_width(self) -> int:
        return max(3, round(4 * self._zoom.scale))

    def set_target(self, widget: QWidget | None) -> None:
        if widget is not self._target:
            for watched in self._watched:
                if shiboken6.isValid(watched):
                    watched.removeEventFilter(self)
            self._target = widget
            self._watched = []
            parent = widget
            while parent is not None and parent is not self._window:
                parent.installEventFilter(self)
                self._watched.append(parent)
                parent = parent.parentWidget()
        self.follow()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.Hide,
                            QEvent.Type.LayoutRequest, QEvent.Type.ChildAdded):
            # After the event: a parent's layout places its children only once its own resize is handled.
            self.follow_soon()
        return False

    def follow_soon(self) -> None:
        if not self._follow_pending:
            self._follow_pending = True
            QTimer.singleShot(0, self.follow)

    def follow(self) -> None:
        """Put the frame where the target is now (hide it if the target cannot be seen)."""
        self._follow_pending = False
        if not shiboken6.isValid(self):
            return
        visible = self._visible_rect()
        margin = self.pen_width
        frame = visible.adjusted(-margin, -margin, margin, margin) if not visible.isEmpty() else QRect()
        if (frame == self.frame_rect and self.geometry() == self._window.rect()
                and self.isVisible() == (not frame.isEmpty()) and margin == self._painted_width):
            return  # nothing moved: repainting the overlay would repaint the plots under it too
        old, self.frame_rect, self._painted_width = self.frame_rect, frame, margin
        self.setGeometry(self._window.rect())
        self.setVisible(not frame.isEmpty())
        self.raise_()  # above docks and bars added since
        self.update(QRegion(old).united(QRegion(frame)))  # only where the frame was and is

    def _visible_rect(self) -> QRect:
        """The part of the target not scrolled or clipped away, in the window's coordinates."""
        target = self.target
        if target is None or not target.isVisible() or target.window() is not self._window:
            return QRect()
        rect = QRect(target.mapTo(self._window, QPoint(0, 0)), target.size())
        parent = target.parentWidget()
        while parent is not None and parent is not self._window:
            rect = rect.intersected(QRect(parent.mapTo(self._window, QPoint(0, 0)), parent.size()))
            parent = parent.parentWidget()
        return rect

    def paintEvent(self, _event) -> None:
        if self.frame_rect.isEmpty():
            return
        theme = current_theme()
        color = legible_color(QColor(SPOTLIGHT_COLOR), theme.window, SPOTLIGHT_MIN_CONTRAST)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = self.pen_width
        painter.setPen(QPen(color, width))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        inner = self.frame_rect.adjusted(width // 2, width // 2, -(width // 2), -(width // 2))
        painter.drawRoundedRect(inner, width * 1.5, width * 1.5)


# --- the panel ----------------------------------------------------------------------------------------


class TourPanel(QWidget):
    """What the dock shows: the step's heading, explanation, what to press, its state, and the buttons."""

    def __init__(self, zoom, parent=None):
        super().__init__(parent)
        self.title_label = QLabel()
        self.title_label.setWordWrap(True)
        zoom.follow_zoom(self.title_label, lambda: _bold(zoom.font(1.15)))
        self.explanation_label = QLabel()
        self.explanation_label.setWordWrap(True)
        self.action_label = QLabel()
        self.action_label.setWordWrap(True)
        zoom.follow_zoom(self.action_label, lambda: _bold(zoom.font()))
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("Guided tour step status")
        self.next_button = QPushButton("Next")
        self.back_button = QPushButton("Back")
        self.leave_button = QPushButton("Leave the tour")
        self.leave_button.setToolTip("Close the tour. Help → Guided tour brings it back at this step.")
        self.why_button = QPushButton("Why does AI do that?")
        self.restart_button = QPushButton("Start the tour again")
        for button in (self.next_button, self.back_button, self.leave_button, self.why_button, self.restart_button):
            button.setAutoDefault(False)

        # The words scroll when a small screen at a big zoom leaves too little height (the window
        # must not grow past a 1280x800 projector); the buttons beside them never do.
        self.text = QWidget()
        text = QVBoxLayout(self.text)
        text.setContentsMargins(0, 0, 0, 0)
        for label in (self.title_label, self.explanation_label, self.action_label, self.status_label):
            text.addWidget(label)
        text.addStretch(1)
        self.text_scroll = VerticalScrollArea()
        self.text_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.text_scroll.setWidget(self.text)
        # Two rows of buttons at most: at 200 % zoom on a 1280x800 screen the stages leave the tour
        # little more than that height.
        self.buttons = QWidget()
        buttons = QGridLayout(self.buttons)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.next_button, 0, 0)
        buttons.addWidget(self.why_button, 0, 0)  # the end page's pair, where Next and Back were
        buttons.addWidget(self.restart_button, 0, 1)
        buttons.addWidget(self.back_button, 1, 0)
        buttons.addWidget(self.leave_button, 1, 1)
        buttons.setRowStretch(2, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(layout.contentsMargins().left(), 2, layout.contentsMargins().right(), 2)
        layout.addWidget(self.text_scroll, 1)
        layout.addWidget(self.buttons, 0, Qt.AlignmentFlag.AlignTop)

    def needed_height(self) -> int:
        """The height that shows every word without scrolling, at the current width and zoom."""
        width = self.text_scroll.viewport().width() or self.text.width()
        words = self.text.heightForWidth(width) if self.text.hasHeightForWidth() else self.text.sizeHint().height()
        margins = self.layout().contentsMargins()
        return max(words, self.buttons.sizeHint().height()) + margins.top() + margins.bottom()


def _bold(font):
    font.setBold(True)
    return font


# --- the tour ---------------------------------------------------------------------------------------


class GuidedTour(QObject):
    """The tour's state (which step, what has happened) and its dock; ``open`` shows it where it was left."""

    step_changed = Signal(int)  # the new step's index (len(TOUR_STEPS): the end page)
    step_happened = Signal(str)  # a step's key, the first time its real signal fires in this session
    open_changed = Signal(bool)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.steps = TOUR_STEPS
        self._happened: set[str] = set()
        self.index = _clamp_step(settings.read_int(TOUR_STEP, 0))
        self.dock: QDockWidget | None = None  # made on the first open: a window never toured pays nothing
        self.panel: TourPanel | None = None
        self.spotlight: Spotlight | None = None
        self._retarget_timer = QTimer(self)
        self._retarget_timer.setInterval(RETARGET_INTERVAL_MS)
        self._retarget_timer.timeout.connect(self._refresh)
        for step in self.steps:
            step.watch(window, lambda key=step.key: self._mark_happened(key))

    # --- state ---------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.dock is not None and not self.dock.isHidden()

    @property
    def current_step(self) -> TourStep | None:
        """The step on screen; None on the end page."""
        return self.steps[self.index] if self.index < len(self.steps) else None

    def has_happened(self, key: str) -> bool:
        return key in self._happened

    @staticmethod
    def was_open_at_last_close() -> bool:
        return settings.read_int(TOUR_OPEN, 0) == 1

    # --- commands ------------------------------------------------------------------------------

    def open(self) -> None:
        """Show the tour at the remembered step."""
        self._build()
        self.dock.show()
        settings.write(TOUR_OPEN, 1)
        self._retarget_timer.start()
        self._go_to(self.index)
        self.open_changed.emit(True)

    def leave(self) -> None:
        """Close the tour; the step is kept for next time."""
        if self.dock is not None:
            self.dock.hide()
            self.spotlight.set_target(None)
        self._retarget_timer.stop()
        settings.write(TOUR_OPEN, 0)
        self.open_changed.emit(False)

    def next(self) -> None:
        step = self.current_step
        if step is not None and self.has_happened(step.key):
            self._go_to(self.index + 1)

    def back(self) -> None:
        if self.index > 0:
            self._go_to(self.index - 1)

    def restart(self) -> None:
        self._go_to(0)

    # --- internals -----------------------------------------------------------------------------

    def _mark_happened(self, key: str) -> None:
        if key in self._happened:
            return
        self._happened.add(key)
        self.step_happened.emit(key)
        if self.is_open:
            self._refresh()

    def _build(self) -> None:
        if self.dock is not None:
            return
        window = self.window
        self.panel = TourPanel(window.zoom)
        self.dock = QDockWidget("Guided tour", window)
        self.dock.setObjectName("guidedTourDock")
        self.dock.setAccessibleName("Guided tour")
        # Closed only through "Leave the tour", which remembers that it was left; never floating, so
        # the frame around the control to press always lies in the same window.
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.dock.setWidget(self.panel)
        self.dock.setTitleBarWidget(QWidget())  # no title bar: the panel's heading names the step, in less height
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.spotlight = Spotlight(window, window.zoom)
        self.panel.next_button.clicked.connect(self.next)
        self.panel.back_button.clicked.connect(self.back)
        self.panel.leave_button.clicked.connect(self.leave)
        self.panel.restart_button.clicked.connect(self.restart)
        self.panel.why_button.clicked.connect(self._show_why)
        window.tabs.currentChanged.connect(lambda _index: self._refresh() if self.is_open else None)
        window.zoom.zoom_changed.connect(lambda *_args: QTimer.singleShot(0, self._fit_dock))
        name_unnamed_controls(self.panel)

    def _go_to(self, index: int) -> None:
        self.index = _clamp_step(index)
        settings.write(TOUR_STEP, self.index)
        step = self.current_step
        if step is not None:
            self.window.show_stage(step.stage)
            if step.stage == "evaluation":
                self.window.evaluation_tab.show_page("Benchmark")
            _scroll_into_view(step.target(self.window))
        self._refresh()
        QTimer.singleShot(0, self._fit_dock)  # once the new words are laid out
        self.step_changed.emit(self.index)

    def _fit_dock(self) -> None:
        """Just tall enough for the step's words at this width and zoom: the stage keeps the rest."""
        if not self.is_open or not shiboken6.isValid(self.dock):
            return
        title = max(self.dock.height() - self.panel.height(), 0)
        self.window.resizeDocks([self.dock], [self.panel.needed_height() + title], Qt.Orientation.Vertical)

    def _refresh(self) -> None:
        """Show the current step's words and state; frame the control to press now."""
        if self.panel is None:
            return
        panel, step = self.panel, self.current_step
        at_end = step is None
        panel.next_button.setVisible(not at_end)
        panel.why_button.setVisible(at_end)
        panel.restart_button.setVisible(at_end)
        set_available(panel.back_button, None if self.index > 0 else "This is the first step: there is none before it.")
        if at_end:
            panel.title_label.setText(END_TITLE)
            panel.explanation_label.setText(END_TEXT)
            panel.action_label.setText("Press “Why does AI do that?” for the questions people ask most.")
            panel.status_label.setText("")
            self.spotlight.set_target(panel.why_button if self.is_open else None)
            return
        done = self.has_happened(step.key)
        panel.title_label.setText(f"Step {self.index + 1} of {len(self.steps)}. {step.title}")
        panel.explanation_label.setText(step.explanation)
        panel.action_label.setText(step.action)
        panel.status_label.setText(("✓ " + step.done) if done else step.waiting)
        panel.next_button.setText("Finish" if self.index == len(self.steps) - 1 else "Next")
        set_available(panel.next_button, None if done else f"Do the step above first: {step.action}")
        if not self.is_open:
            self.spotlight.set_target(None)
        else:
            # Once the step has happened, the control to press is Next.
            self.spotlight.set_target(panel.next_button if done else step.target(self.window))

    def _show_why(self) -> None:
        from gui.why_ai_does_that import show_why_panel

        show_why_panel(self.window)


def _scroll_into_view(widget: QWidget) -> None:
    """Scroll every scroll area around ``widget`` so that it shows (a control low in a long column)."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea) and parent.widget() is not None and parent.widget().isAncestorOf(widget):
            parent.ensureWidgetVisible(widget)
        parent = parent.parentWidget()
