"""The models bundled with the app in ``assets/models/``: one per training stage of the default lesson.

A teacher with a weak laptop can start any stage, or any lesson, from them in no time instead of
training first. ``scripts/make_shipped_models.py`` makes them reproducibly (the default world, BPE
768, the ``small`` preset, each stage's default schedule) and stores them in float16 without
optimiser state; they open as ordinary float32 models (``engine.checkpoint``).

Sessions may refer to them by name ("pretrained", "instruction_tuned", "preference_tuned") instead
of holding their weights (``engine.session.archive``); ``SHIPPED_NAMES`` is the only place such a name is
looked up, so a name from a file never becomes a path.
"""

from __future__ import annotations

from pathlib import Path

from engine.checkpoint import checkpoint_paths, load_checkpoint
from engine.errors import CheckpointError
from engine.data.corpus import REPO_ROOT
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, STAGE_PRETRAINING, TrainedModel

SHIPPED_MODELS_DIR = REPO_ROOT / "assets" / "models"
# A whole lesson's session made from these models (scripts/make_example_session.py); it refers to them by name.
EXAMPLE_SESSION_PATH = REPO_ROOT / "assets" / "example_session.tesession"
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


# --- shipped models by name (sessions refer to them instead of holding their weights) ----------------
# A name in a file is only ever looked up in this table: it never becomes part of a path.
SHIPPED_NAMES = {stem: stage for stage, stem in SHIPPED_FILES.items()}  # "pretrained" → its stage


def shipped_stage_named(name: str) -> str:
    """The stage of the shipped model called ``name`` ("pretrained", …); an unknown name raises CheckpointError."""
    stage = SHIPPED_NAMES.get(name) if isinstance(name, str) else None
    if stage is None:
        shown = "".join(c if c.isprintable() else "?" for c in str(name)[:40])
        raise CheckpointError(f"'{shown}' is not one of the models that come with the app "
                              f"({', '.join(SHIPPED_NAMES)}).")
    return stage


def shipped_files_named(name: str, folder: Path | None = None) -> tuple[Path, Path]:
    """(weights, description) files of the shipped model called ``name``; unknown or missing: CheckpointError."""
    stage = shipped_stage_named(name)
    if stage not in shipped_stages(folder):
        raise CheckpointError(f"The {SHIPPED_TITLES[stage].lower()} ('{name}') is missing from this installation.",
                              "Reinstall Training Explorer to get the models that come with it.")
    return checkpoint_paths(shipped_model_path(stage, folder))


def load_shipped_named(name: str, folder: Path | None = None) -> TrainedModel:
    """Open the shipped model called ``name``; unknown or missing models raise CheckpointError in words."""
    return load_checkpoint(shipped_files_named(name, folder)[0])


def example_session_available() -> bool:
    """The example session and every shipped model it refers to are in this installation."""
    return EXAMPLE_SESSION_PATH.is_file() and len(shipped_stages()) == len(SHIPPED_FILES)
