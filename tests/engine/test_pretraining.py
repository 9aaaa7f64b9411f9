"""A real run on a tiny corpus: the loss falls, resuming is exact, divergence and stop are handled."""

import threading

import jax
import numpy as np
import pytest

from engine.config import replace
from engine.errors import ConfigError, CorpusTooShort
from engine.events import Diverged, Finished, RunControl, Sample, Status, TrainProgress, ValidationLoss
from engine.stages.pretraining import PretrainingRun
from engine.tokenizer import TokenizerSpec


def run_all(run):
    return list(run.events())


def test_loss_falls_within_50_steps(tiny_corpus, tiny_model, tiny_train):
    run = PretrainingRun(tiny_corpus, TokenizerSpec("char"), tiny_model, tiny_train)
    events = run_all(run)
    assert isinstance(events[0], Status) and events[0].phase == "preparing"
    assert events[-1] == Finished(50, "completed")
    losses = [loss for e in events if isinstance(e, TrainProgress) for loss in e.losses]
    assert len(losses) == 50
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    val = [e for e in events if isinstance(e, ValidationLoss)]
    assert [v.step for v in val] == [0, 25, 50] and val[-1].loss < 0.6 * val[0].loss
    progress = [e for e in events if isinstance(e, TrainProgress)]
    assert progress[-1].eta_seconds == 0 and progress[-1].tokens_per_second > 0
    assert run.trained.step == 50 and run.trained.history.train_steps == list(range(1, 51))


def test_samples_are_written_from_the_same_prompt(tiny_corpus, tiny_model, tiny_train):
    train = replace(tiny_train, total_steps=20, sample_every=10, sample_tokens=15)
    events = run_all(PretrainingRun(tiny_corpus, TokenizerSpec("char"), tiny_model, train, sample_prompt="the "))
    samples = [e for e in events if isinstance(e, Sample)]
    assert [s.step for s in samples] == [0, 10, 20]
    assert all(s.prompt == "the " and len(s.text) == 15 for s in samples)


def test_resume_equals_uninterrupted(tiny_corpus, tiny_model, tiny_train):
    train = replace(tiny_train, total_steps=30, eval_every=10)
    whole = PretrainingRun(tiny_corpus, TokenizerSpec("char"), tiny_model, train)
    run_all(whole)

    control = RunControl()
    first = PretrainingRun(tiny_corpus, TokenizerSpec("char"), tiny_model, train, control=control)
    for event in first.events():
        if isinstance(event, TrainProgress) and event.step == 15:
            control.stop()
    assert first.trained.step == 15
    second = PretrainingRun(tiny_corpus, TokenizerSpec("char"), tiny_model, train, resume=first.trained)
    run_all(second)

    a, b = whole.trained, second.trained
    assert b.step == 30
    for x, y in zip(jax.tree.leaves((a.params, a.opt_state)), jax.tree.leaves((b.params, b.opt_state))):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert a.history == b.history
    # The caller's model was copied, not consumed by the donated train step.
    assert np.isfinite(np.asarray(first.trained.params["wte"])).all()


def test_a_learning_rate_far_too_high_is_caught_and_the_last_good_model_kept(tiny_corpus, tiny_model, tiny_train):
    train = replace(tiny_train, learning_rate=1e4, min_learning_rate=1e3, warmup_steps=0, total_steps=200,
                    grad_clip=1e9, log_every=10)
    run = PretrainingRun(tiny_corpus, TokenizerSpec("char"), tiny_model, train)
    events = run_all(run)
    diverged = [e for e in events if isinstance(e, Diverged)]
    assert len(diverged) == 1 and "learning rate" in diverged[0].message
    assert events[-1].reason == "diverged"
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(run.trained.params))
    assert all(np.isfinite(run.trained.history.train_losses))
    assert run.trained.step < diverged[0].step
    assert not run.trained.history.train_steps or run.trained.history.train_steps[-1] <= run.trained.step
    # The kept parameters really are good: their loss is far below the blown-up one.
    from engine.model import loss_fn
    tokens = run.trained.tokenizer.encode(tiny_corpus.text)[:33][None, :]
    kept_loss = float(loss_fn(run.trained.params, tokens[:, :-1], tokens[:, 1:], run.trained.model_config))
    assert kept_loss < 2 * np.log(run.trained.model_config.vocab_size)


def test_pause_holds_and_stop_keeps_the_model(tiny_corpus, tiny_model, tiny_train):
    train = replace(tiny_train, total_steps=10_000)
    control = RunControl()
    run = PretrainingRun(tiny_corpus, TokenizerSpec("char"), tiny_model, train, control=control)
    events = run.events()
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, TrainProgress) and event.step >= 10:
            break
    control.pause()
    paused_at = None
    for event in events:
        if isinstance(event, Status) and event.phase == "paused":
            paused_at = int(event.message.split()[-1].rstrip("."))
            break
    # While paused the generator blocks; stop it from another thread after a moment.
    timer = threading.Timer(0.3, control.stop)
    timer.start()
    rest = list(events)
    timer.join()
    assert rest[-1].reason == "stopped"
    assert run.trained.step == paused_at
    assert not any(isinstance(e, TrainProgress) for e in rest)


def test_corpus_shorter_than_context_is_refused_in_words(tiny_model, tiny_train):
    from engine.data.corpus import Corpus

    run = PretrainingRun(Corpus("short", "just a few words", "test"), TokenizerSpec("char"), tiny_model, tiny_train)
    with pytest.raises(CorpusTooShort, match="only 16 tokens"):
        run_all(run)


def test_bad_settings_are_refused_before_any_work(tiny_corpus, tiny_model, tiny_train):
    run = PretrainingRun(tiny_corpus, TokenizerSpec("char"), replace(tiny_model, n_heads=3), tiny_train)
    with pytest.raises(ConfigError):
        run_all(run)


def test_a_model_too_big_for_free_memory_is_refused_before_any_work(tiny_corpus, tiny_model, tiny_train,
                                                                    monkeypatch):
    import engine.stages.loop as training_loop  # the check every training stage makes before any work

    monkeypatch.setattr(training_loop, "available_memory_bytes", lambda: 200 * 2**20)  # 200 MB free
    run = PretrainingRun(tiny_corpus, TokenizerSpec("char"), tiny_model, tiny_train)
    events = run.events()
    assert next(events).phase == "preparing"
    with pytest.raises(ConfigError, match=r"needs about 0\.\d GB of memory.*0\.2 GB free"):
        next(events)
    assert run.trained is None
