"""What the tuning stages share: a base model in, a tuned model out, as events.

``InstructionTuningRun`` (``engine.stages.instruction_tuning``) and ``PreferenceTuningRun``
(``engine.stages.preference_tuning``) differ only in their data, their loss and what they measure on
held-out pairs. Everything else lives here, once: the choice between full fine-tuning and LoRA, the
jitted pure step over the optax optimiser of ``engine.train``, resuming, the tuned model's record,
and the hooks (held-out figures, samples, a stage's collapse guard) handed to the loop every
training stage shares (``engine.stages.loop``: pause and stop between steps, progress with an ETA,
and the last-good rollback when a loss, the parameters or a held-out figure stop being finite).

Unlike pretraining, the data is a small set of whole examples, not a stream of text: every array of
the set lives on the device and the step draws its batch's rows from (seed, step), so a run is
reproducible and no Python work is needed per step.

A stopped full fine-tuning run can be resumed: ``resume=`` takes the tuned model it handed on (saved
and reopened, or still in memory) together with the same base model and data. The optimiser state
and the step travel with the tuned model, the batch rows come from (seed, step) and the held-out
split from the seed, so the continuation equals an uninterrupted run bit for bit
(``tests/reliability/test_resume_tuning.py``). A LoRA run cannot be resumed exactly: its adapters
are merged into the model it hands on, so that the next stages and the checkpoint format see a plain
model, and the adapters and their optimiser moments no longer exist (``_check_resume`` says so in
words). A new LoRA run can still start from the stopped model.

At each log point the run also publishes the newest model it vouches for,
``TrainProgress.model_so_far`` (as pretraining does): the state at the previous log point, whose
successor's loss was finite and whose parameters were checked finite, with its loss history. For
full fine-tuning it carries its optimiser state, so a run that the app was killed in the middle of
continues from it exactly; for LoRA it is the merged plain model, as at the end of a run.
"""

from __future__ import annotations

import hashlib
import time
from typing import Iterable, Iterator

from engine.config import TrainConfig, replace
from engine.errors import ConfigError
from engine.events import Event, Finished, RunControl, Sample, Status, TrainProgress
from engine.stages.lora import METHOD_FULL, METHOD_LORA, METHODS, LoraConfig
from engine.trained_model import STAGES, LossHistory, TrainedModel
from engine.stages.loop import TrainingLoop, check_memory, copy_state, divergence_limit, measured_finite


