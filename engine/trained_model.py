"""What a stage hands on to the next: the parameters, the optimiser state and how they came to be.

``TrainedModel`` is what a checkpoint file holds and what every stage starts from. Its ``params``
are a plain pytree (JAX or numpy arrays). Nothing here imports JAX.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.config import ModelConfig, TrainConfig
from engine.tokenizer import Tokenizer

# The stages that produce a model, in the order they run (``TrainedModel.stage``).
STAGE_PRETRAINING, STAGE_INSTRUCTION, STAGE_PREFERENCE = "pretraining", "instruction", "preference"
STAGES = (STAGE_PRETRAINING, STAGE_INSTRUCTION, STAGE_PREFERENCE)


@dataclass
class LossHistory:
    """Every loss a run has measured, so a reopened model shows its whole curve."""

    train_steps: list[int] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)

    def copy(self) -> "LossHistory":
        return LossHistory(list(self.train_steps), list(self.train_losses), list(self.val_steps), list(self.val_losses))

    def truncated(self, step: int) -> "LossHistory":
        """The history up to and including ``step``."""
        keep = [i for i, s in enumerate(self.train_steps) if s <= step]
        keep_val = [i for i, s in enumerate(self.val_steps) if s <= step]
        return LossHistory(
            [self.train_steps[i] for i in keep], [self.train_losses[i] for i in keep],
            [self.val_steps[i] for i in keep_val], [self.val_losses[i] for i in keep_val],
        )

    def to_json(self) -> dict:
        return {"train_steps": self.train_steps, "train_losses": self.train_losses,
                "val_steps": self.val_steps, "val_losses": self.val_losses}

    @classmethod
    def from_json(cls, data: dict) -> "LossHistory":
        def ints(key):
            return [int(x) for x in data.get(key, [])]

        def floats(key):
            return [float(x) for x in data.get(key, [])]

        history = cls(ints("train_steps"), floats("train_losses"), ints("val_steps"), floats("val_losses"))
        if len(history.train_steps) != len(history.train_losses) or len(history.val_steps) != len(history.val_losses):
            raise ValueError("loss history lists differ in length")
        return history


@dataclass
class TrainedModel:
    """A model plus everything needed to use it, continue training it, or explain where it came from."""

    params: dict  # the parameter pytree (see engine.model.init_params)
    opt_state: object  # optax state matching engine.train.make_optimizer(train_config); None if unknown
    model_config: ModelConfig
    train_config: TrainConfig
    tokenizer: Tokenizer
    step: int  # optimiser steps taken
    history: LossHistory
    corpus_name: str = ""  # what it was trained on, in words
    corpus_fingerprint: str = ""  # sha256 of that text
    stage: str = "pretraining"  # which stage produced it
    # How that stage ran, as JSON-able scalars: e.g. {"method": "lora", "lora_rank": 8, "beta": 0.1,
    # "base_stage": "pretraining"}. Empty for pretraining. Saved in the checkpoint's sidecar.
    details: dict = field(default_factory=dict)
    # Pretraining's time-lapse (``engine.stages.time_lapse.Snapshot``s, oldest first): what the model wrote and
    # guessed at points of its run. Empty for models saved before it existed. Saved in the sidecar.
    time_lapse: tuple = ()
