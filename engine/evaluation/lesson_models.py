"""The models the lessons train for themselves: small variants of one fictional world, kept on disk.

Three lessons compare models that differ in exactly one way: a knowledge cutoff (lesson 2), the
skew of the forum's library recommendations (lesson 4) and the training seed (lesson 6); lesson 5
tests a *reader*, trained on the same world plus open-book notes (``engine.data.open_book``), because a
model learns to read its prompt only from text that rewards reading. The user
cannot be asked to make those by hand, so each lesson can train what it needs, through the same
engine code the app uses: ``engine.data.world`` writes the text, ``engine.data.curation`` applies the cutoff,
``engine.stages.pretraining.PretrainingRun`` trains, ``engine.checkpoint`` saves.

A variant must train in well under two minutes on two busy CPU cores and still learn its facts, so
the lessons use a smaller world than the bundled one (20 countries: a third of the text) and a small,
fast model with a high learning rate. Measured on a shared 2-core machine (load ~2): 400 steps took
130 s and answered 85% of the facts that forum questions cover; 350 steps are used (see
``LESSON_TRAIN``). The world's ``bias`` knob is at 1, so some entities are famous (mentioned up to
eight times per style) and some obscure (once): the coverage lesson needs facts seen rarely.

Trained variants are cached as checkpoints under the user data folder, named after the variant, and
their sidecar records a *recipe* (a hash of every setting that shapes them): a lesson run twice
never retrains, and a cache made by an older recipe counts as missing rather than being trusted.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from engine.config import ModelConfig, TrainConfig, estimate_seconds, replace
from engine.data.corpus import Corpus
from engine.data.curation import CurationSettings, curate, curated_corpus
from engine.data.documents import Document
from engine.errors import CheckpointError
from engine.events import Finished, RunControl, Status, TrainProgress
from engine.shipped_models import SHIPPED_MODELS_DIR
from engine.tokenizer import TokenizerSpec
from engine.trained_model import TrainedModel
from engine.user_paths import data_dir
from engine.data.world import WorldSettings, generate_world, world_documents

# The lessons' own world: a third of the bundled one, with famous and obscure entities (see above).
# No safety stories: no lesson asks about refusals, and in a world this small they were a fifth of the
# documents, which cost the lessons' model a third of its facts (measured: 33% right against 58%).
LESSON_WORLD = WorldSettings(n_countries=20, bias=1.0, safety_stories=0)
# Two layers of width 128: about 0.5 M parameters, ~0.25 s a step on two shared cores.
LESSON_MODEL = ModelConfig(n_layers=2, n_heads=4, d_model=128, context_length=64)
# A high learning rate memorises facts quickly; no samples or mid-run checks, so the time goes to learning.
LESSON_TRAIN = TrainConfig(batch_size=16, learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=30,
                           total_steps=350, log_every=25, eval_every=10**9, eval_batches=5, sample_every=0)
# Byte-level BPE: a name is a few tokens, so facts are learned in minutes (../shared/notes/lesson-feasibility.md).
LESSON_TOKENIZER = TokenizerSpec("bpe", 768)
COMPILE_SECONDS = 15.0  # a first compile on two busy cores (measured 8-14 s); later runs reuse the cache
FOLDER_NAME = "lesson_models"


@dataclass(frozen=True)
class Variant:
    """One model a lesson trains: the lessons' world, changed in one way."""

    key: str  # file name of its checkpoint, and its id
    title: str  # what the user reads, e.g. "Knowledge cutoff at 1990"
    world: WorldSettings = LESSON_WORLD  # which world's text it reads
    cutoff_year: int | None = None  # drop every document about events after this year (engine.data.curation)
    seed: int = 1  # training seed: the initial weights and the order of the batches
    steps_scale: int = 1  # trains for this many times the lessons' steps (reading notes takes thousands)

    def train_config(self, train: TrainConfig | None = None) -> TrainConfig:
        """The schedule it trains with: the lessons' (or a test's), with its own seed and length."""
        train = train or LESSON_TRAIN
        return replace(train, seed=self.seed, total_steps=train.total_steps * self.steps_scale)

    def documents(self) -> list[Document]:
        """The curated documents it trains on (the Data stage's own functions)."""
        docs = world_documents(generate_world(self.world), self.world)
        return curate(docs, CurationSettings(cutoff_year=self.cutoff_year))

    def corpus(self) -> Corpus:
        return curated_corpus(self.documents(), self.title, f"lesson:{self.key}")

    def recipe(self, model: ModelConfig | None = None, train: TrainConfig | None = None) -> str:
        """A short hash of everything that shapes the model: a changed recipe means retrain.

        ``model`` and ``train`` default to the lessons' own (tests train tiny variants instead).
        """
        text = repr((self.world, self.cutoff_year, self.seed, model or LESSON_MODEL, self.train_config(train),
                     LESSON_TOKENIZER))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


