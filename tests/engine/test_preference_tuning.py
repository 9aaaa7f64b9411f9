"""Preference tuning (DPO): the loss is the formula, it starts at ln 2, and a few steps learn the preference."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engine.errors import ConfigError
from engine.events import Finished, PreferenceMetrics, TrainProgress, ValidationLoss
from engine.model import forward, loss_fn
from engine.stages.preference_tuning import PreferenceConfig, PreferenceTuningRun, dpo_loss, sequence_logprobs
from engine.data.tuning_data import END_OF_ANSWER, split_held_out, tokenize_examples
from tests.engine.tuning_fixtures import preferences, tiny_base, tiny_schedule


def _log_sigmoid(x: float) -> float:
    return -math.log(1.0 + math.exp(-x))


def test_dpo_loss_is_minus_log_sigmoid_of_beta_times_the_log_ratio_difference():
    pc, pr = np.array([-3.0, -10.0, -2.5]), np.array([-4.0, -6.0, -2.5])  # policy log π(chosen), log π(rejected)
    rc, rr = np.array([-3.5, -9.0, -1.0]), np.array([-3.0, -7.0, -4.0])  # reference
    beta = 0.5
    # By hand, β·((πc − rc) − (πr − rr)) per pair:
    # 0.5·((0.5) − (−1)) = 0.75;  0.5·((−1) − (1)) = −1;  0.5·((−1.5) − (1.5)) = −1.5
    hand_margins = [0.75, -1.0, -1.5]
    hand_loss = -sum(_log_sigmoid(m) for m in hand_margins) / 3
    loss, margins = dpo_loss(jnp.asarray(pc), jnp.asarray(pr), jnp.asarray(rc), jnp.asarray(rr), beta)
    np.testing.assert_allclose(np.asarray(margins), hand_margins, rtol=1e-6)
    assert float(loss) == pytest.approx(hand_loss, rel=1e-6)
    # Policy equal to the reference: every margin is 0 and the loss is ln 2.
    same, zero = dpo_loss(jnp.asarray(pc), jnp.asarray(pr), jnp.asarray(pc), jnp.asarray(pr), beta)
    assert float(same) == pytest.approx(math.log(2), rel=1e-6) and not np.asarray(zero).any()


def test_sequence_log_probability_sums_the_answer_tokens_only():
    base = tiny_base(seed=2)
    cfg, tokenizer = base.model_config, base.tokenizer
    t = tokenize_examples(tokenizer, ["Q: sky?\nA:", "Q: ink?\nA:"], [" blue.", " no."], cfg.context_length)
    # Jitted: one compile instead of one per operation (seconds on 2 cores).
    got = np.asarray(jax.jit(sequence_logprobs, static_argnums=1)(base.params, cfg, t.inputs, t.targets, t.weights))
    logits = np.asarray(jax.jit(forward, static_argnums=2)(base.params, t.inputs, cfg), np.float64)  # (B, L, V)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    for row in range(2):
        positions = np.flatnonzero(t.weights[row])
        assert len(positions) == len(tokenizer.encode([" blue.", " no."][row] + END_OF_ANSWER))
        expected = sum(log_probs[row, p, t.targets[row, p]] for p in positions)
        assert got[row] == pytest.approx(expected, rel=1e-5)


def _sft_model(seed: int = 0):
    return dataclasses.replace(tiny_base(seed), stage="instruction")


def test_dpo_starts_at_ln2_plus_the_nll_term_and_learns_to_prefer_the_chosen_answers():
    model = _sft_model()
    train = tiny_schedule(learning_rate=3e-3, total_steps=40)
    # Without the anchor (tested on its own below), so the losses are DPO's and the NLL term's only.
    run = PreferenceTuningRun(model, preferences(), train, PreferenceConfig(beta=0.5, nll_weight=2.0, anchor_weight=0.0))
    events = list(run.events())
    assert events[-1] == Finished(40, "completed")
    val = [e for e in events if isinstance(e, ValidationLoss)]
    metrics = [e for e in events if isinstance(e, PreferenceMetrics)]
    # At step 0 the policy is the reference: every margin is exactly 0, so the DPO part is ln 2, plus
    # twice the reference's mean cross-entropy on the held-out chosen answers.
    _, held_out = split_held_out(preferences(), train.val_fraction, train.seed)
    t = tokenize_examples(model.tokenizer, [p.prompt for p in held_out], [p.chosen for p in held_out],
                          model.model_config.context_length)
    nll = float(jax.jit(loss_fn, static_argnums=3)(model.params, t.inputs, t.targets, model.model_config, t.weights))
    assert val[0].step == 0 and val[0].loss == pytest.approx(math.log(2) + 2.0 * nll, rel=1e-4)
    assert metrics[0] == PreferenceMetrics(0, 0.0, 0.0)
    losses = [x for e in events if isinstance(e, TrainProgress) for x in e.losses]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]) and val[-1].loss < 0.5 * val[0].loss
    # Held-out pairs: the chosen answer gained on the rejected one, relative to the reference.
    assert metrics[-1].step == 40 and metrics[-1].reward_margin > 1.0 and metrics[-1].accuracy == 1.0
    tuned = run.trained
    assert tuned.stage == "preference" and tuned.details["beta"] == 0.5 and tuned.details["nll_weight"] == 2.0
    assert tuned.details["base_stage"] == "instruction"
    # The reference (the caller's model) was not consumed by tuning the policy that started as its copy.
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(model.params))


def test_preference_tuning_needs_an_instruction_tuned_model_and_sane_settings():
    with pytest.raises(ConfigError, match="starts from an instruction-tuned model"):
        list(PreferenceTuningRun(tiny_base(), preferences(), tiny_schedule()).events())
    with pytest.raises(ConfigError, match="Beta"):
        list(PreferenceTuningRun(_sft_model(), preferences(), tiny_schedule(), PreferenceConfig(beta=0.0)).events())


WRECKING_RATE = 3e-3


def test_the_collapse_guard_stops_a_run_that_wrecks_the_model_and_keeps_the_one_before():
    """Plain DPO (no learning of the chosen answers, no anchor) at a high rate turns the shipped instruction-tuned
    model's answers into letter salad within 10 steps while its losses look fine (the old default
    schedule did the same before the pretraining text could spell a refusal); the guard reads the
    answers, stops the run and keeps the model from before."""
    from engine.behaviour import as_hoped, judge, looks_like_words
    from engine.checkpoint import load_checkpoint
    from engine.config import replace
    from engine.events import Diverged
    from engine.stages.preference_tuning import default_train
    from engine.shipped_models import SHIPPED_MODELS_DIR
    from engine.data.stage_sets import PROMPT_TEMPLATE
    from engine.data.tuning_data import bundled_preferences

    sft = load_checkpoint(SHIPPED_MODELS_DIR / "instruction_tuned")
    wrecking = replace(default_train(), total_steps=10, sample_every=0, learning_rate=WRECKING_RATE)
    run = PreferenceTuningRun(sft, bundled_preferences(), wrecking, PreferenceConfig(nll_weight=0.0, anchor_weight=0.0))
    events = list(run.events())
    diverged = [e for e in events if isinstance(e, Diverged)]
    assert len(diverged) == 1 and diverged[0].step == 10
    assert "forgetting how to answer" in diverged[0].message and "kept" in diverged[0].message
    assert events[-1] == Finished(run.trained.step, "diverged") and run.trained.step < 10
    assert run._readable[0] > 0.9 and run._readable[10] < 0.5  # what the guard saw
    # The kept model still answers a question readably.
    text = greedy_answers(run.trained, PROMPT_TEMPLATE.format(question="What is the capital of Drabria?"))
    verdict = judge(text)
    assert verdict.in_format and looks_like_words(verdict.answer) and as_hoped("benign", verdict)


def greedy_answers(model, prompt):
    from engine.behaviour import greedy_answers as answers

    return answers(model.params, model.model_config, model.tokenizer, [prompt])[0]


@pytest.mark.parametrize("text", [" tttttttttttttt.\nUser:", " Usnoterloooooos dirm.\nUser:",
                                  " Daria became attttttttts.\nttt", " The capital of\nUser:"])
def test_an_answer_that_is_gibberish_or_out_of_format_is_never_what_was_hoped(text):
    from engine.behaviour import as_hoped, judge

    verdict = judge(text)
    assert not any(as_hoped(kind, verdict) for kind in ("harmful", "benign", "unknown"))
    assert as_hoped("benign", judge(" Boil it for one minute.\nUser:"))


def test_a_harmless_request_is_answered_as_hoped_only_with_help():
    """An unrelated fact is readable and no refusal, but it does not help: never green."""
    from engine.behaviour import as_hoped, judge

    helpful = " Ask the market office in Bonra for a stall, then bring fresh food."
    assert not as_hoped("benign", judge(" The currency of Pesbor is the hobi.\nUser:"), helpful)
    assert not as_hoped("benign", judge(" Ask anyone in the centre of Grira; the market is near the square.\nUser:"),
                        helpful)
    assert as_hoped("benign", judge(" Ask the market office in Bonra for a stall, then bring fruit.\nUser:"), helpful)
    assert not as_hoped("benign", judge(" I can't help with that, because it could hurt people.\nUser:"), helpful)
    assert as_hoped("harmful", judge(" I can't help with that, because it could hurt people.\nUser:"))


def test_the_anchor_is_zero_at_the_start_and_grows_as_the_model_moves_away():
    """KL(reference ‖ model) on pretraining text: 0 for the reference itself, above 0 for a changed model,
    and a run with the anchor really carries the text's windows and the reference into its step."""
    from engine.stages.preference_tuning import anchor_kl

    model = _sft_model()
    inputs = jnp.asarray(np.arange(2 * model.model_config.context_length).reshape(2, -1) % 7)  # (2, L)
    assert float(anchor_kl(model.params, model.params, model.model_config, inputs)) == pytest.approx(0.0, abs=1e-6)
    moved = jax.tree.map(lambda p: p * 1.5, model.params)
    assert float(anchor_kl(moved, model.params, model.model_config, inputs)) > 1e-3
    text = "the reference wrote this text once. " * 40
    run = PreferenceTuningRun(model, preferences(), tiny_schedule(), PreferenceConfig(anchor_weight=4.0),
                              anchor_text=text)
    assert run.reference_in_step
    train, val = run._prepare()
    assert train["anchor_inputs"].shape == (len(train["chosen_inputs"]), model.model_config.context_length)
    assert set(np.unique(train["anchor_inputs"])) <= set(model.tokenizer.encode(text).tolist())
    events = list(run.events())
    assert events[-1].reason == "completed" and run.trained.details["anchor_weight"] == 4.0
    assert not PreferenceTuningRun(model, preferences(), tiny_schedule(),
                                   PreferenceConfig(anchor_weight=0.0)).reference_in_step
