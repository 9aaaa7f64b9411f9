"""Preference tuning with DPO: teaching an instruction-tuned model which of two answers is better.

    run = PreferenceTuningRun(sft_model, bundled_preferences(), preference=PreferenceConfig(beta=0.1))
    for event in run.events():   # Status, TrainProgress, ValidationLoss, PreferenceMetrics, ..., Finished
        ...
    run.trained                  # a TrainedModel with stage "preference"

Each pair is a prompt with a *chosen* and a *rejected* answer: a refusal over going along with a
harmful request, a helpful answer over a refusal for its harmless look-alike, a true fact over a
wrong one. Direct Preference Optimization (Rafailov et al. 2023) needs no reward model: it compares
how much the model being tuned (the *policy*) has raised each answer's log-probability relative to a
frozen *reference*, here the instruction-tuned model it starts from:

    margin = β · ((log π(chosen) − log π_ref(chosen)) − (log π(rejected) − log π_ref(rejected)))
    loss   = −log σ(margin)  +  nll_weight · (mean cross-entropy of the chosen answer's tokens)
                             +  anchor_weight · (mean KL(π_ref ‖ π) over the next tokens of pretraining text)

The second term (as in RPO, Pang et al. 2024) is instruction tuning on the chosen answers. A probe of
this project found DPO alone drove its loss near zero on tiny models without a single refusal being
generated: it pushed the rejected answers down instead of making the chosen ones likely
(``../shared/notes/lesson-feasibility.md``). The reference log-probabilities never change, so they
are computed once before training, which halves the work of every step.

The third term is an anchor that pays some of the *alignment tax*: every step on question-and-answer
pairs costs facts the model read in its pretraining text (measured: 43% of held-out facts right
before, 24% after 200 steps), and keeping the model's whole next-token distribution on windows of
that text where the reference had it (a KL, as the KL penalty of RLHF keeps a policy near its start;
InstructGPT's "PPO-ptx" mixed in pretraining gradients for the same reason) kept more of them and
refused more (measured from the shipped model, 200 steps at 1e-3: facts 32% instead of 3%, harmful
requests refused 63%, look-alikes 8%). Plain cross-entropy on the same text kept facts too but made
the model ramble on in the pretraining text's style (answers in the format fell to 76%). The text is
``anchor_text`` (default: the bundled world, what the shipped models read); the reference's
parameters ride along in the step (``reference_in_step``).

The run is the tuning run of ``engine.stages.tuning_run`` (full fine-tuning or LoRA) on the training loop
every stage shares (``engine.stages.loop``), whose guard hook is the collapse guard below. On held-out
pairs it reports the loss (``ValidationLoss``) and the mean reward margin and preference accuracy
(``PreferenceMetrics``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from engine.config import TrainConfig, check_ranges, replace
from engine.errors import ConfigError
from engine.events import AlignmentTax, Event, PreferenceMetrics, RunControl, ValidationLoss
from engine.stages.lora import METHOD_FULL, METHOD_LORA, LoraConfig
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, TrainedModel
from engine.data.tuning_data import (PreferencePair, check_enough_pairs, check_row_lengths, check_tokenizer, split_held_out,
                                tokenize_examples)
from engine.stages.tuning_run import TuningRun, map_rows, token_losses

BETA_EXPLANATION = ("Beta sets how strongly the model is held to the instruction-tuned model it starts from: "
                    "a small beta lets it move far to prefer the chosen answers, a large one keeps it close.")
ANCHOR_EXPLANATION = ("Keeps the model writing the pretraining text as it did before, so that what it read there "
                      "(the facts) is disturbed less while it learns the preferences. 0 turns this off.")
NLL_EXPLANATION = ("Also trains on the chosen answers directly, as instruction tuning does, so the model learns "
                   "to write them, not only to rank them above the rejected ones.")


@dataclass(frozen=True)
class PreferenceConfig:
    """DPO's own settings; the schedule is a ``TrainConfig``."""

    beta: float = 0.1  # how strongly the policy is tied to the reference (larger: smaller changes)
    nll_weight: float = 1.0  # weight of the chosen answers' cross-entropy next to the DPO loss (0: plain DPO)
    # Weight of the anchor: KL(reference ‖ model) over every next token of windows of pretraining text
    # (0: none). See the module docstring; 4 measured best (benchmarks/README.md, 2026-12-07).
    anchor_weight: float = 4.0

    def validate(self) -> None:
        check_ranges("preference", self)


