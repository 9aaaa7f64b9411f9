"""Choosing the text to learn from and how it is cut into tokens.

The corpus menu lists the bundled corpora, any files opened this session, and "Open text file…".
Reading a file and tokenizing it both run off the GUI thread (a large file takes a while to read,
BPE takes about a second to train), and a problem with a file never replaces the text already
chosen: the message bar explains it and, for a file in an older encoding, offers to read it again
as one of the encodings the engine suggests.

The first entry is the corpus curated in the Data tab, with its fingerprint; the main window hands
it over with ``use_curated`` whenever curation changes it. A curation that leaves nothing selects
an empty entry, which blocks training with the reason. While a run trains, a new curated corpus
waits until the run has ended, since the run has already read its text.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QSpinBox, QWidget

from engine.data.corpus import DEFAULT_CORPUS_KEY, Corpus, bundled_corpora, load_bundled, read_text_file
from engine.errors import EncodingProblem
from engine.tokenizer import MAX_BPE_VOCAB, MIN_BPE_VOCAB, TokenizerSpec, preview
from gui import formatting, settings
from gui.availability import WHY, set_available
from gui.background import BackgroundTask
from gui.training_controller import plain_message
from gui.widgets.message_bar import MessageBar

OPEN_FILE_LABEL = "Open text file…"
TOKENIZER_CHOICES = (("char", "Characters"), ("bpe", "BPE (word pieces)"))
DEFAULT_BPE_VOCAB = 512
TEXT_FILE_FILTER = "Text files (*.txt *.md *.text *.csv);;All files (*)"
_TOOLTIP_ROLE = Qt.ItemDataRole.ToolTipRole


def _let_shrink(combo: QComboBox) -> None:
    """Long entries must not widen the settings column beyond the window (they are elided instead)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)


def _item_key(kind: str, value: str = "") -> str:
    """Combo item data as a plain string ("bundled:<key>", "file:<path>", "open:"): findData can compare it."""
    return f"{kind}:{value}"


CURATED_ITEM = _item_key("curated")
CURATED_SETTING = "curated"  # LAST_CORPUS value meaning "whatever the Data tab curated"


