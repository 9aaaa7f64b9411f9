"""Model size: a preset menu with time estimates, and an "Advanced" section with every number.

Presets are what most users touch; each shows how long it would take on this very computer (from
``engine.machine_speed``, measured once in the background). The Advanced section exposes the shape
of the model and the training schedule, each with one line saying what it does. The parameter
count, memory and time update as the user types, and settings that cannot work together (a width
that does not divide among the heads) are explained instead of being accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.config import (PRESETS, RANGES, ModelConfig, Range, TrainConfig, estimate_memory_bytes, estimate_seconds,
                           param_count)
from engine.config import replace as replace_config
from engine.errors import ConfigError
from gui import formatting, settings
from gui.availability import set_available
from gui.presentation import mark_advanced
from gui.widgets.collapsible_section import CollapsibleSection

CUSTOM_TITLE = "Custom (see Advanced)"
DEFAULT_PRESET = "tiny"
MEASURING = "measuring this computer…"


@dataclass(frozen=True)
class _Field:
    name: str  # the ModelConfig / TrainConfig attribute
    owner: str  # "model" or "train"
    label: str
    explanation: str  # one plain line, shown under the field
    step: float = 1
    decimals: int = 0  # 0: an integer spin box

    @property
    def range(self) -> Range:
        """The engine's range for this setting: the spin box offers nothing the engine would refuse."""
        return RANGES[self.owner][self.name]


FIELDS = (
    _Field("n_layers", "model", "Layers", "Transformer blocks stacked on top of each other."),
    _Field("n_heads", "model", "Heads", "Attention heads per layer, each looking back at the text its own way. "
           "Must divide the width."),
    _Field("d_model", "model", "Width", "How many numbers describe each token inside the model.", 16),
    _Field("context_length", "model", "Context length", "How many tokens the model sees at once.", 16),
    _Field("batch_size", "train", "Batch size", "Text snippets per step; more is smoother but slower."),
    _Field("learning_rate", "train", "Learning rate", "Size of each adjustment; too high and the loss explodes.",
           0.0005, 5),
    _Field("warmup_steps", "train", "Warmup", "Steps over which the learning rate ramps up from zero.", 10),
    _Field("total_steps", "train", "Steps", "How many adjustments the whole run makes.", 100),
    _Field("seed", "train", "Seed", "Starting point of every random choice: the same seed gives the same run."),
)
_FIELD_BY_NAME = {f.name: f for f in FIELDS}
# Fields a size preset keeps its name through: how long it trains and its seed.
NOT_PART_OF_SIZE = ("total_steps", "seed")


