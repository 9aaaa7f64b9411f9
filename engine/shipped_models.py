"""The models bundled with the app in ``assets/models/``: one per training stage of the default lesson.

A teacher with a weak laptop can start any stage, or any lesson, from them in no time instead of
training first. ``scripts/make_shipped_models.py`` makes them reproducibly (the default world, BPE
768, the ``small`` preset, each stage's default schedule) and stores them in float16 without
optimiser state; they open as ordinary float32 models (``engine.checkpoint``).
"""

from __future__ import annotations

from pathlib import Path

from engine.checkpoint import checkpoint_paths, load_checkpoint
from engine.corpus import REPO_ROOT
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, STAGE_PRETRAINING, TrainedModel

SHIPPED_MODELS_DIR = REPO_ROOT / "assets" / "models"
# Stage → file stem in SHIPPED_MODELS_DIR (a .safetensors file and its .json sidecar each).
SHIPPED_FILES = {
    STAGE_PRETRAINING: "pretrained",
    STAGE_INSTRUCTION: "instruction_tuned",
    STAGE_PREFERENCE: "preference_tuned",
}
# How each is named to a user, e.g. in a "Start from…" menu.
SHIPPED_TITLES = {
    STAGE_PRETRAINING: "Shipped pretrained model",
    STAGE_INSTRUCTION: "Shipped instruction-tuned model",
    STAGE_PREFERENCE: "Shipped preference-tuned model",
}


def shipped_model_path(stage: str, folder: Path | None = None) -> Path:
    """The weights file of the shipped model of ``stage`` (which may be missing in a trimmed install)."""
    return checkpoint_paths((folder or SHIPPED_MODELS_DIR) / SHIPPED_FILES[stage])[0]


def shipped_stages(folder: Path | None = None) -> list[str]:
    """The stages whose shipped model is present, in pipeline order."""
    return [stage for stage in SHIPPED_FILES
            if all(p.is_file() for p in checkpoint_paths(shipped_model_path(stage, folder)))]


def load_shipped(stage: str, folder: Path | None = None) -> TrainedModel:
    """Open the shipped model of ``stage``; a missing or damaged file raises CheckpointError in words."""
    return load_checkpoint(shipped_model_path(stage, folder))
