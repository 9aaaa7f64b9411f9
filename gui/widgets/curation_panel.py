"""The Data tab's curation controls: knowledge cutoff, topics, mix weights, duplicates and junk.

The panel holds no corpus. It shows a ``CurationSettings`` and, when the user changes a control,
emits the settings that change would give, with a few words naming it ("Cutoff after 2019") for
the undo history. The Data tab decides what to do with them (push an undo command, re-curate) and
calls ``present`` to bring every control in line again, e.g. after an undo. ``present`` blocks the
controls' signals, so showing settings never counts as a new edit.

Labels stay short enough for the settings column at 200 % zoom on a 1280-pixel projector: a long
topic name shows its first words, with the rest in the tooltip, and the explanations are wrapped
labels rather than check-box text (which cannot wrap). The topic boxes and weight spin boxes are
made after a text has loaded, so they are put into the Tab order where they appear on screen.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.data.curation import MAX_MIX_WEIGHT, CurationSettings
from engine.data.sources import DataSource
from engine.data.documents import SOURCES, TOPICS
from gui.availability import set_available

CUTOFF_OFF = "Tick the knowledge cutoff box first to choose a year."
CUTOFF_MERGE_KEY = "cutoff"  # consecutive slider moves merge into one undo step


class CurationPanel(QWidget):
    """Controls that edit a ``CurationSettings`` for the documents of one ``DataSource``."""

    edited = Signal(object, str, str)  # (new CurationSettings, description, merge key or "")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._settings = CurationSettings()
        self._source: DataSource | None = None
        self._topic_boxes: dict[str, QCheckBox] = {}
        self._mix_spins: dict[str, QDoubleSpinBox] = {}

        self.cutoff_box = QCheckBox("Knowledge cutoff")
        self.cutoff_box.setToolTip("Text about later events is left out, as if the model were trained that year.")
        self.cutoff_explanation = QLabel("Drop documents dated after:")
        self.cutoff_explanation.setWordWrap(True)
        self.cutoff_slider = QSlider(Qt.Orientation.Horizontal)
        self.cutoff_slider.setAccessibleName("Cutoff year")
        self.cutoff_year_label = QLabel()
        cutoff_row = QHBoxLayout()
        cutoff_row.addWidget(self.cutoff_slider, 1)
        cutoff_row.addWidget(self.cutoff_year_label)
        self.no_years_label = QLabel("This text has no dates, so there is no cutoff to set.")
        self.no_years_label.setWordWrap(True)

        self.topics_layout = QVBoxLayout()
        self.mix_form = QFormLayout()
        self.mix_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.duplicates_box = QCheckBox("Remove repeated documents")
        self.duplicates_box.setToolTip("Keep the first copy of each document; later identical copies are dropped.")
        self.junk_box = QCheckBox("Remove junk")
        self.junk_box.setToolTip("Drop boilerplate and noise: documents that teach the model nothing.")

        layout = QVBoxLayout(self)
        layout.addWidget(self.cutoff_box)
        layout.addWidget(self.cutoff_explanation)
        layout.addLayout(cutoff_row)
        layout.addWidget(self.no_years_label)
        self.topics_caption = _caption("Topics to keep")
        layout.addWidget(self.topics_caption)
        layout.addLayout(self.topics_layout)
        # A text with one topic (a book, the user's own files) has nothing to choose between.
        self.no_topics_label = QLabel("This text is not divided into topics (the bundled world's documents are), "
                                      "so there are none to choose between.")
        self.no_topics_label.setWordWrap(True)
        layout.addWidget(self.no_topics_label)
        layout.addWidget(_caption("How much of each kind of text (1 = as it is, 2 = twice, 0 = none)"))
        layout.addLayout(self.mix_form)
        layout.addWidget(_caption("Cleaning"))
        layout.addWidget(self.duplicates_box)
        layout.addWidget(self.junk_box)

        self.cutoff_box.toggled.connect(self._on_cutoff_toggled)
        self.cutoff_slider.valueChanged.connect(self._on_cutoff_moved)
        self.duplicates_box.toggled.connect(
            lambda on: self._emit(replace(self._settings, drop_duplicates=on),
                                  "Remove repeated documents" if on else "Keep repeated documents"))
        self.junk_box.toggled.connect(
            lambda on: self._emit(replace(self._settings, drop_junk=on), "Remove junk" if on else "Keep junk"))

    # --- showing ------------------------------------------------------------------------------

    @property
    def settings(self) -> CurationSettings:
        return self._settings

    def present(self, source: DataSource, settings: CurationSettings) -> None:
        """Show ``settings`` for ``source``'s documents, without emitting ``edited``."""
        if source is not self._source:
            self._source = source
            self._rebuild_rows(source)
        self._settings = settings
        widgets = [self.cutoff_box, self.cutoff_slider, self.duplicates_box, self.junk_box,
                   *self._topic_boxes.values(), *self._mix_spins.values()]
        for w in widgets:
            w.blockSignals(True)
        years = source.years
        has_years = years is not None
        for w in (self.cutoff_box, self.cutoff_explanation, self.cutoff_slider, self.cutoff_year_label):
            w.setVisible(has_years)
        self.no_years_label.setVisible(not has_years)
        if has_years:
            self.cutoff_slider.setRange(years[0], years[1])
            on = settings.cutoff_year is not None
            self.cutoff_box.setChecked(on)
            set_available(self.cutoff_slider, None if on else CUTOFF_OFF)
            self.cutoff_slider.setValue(settings.cutoff_year if on else years[1])
            self.cutoff_year_label.setText(str(self.cutoff_slider.value()))
        several_topics = len(self._topic_boxes) > 1
        self.topics_caption.setVisible(several_topics)
        self.no_topics_label.setVisible(not several_topics)
        for topic, box in self._topic_boxes.items():
            box.setChecked(settings.topics is None or topic in settings.topics)
            box.setVisible(several_topics)
        for source_key, spin in self._mix_spins.items():
            spin.setValue(settings.weight(source_key))
        self.duplicates_box.setChecked(settings.drop_duplicates)
        self.junk_box.setChecked(settings.drop_junk)
        for w in widgets:
            w.blockSignals(False)

    def topic_box(self, topic: str) -> QCheckBox:
        return self._topic_boxes[topic]

    def mix_spin(self, source: str) -> QDoubleSpinBox:
        return self._mix_spins[source]

    # --- editing ------------------------------------------------------------------------------

    def _emit(self, settings: CurationSettings, description: str, merge_key: str = "") -> None:
        if settings != self._settings:
            self.edited.emit(settings, description, merge_key)

    def _on_cutoff_toggled(self, on: bool) -> None:
        set_available(self.cutoff_slider, None if on else CUTOFF_OFF)
        year = self.cutoff_slider.value() if on else None
        self._emit(replace(self._settings, cutoff_year=year),
                   f"Cutoff after {year}" if on else "No knowledge cutoff")

    def _on_cutoff_moved(self, year: int) -> None:
        self.cutoff_year_label.setText(str(year))
        if self.cutoff_box.isChecked():
            self._emit(replace(self._settings, cutoff_year=year), f"Cutoff after {year}", CUTOFF_MERGE_KEY)

    def _on_topic_toggled(self, topic: str, on: bool) -> None:
        everything = set(self._topic_boxes)
        kept = set(everything if self._settings.topics is None else self._settings.topics)
        kept = kept | {topic} if on else kept - {topic}
        topics = None if kept >= everything else frozenset(kept)
        label = TOPICS.get(topic, topic).split(" (")[0]
        self._emit(replace(self._settings, topics=topics), f"{'Keep' if on else 'Drop'} {label}")

    def _on_mix_changed(self, source: str, weight: float) -> None:
        mix = dict(self._settings.mix)
        if weight == 1.0:
            mix.pop(source, None)  # 1 is the default: keep the settings canonical, so undo compares equal
        else:
            mix[source] = weight
        settings = replace(self._settings, mix=tuple(sorted(mix.items())))
        self._emit(settings, f"{SOURCES.get(source, source)} × {weight:g}", f"mix:{source}")

    def _rebuild_rows(self, source: DataSource) -> None:
        for box in self._topic_boxes.values():
            box.deleteLater()
        self._topic_boxes.clear()
        while self.mix_form.rowCount():
            self.mix_form.removeRow(0)
        self._mix_spins.clear()
        for topic in sorted(source.topics, key=lambda t: list(TOPICS).index(t) if t in TOPICS else len(TOPICS)):
            title = TOPICS.get(topic, topic)
            short = title.split(" (")[0]  # "Countries (capitals, languages, money, history)" is too wide
            box = QCheckBox(short)
            if short != title:
                box.setToolTip(title)
            box.toggled.connect(lambda on, t=topic: self._on_topic_toggled(t, on))
            self.topics_layout.addWidget(box)
            self._topic_boxes[topic] = box
        for source_key in sorted(source.sources, key=lambda s: list(SOURCES).index(s) if s in SOURCES else len(SOURCES)):
            spin = QDoubleSpinBox()
            spin.setRange(0.0, MAX_MIX_WEIGHT)
            spin.setSingleStep(0.5)
            spin.setDecimals(1)
            spin.setAccessibleName(f"Weight of {SOURCES.get(source_key, source_key)}")
            spin.valueChanged.connect(lambda w, s=source_key: self._on_mix_changed(s, w))
            self.mix_form.addRow(SOURCES.get(source_key, source_key), spin)
            self._mix_spins[source_key] = spin
        self._order_tab_stops()

    def _order_tab_stops(self) -> None:
        """Tab visits the controls top to bottom, as shown, though the topic and weight rows are new.

        Qt's Tab order is the order widgets were made in; rows made after loading would otherwise come
        after everything else in the window.
        """
        chain = self.tab_stops()
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    def tab_stops(self) -> list[QWidget]:
        """The panel's controls in the order they are shown, top to bottom (tests follow Tab with it)."""
        return [self.cutoff_box, self.cutoff_slider, *self._topic_boxes.values(), *self._mix_spins.values(),
                self.duplicates_box, self.junk_box]


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label
