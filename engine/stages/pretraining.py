"""A pretraining run, from a corpus to a trained model, as a generator of events.

    run = PretrainingRun(corpus, TokenizerSpec("char"), model_cfg, train_cfg)
    for event in run.events():   # Status, TrainProgress, ValidationLoss, Sample, ..., Finished
        ...
    run.trained                  # the TrainedModel, once Finished has been yielded

Along the way it keeps a time-lapse (``engine.stages.time_lapse``): a ``Snapshot`` event at log points spread
over the run, each recording what the model wrote and guessed next then; the trained model carries them.

The generator does the work between yields, so whoever iterates decides the thread: the GUI runs it
on one worker thread, tests and scripts just loop. Problems with the input (corpus too short, bad
settings) raise ``PlainError`` before training starts. This file makes the tokens, the compiled step
and three hooks (held-out loss, samples, time-lapse snapshots); the steps themselves run in the loop
all stages share (``engine.stages.loop``): a ``RunControl`` pauses or stops it at step boundaries,
and a loss that stops being finite, parameters that do (NaN/Inf gradients), or a held-out
(validation) loss that does, end the run with ``Diverged`` and keep the last good parameters.

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

from engine.stages import time_lapse
from engine.config import ModelConfig, TrainConfig, replace
from engine.data.corpus import Corpus
from engine.events import Event, Finished, RunControl, Sample, Status, TrainProgress, ValidationLoss
from engine.tokenizer import TokenizerSpec, check_length, preview
from engine.trained_model import LossHistory, TrainedModel
from engine.stages.loop import TrainingLoop, check_memory, copy_state, divergence_limit

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
        check_memory(self.model_config, train, len(tokens))
        prompt = self.sample_prompt
        if prompt is None:
            prompt = next((p for p in DEFAULT_PROMPTS if not tokenizer.unknown(p)), "")
        return tokenizer, tokens, prompt

    def events(self) -> Iterator[Event]:
        yield Status("Preparing data…", "preparing")
        tokenizer, tokens, prompt = self._prepare()
        self._tokenizer = tokenizer

        import jax
        import jax.numpy as jnp
        import numpy as np

        from engine.data.batches import EVAL_STREAM, SAMPLE_STREAM, TRAIN_STREAM, split_tokens, stream_key
        from engine.machine_speed import record_training_speed
        from engine.model import init_params
        from engine.sampling import prompt_token_ids, generate_ids, next_token_probabilities
        from engine.train import TrainState, init_state, make_eval_loss, make_optimizer, make_train_step

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
            params = copy_state(self.resume.params)
            start_step = int(self.resume.step)
            history = self.resume.history.truncated(start_step)
            self._snapshots = time_lapse.truncated(self.resume.time_lapse, start_step)
            if self.resume.opt_state is not None:
                state = TrainState(jnp.asarray(start_step, jnp.int32), params, copy_state(self.resume.opt_state))
            else:
                state = init_state(params, optimizer, start_step)
        else:
            # One jitted program for the parameters and AdamW's zeroed moments, instead of a small
            # trace and compile per weight matrix and per moment (~1-2 s saved on 2 cores).
            init = jax.jit(lambda key: init_state(init_params(cfg, key), optimizer))
            state = init(jax.random.fold_in(jax.random.PRNGKey(train.seed), 3))
            start_step = 0
            history = LossHistory()
            self._snapshots = []

        if self.mesh is not None:
            # Every array the step reads is on every device; the compiled programs below follow them.
            state, train_dev, val_dev, train_key = replicate((state, train_dev, val_dev, train_key), self.mesh)

        yield Status("Compiling the model for this computer…", "compiling")
        started = time.perf_counter()
        compiled = train_step.lower(state, train_dev, train_key, np.float32(0)).compile()
        loop = TrainingLoop(lambda state, learning_rate: compiled(state, train_dev, train_key, learning_rate),
                            state, train, control, start_step=start_step, history=history,
                            tokens_per_step=train.batch_size * cfg.context_length,
                            divergence_limit=divergence_limit(cfg.vocab_size), publish=self._model_so_far)
        self.compile_seconds = time.perf_counter() - started  # the step and the loop's finiteness check
        eval_fn = make_eval_loss(cfg, train)  # compiles at its first use, after the first loss is shown

        def evaluate(step: int, params) -> list[ValidationLoss]:
            loss = float(eval_fn(params, val_dev, eval_key))
            if math.isfinite(loss):  # a broken measurement ends the run in the loop, unrecorded
                loop.history.val_steps.append(step)
                loop.history.val_losses.append(loss)
            return [ValidationLoss(step, loss)]

        prompt_ids = prompt_token_ids(tokenizer, prompt)
        written: dict[int, list[int]] = {}  # step → the ids its sample wrote, for that step's snapshot

        def write(step: int, params, n_tokens: int) -> list[int]:
            # Token i's key depends on (step, i) only, so a shorter text is exactly the start of a longer one.
            return generate_ids(params, cfg, prompt_ids, n_tokens, 0.8, 40, jax.random.fold_in(sample_key, step))

        def sample(step: int, params) -> list[Sample]:
            written.clear()  # an earlier sample not taken up by a snapshot: never needed again
            ids = written[step] = write(step, params, train.sample_tokens)
            return [Sample(step, prompt, tokenizer.display(ids))]

        snapshot_every = time_lapse.snapshot_interval(train.total_steps, train.log_every)
        snapshot_tokens = min(time_lapse.SNAPSHOT_TOKENS, train.sample_tokens)

        def snapshot(step: int, params) -> list[time_lapse.Snapshot]:
            started_at = time.perf_counter()
            ids = written.pop(step, None)
            if ids is None or len(ids) < snapshot_tokens:  # no sample at this step to reuse
                ids = write(step, params, snapshot_tokens)
            probabilities = next_token_probabilities(params, cfg, tokenizer, prompt)
            history = loop.history
            train_loss = history.train_losses[-1] if history.train_steps and history.train_steps[-1] == step else None
            val_loss = history.val_losses[-1] if history.val_steps and history.val_steps[-1] == step else None
            made = time_lapse.Snapshot(step, train_loss, val_loss, prompt, tokenizer.display(ids[:snapshot_tokens]),
                                       time_lapse.top_guesses(probabilities, tokenizer.token_label))
            self._snapshots.append(made)
            self.snapshot_seconds += time.perf_counter() - started_at
            return [made]

        def forget_snapshots(kept_step: int, bad_step: int) -> None:  # nor the broken model's (at the start: it)
            self._snapshots = [s for s in time_lapse.truncated(self._snapshots, kept_step) if s.step < bad_step]

        # The untrained (or resumed) model's held-out loss, writing and snapshot are measured right
        # after the first step, so the first point of the curve appears without waiting for them.
        loop.add_hook(evaluate, every=train.eval_every, at_start=not history.val_steps)
        loop.add_hook(sample, every=train.sample_every,
                      at_start=bool(train.sample_every) and start_step % train.sample_every == 0)
        # Also where a stop lands, so the kept model's time-lapse ends where the model is.
        loop.add_hook(snapshot, when=lambda step: (time_lapse.is_snapshot_step(step, train.total_steps, snapshot_every)
                                                   or control.stop_requested),
                      at_start=not any(s.step == start_step for s in self._snapshots))
        loop.on_rollback(forget_snapshots)

        for event in loop.events():
            if isinstance(event, TrainProgress):
                self.tokens_per_second = event.tokens_per_second
            yield event

        if loop.warm_steps and loop.reason != "diverged":
            warm_speed = loop.warm_steps * train.batch_size * cfg.context_length / max(loop.warm_seconds, 1e-9)
            record_training_speed(cfg, train, warm_speed, loop.warm_seconds)
        self.trained = self._model(loop.state, loop.history, tuple(time_lapse.thinned(self._snapshots)))
        yield Finished(loop.step, loop.reason)

    def _model(self, state, history: LossHistory, snapshots: tuple) -> TrainedModel:
        return TrainedModel(
            params=state.params, opt_state=state.opt_state, model_config=self.model_config,
            train_config=self.train_config, tokenizer=self._tokenizer, step=int(state.step), history=history,
            corpus_name=self.corpus.name, corpus_fingerprint=self.corpus.fingerprint, time_lapse=snapshots)

    def _model_so_far(self, state, history: LossHistory) -> TrainedModel:
        """The model at a state the loop vouches for, for the autosave (``TrainProgress.model_so_far``)."""
        return self._model(state, history, tuple(time_lapse.truncated(self._snapshots, int(state.step))))
