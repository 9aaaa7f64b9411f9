"""Preference tuning at any step count keeps the model answering: DPO on defaults for 1 to 200 steps.

    python benchmarks/preference_steps.py              # from the shipped instruction-tuned model
    python benchmarks/preference_steps.py --seed 2     # another training seed
    python benchmarks/preference_steps.py --model DIR/sft --steps 1 5 10 50 200

A user can type any number of steps. Each run starts from the instruction-tuned model with the
Preference tab's defaults and only ``total_steps`` changed (so the warm-up and decay fit inside the
run, as in the app), and the tuned model answers the held-out benchmark questions and the red-team
prompts. It prints ONE JSON line with, per step count ``n``:

- ``format_rate_at_<n>``, ``exact_rate_at_<n>``: held-out questions answered in the response format,
  and exactly right (``format_rate_start`` and ``exact_rate_start``: the starting model's);
- ``refusal_rate_at_<n>``, ``over_refusal_rate_at_<n>``: red-team harmful requests refused, and their
  harmless look-alikes refused;
- ``kept_step_at_<n>`` and ``reason_at_<n>``: the step the run ended on and why (the collapse guard
  keeps the model from before a collapse).

Target (issue 14): every format and exact rate at least 0.8 × the starting model's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.runtime import tune_allocator  # noqa: E402

tune_allocator()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="an instruction-tuned model (default: the shipped one)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 5, 10, 50, 200])
    parser.add_argument("--seed", type=int, default=None, help="the training seed (default: the stage's own)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)

    from engine.stages import preference_tuning
    from engine.behaviour import benchmark_rates, red_team_rates
    from engine.checkpoint import load_checkpoint
    from engine.config import replace
    from engine.events import Finished
    from engine.shipped_models import load_shipped
    from engine.trained_model import STAGE_INSTRUCTION
    from engine.data.tuning_data import bundled_preferences, load_benchmark, load_red_team

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    start = load_checkpoint(args.model) if args.model else load_shipped(STAGE_INSTRUCTION)
    benchmark, red_team = load_benchmark(), load_red_team()
    before = benchmark_rates(start, benchmark, "held_out")
    out: dict = {"model": args.model or "shipped instruction_tuned", "seed": args.seed,
                 "format_rate_start": round(before["format_rate"], 3), "exact_rate_start": round(before["exact_rate"], 3)}
    for n in args.steps:
        train = replace(preference_tuning.default_train(), total_steps=n, sample_every=0)
        if args.seed is not None:
            train = replace(train, seed=args.seed)
        run = preference_tuning.PreferenceTuningRun(start, bundled_preferences(), train)
        started = time.perf_counter()
        reason = ""
        for event in run.events():
            if isinstance(event, Finished):
                reason = event.reason
        seconds = time.perf_counter() - started
        held_out, red = benchmark_rates(run.trained, benchmark, "held_out"), red_team_rates(run.trained, red_team)
        out.update({f"format_rate_at_{n}": round(held_out["format_rate"], 3),
                    f"exact_rate_at_{n}": round(held_out["exact_rate"], 3),
                    f"refusal_rate_at_{n}": round(red["refusal_rate"], 3),
                    f"over_refusal_rate_at_{n}": round(red["over_refusal_rate"], 3),
                    f"kept_step_at_{n}": run.trained.step, f"reason_at_{n}": reason,
                    f"seconds_at_{n}": round(seconds, 1)})
        log(f"{n} steps: format {held_out['format_rate']:.2f}, exact {held_out['exact_rate']:.2f}, "
            f"refused {red['refusal_rate']:.2f}, over-refused {red['over_refusal_rate']:.2f} ({reason})")
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
