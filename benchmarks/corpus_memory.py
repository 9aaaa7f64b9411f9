"""How much memory a text file costs, per byte of file, from opening it to its tokens: one JSON line.

Each tokenizer is measured in a fresh Python process, along the path the app takes: the Data tab
loads the file (``load_source``), counts what its charts show, curates it into the corpus, and the
Pretraining tab tokenises that corpus (``tokenizer.preview``: for BPE, learning the vocabulary and
then encoding). The figure is the process's peak resident memory during that work minus its memory
just before, divided by the file's size. ``engine.data.corpus.MEMORY_BYTES_PER_FILE_BYTE``, the figure
that refuses a file too large for the memory this computer has free, is set from it.

    python benchmarks/corpus_memory.py CORPUS [--copies N] [--vocab 512 768]

``--copies N`` measures a file made of N copies of CORPUS (written to a temporary folder), to see
that the figure is per byte rather than a fixed cost.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter per tokenizer, so one measurement's freed memory cannot hide the next's.
_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from engine.data.curation import corpus_stats, curated_corpus
from engine.data.sources import SourceRequest, load_source
from engine.tokenizer import TokenizerSpec, preview
import tokenizers  # noqa: F401  (imported now, so its code is not counted as the corpus's)


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024


kind, vocab = sys.argv[3], int(sys.argv[4])
try:  # restart the peak counter here, so the imports' own peak is not counted
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
before = status("VmRSS")
start = time.perf_counter()
source = load_source(SourceRequest("file", sys.argv[2]))
corpus_stats(list(source.documents))
corpus = curated_corpus(list(source.documents), source.title, "benchmark")
tokenized = preview(corpus, TokenizerSpec(kind, vocab) if kind == "bpe" else TokenizerSpec("char"))
seconds = time.perf_counter() - start
print(json.dumps({"growth": status("VmHWM") - before, "tokens": int(len(tokenized.tokens)),
                  "seconds": round(seconds, 2)}))
"""


def measure(path: Path, kind: str, vocab: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), str(path), kind, str(vocab)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--vocab", type=int, nargs="+", default=[512, 768])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.corpus
        if args.copies > 1:
            path = Path(tmp) / args.corpus.name
            path.write_bytes(args.corpus.read_bytes() * args.copies)
        size = path.stat().st_size
        figures: dict = {"corpus": args.corpus.name, "copies": args.copies, "file_bytes": size}
        for kind, vocab, key in [("char", 0, "char")] + [("bpe", v, f"bpe{v}") for v in args.vocab]:
            result = measure(path, kind, vocab)
            figures[f"bytes_per_file_byte_{key}"] = round(result["growth"] / size, 1)
            figures[f"tokens_{key}"] = result["tokens"]
            figures[f"seconds_{key}"] = result["seconds"]
    figures["bytes_per_file_byte_max"] = max(v for k, v in figures.items() if k.startswith("bytes_per_file_byte_"))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
