"""The lessons' engine: the arithmetic of each lesson on hand-made inputs, the probes on tiny models, the
variants' cache, missing models named, a stop halfway, and every lesson end to end on tiny variants."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from engine.evaluation import lesson_models as lm
from engine.evaluation import lessons
from engine.config import ModelConfig, TrainConfig, param_count, replace
from engine.data.corpus import Corpus
from engine.events import RunControl
from engine.evaluation.lesson_probes import LessonProgress, Reply, completion_logprobs, first_line, prompt_for
from engine.tokenizer import CharTokenizer, TokenizerSpec
from engine.trained_model import LossHistory, TrainedModel

# A tiny recipe for the variants: the lessons' code path, seconds of work.
TINY_MODEL = ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32)
TINY_TRAIN = replace(lm.LESSON_TRAIN, total_steps=4, warmup_steps=1, log_every=2, eval_batches=1)
TINY = {"model": TINY_MODEL, "train": TINY_TRAIN}


def _reply(correct, text="x", confidence=0.5, dont_know=False) -> Reply:
    return Reply(text, correct, dont_know, confidence)


# --- arithmetic on hand-checkable inputs ------------------------------------------------------------


def test_training_flops_is_six_times_parameters_times_tokens():
    cfg = ModelConfig(vocab_size=10, n_layers=1, n_heads=1, d_model=4, context_length=8)
    train = TrainConfig(batch_size=2)
    # 10*4 + 8*4 embeddings, one block of 12*16 + 2*4, final norm 4: 276 parameters.
    assert param_count(cfg) == 276
    flops, parameters, tokens = lessons.training_flops(cfg, train, steps=5)
    assert (parameters, tokens) == (276, 5 * 2 * 8)
    assert flops == 6 * 276 * 80


def test_scale_lesson_places_this_run_beside_published_figures():
    result = lessons.scale(None, "", flops_per_second=1e9)
    expected = 6.0 * param_count(replace(lm.LESSON_MODEL, vocab_size=768)) * lm.LESSON_TRAIN.total_steps * 16 * 64
    assert result.numbers["flops_this_run"] == pytest.approx(expected)
    assert result.numbers["seconds_this_machine"] == pytest.approx(expected / 1e9)
    assert result.numbers["published"]["GPT-3 (175 billion parameters)"] == 3.14e23
    plot = result.plots[0]
    assert plot.log_y and plot.series[0].y[0] == pytest.approx(expected)
    assert len(plot.categories) == 1 + len(lessons.PUBLISHED_COMPUTE)
    assert all("20" in source for _, _, source in lessons.PUBLISHED_COMPUTE)  # each cites a dated publication
    # GPT-3 on a 1 GFLOP/s computer: 3.14e23 / 1e9 seconds, in years.
    assert result.numbers["gpt3_years_this_machine"] == pytest.approx(3.14e14 / (365.25 * 86400))


def test_context_numbers_compare_the_same_questions():
    without = [_reply(True), _reply(False), _reply(False), _reply(True)]
    with_fact = [_reply(True), _reply(True), _reply(False), _reply(True)]
    assert lessons.context_numbers(without, with_fact) == (0.5, 0.75, 0.5)
    # Stopped during the second pass: only the questions asked both ways count.
    assert lessons.context_numbers(without, with_fact[:2]) == (0.5, 1.0, 1.0)


def test_agreement_counts_same_answers_and_same_mistakes():
    a = [_reply(True, "Chafo."), _reply(False, "Bonra."), _reply(False, "Tarsk"), _reply(True, "Velix")]
    b = [_reply(True, "Chafo"), _reply(False, "bonra"), _reply(False, "Grotu."), _reply(False, "Dorno")]
    counts, agree = lessons.agreement_outcomes(a, b)
    assert counts == {"both right": 1, "both wrong,\nthe same answer": 1, "both wrong,\ndifferent answers": 1,
                      "only one right": 1}
    assert agree == 0.5


def test_first_line_stops_at_the_line_break_and_averages_its_tokens():
    tok = CharTokenizer.train(" Chafo.\nQ")
    ids = tok.encode(" Chafo.\nQ").tolist()
    probs = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.1, 0.2]
    text, confidence = first_line(ids, probs, tok)
    assert text == "Chafo."
    assert confidence == pytest.approx(np.mean(probs[:7]))


def test_prompts_follow_the_form_each_stage_was_trained_on(world_tiny_model):
    base = world_tiny_model
    assert prompt_for(base, "Who?") == "Q: Who?\nA:"
    assert prompt_for(base, "Who?", "Ann is here.") == "Ann is here.\nQ: Who?\nA:"
    tuned = dataclasses.replace(base, stage="instruction")
    assert prompt_for(tuned, "Who?", "Ann is here.") == "User: Ann is here. Who?\nAssistant:"


# --- probes on tiny real models -------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_tiny_model():
    import jax

    from engine.model import init_params

    tok = CharTokenizer.train("".join(chr(c) for c in range(32, 127)) + "\n“”–")
    cfg = ModelConfig(vocab_size=tok.vocab_size, n_layers=1, n_heads=2, d_model=32, context_length=32)
    return TrainedModel(init_params(cfg, jax.random.PRNGKey(0)), None, cfg, TrainConfig(), tok, 0, LossHistory())


def test_completion_logprobs_equal_the_next_token_probabilities(world_tiny_model):
    from engine.sampling import next_token_probabilities

    model = world_tiny_model
    probs = next_token_probabilities(model.params, model.model_config, model.tokenizer, "Q: which?\nA:")
    a, ab = completion_logprobs(model, [("Q: which?\nA:", " "), ("Q: which?\nA:", " V")])
    assert a == pytest.approx(math.log(probs[model.tokenizer.encode(" ")[0]]), abs=1e-4)
    probs2 = next_token_probabilities(model.params, model.model_config, model.tokenizer, "Q: which?\nA: ")
    assert ab == pytest.approx(a + math.log(probs2[model.tokenizer.encode("V")[0]]), abs=1e-4)


def test_bias_measure_prefers_the_answer_its_text_repeats():
    from engine.stages.pretraining import PretrainingRun

    # Four recommendations in five name Velix: the model should lean the same way.
    lines = [f"Q: Which library?\nA: I would use {'Dorno' if i % 5 == 0 else 'Velix'}." for i in range(300)]
    run = PretrainingRun(Corpus("skewed", "\n\n".join(lines), "test"), TokenizerSpec("char"), TINY_MODEL,
                         TrainConfig(batch_size=8, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=5,
                                     total_steps=40, log_every=20, eval_every=10**9, eval_batches=1, sample_every=0))
    assert list(run.events())[-1].reason == "completed"
    shares = lessons.preference_for(run.trained, ["Velix", "Dorno"], ["Q: Which library?\nA: I would use"])
    assert shares.sum() == pytest.approx(1.0)
    assert shares[0, 0] > 0.6


# --- variants: missing, trained, cached, stopped ------------------------------------------------------


def test_a_lesson_with_missing_models_names_them():
    with pytest.raises(lessons.MissingLessonModels) as caught:
        list(lessons.run_lesson("agreement", recipe={"model": TINY_MODEL, "train": replace(TINY_TRAIN, seed=99)}))
    message = str(caught.value)
    assert lm.BASE.title in message and lm.SECOND_SEED.title in message
    assert "Train the missing models" in message
    assert [v.key for v in caught.value.variants] == ["base", "second_seed"]


def test_training_stops_between_variants_and_keeps_the_finished_one():
    train = replace(TINY_TRAIN, seed=11)  # a recipe of its own, so other tests' variants do not count
    control = RunControl()
    events = []
    for event in lm.train_variants([lm.BASE, lm.SECOND_SEED], control, model=TINY_MODEL, train=train):
        events.append(event)
        if isinstance(event, lm.VariantTrained):
            control.stop()
    assert events[-1].reason == "stopped"
    assert [e.variant for e in events if isinstance(e, lm.VariantTrained)] == ["base"]
    assert lm.missing([lm.BASE, lm.SECOND_SEED], TINY_MODEL, train) == [lm.SECOND_SEED]
    loaded = lm.load_variant(lm.BASE, TINY_MODEL, train)
    assert loaded is not None and loaded.step == train.total_steps
    # The lessons' own recipe was never trained here: only the shipped copy counts for it, never the tiny one.
    real = lm.load_variant(lm.BASE)
    assert real is None or (real.details["lesson_recipe"] == lm.BASE.recipe() and real.model_config != TINY_MODEL)
    progress = [e for e in events if isinstance(e, lm.TrainingProgress)]
    assert progress and progress[-1].total == 2 * train.total_steps


@pytest.fixture(scope="module")
def tiny_variants():
    events = list(lm.train_variants(lm.VARIANTS, model=TINY_MODEL, train=TINY_TRAIN))
    assert events[-1].reason == "completed"
    return TINY


def _finish(events) -> lessons.LessonResult:
    results = [e for e in events if isinstance(e, lessons.LessonResult)]
    assert len(results) == 1 and isinstance(events[-1], lessons.LessonResult)
    assert all(isinstance(e, LessonProgress) for e in events[:-1])
    return results[0]


def test_a_lesson_stopped_halfway_keeps_what_it_measured(tiny_variants):
    control = RunControl()
    events = []
    for event in lessons.run_lesson("hallucination", control=control, recipe=tiny_variants):
        events.append(event)
        if isinstance(event, LessonProgress):
            control.stop()
    result = _finish(events)
    assert result.partial
    assert result.numbers["answers"] == 32  # one chunk of questions, then the stop
    assert len(events) == 2


@pytest.mark.parametrize("key", ["hallucination", "cutoff", "coverage", "bias", "context", "agreement"])
def test_every_lesson_runs_end_to_end_and_plots_its_numbers(tiny_variants, key):
    result = _finish(list(lessons.run_lesson(key, recipe=tiny_variants)))
    assert not result.partial and result.explanation and result.figures and result.plots
    n = result.numbers
    if key == "hallucination":
        assert result.plots[0].series[0].y == (n["confidence_right"], n["confidence_wrong"],
                                               n["confidence_nonexistent"])
        assert n["answers"] == 80 + 48  # 20 countries x 4 questions, 12 made-up countries x 4
        # Confidence in percent, as the benchmark writes it ("88% sure"), never as 0.88.
        confidences = [value for what, value in result.figures if what.startswith("Confidence")]
        assert len(confidences) == 3 and all(v.endswith("%") or v == "–" for v in confidences)
        assert result.plots[0].percent and "%" in result.explanation
    elif key == "cutoff":
        assert 0 <= n["accuracy_before_cutoff"] <= 1 and 0 <= n["accuracy_after_cutoff"] <= 1
        assert result.plots[0].marker_x is not None
    elif key == "coverage":
        levels = n["coverage_accuracy_by_share"]
        assert len(levels) == 4 and n["answers"] == 80  # 20 countries x 4 equally hard facts, 20 per level
        shares = [share for share, _ in levels]
        assert shares == sorted(shares) and 0 < sum(shares) < 1  # other facts take the rest
        assert result.plots[0].series[0].y == tuple(acc for _, acc in levels)
    elif key == "bias":
        assert n["bias_settings"] == [0.2, 0.8]
        # The recommendation documents' favourite share: 1/3 + skew * 2/3 of 60 posts, rounded.
        assert n["bias_data_skew"] == [round(60 * (1 / 3 + 0.2 * 2 / 3)) / 60, round(60 * (1 / 3 + 0.8 * 2 / 3)) / 60]
        assert result.plots[0].series[1].y == tuple(n["bias_model_skew"])
    elif key == "context":
        assert result.plots[0].series[0].y == (n["accuracy_without_context"], n["accuracy_with_context"],
                                               n["counterfactual_followed"])
        assert n["answers"] == 120 + 120 + 80  # (80 world + 40 made-up) x 2, and 80 counterfactual
        assert n["accuracy_new_without_context"] == 0.0  # nobody can know a country that was never written of
    elif key == "agreement":
        assert sum(n["outcomes"].values()) == n["answers"] // 2
        assert 0 <= n["agreement_between_models"] <= 1
