"""How fast this computer trains, measured rather than assumed, for the time estimates beside presets.

The first time, a half-second numpy matmul test measures the machine; training reaches only part of
that (``FIRST_GUESS_EFFICIENCY``) until a real run has been timed. Every run that trained for more
than a few seconds then records the FLOP/s it actually sustained (compilation left out), and the
estimate is the median of the latest few, so estimates converge on what this machine really does and
do not jump from one run to the next. The figures are
kept in the user's cache folder. Nothing here imports JAX.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np

from engine.config import ModelConfig, TrainConfig, flops_per_token
from engine.user_paths import cache_dir

# Until a run has been timed: the share of matmul peak that training reached on 2-core test machines
# (it measured 0.55-0.65). Replaced by the real figure after the first run.
FIRST_GUESS_EFFICIENCY = 0.5
MIN_SECONDS_TIMED = 3.0  # a run's speed measured over less than this is not recorded
RUNS_REMEMBERED = 5  # the estimate is the median of this many latest runs
_LOCK = threading.Lock()


def _path():
    return cache_dir() / "machine_speed.json"


def _read() -> dict:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(data: dict) -> None:
    from engine.checkpoint import write_atomically

    try:
        write_atomically(_path(), json.dumps(data).encode("utf-8"))
    except OSError:
        pass  # an estimate that is not remembered is measured again next time; nothing is lost


def measure_matmul_flops(seconds: float = 0.5) -> float:
    """Sustained float32 FLOP/s of matmuls shaped like a small model's (768 tokens x width 128)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((768, 128), dtype=np.float32)
    b = rng.standard_normal((128, 512), dtype=np.float32)
    a @ b  # warm up the BLAS threads
    rates = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        rates.append(10 * 2 * 768 * 128 * 512 / max(time.perf_counter() - start, 1e-9))
    return float(np.median(rates))


def measured_training_flops() -> float:
    """FLOP/s this machine sustains when training. Measures once (~0.5 s), then remembers."""
    with _LOCK:
        data = _read()
        if isinstance(data.get("training_flops"), (int, float)) and data["training_flops"] > 0:
            return float(data["training_flops"])
        if data.get("matmul_flops", 0) <= 0:
            data["matmul_flops"] = measure_matmul_flops()
            _write(data)
        return float(data["matmul_flops"]) * FIRST_GUESS_EFFICIENCY


def record_training_speed(model: ModelConfig, train: TrainConfig, tokens_per_second: float,
                          seconds_timed: float) -> None:
    """Fold a real run's speed into the estimate.

    ``seconds_timed`` is how long the speed was measured over (the run leaves out its first step,
    which compiles). A run stopped after a few seconds says little and is ignored; the estimate is the
    median of the last few runs, so one noisy run cannot move it (the size menu's times once jumped
    between "under a minute", 2 and 8 min from one run to the next).
    """
    if not tokens_per_second > 0 or not seconds_timed >= MIN_SECONDS_TIMED:
        return
    flops = tokens_per_second * flops_per_token(model)
    with _LOCK:
        data = _read()
        recent = [f for f in data.get("recent_training_flops", []) if isinstance(f, (int, float)) and f > 0]
        old = data.get("training_flops", 0)
        if not recent and isinstance(old, (int, float)) and old > 0:
            recent = [float(old)]  # from before the median was kept
        recent = (recent + [flops])[-RUNS_REMEMBERED:]
        data["recent_training_flops"] = recent
        data["training_flops"] = float(np.median(recent))
        data["runs_timed"] = int(data.get("runs_timed", 0)) + 1
        _write(data)
