"""Every bad input gets one plain message in the message bar, and the current model survives it."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog

from engine.data.corpus import DEFAULT_CORPUS_KEY, SAMPLE_CORPORA_DIR, text_fingerprint
from gui.widgets.corpus_panel import OPEN_FILE_LABEL
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS, set_tiny_settings

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def tab_with_model(tab, trained_model):
    tab.controller.set_model(trained_model)
    return tab


def _choose_file_through_the_menu(qtbot, tab, monkeypatch, path):
    """What a user does: pick "Open text file…" in the corpus menu and choose ``path`` in the dialog."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    combo = tab.corpus_panel.corpus_combo
    combo.activated.emit(combo.findText(OPEN_FILE_LABEL))
    qtbot.waitUntil(lambda: not tab.corpus_panel.busy, timeout=UI_TIMEOUT_MS)


def _assert_plain(message: str) -> None:
    assert message and "Traceback" not in message and "File \"" not in message


def _assert_nothing_lost(tab, model):
    """The model, and the corpus curated in the Data tab (the default world's text), are still in use."""
    assert tab.controller.current_model is model
    assert tab.corpus_panel.using_curated
    default_text = (SAMPLE_CORPORA_DIR / f"{DEFAULT_CORPUS_KEY}.txt").read_text(encoding="utf-8")
    assert tab.corpus_panel.corpus.fingerprint == text_fingerprint(default_text)
    assert tab.corpus_panel.corpus_combo.currentText().endswith(tab.corpus_panel.corpus.name)


def test_an_empty_file(qtbot, tab_with_model, trained_model, tmp_path, monkeypatch):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    _choose_file_through_the_menu(qtbot, tab_with_model, monkeypatch, path)
    bar = tab_with_model.message_bar
    assert bar.level() == "error" and "empty" in bar.text()
    _assert_plain(bar.text())
    _assert_nothing_lost(tab_with_model, trained_model)


def test_a_binary_file(qtbot, tab_with_model, trained_model, tmp_path, monkeypatch):
    path = tmp_path / "picture.txt"
    path.write_bytes(bytes(range(256)) * 64)
    _choose_file_through_the_menu(qtbot, tab_with_model, monkeypatch, path)
    bar = tab_with_model.message_bar
    assert bar.level() == "error" and "not a text file" in bar.text()
    _assert_plain(bar.text())
    _assert_nothing_lost(tab_with_model, trained_model)


