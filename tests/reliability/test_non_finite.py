"""Promise 3: NaN or Inf injected into the loss or the gradients mid-run.

The fault goes in through ``engine.train.make_train_step``'s own ``loss`` argument, so the real
optimiser and update run on it: at the chosen step the step function is swapped for one whose loss
value is non-finite (gradients untouched), or whose gradients are (loss value untouched; AdamW then
writes NaN into every parameter, as a real overflow would). Every other step is the real one.

Whatever the step, the run must end with ``Diverged`` and a message suggesting a lower learning
rate, keep parameters that are finite and equal, bit for bit, to the state after an earlier step,
and never hand the GUI a non-finite number to plot (training or validation loss). A gradient fault
at the last step of a log window, or of the run, is the hard case: every loss of the window is still
finite, so only the parameter check in ``engine.stages.pretraining`` catches it (before this suite it was
evaluated, plotted as NaN, and kept as the finished model).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import engine.train
from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.config import ModelConfig, TrainConfig
from engine.data.corpus import Corpus
from engine.events import Diverged, Finished, Sample, TrainProgress, ValidationLoss
from engine.model import loss_fn
from engine.stages.pretraining import PretrainingRun
from engine.tokenizer import TokenizerSpec
from tests.engine.conftest import make_text

MODEL = ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32)
TRAIN = TrainConfig(batch_size=8, learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=5, total_steps=20,
                    log_every=5, eval_every=10, eval_batches=2, sample_every=0, seed=5)
CORPUS = Corpus("non-finite test corpus", make_text(300, seed=9), "test")


@jax.custom_vjp
def _grads_become(tree, value):
    return tree


def _fwd(tree, value):
    return tree, value


def _bwd(value, g):
    return jax.tree.map(lambda x: jnp.full_like(x, value), g), None


_grads_become.defvjp(_fwd, _bwd)


def faulty_loss(where: str, value: float):
    def loss(params, inputs, targets, cfg):
        if where == "grads":  # the loss value is right, its gradient is all `value`
            return loss_fn(_grads_become(params, jnp.float32(value)), inputs, targets, cfg)
        return loss_fn(params, inputs, targets, cfg) + jax.lax.stop_gradient(jnp.float32(value))
    return loss


_COMPILED: dict = {}


class FaultAt:
    """Stands in for ``make_train_step``: the real step everywhere, the faulty one at ``step``.

    It also copies the parameters before every step, so a test can tell which state was kept.
    """

    def __init__(self, step: int, where: str, value: float):
        self.step, self.where, self.value = step, where, value
        self.params_before: dict[int, list[np.ndarray]] = {}  # step count -> parameters at that count
        self.calls = 0

    def __call__(self, model_cfg, train_cfg, optimizer, loss=loss_fn):
        outer = self

        class Lowered:
            def __init__(self, args):
                self.args = args

            def compile(self):
                def compiled(kind):
                    key = (model_cfg, train_cfg, kind)
                    if key not in _COMPILED:  # the same programs for every case: compile each once
                        fn = engine.train.REAL_MAKE_TRAIN_STEP(model_cfg, train_cfg, optimizer,
                                                                loss if kind == "real" else faulty_loss(*kind))
                        _COMPILED[key] = fn.lower(*self.args).compile()
                    return _COMPILED[key]

                real, faulty = compiled("real"), compiled((outer.where, outer.value))
                count = [int(self.args[0].step)]

                def step_fn(state, tokens, key, learning_rate):
                    outer.params_before[count[0]] = [np.array(x) for x in jax.tree.leaves(state.params)]
                    count[0] += 1
                    outer.calls += 1
                    fn = faulty if count[0] == outer.step else real
                    return fn(state, tokens, key, learning_rate)

                return step_fn

        class Jitted:
            def lower(self, *args):
                return Lowered(args)

        return Jitted()


@pytest.fixture(autouse=True, scope="module")
def _keep_the_real_factory():
    engine.train.REAL_MAKE_TRAIN_STEP = engine.train.make_train_step
    yield
    del engine.train.REAL_MAKE_TRAIN_STEP


CASES = [
    ("loss", math.nan, 1),  # the very first step: only the untrained model is known good
    ("loss", math.inf, 5),  # the last step of a log window
    ("loss", math.inf, 13),  # mid-window
    ("loss", math.nan, 20),  # the last step of the run
    ("grads", math.nan, 3),
    ("grads", math.inf, 10),  # a log and evaluation step: the broken model must not be measured
    ("grads", math.nan, 12),
    ("grads", math.inf, 20),  # the last step: no later loss will show it
]


@pytest.mark.parametrize("where,value,fault_step", CASES, ids=[f"{w}-{v}-step{s}" for w, v, s in CASES])
def test_a_non_finite_value_mid_run_ends_in_diverged_and_keeps_the_last_good_model(
        where, value, fault_step, monkeypatch, tmp_path):
    fault = FaultAt(fault_step, where, value)
    monkeypatch.setattr(engine.train, "make_train_step", fault)
    run = PretrainingRun(CORPUS, TokenizerSpec("char"), MODEL, TRAIN)
    events = list(run.events())
    assert fault.calls >= fault_step  # the fault really was injected

    diverged = [e for e in events if isinstance(e, Diverged)]
    assert len(diverged) == 1 and events[-1] == Finished(run.trained.step, "diverged")
    message = diverged[0].message
    assert "learning rate" in message and "lower" in message and "\n" not in message
    # The first step whose result was broken is named: the faulty one (or, for a gradient fault, the
    # next, whose loss is the first measured with the broken parameters).
    assert diverged[0].step in (fault_step, fault_step + 1)
    if where == "loss":
        assert diverged[0].step == fault_step
        assert ("not-a-number" if math.isnan(value) else "infinite") in message

    kept = run.trained
    assert kept.step < fault_step  # a state from before the fault
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves((kept.params, kept.opt_state)))
    assert [np.asarray(x).tobytes() for x in jax.tree.leaves(kept.params)] == \
        [x.tobytes() for x in fault.params_before[kept.step]]

    # Nothing non-finite reached the GUI or the history; no sample was written by a broken model.
    plotted = [loss for e in events if isinstance(e, TrainProgress) for loss in e.losses]
    plotted += [e.loss for e in events if isinstance(e, ValidationLoss)]
    assert all(math.isfinite(x) for x in plotted)
    assert len(plotted) >= kept.step  # the good part of the curve was shown
    assert all(e.step <= kept.step for e in events if isinstance(e, (ValidationLoss, Sample)))
    h = kept.history
    assert all(math.isfinite(x) for x in h.train_losses + h.val_losses)
    assert h.train_steps == list(range(1, kept.step + 1)) and all(s <= kept.step for s in h.val_steps)

    # The kept model is worth keeping: it saves, reopens and continues.
    reopened = load_checkpoint(save_checkpoint(kept, tmp_path / "kept"))
    assert reopened.step == kept.step and reopened.history == h


class BrokenEvaluation:
    """Stands in for ``make_eval_loss``: the real held-out loss, except NaN or Inf at one step's evaluation.

    The parameters stay finite, as when a model's numbers are large enough that its sums overflow
    only on the held-out text. Evaluations happen at steps 0, ``eval_every``, …, so the n-th call
    measures step ``n * eval_every``.
    """

    def __init__(self, step: int, value: float):
        self.step, self.value, self.calls = step, value, 0

    def __call__(self, model_cfg, train_cfg):
        real = engine.train.REAL_MAKE_EVAL_LOSS(model_cfg, train_cfg)

        def eval_fn(params, tokens, key):
            measured_step = self.calls * train_cfg.eval_every
            self.calls += 1
            loss = real(params, tokens, key)
            return loss + np.float32(self.value) if measured_step == self.step else loss

        return eval_fn


@pytest.mark.parametrize("value,broken_at", [(math.nan, 0), (math.inf, 10), (math.nan, 20)],
                         ids=["nan-step0", "inf-step10", "nan-last-step"])
def test_a_non_finite_held_out_loss_is_never_plotted_and_its_model_not_kept(value, broken_at, monkeypatch,
                                                                            tmp_path):
    monkeypatch.setattr(engine.train, "REAL_MAKE_EVAL_LOSS", engine.train.make_eval_loss, raising=False)
    broken = BrokenEvaluation(broken_at, value)
    monkeypatch.setattr(engine.train, "make_eval_loss", broken)
    run = PretrainingRun(CORPUS, TokenizerSpec("char"), MODEL, dataclasses.replace(TRAIN, sample_every=5))
    events = list(run.events())
    assert broken.calls > broken_at // TRAIN.eval_every  # the broken measurement really was made

    diverged = [e for e in events if isinstance(e, Diverged)]
    assert len(diverged) == 1 and diverged[0].step == broken_at
    message = diverged[0].message
    assert "learning rate" in message and "lower" in message and "\n" not in message
    assert ("not-a-number" if math.isnan(value) else "infinite") in message

    # The model measured as broken is not kept: the run goes back to the log point before it
    # (at step 0 nothing earlier exists, so the untrained model stays, and the run stops there).
    kept = run.trained
    expected_step = 0 if broken_at == 0 else broken_at - TRAIN.log_every
    assert events[-1] == Finished(kept.step, "diverged") and kept.step == expected_step
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves((kept.params, kept.opt_state)))

    # No non-finite figure reached the GUI, and nothing the broken model measured or wrote was shown.
    assert all(math.isfinite(e.loss) for e in events if isinstance(e, ValidationLoss))
    assert all(math.isfinite(x) for e in events if isinstance(e, TrainProgress) for x in e.losses)
    assert not any(isinstance(e, (ValidationLoss, Sample)) and e.step >= broken_at for e in events)
    h = kept.history
    assert all(math.isfinite(x) for x in h.train_losses + h.val_losses)
    assert h.val_steps == list(range(0, broken_at, TRAIN.eval_every))
    assert all(s <= kept.step for s in h.train_steps + h.val_steps)
    assert all(s.step <= kept.step and s.step < broken_at for s in kept.time_lapse)
    assert all(s.val_loss is None or math.isfinite(s.val_loss) for s in kept.time_lapse)

    reopened = load_checkpoint(save_checkpoint(kept, tmp_path / "kept"))
    assert reopened.step == kept.step and reopened.history == h
