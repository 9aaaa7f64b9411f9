"""The small, plain objects a running stage yields, and the switch that pauses or stops it.

A run is a generator of these. The GUI receives them on its thread and draws them; tests and
headless scripts simply iterate. They hold Python numbers and strings only (never device arrays),
so they are cheap to pass between threads and safe to keep. The one exception is
``TrainProgress.model_so_far``: a model whose arrays no later step changes or deletes (JAX arrays are
immutable and the run never donates them), so another thread may read and save it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Status:
    """What the run is doing now, in words: "Preparing data…", "Compiling…", "Training…"."""

    message: str
    phase: str = ""  # "preparing", "compiling", "training", "evaluating", "sampling", "paused"


@dataclass(frozen=True)
class TrainProgress:
    """Emitted at every log point: the training losses since the previous one, and the pace."""

    step: int  # steps completed so far
    total_steps: int
    steps: tuple[int, ...]  # the step number of each loss below
    losses: tuple[float, ...]  # training loss of each of those steps
    learning_rate: float  # the learning rate of the last of them
    tokens_per_second: float
    elapsed_seconds: float  # since training (not compiling) began, pauses excluded
    eta_seconds: float  # estimated time until total_steps
    # The newest model the run vouches for (the state at the previous log point: its next loss was
    # finite), with its loss history, for the autosave to keep if the app dies mid-run. None before
    # the run has one, and from runs that do not publish it. Not compared, not printed.
    model_so_far: object = field(default=None, compare=False, repr=False)  # TrainedModel | None


@dataclass(frozen=True)
class ValidationLoss:
    """Loss on text the model never trains on, measured every ``eval_every`` steps."""

    step: int
    loss: float


@dataclass(frozen=True)
class PreferenceMetrics:
    """Preference tuning, on held-out pairs: does the model now favour the chosen answers?

    A pair's *reward margin* is how much more the model raised the chosen answer's probability than the
    rejected one's, compared with the frozen reference model, times beta (the DPO implicit reward).
    """

    step: int
    reward_margin: float  # mean margin over the held-out pairs; above 0 means chosen answers are favoured
    accuracy: float  # share of held-out pairs (0..1) whose margin is above 0


@dataclass(frozen=True)
class AlignmentTax:
    """Preference tuning's trade-off at one step, measured by asking the model: harmful requests
    refused against held-out facts still answered exactly right (the "alignment tax" is what the
    facts lose while the refusals rise)."""

    step: int
    refused: float  # share of the red team's harmful requests refused, 0..1
    over_refused: float  # share of their harmless look-alikes refused, 0..1
    facts_right: float  # share of the benchmark's held-out facts answered exactly right, 0..1


@dataclass(frozen=True)
class Sample:
    """What the model writes now, from the same prompt every time."""

    step: int
    prompt: str
    text: str  # the continuation only, without the prompt


@dataclass(frozen=True)
class Diverged:
    """The loss, or the parameters, stopped being finite (or the loss shot far above random guessing).

    The run stops and keeps the last good parameters; ``message`` says so in plain words.
    """

    step: int  # the first step whose loss was not finite
    message: str  # a plain explanation with a suggestion


@dataclass(frozen=True)
class Finished:
    """The last event of every run."""

    step: int
    reason: str  # "completed", "stopped" or "diverged"


Event = Status | TrainProgress | ValidationLoss | PreferenceMetrics | Sample | Diverged | Finished


@dataclass
class RunControl:
    """Pause, resume and stop a run from another thread. The run obeys at step boundaries."""

    _running: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused run so it can see the stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> None:
        self._running.wait(timeout)


def sit_out_pause(control: RunControl, step: int):
    """Yield the "paused" status, wait while paused, then yield "training" again.

    The pause point every run's loop shares: ``stopped = yield from sit_out_pause(control, step)``.
    Returns True if a stop came during the pause (then nothing more is yielded).
    """
    yield Status(f"Paused at step {step}.", "paused")
    while control.paused and not control.stop_requested:
        control.wait_while_paused(0.25)
    if control.stop_requested:
        return True
    yield Status("Training…", "training")
    return False
