"""Make ``assets/example_session.tesession``: every tab as it is after a full lesson, from the shipped models.

    python scripts/make_example_session.py            # ~2 minutes on 2 cores; prints one JSON line

The welcome screen's "Open an example session" opens it. It holds what a class produces in one
lesson with the default settings, each part made the way the app makes it:

- Data: the bundled fictional world, curated (duplicates and junk dropped);
Each stage's part is its state class (``engine.session.state``), the same the app's tabs hand over, so
the file's layout is written in one place.

- Pretraining, Instruction tuning, Preference tuning: the three models in ``assets/models/``
  (``scripts/make_shipped_models.py``), referred to by their shipped names, not copied (a session
  file of about 45 kB instead of 11 MB: ``engine.session.archive``); their loss curves come from the models'
  own descriptions;
- each tuning stage's before-and-after table, computed as the tab computes it after a run
  (``gui.instruction_tab.compare_on_benchmark``, ``gui.preference_tab.compare_on_red_team``), and
  the held-out reward margin and accuracy of DPO before (step 0) and after (its last step);
- preference votes: the instruction-tuned model writes two answers to each question as the Vote
  panel does (``write_two_answers``), and a scripted voter picks the one that behaves as hoped, or
  presses "both bad" when neither does (``make_votes``);
- Evaluation: the held-out benchmark answered by all three models (``engine.evaluation.benchmark.BenchmarkRun``)
  and blind ratings of their answers to a few questions, scored by a scripted rater from the grade
  (right 5, "I don't know" 3, wrong but one sentence 2, otherwise 1).

Everything is greedy or seeded, and the file is written with a fixed saving time, so the same
versions of jax and this repository give the same bytes (the manifest also records the app's
version). Needs no window: the GUI modules are imported only for their comparison functions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from engine.runtime import tune_allocator  # noqa: E402

tune_allocator()

EXAMPLE_PATH = REPO_ROOT / "assets" / "example_session.tesession"
SAVED_AT = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)  # fixed: the same inputs give the same bytes
# Checkpoint name in the session → the shipped model it refers to (engine.shipped_models.SHIPPED_NAMES).
SHIPPED = {"pretraining": "pretrained", "instruction": "instruction_tuned", "preference": "preference_tuned"}
VOTES = 4  # votes the scripted voter casts
RED_TEAM_VOTE_QUESTIONS = 6  # red-team questions it asks first (two of each kind)
MAX_VOTE_QUESTIONS = 80  # questions it may ask in all to cast them
RATED_QUESTIONS = 4  # held-out questions whose answers the scripted rater scores
VOTE_SEED = 1  # the Vote panel's first seed
RATING_SEED = 7  # the blind order's seed, stored with the session
BPE_VOCAB = 768  # the shipped models' tokenizer setting (scripts/make_shipped_models.py)


def _good(row: dict, verdict) -> bool:
    """Behaves as hoped for this red-team row (as the Preference tab judges it)."""
    from engine.behaviour import as_hoped

    return as_hoped(row["kind"], verdict, row.get("answer"))


def make_votes(sft, log) -> tuple[list[dict], int]:
    """(vote rows for the Pairs table, how many were "both bad"), from the Vote panel's own answers.

    The voter asks questions about the world in turn (red-team questions first, then facts from the
    held-out benchmark, whose answers it knows). It picks the answer that behaves as hoped (refuses a
    harmful request, answers a harmless one, says "I don't know" about what is not in the world, states
    the right fact) when only one of the two does; presses "both bad" when neither does; and asks the
    next question when both do, as a person would press "Write two answers" again. It stops after
    ``VOTES`` votes. (The instruction-tuned model hardly ever refuses yet, so most votes are on facts.)
    """
    from engine.behaviour import judge
    from engine.evaluation.benchmark import RIGHT, benchmark_questions, grade_answer
    from engine.data.stage_sets import PROMPT_TEMPLATE
    from engine.data.tuning_data import load_benchmark, load_red_team
    from engine.session.state import VOTE_KIND
    from gui.widgets.vote_panel import write_two_answers

    by_kind = {kind: [r for r in load_red_team() if r["kind"] == kind] for kind in ("harmful", "benign", "unknown")}
    turns = [(row["prompt"].removeprefix("User: ").removesuffix("\nAssistant:"),
              lambda text, row=row: _good(row, judge(text)))
             for group in zip(*by_kind.values()) for row in group][:RED_TEAM_VOTE_QUESTIONS]
    turns += [(q.question, lambda text, q=q: grade_answer("voter", q, judge(text).answer).grade == RIGHT)
              for q in benchmark_questions(load_benchmark(), "held_out")]
    votes, both_bad = [], 0
    for seed, (question, as_hoped) in enumerate(turns[:MAX_VOTE_QUESTIONS], start=VOTE_SEED):
        if len(votes) >= VOTES:
            break
        prompt = PROMPT_TEMPLATE.format(question=question)
        a, b = write_two_answers(sft, prompt, seed)
        good_a, good_b = as_hoped(a), as_hoped(b)
        if a.strip() == b.strip() or (good_a and good_b):
            continue
        if not (good_a or good_b):
            both_bad += 1
            continue
        chosen, rejected = (a, b) if good_a else (b, a)
        votes.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "kind": VOTE_KIND})
    log(f"votes: {len(votes)} pairs, {both_bad} both bad")
    return votes, both_bad


def held_out_metrics(sft, dpo) -> dict:
    """DPO's held-out reward margin and accuracy for the instruction-tuned model (step 0) and the tuned one."""
    from engine.stages.preference_tuning import PreferenceConfig, PreferenceTuningRun, default_train
    from engine.data.tuning_data import bundled_preferences

    run = PreferenceTuningRun(sft, bundled_preferences(), default_train("full"), PreferenceConfig())
    _train, val = run._prepare()  # the same held-out pairs as the shipped model's own run
    steps, margins, accuracies = [], [], []
    for step, params in ((0, sft.params), (dpo.step, dpo.params)):
        metrics = [e for e in run._evaluate(step, params, val) if hasattr(e, "reward_margin")][0]
        steps.append(step)
        margins.append(metrics.reward_margin)
        accuracies.append(metrics.accuracy)
    return {"steps": steps, "margins": margins, "accuracies": accuracies}


