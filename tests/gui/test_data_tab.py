"""The Data tab, driven through its real widgets: load, chart, curate, undo, tokens, and bad input."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from engine.data.corpus import SAMPLE_CORPORA_DIR, text_fingerprint
from engine.data.curation import CurationSettings
from engine.data.sources import SourceRequest
from engine.data.documents import TOPICS, documents_text
from engine.data.world import WorldSettings
from tests.gui.conftest import UI_TIMEOUT_MS
from tests.real_text import paragraph, real_book

pytestmark = pytest.mark.timeout(300)

DEFAULT_TEXT = (SAMPLE_CORPORA_DIR / "fictional_world.txt").read_text(encoding="utf-8")


@pytest.fixture
def data(window):
    return window.data_tab


def _settle(qtbot, window):
    qtbot.waitUntil(lambda: not (window.data_tab.busy or window.pretraining_tab.busy), timeout=UI_TIMEOUT_MS)


def _load(qtbot, window, request: SourceRequest):
    window.data_tab.load(request)
    _settle(qtbot, window)


def _choose_through_the_menu(qtbot, window, monkeypatch, kind: str, path):
    """What a user does: pick "Open …" in the text menu and choose ``path`` in the dialog."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(path))
    combo = window.data_tab.source_combo
    combo.activated.emit(combo.findData(f"open:{kind}"))
    _settle(qtbot, window)


def test_opens_on_the_default_world_and_pretraining_trains_on_it(window, data):
    assert window.tabs.currentWidget() is data
    assert data.corpus.text == DEFAULT_TEXT
    assert data.stats.documents == len(data.state.source.documents) == 2162
    panel = window.pretraining_tab.corpus_panel
    assert panel.using_curated and panel.corpus.fingerprint == text_fingerprint(DEFAULT_TEXT)
    assert data.corpus.fingerprint[:12] in panel.corpus_description.text()
    assert data.corpus.fingerprint[:12] in data.fingerprint_label.text()
    # Sizes in characters, documents and tokens, counted here independently.
    summary = data.summary_label.text().replace(",", "")
    assert f"{len(DEFAULT_TEXT)} characters" in summary and "2162 documents" in summary
    assert f"{len(data.tokenized.tokens)} tokens" in summary


def test_each_chart_shows_counts_computed_independently(qtbot, window, data):
    _load(qtbot, window, SourceRequest("world", world=WorldSettings(junk_rate=0.1, duplicate_rate=0.1,
                                                                     typo_rate=0.1, error_rate=0.1)))
    docs = list(data.state.source.documents)
    assert data.curated_documents == docs  # nothing curated yet

    chars = Counter()
    for d in docs:
        chars[d.topic] += len(d.text)
    assert data.coverage_chart.values() == {TOPICS[t].split(" (")[0]: n for t, n in chars.items()}

    years = Counter(d.year for d in docs if d.year is not None)
    assert data.year_histogram.counts() == dict(years)

    seen, repeats = set(), 0
    for d in docs:
        repeats += d.text in seen
        seen.add(d.text)
    short = sum(1 for d in docs for line in d.text.split("\n") if line.strip() and len(line) < 12)
    quality = data.quality_chart.values()
    assert quality["Repeated documents"] == repeats > 0
    assert quality["Junk documents"] == sum(d.junk for d in docs) > 0
    assert quality["Very short lines"] == short
    assert quality["Typos (planted)"] == sum(d.typo for d in docs) > 0
    assert quality["Wrong facts (planted)"] == sum(bool(d.corrupted) for d in docs) > 0

    answers = Counter(d.answer for d in docs if d.answer)
    assert data.bias_chart.values() == dict(answers)
    favourite, n = answers.most_common(1)[0]
    assert f"{round(100 * n / sum(answers.values()))}% of recommendations name {favourite}" in \
        data.bias_chart.explanation_label.text()


def test_cutoff_slider_drops_later_documents_and_one_undo_reverts_the_whole_drag(qtbot, window, data):
    original = data.corpus
    panel = data.curation_panel
    panel.cutoff_box.setChecked(True)
    for year in (2020, 2015, 2010, 2005):  # a drag: many values, one step in the history
        panel.cutoff_slider.setValue(year)
    _settle(qtbot, window)
    assert data.state.settings.cutoff_year == 2005
    assert all(d.year is None or d.year <= 2005 for d in data.curated_documents)
    expected = [d for d in data.state.source.documents if d.year is None or d.year <= 2005]
    assert data.curated_documents == expected
    assert max(data.year_histogram.counts()) <= 2005
    assert "after 2005" in data.years_explanation.text() or "after 200" in data.years_explanation.text()
    # Pretraining now trains on the cut-off corpus.
    panel_p = window.pretraining_tab.corpus_panel
    assert panel_p.corpus.fingerprint == data.corpus.fingerprint != original.fingerprint

    assert data.undo_stack.count() == 2  # switching the cutoff on, then the drag
    data.undo_stack.undo()
    assert data.state.settings.cutoff_year is not None and data.state.settings.cutoff_year != 2005
    data.undo_stack.undo()
    _settle(qtbot, window)
    assert data.corpus.text == original.text and data.corpus.fingerprint == original.fingerprint
    assert not panel.cutoff_box.isChecked()
    assert panel_p.corpus.fingerprint == original.fingerprint


