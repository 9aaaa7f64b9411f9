"""Fixtures for GUI tests: a fresh settings file per test, the main window, and a tiny trained model."""

from __future__ import annotations

import pytest

from engine.data.corpus import Corpus
from engine.session.archive import discard_autosave
from engine.user_paths import config_dir
from gui.settings import SETTINGS_FILE_NAME

RUN_TIMEOUT_MS = 180_000  # compiling and training a tiny model on 2 busy cores
UI_TIMEOUT_MS = 30_000  # reading, tokenizing and measuring in the background


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test starts with no remembered zoom, tab, geometry or choices, and no autosaved session.

    Every window autosaves when it closes: without the discard, the next test's start-up would find
    this test's session.
    """
    path = config_dir() / SETTINGS_FILE_NAME
    path.unlink(missing_ok=True)
    discard_autosave()
    yield path
    path.unlink(missing_ok=True)
    discard_autosave()


@pytest.fixture
def keep_votes_and_ratings():
    """Opening a session adds its votes and ratings to the user's files: put them back afterwards."""
    from engine.evaluation.benchmark import ratings_path
    from gui.preference_tab import votes_path

    kept = {path: path.read_bytes() if path.exists() else None for path in (votes_path(), ratings_path())}
    yield
    for path, data in kept.items():
        path.unlink(missing_ok=True)
        if data is not None:
            path.write_bytes(data)


def window_idle(window) -> bool:
    """Nothing is loading, measuring, opening or testing in the background."""
    return not (window.data_tab.busy or window.pretraining_tab.busy or window.session.busy
                or window.evaluation_tab.busy)


@pytest.fixture
def make_window(qtbot):
    """A factory for main windows (tests of remembered state need two); all are closed at the end."""
    from gui.main_window import MainWindow

    windows = []

    def make(**kwargs):
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitUntil(lambda: not (window.pretraining_tab.busy or window.data_tab.busy or window.evaluation_tab.busy),
                        timeout=UI_TIMEOUT_MS)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()  # stops any run and waits for every worker (the thread check verifies it)


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def tab(window):
    return window.pretraining_tab


def set_tiny_settings(tab, configs, total_steps: int | None = None) -> None:
    from engine.config import replace

    train = configs.train if total_steps is None else replace(configs.train, total_steps=total_steps)
    tab.settings_panel.set_configs(configs.model, train)
    assert tab.settings_panel.problem() is None


@pytest.fixture(scope="session")
def trained_model():
    """A tiny model trained once, headless, through the real engine; tests hand it to the GUI."""
    from engine.config import ModelConfig, TrainConfig
    from engine.stages.pretraining import PretrainingRun
    from engine.tokenizer import TokenizerSpec

    text = "\n".join(f"the cat sat on the mat number {i}. the dog ran home." for i in range(300))
    run = PretrainingRun(
        Corpus("cats and dogs", text, "test"),
        TokenizerSpec("char"),
        ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32),
        TrainConfig(batch_size=8, learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=5, total_steps=20,
                    log_every=5, eval_every=10, eval_batches=2, sample_every=0, seed=1),
    )
    events = list(run.events())
    assert events[-1].reason == "completed"
    return run.trained


@pytest.fixture(scope="session")
def world_base():
    """An untrained tiny model whose character tokenizer knows every character of the bundled sets."""
    import jax

    from engine.config import ModelConfig, TrainConfig
    from engine.data.corpus import SAMPLE_CORPORA_DIR
    from engine.model import init_params
    from engine.tokenizer import CharTokenizer
    from engine.trained_model import LossHistory, TrainedModel

    text = "".join((SAMPLE_CORPORA_DIR / name).read_text(encoding="utf-8") for name in (
        "fictional_world.txt", "fictional_world_instructions.jsonl", "fictional_world_benchmark.jsonl",
        "fictional_world_preferences.jsonl", "fictional_world_red_team.jsonl"))
    tokenizer = CharTokenizer.train(text)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, n_layers=1, n_heads=2, d_model=32, context_length=64)
    return TrainedModel(init_params(cfg, jax.random.PRNGKey(0)), None, cfg, TrainConfig(), tokenizer, 100,
                        LossHistory(), corpus_name="a fictional world")
