"""The welcome screen a learner sees on the app's first start, and what each of its three choices does.

- "Take the guided tour" opens the tour (``gui.guided_tour``) where it was left (the first step, the
  first time);
- "Open an example session" opens ``assets/example_session.tesession`` through the session controller
  (``window.session.open``), like File → Open session…: every tab as after a full lesson, made from
  the models the app ships (``scripts/make_example_session.py``; the session refers to them by name);
- "Start from scratch" goes to the Data stage.

``greet_on_start`` is called by ``gui.app.main`` only, after the window is shown: never for
``--screenshot`` and never by ``MainWindow`` itself, so tests and screenshots are not interrupted.
It shows the welcome once (remembered in settings); on later starts it reopens the guided tour if
the learner left the app with the tour open. Help → Welcome… shows the screen again at any time.
The dialog is window-modal but opened with ``open()``, never ``exec()``: nothing waits on it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QPushButton, QVBoxLayout

from pathlib import Path

from engine.shipped_models import EXAMPLE_SESSION_PATH, example_session_available
from gui import settings
from gui.availability import set_available
from gui.presentation import name_unnamed_controls

WELCOME_SHOWN = "guide/welcome_shown"  # 1 once the welcome screen has been shown (first start only)

CHOICE_TOUR = "tour"
CHOICE_EXAMPLE = "example"
CHOICE_SCRATCH = "scratch"

EXAMPLE_NOTE = ("Opened the example session: a whole lesson made with the models that come with the app. Every "
                "stage shows its results (the curated data, three models and their loss curves, votes, before-and-"
                "after tables, benchmark answers and ratings); change anything, or train again.")
NO_EXAMPLE = ("The example session, or the models it uses, is missing from this installation, so there is no "
              "example to open. Start from scratch: the Data tab is ready.")


class WelcomeDialog(QDialog):
    """Three ways to begin; ``chosen`` says which was pressed, then the dialog closes."""

    chosen = Signal(str)  # CHOICE_TOUR, CHOICE_EXAMPLE or CHOICE_SCRATCH

    def __init__(self, parent=None, *, example_available: bool = True):
        super().__init__(parent)
        self.setWindowTitle("Welcome to Training Explorer")
        self.setAccessibleName("Welcome")
        title = QLabel("Welcome to Training Explorer")
        zoom = getattr(parent, "zoom", None)  # the window's: the heading grows with the zoom, like the rest

        def heading_font():
            font = zoom.font(1.4) if zoom is not None else title.font()
            font.setBold(True)
            return font

        if zoom is not None:
            zoom.follow_zoom(title, heading_font)
        else:
            title.setFont(heading_font())
        intro = QLabel("Here you make a small language model yourself, in the five stages real ones go through: "
                       "choose its text, pretrain it, teach it to answer, tune it toward the answers people "
                       "prefer, and test it. Everything runs on this computer, offline.")
        intro.setWordWrap(True)
        # Plain buttons with a description beside them (QCommandLinkButton keeps a font of its own,
        # which the zoom does not reach: unreadable on a projector at 200 %).
        self.tour_button = QPushButton("Take the guided tour")
        self.example_button = QPushButton("Open an example session")
        self.scratch_button = QPushButton("Start from scratch")
        descriptions = (
            "Five short steps, one per stage, a few minutes each on a laptop. Leave whenever you like: "
            "it waits where you left it (Help → Guided tour).",
            "Every stage as after a whole lesson, with the models that come with the app: data, loss curves, "
            "votes, before-and-after tables, benchmark and ratings. Nothing to train first." if example_available
            else "Not available: the example session or the models it uses are missing from this installation.",
            "Go straight to the Data stage. The tour stays in the Help menu.",
        )
        set_available(self.example_button, None if example_available else descriptions[1])
        choices = QGridLayout()
        choices.setColumnStretch(1, 1)
        choices.setVerticalSpacing(self.fontMetrics().height())
        buttons = ((self.tour_button, CHOICE_TOUR), (self.example_button, CHOICE_EXAMPLE),
                   (self.scratch_button, CHOICE_SCRATCH))
        for row, ((button, choice), description) in enumerate(zip(buttons, descriptions)):
            button.setAutoDefault(False)
            button.setAccessibleDescription(description)
            button.setToolTip(description)
            button.clicked.connect(lambda _checked=False, c=choice: self._choose(c))
            words = QLabel(description)
            words.setWordWrap(True)
            words.setBuddy(button)
            choices.addWidget(button, row, 0, Qt.AlignmentFlag.AlignTop)
            choices.addWidget(words, row, 1)
        self.tour_button.setDefault(True)  # Enter takes the tour: the choice a first-time learner most needs
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(choices)
        # Wide enough for the descriptions to wrap into two or three lines at any zoom.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("x" * 60))
        name_unnamed_controls(self)

    def _choose(self, choice: str) -> None:
        self.chosen.emit(choice)
        self.accept()


def act_on_choice(window, choice: str) -> None:
    """Do what a welcome choice says, in ``window``."""
    if choice == CHOICE_TOUR:
        window.tour.open()
    elif choice == CHOICE_EXAMPLE:
        open_example_session(window)
    else:
        window.show_stage("data")


def open_example_session(window) -> bool:
    """Open the example session in ``window`` through its session controller; False if it cannot start.

    The controller reads and checks the file on a worker thread and restores every tab (it says so,
    or why not, in the front tab's message bar); once it has, the note saying what the example is
    replaces its "Opened the session…" message.
    """
    if not example_session_available():
        window.show_stage("data")
        window.data_tab.message_bar.warning(NO_EXAMPLE)
        return False
    controller = window.session
    example = str(EXAMPLE_SESSION_PATH)

    connected = [True]

    def finished(*_args) -> None:  # once: opened, failed, or refused at once (which also says failed)
        if connected[0]:
            connected[0] = False
            controller.opened.disconnect(on_opened)
            controller.failed.disconnect(finished)

    def on_opened(path: str) -> None:
        finished()
        if Path(path) == Path(example):
            window.tabs.currentWidget().message_bar.info(EXAMPLE_NOTE)

    controller.opened.connect(on_opened)
    controller.failed.connect(finished)
    started = controller.open(example)  # refused at once while a run goes: the controller says why
    if not started:
        finished()
    return started


def show_welcome(window) -> WelcomeDialog:
    """Show the welcome screen over ``window`` without blocking (Help → Welcome…, and the first start)."""
    dialog = window.findChild(WelcomeDialog)
    if dialog is None:
        dialog = WelcomeDialog(window, example_available=example_session_available())
        dialog.chosen.connect(lambda choice: act_on_choice(window, choice))
    dialog.open()
    return dialog


def is_first_start() -> bool:
    return settings.read_int(WELCOME_SHOWN, 0) != 1


def greet_on_start(window) -> WelcomeDialog | None:
    """On the first start, the welcome screen; later, the guided tour again if it was left open."""
    if is_first_start():
        settings.write(WELCOME_SHOWN, 1)  # shown once, whichever way it is closed
        return show_welcome(window)
    if window.tour.was_open_at_last_close():
        window.tour.open()
    return None