def test_topics_mix_and_cleaning_do_what_they_say_and_ctrl_z_undoes_them(qtbot, window, data):
    _load(qtbot, window, SourceRequest("world", world=WorldSettings(junk_rate=0.1, duplicate_rate=0.1)))
    loaded = list(data.state.source.documents)
    before = data.corpus.text
    panel = data.curation_panel

    panel.topic_box("code").setChecked(False)
    assert data.curated_documents == [d for d in loaded if d.topic != "code"]
    assert "Program code" in data.coverage_chart.values() and data.coverage_chart.values()["Program code"] == 0

    panel.junk_box.setChecked(True)
    panel.duplicates_box.setChecked(True)
    seen, expected = set(), []
    for d in loaded:
        if d.topic != "code" and not d.junk and d.text not in seen:
            seen.add(d.text)
            expected.append(d)
    assert data.curated_documents == expected
    assert data.quality_chart.values()["Junk documents"] == 0
    assert data.quality_chart.values()["Repeated documents"] == 0

    panel.mix_spin("news").setValue(2.0)
    news = [d for d in expected if d.source == "news"]
    assert sum(d.source == "news" for d in data.curated_documents) == 2 * len(news)

    # Ctrl+Z with the focus in the Data tab undoes the four edits one by one, back to the original text.
    data.coverage_chart.setFocus()
    window.activateWindow()
    panel.junk_box.setFocus()
    for _ in range(4):
        qtbot.keyClick(panel.junk_box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert data.state.settings == CurationSettings()
    assert data.corpus.text == before
    assert panel.topic_box("code").isChecked() and not panel.junk_box.isChecked()
    assert panel.mix_spin("news").value() == 1.0
    data.undo_stack.redo()
    assert data.state.settings.topics is not None and "code" not in data.state.settings.topics


def test_curating_everything_away_blocks_training_with_the_reason(qtbot, window, data):
    pre = window.pretraining_tab
    for topic in data.state.source.topics:
        data.curation_panel.topic_box(topic).setChecked(False)
    _settle(qtbot, window)
    assert data.corpus is None and data.curated_documents == []
    assert data.message_bar.level() == "warning" and "nothing left to train on" in data.message_bar.text()
    assert pre.corpus_panel.corpus is None
    assert not pre.start_button.isEnabled()
    assert "nothing left" in pre.corpus_panel.corpus_description.text()
    data.undo_stack.undo()
    _settle(qtbot, window)
    assert pre.corpus_panel.corpus is not None and pre.start_button.isEnabled()


def test_a_bad_jsonl_names_the_line_and_loses_nothing(qtbot, window, monkeypatch, tmp_path, data):
    data.curation_panel.duplicates_box.setChecked(True)
    curated = data.corpus
    path = tmp_path / "rows.jsonl"
    secret = "a private sentence that must not be echoed"
    path.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"body": secret}) + "\n")
    _choose_through_the_menu(qtbot, window, monkeypatch, "jsonl", path)
    bar = data.message_bar
    assert bar.level() == "error" and "rows.jsonl:2" in bar.text() and "'text'" in bar.text()
    assert secret not in bar.text() and "Traceback" not in bar.text()
    assert data.corpus is curated and data.state.settings.drop_duplicates
    assert data.source_combo.currentText() == data.state.source.title
    assert data.undo_stack.count() == 1  # the failed load is not in the history


