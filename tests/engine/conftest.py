"""Fixtures for engine tests: tiny configurations that train in seconds on 2 cores."""

import os
import tempfile

os.environ.setdefault("TRAINING_EXPLORER_HOME", tempfile.mkdtemp(prefix="te-test-home-"))

import pytest  # noqa: E402

from engine.config import ModelConfig, TrainConfig  # noqa: E402
from engine.data.corpus import Corpus  # noqa: E402

# Short sentences, repeated with variation: a tiny model learns the pattern within 50 steps.
_WORDS = "the cat sat on a mat and the dog ran to the red house by the sea".split()


def make_text(n_sentences: int = 400, seed: int = 0) -> str:
    import random

    rng = random.Random(seed)
    lines = []
    for _ in range(n_sentences):
        start = rng.randrange(len(_WORDS) - 6)
        lines.append(" ".join(_WORDS[start:start + 6]) + ".")
    return "\n".join(lines) + "\n"


@pytest.fixture
def tiny_corpus() -> Corpus:
    return Corpus("tiny test corpus", make_text(), "test")


@pytest.fixture
def tiny_model() -> ModelConfig:
    return ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32)


@pytest.fixture
def tiny_train() -> TrainConfig:
    return TrainConfig(batch_size=8, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=5,
                       total_steps=50, log_every=5, eval_every=25, eval_batches=4, sample_every=0, seed=3)