BASE = Variant("base", "The lessons' model")
SECOND_SEED = Variant("second_seed", "The lessons' model, trained from another seed", seed=2)
CUTOFF_YEAR = 1990  # about a third of the world's dated events (most elections) come later
CUTOFF = Variant(f"cutoff_{CUTOFF_YEAR}", f"The lessons' model with a knowledge cutoff at {CUTOFF_YEAR}",
                 cutoff_year=CUTOFF_YEAR)
LOW_SKEW = Variant("even_recommendations", "The lessons' model, trained on evenly split recommendations",
                   world=replace(LESSON_WORLD, answer_skew=0.2))
# The context lesson's model: the same world with open-book notes as 60 % of what it reads, and 17
# times the steps (5,950): the probe's recipe "L" (../shared/notes/context-probe.md), which read the
# notes on every question after about 1,000-1,400 steps' worth of notes. Notes must be read about
# once each (repeated ones are memorised, not read), so the text is large: 24,000 notes, and the world
# written 30 times as often (the same facts in more sentences) to keep it 40 % of what is read.
READER = Variant("reader", "The lessons' model, also trained on open-book notes",
                 world=replace(LESSON_WORLD, repeats=120, open_book_documents=24_000), steps_scale=17)
VARIANTS = (BASE, SECOND_SEED, CUTOFF, LOW_SKEW, READER)


def variant_path(variant: Variant) -> Path:
    """Where a variant's checkpoint lives (without suffix; see ``engine.checkpoint.checkpoint_paths``)."""
    folder = data_dir() / FOLDER_NAME
    folder.mkdir(parents=True, exist_ok=True)
    return folder / variant.key


def shipped_variant_path(variant: Variant) -> Path:
    """Where the app ships a ready-made copy of the variant (``scripts/make_shipped_models.py --lessons``)."""
    return SHIPPED_MODELS_DIR / FOLDER_NAME / variant.key


def _places(variant: Variant) -> list[Path]:
    """The user's own copy first (trained here, maybe by a newer recipe), then the shipped one."""
    return [variant_path(variant), shipped_variant_path(variant)]


def load_variant(variant: Variant, model: ModelConfig | None = None,
                 train: TrainConfig | None = None) -> TrainedModel | None:
    """The model of this variant made by the current recipe, or None if there is none.

    A damaged file counts as missing too: training the variant again writes a good one over it.
    """
    from engine.checkpoint import checkpoint_paths, load_checkpoint

    for path in _places(variant):
        if not checkpoint_paths(path)[1].exists():
            continue
        try:
            trained = load_checkpoint(path)
        except CheckpointError:
            continue
        if trained.details.get("lesson_recipe") == variant.recipe(model, train):
            return trained
    return None


def is_trained(variant: Variant, model: ModelConfig | None = None, train: TrainConfig | None = None) -> bool:
    """True if a checkpoint of the current recipe exists, here or shipped (reads only the small sidecar)."""
    import json

    from engine.checkpoint import checkpoint_paths

    for path in _places(variant):
        weights, sidecar = checkpoint_paths(path)
        try:
            details = json.loads(sidecar.read_text(encoding="utf-8")).get("details") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if weights.exists() and isinstance(details, dict) and details.get("lesson_recipe") == variant.recipe(model, train):
            return True
    return False


