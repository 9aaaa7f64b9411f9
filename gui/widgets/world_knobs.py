"""The knobs of the generated world, each with a plain label, and a button to write it anew.

Coverage, quality, recency and bias are what the lessons turn: fewer facts written, more wrong
ones, a longer or shorter history, a stronger favourite. Shares are shown as percentages because
"20 %" means something to everyone and "0.2" does not. The panel only edits a ``WorldSettings``;
the Data tab generates the text on a worker thread when "Generate" is pressed.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QPushButton, QSpinBox, QWidget

from engine.data.world import WorldSettings

# (WorldSettings field, label, tooltip). Shares are edited as whole percentages.
_PERCENT_KNOBS = (
    ("coverage", "Facts written down", "Coverage: the share of the world's facts that appear in the text at all. "
     "The model cannot learn a fact nobody wrote down."),
    ("rare_language_share", "Code in the rare language", "Coverage: the share of code snippets written in "
     "JavaScript rather than Python. Little code means a model that writes that language badly."),
    ("error_rate", "Wrong facts", "Quality: the share of mentions that state a wrong answer, as careless "
     "websites do. The model learns the wrong answers too."),
    ("typo_rate", "Typos", "Quality: the share of documents with a misspelt word."),
    ("duplicate_rate", "Repeated documents", "Quality: extra copies of documents. Repeats get memorised."),
    ("junk_rate", "Junk documents", "Quality: boilerplate and symbol noise mixed into the text."),
    ("recency", "Extra news of recent years", "Recency: how many more mentions the latest events get than the "
     "oldest ones (100 % means twice as many)."),
    ("answer_skew", "Favourite library", "Bias: the share of forum recommendations that name the same library. "
     "The model will recommend what the text recommends."),
)
_MAX_PERCENT = {"recency": 400}  # recency is a multiplier, not a share


class WorldKnobsPanel(QWidget):
    """Spin boxes for the world's knobs; emits ``generate_requested`` with the chosen settings."""

    generate_requested = Signal(object)  # engine.data.world.WorldSettings

    def __init__(self, parent=None):
        super().__init__(parent)
        self.spins: dict[str, QSpinBox] = {}
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for name, label, tip in _PERCENT_KNOBS:
            spin = QSpinBox()
            spin.setRange(0, _MAX_PERCENT.get(name, 100))
            spin.setSuffix(" %")
            spin.setSingleStep(5)
            spin.setToolTip(tip)
            spin.setAccessibleName(label)
            self.spins[name] = spin
            form.addRow(label, spin)
        self.first_year = QSpinBox()
        self.last_year = QSpinBox()
        for spin, label in ((self.first_year, "History starts in"), (self.last_year, "World's present year")):
            spin.setRange(1000, 2100)
            spin.setAccessibleName(label)
            spin.setToolTip("Recency: the span of years the world's events fall in.")
            form.addRow(label, spin)
        self.countries = QSpinBox()
        self.countries.setRange(3, 400)
        self.countries.setToolTip("How big the world is; people and companies grow with it.")
        form.addRow("Countries", self.countries)
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.seed.setToolTip("Another seed invents another world with other names.")
        form.addRow("Seed", self.seed)
        self.generate_button = QPushButton("Generate this world")
        self.generate_button.clicked.connect(lambda: self.generate_requested.emit(self.settings()))
        self.note = QLabel("Same knobs and seed, same text, byte for byte.")
        self.note.setWordWrap(True)
        form.addRow(self.generate_button)
        form.addRow(self.note)
        self.set_settings(WorldSettings())

    def settings(self) -> WorldSettings:
        values = {name: spin.value() / 100 for name, spin in self.spins.items()}
        return replace(WorldSettings(), **values, first_year=self.first_year.value(),
                       last_year=self.last_year.value(), n_countries=self.countries.value(),
                       seed=self.seed.value())

    def set_settings(self, settings: WorldSettings) -> None:
        for name, spin in self.spins.items():
            spin.setValue(round(getattr(settings, name) * 100))
        self.first_year.setValue(settings.first_year)
        self.last_year.setValue(settings.last_year)
        self.countries.setValue(settings.n_countries)
        self.seed.setValue(settings.seed)