def test_a_file_too_large_for_this_computers_memory(qtbot, tab_with_model, trained_model, tmp_path, monkeypatch):
    from engine.data import corpus as corpus_module

    path = tmp_path / "huge.txt"
    path.write_text("a perfectly good line of text\n" * 2000)
    # Pretend the computer has 1 MB free, so this 60 kB file would need more than that once tokenised.
    monkeypatch.setattr(corpus_module, "available_memory_bytes", lambda: 2**20 // 2)
    _choose_file_through_the_menu(qtbot, tab_with_model, monkeypatch, path)
    bar = tab_with_model.message_bar
    assert bar.level() == "error" and "memory" in bar.text() and "shorter part" in bar.text()
    _assert_plain(bar.text())
    _assert_nothing_lost(tab_with_model, trained_model)


def test_a_file_that_is_not_utf8_offers_other_encodings(qtbot, tab_with_model, trained_model, tmp_path,
                                                        monkeypatch):
    path = tmp_path / "old.txt"
    path.write_bytes(("Le café où l'on mange une crème brûlée.\n" * 200).encode("latin-1"))
    _choose_file_through_the_menu(qtbot, tab_with_model, monkeypatch, path)
    bar = tab_with_model.message_bar
    assert bar.level() == "warning" and "UTF-8" in bar.text()
    assert bar.action_labels() == ["Read as latin-1", "Read as utf-16"]
    _assert_plain(bar.text())
    _assert_nothing_lost(tab_with_model, trained_model)

    panel = tab_with_model.corpus_panel
    with qtbot.waitSignal(panel.corpus_changed, timeout=UI_TIMEOUT_MS):
        bar.action_button("Read as latin-1").click()
    assert "crème brûlée" in panel.corpus.text
    assert panel.corpus_combo.currentText() == "old.txt"
    assert bar.level() is None  # the complaint is answered, so it is gone
    assert tab_with_model.controller.current_model is trained_model


def test_a_corpus_shorter_than_the_context(qtbot, tab_with_model, trained_model, tiny_configs, tmp_path,
                                           monkeypatch):
    path = tmp_path / "short.txt"
    path.write_text("Too short to learn from.\n", encoding="utf-8")
    panel = tab_with_model.corpus_panel
    with qtbot.waitSignal(panel.tokenization_changed, timeout=UI_TIMEOUT_MS,
                          check_params_cb=lambda tokenized: tokenized is not None):
        _choose_file_through_the_menu(qtbot, tab_with_model, monkeypatch, path)
    assert panel.corpus.name == "short.txt"
    set_tiny_settings(tab_with_model, tiny_configs)

    tab_with_model.start_button.click()
    bar = tab_with_model.message_bar
    assert not tab_with_model.controller.is_running
    assert bar.level() == "error" and "tokens long" in bar.text()
    _assert_plain(bar.text())
    assert tab_with_model.controller.current_model is trained_model


def test_a_truncated_checkpoint(qtbot, tab_with_model, trained_model, tmp_path, monkeypatch):
    from engine.checkpoint import save_checkpoint

    path = save_checkpoint(trained_model, tmp_path / "cut.safetensors")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    tab_with_model.open_button.click()
    qtbot.waitUntil(lambda: tab_with_model.message_bar.level() == "error", timeout=UI_TIMEOUT_MS)
    text = tab_with_model.message_bar.text()
    assert "damaged or incomplete" in text
    _assert_plain(text)
    assert tab_with_model.controller.current_model is trained_model
    assert tab_with_model.open_button.isEnabled()


def test_a_file_that_is_not_a_safetensors_model(qtbot, tab_with_model, trained_model, tmp_path, monkeypatch):
    path = tmp_path / "notes.safetensors"
    path.write_text("These are my lesson notes, not a model.\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    tab_with_model.open_button.click()
    qtbot.waitUntil(lambda: tab_with_model.message_bar.level() == "error", timeout=UI_TIMEOUT_MS)
    _assert_plain(tab_with_model.message_bar.text())
    assert "notes" in tab_with_model.message_bar.text()
    assert tab_with_model.controller.current_model is trained_model


def test_a_width_that_does_not_divide_among_the_heads(tab):
    fields = tab.settings_panel.fields
    fields["n_heads"].setValue(3)
    fields["d_model"].setValue(64)
    assert tab.message_bar.level() == "warning" and "divide" in tab.message_bar.text()
    assert not tab.start_button.isEnabled()
    fields["d_model"].setValue(96)  # 96 = 3 x 32
    assert tab.message_bar.level() is None
    assert tab.start_button.isEnabled()


def test_an_unexpected_failure_in_the_run_is_reported_in_plain_words(qtbot, tab_with_model, trained_model,
                                                                     tiny_configs, monkeypatch):
    import engine.stages.pretraining

    def broken_events(self):
        yield from ()
        raise ZeroDivisionError("the engine tripped over itself")

    monkeypatch.setattr(engine.stages.pretraining.PretrainingRun, "events", broken_events)
    set_tiny_settings(tab_with_model, tiny_configs)
    with qtbot.waitSignal(tab_with_model.controller.running_changed, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda running: not running):
        tab_with_model.start_button.click()
    text = tab_with_model.message_bar.text()
    assert text == "Something went wrong: the engine tripped over itself"
    assert tab_with_model.controller.current_model is trained_model
    assert tab_with_model.start_button.isEnabled()


def test_a_model_too_big_for_free_memory_is_refused_in_words(qtbot, tab_with_model, trained_model, tiny_configs,
                                                             monkeypatch):
    import engine.stages.loop

    monkeypatch.setattr(engine.stages.loop, "available_memory_bytes", lambda: 100 * 2**20)  # 100 MB free
    set_tiny_settings(tab_with_model, tiny_configs)
    with qtbot.waitSignal(tab_with_model.controller.running_changed, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda running: not running):
        tab_with_model.start_button.click()
    bar = tab_with_model.message_bar
    assert bar.level() == "error" and "GB of memory" in bar.text() and "smaller model size" in bar.text()
    _assert_plain(bar.text())
    assert tab_with_model.controller.current_model is trained_model
    assert tab_with_model.start_button.isEnabled()


def test_a_diverging_run_says_so_and_keeps_a_model(qtbot, tab, tiny_configs):
    from engine.config import replace

    set_tiny_settings(tab, tiny_configs)
    tab.settings_panel.set_configs(tiny_configs.model, replace(tiny_configs.train, learning_rate=1.0,
                                                               min_learning_rate=1.0, warmup_steps=0,
                                                               grad_clip=1e9, total_steps=60))
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS):
        tab.start_button.click()
    qtbot.waitUntil(lambda: not tab.controller.is_running, timeout=UI_TIMEOUT_MS)
    # Seeded, so the same on every machine: a learning rate of 1.0 without clipping blows up.
    assert "loss stopped being a number" in tab.progress.status.text()
    assert tab.message_bar.level() == "error" and "learning rate" in tab.message_bar.text()
    assert tab.controller.current_model is not None
