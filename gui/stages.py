"""The five stages in pipeline order: each one's key (used by ``--tab`` and in settings), tab title and one-line promise.

Kept apart from the main window so that modules the window imports (the session controller, the
app's command line) can name the stages without importing the window.
"""

from __future__ import annotations

from dataclasses import dataclass


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
