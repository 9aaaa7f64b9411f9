"""A pretraining run, from a corpus to a trained model, as a generator of events.

    run = PretrainingRun(corpus, TokenizerSpec("char"), model_cfg, train_cfg)
    for event in run.events():   # Status, TrainProgress, ValidationLoss, Sample, ..., Finished
        ...
    run.trained                  # the TrainedModel, once Finished has been yielded

Along the way it keeps a time-lapse (``engine.time_lapse``): a ``Snapshot`` event at log points spread
over the run, each recording what the model wrote and guessed next then; the trained model carries them.

The generator does the work between yields, so whoever iterates decides the thread: the GUI runs it
on one worker thread, tests and scripts just loop. A ``RunControl`` pauses or stops it at step
boundaries. Problems with the input (corpus too short, bad settings) raise ``PlainError`` before
training starts; a loss that stops being finite, parameters that do (NaN/Inf gradients), or a
held-out (validation) loss that does, end the run with ``Diverged`` and keep the last good parameters.

Every random draw derives from (seed, step), and the optimiser state is saved with the model, so
a run resumed from a checkpoint at step N continues exactly as an uninterrupted run would.

With a ``mesh`` (``engine.parallel.make_data_mesh``) the train step runs data-parallel: the state and
the tokens are replicated on every device of the mesh and each device works on its share of the batch.
Everything else (held-out loss, samples, the time-lapse) runs on the replicated arrays as it is. The
headless CLI passes one with ``--devices N``; the app never does (several CPU devices are slower).
"""

from __future__ import annotations

import math
import time
from typing import Iterator

from engine import time_lapse
from engine.config import ModelConfig, TrainConfig, estimate_memory_bytes, replace
from engine.corpus import Corpus, available_memory_bytes
from engine.errors import ConfigError
from engine.events import (
    Diverged,
    Event,
    Finished,
    RunControl,
    Sample,
    Status,
    TrainProgress,
    ValidationLoss,
    sit_out_pause,
)
from engine.tokenizer import TokenizerSpec, check_length, preview
from engine.trained_model import LossHistory, TrainedModel

DEFAULT_PROMPTS = ("The ", "\n")  # the first one the tokenizer can encode is used


