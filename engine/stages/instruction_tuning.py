"""Instruction tuning (supervised fine-tuning, SFT): teaching a pretrained model to answer questions.

    run = InstructionTuningRun(base_model, bundled_instructions())            # full fine-tuning
    run = InstructionTuningRun(base_model, examples, method="lora")           # or LoRA adapters
    for event in run.events():   # Status, TrainProgress, ValidationLoss, Sample, ..., Finished
        ...
    run.trained                  # a TrainedModel with stage "instruction"

A pretrained model continues text: asked a question, it tends to write more questions, because
that is what follows a question in forum text. Instruction tuning shows it a few hundred
"User: question / Assistant: answer" examples and grades it only on the answer's tokens (the
*response-only loss*, ``engine.data.tuning_data.tokenize_examples``), so it learns the format of an
answer. The facts themselves it already read during pretraining: the benchmark's held-out questions
are about countries no tuning example mentions, and a tuned model can still answer them.

The run is the tuning run of ``engine.stages.tuning_run`` (full fine-tuning or LoRA) on the training loop
every stage shares (``engine.stages.loop``: pause/stop, progress with ETA, divergence handling),
with this stage's data and loss: ``engine.model.loss_fn``
with the response-only weights. ``ValidationLoss`` is that loss on held-out pairs, and ``Sample``
shows the greedy answer to one held-out question as training goes.
"""

from __future__ import annotations

from typing import Sequence

from engine.config import TrainConfig, replace
from engine.events import Event, RunControl, ValidationLoss
from engine.stages.lora import METHOD_FULL, METHOD_LORA, LoraConfig
from engine.trained_model import STAGE_INSTRUCTION, TrainedModel
from engine.data.tuning_data import (InstructionExample, check_enough_pairs, check_row_lengths, check_tokenizer,
                                split_held_out, tokenize_examples)
from engine.stages.tuning_run import TuningRun, map_rows, token_losses

RESPONSE_ONLY_EXPLANATION = ("The model is graded only on the answer's tokens, never on the question's, "
                             "so it learns to answer questions rather than to ask more of them.")

# Measured with benchmarks/pipeline.py (small preset, BPE 768, the bundled 456 pairs, 1200 pretraining
# steps). The format is learned within ~50 steps; what varies is how much knowledge from pretraining
# carries over to held-out questions. The more the model trains on the tuning pairs, the more it
# answers new questions with memorised training answers: held-out exactly right was 50% at a
# learning rate of 1e-4 for 100 steps, 46% at 5e-5 for 150, 40% at 3e-4 for 150-300, and 22% at
# 1e-3 for 50 (the training loss then falls to 0.01: memorised).
DEFAULT_TRAIN = TrainConfig(
    batch_size=16, learning_rate=1e-4, min_learning_rate=1e-5, warmup_steps=10, total_steps=100,
    weight_decay=0.0, log_every=10, eval_every=25, eval_batches=1, sample_every=25, sample_tokens=48,
    val_fraction=0.1,
)
# LoRA trains fewer numbers from a zero start, so it takes larger steps. It carried less knowledge
# over here (5e-3 for 200 steps: 26-39% held-out right; 1e-3 to 2e-3: 26-28%).
DEFAULT_LORA_TRAIN = replace(DEFAULT_TRAIN, learning_rate=5e-3, min_learning_rate=5e-4, total_steps=200)


def default_train(method: str = METHOD_FULL) -> TrainConfig:
    """The recommended schedule for a method ("full" or "lora")."""
    return DEFAULT_LORA_TRAIN if method == METHOD_LORA else DEFAULT_TRAIN


class InstructionTuningRun(TuningRun):
    """One instruction-tuning run from ``base`` (normally a pretrained model) on prompt/completion pairs.

    A fixed share (``train.val_fraction``, at least 2) of the pairs is held out and never trained on.
    ``truncated`` tells, after preparation, how many examples were longer than the context and cut.
    ``resume`` continues a stopped full fine-tuning run: its tuned model, with the same base and examples.
    """

    stage = STAGE_INSTRUCTION

    def __init__(self, base: TrainedModel, examples: Sequence[InstructionExample], train: TrainConfig | None = None,
                 method: str = METHOD_FULL, lora: LoraConfig = LoraConfig(), control: RunControl | None = None,
                 data_name: str = "instruction pairs", resume: TrainedModel | None = None):
        super().__init__(base, train or default_train(method), method, lora, control, resume)
        self.examples = list(examples)
        self.data_name = data_name
        self.truncated = 0
        self._val_fn = None

    def _prepare(self) -> tuple[dict, dict]:
        examples = self.examples
        check_enough_pairs(len(examples), "Instruction tuning")
        check_row_lengths(examples)  # before anything is tokenized: a huge pasted row costs gigabytes
        check_tokenizer(self.tokenizer, (text for e in examples for text in (e.prompt, e.completion)))
        self._set_data_fingerprint(t for e in examples for t in (e.prompt, e.completion))
        train_ex, val_ex = split_held_out(examples, self.train_config.val_fraction, self.train_config.seed)
        # One length for both parts, so the held-out arrays fit the same compiled programs.
        tokenized = tokenize_examples(self.tokenizer, [e.prompt for e in train_ex + val_ex],
                                      [e.completion for e in train_ex + val_ex], self.model_config.context_length)
        self.truncated = tokenized.truncated
        self.sample_prompt = val_ex[0].prompt
        arrays = {"inputs": tokenized.inputs, "targets": tokenized.targets, "weights": tokenized.weights}
        n = len(train_ex)
        return {k: v[:n] for k, v in arrays.items()}, {k: v[n:] for k, v in arrays.items()}

    def _batch_loss(self, params, batch: dict, reference=None):
        from engine.model import loss_fn

        # Mean cross-entropy over the answer tokens only: the weights are 0 on the prompt and padding.
        return loss_fn(params, batch["inputs"], batch["targets"], self.model_config, batch["weights"])

    def _evaluate(self, step: int, params, val: dict) -> list[Event]:
        if self._val_fn is None:
            import jax
            import jax.numpy as jnp

            cfg, chunk = self.model_config, self.train_config.batch_size

            def per_row(params, rows):  # each row's summed answer loss and its answer-token count (B,)
                w = rows["weights"]  # (B, L)
                losses = token_losses(params, cfg, rows["inputs"], rows["targets"])  # (B, L)
                return jnp.sum(losses * w, axis=1), jnp.sum(w, axis=1)

            def val_loss(params, val):
                total, count = map_rows(per_row, params, val, chunk)
                return jnp.sum(total) / jnp.maximum(jnp.sum(count), 1.0)  # mean over every answer token

            self._val_fn = jax.jit(val_loss)
        return [ValidationLoss(step, float(self._val_fn(params, val)))]

    def _details(self) -> dict:
        details = super()._details()
        details.update(pairs=len(self.examples), truncated=self.truncated)
        return details
