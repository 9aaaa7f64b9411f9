"""How long the Data stage takes, and how big the default world is: one JSON line of figures.

Times (medians of ``--repeats`` runs, in seconds): generating the default world's documents,
counting everything the charts show, one curation edit (cutoff + dropping duplicates) with its
recount, and learning BPE on the corpus. Sizes: characters, documents, and tokens with characters,
BPE-512 and BPE-768 (the vocabulary the later stages use for facts). With ``--book PATH`` (a real
text file), also the book's chart counts on the GUI thread (``corpus_stats``) and its real-text
charts' counts on the worker thread (``text_profile``).

    python benchmarks/data_stage.py [--repeats 5] [--book PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data.curation import CurationSettings, corpus_stats, curate, curated_corpus  # noqa: E402
from engine.data.sources import SourceRequest, default_world_request, load_source  # noqa: E402
from engine.data.text_profile import text_profile  # noqa: E402
from engine.tokenizer import TokenizerSpec, build_tokenizer  # noqa: E402


def timed(func, repeats: int):
    """(median seconds, last result)."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def gui_edit_seconds(repeats: int) -> float:
    """Median time from a curation edit in the Data tab to its charts redrawn (offscreen, GUI thread)."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gui.data_tab import DataTab
    from gui.zoom import ZoomController

    app = QApplication.instance() or QApplication([])
    from PySide6.QtWidgets import QMainWindow

    holder = QMainWindow()
    tab = DataTab(ZoomController(holder, remember=False))
    holder.setCentralWidget(tab)
    holder.resize(1440, 900)
    holder.show()
    while tab.busy:
        app.processEvents()
    seconds = []
    for i in range(repeats * 2):
        settings = CurationSettings(cutoff_year=2000 + i, drop_duplicates=bool(i % 2))
        start = time.perf_counter()
        tab.curate_with(settings)
        app.processEvents()  # the repaint
        seconds.append(time.perf_counter() - start)
    tab.shutdown()
    holder.close()
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--book", help="a real text file to time the real-text charts on")
    args = parser.parse_args()

    generate_s, source = timed(lambda: load_source(default_world_request()), args.repeats)
    documents = list(source.documents)
    stats_s, stats = timed(lambda: corpus_stats(documents), args.repeats)
    edit = CurationSettings(cutoff_year=2015, drop_duplicates=True)
    curate_s, _ = timed(lambda: corpus_stats(curate(documents, edit)), args.repeats)
    corpus = curated_corpus(documents, source.title, "benchmark")
    figures = {
        "characters": stats.characters,
        "documents": stats.documents,
        "generate_world_s": round(generate_s, 4),
        "chart_counts_s": round(stats_s, 4),
        "curation_edit_s": round(curate_s, 4),
    }
    for spec, key in ((TokenizerSpec("char"), "char"), (TokenizerSpec("bpe", 512), "bpe512"),
                      (TokenizerSpec("bpe", 768), "bpe768")):
        learn_s, tokenizer = timed(lambda spec=spec: build_tokenizer(corpus.text, spec), max(1, args.repeats // 2))
        figures[f"tokens_{key}"] = int(len(tokenizer.encode(corpus.text)))
        figures[f"vocab_{key}"] = tokenizer.vocab_size
        figures[f"learn_tokenizer_{key}_s"] = round(learn_s, 4)
    figures["gui_edit_to_charts_s"] = round(gui_edit_seconds(args.repeats), 4)
    if args.book:
        book = list(load_source(SourceRequest("file", args.book)).documents)
        figures["book_characters"] = corpus_stats(book).characters
        figures["book_documents"] = len(book)
        figures["book_chart_counts_s"] = round(timed(lambda: corpus_stats(book), args.repeats)[0], 4)
        figures["book_text_profile_s"] = round(timed(lambda: text_profile(book), args.repeats)[0], 4)
    figures["repeats"] = args.repeats
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
