"""The main window: one tab per stage of making a language model, in the order they happen.

Data → Pretraining → Instruction tuning → Preference tuning → Evaluation. Each tab's tooltip says
in one line what its stage does. The File menu saves and opens whole sessions (``gui.session_controller``,
which also autosaves, last when the window closes) and single models. The View menu holds the zoom (see ``gui.zoom``), the theme (``gui.themes``) and
presentation mode (``gui.presentation``); the Stage menu's Ctrl+1…5 bring a stage to the front; the Help
menu holds the welcome screen, the guided tour and "Why does AI do that?" (``gui.welcome_dialog``,
``gui.guided_tour``, ``gui.why_ai_does_that``). The window remembers its size, place, last stage and theme.

Every action's tooltip names its shortcut and every button gets an accessible name from its text
(``gui.presentation``), applied here to the whole window so tabs need no code for it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QTabWidget, QWidget

from engine.session.state import SessionState
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, STAGE_PRETRAINING
from gui import settings
from gui.availability import explain_click_on_grey
from gui.data_tab import DataTab
from gui.evaluation_tab import EvaluationTab
from gui.glossary import show_glossary, show_tooltip_with_glossary
from gui.guided_tour import GuidedTour
from gui.instruction_tab import InstructionTab
from gui.model_shelf import ModelShelf
from gui.preference_tab import PreferenceTab
from gui.presentation import PresentationMode, describe_shortcuts, name_unnamed_controls
from gui.pretraining_tab import PretrainingTab
from gui.session_controller import SessionController
from gui.stages import DEFAULT_STAGE, STAGES, StageTab, stage_index
from gui.themes import THEMES, ThemeController
from gui.welcome_dialog import show_welcome
from gui.why_ai_does_that import show_why_panel
from gui.zoom import ZoomController

WINDOW_TITLE = "Training Explorer"
DEFAULT_SIZE = (1280, 800)


class _HelpEvents(QObject):
    """Sees every event of the application, so it does as little as it can: two type checks."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind == QEvent.Type.ToolTip and isinstance(watched, QWidget):
            return show_tooltip_with_glossary(watched, event)
        if kind == QEvent.Type.MouseButtonPress and isinstance(watched, QWidget) and not watched.isEnabled():
            explain_click_on_grey(watched, event)
        return False


