"""Regenerate the bundled fictional-world corpus, its fact table and the later stages' sets.

    python scripts/make_sample_corpora.py           # rewrite sample_corpora/fictional_world*
    python scripts/make_sample_corpora.py --check   # exit 1 if the files on disk are out of date

The output depends only on ``engine/data/world.py`` and the default ``WorldSettings``, so running it
twice gives byte-identical files. Run it (and commit the result) whenever world.py changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # so that "python scripts/make_sample_corpora.py" finds engine
    sys.path.insert(0, str(REPO_ROOT))

from engine.data.stage_sets import stage_set_files  # noqa: E402
from engine.data.world import WorldSettings, corpus_text, facts_jsonl, generate_world  # noqa: E402

OUT_DIR = REPO_ROOT / "sample_corpora"


def expected_files(settings: WorldSettings = WorldSettings()) -> dict[Path, str]:
    """What each bundled file should contain, keyed by its path."""
    world = generate_world(settings)
    files = {
        OUT_DIR / "fictional_world.txt": corpus_text(settings),
        OUT_DIR / "fictional_world_facts.jsonl": facts_jsonl(world),
    }
    files.update({OUT_DIR / name: text for name, text in stage_set_files(world, settings).items()})
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a file differs")
    args = parser.parse_args(argv)

    stale = []
    for path, text in expected_files().items():
        data = text.encode("utf-8")  # bytes, so no platform ever turns "\n" into "\r\n"
        current = path.read_bytes() if path.exists() else None
        if current == data:
            print(f"up to date: {path.relative_to(REPO_ROOT)}")
            continue
        if args.check:
            stale.append(path)
            print(f"OUT OF DATE: {path.relative_to(REPO_ROOT)}", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path.relative_to(REPO_ROOT)} ({len(data) / 1024:.1f} KB)")
    if stale:
        print("Run: python scripts/make_sample_corpora.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
