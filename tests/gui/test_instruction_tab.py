"""The Instruction tuning tab through its widgets: edit the pairs, see the graded tokens, tune, compare."""

from __future__ import annotations

import json
import threading

import pytest
from PySide6.QtWidgets import QStyleOptionViewItem

from engine.data.tuning_data import END_OF_ANSWER, MAX_FIELD_CHARS, MIN_PAIRS, token_pieces
from gui.instruction_tab import MAX_DRAWN_TOKENS
from gui.widgets.pairs_table import MAX_CELL_CHARS
from tests.gui.conftest import RUN_TIMEOUT_MS, UI_TIMEOUT_MS

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def tab(window):
    return window.instruction_tab


def test_the_table_edits_and_undoes_and_start_needs_a_model(tab):
    pairs = tab.pairs
    assert pairs.row_count() == 456  # the bundled set
    assert not tab.start_button.isEnabled() and "Pretraining" in tab.base_label.text()
    first = pairs.rows()[0]
    pairs.table.item(0, 1).setText(" Somewhere else.")  # what typing in the cell does
    assert pairs.rows()[0]["completion"] == " Somewhere else."
    pairs.add_row({"prompt": "User: Hello?\nAssistant:", "completion": " Hello."})
    pairs.table.selectRow(3)
    pairs.delete_selected()
    assert pairs.row_count() == 456
    pairs.undo_button.click()  # the deletion
    pairs.undo_button.click()  # the new row
    pairs.undo_button.click()  # the edit
    assert pairs.row_count() == 456 and pairs.rows()[0] == first


def test_too_few_pairs_block_training_and_name_the_minimum(tab, world_base):
    tab.set_base_model(world_base)
    assert tab.start_button.isEnabled()
    tab.pairs.reset_rows(tab.pairs.rows()[: MIN_PAIRS - 1])
    assert not tab.start_button.isEnabled()
    assert f"at least {MIN_PAIRS} pairs" in tab.start_button.toolTip()


def test_the_graded_tokens_are_the_answers(qtbot, tab, world_base):
    tab.set_base_model(world_base)
    tab.pairs.table.setCurrentCell(1, 0)
    row = tab.pairs.rows()[1]
    pieces = token_pieces(world_base.tokenizer, row["prompt"], row["completion"], world_base.model_config.context_length)
    counted = sum(p.in_loss for p in pieces)
    # The answer and the end-of-answer marker count; the question does not.
    assert counted == len(world_base.tokenizer.encode(row["completion"] + END_OF_ANSWER))
    qtbot.waitUntil(lambda: f"{counted} of {len(pieces)} tokens count in the loss" in tab.tokens_view.toPlainText(),
                    timeout=UI_TIMEOUT_MS)


def _record_calls(monkeypatch, tokenizer) -> list[tuple[threading.Thread, object]]:
    """Make every tokenizer call note the thread it runs on, and what it was given."""
    calls = []
    for name in ("encode", "decode", "token_label"):
        original = getattr(tokenizer, name)

        def recorded(arg, _original=original):
            calls.append((threading.current_thread(), arg))
            return _original(arg)

        monkeypatch.setattr(tokenizer, name, recorded)
    return calls


def test_a_long_example_is_tokenized_by_a_worker_and_drawn_in_part(qtbot, monkeypatch, tab, world_base):
    """Issue 16: a 200,000-character answer froze the window while the GUI thread tokenized and drew it.
    Now a worker tokenizes the selected row, and only what the model reads is drawn, at most a few hundred."""
    tab.set_base_model(world_base)
    qtbot.waitUntil(lambda: not tab.busy, timeout=UI_TIMEOUT_MS)
    calls = _record_calls(monkeypatch, world_base.tokenizer)
    answer = (" the capital of Lamlar is Chafo." * MAX_FIELD_CHARS)[:MAX_FIELD_CHARS]
    tab.pairs.add_row({"prompt": "User: Tell me everything.\nAssistant:", "completion": answer})
    last = tab.pairs.row_count() - 1
    tab.pairs.table.setCurrentCell(last, 1)
    qtbot.waitUntil(lambda: not tab.busy and "count in the loss" in tab.tokens_view.toPlainText(),
                    timeout=UI_TIMEOUT_MS)
    assert any(arg == answer + END_OF_ANSWER for _thread, arg in calls)  # the long row was tokenized...
    assert all(thread is not threading.main_thread() for thread, _arg in calls)  # ...never on the GUI thread
    shown = tab.tokens_view.toPlainText()
    assert "cut off, and not shown" in shown
    context = world_base.model_config.context_length
    assert len(shown) < 300 + 4 * min(MAX_DRAWN_TOKENS, context + 1)  # a bounded part, not 4,000 characters


