"""The Data stage: load a corpus, see what is in it, curate it, and hand the result to Pretraining.

Orange's anatomy: controls on the left (what text, the generated world's knobs, curation), results
on the right (sizes and fingerprint, charts with a plain sentence each, and the token view),
a message bar on top. "Data is destiny": every chart says what its numbers mean for the model.

How it works:
- Loading runs on a worker thread (``engine.data.sources.load_source``); a failure is explained in
  the message bar and changes nothing, so no curation is ever lost by a bad load.
- The tab's whole state is a ``DataState`` (source + settings). Every successful load and every
  curation edit is a command on a ``QUndoStack`` (Ctrl+Z, Ctrl+Shift+Z); applying a state
  re-curates with the pure ``engine.data.curation.curate`` (milliseconds for the default world) and
  redraws every chart at once.
- The curated corpus, with its fingerprint, is published with ``curated_changed``; the main
  window hands it to Pretraining, which shows which curated corpus it trains on. An empty result
  is published as None with the reason, which blocks training.
- Which charts: the generated world's documents carry topics, years and answers, so it gets coverage,
  recency, quality and the bias meter. Text without them (a book, your notes) gets charts that can
  say something true about any text (``engine.data.text_profile``: lengths, frequent words, characters
  outside the alphabet, repeated lines) beside quality. Those counts grow with the text, so they are
  made on a worker thread and drawn when they arrive; each sentence comes from its chart's own numbers.
- Token counts and the token view use the tokenizer chosen here, which is the same one Pretraining
  uses (the main window keeps the two in step). BPE is learned on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.data.corpus import Corpus
from engine.data.curation import (
    CorpusStats,
    CurationSettings,
    corpus_stats,
    coverage_rows,
    curate,
    curated_corpus,
    explanations,
)
from engine.data.sources import DataSource, SourceRequest, bundled_requests, default_world_request, load_source
from engine.data.documents import Document
from engine.errors import CorpusError, EncodingProblem
from engine.session.state import DataStageState
from engine.data.text_profile import (
    Chart,
    TextProfile,
    characters_chart,
    has_world_labels,
    lengths_chart,
    repeated_lines_chart,
    text_profile,
    words_chart,
)
from engine.tokenizer import MAX_BPE_VOCAB, MIN_BPE_VOCAB, TokenizerSpec, preview
from gui import export, formatting, settings
from gui.availability import bind_undo_buttons
from gui.background import BackgroundTask
from gui.curation_history import DataState, DataStateChange
from gui.presentation import mark_advanced
from gui.training_controller import plain_message
from gui.widgets.bar_chart import BarRow, HorizontalBarChart
from gui.widgets.collapsible_section import CollapsibleSection
from gui.widgets.curation_panel import CurationPanel
from gui.widgets.message_bar import MessageBar
from gui.widgets.token_view import TokenView
from gui.widgets.vertical_scroll_area import VerticalScrollArea
from gui.widgets.world_knobs import WorldKnobsPanel
from gui.widgets.year_histogram import YearHistogram
from gui.zoom import ZoomController
from gui.widgets.group_box import group_box

# The "open" entries of the text menu: (kind, label, dialog title, file filter or None for a folder).
_OPEN_CHOICES = (
    ("file", "Open text file…", "Open a text file", "Text files (*.txt *.md *.text *.csv);;All files (*)"),
    ("folder", "Open folder…", "Open a folder of .txt, .md and .py files", None),
    ("jsonl", "Open JSONL file…", "Open a JSONL file (one {\"text\": …} object per line)",
     "JSONL files (*.jsonl *.json);;All files (*)"),
)
LAST_FOLDER_KEY = "data/last_folder"
QUALITY_ROWS = (  # (CorpusStats field, label); the planted ones only exist in the generated world
    ("duplicates", "Repeated documents"),
    ("junk", "Junk documents"),
    ("short_lines", "Very short lines"),
    ("typos", "Typos (planted)"),
    ("corrupted", "Wrong facts (planted)"),
)


@dataclass(frozen=True)
class _Restoring:
    """The loader's tag for a session's data (an ordinary load's tag is (request, undoable))."""

    request: SourceRequest  # what to load
    curation: CurationSettings  # applied at once, not as an undoable step
    chosen_now: bool  # publish the curated corpus as if the user had just curated it


def _profiles(curated: list[Document], loaded: list[Document] | None) -> tuple[TextProfile, TextProfile | None]:
    """The text profiles of the curated documents and (unless already known) the loaded ones; on a worker."""
    now = text_profile(curated)
    if loaded is None:
        return now, None
    return now, now if loaded == curated else text_profile(loaded)  # nothing curated yet: count once


class DataTab(QWidget):
    """Load, look, curate; publishes the curated corpus for Pretraining."""

    curated_changed = Signal(object, str, bool)  # (Corpus or None, why None, chosen by the user just now)
    tokenizer_spec_changed = Signal(object)  # TokenizerSpec chosen here

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(parent)
        self.setObjectName("dataTab")
        self.zoom = zoom
        self.state: DataState | None = None
        self.curated_documents: list[Document] = []
        self.stats: CorpusStats | None = None
        self.corpus: Corpus | None = None  # the curated corpus, None when curation left nothing
        self.tokenized = None  # TokenizedCorpus of self.corpus with self.spec, once known
        self._loaded_stats: dict[int, CorpusStats] = {}  # id(source) → stats before curation
        self._requests: list[SourceRequest] = []  # combo row data → request
        self._problem_shown = False
        self._left_width_fitted = False
        self.undo_stack = QUndoStack(self)
        self.message_bar = MessageBar()

        # --- left: what text, the world's knobs, curation ---
        self.source_combo = QComboBox()
        self.source_combo.setAccessibleName("Text")
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(12)
        for title, request in bundled_requests():
            self._add_source_item(title, request)
        self.source_combo.insertSeparator(self.source_combo.count())
        for kind, label, _title, _filter in _OPEN_CHOICES:
            self.source_combo.addItem(label, f"open:{kind}")
        self.source_note = QLabel()
        self.source_note.setWordWrap(True)
        self.world_knobs = WorldKnobsPanel()
        self.world_section = CollapsibleSection("Change the world", self.world_knobs)
        self.world_section.setToolTip("Generate the world again with more or less coverage, quality, recency "
                                      "and bias.")
        mark_advanced(self.world_section)  # presentation mode hides the knobs that make the world again
        self.curation_panel = CurationPanel()
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.reset_button = QPushButton("Keep everything")
        self.reset_button.setToolTip("Undo every curation choice at once (this too can be undone).")
        for button in (self.undo_button, self.redo_button, self.reset_button):
            button.setAutoDefault(False)
        history_row = QHBoxLayout()
        history_row.addWidget(self.undo_button)
        history_row.addWidget(self.redo_button)
        history_row.addWidget(self.reset_button)

        text_box = QWidget()
        text_layout = QVBoxLayout(text_box)
        text_layout.setContentsMargins(0, 0, 0, 0)
        text_layout.addWidget(self.source_combo)
        text_layout.addWidget(self.source_note)
        text_layout.addWidget(self.world_section)
        curate_box = QWidget()
        curate_layout = QVBoxLayout(curate_box)
        curate_layout.setContentsMargins(0, 0, 0, 0)
        curate_layout.addWidget(self.curation_panel)
        curate_layout.addLayout(history_row)
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.addWidget(group_box("1. Load text", text_box))
        column_layout.addWidget(group_box("2. Curate", curate_box))
        column_layout.addStretch(1)
        self.left_scroll = VerticalScrollArea()
        self.left_scroll.setWidget(column)

        # --- right: sizes, charts, tokens ---
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)
        self.fingerprint_label = QLabel()
        self.fingerprint_label.setWordWrap(True)
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Save charts…")
        self.export_button.setAutoDefault(False)
        self.export_button.setToolTip(f"Save the charts as one {export.PROJECTOR_SIZE[0]} × "
                                      f"{export.PROJECTOR_SIZE[1]} PNG picture, e.g. for slides. Right-click a "
                                      "chart to save it alone.")
        summary_row = QHBoxLayout()
        summary_column = QVBoxLayout()
        summary_column.addWidget(self.summary_label)
        summary_column.addWidget(self.fingerprint_label)
        summary_row.addLayout(summary_column, 1)
        summary_row.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)

        self.coverage_chart = HorizontalBarChart("Coverage: characters per topic")
        self.quality_chart = HorizontalBarChart("Quality signals")
        self.bias_chart = HorizontalBarChart("Bias meter: which library the forum recommends")
        self.year_histogram = YearHistogram(zoom)
        years_box = QWidget()
        years_layout = QVBoxLayout(years_box)
        years_layout.setContentsMargins(0, 0, 0, 0)
        self.years_title = QLabel("Recency: documents per year")
        self.years_title.setFont(self.coverage_chart.title_label.font())
        self.years_explanation = QLabel()
        self.years_explanation.setWordWrap(True)
        years_layout.addWidget(self.years_title)
        years_layout.addWidget(self.year_histogram, 1)
        years_layout.addWidget(self.years_explanation)
        # Text with no topics or years (a book, your notes) gets the charts that can say something true about it.
        self.lengths_chart = HorizontalBarChart("Length of documents, in characters")
        self.words_chart = HorizontalBarChart("Most frequent words")
        self.characters_chart = HorizontalBarChart("Characters outside the alphabet")
        self.lines_chart = HorizontalBarChart("Repeated lines")
        self.profile: TextProfile | None = None  # counts behind those charts, from a worker thread
        self._loaded_profile: tuple[object, TextProfile] | None = None  # (source, its profile before curation)
        self.charts = QWidget()
        self._chart_grid = QGridLayout(self.charts)
        self._chart_grid.setContentsMargins(0, 0, 0, 0)
        self._world_boxes = [self.coverage_chart, years_box, self.quality_chart, self.bias_chart]
        self._text_boxes = [self.lengths_chart, self.words_chart, self.characters_chart, self.lines_chart,
                            self.quality_chart]
        self._chart_boxes = self._world_boxes
        self._chart_columns = 0
        self._arranged = None
        self._arrange_charts(2)

        self.tokenizer_combo = QComboBox()
        self.tokenizer_combo.setAccessibleName("Tokenizer")
        self.tokenizer_combo.addItem("Characters", "char")
        self.tokenizer_combo.addItem("BPE (word pieces)", "bpe")
        self.vocab_spin = QSpinBox()
        self.vocab_spin.setRange(MIN_BPE_VOCAB, MAX_BPE_VOCAB)
        self.vocab_spin.setSingleStep(64)
        self.vocab_spin.setValue(512)
        self.vocab_spin.setAccessibleName("BPE vocabulary size")
        self.another_button = QPushButton("Another document")
        self.another_button.setAutoDefault(False)
        # The menu may shrink (eliding its text) rather than push the row past a 1280-pixel window at
        # 200 % zoom with the BPE size showing; where there is room it grows to show its whole text.
        self.tokenizer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.tokenizer_combo.setMinimumContentsLength(len("Characters"))
        token_row = QHBoxLayout()
        token_row.addWidget(QLabel("Cut by"))
        token_row.addWidget(self.tokenizer_combo, 3)
        token_row.addWidget(self.vocab_spin)
        token_row.addStretch(1)
        token_row.addWidget(self.another_button)
        self.token_view = TokenView()
        tokens_box = QWidget()
        tokens_layout = QVBoxLayout(tokens_box)
        tokens_layout.setContentsMargins(0, 0, 0, 0)
        tokens_layout.addLayout(token_row)
        tokens_layout.addWidget(self.token_view, 1)

        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(summary_row)
        # The charts draw what was loaded as a pale bar behind what curation kept: say so once, for all.
        self.ghost_legend = QLabel("In the charts, the solid bar is the text curation kept, and the pale bar behind "
                                   "it is the text as loaded, before curation.")
        self.ghost_legend.setWordWrap(True)
        upper_layout.addWidget(self.ghost_legend)
        # Scrollable, so a small window (or 300 % zoom) scrolls the charts instead of clipping them.
        self.charts_scroll = QScrollArea()
        self.charts_scroll.setWidget(self.charts)
        self.charts_scroll.setWidgetResizable(True)
        self.charts_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        upper_layout.addWidget(self.charts_scroll, 1)
        self.results_splitter = QSplitter(Qt.Orientation.Vertical)
        self.results_splitter.addWidget(upper)
        self.results_splitter.addWidget(group_box("See the tokens", tokens_box))
        self.results_splitter.setChildrenCollapsible(False)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left_scroll)
        self.splitter.addWidget(self.results_splitter)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)

        # --- undo: Ctrl+Z / Ctrl+Shift+Z while the Data tab has the focus, and in the Edit menu ---
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Shift+Z")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)

        self._loader = BackgroundTask("loading data", self)
        self._loader.succeeded.connect(self._on_loaded)
        self._loader.failed.connect(self._on_load_failed)
        self._tokenizer_task = BackgroundTask("data tokenizer", self)
        self._tokenizer_task.succeeded.connect(self._on_tokenized)
        self._tokenizer_task.failed.connect(self._on_tokenize_failed)
        self._profile_task = BackgroundTask("data text profile", self)
        self._profile_task.succeeded.connect(self._on_profiled)
        self._profile_task.failed.connect(self._on_profile_failed)
        self._document_index = 0

        self.source_combo.activated.connect(self._on_source_chosen)
        self.world_knobs.generate_requested.connect(lambda ws: self.load(SourceRequest("world", world=ws)))
        self.curation_panel.edited.connect(self._on_curation_edited)
        self.undo_button.clicked.connect(self.undo_stack.undo)
        self.redo_button.clicked.connect(self.undo_stack.redo)
        self.reset_button.clicked.connect(self.keep_everything)
        bind_undo_buttons(self.undo_stack, self.undo_button, self.redo_button)
        self.tokenizer_combo.currentIndexChanged.connect(self._on_tokenizer_chosen)
        self.vocab_spin.valueChanged.connect(self._on_tokenizer_chosen)
        self.another_button.clicked.connect(self.show_another_document)
        self.export_button.clicked.connect(self.ask_export_charts)
        zoom.zoom_changed.connect(self._fit_layout_soon)

        self._show_vocab_spin()
        self.load(default_world_request(), undoable=False)

    # --- loading ------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._loader.busy or self._tokenizer_task.busy or self._profile_task.busy or self.token_view.busy

    running = ""  # the Data tab has no run to stop before a session replaces its work

    def change_signals(self) -> list:
        return [self.undo_stack.indexChanged]  # every load and curation edit is one undo step

    def stage_state(self) -> DataStageState:
        """What a session keeps of the tab: what was loaded and its curation (not the documents themselves)."""
        if self.state is None:
            return DataStageState()
        return DataStageState(self.state.source.request, self.state.settings)

    def apply_state(self, state: DataStageState) -> None:
        """Load and curate a reopened session's text, forgetting the undo history (None: leave the tab as it is)."""
        if state.request is not None:
            self.restore(state.request, state.curation, chosen_now=state.hand_on)

    def load(self, request: SourceRequest, *, undoable: bool = True) -> None:
        """Load documents in the background; on success they replace the current ones (undoably)."""
        self._loader.submit(load_source, request, tag=(request, undoable))
        self.source_note.setText("Loading…")

    def restore(self, request: SourceRequest, curation: CurationSettings, *, chosen_now: bool) -> None:
        """Load ``request`` and curate it with ``curation`` at once, forgetting the undo history (a session).

        ``chosen_now`` says whether Pretraining should switch to the curated corpus, as when the user curates.
        """
        self._loader.submit(load_source, request, tag=_Restoring(request, curation, chosen_now))
        self.source_note.setText("Loading…")

    def ask_to_open(self, kind: str) -> None:
        _kind, _label, title, file_filter = next(c for c in _OPEN_CHOICES if c[0] == kind)
        start = settings.read_str(LAST_FOLDER_KEY, str(Path.home()))
        if file_filter is None:
            path = QFileDialog.getExistingDirectory(self, title, start)
        else:
            path, _chosen = QFileDialog.getOpenFileName(self, title, start, file_filter)
        if path:
            settings.write(LAST_FOLDER_KEY, str(Path(path).parent if file_filter else path))
            self.load(SourceRequest(kind, path))

    def _on_source_chosen(self, index: int) -> None:
        data = self.source_combo.itemData(index)
        self._select_current_source()  # the menu shows what is loaded until something new is
        if isinstance(data, str) and data.startswith("open:"):
            self.ask_to_open(data.removeprefix("open:"))
        elif isinstance(data, int):
            self.load(self._requests[data])

    def _on_loaded(self, tag, source: DataSource) -> None:
        self._dismiss_problem()
        if source.skipped_message:
            self.message_bar.warning(source.skipped_message)
            self._problem_shown = True
        if isinstance(tag, _Restoring):  # a session's data: its curation at once, with no history before it
            self.undo_stack.clear()
            self._apply(DataState(source, tag.curation), user_action=tag.chosen_now)
            return
        _request, undoable = tag
        after = DataState(source, CurationSettings())
        if undoable and self.state is not None:
            self.undo_stack.push(DataStateChange(self._apply, self.state, after, f"Load {source.title}"))
        else:
            self._apply(after)

    def _on_load_failed(self, tag, error: Exception) -> None:
        request = tag.request if isinstance(tag, _Restoring) else tag[0]
        if isinstance(error, EncodingProblem) and error.suggested_encodings:
            actions = [(f"Read as {enc}", lambda e=enc: self.load(SourceRequest("file", request.value, encoding=e)))
                       for enc in error.suggested_encodings]
            self.message_bar.warning(str(error), actions)
        else:
            self.message_bar.error(plain_message(error))
        self._problem_shown = True
        if self.state is None and not request.is_default_world:
            self.load(default_world_request(), undoable=False)  # never leave the tab without text
        self._show_source_note()

    def _dismiss_problem(self) -> None:
        if self._problem_shown:
            self.message_bar.dismiss()
            self._problem_shown = False

    # --- curating -----------------------------------------------------------------------------

    def _on_curation_edited(self, new_settings: CurationSettings, description: str, merge_key: str) -> None:
        if self.state is None:
            return
        after = DataState(self.state.source, new_settings)
        self.undo_stack.push(DataStateChange(self._apply, self.state, after, description, merge_key))

    def curate_with(self, new_settings: CurationSettings, description: str = "Curate") -> None:
        """Apply curation settings as one undoable step (what the controls do, for scripts and tests)."""
        self._on_curation_edited(new_settings, description, "")

    def keep_everything(self) -> None:
        if self.state is not None and self.state.settings != CurationSettings():
            self.curate_with(CurationSettings(), "Keep everything")

    def _apply(self, state: DataState, user_action: bool | None = None) -> None:
        """Show a state: curate, count, draw, publish. Called by undo commands, the first load and a session.

        ``user_action`` (published with the corpus) defaults to "not the first load".
        """
        source_changed = self.state is None or state.source is not self.state.source
        user_action = self.state is not None if user_action is None else user_action
        self.state = state
        self.curated_documents = curate(list(state.source.documents), state.settings)
        self.stats = corpus_stats(self.curated_documents)
        if source_changed:
            self._select_current_source()
            if state.source.request.kind == "world":
                self.world_knobs.set_settings(state.source.request.world or default_world_request().world)
            self._document_index = 0
        self.curation_panel.present(state.source, state.settings)
        self._show_source_note()
        self._draw_charts()
        self.tokenized = None
        if self.curated_documents:
            name = state.source.title if state.settings == CurationSettings() else f"{state.source.title}, curated"
            self.corpus = curated_corpus(self.curated_documents, name, f"data:{state.source.request.kind}")
            if self._problem_shown and self.message_bar.level() == "warning" and not state.source.skipped_message:
                self._dismiss_problem()
            self.curated_changed.emit(self.corpus, "", user_action)
            self._retokenize()
        else:
            self.corpus = None
            reason = str(CorpusError("Curation removed every document, so there is nothing left to train on.",
                                     "Turn a topic back on, move the cutoff year later, or raise a mix weight."))
            self.message_bar.warning(reason)
            self._problem_shown = True
            self.curated_changed.emit(None, reason, user_action)
        if source_changed or not self.token_view.input.toPlainText():
            self._show_document()
        self._show_summary()

    # --- charts -------------------------------------------------------------------------------

    def loaded_stats(self) -> CorpusStats:
        """Counts of the loaded documents before curation (the pale "ghost" bars)."""
        source = self.state.source
        if id(source) not in self._loaded_stats:
            self._loaded_stats = {id(source): corpus_stats(list(source.documents))}
        return self._loaded_stats[id(source)]

    @property
    def world_charts(self) -> bool:
        """True when the loaded text has topics or years to chart (the generated world), else the text's own."""
        return self._chart_boxes is self._world_boxes

    def _draw_charts(self) -> None:
        stats, before = self.stats, self.loaded_stats()
        world = has_world_labels(self.state.source.documents)
        self._chart_boxes = self._world_boxes if world else self._text_boxes
        self._arrange_charts(self._chart_columns)
        notes = explanations(stats, before)
        total = max(stats.characters, 1)
        self.coverage_chart.set_rows(
            [BarRow(label, now, f"{formatting.count(now)} ({100 * now / total:.0f} %)", was)
             for label, now, was in coverage_rows(stats, before)],
            notes.get("coverage", ""))
        planted = self.state.source.request.kind == "world"
        self.quality_chart.set_rows(
            [BarRow(label, getattr(stats, name), formatting.count(getattr(stats, name)), getattr(before, name))
             for name, label in QUALITY_ROWS if planted or name not in ("typos", "corrupted")],
            notes.get("quality", ""))
        if not world:
            self._count_text()
            return
        answers_total = max(sum(stats.answers.values()), 1)
        self.bias_chart.set_rows(
            [BarRow(answer, stats.answers.get(answer, 0),
                    f"{stats.answers.get(answer, 0)} ({100 * stats.answers.get(answer, 0) / answers_total:.0f} %)", n)
             for answer, n in before.answers.items()],
            notes.get("bias", "No forum posts recommending one thing over another in this text."))
        cutoff = self.state.settings.cutoff_year
        self.year_histogram.set_counts(stats.documents_per_year, before.documents_per_year, cutoff)
        if before.documents_per_year:
            self.years_explanation.setText(notes.get("years", "No dated documents are left."))
        else:
            self.years_explanation.setText("This text has no dates, so the model cannot tell old news from new.")

    def _count_text(self) -> None:
        """Count the real-text charts' numbers on a worker (they grow with the text); ``_on_profiled`` draws."""
        source = self.state.source
        known = self._loaded_profile is not None and self._loaded_profile[0] is source
        if not known:
            self.profile = None
            for chart in self._text_boxes[:4]:
                chart.set_rows([], "Counting…")
        self._profile_task.submit(_profiles, list(self.curated_documents), None if known else list(source.documents),
                                  tag=(source, self.state.settings))

    def _on_profiled(self, tag, profiles: tuple[TextProfile, TextProfile | None]) -> None:
        source, settings = tag
        now, loaded = profiles
        if loaded is not None:
            self._loaded_profile = (source, loaded)
        if self.state is None or source is not self.state.source or settings != self.state.settings:
            return  # an answer to an older question; the newer one is on its way
        before = self._loaded_profile[1]
        self.profile = now
        for chart, make in ((self.lengths_chart, lengths_chart), (self.words_chart, words_chart),
                            (self.characters_chart, characters_chart), (self.lines_chart, repeated_lines_chart)):
            drawn: Chart = make(now, before)
            chart.set_rows([BarRow(r.label, r.value, r.text, r.before) for r in drawn.rows], drawn.sentence)

    def _on_profile_failed(self, tag, error: Exception) -> None:
        if self.state is not None and tag == (self.state.source, self.state.settings):
            self.message_bar.error(plain_message(error))

    def _show_summary(self) -> None:
        stats = self.stats
        if stats is None:
            return
        parts = [f"{formatting.count(stats.characters)} characters", f"{formatting.count(stats.documents)} documents"]
        if self.tokenized is not None:
            parts.append(f"{formatting.count(len(self.tokenized.tokens))} tokens")
        elif self.corpus is not None:
            parts.append("counting tokens…")
        self.summary_label.setText("  ·  ".join(parts))
        if self.corpus is None:
            self.fingerprint_label.setText("Nothing left to train on: Pretraining cannot start until curation "
                                           "keeps some text.")
        else:
            self.fingerprint_label.setText(f"Fingerprint {self.corpus.fingerprint[:12]}. Pretraining trains on "
                                           f"this corpus: “{self.corpus.name}”.")

    def _show_source_note(self) -> None:
        if self.state is None:
            return
        source = self.state.source
        before = len(source.documents)
        note = f"{source.title}: {formatting.count(before)} documents loaded."
        if source.skipped:
            note += f" {source.skipped_message}"
        self.source_note.setText(note)

    def ask_export_charts(self) -> None:
        from engine.user_paths import models_dir

        path, _filter = QFileDialog.getSaveFileName(self, "Save charts", str(models_dir() / "data-charts.png"),
                                                    "PNG pictures (*.png)")
        if path:
            self.export_charts(path)

    def export_charts(self, path: str | Path, size: tuple[int, int] = export.PROJECTOR_SIZE) -> Path | None:
        """The charts as one PNG of ``size`` in the current theme (``gui.export``); None if it failed."""
        return export.export_png(self.charts, path, size)

    # --- tokens ---------------------------------------------------------------------------------

    @property
    def spec(self) -> TokenizerSpec:
        kind = self.tokenizer_combo.currentData()
        return TokenizerSpec("bpe", self.vocab_spin.value()) if kind == "bpe" else TokenizerSpec("char")

    def set_tokenizer_spec(self, spec: TokenizerSpec) -> None:
        """Show a tokenizer chosen elsewhere (Pretraining), without echoing it back."""
        if spec == self.spec:
            return
        for w in (self.tokenizer_combo, self.vocab_spin):
            w.blockSignals(True)
        self.tokenizer_combo.setCurrentIndex(max(0, self.tokenizer_combo.findData(spec.kind)))
        if spec.kind == "bpe":
            self.vocab_spin.setValue(spec.vocab_size)
        for w in (self.tokenizer_combo, self.vocab_spin):
            w.blockSignals(False)
        self._show_vocab_spin()
        self._retokenize()

    def _on_tokenizer_chosen(self, *_args) -> None:
        self._show_vocab_spin()
        self.tokenizer_spec_changed.emit(self.spec)
        self._retokenize()

    def _show_vocab_spin(self) -> None:
        self.vocab_spin.setVisible(self.spec.kind == "bpe")

    def _retokenize(self) -> None:
        self.tokenized = None
        self.token_view.set_tokenizer(None)
        if self.corpus is None:
            self._show_summary()
            return
        spec = self.spec
        self._tokenizer_task.submit(preview, self.corpus, spec, tag=(self.corpus.fingerprint, spec))
        self._show_summary()

    def _on_tokenized(self, tag, tokenized) -> None:
        if self.corpus is None or tag != (self.corpus.fingerprint, self.spec):
            return  # an answer to an older question; the newer one is on its way
        self.tokenized = tokenized
        self.token_view.set_tokenizer(tokenized.tokenizer)
        self._show_summary()

    def _on_tokenize_failed(self, tag, error: Exception) -> None:
        if self.corpus is not None and tag == (self.corpus.fingerprint, self.spec):
            self.message_bar.error(plain_message(error))

    def show_another_document(self) -> None:
        self._document_index += 1
        self._show_document()

    def _show_document(self) -> None:
        docs = self.curated_documents or list(self.state.source.documents if self.state else [])
        if docs:
            # A stride through the corpus, so "another" visits every style rather than the neighbour.
            index = (self._document_index * 97) % len(docs)
            self.token_view.set_text(docs[index].text)

    # --- layout and lifecycle -----------------------------------------------------------------------

    def _select_current_source(self) -> None:
        if self.state is None:
            return
        request = self.state.source.request
        index = next((i for i in range(self.source_combo.count())
                      if isinstance(self.source_combo.itemData(i), int)
                      and self._requests[self.source_combo.itemData(i)] == request), -1)
        if index < 0:
            index = self._add_source_item(self.state.source.title, request)
        self.source_combo.setCurrentIndex(index)

    def _add_source_item(self, title: str, request: SourceRequest) -> int:
        """List a source in the menu, above the separator once there is one; returns its row."""
        self._requests.append(request)
        separator = next((i for i in range(self.source_combo.count())
                          if self.source_combo.itemData(i) is None and not self.source_combo.itemText(i)), None)
        index = self.source_combo.count() if separator is None else separator
        self.source_combo.insertItem(index, title, len(self._requests) - 1)
        self.source_combo.setItemData(index, request.value or title, Qt.ItemDataRole.ToolTipRole)
        return index

    def _arrange_charts(self, columns: int) -> None:
        """Two charts side by side when they fit, one above the other when zoomed in (they scroll).

        Only the charts of the current kind of text are placed (``_chart_boxes``); an odd last one spans both
        columns.
        """
        if columns == self._chart_columns and self._arranged == (self._chart_boxes, columns):
            return
        self._chart_columns = columns
        self._arranged = (self._chart_boxes, columns)
        for box in self._world_boxes + self._text_boxes:
            self._chart_grid.removeWidget(box)
            box.setVisible(box in self._chart_boxes)
        for i, box in enumerate(self._chart_boxes):
            span = columns if i == len(self._chart_boxes) - 1 and i % columns == 0 else 1
            self._chart_grid.addWidget(box, i // columns, i % columns, 1, span)
        for c in range(2):
            self._chart_grid.setColumnStretch(c, 1 if c < columns else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_charts()

    def scroll_to_chart(self, chart: QWidget) -> None:
        """Scroll the charts so that ``chart`` is in view (Help → Why does AI do that? → Show me)."""
        self._fit_charts()  # one or two columns for the width the charts have now
        if not chart.isVisibleTo(self):  # a chart of the bundled world, and another text is loaded
            self.message_bar.info("That chart is drawn for the bundled world, whose documents carry topics and "
                                  "years; the text loaded now has neither. Choose “A fictional world (generated)” "
                                  "in the Text menu to see it.")
            return
        self.charts.layout().activate()
        # Its top at the top of the view. Not QScrollArea.ensureWidgetVisible: it asks the widget for a text
        # cursor first, and a plot (a QGraphicsView) answers with an empty one, which it finds already "visible".
        top = chart.mapTo(self.charts, QPoint(0, 0)).y()
        self.charts_scroll.verticalScrollBar().setValue(top)

    def _fit_charts(self) -> None:
        # A chart needs about 60 characters across to show its labels, bars and numbers.
        wide_enough = self.charts_scroll.viewport().width() >= 2 * self.fontMetrics().horizontalAdvance("x" * 60)
        self._arrange_charts(2 if wide_enough else 1)
        self.year_histogram.setMinimumHeight(self.fontMetrics().height() * 11)

    def _fit_layout(self, *_args) -> None:
        self._fit_charts()
        # No wider than its longest entry: the rest of a wide row is left empty, not given to the menu.
        combo = self.tokenizer_combo
        longest = max(self.fontMetrics().horizontalAdvance(combo.itemText(i)) for i in range(combo.count()))
        combo.setMaximumWidth(longest + 3 * self.fontMetrics().height())
        total = self.splitter.width()
        scrollbar = self.left_scroll.verticalScrollBar().sizeHint().width()
        preferred = self.fontMetrics().horizontalAdvance("x" * 46) + scrollbar
        needed = self.left_scroll.minimumSizeHint().width()
        width = max(needed, min(preferred, int(total * 0.4)))
        self.splitter.setSizes([width, max(total - width, 1)])
        QTimer.singleShot(0, self._fit_charts)  # once the splitter has given the charts their width
        height = self.results_splitter.height()
        self.results_splitter.setSizes([int(height * 0.68), height - int(height * 0.68)])

    def _fit_layout_soon(self, *_args) -> None:
        QTimer.singleShot(0, self._fit_layout)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._left_width_fitted:
            self._left_width_fitted = True
            self._fit_layout_soon()

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        loader_done = self._loader.shutdown(timeout_s)
        tokenizer_done = self._tokenizer_task.shutdown(timeout_s)
        profile_done = self._profile_task.shutdown(timeout_s)
        view_done = self.token_view.shutdown(timeout_s)
        return loader_done and tokenizer_done and profile_done and view_done