def test_a_folder_with_binary_files_lists_what_was_skipped(qtbot, window, monkeypatch, tmp_path, data):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "one.txt").write_text("The first note has a few words.\n\nA second paragraph.\n")
    (folder / "two.md").write_text("# Title\n\nMarkdown words here.\n")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 8)
    (folder / "data.txt").write_bytes(bytes(range(256)) * 8)  # binary with a text name
    (folder / "old.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))  # not UTF-8
    _choose_through_the_menu(qtbot, window, monkeypatch, "folder", folder)
    bar = data.message_bar
    assert bar.level() == "warning" and bar.text() == (
        "3 files skipped: data.txt (not text); old.txt (not UTF-8); photo.jpg (not a .txt, .md or .py file).")
    assert data.state.source.title == "notes (folder)"
    assert [d.text for d in data.curated_documents] == [
        "The first note has a few words.", "A second paragraph.", "# Title", "Markdown words here."]
    assert "3 files skipped" in data.source_note.text()
    # Loading is undoable too: back to the world, with its curation.
    data.undo_stack.undo()
    assert data.corpus.text == DEFAULT_TEXT


def test_a_file_over_the_size_limit_is_refused_with_the_limit_named(qtbot, window, monkeypatch, tmp_path, data):
    from engine.data import corpus as corpus_module

    monkeypatch.setattr(corpus_module, "MAX_CORPUS_BYTES", 1000)
    path = tmp_path / "big.jsonl"
    path.write_text((json.dumps({"text": "x" * 100}) + "\n") * 20)
    _choose_through_the_menu(qtbot, window, monkeypatch, "jsonl", path)
    bar = data.message_bar
    assert bar.level() == "error" and "over the limit of 1000 bytes" in bar.text()
    assert data.corpus.text == DEFAULT_TEXT


def test_world_knobs_generate_a_new_world_and_the_knobs_follow_undo(qtbot, window, data):
    knobs = data.world_knobs
    knobs.spins["junk_rate"].setValue(20)
    knobs.seed.setValue(11)
    knobs.generate_button.click()
    _settle(qtbot, window)
    assert data.state.source.request.world == WorldSettings(junk_rate=0.2, seed=11)
    assert data.quality_chart.values()["Junk documents"] > 0
    data.undo_stack.undo()
    assert data.state.source.request.world == WorldSettings()
    assert knobs.seed.value() == 7 and knobs.spins["junk_rate"].value() == 0


def test_token_view_colours_the_pieces_of_the_selected_text(qtbot, window, data):
    view = data.token_view
    view.set_text("Hello world")
    cursor = view.input.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(5, cursor.MoveMode.KeepAnchor)
    view.input.setTextCursor(cursor)
    assert view.shown_text() == "Hello"
    assert view.pieces() == list("Hello")  # the default tokenizer here is one token per character
    qtbot.waitUntil(lambda: "5 tokens for the 5 characters of the selection" in view.count_label.text(),
                    timeout=UI_TIMEOUT_MS)

    # Switching to BPE in the Data tab switches Pretraining too, and the pieces become word pieces.
    data.tokenizer_combo.setCurrentIndex(data.tokenizer_combo.findData("bpe"))
    _settle(qtbot, window)
    assert window.pretraining_tab.corpus_panel.spec == data.spec
    view.set_text("The capital of")
    assert "".join(view.pieces()) == "The capital of"
    assert len(view.pieces()) == len(data.tokenized.tokenizer.encode("The capital of")) < 14
    qtbot.waitUntil(lambda: f"{len(view.pieces())} tokens for the 14 characters" in view.count_label.text(),
                    timeout=UI_TIMEOUT_MS)
    assert "background-color" in view.render_html()


def test_the_token_view_cuts_a_pasted_book_on_a_worker(qtbot, window, data, monkeypatch):
    """Pasting a long text never tokenizes it on the GUI thread (it grows with what the user pastes)."""
    import threading

    tokenizer = data.tokenized.tokenizer
    threads = []
    real_encode = type(tokenizer).encode

    def encode(self, text):
        threads.append(threading.current_thread() is threading.main_thread())
        return real_encode(self, text)

    monkeypatch.setattr(type(tokenizer), "encode", encode)
    view = data.token_view
    book = "The capital of Konka is Groma. " * 40_000  # 1.2 million characters
    view.set_text(book)
    qtbot.waitUntil(lambda: "1,240,000 characters" in view.count_label.text(), timeout=UI_TIMEOUT_MS)
    assert threads and not any(threads)
    assert len(view.pieces_view.toPlainText()) < 10_000  # only the start is drawn


def test_charts_can_be_saved_as_a_picture(qtbot, window, data, tmp_path):
    written = data.export_charts(tmp_path / "charts")
    assert written is not None and written.suffix == ".png" and written.stat().st_size > 1000
    assert documents_text(data.curated_documents) == data.corpus.text


def _visible_sentences(data) -> str:
    from PySide6.QtWidgets import QLabel

    return " ".join(label.text() for label in data.charts.findChildren(QLabel) if label.isVisibleTo(data))


def test_real_text_gets_charts_that_say_something_true(qtbot, window, monkeypatch, tmp_path, data):
    parts = [[(i % 8, (i * 3) % 8, (i * 5) % 8, j % 8) for j in range(20)] for i in range(6)]
    paragraphs = [paragraph(p) for p in parts] + ["CHORUS:\nSing on.", "CHORUS:\nSing again."]
    path = tmp_path / "novel.txt"
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    _choose_through_the_menu(qtbot, window, monkeypatch, "file", path)
    assert data.state.source.title.startswith("novel")
    assert not data.world_charts
    for chart in (data.coverage_chart, data.year_histogram, data.bias_chart):
        assert not chart.isVisibleTo(data)
    for chart in (data.lengths_chart, data.words_chart, data.characters_chart, data.lines_chart,
                  data.quality_chart):
        assert chart.isVisibleTo(data)
    sentences = _visible_sentences(data)
    assert "other text" not in sentences and "no dates" not in sentences and "Counting" not in sentences

    # Each chart counted again here, and its sentence quoting those numbers.
    lengths = Counter("Under 100" if len(p) < 100 else "500 to 1,999" if 500 <= len(p) < 2000 else "?"
                      for p in paragraphs)
    assert {k: v for k, v in data.lengths_chart.values().items() if v} == dict(lengths)
    assert "(6 of 8 documents)" in data.lengths_chart.explanation_label.text()
    words = Counter(w for p in paragraphs for w in re.findall(r"[a-z]+", p.lower()))
    assert next(iter(data.words_chart.values())) == "the"
    assert data.words_chart.values()["the"] == words["the"]
    assert f"of the {sum(words.values()):,} words" in data.words_chart.explanation_label.text()
    lines = Counter(line for p in paragraphs for line in p.split("\n"))
    assert data.lines_chart.values()["“CHORUS:”"] == lines["CHORUS:"] == 2
    repeats = sum(n - 1 for n in lines.values())
    assert data.lines_chart.explanation_label.text().startswith(f"{repeats} lines repeat an earlier line; "
                                                                "the commonest, ")
    punctuation = sum(c in ".:" for p in paragraphs for c in p)
    assert data.characters_chart.values()["Punctuation"] == punctuation

    # "Remove junk" keeps every paragraph of ordinary prose.
    data.curation_panel.junk_box.setChecked(True)
    _settle(qtbot, window)
    assert [d.text for d in data.curated_documents] == paragraphs
    # Halving the text: the bars count what is kept, the pale ghosts what was loaded.
    data.curate_with(CurationSettings(drop_junk=True, mix=(("file", 0.5),)))
    _settle(qtbot, window)
    kept = data.curated_documents
    assert 0 < len(kept) < len(paragraphs)
    assert data.lines_chart.values()["“CHORUS:”"] == sum(d.text.startswith("CHORUS:") for d in kept)
    assert data.words_chart.values()["the"] == sum(re.findall(r"[a-z]+", d.text.lower()).count("the") for d in kept)
    assert next(r.ghost for r in data.words_chart.rows() if r.label == "the") == words["the"]

    # Back to the world (undo the halving, the junk box and the load): its own charts again.
    for _ in range(3):
        data.undo_stack.undo()
    _settle(qtbot, window)
    assert data.world_charts and data.coverage_chart.isVisibleTo(data) and not data.words_chart.isVisibleTo(data)


def test_a_real_book_says_nothing_about_topics_or_years(qtbot, window, monkeypatch, data):
    _choose_through_the_menu(qtbot, window, monkeypatch, "file", real_book())
    assert not data.world_charts and not data.year_histogram.isVisibleTo(data)
    sentences = _visible_sentences(data)
    assert "other text" not in sentences and "know that topic worst" not in sentences
    assert "different characters, so a character tokenizer needs" in sentences
    assert "ROMEO" in " ".join(data.lines_chart.values())
    # No topic to tick ("Other text" alone), said in words; "Show me" for a world chart says why it is not there.
    panel = data.curation_panel
    assert not panel.topics_caption.isVisibleTo(data) and panel.no_topics_label.isVisibleTo(data)
    data.scroll_to_chart(data.coverage_chart)
    assert "drawn for the bundled world" in data.message_bar.text()
    loaded = len(data.state.source.documents)
    data.curation_panel.junk_box.setChecked(True)
    _settle(qtbot, window)
    assert loaded - len(data.curated_documents) <= 5  # a real play loses at most a shout to "Remove junk"


def test_coverage_sentence_agrees_with_its_bars_at_a_1994_cutoff(qtbot, window, data):
    data.curate_with(CurationSettings(cutoff_year=1994))
    _settle(qtbot, window)
    empty = [label for label, value in data.coverage_chart.values().items() if value == 0]
    assert "Program code" in empty
    sentence = data.coverage_chart.explanation_label.text()
    assert sentence.startswith("Nothing about ") and all(label.lower() in sentence for label in empty)
    assert "sees least" not in sentence