class PretrainingRun:
    """One pretraining run. Create it on any thread; iterate ``events()`` on one thread only."""

    def __init__(
        self,
        corpus: Corpus,
        tokenizer_spec: TokenizerSpec,
        model: ModelConfig,
        train: TrainConfig,
        control: RunControl | None = None,
        resume: TrainedModel | None = None,
        sample_prompt: str | None = None,
        mesh=None,
    ):
        self.corpus = corpus
        self.tokenizer_spec = tokenizer_spec
        self.model_config = model if resume is None else resume.model_config
        self.train_config = train
        self.control = control or RunControl()
        self.resume = resume
        self.sample_prompt = sample_prompt
        self.mesh = mesh  # a jax.sharding.Mesh with a "data" axis, or None for one device
        self.trained: TrainedModel | None = None  # set just before Finished is yielded
        self.compile_seconds: float | None = None
        self.tokens_per_second: float = 0.0  # training speed over the whole run, pauses excluded
        self.snapshot_seconds: float = 0.0  # time spent on the time-lapse's own work (benchmarks report it)

    def _prepare(self):
        """Tokenize and check everything that can be wrong before any JAX work starts."""
        train = self.train_config
        train.validate()
        if self.resume is not None:
            tokenizer = self.resume.tokenizer
            tokens = tokenizer.encode(self.corpus.text)
        else:
            tokenized = preview(self.corpus, self.tokenizer_spec)
            tokenizer, tokens = tokenized.tokenizer, tokenized.tokens
            self.model_config = replace(self.model_config, vocab_size=tokenizer.vocab_size)
        self.model_config.validate()
        check_length(len(tokens), self.model_config.context_length, train.val_fraction)
        _check_memory(self.model_config, train, len(tokens))
        prompt = self.sample_prompt
        if prompt is None:
            prompt = next((p for p in DEFAULT_PROMPTS if not tokenizer.unknown(p)), "")
        return tokenizer, tokens, prompt

    def events(self) -> Iterator[Event]:
        yield Status("Preparing data…", "preparing")
        tokenizer, tokens, prompt = self._prepare()

        import jax
        import jax.numpy as jnp
        import numpy as np

        from engine.data import EVAL_STREAM, SAMPLE_STREAM, TRAIN_STREAM, split_tokens, stream_key
        from engine.machine_speed import record_training_speed
        from engine.model import init_params
        from engine.sampling import _prompt_ids, generate_ids, next_token_probabilities
        from engine.train import (TrainState, init_state, learning_rate_at, make_eval_loss, make_optimizer,
                                  make_train_step)

        cfg, train, control = self.model_config, self.train_config, self.control
        train_tokens, val_tokens = split_tokens(tokens, train.val_fraction)
        train_dev, val_dev = jnp.asarray(train_tokens), jnp.asarray(val_tokens)
        train_key = stream_key(train.seed, TRAIN_STREAM)
        eval_key = stream_key(train.seed, EVAL_STREAM)
        sample_key = stream_key(train.seed, SAMPLE_STREAM)
        optimizer = make_optimizer(train)
        if self.mesh is not None:
            from engine.parallel import make_sharded_train_step, replicate

            train_step = make_sharded_train_step(cfg, train, optimizer, self.mesh)  # refuses a batch that won't split
        else:
            train_step = make_train_step(cfg, train, optimizer)

        if self.resume is not None:
            # Copies: the train step donates its input, which would delete the caller's arrays.
            params = _copy_state(self.resume.params)
            start_step = int(self.resume.step)
            history = self.resume.history.truncated(start_step)
            snapshots = time_lapse.truncated(self.resume.time_lapse, start_step)
            if self.resume.opt_state is not None:
                state = TrainState(jnp.asarray(start_step, jnp.int32), params, _copy_state(self.resume.opt_state))
            else:
                state = init_state(params, optimizer, start_step)
        else:
            # One jitted program for the parameters and AdamW's zeroed moments, instead of a small
            # trace and compile per weight matrix and per moment (~1-2 s saved on 2 cores).
            init = jax.jit(lambda key: init_state(init_params(cfg, key), optimizer))
            state = init(jax.random.fold_in(jax.random.PRNGKey(train.seed), 3))
            start_step = 0
            history = LossHistory()
            snapshots = []

        if self.mesh is not None:
            # Every array the step reads is on every device; the compiled programs below follow them.
            state, train_dev, val_dev, train_key = replicate((state, train_dev, val_dev, train_key), self.mesh)

        yield Status("Compiling the model for this computer…", "compiling")
        started = time.perf_counter()
        step_fn = train_step.lower(state, train_dev, train_key, np.float32(0)).compile()
        # A step whose gradients are NaN or Inf leaves its own loss finite (it was measured before the
        # update): only the next loss, or the parameters themselves, show it. At each log point the
        # parameters are checked too, so a broken model is never evaluated, sampled or kept.
        params_finite = jax.jit(
            lambda tree: jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))
        ).lower(state.params).compile()
        self.compile_seconds = time.perf_counter() - started
        eval_fn = make_eval_loss(cfg, train)  # compiles at its first use, after the first loss is shown

        def evaluate(step: int, params) -> ValidationLoss:
            loss = float(eval_fn(params, val_dev, eval_key))
            if math.isfinite(loss):  # a broken measurement ends the run below, unrecorded
                history.val_steps.append(step)
                history.val_losses.append(loss)
            return ValidationLoss(step, loss)

        prompt_ids = _prompt_ids(tokenizer, prompt)
        written: dict[int, list[int]] = {}  # step → the ids its sample wrote, for that step's snapshot

        def write(step: int, params, n_tokens: int) -> list[int]:
            # Token i's key depends on (step, i) only, so a shorter text is exactly the start of a longer one.
            return generate_ids(params, cfg, prompt_ids, n_tokens, 0.8, 40, jax.random.fold_in(sample_key, step))

        def sample(step: int, params) -> Sample:
            ids = written[step] = write(step, params, train.sample_tokens)
            return Sample(step, prompt, tokenizer.display(ids))

        snapshot_every = time_lapse.snapshot_interval(train.total_steps, train.log_every)
        snapshot_tokens = min(time_lapse.SNAPSHOT_TOKENS, train.sample_tokens)

        def snapshot(step: int, params) -> time_lapse.Snapshot:
            started_at = time.perf_counter()
            ids = written.pop(step, None)
            if ids is None or len(ids) < snapshot_tokens:  # no sample at this step to reuse
                ids = write(step, params, snapshot_tokens)
            probabilities = next_token_probabilities(params, cfg, tokenizer, prompt)
            train_loss = history.train_losses[-1] if history.train_steps and history.train_steps[-1] == step else None
            val_loss = history.val_losses[-1] if history.val_steps and history.val_steps[-1] == step else None
            made = time_lapse.Snapshot(step, train_loss, val_loss, prompt, tokenizer.display(ids[:snapshot_tokens]),
                                       time_lapse.top_guesses(probabilities, tokenizer.token_label))
            snapshots.append(made)
            self.snapshot_seconds += time.perf_counter() - started_at
            return made

        # Random guessing scores ln(V). A loss far above that means the model has blown up, even
        # when the numbers are still finite (AdamW keeps huge learning rates finite for a while).
        divergence_limit = 1.5 * math.log(cfg.vocab_size) + 1.0
        # The loss of step k is measured with the parameters left by step k-1, so a state is known to
        # be good only once the next step's loss is. ``candidate`` is the state at the latest log
        # point (not yet vouched for); ``last_good`` the one before it, vouched for by its successor.
        last_good = candidate = initial = _copy_state(state)

        step = start_step
        # The untrained model's validation loss and writing are measured from ``initial`` right after
        # the first step, so the first point of the curve appears without waiting for them.
        measure_start = not history.val_steps
        sample_start = bool(train.sample_every) and step % train.sample_every == 0
        yield Status("Training…", "training")

        reason = "completed"
        pending: list = []  # device scalars of losses not yet read back
        pending_steps: list[int] = []
        train_seconds = 0.0  # time spent stepping, excluding evaluation, sampling and pauses
        busy_seconds = 0.0  # wall time since training started, excluding pauses (for the ETA)
        steps_timed = 0
        # The machine's speed for the size menu's estimates, without the first step (it compiles).
        warm_seconds, warm_steps = 0.0, 0
        mark = time.perf_counter()
        while step < train.total_steps:
            if control.stop_requested:
                reason = "stopped"
                break
            if control.paused:
                busy_seconds += time.perf_counter() - mark
                if (yield from sit_out_pause(control, step)):
                    reason = "stopped"
                    break
                mark = time.perf_counter()

            state, loss = step_fn(state, train_dev, train_key, np.float32(learning_rate_at(train, step)))
            step += 1
            pending.append(loss)
            pending_steps.append(step)

            first = step == start_step + 1  # show the first point at once: the curve starts right away
            if not (first or step % train.log_every == 0 or step == train.total_steps
                    or control.paused or control.stop_requested):
                continue
            losses, params_ok = jax.device_get((jnp.stack(pending), params_finite(state.params)))  # waits
            losses = np.asarray(losses, dtype=np.float64)
            now = time.perf_counter()
            train_seconds += now - mark
            busy_seconds += now - mark
            steps_timed += len(pending)
            if not first:
                warm_seconds += now - mark
                warm_steps += len(pending)
            mark = now
            bad = np.flatnonzero(~np.isfinite(losses) | (losses > divergence_limit))
            if bad.size or not params_ok:
                if bad.size:
                    bad_step = pending_steps[int(bad[0])]
                    # The candidate produced the window's first loss; if that one was fine, so is it.
                    state = candidate if bad[0] > 0 else last_good
                    message = _divergence_message(losses[bad[0]], bad_step, train.learning_rate)
                else:  # every loss was fine, so the window's last update broke the parameters
                    bad_step = step
                    state = candidate
                    message = _divergence_message(math.nan, bad_step, train.learning_rate, in_parameters=True)
                step = int(state.step)
                history = history.truncated(step)
                snapshots = time_lapse.truncated(snapshots, step)
                yield Diverged(bad_step, message)
                reason = "diverged"
                break
            last_good, candidate = candidate, _copy_state(state)
            history.train_steps.extend(pending_steps)
            history.train_losses.extend(losses.tolist())
            # ``last_good`` is a copy no step donates, so the GUI may autosave it while training goes on.
            good_step = int(last_good.step)
            so_far = None if good_step == start_step else TrainedModel(
                params=last_good.params, opt_state=last_good.opt_state, model_config=cfg, train_config=train,
                tokenizer=tokenizer, step=good_step, history=history.truncated(good_step),
                corpus_name=self.corpus.name, corpus_fingerprint=self.corpus.fingerprint,
                time_lapse=tuple(time_lapse.truncated(snapshots, good_step)))
            self.tokens_per_second = steps_timed * train.batch_size * cfg.context_length / max(train_seconds, 1e-9)
            done_here = step - start_step
            yield TrainProgress(
                step=step,
                total_steps=train.total_steps,
                steps=tuple(pending_steps),
                losses=tuple(losses.tolist()),
                learning_rate=learning_rate_at(train, step - 1),
                tokens_per_second=self.tokens_per_second,
                elapsed_seconds=busy_seconds,
                eta_seconds=(train.total_steps - step) * busy_seconds / max(done_here, 1),
                model_so_far=so_far,
            )
            pending, pending_steps = [], []

            extra = []
            if first:
                if measure_start:
                    extra.append(evaluate(start_step, initial.params))
                if sample_start:
                    extra.append(sample(start_step, initial.params))
                if not any(s.step == start_step for s in snapshots):
                    extra.append(snapshot(start_step, initial.params))
            if step % train.eval_every == 0 or step == train.total_steps:
                extra.append(evaluate(step, state.params))
            if train.sample_every and (step % train.sample_every == 0 or step == train.total_steps):
                extra.append(sample(step, state.params))
            # Also where a stop lands, so the kept model's time-lapse ends where the model is.
            broken = next((e for e in extra if isinstance(e, ValidationLoss) and not math.isfinite(e.loss)), None)
            if broken is None and (time_lapse.is_snapshot_step(step, train.total_steps, snapshot_every)
                                   or control.stop_requested):
                extra.append(snapshot(step, state.params))
            written.clear()  # samples not taken up by a snapshot: never needed again
            if broken is not None:
                # Finite parameters can still measure as NaN or Inf on the held-out text (numbers so
                # large that the model's sums overflow). That model is not kept, and neither its figure
                # nor what it wrote reaches the GUI: the run ends as a diverged one, with the state
                # before it (as the tuning loop does, engine/tuning_run.py).
                yield from (e for e in extra if e.step < broken.step)
                state = last_good
                step = int(state.step)
                history = history.truncated(step)
                # Nor the broken model's snapshot (at the first step, the untrained model is that model).
                snapshots = [s for s in time_lapse.truncated(snapshots, step) if s.step < broken.step]
                yield Diverged(broken.step, _divergence_message(broken.loss, broken.step, train.learning_rate))
                reason = "diverged"
                break
            if extra:
                yield from extra
                now = time.perf_counter()
                busy_seconds += now - mark
                mark = now

        if warm_steps and reason != "diverged":
            warm_speed = warm_steps * train.batch_size * cfg.context_length / max(warm_seconds, 1e-9)
            record_training_speed(cfg, train, warm_speed, warm_seconds)
        self.trained = TrainedModel(
            params=state.params,
            opt_state=state.opt_state,
            model_config=cfg,
            train_config=train,
            tokenizer=tokenizer,
            step=step,
            history=history,
            corpus_name=self.corpus.name,
            corpus_fingerprint=self.corpus.fingerprint,
            time_lapse=tuple(time_lapse.thinned(snapshots)),
        )
        yield Finished(step, reason)