class MainWindow(QMainWindow):
    """Tabs for the stages; View (zoom, theme, presentation) and Stage menus; remembered geometry."""

    def __init__(self, *, persist_state: bool = True, zoom_percent: int | None = None, theme: str | None = None):
        """``theme`` (a key of ``gui.themes.THEMES``) overrides the remembered one for this session."""
        super().__init__()
        self._persist = persist_state  # False for screenshots: leave the user's settings alone
        settings.set_read_only(not persist_state)
        self.setWindowTitle(WINDOW_TITLE)
        # Before any tab: plots take their colours from the theme in force when they are made.
        self.themes = ThemeController(self, remember=persist_state, key=theme)
        self.zoom = ZoomController(self, remember=persist_state)
        if zoom_percent is not None:
            self.zoom.set_percent(zoom_percent)
        self.presentation = PresentationMode(self, self.zoom)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.data_tab = DataTab(self.zoom)
        self.pretraining_tab = PretrainingTab(self.zoom)
        self.instruction_tab = InstructionTab(self.zoom)
        self.preference_tab = PreferenceTab(self.zoom)
        built = {"data": self.data_tab, "pretraining": self.pretraining_tab, "instruction": self.instruction_tab,
                 "preference": self.preference_tab}
        self._connect_data_to_pretraining()
        # Each stage starts from the model the stage before it made.
        self.pretraining_tab.controller.model_changed.connect(self.instruction_tab.set_base_model)
        self.instruction_tab.model_changed.connect(self.preference_tab.set_base_model)
        # Every stage's newest model goes on the shelf the Evaluation stage tests.
        self.model_shelf = ModelShelf(self)
        self.pretraining_tab.controller.model_changed.connect(
            lambda m: self.model_shelf.put_session_model(m, STAGE_PRETRAINING))
        self.instruction_tab.model_changed.connect(lambda m: self.model_shelf.put_session_model(m, STAGE_INSTRUCTION))
        self.preference_tab.model_changed.connect(lambda m: self.model_shelf.put_session_model(m, STAGE_PREFERENCE))
        self.instruction_tab.model_cleared.connect(lambda: self.model_shelf.put_session_model(None, STAGE_INSTRUCTION))
        self.preference_tab.model_cleared.connect(lambda: self.model_shelf.put_session_model(None, STAGE_PREFERENCE))
        self.evaluation_tab = EvaluationTab(self.zoom, self.model_shelf)
        built["evaluation"] = self.evaluation_tab
        # A red-team attack sent to the preference data becomes a row of the Preference tab's table,
        # which writes the votes file from its rows: otherwise its next save would drop the pair.
        self.evaluation_tab.pairs_sent.connect(
            lambda pairs: [self.preference_tab.add_vote(p.prompt, p.chosen, p.rejected) for p in pairs])
        # The stages' tabs in pipeline order: the window loops over them for state, runs and closing.
        self.stage_tabs: dict[str, StageTab] = {stage.key: built[stage.key] for stage in STAGES}
        for stage in STAGES:
            index = self.tabs.addTab(built[stage.key], stage.title)
            self.tabs.setTabToolTip(index, stage.promise)
        self.setCentralWidget(self.tabs)
        # Listens to the stages from the start (what a learner does before opening it still counts);
        # shows nothing until opened from the Help menu or the welcome screen.
        self.tour = GuidedTour(self)
        # Save session… / Open session…, and the autosave (never for screenshots: the user's files stay as they are).
        self.session = SessionController(self, autosave_enabled=persist_state)

        self._build_menus()
        # One application-wide filter: a tooltip explains the glossary words a control shows, and a click on a
        # grey control says in its tab's message line why it is grey (gui/glossary.py, gui/availability.py).
        self._help_events = _HelpEvents(self)
        QApplication.instance().installEventFilter(self._help_events)
        self._zoom_label = QLabel()
        self.statusBar().addPermanentWidget(self._zoom_label)
        self.zoom.zoom_changed.connect(self._show_zoom)
        self._show_zoom()
        # Names and tooltips for the whole window; a tab's page again when shown, for controls it
        # made since (e.g. the buttons of the next-token bars).
        name_unnamed_controls(self)
        describe_shortcuts(self.findChildren(QAction))
        self.tabs.currentChanged.connect(lambda _index: name_unnamed_controls(self.tabs.currentWidget()))
        self._restore_state()

    def _connect_data_to_pretraining(self) -> None:
        """Pretraining trains on what the Data tab curated, cut by the tokenizer both tabs show."""
        corpus_panel = self.pretraining_tab.corpus_panel
        self.data_tab.curated_changed.connect(corpus_panel.use_curated)
        self.data_tab.set_tokenizer_spec(corpus_panel.spec)
        self.data_tab.tokenizer_spec_changed.connect(corpus_panel.set_spec)
        corpus_panel.spec_changed.connect(self.data_tab.set_tokenizer_spec)

    # --- menus ------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_session_action = QAction("&Open session…", self)
        self.open_session_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_session_action.setToolTip("Open a saved session: every tab as it was")
        self.open_session_action.triggered.connect(self.session.ask_open)
        self.save_session_action = QAction("&Save session…", self)
        self.save_session_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_session_action.setToolTip("Save every tab's work (data, models, pairs, results) in one file")
        self.save_session_action.triggered.connect(self.session.ask_save)
        file_menu.addActions([self.open_session_action, self.save_session_action])
        file_menu.addSeparator()
        self.open_model_action = QAction("Open &model…", self)
        self.open_model_action.triggered.connect(self.pretraining_tab.ask_open_model)
        self.save_model_action = QAction("Save mo&del…", self)
        self.save_model_action.triggered.connect(self.pretraining_tab.ask_save_model)
        quit_action = QAction("&Quit", self)
        # Ctrl+Q where the platform has no standard quit key (Windows, and offscreen screenshots).
        quit_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")])
        quit_action.triggered.connect(self.close)
        file_menu.addActions([self.open_model_action, self.save_model_action])
        self.pretraining_tab.buttons_updated.connect(self._mirror_buttons)
        self._mirror_buttons()
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        self.quit_action = quit_action

        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addActions([self.data_tab.undo_action, self.data_tab.redo_action])

        view_menu = self.menuBar().addMenu("&View")
        self.zoom_in_action = QAction("Zoom &in", self)
        # Ctrl+= too: on many keyboards "+" needs Shift, and Mu accepts both.
        self.zoom_in_action.setShortcuts([QKeySequence.StandardKey.ZoomIn, QKeySequence("Ctrl+=")])
        self.zoom_in_action.triggered.connect(self.zoom.zoom_in)
        self.zoom_out_action = QAction("Zoom &out", self)
        self.zoom_out_action.setShortcuts([QKeySequence.StandardKey.ZoomOut, QKeySequence("Ctrl+-")])
        self.zoom_out_action.triggered.connect(self.zoom.zoom_out)
        self.reset_zoom_action = QAction("&Reset zoom", self)
        self.reset_zoom_action.setShortcut(QKeySequence("Ctrl+0"))
        self.reset_zoom_action.triggered.connect(self.zoom.reset)
        for action in (self.zoom_in_action, self.zoom_out_action, self.reset_zoom_action):
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            view_menu.addAction(action)
            self.addAction(action)  # shortcuts work even with the menu bar hidden
        view_menu.addSeparator()
        self._build_theme_menu(view_menu.addMenu("&Theme"))
        self.presentation_action = QAction("&Presentation mode", self)
        self.presentation_action.setCheckable(True)
        self.presentation_action.setShortcut(QKeySequence(Qt.Key.Key_F11))
        self.presentation_action.setToolTip("Full screen, big text, thick lines, advanced panels hidden")
        self.presentation_action.toggled.connect(self.presentation.set_active)
        self.presentation.toggled.connect(self.presentation_action.setChecked)
        # Esc leaves presentation mode too, as slide software does; only then, so that Esc still
        # closes popups and cancels edits the rest of the time.
        self.leave_presentation_action = QAction("Leave presentation mode", self)
        self.leave_presentation_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.leave_presentation_action.setEnabled(False)
        self.leave_presentation_action.triggered.connect(self.presentation.leave)
        self.presentation.toggled.connect(self.leave_presentation_action.setEnabled)
        view_menu.addSeparator()
        view_menu.addAction(self.presentation_action)
        for action in (self.presentation_action, self.leave_presentation_action):
            self.addAction(action)  # full screen hides nothing, but a window action works anywhere in it

        self._build_stage_menu(self.menuBar().addMenu("&Stage"))
        self._build_help_menu(self.menuBar().addMenu("&Help"))

    def _build_theme_menu(self, menu) -> None:
        """One checkable action per theme; Ctrl+Shift+ its first letter."""
        group = QActionGroup(self)
        group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        keys = {"light": "Ctrl+Shift+L", "dark": "Ctrl+Shift+D", "high-contrast": "Ctrl+Shift+H"}
        for key, theme in THEMES.items():
            action = QAction(theme.title, self)
            action.setCheckable(True)
            action.setChecked(key == self.themes.key)
            action.setShortcut(QKeySequence(keys[key]))
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            action.triggered.connect(lambda _checked=False, k=key: self.themes.set_theme(k))
            group.addAction(action)
            menu.addAction(action)
            self.addAction(action)
            self.theme_actions[key] = action
        self.themes.theme_changed.connect(lambda key: self.theme_actions[key].setChecked(True))
        # A new theme replaces the application's style sheet, which gives widgets with a zoomed font of
        # their own (a lesson's figures, titles) the plain size again: apply the zoom once more.
        self.themes.theme_changed.connect(lambda _key: self.zoom.zoom_changed.emit(self.zoom.percent))

    def _build_stage_menu(self, menu) -> None:
        """Ctrl+1…5 bring the stages to the front, in the order they happen."""
        self.stage_actions: list[QAction] = []
        for index, stage in enumerate(STAGES):
            action = QAction(f"&{index + 1}  {stage.title}", self)
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(f"Go to the {stage.title} stage")
            action.triggered.connect(lambda _checked=False, i=index: self._go_to_stage(i))
            menu.addAction(action)
            self.addAction(action)
            self.stage_actions.append(action)

    def _build_help_menu(self, menu) -> None:
        """The self-study path: the welcome screen again, the guided tour, and the common questions."""
        self.welcome_action = QAction("&Welcome…", self)
        self.welcome_action.triggered.connect(lambda: show_welcome(self))
        self.tour_action = QAction("&Guided tour", self)
        self.tour_action.setToolTip("Five short steps through the stages; it resumes where you left it")
        self.tour_action.triggered.connect(self.tour.open)
        self.glossary_action = QAction("G&lossary…", self)
        self.glossary_action.setToolTip("Every word the app uses that a newcomer may not know, explained")
        self.glossary_action.triggered.connect(lambda: show_glossary(self))
        self.why_action = QAction("W&hy does AI do that?…", self)
        self.why_action.setShortcut(QKeySequence(Qt.Key.Key_F1))
        self.why_action.triggered.connect(lambda: show_why_panel(self))
        menu.addActions([self.welcome_action, self.tour_action, self.glossary_action])
        menu.addSeparator()
        menu.addAction(self.why_action)
        self.addAction(self.why_action)  # F1 works with the menu bar hidden (presentation mode)

    def _go_to_stage(self, index: int) -> None:
        # QStackedLayout moves the keyboard focus into the new page if it was in the old one.
        self.tabs.setCurrentIndex(index)

    def _mirror_buttons(self) -> None:
        self.open_model_action.setEnabled(self.pretraining_tab.open_button.isEnabled())
        self.save_model_action.setEnabled(self.pretraining_tab.save_button.isEnabled())

    def _show_zoom(self, *_args) -> None:
        self._zoom_label.setText(f"Zoom {self.zoom.percent} %  (Ctrl+Plus / Ctrl+Minus / Ctrl+0)")

    # --- stages -----------------------------------------------------------------------------

    def show_stage(self, key: str) -> None:
        """Bring a stage's tab to the front (raises KeyError for an unknown stage)."""
        self.tabs.setCurrentIndex(stage_index(key))

    def stage_state(self) -> SessionState:
        """Every stage's state now, and the stage in front (GUI thread; cheap: models are shared, not copied)."""
        return SessionState(stage=STAGES[self.tabs.currentIndex()].key,
                            **{key: tab.stage_state() for key, tab in self.stage_tabs.items()})

    def apply_state(self, state: SessionState) -> None:
        """Show a checked session, stage by stage in the order models flow between them, then its front stage."""
        for key, tab in self.stage_tabs.items():
            tab.apply_state(getattr(state, key))
        try:
            self.show_stage(state.stage)
        except KeyError:
            pass  # a stage this version does not have: stay where we are

    def running_stage(self) -> str:
        """The run going now in any stage, in words ("preference tuning"), or ""."""
        return next((tab.running for tab in self.stage_tabs.values() if tab.running), "")

    # --- remembering ------------------------------------------------------------------------

    def _restore_state(self) -> None:
        stored = settings.app_settings().value(settings.WINDOW_GEOMETRY)
        if not (self._persist and stored is not None and self.restoreGeometry(stored)):
            screen = QGuiApplication.primaryScreen()
            width, height = DEFAULT_SIZE
            if screen is not None:
                available = screen.availableGeometry()
                width, height = min(width, available.width()), min(height, available.height())
            self.resize(width, height)
        last = settings.read_str(settings.LAST_TAB, DEFAULT_STAGE)
        try:
            index = stage_index(last)
        except KeyError:
            index = stage_index(DEFAULT_STAGE)
        self.tabs.setCurrentIndex(index)

    def _save_state(self) -> None:
        if not self._persist:
            return
        settings.write(settings.WINDOW_GEOMETRY, self.saveGeometry())
        settings.write(settings.LAST_TAB, STAGES[self.tabs.currentIndex()].key)

    def closeEvent(self, event: QCloseEvent) -> None:
        # The geometry to remember is the ordinary window's, not the full-screen one.
        self.presentation.leave()
        # Stop the run at its next step and wait for every worker: no thread outlives the window.
        self.statusBar().showMessage("Stopping…")
        for tab in self.stage_tabs.values():
            tab.shutdown()
        # Then the last autosave: a stopped run has kept the model trained so far, and it goes in.
        self.session.finish()
        self._save_state()
        super().closeEvent(event)
