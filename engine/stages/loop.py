"""The training loop every training stage shares: compiled steps in, events out, hooks every N steps.

    loop = TrainingLoop(step, state, train, control, tokens_per_step=B * L, divergence_limit=...)
    loop.add_hook(evaluate, every=train.eval_every, at_start=True)  # fn(step, params) -> list of events
    loop.add_hook(sample, every=train.sample_every)
    loop.add_guard(collapsed)        # fn(step) -> a sentence that ends the run, or None
    yield from loop.events()         # Status("Training…"), TrainProgress, the hooks' events, …
    loop.state, loop.step, loop.history, loop.reason   # where it ended: "completed", "stopped", "diverged"

Pretraining (``engine.stages.pretraining``) and the two tuning stages (``engine.stages.tuning_run``) build their
data, their compiled step ``(state, learning_rate) -> (state, loss)`` and their hooks (held-out loss,
samples, the time-lapse's snapshots); this loop is what they have in common (Levanter's
``training_steps()`` with ``add_hook(fn, every=N)`` is the model). Each pass of ``events()``:

1. stops or sits out a pause (``RunControl``) between steps;
2. runs one step; its loss stays on the device, so steps follow each other without waiting;
3. at a *log point* (the first step, every ``log_every``, the last, or when paused or stopped) reads
   the window's losses back at once and checks them, and the parameters, for NaN, Inf or a loss
   worse than random guessing (``divergence_limit``);
4. yields ``TrainProgress``, the step info, which carries the newest model the run vouches for
   (``model_so_far``, from ``publish``) for the GUI's autosave;
5. runs the hooks that are due: at the first log point the ``at_start`` ones on the starting model
   (so the curve starts at once), then those whose ``every`` divides the step (and all of them at the
   last step) or whose ``when(step)`` is true; then the guards.

The last-good rollback window: the loss of step k is measured with the parameters left by step
k-1, so a state is known to be good only once the next step's loss is. ``candidate`` is the state at
the latest log point (not yet vouched for), ``last_good`` the one before it, vouched for by its
successor. A bad loss, bad parameters, a hook's non-finite measurement or a guard's sentence ends
the run with ``Diverged`` and goes back to one of them; the history is cut back to it and the
``on_rollback`` functions hear of it (pretraining cuts its time-lapse). Nothing broken is plotted
or kept.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from engine.config import ModelConfig, TrainConfig, estimate_memory_bytes
from engine.data.corpus import available_memory_bytes
from engine.errors import ConfigError
from engine.events import (Diverged, Event, PreferenceMetrics, RunControl, Status, TrainProgress, ValidationLoss,
                           sit_out_pause)
from engine.trained_model import LossHistory, TrainedModel


@dataclass(frozen=True)
class Hook:
    """``fn(step, params) -> list of events``, run at the log points it is due at."""

    fn: Callable
    every: int = 0  # at multiples of ``every`` and at the last step (0: never on a schedule)
    when: Callable[[int], bool] | None = None  # or whenever ``when(step)`` is true
    at_start: bool = False  # also once on the starting model, at the first log point

    def due(self, step: int, total_steps: int) -> bool:
        if self.when is not None and self.when(step):
            return True
        return bool(self.every) and (step % self.every == 0 or step == total_steps)


class TrainingLoop:
    """Steps a ``TrainState`` through ``train.total_steps``, yielding events. Iterate ``events()`` once."""

    def __init__(self, step: Callable, state, train: TrainConfig, control: RunControl, *, tokens_per_step: int,
                 divergence_limit: float, start_step: int = 0, history: LossHistory | None = None,
                 publish: Callable[[object, LossHistory], TrainedModel] | None = None):
        """``step(state, learning_rate) -> (state, loss)`` is compiled and donates its state;
        ``publish(state, history)`` makes the model at a vouched-for state, for ``model_so_far``."""
        self.step_fn = step
        self.state = state
        self.train, self.control = train, control
        self.start_step = self.step = start_step
        self.history = history if history is not None else LossHistory()
        self.tokens_per_step = tokens_per_step
        self.divergence_limit = divergence_limit
        self.publish = publish
        self.hooks: list[Hook] = []
        self.guards: list[Callable[[int], str | None]] = []
        self.rollback_hooks: list[Callable[[int, int], None]] = []
        self.reason = "completed"
        self.warm_seconds, self.warm_steps = 0.0, 0  # stepping time after the first log point (it compiles)
        # A step whose gradients are NaN or Inf leaves its own loss finite (it was measured before the
        # update): only the next loss, or the parameters themselves, show it. At each log point the
        # parameters are checked too, so a broken model is never evaluated, sampled or kept.
        import jax
        import jax.numpy as jnp

        self.params_finite = jax.jit(
            lambda tree: jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))
        ).lower(state.params).compile()

    def add_hook(self, fn: Callable, every: int = 0, when: Callable[[int], bool] | None = None,
                 at_start: bool = False) -> None:
        """Run ``fn(step, params) -> list of events`` at the log points it is due at (``Hook``), in
        the order hooks were added. A ``ValidationLoss`` or ``PreferenceMetrics`` that is not finite
        ends the run as a diverged one."""
        self.hooks.append(Hook(fn, every, when, at_start))

    def add_guard(self, fn: Callable[[int], str | None]) -> None:
        """After the hooks' measurements, ``fn(step)`` may return a sentence that ends the run as a
        diverged one (finite numbers, but a broken model); None lets it go on."""
        self.guards.append(fn)

    def on_rollback(self, fn: Callable[[int, int], None]) -> None:
        """``fn(kept_step, bad_step)`` runs when the run goes back to a last good state."""
        self.rollback_hooks.append(fn)

    def _roll_back(self, state, bad_step: int, message: str) -> Diverged:
        self.state = state
        self.step = int(state.step)
        self.history = self.history.truncated(self.step)
        for fn in self.rollback_hooks:
            fn(self.step, bad_step)
        self.reason = "diverged"
        return Diverged(bad_step, message)

    def _due_hooks(self, first: bool, initial):
        """(hook, step, params) for each hook due at this log point, in order: at the first one the
        ``at_start`` hooks on the starting model, then those due now. Asked one at a time, so a stop
        requested while the first hooks run counts for the later ones."""
        if first:
            yield from ((hook, self.start_step, initial.params) for hook in self.hooks if hook.at_start)
        for hook in self.hooks:
            if hook.due(self.step, self.train.total_steps):
                yield hook, self.step, self.state.params

    def events(self) -> Iterator[Event]:
        import jax
        import jax.numpy as jnp
        import numpy as np

        from engine.train import learning_rate_at

        train, control = self.train, self.control
        last_good = candidate = initial = copy_state(self.state)  # the rollback window (module docstring)
        yield Status("Training…", "training")
        pending: list = []  # device scalars of losses not yet read back
        pending_steps: list[int] = []
        train_seconds = 0.0  # time spent stepping, excluding hooks and pauses
        busy_seconds = 0.0  # wall time since training started, excluding pauses (for the ETA)
        mark = time.perf_counter()
        while self.step < train.total_steps:
            if control.stop_requested:
                self.reason = "stopped"
                break
            if control.paused:
                busy_seconds += time.perf_counter() - mark
                if (yield from sit_out_pause(control, self.step)):
                    self.reason = "stopped"
                    break
                mark = time.perf_counter()

            self.state, loss = self.step_fn(self.state, np.float32(learning_rate_at(train, self.step)))
            self.step += 1
            step = self.step
            pending.append(loss)
            pending_steps.append(step)

            first = step == self.start_step + 1  # the first point appears at once, also after a resume
            if not (first or step % train.log_every == 0 or step == train.total_steps
                    or control.paused or control.stop_requested):
                continue
            losses, params_ok = jax.device_get((jnp.stack(pending), self.params_finite(self.state.params)))  # waits
            losses = np.asarray(losses, dtype=np.float64)
            now = time.perf_counter()
            train_seconds += now - mark
            busy_seconds += now - mark
            if not first:
                self.warm_seconds += now - mark
                self.warm_steps += len(pending)
            mark = now
            bad = np.flatnonzero(~np.isfinite(losses) | (losses > self.divergence_limit))
            if bad.size or not params_ok:
                if bad.size:
                    bad_step = pending_steps[int(bad[0])]
                    # The candidate produced the window's first loss; if that one was fine, so is it.
                    kept = candidate if bad[0] > 0 else last_good
                    message = divergence_message(losses[bad[0]], bad_step, train.learning_rate)
                else:  # every loss was fine, so the window's last update broke the parameters
                    bad_step, kept = step, candidate
                    message = divergence_message(math.nan, bad_step, train.learning_rate, in_parameters=True)
                yield self._roll_back(kept, bad_step, message)
                break
            last_good, candidate = candidate, copy_state(self.state)
            history = self.history
            history.train_steps.extend(pending_steps)
            history.train_losses.extend(losses.tolist())
            # ``last_good`` is a copy no step donates, so the GUI may autosave it while training goes
            # on. Nothing new before the first log point past the start (that is the starting model).
            good_step = int(last_good.step)
            so_far = None if good_step == self.start_step or self.publish is None else self.publish(
                last_good, history.truncated(good_step))
            done_here = step - self.start_step
            yield TrainProgress(
                step=step, total_steps=train.total_steps, steps=tuple(pending_steps),
                losses=tuple(losses.tolist()), learning_rate=learning_rate_at(train, step - 1),
                tokens_per_second=done_here * self.tokens_per_step / max(train_seconds, 1e-9),
                elapsed_seconds=busy_seconds,
                eta_seconds=(train.total_steps - step) * busy_seconds / max(done_here, 1),
                model_so_far=so_far,
            )
            pending, pending_steps = [], []

            extra: list[Event] = []
            broken = None
            for hook, at, params in self._due_hooks(first, initial):  # a broken measurement stops them
                made = hook.fn(at, params)
                extra += made
                broken = next((e for e in made if not measured_finite(e)), None)
                if broken is not None:
                    break
            collapsed = None
            if broken is None:
                collapsed = next((m for m in (guard(step) for guard in self.guards) if m is not None), None)
            if collapsed is not None:
                # Finite, but the model is broken in a way a guard can read (preference tuning can
                # stop writing answers at all): keep the last model vouched for, and say why.
                yield self._roll_back(last_good, step, collapsed)
                break
            if broken is not None:
                # Finite parameters can still measure as NaN or Inf on held-out data (numbers so large
                # that the model's sums overflow). That model is not kept, and neither its figures nor
                # what it wrote reach the GUI: the run ends as a diverged one, with the state before it.
                yield from (e for e in extra if e.step < broken.step)
                yield self._roll_back(last_good, broken.step, divergence_message(
                    getattr(broken, "loss", math.nan), broken.step, train.learning_rate))
                break
            if extra:
                yield from extra
                now = time.perf_counter()
                busy_seconds += now - mark
                mark = now


def measured_finite(event: Event) -> bool:
    """Whether a measurement event carries only finite numbers (other events always do)."""
    if isinstance(event, ValidationLoss):
        return math.isfinite(event.loss)
    if isinstance(event, PreferenceMetrics):
        return math.isfinite(event.reward_margin) and math.isfinite(event.accuracy)
    return True


def divergence_limit(vocab_size: int) -> float:
    """Random guessing scores ln(V) per token. A loss far above that means the model has blown up, even
    when the numbers are still finite (AdamW keeps huge learning rates finite for a while)."""
    return 1.5 * math.log(vocab_size) + 1.0


def divergence_message(loss: float, step: int, learning_rate: float, in_parameters: bool = False) -> str:
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


_copy_program = None  # the jitted copy, made at first use (this module does not import jax)


def copy_state(state):
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


def check_memory(model: ModelConfig, train: TrainConfig, n_tokens: int) -> None:
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