class TuningRun:
    """One tuning run. Create it on any thread; iterate ``events()`` on one thread only.

    Subclasses set ``stage`` and implement ``_prepare`` (host-side checks and arrays), ``_batch_loss``
    and ``_evaluate``. ``trained`` is the tuned model once ``Finished`` has been yielded.
    """

    stage = ""  # the stage name the tuned model gets (engine.trained_model.STAGES)
    sequences_per_example = 1  # sequences the model reads per example (a preference pair has two)

    def __init__(self, base: TrainedModel, train: TrainConfig, method: str = METHOD_FULL,
                 lora: LoraConfig = LoraConfig(), control: RunControl | None = None,
                 resume: TrainedModel | None = None):
        self.base = base
        self.resume = resume  # a stopped run's tuned model from this base and data, to continue
        self.model_config = base.model_config
        self.tokenizer = base.tokenizer
        self.train_config = train
        self.method = method
        self.lora = lora
        self.control = control or RunControl()
        self.trained: TrainedModel | None = None  # set just before Finished is yielded
        self.compile_seconds: float | None = None
        self.tokens_per_second: float = 0.0  # tokens read per second of training, pauses excluded
        self.sample_prompt = ""  # a held-out prompt whose answer the Sample events show
        self.data_name = ""  # what the data is called, for the tuned model's record
        self.data_fingerprint = ""
        self._base_fingerprint = ""  # set by events(): which base model this run tunes

    # --- what a stage provides ---------------------------------------------------------------------

    def _prepare(self) -> tuple[dict, dict]:
        """Check everything (raising PlainError before any JAX work); return the (training,
        held-out) arrays as dicts of numpy arrays whose first axis is the example."""
        raise NotImplementedError

    # True: the step also gets the starting model's parameters (``reference`` in ``_batch_loss``).
    reference_in_step = False

    def _batch_loss(self, params, batch: dict, reference=None):
        """Mean loss of a batch under full ``params``: a scalar JAX array. Pure and jittable.

        ``reference``: the starting model's parameters, frozen, if ``reference_in_step`` (else None)."""
        raise NotImplementedError

    def _evaluate(self, step: int, params, val: dict) -> list[Event]:
        """Events measured on the held-out arrays; the first must be the ``ValidationLoss``."""
        raise NotImplementedError

    def _details(self) -> dict:
        """How the run went, for ``TrainedModel.details`` (the stage adds its own)."""
        details = {"method": self.method, "base_stage": self.base.stage, "base_step": int(self.base.step),
                   "base_corpus": self.base.corpus_name, "base_fingerprint": self._base_fingerprint}
        if self.method == METHOD_LORA:
            details.update(lora_rank=self.lora.rank, lora_alpha=self.lora.alpha)
        return details

    def _collapse_message(self, step: int) -> str | None:
        """A plain sentence if the held-out measurements ``_evaluate`` just took at ``step`` show the
        model has collapsed (finite numbers, but it no longer writes what it could before), else None.
        The run then ends like a diverged one and keeps the last good model."""
        return None

    @property
    def divergence_limit(self) -> float:
        # Random guessing scores ln(V) per token; a loss far above it means the model has blown up.
        return divergence_limit(self.model_config.vocab_size)

    def _check_settings(self) -> None:
        self.train_config.validate()
        if self.method not in METHODS:
            raise ConfigError(f"Unknown tuning method '{self.method}'.", "Choose full fine-tuning or LoRA.")
        if self.method == METHOD_LORA:
            self.lora.validate(self.model_config)

    def _set_data_fingerprint(self, texts: Iterable[str]) -> None:
        """Record what the data is; a resumed run must continue on exactly the data it stopped on."""
        self.data_fingerprint = data_fingerprint(texts)
        resume = self.resume
        if resume is not None and resume.corpus_fingerprint != self.data_fingerprint:
            raise ConfigError(
                "The pairs have changed since this run stopped, so it cannot continue where it left off: "
                "it would draw different pairs and check itself on different held-out ones.",
                "Undo the changes to continue the run, or start a new run with the changed pairs.")

    def _check_resume(self) -> int:
        """The step a resumed run starts from (0 for a fresh run), after refusing, in words, a tuned
        model that this run cannot continue exactly. Host-side only: runs before any training."""
        resume, train = self.resume, self.train_config
        if resume is None:
            return 0
        what = {"instruction": "instruction tuning", "preference": "preference tuning"}.get(self.stage, self.stage)
        if resume.stage != self.stage:
            came = f"the {resume.stage}" if resume.stage in STAGES else "another"  # never echo a file's text
            raise ConfigError(f"Only a stopped {what} run can be resumed here; this model comes from {came} stage.",
                              "Choose the model this tab's run handed on.")
        method = resume.details.get("method")
        if method == METHOD_LORA or self.method == METHOD_LORA:
            raise ConfigError(
                "A LoRA run cannot be resumed: when it stopped, its small add-on matrices were merged into "
                "the model and no longer exist, so it cannot continue exactly where it left off.",
                "Start a new LoRA run from the stopped model, or use full fine-tuning, which can be resumed.")
        if method != self.method:
            # Never echoes the file's text: a damaged or hostile sidecar can hold anything there.
            raise ConfigError("The run being resumed was tuned by another method than the one chosen now.",
                              "Choose the same method to continue it.")
        base = self.base
        same_base = (resume.model_config == base.model_config
                     and resume.tokenizer.to_json() == base.tokenizer.to_json()
                     and resume.details.get("base_stage") == base.stage
                     and resume.details.get("base_step") == int(base.step)
                     # Older saves lack the fingerprint; the checks above still tell most models apart.
                     and resume.details.get("base_fingerprint", self._base_fingerprint) == self._base_fingerprint)
        if not same_base:
            raise ConfigError("This run started from a different model than the one chosen now, so it cannot "
                              "continue exactly where it left off.",
                              "Choose the model it started from, or start a new run.")
        before = resume.train_config
        if (before.seed, before.val_fraction) != (train.seed, train.val_fraction):
            raise ConfigError(
                "The seed or the share of held-out pairs differs from the run being resumed: some pairs it "
                "held back to check itself would now be trained on.",
                f"Use seed {before.seed} and a held-out share of {before.val_fraction:g} to continue it.")
        if resume.step >= train.total_steps:
            taken = (f"all of its {train.total_steps} steps" if resume.step == train.total_steps
                     else f"{resume.step} steps, more than the {train.total_steps} now set")
            raise ConfigError(f"This run has already taken {taken}.", "Raise the number of steps to continue training it.")
        return int(resume.step)

    def _compile_step(self, step_fn, state, data: dict, frozen, key):
        """The compiled step ``(state, data, frozen, key, learning_rate) -> (state, loss)``, donating its
        state. One method, so a test can put a faulty step beside the real one (promise 3)."""
        import jax
        import numpy as np

        return jax.jit(step_fn, donate_argnums=0).lower(state, data, frozen, key, np.float32(0)).compile()

    # --- the loop -----------------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        yield Status("Preparing data…", "preparing")
        self._check_settings()
        self._base_fingerprint = params_fingerprint(self.base.params)
        start_step = self._check_resume()
        train_data, val_data = self._prepare()
        n_rows, length = next(iter(train_data.values())).shape[:2]
        # The batch's sequences are the model's work; a preference step reads a chosen and a rejected one.
        sequences = self.train_config.batch_size * self.sequences_per_example
        check_memory(replace(self.model_config, context_length=length),
                     replace(self.train_config, batch_size=sequences), 0)

        import jax
        import jax.numpy as jnp
        import optax

        from engine.behaviour import greedy_answers
        from engine.data.batches import TRAIN_STREAM, stream_key
        from engine.stages.lora import init_adapters, merge
        from engine.train import TrainState, init_state, make_optimizer

        cfg, train, control = self.model_config, self.train_config, self.control
        train_dev = jax.tree.map(jnp.asarray, train_data)
        val_dev = jax.tree.map(jnp.asarray, val_data)
        key = stream_key(train.seed, TRAIN_STREAM)
        optimizer = make_optimizer(train)
        lora = self.method == METHOD_LORA
        # Copies: the step donates its state, which must not delete the caller's models.
        frozen = None
        if lora:  # the base is frozen: passed to the step as data, never updated
            # One jitted program instead of a small compile per matrix (as pretraining's init_params).
            init = jax.jit(init_adapters, static_argnums=(0, 1))
            trainable = init(cfg, self.lora, jax.random.fold_in(jax.random.PRNGKey(train.seed), 5))
            frozen = copy_state(self.base.params)
            state = init_state(trainable, optimizer)
        elif self.resume is None:
            state = init_state(copy_state(self.base.params), optimizer)
        elif self.resume.opt_state is not None:  # continue from the stopped run's parameters and moments
            state = TrainState(jnp.asarray(start_step, jnp.int32), copy_state(self.resume.params),
                               copy_state(self.resume.opt_state))
        else:  # a model saved without its optimiser state: it continues, but with fresh AdamW moments
            state = init_state(copy_state(self.resume.params), optimizer, start_step)

        if frozen is None and self.reference_in_step:  # full fine-tuning that compares with its start
            frozen = copy_state(self.base.params)

        def full_params(trainable, frozen):
            return merge(frozen, trainable, self.lora) if lora else trainable

        batch_size = train.batch_size

        def step_fn(state: TrainState, data: dict, frozen, key, learning_rate):
            rows = jax.random.randint(jax.random.fold_in(key, state.step), (batch_size,), 0, n_rows)  # (B,)
            batch = jax.tree.map(lambda a: a[rows], data)  # (B, L, …)
            reference = frozen if self.reference_in_step else None
            loss, grads = jax.value_and_grad(lambda t: self._batch_loss(full_params(t, frozen), batch, reference))(
                state.params)
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            updates = jax.tree.map(lambda u: -learning_rate * u, updates)
            return TrainState(state.step + 1, optax.apply_updates(state.params, updates), opt_state), loss

        def tuned_model(at: TrainState, record: LossHistory, ended: str) -> TrainedModel:
            """The tuned model of state ``at``: what the run hands on when it ends (``ended`` is the
            reason), and at each log point its newest good state for the autosave ("interrupted")."""
            steps = int(at.step)
            details = self._details()
            details.update(steps=steps, stopped=ended)
            return TrainedModel(
                # LoRA: merged into a plain model, the only kind the next stages and the checkpoint know.
                # Merging at each log point costs little, so LoRA runs publish too: one (n_in, r) @ (r, n_out)
                # product per adapted matrix, measured at 6 ms for the shipped 4-layer model and 23 ms for
                # the largest preset on 2 cores, about 0.2% of a 10-step log interval (docs/reliability.md).
                params=full_params(at.params, frozen),
                # Full fine-tuning's optimiser state fits the model and is kept, as pretraining's is, so
                # Continue training goes on exactly; LoRA's belongs to the adapters, gone once merged.
                opt_state=None if lora else at.opt_state,
                model_config=cfg, train_config=train, tokenizer=self.tokenizer, step=steps, history=record,
                corpus_name=self.data_name, corpus_fingerprint=self.data_fingerprint, stage=self.stage,
                details=details,
            )

        yield Status("Compiling the model for this computer…", "compiling")
        started = time.perf_counter()
        compiled = self._compile_step(step_fn, state, train_dev, frozen, key)
        loop = TrainingLoop(lambda state, learning_rate: compiled(state, train_dev, frozen, key, learning_rate),
                            state, train, control, start_step=start_step,
                            history=LossHistory() if self.resume is None else self.resume.history.truncated(start_step),
                            tokens_per_step=batch_size * self.sequences_per_example * length,
                            divergence_limit=self.divergence_limit,
                            publish=lambda at, record: tuned_model(at, record, "interrupted"))
        self.compile_seconds = time.perf_counter() - started  # the step and the loop's finiteness check

        def evaluate(at: int, trainable) -> list[Event]:
            events = self._evaluate(at, full_params(trainable, frozen), val_dev)
            if all(map(measured_finite, events)):  # a broken measurement ends the run in the loop, unrecorded
                loop.history.val_steps.append(at)
                loop.history.val_losses.append(events[0].loss)
            return events

        def sample(at: int, trainable) -> list[Sample]:
            text = greedy_answers(full_params(trainable, frozen), cfg, self.tokenizer, [self.sample_prompt],
                                  min(train.sample_tokens, 64))[0]
            return [Sample(at, self.sample_prompt, text)]

        # The untrained model's figures come right after the first step, so the curve starts at once.
        loop.add_hook(evaluate, every=train.eval_every, at_start=start_step == 0)
        if self.sample_prompt:
            loop.add_hook(sample, every=train.sample_every, at_start=start_step == 0 and bool(train.sample_every))
        loop.add_guard(self._collapse_message)

        for event in loop.events():
            if isinstance(event, TrainProgress):
                self.tokens_per_second = event.tokens_per_second
            yield event
        self.trained = tuned_model(loop.state, loop.history, loop.reason)
        yield Finished(loop.step, loop.reason)


