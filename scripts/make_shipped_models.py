"""Make the models bundled in ``assets/models/``, so a lesson or a demo starts in 0 seconds.

    python scripts/make_shipped_models.py                  # train all three (~10 minutes on 2 cores)
    python scripts/make_shipped_models.py --only-pretrained  # only the pretrained model (its weights are
                                                           # the same; the tuned ones made from them stay)
    python scripts/make_shipped_models.py --reuse DIR      # ship models DIR/base, DIR/sft, DIR/dpo
                                                           # that benchmarks/pipeline.py --save DIR made
    python scripts/make_shipped_models.py --lessons [--lessons-home HOME]
        # the Evaluation lessons' variant models (engine/evaluation/lesson_models.py), ~3 minutes each, into
        # assets/models/lesson_models/; HOME: a TRAINING_EXPLORER_HOME that already holds them

The three models are the default lesson, trained exactly as ``benchmarks/pipeline.py`` measures it:
the bundled fictional world, BPE with 768 pieces, the ``small`` preset pretrained for 1,200 steps,
then instruction tuning and DPO on the bundled sets with each stage's default schedule. Every
random choice derives from the presets' seed, so on the same versions of jax and this repository
the run gives the same weights.

The pretrained model carries its time-lapse (``engine.stages.time_lapse``: what it wrote and guessed at 31
points of its 1,200 steps), so the Pretraining tab shows it for the shipped model too. Only a model
trained here has one: ``--reuse`` ships the snapshots ``benchmarks/pipeline.py`` recorded (it logs
every 50 steps, so 25 of them), and a model saved before the time-lapse existed has none.

They are written without optimiser state, as float16 (``save_checkpoint(..., for_shipping=True)``)
if that rounding changes none of the models' answers on the held-out benchmark and the red-team
prompts, else as float32, so the shipped models answer exactly as the benchmark measured them. It
prints one JSON line with the file sizes and how many answers float16 would have changed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from engine.runtime import tune_allocator  # noqa: E402

tune_allocator()

SHIPPED_DIR = REPO_ROOT / "assets" / "models"
# File stem on disk ← the name a --reuse folder (benchmarks/pipeline.py --save) uses.
SHIPPED = {"pretrained": "base", "instruction_tuned": "sft", "preference_tuned": "dpo"}
PRETRAIN_STEPS = 1200  # as benchmarks/pipeline.py: the fewest that carried half the held-out facts over
# Losses are read back every 10 steps (pipeline.py: 50), so the time-lapse gets a snapshot every 40
# steps (31 in all) instead of every 50. Reading losses back changes no weight: the model is the same bit for bit.
PRETRAIN_LOG_EVERY = 10
BPE_VOCAB = 768


def _finish(run, name: str, log):
    log(f"{name}: training")
    for _ in run.events():
        pass
    return run.trained


def train_chain(log, only_pretrained: bool = False) -> dict:
    """Pretrain → instruction-tune → DPO on the defaults; returns {shipped name: TrainedModel}.

    ``only_pretrained`` stops after pretraining: the same weights, now with a time-lapse, while the
    tuned models already shipped (made from those weights) stay as they are.
    """
    from engine.stages import instruction_tuning
    from engine.stages import preference_tuning
    from engine.config import preset, replace
    from engine.data.corpus import load_bundled
    from engine.stages.pretraining import PretrainingRun
    from engine.tokenizer import TokenizerSpec
    from engine.data.tuning_data import bundled_instructions, bundled_preferences

    chosen = preset("small")
    train = replace(chosen.train, total_steps=PRETRAIN_STEPS, warmup_steps=min(chosen.train.warmup_steps,
                    PRETRAIN_STEPS // 10), log_every=PRETRAIN_LOG_EVERY, eval_every=10**9, sample_every=0)
    run = PretrainingRun(load_bundled("fictional_world"), TokenizerSpec("bpe", BPE_VOCAB), chosen.model, train)
    base = _finish(run, "pretrained", log)
    log(f"pretrained: {len(base.time_lapse)} time-lapse snapshots took {run.snapshot_seconds:.1f} s")
    if only_pretrained:
        return {"pretrained": base}
    sft_train = replace(instruction_tuning.default_train("full"), sample_every=0)
    sft = _finish(instruction_tuning.InstructionTuningRun(base, bundled_instructions(), sft_train),
                  "instruction_tuned", log)
    dpo_train = replace(preference_tuning.default_train("full"), sample_every=0)
    dpo = _finish(preference_tuning.PreferenceTuningRun(sft, bundled_preferences(), dpo_train,
                                                        preference_tuning.PreferenceConfig()), "preference_tuned", log)
    return {"pretrained": base, "instruction_tuned": sft, "preference_tuned": dpo}


def answers(model) -> list[str]:
    """Every answer the lessons look at: held-out benchmark questions and red-team prompts."""
    from engine.behaviour import greedy_answers
    from engine.data.stage_sets import PROMPT_TEMPLATE
    from engine.data.tuning_data import load_benchmark, load_red_team

    prompts = [PROMPT_TEMPLATE.format(question=r["question"]) for r in load_benchmark() if r["split"] == "held_out"]
    prompts += [r["prompt"] for r in load_red_team()]
    return greedy_answers(model.params, model.model_config, model.tokenizer, prompts)


def lesson_models(home: str | None, log) -> dict:
    """The lessons' variants, trained by their own recipe in ``home`` (a fresh folder if None)."""
    import os
    import tempfile

    os.environ["TRAINING_EXPLORER_HOME"] = home or tempfile.mkdtemp(prefix="te-lessons-")
    from engine.evaluation import lesson_models as lm

    for event in lm.train_variants([v for v in lm.VARIANTS if lm.load_variant(v) is None or not home]):
        if isinstance(event, lm.VariantTrained):
            log(f"lesson model trained: {event}")
    return {f"{lm.FOLDER_NAME}/{v.key}": lm.load_variant(v) for v in lm.VARIANTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", help="a folder holding base, sft and dpo from benchmarks/pipeline.py --save")
    parser.add_argument("--only-pretrained", action="store_true",
                        help="train and ship only the pretrained model (with its time-lapse)")
    parser.add_argument("--lessons", action="store_true", help="the lessons' variant models instead")
    parser.add_argument("--lessons-home", help="a TRAINING_EXPLORER_HOME whose lesson models to ship")
    parser.add_argument("--out", default=str(SHIPPED_DIR))
    args = parser.parse_args(argv)

    from engine.checkpoint import load_checkpoint, save_checkpoint

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    if args.lessons:
        models = lesson_models(args.lessons_home, log)
    elif args.reuse:
        models = {name: load_checkpoint(Path(args.reuse) / stem) for name, stem in SHIPPED.items()}
    else:
        models = train_chain(log, only_pretrained=args.only_pretrained)
    out = Path(args.out)
    sizes = {}
    for name, model in models.items():
        path = save_checkpoint(model, out / name, for_shipping=True)
        changed = sum(a != b for a, b in zip(answers(model), answers(load_checkpoint(path))))
        if changed:
            log(f"{name}: float16 changed {changed} answers; shipping float32 (without optimiser state) instead")
            path = save_checkpoint(dataclasses.replace(model, opt_state=None), out / name)
        name = name.split("/")[-1]
        sizes[f"{name}_mb"] = round((path.stat().st_size + path.with_suffix(".json").stat().st_size) / 1e6, 2)
        sizes[f"{name}_answers_changed_by_float16"] = changed
        if name == "pretrained":
            sizes["pretrained_time_lapse_snapshots"] = len(model.time_lapse)
    print(json.dumps(sizes), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