# The collapse guard (``_collapse_message``): at each held-out check the run answers up to
# GUARD_PROMPTS held-back prompts greedily; fewer than COLLAPSE_SHARE as many readable answers as the
# starting model gave ends the run. Measured from the shipped instruction-tuned model on the bundled
# pairs at the default schedule: after 10 steps 12% of the guard's prompts were answered readably
# (97% at the start) and 18% of the held-out benchmark facts were in the format, a wreck that the
# teacher-forced losses barely showed (+0.6 nats per token); 50 to 200 steps stayed at 53-66% (their
# benchmark format rates 92-93%), so they run to the end.
GUARD_PROMPTS = 32
GUARD_TOKENS = 64  # enough for every bundled answer and its end (the longest chosen one is 42 tokens)
COLLAPSE_SHARE = 0.5

# Measured from the shipped instruction-tuned model on the bundled 488 pairs (benchmarks/README.md,
# 2026-12-07): every extra step on question-and-answer pairs costs held-out facts (instruction tuning
# alone, run on from 100 to 400 steps at 1e-4, fell from 43% to 31% exactly right). Without the
# anchor, 200 steps at 1e-3 refused 78% of harmful requests and kept 3% of the facts right; at 1e-4,
# 60% and 18%. With the anchor at weight 4, 1e-3 refused 63% and kept 32%. Beta from 0.1 to 1.0
# changed little.
DEFAULT_TRAIN = TrainConfig(
    batch_size=16, learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=20, total_steps=200,
    weight_decay=0.0, log_every=10, eval_every=50, eval_batches=1, sample_every=50, sample_tokens=48,
    val_fraction=0.1,
)
# LoRA (not measured in the benchmark): ten times the rate, as adapters start from zero.
DEFAULT_LORA_TRAIN = replace(DEFAULT_TRAIN, learning_rate=1e-3, min_learning_rate=1e-4)


def default_train(method: str = METHOD_FULL) -> TrainConfig:
    """The recommended schedule for a method ("full" or "lora")."""
    return DEFAULT_LORA_TRAIN if method == METHOD_LORA else DEFAULT_TRAIN


def sequence_logprobs(params, cfg, inputs, targets, weights):
    """log π(answer | prompt) of each row: the summed log-probabilities of its answer tokens. (B,)"""
    import jax.numpy as jnp

    return -jnp.sum(token_losses(params, cfg, inputs, targets) * weights, axis=1)  # (B,)


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float):
    """(mean DPO loss, per-pair reward margins (B,)) from the four sequence log-probabilities (B,) each."""
    import jax

    margins = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))  # (B,)
    return -jax.numpy.mean(jax.nn.log_sigmoid(margins)), margins


def anchor_kl(params, reference, cfg, inputs):
    """Mean KL(reference ‖ model) of the next-token distributions at every position of ``inputs`` (B, L)."""
    import jax
    import jax.numpy as jnp

    from engine.model import forward

    log_p = jax.nn.log_softmax(forward(params, inputs, cfg))  # (B, L, V)
    log_ref = jax.lax.stop_gradient(jax.nn.log_softmax(forward(reference, inputs, cfg)))  # (B, L, V)
    return jnp.mean(jnp.sum(jnp.exp(log_ref) * (log_ref - log_p), axis=-1))


