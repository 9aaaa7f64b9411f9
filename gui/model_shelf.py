"""The models the Evaluation stage can test: the session's own, plus any opened from files.

Every stage tab hands its newest model to the shelf (the main window wires the signals), under a
plain name such as "Pretrained (this session)". A model opened from a file is shelved under its
file name. A newer model from the same stage replaces the older one, so the shelf holds at most one
model per stage of this session, plus the opened ones. Views subscribe to ``changed``; the shelf
itself knows nothing of widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, STAGE_PRETRAINING, TrainedModel

# The name each stage's own model goes by on the shelf, in the pipeline's order.
SESSION_NAMES = {
    STAGE_PRETRAINING: "Pretrained (this session)",
    STAGE_INSTRUCTION: "Instruction-tuned (this session)",
    STAGE_PREFERENCE: "Preference-tuned (this session)",
}


@dataclass(frozen=True)
class ShelvedModel:
    """One model under test."""

    name: str  # unique on the shelf; shown in every table and legend
    model: TrainedModel
    origin: str  # "session" for a model made in this window, else the file it was opened from


class ModelShelf(QObject):
    """An ordered set of named models. ``changed`` fires after every addition or removal."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._entries: list[ShelvedModel] = []

    def entries(self) -> list[ShelvedModel]:
        """Session models first in stage order, then opened ones in the order they came."""
        order = list(SESSION_NAMES.values())
        session = sorted((e for e in self._entries if e.origin == "session"), key=lambda e: order.index(e.name))
        return session + [e for e in self._entries if e.origin != "session"]

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def get(self, name: str) -> TrainedModel | None:
        return next((e.model for e in self._entries if e.name == name), None)

    def put_session_model(self, model: TrainedModel | None, stage: str | None = None) -> None:
        """The newest model of a stage of this session (``None`` removes that stage's model)."""
        stage = stage or (model.stage if model is not None else None)
        if stage not in SESSION_NAMES:
            return
        name = SESSION_NAMES[stage]
        self._entries = [e for e in self._entries if e.name != name]
        if model is not None:
            self._entries.append(ShelvedModel(name, model, "session"))
        self.changed.emit()

    def put_opened_model(self, model: TrainedModel, path: str, label: str) -> str:
        """Shelve a model opened from ``path`` under ``label`` (made unique); returns the name used."""
        taken = {e.name for e in self._entries}
        name, n = label, 2
        while name in taken:
            name, n = f"{label} ({n})", n + 1
        self._entries.append(ShelvedModel(name, model, path))
        self.changed.emit()
        return name

    def remove(self, name: str) -> None:
        before = len(self._entries)
        self._entries = [e for e in self._entries if e.name != name]
        if len(self._entries) != before:
            self.changed.emit()