class CorpusPanel(QWidget):
    """Corpus and tokenizer choices, with their sizes; publishes the corpus and its tokenization."""

    corpus_changed = Signal(object)  # engine.data.corpus.Corpus, or None when the curated corpus is empty
    spec_changed = Signal(object)  # TokenizerSpec chosen here
    tokenization_changed = Signal(object)  # engine.tokenizer.TokenizedCorpus, or None while computing

    def __init__(self, message_bar: MessageBar, parent=None):
        super().__init__(parent)
        self._messages = message_bar
        self.corpus: Corpus | None = None
        self.tokenized = None  # TokenizedCorpus of (corpus, spec), once known
        self._current_index = 0  # the combo row of self.corpus, to return to after a failed open
        self._file_problem_shown = False
        self._curated: Corpus | None = None  # the Data tab's latest curated corpus (None: empty)
        self._curated_reason = ""  # why it is empty
        self._have_curated = False  # has the Data tab published anything yet?
        self._prefer_curated = False  # select the curated corpus as soon as it arrives (restored choice)
        self._curated_waiting = False  # a curated corpus to select once the running run has ended
        self._stand_in_pending = False  # the start-up read that stands in until the Data tab publishes

        self.corpus_combo = QComboBox()
        self.corpus_combo.setAccessibleName("Corpus")
        _let_shrink(self.corpus_combo)
        for entry in bundled_corpora():
            self.corpus_combo.addItem(entry.title, _item_key("bundled", entry.key))
            self.corpus_combo.setItemData(self.corpus_combo.count() - 1, entry.description, _TOOLTIP_ROLE)
        self.corpus_combo.insertSeparator(self.corpus_combo.count())
        self.corpus_combo.addItem(OPEN_FILE_LABEL, _item_key("open"))
        self.corpus_description = QLabel()
        self.corpus_description.setWordWrap(True)
        self.size_label = QLabel("Reading…")
        self.size_label.setWordWrap(True)

        self.tokenizer_combo = QComboBox()
        self.tokenizer_combo.setAccessibleName("Tokenizer")
        _let_shrink(self.tokenizer_combo)
        for kind, title in TOKENIZER_CHOICES:
            self.tokenizer_combo.addItem(title, kind)
        self.tokenizer_combo.setItemData(0, "One token per character: simple, but the model must learn to spell.", _TOOLTIP_ROLE)
        self.tokenizer_combo.setItemData(
            1, "Frequent pieces of words become single tokens, so the model sees more text per step.", _TOOLTIP_ROLE
        )
        self.vocab_spin = QSpinBox()
        self.vocab_spin.setRange(MIN_BPE_VOCAB, MAX_BPE_VOCAB)
        self.vocab_spin.setSingleStep(64)
        self.vocab_spin.setValue(DEFAULT_BPE_VOCAB)
        self.vocab_spin.setToolTip("How many distinct word pieces BPE learns from the text.")
        self.vocab_spin.setAccessibleName("BPE vocabulary size")
        self.vocab_label = QLabel()
        self.vocab_label.setWordWrap(True)

        tokenizer_row = QHBoxLayout()
        tokenizer_row.addWidget(self.tokenizer_combo, 1)
        self._vocab_caption = QLabel("pieces:")
        tokenizer_row.addWidget(self._vocab_caption)
        tokenizer_row.addWidget(self.vocab_spin)

        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Text", self.corpus_combo)
        form.addRow(self.corpus_description)
        form.addRow(self.size_label)
        form.addRow("Tokens", tokenizer_row)
        form.addRow(self.vocab_label)

        self._reader = BackgroundTask("reading a corpus", self)
        self._reader.succeeded.connect(self._on_corpus_read)
        self._reader.failed.connect(self._on_corpus_failed)
        self._tokenizer_task = BackgroundTask("tokenizer preview", self)
        self._tokenizer_task.succeeded.connect(self._on_tokenized)
        self._tokenizer_task.failed.connect(self._on_tokenize_failed)

        self.corpus_combo.activated.connect(self._on_corpus_chosen)
        self.tokenizer_combo.currentIndexChanged.connect(self._on_tokenizer_changed)
        self.vocab_spin.valueChanged.connect(self._on_tokenizer_changed)

        self._restore_choices()

    # --- state ------------------------------------------------------------------------------

    @property
    def spec(self) -> TokenizerSpec:
        kind = self.tokenizer_combo.currentData()
        return TokenizerSpec(kind, self.vocab_spin.value()) if kind == "bpe" else TokenizerSpec("char")

    @property
    def busy(self) -> bool:
        return self._reader.busy or self._tokenizer_task.busy

    def set_spec(self, spec: TokenizerSpec) -> None:
        """Show a tokenizer choice (e.g. an opened model's) and tokenize the corpus with it."""
        self.tokenizer_combo.blockSignals(True)
        self.vocab_spin.blockSignals(True)
        self.tokenizer_combo.setCurrentIndex(max(0, self.tokenizer_combo.findData(spec.kind)))
        if spec.kind == "bpe":
            self.vocab_spin.setValue(spec.vocab_size)
        self.tokenizer_combo.blockSignals(False)
        self.vocab_spin.blockSignals(False)
        self._on_tokenizer_changed()

    def set_editable(self, editable: bool) -> None:
        """Off while training: the run has already read and tokenized its text."""
        reason = None if editable else ("Not while a run trains: it has already read and tokenized its text. "
                                        "Press Stop to change it.")
        set_available(self.corpus_combo, reason)
        set_available(self.tokenizer_combo, reason)
        self._update_vocab_spin()
        if editable and self._curated_waiting:
            self._curated_waiting = False
            self._select_curated()

    # --- the Data tab's curated corpus ----------------------------------------------------------

    @property
    def using_curated(self) -> bool:
        return self.corpus_combo.itemData(self._current_index) == CURATED_ITEM

    def use_curated(self, corpus: Corpus | None, reason: str = "", chosen_now: bool = True) -> None:
        """Take the Data tab's curated corpus; switch to it if the user just curated or was using it."""
        self._curated, self._curated_reason, self._have_curated = corpus, reason, True
        index = self.corpus_combo.findData(CURATED_ITEM)
        if index < 0:
            self.corpus_combo.insertItem(0, "", CURATED_ITEM)
            index = 0
            self._current_index += 1  # everything else moved down a row
        title = f"Curated: {corpus.name}" if corpus is not None else "Curated: nothing left"
        self.corpus_combo.setItemText(index, title)
        tip = (f"Curated in the Data tab; fingerprint {corpus.fingerprint[:12]}" if corpus is not None else reason)
        self.corpus_combo.setItemData(index, tip, _TOOLTIP_ROLE)
        if not (chosen_now or self._prefer_curated or self.using_curated):
            return
        self._prefer_curated = False
        if not self.corpus_combo.isEnabled():  # training: the run keeps the text it started with
            self._curated_waiting = True
            return
        self._select_curated()

    def _select_curated(self) -> None:
        if not self._have_curated:
            return
        index = self.corpus_combo.findData(CURATED_ITEM)
        self.corpus_combo.setCurrentIndex(index)
        self._current_index = index
        settings.write(settings.LAST_CORPUS, CURATED_SETTING)
        corpus = self._curated
        if corpus is None:
            self.corpus_description.setText(self._curated_reason)
        else:
            self.corpus_description.setText(f"Curated in the Data tab: {corpus.name}. "
                                            f"Fingerprint {corpus.fingerprint[:12]}.")
        self.corpus = corpus
        self.corpus_changed.emit(corpus)
        if corpus is None:
            self.tokenized = None
            self.vocab_label.setText("")
            self.tokenization_changed.emit(None)
            self._show_sizes()
        else:
            self._retokenize()

    # --- choosing a corpus --------------------------------------------------------------------

    def choose_bundled(self, key: str) -> None:
        self._reader.submit(load_bundled, key, tag=("bundled", key, None))
        self.size_label.setText("Reading…")

    def open_file(self, path: str | Path, encoding: str | None = None) -> None:
        """Read a text file in the background; on success it becomes the corpus."""
        self._reader.submit(read_text_file, str(path), encoding, tag=("file", str(path), encoding))
        self.size_label.setText(f"Reading {Path(path).name}…")

    def ask_for_file(self) -> None:
        start = settings.read_str("pretraining/last_text_folder", str(Path.home()))
        path, _filter = QFileDialog.getOpenFileName(self, "Open a text file", start, TEXT_FILE_FILTER)
        if path:
            settings.write("pretraining/last_text_folder", str(Path(path).parent))
            self.open_file(path)

    def _on_corpus_chosen(self, index: int) -> None:
        kind, _, value = str(self.corpus_combo.itemData(index)).partition(":")
        # The combo keeps showing the current corpus until a new one has actually been read.
        self.corpus_combo.setCurrentIndex(self._current_index)
        self._stand_in_pending = False  # whatever the user chose now wins over a start-up read
        if kind == "curated":
            self._select_curated()
        elif kind == "open":
            self.ask_for_file()
        elif kind == "bundled":
            self.choose_bundled(value)
        elif kind == "file":
            self.open_file(value)

    def _on_corpus_read(self, tag, corpus: Corpus) -> None:
        kind, value, _encoding = tag
        if self._stand_in_pending and kind == "bundled":
            self._stand_in_pending = False
            if self.using_curated:
                return  # the stand-in read at start-up, overtaken by the Data tab's corpus
        index = self.corpus_combo.findData(_item_key(kind, value))
        if index < 0:  # a newly opened file: list it above the separator
            index = self.corpus_combo.count() - 2
            self.corpus_combo.insertItem(index, corpus.name, _item_key(kind, value))
            self.corpus_combo.setItemData(index, value, _TOOLTIP_ROLE)
        self.corpus_combo.setCurrentIndex(index)
        self._current_index = index
        if kind == "bundled":
            settings.write(settings.LAST_CORPUS, value)
            entry = next(b for b in bundled_corpora() if b.key == value)
            self.corpus_description.setText(entry.description)
        else:
            self.corpus_description.setText(value)
        self.corpus = corpus
        self._messages_dismiss_file_problem()
        self.corpus_changed.emit(corpus)
        self._retokenize()

    def _on_corpus_failed(self, tag, error: Exception) -> None:
        kind, value, _encoding = tag
        self._show_sizes()  # back to the sizes of the corpus we still have
        if isinstance(error, EncodingProblem) and error.suggested_encodings:
            actions = [
                (f"Read as {encoding}", lambda e=encoding: self.open_file(value, e))
                for encoding in error.suggested_encodings
            ]
            self._messages.warning(str(error), actions)
        else:
            self._messages.error(plain_message(error))
        self._file_problem_shown = True
        if self.corpus is None and kind == "bundled" and value != DEFAULT_CORPUS_KEY:
            self.choose_bundled(DEFAULT_CORPUS_KEY)  # never leave the app without any text

    def _messages_dismiss_file_problem(self) -> None:
        # A successful read answers the earlier complaint about a file, so take it away.
        if self._file_problem_shown:
            self._messages.dismiss()
            self._file_problem_shown = False

    # --- tokenizing ---------------------------------------------------------------------------

    def _update_vocab_spin(self) -> None:
        set_available(self.vocab_spin, self.tokenizer_combo.property(WHY) or (
            None if self.spec.kind == "bpe" else "Only word pieces (BPE) have a vocabulary size to choose."))

    def _on_tokenizer_changed(self, *_args) -> None:
        is_bpe = self.spec.kind == "bpe"
        self._update_vocab_spin()
        self.vocab_spin.setVisible(is_bpe)
        self._vocab_caption.setVisible(is_bpe)
        settings.write(settings.LAST_TOKENIZER, f"{self.spec.kind}:{self.spec.vocab_size}")
        self.spec_changed.emit(self.spec)
        self._retokenize()

    def _retokenize(self) -> None:
        if self.corpus is None:
            return
        self.tokenized = None
        self.tokenization_changed.emit(None)
        spec = self.spec
        self.vocab_label.setText("Learning word pieces…" if spec.kind == "bpe" else "Counting characters…")
        self._show_sizes()
        self._tokenizer_task.submit(preview, self.corpus, spec, tag=(self.corpus.fingerprint, spec))

    def _on_tokenized(self, tag, tokenized) -> None:
        if self.corpus is None or tag != (self.corpus.fingerprint, self.spec):
            return  # the user has moved on; the newer request is on its way
        self.tokenized = tokenized
        self.vocab_label.setText(f"Vocabulary: {formatting.count(tokenized.tokenizer.vocab_size)} distinct tokens")
        self._show_sizes()
        self.tokenization_changed.emit(tokenized)

    def _on_tokenize_failed(self, tag, error: Exception) -> None:
        if self.corpus is not None and tag == (self.corpus.fingerprint, self.spec):
            self.vocab_label.setText("")
            self._messages.error(plain_message(error))

    def _show_sizes(self) -> None:
        if self.corpus is None:
            self.size_label.setText("Nothing to train on." if self.using_curated and self._have_curated else "")
            return
        text = f"{formatting.count(len(self.corpus.text))} characters"
        if self.tokenized is not None:
            text += f"  ·  {formatting.count(len(self.tokenized.tokens))} tokens"
        self.size_label.setText(text)

    # --- lifecycle ----------------------------------------------------------------------------

    def _restore_choices(self) -> None:
        stored = settings.read_str(settings.LAST_TOKENIZER, "char:512")
        kind, _, vocab = stored.partition(":")
        self.tokenizer_combo.blockSignals(True)
        self.tokenizer_combo.setCurrentIndex(max(0, self.tokenizer_combo.findData(kind)))
        self.tokenizer_combo.blockSignals(False)
        if vocab.isdigit():
            self.vocab_spin.blockSignals(True)
            self.vocab_spin.setValue(int(vocab))
            self.vocab_spin.blockSignals(False)
        is_bpe = self.spec.kind == "bpe"
        self.vocab_spin.setVisible(is_bpe)
        self._vocab_caption.setVisible(is_bpe)
        key = settings.read_str(settings.LAST_CORPUS, CURATED_SETTING)
        # The Data tab's corpus arrives later; until then the bundled default stands in for it.
        self._prefer_curated = self._stand_in_pending = key == CURATED_SETTING
        if key not in {b.key for b in bundled_corpora()}:
            key = DEFAULT_CORPUS_KEY
        self.corpus_combo.setCurrentIndex(max(0, self.corpus_combo.findData(_item_key("bundled", key))))
        self._current_index = self.corpus_combo.currentIndex()
        self.choose_bundled(key)

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        reader_done = self._reader.shutdown(timeout_s)
        tokenizer_done = self._tokenizer_task.shutdown(timeout_s)
        return reader_done and tokenizer_done