def test_a_row_over_the_limit_is_named_in_the_token_view_and_never_tokenized(qtbot, monkeypatch, tab, world_base):
    """A row pasted over the length limit: the view names it and the limit; no tokenizer runs at all, and
    its table cell draws only its beginning."""
    tab.set_base_model(world_base)
    qtbot.waitUntil(lambda: not tab.busy, timeout=UI_TIMEOUT_MS)
    calls = _record_calls(monkeypatch, world_base.tokenizer)
    rows = tab.pairs.rows()
    rows[1] = dict(rows[1], completion=" secret" * 100_000)
    tab.pairs.reset_rows(rows)
    tab.pairs.table.setCurrentCell(1, 1)
    qtbot.waitUntil(lambda: not tab.busy and "700,000 characters" in tab.tokens_view.toPlainText(),
                    timeout=UI_TIMEOUT_MS)
    shown = tab.tokens_view.toPlainText()
    assert shown.startswith("Row 2 of the pairs: the 'completion' field is 700,000 characters long")
    assert f"{MAX_FIELD_CHARS:,}" in shown and "secret" not in shown
    assert not any(isinstance(arg, str) and "secret" in arg for _thread, arg in calls)
    # The table draws the beginning of the cell only (Qt laid out all of it at every repaint), and keeps it all.
    option = QStyleOptionViewItem()
    tab.pairs.table.itemDelegate().initStyleOption(option, tab.pairs.table.model().index(1, 1))
    assert option.text == (" secret" * 100_000)[:MAX_CELL_CHARS] + "…"
    assert tab.pairs.table.item(1, 1).text() == tab.pairs.rows()[1]["completion"] == " secret" * 100_000
    tab.pairs.table.setCurrentCell(0, 1)  # the next row is shown as usual
    qtbot.waitUntil(lambda: "count in the loss" in tab.tokens_view.toPlainText(), timeout=UI_TIMEOUT_MS)


def test_a_bad_jsonl_names_the_line_and_keeps_the_table(qtbot, tab, tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"prompt": "User: a?\nAssistant:", "completion": " b."}) + "\n"
                    + json.dumps({"prompt": "User: secret question?\nAssistant:"}) + "\n")
    before = tab.pairs.rows()
    tab.import_jsonl(path)
    qtbot.waitUntil(lambda: tab.message_bar.level() == "error", timeout=UI_TIMEOUT_MS)
    assert "pairs.jsonl:2" in tab.message_bar.text()
    assert "secret question" not in tab.message_bar.text()
    assert tab.pairs.rows() == before


def test_a_file_with_a_huge_row_is_read_by_a_worker_and_refused_in_words(qtbot, monkeypatch, tab, tmp_path):
    """Issue 16: the file with a 200,000-character answer is refused, naming its line, field and length;
    it is read off the GUI thread, and the table stays as it was."""
    import gui.instruction_tab as module

    readers = []
    original = module.load_instructions
    monkeypatch.setattr(module, "load_instructions",
                        lambda path: readers.append(threading.current_thread()) or original(path))
    rows = [{"prompt": f"User: Question {i}?\nAssistant:", "completion": f" Answer {i}."} for i in range(20)]
    rows[2]["completion"] = " secret" * 28_571 + "..."
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = tab.pairs.rows()
    tab.import_jsonl(path)
    qtbot.waitUntil(lambda: tab.message_bar.level() == "error", timeout=UI_TIMEOUT_MS)
    message = tab.message_bar.text()
    assert message.startswith("pairs.jsonl:3: the 'completion' field is 200,000 characters long")
    assert f"{MAX_FIELD_CHARS:,}" in message and "secret" not in message
    assert readers and threading.main_thread() not in readers
    assert tab.pairs.rows() == before


