"""The five stages in pipeline order: each one's key (used by ``--tab`` and in settings), tab title and one-line promise.

Kept apart from the main window so that modules the window imports (the session controller, the
app's command line) can name the stages without importing the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Stage:
    key: str  # used by --tab and in settings
    title: str
    promise: str  # one line: what the stage does (the tab's tooltip)


STAGES = (
    Stage("data", "Data", "Load and curate the text the model will learn from: what it covers, how clean and "
          "how recent it is, which answers it favours, and how it is cut into tokens."),
    Stage("pretraining", "Pretraining", "Train a small language model from scratch on a text and watch it learn."),
    Stage("instruction", "Instruction tuning", "Train the pretrained model further on questions and answers, "
          "so that it answers instead of just continuing text."),
    Stage("preference", "Preference tuning", "Nudge the model toward the answers people prefer, from pairs of a "
          "better and a worse answer."),
    Stage("evaluation", "Evaluation", "Measure what each model learned: its loss on unseen text and its answers "
          "to questions whose facts are known."),
)
DEFAULT_STAGE = "data"


def stage_index(key: str) -> int:
    """Position of a stage by key, case-insensitive (raises KeyError for an unknown stage)."""
    key = key.strip().lower()
    for index, stage in enumerate(STAGES):
        if stage.key == key:
            return index
    raise KeyError(key)


class StageTab(Protocol):
    """What the main window asks of every stage's tab (Mu's ``BaseMode`` is the model): it loops over
    them for a session's state, for "is a run going?", for "still working?" and for closing.

    A tab's state is one immutable class of ``engine.session.state`` (``DataStageState``,
    ``PretrainingState``, ``InstructionState``, ``PreferenceState``, ``EvaluationState``); ``apply_state``
    shows one, and the tab's widgets are its own business.
    """

    @property
    def running(self) -> str:
        """The run going now, in words ("pretraining", "benchmark"), or "" (a session waits for it to stop)."""

    @property
    def busy(self) -> bool:
        """Still working on a worker thread (reading, running, comparing)."""

    def stage_state(self):
        """What the tab shows now, as its stage's state."""

    def apply_state(self, state) -> None:
        """Show ``state`` (from a reopened session), replacing what the tab showed."""

    def change_signals(self) -> list:
        """The signals that say the user's work in the tab changed (the autosave then saves it)."""

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        """Stop any run and wait for every worker thread (the window is closing); True if all stopped in time."""
