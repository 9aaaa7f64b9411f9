"""Spin boxes bound to a stage's state by field name: a setting is declared once (Orange's ``Setting()``
plus ``gui.spin(self, "name")`` is the model).

A ``SpinSetting`` names the state field it shows ("beta"), its label, and where the engine keeps its
range (``engine.config.RANGES``): the spin box offers nothing the engine would refuse, up to an
optional classroom cap. A tab makes its spin boxes with ``Bindings.spin``; ``values()`` reads them all
for its state (and its run), ``apply(state)`` shows a state's values (a field that is None, as in an
older session, leaves its spin box as it is). Nothing else reads, writes or clamps them.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QSpinBox

from engine.config import RANGES, Range


@dataclass(frozen=True)
class SpinSetting:
    field: str  # the state field it shows ("beta", "steps")
    label: str  # the form's label
    section: str  # where its range is: RANGES[section][range_name or field]
    range_name: str = ""  # the range's name when it differs from the field's ("total_steps" for "steps")
    accessible_name: str = ""  # for screen readers, when the label is not enough ("β (beta)" → "Beta")
    step: float = 1
    decimals: int = 0  # 0: a whole-number spin box
    cap: float | None = None  # the largest value offered, inside the engine's range (a sensible classroom top)

    @property
    def range(self) -> Range:
        return RANGES[self.section][self.range_name or self.field]

    def limits(self) -> tuple[float, float]:
        high = self.range.highest(self.decimals)
        return self.range.lowest(self.decimals), high if self.cap is None else min(high, self.cap)


class Bindings:
    """One tab's bound spin boxes, by field name."""

    def __init__(self):
        self.spins: dict[str, QAbstractSpinBox] = {}
        self.settings: dict[str, SpinSetting] = {}

    def spin(self, setting: SpinSetting, default) -> QAbstractSpinBox:
        """A spin box for ``setting``, limited to its range, showing ``default``."""
        if setting.decimals:
            spin = QDoubleSpinBox()
            spin.setDecimals(setting.decimals)
        else:
            spin = QSpinBox()
        low, high = setting.limits()
        spin.setRange(low, high)
        spin.setSingleStep(setting.step)
        spin.setValue(default)
        spin.setAccessibleName(setting.accessible_name or setting.label)
        self.spins[setting.field] = spin
        self.settings[setting.field] = setting
        return spin

    def values(self) -> dict:
        """Every bound field's value now ({"beta": 0.1, …})."""
        return {name: spin.value() for name, spin in self.spins.items()}

    def apply(self, state) -> None:
        """Show ``state``'s bound fields (an object or a dict); a missing or None field changes nothing."""
        for name, spin in self.spins.items():
            value = state.get(name) if isinstance(state, dict) else getattr(state, name, None)
            if value is not None:
                spin.setValue(value)