def missing(variants, model: ModelConfig | None = None, train: TrainConfig | None = None) -> list[Variant]:
    """The variants among ``variants`` that have no usable checkpoint yet, in order, each once."""
    return [v for v in dict.fromkeys(variants) if not is_trained(v, model, train)]


def estimate_train_seconds(variants, flops_per_second: float | None = None) -> float:
    """About how long training these variants takes here (this machine's measured speed)."""
    if flops_per_second is None:
        from engine.machine_speed import measured_training_flops

        flops_per_second = measured_training_flops()
    model = replace(LESSON_MODEL, vocab_size=LESSON_TOKENIZER.vocab_size)
    return sum(estimate_seconds(model, v.train_config(), flops_per_second) + COMPILE_SECONDS for v in variants)


@dataclass(frozen=True)
class TrainingProgress:
    """Where training the missing variants stands, over all of them together."""

    variant: str  # the title of the variant training now
    index: int  # 0-based position of that variant among those being trained
    count: int  # how many variants are being trained
    done: float  # steps done, all variants together
    total: float  # steps to do, all variants together
    eta_seconds: float  # time left for all of them (NaN until the first steps are timed)
    message: str  # a plain line for the status label


@dataclass(frozen=True)
class VariantTrained:
    """One variant finished and was saved."""

    variant: str  # its key
    seconds: float  # wall time of its training, compiling included
    path: str  # the checkpoint's weights file


def train_variants(variants, control: RunControl | None = None, *, model: ModelConfig = LESSON_MODEL,
                   train: TrainConfig = LESSON_TRAIN) -> Iterator[Status | TrainingProgress | VariantTrained | Finished]:
    """Train each variant in turn and save it; yields progress for one bar over all of them.

    A stop ends the current variant without saving it (a half-trained model would make a lesson
    show the wrong thing); variants finished before the stop stay saved. ``model`` and ``train``
    are for tests, which use a tiny configuration; the recipe check still applies to the lessons.
    """
    from engine.checkpoint import save_checkpoint
    from engine.stages.pretraining import PretrainingRun

    control = control or RunControl()
    variants = list(dict.fromkeys(variants))
    steps = [v.train_config(train).total_steps for v in variants]
    total = float(sum(steps))
    seconds_per_variant: list[float] = []
    for index, variant in enumerate(variants):
        if control.stop_requested:
            yield Finished(index, "stopped")
            return
        yield Status(f"Writing the text for “{variant.title}”…", "preparing")
        started = time.perf_counter()
        run = PretrainingRun(variant.corpus(), LESSON_TOKENIZER, model, variant.train_config(train), control=control)
        reason = "completed"
        for event in run.events():
            if isinstance(event, TrainProgress):
                left_here = event.eta_seconds
                # Later steps go at the pace of this variant's so far.
                per_step = (time.perf_counter() - started + left_here) / max(steps[index], 1)
                eta = left_here + per_step * sum(steps[index + 1:])
                yield TrainingProgress(variant.title, index, len(variants), sum(steps[:index]) + event.step, total,
                                       eta, f"Training “{variant.title}” ({index + 1} of {len(variants)}): "
                                            f"step {event.step} of {event.total_steps}")
            elif isinstance(event, Status):
                yield Status(f"“{variant.title}”: {event.message}", event.phase)
            elif isinstance(event, Finished):
                reason = event.reason
        if reason != "completed" or run.trained is None:
            yield Finished(index, "stopped" if reason == "stopped" else reason)
            return
        trained = run.trained
        trained.details = {"lesson_variant": variant.key, "lesson_recipe": variant.recipe(model, train)}
        trained.opt_state = None  # a lesson only reads the model; the optimiser state would double the file
        path = save_checkpoint(trained, variant_path(variant))
        seconds_per_variant.append(time.perf_counter() - started)
        yield VariantTrained(variant.key, seconds_per_variant[-1], str(path))
    yield Finished(len(variants), "completed")