def _check_memory(model: ModelConfig, train: TrainConfig, n_tokens: int) -> None:
    """Refuse, before any work, a model that would not fit in this computer's free memory.

    Swapping would make the whole computer crawl (a classroom laptop with thirty students waiting),
    so the generous estimate is compared with what the system says it can give.
    """
    needed = estimate_memory_bytes(model, train) + 2 * n_tokens * 4  # + the tokens, on host and device
    free = available_memory_bytes()
    if free is not None and needed > free:
        raise ConfigError(
            f"This model needs about {needed / 2**30:.1f} GB of memory to train, and this computer has "
            f"{free / 2**30:.1f} GB free.",
            "Choose a smaller model size, or lower the width, layers, context length or batch size in Advanced.",
        )


_copy_program = None  # the jitted copy, made at first use (this module does not import jax)


def _copy_state(state):
    """A copy of any pytree that survives the next (donating) train step: the 'last good' model to
    fall back on, or a caller's model that a resumed run must not consume.

    One jitted program per tree structure: copying leaf by leaf traced and compiled a small program
    for every distinct shape, which cost about half a second before the first loss point.
    ``jnp.copy`` stays an operation inside the program, so the outputs are new buffers, never the
    inputs passed through."""
    global _copy_program
    if _copy_program is None:
        import jax
        import jax.numpy as jnp

        _copy_program = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))
    return _copy_program(state)


def _divergence_message(loss: float, step: int, learning_rate: float, in_parameters: bool = False) -> str:
    if in_parameters:
        what = "the update made the model's numbers not-a-number (NaN) or infinite"
    elif math.isnan(loss):
        what = "the loss became not-a-number (NaN), so the model's numbers blew up"
    elif math.isinf(loss):
        what = "the loss became infinite, so the model's numbers blew up"
    else:
        what = f"the loss shot up to {loss:.3g}, worse than random guessing, so the model's numbers blew up"
    return (
        f"Training went wrong at step {step}: {what}. "
        f"This usually means the learning rate ({learning_rate:g}) is too high. "
        f"The model from just before that step has been kept. Try a learning rate 3 to 10 times lower."
    )
