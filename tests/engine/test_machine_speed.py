"""The size menu's time estimates: a short or noisy run must not make them jump (issue 15)."""

from __future__ import annotations

import pytest

from engine import machine_speed
from engine.config import PRESETS, flops_per_token


@pytest.fixture
def fresh_speed_file(tmp_path, monkeypatch):
    monkeypatch.setattr(machine_speed, "_path", lambda: tmp_path / "machine_speed.json")
    monkeypatch.setattr(machine_speed, "measure_matmul_flops", lambda seconds=0.5: 1e9)


def _tokens_per_second(flops: float) -> float:
    return flops / flops_per_token(PRESETS[0].model)


def test_a_run_timed_for_only_a_moment_does_not_change_the_estimate(fresh_speed_file):
    tiny = PRESETS[0]
    before = machine_speed.measured_training_flops()
    # Stopped at step 10: a second of stepping, mostly a warm-up, says little about the machine.
    machine_speed.record_training_speed(tiny.model, tiny.train, _tokens_per_second(before / 8), seconds_timed=1.0)
    assert machine_speed.measured_training_flops() == before


def test_one_slow_run_among_steady_ones_does_not_move_the_estimate(fresh_speed_file):
    tiny = PRESETS[0]
    for flops in (4e10, 4.2e10, 3.9e10):
        machine_speed.record_training_speed(tiny.model, tiny.train, _tokens_per_second(flops), seconds_timed=30.0)
    steady = machine_speed.measured_training_flops()
    assert 3.9e10 <= steady <= 4.2e10
    # The computer was busy with something else during one run: a quarter of the speed.
    machine_speed.record_training_speed(tiny.model, tiny.train, _tokens_per_second(1e10), seconds_timed=30.0)
    assert machine_speed.measured_training_flops() == pytest.approx(steady, rel=0.05)
    # Later runs are what the estimate follows; the oldest are forgotten.
    for _ in range(machine_speed.RUNS_REMEMBERED):
        machine_speed.record_training_speed(tiny.model, tiny.train, _tokens_per_second(8e10), seconds_timed=30.0)
    assert machine_speed.measured_training_flops() == pytest.approx(8e10)
