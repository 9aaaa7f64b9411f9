"""The pretraining time-lapse: snapshots at the expected steps, that change as the model learns, and that
survive saving, sessions and damaged files (``engine/stages/time_lapse.py``, ``engine/stages/pretraining.py``)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from engine.stages import time_lapse
from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.config import ModelConfig, TrainConfig
from engine.data.corpus import Corpus
from engine.errors import CheckpointError
from engine.events import Finished, Sample
from engine.stages.pretraining import PretrainingRun
from engine.session.archive import checkpoint_from_bytes, checkpoint_to_bytes
from engine.stages.time_lapse import Snapshot
from engine.tokenizer import TokenizerSpec
from tests.engine.conftest import make_text

pytestmark = pytest.mark.timeout(300)

MODEL = ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32)
# 50 steps logged every 5: a snapshot every 5 steps (50 / TARGET_SNAPSHOTS rounds up to one log interval).
TRAIN = TrainConfig(batch_size=8, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=5, total_steps=50,
                    log_every=5, eval_every=25, eval_batches=4, sample_every=25, sample_tokens=30, seed=3)
CORPUS = Corpus("tiny test corpus", make_text(), "test")


@pytest.fixture(scope="module")
def run_and_events():
    run = PretrainingRun(CORPUS, TokenizerSpec("char"), MODEL, TRAIN)
    events = list(run.events())
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed"
    return run, events


def test_a_run_records_a_snapshot_at_every_planned_step_as_events_and_on_the_model(run_and_events):
    run, events = run_and_events
    snapshots = [e for e in events if isinstance(e, Snapshot)]
    assert [s.step for s in snapshots] == list(range(0, 51, 5))
    assert run.trained.time_lapse == tuple(snapshots)
    assert run.snapshot_seconds > 0.0
    # The losses are the run's own: training loss at the snapshot's step, validation where it was measured.
    history = run.trained.history
    by_step = dict(zip(history.train_steps, history.train_losses))
    assert snapshots[0].train_loss is None  # the untrained model has not trained a step
    assert all(s.train_loss == by_step[s.step] for s in snapshots[1:])
    measured = dict(zip(history.val_steps, history.val_losses))
    assert {s.step: s.val_loss for s in snapshots if s.val_loss is not None} == measured == \
           {0: measured[0], 25: measured[25], 50: measured[50]}


def test_what_the_model_wrote_changes_and_matches_the_runs_own_samples(run_and_events):
    _run, events = run_and_events
    snapshots = {e.step: e for e in events if isinstance(e, Snapshot)}
    samples = {e.step: e for e in events if isinstance(e, Sample)}
    assert len({s.text for s in snapshots.values()}) >= 5, "the text should change as the model learns"
    assert snapshots[0].text != snapshots[50].text
    for step, sample in samples.items():  # a sample written at a snapshot's step is reused, not redrawn
        assert snapshots[step].prompt == sample.prompt
        assert sample.text.startswith(snapshots[step].text) and snapshots[step].text
    # Learning shows in the letters: more of what the trained model writes are pairs the corpus has.
    corpus = make_text()
    pairs = {corpus[i:i + 2] for i in range(len(corpus) - 1)}

    def known_pairs(text: str) -> float:
        return sum(text[i:i + 2] in pairs for i in range(len(text) - 1)) / max(len(text) - 1, 1)

    assert known_pairs(snapshots[50].text) > known_pairs(snapshots[0].text) + 0.2


def test_the_next_token_guesses_are_sorted_probabilities_that_sharpen(run_and_events):
    run, _events = run_and_events
    for snap in run.trained.time_lapse:
        probabilities = [p for _label, p in snap.top_tokens]
        assert len(snap.top_tokens) == time_lapse.TOP_K
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(0.0 <= p <= 1.0 for p in probabilities) and sum(probabilities) <= 1.0 + 1e-9
        assert all(isinstance(label, str) and label for label, _p in snap.top_tokens)
    first, last = run.trained.time_lapse[0], run.trained.time_lapse[-1]
    # Untrained, the model spreads its guesses over the whole vocabulary; trained, it is sure of a few.
    assert first.top_tokens[0][1] < 2.5 / run.trained.model_config.vocab_size
    assert last.top_tokens[0][1] > 3 * first.top_tokens[0][1]


def test_snapshots_round_trip_through_a_checkpoint_and_a_session(run_and_events, tmp_path):
    trained = run_and_events[0].trained
    loaded = load_checkpoint(save_checkpoint(trained, tmp_path / "m"))
    assert loaded.time_lapse == trained.time_lapse
    sidecar = json.loads((tmp_path / "m.json").read_text())
    assert len(sidecar["time_lapse"]) == len(trained.time_lapse)
    shipped = load_checkpoint(save_checkpoint(trained, tmp_path / "shipped", for_shipping=True))
    assert shipped.time_lapse == trained.time_lapse
    weights, description = checkpoint_to_bytes(trained, "s.safetensors")
    assert checkpoint_from_bytes(weights, description, "s.safetensors").time_lapse == trained.time_lapse


def test_a_model_without_snapshots_is_saved_as_before_and_opens_with_none(run_and_events, tmp_path):
    old = dataclasses.replace(run_and_events[0].trained, time_lapse=())
    save_checkpoint(old, tmp_path / "old")
    assert "time_lapse" not in json.loads((tmp_path / "old.json").read_text())
    assert load_checkpoint(tmp_path / "old").time_lapse == ()


@pytest.mark.parametrize("damage", [
    "not a list", [{"step": -1}], [{"step": 1, "top_tokens": [["a", 1.5]]}], [{"step": 1, "top_tokens": [["a", None]]}],
    [{"step": 1, "text": "x" * (time_lapse.MAX_TEXT_CHARS + 1)}], [{"step": 2}, {"step": 1}],
    [{"step": i} for i in range(time_lapse.MAX_STORED + 1)], [{"step": 1, "train_loss": "low"}],
])
def test_a_damaged_time_lapse_is_refused_in_words(run_and_events, tmp_path, damage):
    save_checkpoint(run_and_events[0].trained, tmp_path / "m")
    sidecar_path = tmp_path / "m.json"
    sidecar = json.loads(sidecar_path.read_text())
    sidecar["time_lapse"] = damage
    sidecar_path.write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="training record is damaged"):
        load_checkpoint(tmp_path / "m")


def test_continuing_a_run_keeps_its_snapshots_and_adds_new_ones(run_and_events):
    trained = run_and_events[0].trained
    more = PretrainingRun(CORPUS, TokenizerSpec("char"), MODEL, dataclasses.replace(TRAIN, total_steps=60),
                          resume=trained)
    new = [e for e in more.events() if isinstance(e, Snapshot)]
    assert [s.step for s in new] == [55, 60]  # the snapshot at step 50 came with the model
    assert more.trained.time_lapse == trained.time_lapse + tuple(new)


def test_json_floats_are_finite_or_null_and_sizes_are_bounded():
    snap = Snapshot(3, math.nan, math.inf, "The ", "cat", (("a", 0.5), ("b", 0.25)))
    data = json.loads(json.dumps(snap.to_json(), allow_nan=False))  # strict JSON: no NaN or Infinity
    assert data["train_loss"] is None and data["val_loss"] is None
    assert Snapshot.from_json(data) == dataclasses.replace(snap, train_loss=None, val_loss=None)
    many = [dataclasses.replace(snap, step=i) for i in range(1000)]
    assert len(time_lapse.time_lapse_to_json(many)) == time_lapse.MAX_STORED


@pytest.mark.parametrize("total, log_every", [(50, 5), (400, 10), (1200, 10), (1200, 50), (2000, 10), (7, 1),
                                              (100_000, 10)])
def test_snapshots_are_spread_over_the_run_and_capped(total, log_every):
    interval = time_lapse.snapshot_interval(total, log_every)
    steps = [s for s in range(total + 1) if time_lapse.is_snapshot_step(s, total, interval)]
    assert interval % log_every == 0  # only at log points, where the parameters are known to be good
    assert steps[0] == 0 and steps[-1] == total
    assert len(steps) <= time_lapse.TARGET_SNAPSHOTS + 2
    if total >= time_lapse.TARGET_SNAPSHOTS * log_every:
        assert len(steps) >= time_lapse.TARGET_SNAPSHOTS // 2


def test_thinning_keeps_the_first_and_last_and_spreads_the_rest():
    snaps = [Snapshot(i, None, None, "", "", ()) for i in range(0, 1000, 10)]
    kept = time_lapse.thinned(snaps, 10)
    assert len(kept) == 10 and kept[0] is snaps[0] and kept[-1] is snaps[-1]
    gaps = [b.step - a.step for a, b in zip(kept, kept[1:])]
    assert max(gaps) - min(gaps) <= 10
    assert time_lapse.thinned(snaps[:5], 10) == snaps[:5]
    assert time_lapse.nearest_index(snaps, 14) == 1 and time_lapse.nearest_index(snaps, 15) == 1
    assert time_lapse.nearest_index([], 3) == -1