class PreferenceTuningRun(TuningRun):
    """One DPO run from ``model`` (instruction-tuned), which is also the frozen reference.

    ``resume`` continues a stopped full fine-tuning run: its tuned model, with the same ``model`` (the
    reference) and pairs.
    """

    stage = STAGE_PREFERENCE
    sequences_per_example = 2  # the chosen and the rejected answer

    def __init__(self, model: TrainedModel, pairs: Sequence[PreferencePair], train: TrainConfig | None = None,
                 preference: PreferenceConfig = PreferenceConfig(), method: str = METHOD_FULL,
                 lora: LoraConfig = LoraConfig(), control: RunControl | None = None,
                 data_name: str = "preference pairs", resume: TrainedModel | None = None,
                 measure_tax: bool = False, anchor_text: str | None = None):
        super().__init__(model, train or default_train(method), method, lora, control, resume)
        self.pairs = list(pairs)
        # At each held-out check, also ask the model the bundled red team and held-out facts and
        # report an ``AlignmentTax`` (a few seconds each; only for a model that can write them).
        self.measure_tax = measure_tax
        self.anchor_text = anchor_text
        self.preference = preference
        self.data_name = data_name
        self.truncated = 0
        self._val_fn = None
        self._readable: dict[int, float] = {}  # step -> share of held-back prompts answered readably
        self._guard_prompts: list[str] = []
        self._tax_rows: tuple[list[dict], list[dict]] | None = None  # (red team, benchmark), read once

    @property
    def reference_in_step(self) -> bool:
        return self.preference.anchor_weight > 0

    @property
    def divergence_limit(self) -> float:
        # The DPO part is ln 2 at the start and small once learned; a pair ranked the wrong way round
        # costs about |margin|, a few units. Far above both, the numbers have blown up.
        return (1.0 + self.preference.nll_weight) * super().divergence_limit + 10.0

    def _prepare(self) -> tuple[dict, dict]:
        self.preference.validate()
        if self.base.stage not in (STAGE_INSTRUCTION, STAGE_PREFERENCE):
            raise ConfigError(
                "Preference tuning starts from an instruction-tuned model: it ranks answers the model already "
                "gives in the answer format, and that model is also the reference it is compared with.",
                "Run instruction tuning first, then tune preferences on its model.")
        pairs = self.pairs
        check_enough_pairs(len(pairs), "Preference tuning")
        check_row_lengths(pairs)  # before anything is tokenized: a huge pasted row costs gigabytes
        check_tokenizer(self.tokenizer, (t for p in pairs for t in (p.prompt, p.chosen, p.rejected)))
        self._set_data_fingerprint(t for p in pairs for t in (p.prompt, p.chosen, p.rejected))
        train_pairs, val_pairs = split_held_out(pairs, self.train_config.val_fraction, self.train_config.seed)
        ordered = train_pairs + val_pairs
        prompts = [p.prompt for p in ordered]
        # Chosen and rejected in one call, so all four arrays share one length.
        tokenized = tokenize_examples(self.tokenizer, prompts + prompts, [p.chosen for p in ordered]
                                      + [p.rejected for p in ordered], self.model_config.context_length)
        self.truncated = tokenized.truncated
        self._guard_prompts = [p.prompt for p in val_pairs][:GUARD_PROMPTS]
        # Show a held-out harmful request if there is one: its sample turns into a refusal.
        self.sample_prompt = next((p.prompt for p in val_pairs if p.meta.get("harmful") is True), val_pairs[0].prompt)
        n = len(ordered)
        arrays = {}
        for side, offset in (("chosen", 0), ("rejected", n)):
            arrays[f"{side}_inputs"] = tokenized.inputs[offset:offset + n]  # (N, L)
            arrays[f"{side}_targets"] = tokenized.targets[offset:offset + n]  # (N, L)
            arrays[f"{side}_weights"] = tokenized.weights[offset:offset + n]  # (N, L)
        arrays["ref_chosen"], arrays["ref_rejected"] = self._reference_logprobs(arrays)  # (N,) each
        if self.reference_in_step:
            arrays["anchor_inputs"] = self._anchor_windows(n)  # (N, L)
        k = len(train_pairs)
        return {a: v[:k] for a, v in arrays.items()}, {a: v[k:] for a, v in arrays.items()}

    def _anchor_windows(self, n: int):
        """``n`` windows of the anchor text (n, L), one beside each pair (a batch takes its pairs'
        windows), from random places drawn with the run's seed."""
        import numpy as np

        text = self.anchor_text
        if text is None:
            from engine.data.corpus import load_bundled

            text = load_bundled("fictional_world").text
        ids = np.asarray(self.tokenizer.encode(text), np.int32)
        width = self.model_config.context_length
        if len(ids) < width + 1:
            raise ConfigError("The text that keeps the model close to its pretraining is too short.",
                              "Set “Keep the pretraining text” to 0.")
        starts = np.random.default_rng(self.train_config.seed).integers(0, len(ids) - width, n)
        return np.stack([ids[s:s + width] for s in starts])  # (n, L)

    def _reference_logprobs(self, arrays: dict):
        """log π_ref of every chosen and rejected answer, from the starting model: computed once."""
        import jax
        import numpy as np

        cfg = self.model_config

        def per_row(params, rows):
            return tuple(sequence_logprobs(params, cfg, rows[f"{side}_inputs"], rows[f"{side}_targets"],
                                           rows[f"{side}_weights"]) for side in ("chosen", "rejected"))

        ref = jax.jit(lambda params, data: map_rows(per_row, params, data, self.train_config.batch_size))
        chosen, rejected = jax.device_get(ref(self.base.params, jax.tree.map(jax.numpy.asarray, arrays)))
        return np.asarray(chosen, np.float32), np.asarray(rejected, np.float32)

    def _parts(self, params, batch: dict):
        """(policy log-probs of chosen and rejected (B,), summed chosen cross-entropy (B,), chosen tokens (B,))."""
        import jax.numpy as jnp

        inputs = jnp.concatenate([batch["chosen_inputs"], batch["rejected_inputs"]])  # (2B, L)
        targets = jnp.concatenate([batch["chosen_targets"], batch["rejected_targets"]])  # (2B, L)
        weights = jnp.concatenate([batch["chosen_weights"], batch["rejected_weights"]])  # (2B, L)
        losses = token_losses(params, self.model_config, inputs, targets) * weights  # (2B, L), one forward
        b = batch["chosen_inputs"].shape[0]
        summed = jnp.sum(losses, axis=1)  # (2B,)
        return -summed[:b], -summed[b:], summed[:b], jnp.sum(batch["chosen_weights"], axis=1)

    def _batch_loss(self, params, batch: dict, reference=None):
        import jax.numpy as jnp

        chosen, rejected, nll, count = self._parts(params, batch)
        loss, _ = dpo_loss(chosen, rejected, batch["ref_chosen"], batch["ref_rejected"], self.preference.beta)
        # The chosen answers' mean cross-entropy per token, as instruction tuning's loss is.
        loss = loss + self.preference.nll_weight * jnp.sum(nll) / jnp.maximum(jnp.sum(count), 1.0)
        if reference is not None and "anchor_inputs" in batch:
            loss = loss + self.preference.anchor_weight * anchor_kl(params, reference, self.model_config,
                                                                    batch["anchor_inputs"])
        return loss

    def _evaluate(self, step: int, params, val: dict) -> list[Event]:
        if self._val_fn is None:
            import jax
            import jax.numpy as jnp

            def val_metrics(params, val):
                chosen, rejected, nll, count = map_rows(lambda p, rows: self._parts(p, rows), params, val,
                                                        self.train_config.batch_size)
                loss, margins = dpo_loss(chosen, rejected, val["ref_chosen"], val["ref_rejected"],
                                         self.preference.beta)
                loss = loss + self.preference.nll_weight * jnp.sum(nll) / jnp.maximum(jnp.sum(count), 1.0)
                return loss, jnp.mean(margins), jnp.mean(margins > 0)

            self._val_fn = jax.jit(val_metrics)
        loss, margin, accuracy = (float(x) for x in self._val_fn(params, val))
        if step == 0 or 0 in self._readable:  # a resumed run has no starting figure to compare with
            self._readable[step] = self._readable_share(params)
        events: list[Event] = [ValidationLoss(step, loss), PreferenceMetrics(step, margin, accuracy)]
        if self.measure_tax:
            events += self._alignment_tax(step, params)
        return events

    def _alignment_tax(self, step: int, params) -> list[Event]:
        """``[AlignmentTax]`` on the bundled red team and held-out facts, or ``[]`` if the model's
        tokenizer cannot write them (a model trained on other text)."""
        import dataclasses

        from engine.behaviour import benchmark_rates, red_team_rates
        from engine.errors import TokenizerMismatch
        from engine.data.tuning_data import load_benchmark, load_red_team

        if self._tax_rows is None:
            red_team, facts = load_red_team(), load_benchmark()
            try:
                check_tokenizer(self.tokenizer, [r["prompt"] for r in red_team] + [r["question"] for r in facts])
            except TokenizerMismatch:
                red_team, facts = [], []
            self._tax_rows = (red_team, facts)
        red_team, facts = self._tax_rows
        if not red_team:
            return []
        model = dataclasses.replace(self.base, params=params)
        red, held_out = red_team_rates(model, red_team), benchmark_rates(model, facts, "held_out")
        return [AlignmentTax(step, red["refusal_rate"], red["over_refusal_rate"], held_out["exact_rate"])]

    def _readable_share(self, params) -> float:
        """Share of the held-back prompts the model answers readably: in the response format, in
        words (no "tttt."). Greedy answers, as the before/after table shows them; about a second."""
        from engine.behaviour import greedy_answers, judge, looks_like_words

        texts = greedy_answers(params, self.model_config, self.tokenizer, self._guard_prompts, GUARD_TOKENS)
        verdicts = [judge(t) for t in texts]
        return sum(v.in_format and looks_like_words(v.answer) for v in verdicts) / max(len(verdicts), 1)

    def _collapse_message(self, step: int) -> str | None:
        """Collapsed: the share of held-back prompts answered readably fell below COLLAPSE_SHARE of
        what the starting model managed. DPO can raise its margins by pushing every answer down and
        the rejected ones faster; the model then writes letter salad ("tttt.") while its loss and
        margins look fine, so the guard reads the answers themselves."""
        start, now = self._readable.get(0), self._readable.get(step)
        if start is None or now is None or step == 0 or now >= COLLAPSE_SHARE * start:
            return None
        return (f"Preference tuning stopped at step {step}: the model was forgetting how to answer (it answered "
                f"{now:.0%} of held-back questions readably, against {start:.0%} at the start). The model from "
                f"before that has been kept. Try a lower learning rate or fewer steps.")

    def _details(self) -> dict:
        details = super()._details()
        details.update(pairs=len(self.pairs), beta=self.preference.beta, nll_weight=self.preference.nll_weight,
                       anchor_weight=self.preference.anchor_weight, truncated=self.truncated)
        return details
