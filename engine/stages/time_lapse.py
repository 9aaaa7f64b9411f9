"""The time-lapse: what a pretraining run's model wrote, and guessed next, at points spread over the run.

A learner who only sees the finished model misses the story: gibberish, then letters, then words.
So the run keeps a few dozen small ``Snapshot``s at log points spread evenly over its steps (about
``TARGET_SNAPSHOTS``, plus the untrained model at step 0 and the last step): the step, the losses
then, the text the model wrote from the run's fixed sample prompt, and its ``TOP_K`` most likely next
tokens after that prompt with their probabilities. Each snapshot is yielded as an event (the GUI
fills its time-lapse panel live), kept on the ``TrainedModel`` (``time_lapse``) and written into the
checkpoint's JSON sidecar, so saved, session and shipped models carry their history with them.

Snapshots are cheap by construction: the text reuses the run's own sample when one is written at
the same step (same prompt, same random key), and otherwise writes ``SNAPSHOT_TOKENS`` tokens; the
guesses cost one forward pass. ``PretrainingRun.snapshot_seconds`` measures what they cost.

Everything here is plain Python (no JAX): ``to_json``/``from_json`` keep floats JSON-safe (finite or
null) and refuse anything too big or of the wrong type, because a sidecar may be damaged or forged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# About this many over a run (fewer if the log interval is coarse). With SNAPSHOT_TOKENS they cost ~2 % of
# the shipped model's pretraining (1,200 steps, small preset, BPE 768): measured 0.76 s each against 1.0 s
# a step on a busy 2-core machine (1.97 %); 40 snapshots of 80 tokens cost 5 %.
TARGET_SNAPSHOTS = 30
TOP_K = 8  # next-token guesses kept per snapshot: enough to see the distribution sharpen
SNAPSHOT_TOKENS = 40  # tokens of text per snapshot (fewer if the run's samples are shorter): a sentence or two
MAX_KEPT = 60  # a run continued several times is thinned to this many, evenly
# What an opened file may hold at most (a damaged or forged sidecar must not flood memory or the GUI).
MAX_STORED = 200
MAX_TEXT_CHARS = 4000
MAX_LABEL_CHARS = 200


@dataclass(frozen=True)
class Snapshot:
    """The model at one step of its pretraining, in plain numbers and text (also a run event)."""

    step: int  # optimiser steps taken when it was recorded (0: the untrained model)
    train_loss: float | None  # training loss of that step; None at step 0 (nothing trained yet)
    val_loss: float | None  # validation loss measured at that step, or None if none was
    prompt: str  # the fixed prompt it wrote from and guessed after
    text: str  # what it wrote after the prompt (the continuation only)
    top_tokens: tuple[tuple[str, float], ...]  # (visible token, probability), most likely first

    def to_json(self) -> dict:
        return {
            "step": int(self.step),
            "train_loss": _json_float(self.train_loss),
            "val_loss": _json_float(self.val_loss),
            "prompt": self.prompt[:MAX_TEXT_CHARS],
            "text": self.text[:MAX_TEXT_CHARS],
            "top_tokens": [[label[:MAX_LABEL_CHARS], _json_float(p) or 0.0] for label, p in self.top_tokens],
        }

    @classmethod
    def from_json(cls, data) -> "Snapshot":
        """The snapshot ``to_json`` wrote; TypeError or ValueError for anything else."""
        if not isinstance(data, dict):
            raise TypeError("a snapshot must be an object")
        step = data.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ValueError("a snapshot's step must be a whole number, 0 or more")
        prompt, text, tops = data.get("prompt", ""), data.get("text", ""), data.get("top_tokens", [])
        if not (isinstance(prompt, str) and isinstance(text, str)) or max(len(prompt), len(text)) > MAX_TEXT_CHARS:
            raise ValueError("a snapshot's text is missing or far too long")
        if not isinstance(tops, list) or len(tops) > 4 * TOP_K:
            raise ValueError("a snapshot's next-token guesses are not a short list")
        guesses = []
        for item in tops:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and len(item[0]) <= MAX_LABEL_CHARS):
                raise ValueError("a next-token guess must be [token, probability]")
            probability = _optional_float(item[1])
            if probability is None or not 0.0 <= probability <= 1.0:
                raise ValueError("a next-token probability must be between 0 and 1")
            guesses.append((item[0], probability))
        return cls(step, _optional_float(data.get("train_loss")), _optional_float(data.get("val_loss")),
                   prompt, text, tuple(guesses))


def snapshot_interval(total_steps: int, log_every: int, target: int = TARGET_SNAPSHOTS) -> int:
    """Steps between snapshots: a multiple of ``log_every`` giving at most ``target`` over the run.

    A multiple of the log interval, because only at log points does the run wait for the device and
    hold parameters it knows to be good (``engine.stages.pretraining``); in between they may still diverge.
    """
    per_snapshot = max(1, math.ceil(total_steps / max(1, target)))
    return log_every * math.ceil(per_snapshot / log_every)


def is_snapshot_step(step: int, total_steps: int, interval: int) -> bool:
    """Is a snapshot due at ``step`` (the untrained model, every ``interval`` steps, the last step)?"""
    return step % interval == 0 or step == total_steps


def top_guesses(probabilities, label_of, k: int = TOP_K) -> tuple[tuple[str, float], ...]:
    """The ``k`` most likely tokens of a (V,) probability vector as (label, probability), sorted.

    ``label_of(token_id)`` gives a token's visible label (``Tokenizer.token_label``). Ties keep the
    lower token id first, so the same model always shows the same order.
    """
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-probabilities, kind="stable")[:k]
    return tuple((str(label_of(int(i))), float(probabilities[i])) for i in order)


def truncated(snapshots, step: int) -> list[Snapshot]:
    """The snapshots up to and including ``step`` (a run continued from there, or one that diverged)."""
    return [s for s in snapshots if s.step <= step]


def thinned(snapshots, keep: int = MAX_KEPT) -> list[Snapshot]:
    """At most ``keep`` (2 or more) snapshots, evenly spread by position, always keeping the first and the last.

    A model continued again and again gathers snapshots with each run; thinning keeps the sidecar
    and the slider small while the story from start to end stays whole.
    """
    snapshots = list(snapshots)
    if len(snapshots) <= keep:
        return snapshots
    last = len(snapshots) - 1
    picks = sorted({round(i * last / (keep - 1)) for i in range(keep)})
    return [snapshots[i] for i in picks]


def time_lapse_to_json(snapshots) -> list[dict]:
    """The sidecar's ``time_lapse`` list (bounded: at most ``MAX_STORED``, evenly thinned)."""
    return [s.to_json() for s in thinned(snapshots, MAX_STORED)]


def time_lapse_from_json(data) -> tuple[Snapshot, ...]:
    """The snapshots of a sidecar's ``time_lapse`` (None or missing: an older file, so none).

    Raises TypeError or ValueError for a damaged list: too long, wrong types, or steps not increasing.
    """
    if data is None:
        return ()
    if not isinstance(data, list) or len(data) > MAX_STORED:
        raise ValueError("the time-lapse must be a list of at most a few hundred snapshots")
    snapshots = tuple(Snapshot.from_json(item) for item in data)
    if any(a.step >= b.step for a, b in zip(snapshots, snapshots[1:])):
        raise ValueError("the time-lapse's steps must increase")
    return snapshots


def nearest_index(snapshots, step: float) -> int:
    """Index of the snapshot whose step is closest to ``step`` (the earlier one on a tie); -1 if none."""
    if not snapshots:
        return -1
    return min(range(len(snapshots)), key=lambda i: (abs(snapshots[i].step - step), i))


def _json_float(value) -> float | None:
    """A float JSON can hold everywhere (finite), or None: NaN and infinities have no JSON spelling."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _optional_float(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("a snapshot's number is not a finite number")
    return float(value)