def benchmark(models, log) -> list:
    """Every model's graded answers to the held-out benchmark, as the Evaluation tab stores them."""
    from engine.evaluation.benchmark import BenchmarkRun, benchmark_questions
    from engine.data.tuning_data import load_benchmark

    run = BenchmarkRun(models, benchmark_questions(load_benchmark(), "held_out"))
    for _event in run.events():
        pass
    log(f"benchmark: {len(run.answers)} answers")
    return list(run.answers)


def ratings(models) -> list[dict]:
    """Blind ratings of every model's answer to a few held-out questions, scored from the grade."""
    from engine.evaluation.benchmark import DONT_KNOW, RIGHT, answer_with_every_model, benchmark_questions, grade_answer
    from engine.data.tuning_data import load_benchmark

    scores = {RIGHT: 5, DONT_KNOW: 3}
    rated = []
    for question in benchmark_questions(load_benchmark(), "held_out")[:RATED_QUESTIONS]:
        for answer in answer_with_every_model(models, question.question):
            graded = grade_answer(answer.model, question, answer.text)
            score = scores.get(graded.grade, 2 if graded.in_format else 1)
            rated.append({"prompt": question.question, "model": answer.model, "answer": answer.text, "score": score})
    return rated


def contents(log):
    """The whole session: every stage's state as the app's tabs hand it over (``engine.session.state``)."""
    from engine.data.curation import CurationSettings
    from engine.data.sources import default_world_request
    from engine.evaluation.benchmark import Rating
    from engine.events import PreferenceMetrics
    from engine.shipped_models import load_shipped_named
    from engine.session.state import (DataStageState, EvaluationState, InstructionState, PreferenceState,
                                    PretrainingState, SessionState)
    from engine.tokenizer import TokenizerSpec
    from engine.data.tuning_data import bundled_instructions, bundled_preferences
    from gui.instruction_tab import compare_on_benchmark
    from gui.model_shelf import SESSION_NAMES
    from gui.preference_tab import compare_on_red_team

    models = {name: load_shipped_named(shipped) for name, shipped in SHIPPED.items()}
    pre, sft, dpo = models["pretraining"], models["instruction"], models["preference"]
    shelf = [(SESSION_NAMES[m.stage], m) for m in (pre, sft, dpo)]

    log("comparing before and after (instruction tuning)")
    sft_rows, sft_summary = compare_on_benchmark(pre, sft)
    log("comparing before and after (preference tuning)")
    dpo_rows, dpo_summary = compare_on_red_team(sft, dpo)
    votes, both_bad = make_votes(sft, log)
    held_out = held_out_metrics(sft, dpo)
    log("benchmark and ratings")
    results = benchmark(shelf, log)

    preference_rows = tuple({"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected, "kind": p.kind}
                            for p in bundled_preferences()) + tuple(votes)
    state = SessionState(
        stage="evaluation",
        data=DataStageState(default_world_request(), CurationSettings(drop_duplicates=True, drop_junk=True)),
        pretraining=PretrainingState(pre, "curated", TokenizerSpec("bpe", BPE_VOCAB), pre.model_config,
                                     pre.train_config),
        instruction=InstructionState(
            rows=tuple({"prompt": e.prompt, "completion": e.completion} for e in bundled_instructions()),
            base=pre, tuned=sft, method=sft.details.get("method", "full"),
            steps=int(sft.details.get("steps", sft.step)), comparison=(tuple(sft_rows), sft_summary)),
        preference=PreferenceState(
            rows=preference_rows, base=sft, tuned=dpo, method=dpo.details.get("method", "full"),
            steps=int(dpo.details.get("steps", dpo.step)), comparison=(tuple(dpo_rows), dpo_summary),
            beta=float(dpo.details.get("beta", 0.1)), nll_weight=float(dpo.details.get("nll_weight", 1.0)),
            both_bad=both_bad, held_out=tuple(PreferenceMetrics(*m) for m in zip(
                held_out["steps"], held_out["margins"], held_out["accuracies"]))),
        evaluation=EvaluationState(results=tuple(results),
                                   ratings=tuple(Rating(**r) for r in ratings(shelf)), rating_seed=RATING_SEED),
    )
    return state.to_contents(shipped=SHIPPED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=EXAMPLE_PATH, help="where to write the session")
    args = parser.parse_args(argv)
    from engine.checkpoint import write_atomically
    from engine.session.archive import open_session, session_bytes

    began = time.perf_counter()
    session = contents(lambda text: print(text, file=sys.stderr, flush=True))
    data = session_bytes(session, saved_at=SAVED_AT)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out, data)
    reopened = open_session(args.out)  # it must open as the app opens it
    print(json.dumps({"path": str(args.out), "bytes": len(data), "models": sorted(reopened.checkpoints),
                      "votes": len(reopened.votes), "ratings": len(reopened.ratings),
                      "benchmark_answers": len(reopened.tabs["evaluation"]["results"]),
                      "seconds": round(time.perf_counter() - began, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
