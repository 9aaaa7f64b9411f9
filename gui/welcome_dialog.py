"""The welcome screen a learner sees on the app's first start, and what each of its three choices does.

- "Take the guided tour" opens the tour (``gui.guided_tour``) where it was left (the first step, the
  first time);
- "Open an example session": no example session file ships with the app yet (your own sessions are
  saved with File → Save session…), so this says so plainly and sets the app up with the models it ships instead (``engine.shipped_models``): the tuning stages start from
  them and the Evaluation stage has all of them under test, so everything can be tried at once;
- "Start from scratch" goes to the Data stage.

``greet_on_start`` is called by ``gui.app.main`` only, after the window is shown: never for
``--screenshot`` and never by ``MainWindow`` itself, so tests and screenshots are not interrupted.
It shows the welcome once (remembered in settings); on later starts it reopens the guided tour if
the learner left the app with the tour open. Help → Welcome… shows the screen again at any time.
The dialog is window-modal but opened with ``open()``, never ``exec()``: nothing waits on it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QPushButton, QVBoxLayout

from engine.shipped_models import SHIPPED_TITLES, shipped_stages
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PRETRAINING
from gui import settings
from gui.presentation import name_unnamed_controls

WELCOME_SHOWN = "guide/welcome_shown"  # 1 once the welcome screen has been shown (first start only)

CHOICE_TOUR = "tour"
CHOICE_EXAMPLE = "example"
CHOICE_SCRATCH = "scratch"

EXAMPLE_NOTE = ("Saved example sessions are not part of the app yet, so none was opened. Instead, every stage "
                "starts from the models that come with the app: they are under test here, and the tuning stages "
                "start from them.")
NO_SHIPPED_MODELS = ("The models that come with the app are missing from this installation, so there is no example "
                     "to open. Start from scratch: the Data tab is ready.")


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
            "No example session comes with the app yet, so this starts every stage from the models that come "
            "with it instead: nothing to train first." if example_available else
            "Not available: the models that come with the app are missing from this installation.",
            "Go straight to the Data stage. The tour stays in the Help menu.",
        )
        self.example_button.setEnabled(example_available)
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
        set_up_with_shipped_models(window)
    else:
        window.show_stage("data")


def set_up_with_shipped_models(window) -> bool:
    """Start every stage from the shipped models (the stand-in for an example session); False if none exist.

    The instruction tab starts from the shipped pretrained model, the preference tab from the
    shipped instruction-tuned one, and all shipped models go under test on the Evaluation tab,
    which comes to the front. The models open on worker threads; the note saying that no session
    was opened replaces the Evaluation tab's own "Added…" message once they are all there.
    """
    stages = shipped_stages()
    if not stages:
        window.show_stage("data")
        window.data_tab.message_bar.warning(NO_SHIPPED_MODELS)
        return False
    if STAGE_PRETRAINING in stages:
        window.instruction_tab.use_shipped_model()
    if STAGE_INSTRUCTION in stages:
        window.preference_tab.use_shipped_model()
    expected = {SHIPPED_TITLES[stage] for stage in stages}
    shelf, bar = window.model_shelf, window.evaluation_tab.message_bar

    def when_shelved() -> None:
        if expected <= set(shelf.names()):
            shelf.changed.disconnect(when_shelved)
            # After the tab's own message, which it writes once the shelf has announced the models.
            QTimer.singleShot(0, lambda: bar.info(EXAMPLE_NOTE))

    if not expected <= set(shelf.names()):  # (already there: the tab only says so, the note stays)
        shelf.changed.connect(when_shelved)
    window.evaluation_tab.add_shipped_models()
    window.show_stage("evaluation")
    window.evaluation_tab.show_page("Benchmark")
    bar.info(EXAMPLE_NOTE)  # at once too: the models take a moment to open
    return True


def show_welcome(window) -> WelcomeDialog:
    """Show the welcome screen over ``window`` without blocking (Help → Welcome…, and the first start)."""
    dialog = window.findChild(WelcomeDialog)
    if dialog is None:
        dialog = WelcomeDialog(window, example_available=bool(shipped_stages()))
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
