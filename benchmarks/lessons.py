"""The seven Evaluation lessons on default settings: each one's measured effect, as one JSON line.

    python benchmarks/lessons.py             # the lessons' own models (shipped in assets/models/lesson_models)
    python benchmarks/lessons.py --train     # train any variant model that is missing first
    python benchmarks/lessons.py --train --seed 5   # every variant trained afresh from seed 5 (the second-seed
                                                    # model from 6), in a temporary folder: ~4 minutes

Each lesson runs through ``engine.evaluation.lessons.run_lesson``, the code the Lessons page runs, on the
lessons' own models (``engine/evaluation/lesson_models.py``). The line holds every lesson's numbers under the
keys the lesson reports (``confidence_right``, ``accuracy_before_cutoff``, ``bias_model_skew``, …),
plus ``seconds_<lesson>`` for how long each took on this machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.runtime import tune_allocator  # noqa: E402

tune_allocator()


def _plain(value):
    """JSON-ready: NaN becomes null, numpy scalars become floats, tuples become lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", action="store_true", help="train missing variant models first")
    parser.add_argument("--seed", type=int, default=None,
                        help="train every variant from this seed (the second-seed model from seed + 1) in a "
                             "temporary folder; needs --train")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.seed is not None:
        if not args.train:
            parser.error("--seed trains new models: add --train")
        import os
        import tempfile

        os.environ["TRAINING_EXPLORER_HOME"] = tempfile.mkdtemp(prefix="te-lessons-seed-")

    from engine.evaluation import lesson_models as lm
    from engine.evaluation.lessons import LESSONS, LessonResult, run_lesson

    if args.seed is not None:
        # The variants are module constants the lessons read; a seed shifts every one of them alike
        # (base 1 → S, second seed 2 → S + 1), so each lesson compares what it compares by default.
        from dataclasses import replace

        for name in ("BASE", "SECOND_SEED", "CUTOFF", "LOW_SKEW", "READER"):
            variant = getattr(lm, name)
            setattr(lm, name, replace(variant, seed=variant.seed - 1 + args.seed))
        lm.VARIANTS = tuple(getattr(lm, name) for name in ("BASE", "SECOND_SEED", "CUTOFF", "LOW_SKEW", "READER"))

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    missing = lm.missing(lm.VARIANTS)
    if missing and args.train:
        log(f"training {len(missing)} variant model(s)…")
        for _ in lm.train_variants(missing):
            pass
    elif missing:
        print(f"Missing lesson models: {', '.join(v.title for v in missing)}. Run with --train.", file=sys.stderr)
        return 2

    out: dict = {"seed": args.seed}
    for item in LESSONS:
        result = None
        for event in run_lesson(item.key):
            if isinstance(event, LessonResult):
                result = event
        out.update(_plain(result.numbers))
        out[f"seconds_{item.key}"] = round(result.seconds, 1)
        log(f"{item.title}: " + "; ".join(f"{what} {value}" for what, value in result.figures))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