def params_fingerprint(params) -> str:
    """sha256 of a parameter tree's arrays (dtype, shape and bytes, in tree order): which model a tuned
    model was tuned from, so a resume can refuse a different starting model."""
    import jax
    import numpy as np

    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(jax.device_get(params)):
        leaf = np.ascontiguousarray(leaf)
        digest.update(f"{leaf.dtype}{leaf.shape}".encode())
        digest.update(leaf.tobytes())
    return digest.hexdigest()


def data_fingerprint(texts: Iterable[str]) -> str:
    """sha256 of the data's text, so a tuned model records what it learned from."""
    from engine.data.corpus import text_fingerprint

    return text_fingerprint("\x1e".join(texts))  # a separator no text contains


def map_rows(fn, params, data: dict, chunk: int):
    """``fn(params, rows)`` over ``data`` in chunks of ``chunk`` rows (zero-padded), concatenated and cut
    back to the real rows: held-out sets of any size are measured without one huge batch. Jittable.

    ``fn`` returns arrays whose first axis is the chunk's rows (or a tuple of them).
    """
    import jax
    import jax.numpy as jnp

    n = next(iter(data.values())).shape[0]
    n_chunks = -(-n // chunk)

    def pad(a):  # (N, …) -> (n_chunks, chunk, …); padded rows are zeros, weighted 0 everywhere
        a = jnp.concatenate([a, jnp.zeros((n_chunks * chunk - n,) + a.shape[1:], a.dtype)])
        return a.reshape((n_chunks, chunk) + a.shape[1:])

    out = jax.lax.map(lambda rows: fn(params, rows), jax.tree.map(pad, data))  # (n_chunks, chunk, …)
    return jax.tree.map(lambda a: a.reshape((n_chunks * chunk,) + a.shape[2:])[:n], out)


def token_losses(params, cfg, inputs, targets):
    """Cross-entropy of every position, (B, L): the numbers ``engine.model.loss_fn`` averages."""
    import optax

    from engine.model import forward

    logits = forward(params, inputs, cfg)  # (B, L, V)
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets)  # (B, L)