def test_export_then_import_round_trips(qtbot, tab, tmp_path):
    written = tab.export_jsonl(tmp_path / "out.jsonl")
    before = tab.pairs.rows()
    tab.pairs.reset_rows(before[:20])
    tab.import_jsonl(written)
    qtbot.waitUntil(lambda: tab.message_bar.text() == f"Imported {len(before):,} pairs.", timeout=UI_TIMEOUT_MS)
    assert tab.pairs.rows() == before
    tab.pairs.undo_button.click()
    assert tab.pairs.row_count() == 20


def test_a_model_with_another_tokenizer_is_refused_in_plain_words(qtbot, tab, trained_model):
    tab.set_base_model(trained_model)  # learned on cats and dogs: it cannot spell the world's names
    with qtbot.waitSignal(tab.controller.failed, timeout=RUN_TIMEOUT_MS) as failed:
        tab.start_button.click()
    message = failed.args[0]
    assert "Traceback" not in message and "character" in message.lower()
    qtbot.waitUntil(lambda: not tab.controller.is_running, timeout=UI_TIMEOUT_MS)
    assert tab.tuned_model is None


def test_tuning_lowers_the_loss_and_shows_both_models_answers(qtbot, window, tab, world_base):
    tab.set_base_model(world_base)
    tab.steps_spin.setValue(30)
    tuned = []
    tab.model_changed.connect(tuned.append)
    with qtbot.waitSignal(tab.controller.finished, timeout=RUN_TIMEOUT_MS) as finished:
        tab.start_button.click()
    assert finished.args[0].reason == "completed"
    qtbot.waitUntil(lambda: not tab.busy, timeout=RUN_TIMEOUT_MS)
    model = tuned[0]
    assert model.stage == "instruction" and model.step > 0
    losses = model.history.train_losses
    assert losses[-1] < losses[0]
    assert tab.plot.train_point_count() > 0 and tab.save_button.isEnabled()
    rows = tab.comparison.rows()
    assert len(rows) == 24 and all(r.prompt and r.hoped for r in rows)
    assert "before →" in tab.comparison.summary_label.text()
    assert tab.pages.currentWidget().widget() is tab.comparison


def test_the_shipped_pretrained_model_is_one_click_away(tab, qtbot):
    from engine.shipped_models import shipped_stages

    assert "pretraining" in shipped_stages(), "assets/models/ should ship the pretrained model"
    assert not tab.shipped_button.isHidden()
    assert "shipped pretrained model" in tab.shipped_button.text()
    tab.shipped_button.click()
    qtbot.waitUntil(lambda: tab.base_model is not None, timeout=UI_TIMEOUT_MS)
    model = tab.base_model
    assert model.stage == "pretraining" and model.tokenizer.kind == "bpe" and model.step == 1200
    assert tab.start_button.isEnabled() and tab.base_label.text().startswith("A pretrained model, 1,200 steps")


def test_the_summary_says_what_the_format_is_and_why_right_can_exceed_it():
    from gui.instruction_tab import benchmark_summary

    before = {"n": 70, "exact_rate": 0.10, "format_rate": 0.0, "right_in_format_rate": 0.0}
    after = {"n": 70, "exact_rate": 0.15, "format_rate": 0.9, "right_in_format_rate": 0.14}
    lines = benchmark_summary(before, after).split("\n")
    assert lines[0].startswith("On 70 questions") and len(lines) == 4
    right, form, both = lines[1:]
    assert "10% → 15%" in right and "rambled on" in right and "higher than" in right
    assert "0% → 90%" in form and "one short sentence" in form and "stops" in form
    assert "0% → 14%" in both and "right answer in the taught form" in both