class ModelSettingsPanel(QWidget):
    """Preset menu, size/memory/time summary, and the Advanced fields."""

    changed = Signal()  # any setting changed (the tab re-checks what it can start)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._vocab_size = 65  # replaced by the tokenizer's real vocabulary as soon as it is known
        self._flops_per_second: float | None = None
        self._base_train = PRESETS[0].train  # fields not shown (log/eval/sample intervals) come from here
        self._problem: str | None = None
        self._filling = False  # True while a preset fills the fields, so they do not flip it to Custom

        self.preset_combo = QComboBox()
        self.preset_combo.setAccessibleName("Model size")
        # Long titles with estimates are elided rather than widening the settings column.
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(16)
        for preset in PRESETS:
            self.preset_combo.addItem(preset.title, preset.key)
        self.preset_combo.addItem(CUSTOM_TITLE, "custom")
        self.preset_explanation = QLabel()
        self.preset_explanation.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Model size summary")

        self.fields: dict[str, QAbstractSpinBox] = {}
        advanced_content = QWidget()
        grid = QGridLayout(advanced_content)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setColumnStretch(1, 1)
        for row, field in enumerate(FIELDS):
            spin = _make_spin(field)
            spin.setToolTip(field.explanation)
            spin.setAccessibleName(field.label)
            spin.valueChanged.connect(self._on_field_edited)
            self.fields[field.name] = spin
            explanation = QLabel(field.explanation)
            explanation.setWordWrap(True)
            explanation.setIndent(self.fontMetrics().horizontalAdvance("  "))
            grid.addWidget(QLabel(field.label), 2 * row, 0)
            grid.addWidget(spin, 2 * row, 1)
            grid.addWidget(explanation, 2 * row + 1, 0, 1, 2)
        self.advanced = CollapsibleSection("Advanced", advanced_content)
        mark_advanced(self.advanced)  # every number of the model's shape: presentation mode hides it

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.preset_combo)
        layout.addWidget(self.preset_explanation)
        layout.addWidget(self.summary)
        layout.addWidget(self.advanced)

        self.preset_combo.currentIndexChanged.connect(self._on_preset_chosen)
        stored = settings.read_str(settings.LAST_PRESET, DEFAULT_PRESET)
        index = self.preset_combo.findData(stored)
        self.preset_combo.setCurrentIndex(index if 0 <= index < len(PRESETS) else 0)
        self._on_preset_chosen(self.preset_combo.currentIndex())

    # --- reading the settings -------------------------------------------------------------------

    def model_config(self, vocab_size: int | None = None) -> ModelConfig:
        values = {f.name: self._value(f) for f in FIELDS if f.owner == "model"}
        return ModelConfig(vocab_size=vocab_size or self._vocab_size, **values)

    def train_config(self) -> TrainConfig:
        values = {f.name: self._value(f) for f in FIELDS if f.owner == "train"}
        config = replace_config(self._base_train, **values)
        # A preset's evaluation and sample intervals suit its own step count; when the user asks for
        # fewer steps than one interval, the curve would show no validation points and no samples.
        steps = config.total_steps
        if config.eval_every > steps:
            config = replace_config(config, eval_every=max(1, steps // 4))
        if config.sample_every > steps:
            config = replace_config(config, sample_every=max(1, steps // 4))
        return config

    def problem(self) -> str | None:
        """Why these settings cannot be used, in plain words; None when they can."""
        return self._problem

    def preset_key(self) -> str:
        return self.preset_combo.currentData()

    # --- setting them ---------------------------------------------------------------------------

    def set_configs(self, model: ModelConfig, train: TrainConfig) -> None:
        """Show these configs (an opened model's, or a test's); the preset follows if one matches."""
        self._base_train = train
        self._fill(model, train)
        self._select_matching_preset()
        self._refresh()

    def set_vocab_size(self, vocab_size: int) -> None:
        self._vocab_size = max(1, int(vocab_size))
        self._refresh()

    def set_flops_per_second(self, flops: float) -> None:
        self._flops_per_second = flops
        self._refresh()

    def set_editable(self, editable: bool) -> None:
        reason = None if editable else "Not while a run trains: the model's size is fixed once it starts. Press Stop to change it."
        set_available(self.preset_combo, reason)
        for spin in self.fields.values():
            set_available(spin, reason)

    # --- reacting ---------------------------------------------------------------------------

    def _on_preset_chosen(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        preset = next((p for p in PRESETS if p.key == key), None)
        if preset is None:  # "Custom": keep the fields as they are
            self._explain_preset()
            return
        settings.write(settings.LAST_PRESET, preset.key)
        self._base_train = preset.train
        self._fill(preset.model, preset.train)
        self._explain_preset()
        self._refresh()

    def _on_field_edited(self, *_args) -> None:
        if self._filling:
            return
        self._select_matching_preset()
        self._refresh()

    def _fill(self, model: ModelConfig, train: TrainConfig) -> None:
        self._filling = True
        try:
            for field in FIELDS:
                source = model if field.owner == "model" else train
                self.fields[field.name].setValue(getattr(source, field.name))
        finally:
            self._filling = False

    def _select_matching_preset(self) -> None:
        model, train = self.model_config(), self.train_config()
        key = "custom"
        for preset in PRESETS:
            same_model = replace_config(preset.model, vocab_size=model.vocab_size) == model
            # How long it trains, and its seed, do not change what size of model it is: "Tiny" with
            # 800 steps is still Tiny (it stays chosen, and the menu shows its time for 800 steps).
            same_train = all(getattr(preset.train, f.name) == getattr(train, f.name)
                             for f in FIELDS if f.owner == "train" and f.name not in NOT_PART_OF_SIZE)
            if same_model and same_train:
                key = preset.key
                break
        self.preset_combo.blockSignals(True)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(key))
        self.preset_combo.blockSignals(False)
        self._explain_preset()

    def _explain_preset(self) -> None:
        key = self.preset_combo.currentData()
        preset = next((p for p in PRESETS if p.key == key), None)
        if preset is None:
            self.preset_explanation.setText("Your own settings, from the Advanced section below.")
            return
        steps = self._value(_FIELD_BY_NAME["total_steps"])
        text = preset.explanation
        if steps != preset.train.total_steps:
            text += f" Trains for {steps:,} steps (usually {preset.train.total_steps:,})."
        self.preset_explanation.setText(text)

    def _refresh(self) -> None:
        """Re-check the settings and recompute the size, memory and time shown beside them."""
        model, train = self.model_config(), self.train_config()
        try:
            model.validate()
            train.validate()
            self._problem = None
        except ConfigError as err:
            self._problem = str(err)
        if self._problem is None:
            time_text = (
                MEASURING if self._flops_per_second is None
                else formatting.rough_duration(estimate_seconds(model, train, self._flops_per_second))
            )
            self.summary.setText(
                f"{formatting.big_count(param_count(model))} parameters (numbers the model learns)\n"
                f"Memory needed: {formatting.memory(estimate_memory_bytes(model, train))}\n"
                f"Training time on this computer: {time_text}"
            )
        else:
            self.summary.setText("These settings cannot work together (see the message above).")
        self._update_preset_titles()
        self.changed.emit()

    def _update_preset_titles(self) -> None:
        chosen = self.preset_combo.currentData()
        for index, preset in enumerate(PRESETS):
            model = replace_config(preset.model, vocab_size=self._vocab_size)
            # The chosen size with the steps it will train for now, so that its title says the same
            # time as the summary below it; the others with their own steps.
            train = self.train_config() if preset.key == chosen else preset.train
            if self._flops_per_second is None:
                estimate = MEASURING
            else:
                estimate = formatting.rough_duration(estimate_seconds(model, train, self._flops_per_second))
            self.preset_combo.setItemText(index, f"{preset.title} ({estimate})")

    def _value(self, field: _Field):
        value = self.fields[field.name].value()
        return round(value, field.decimals) if field.decimals else int(value)


def _make_spin(field: _Field) -> QAbstractSpinBox:
    if field.decimals:
        spin = QDoubleSpinBox()
        spin.setDecimals(field.decimals)
    else:
        spin = QSpinBox()
        spin.setGroupSeparatorShown(True)
    spin.setRange(field.range.lowest(field.decimals), field.range.highest(field.decimals))
    spin.setSingleStep(field.step)
    spin.setKeyboardTracking(True)  # sizes update as the user types, as promised
    return spin
