"""``training-explorer-cli``: the app's pipeline without the window, from a TOML config file.

    training-explorer-cli --write-example-config lesson.toml    # a commented config to start from
    training-explorer-cli lesson.toml                            # every stage the config names
    training-explorer-cli lesson.toml --stages instruct --from out/pretrained --json

It runs the same engine code as the app (``PretrainingRun``, ``InstructionTuningRun``,
``PreferenceTuningRun``) on the same corpus path as the Data tab (``load_source`` → ``curate`` →
``curated_corpus``), and saves each stage's model with ``save_checkpoint`` as ``out/pretrained``,
``out/instruction_tuned`` and ``out/preference_tuned`` (``.safetensors`` + ``.json``), which the app's
*Open model…* opens. A stage that is not first in the chain starts from the model the previous stage
made in this run, else from ``--from``, else from the previous stage's file in the output folder.

Everything a user can get wrong is checked before any training and reported in one plain sentence
(exit code 2), never a traceback: unknown keys (with the valid ones listed), wrong types, a number
outside its range (``engine.config.RANGES``, which the runs and the app check too), missing files, a
model too big for this computer's memory, a model file that would be overwritten. A model that cannot
be saved where asked (a full disk) is saved in another folder instead (``save_model``), never lost.
Progress goes to stderr as a bar with ETA (one line per 10% when stderr is a log file, not a
terminal); ``--json`` prints one line of metrics per stage on stdout. Ctrl+C stops at the next step
and saves the model so far; a second Ctrl+C quits at once. Exit codes: 0 done, 1 a stage's loss blew
up (its last good model is saved), 2 a mistake in the config or the data, 130 stopped by Ctrl+C.

The config is read and checked by ``engine.cli_config`` (the schema next to the message each mistake gets);
progress and Ctrl+C are ``engine.cli_progress``; this file runs the stages and reads the command line. No Qt here: the engine's generators are iterated on the main thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from engine.checkpoint import checkpoint_paths, write_atomically
from engine.config import estimate_memory_bytes, replace
from engine.data.corpus import available_memory_bytes
from engine.data.curation import CurationSettings
from engine.errors import CheckpointError, ConfigError, PlainError
from engine.events import (Diverged, Finished, PreferenceMetrics, RunControl, Sample, Status, TrainProgress,
                           ValidationLoss)
from engine.stages.lora import METHOD_LORA
from engine.tokenizer import visible
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, STAGE_PRETRAINING
from engine.cli_config import CHECKPOINT_NAME, EXAMPLE_CONFIG, STAGE_NAMES, TITLE, CliConfig, load_config, validated
from engine.cli_progress import ProgressBar, StopOnCtrlC

EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


# --- the run ----------------------------------------------------------------------------------------


def choose_devices(requested: int | None, cfg: CliConfig, say) -> tuple[object, int]:
    """(mesh or None, devices used) for pretraining: ``requested``, else 1 on CPU and all on a GPU.

    Several host devices on a CPU made training slower (``engine.parallel``), so a CPU gets one unless
    asked. Raises ``ConfigError`` for more devices than there are, or a batch that does not split.
    """
    import jax

    from engine.parallel import check_batch_divides, make_data_mesh

    n = requested if requested is not None else (1 if jax.default_backend() == "cpu" else jax.device_count())
    mesh = make_data_mesh(n)
    if n == 1:
        return None, 1
    if "pretrain" not in cfg.stages:
        say(f"note: only pretraining runs on several devices; the tuning stages use one of the {n}.")
        return None, 1
    check_batch_divides(cfg.pretrain.batch_size, mesh)
    return mesh, n


def _check_outputs(cfg: CliConfig, start_from: Path | None, overwrite: bool, make: bool) -> None:
    """Make the output folder (if ``make``), and refuse to overwrite a model another run saved there."""
    try:
        if make:
            cfg.output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"The output folder '{cfg.output}' cannot be made: {err.strerror or err}.",
                          "Choose another folder with --output.") from None
    if overwrite:
        return
    continued = checkpoint_paths(start_from)[1].resolve() if start_from else None
    taken = [checkpoint_paths(cfg.output / CHECKPOINT_NAME[s]) for s in cfg.stages]
    taken = [str(weights) for weights, sidecar in taken if sidecar.exists() and sidecar.resolve() != continued]
    if taken:
        raise ConfigError(f"This run would replace models saved earlier: {', '.join(taken)}.",
                          "Add --overwrite to replace them, or choose another folder with --output.")


def _starting_model(cfg: CliConfig, start_from: Path | None):
    """(model, its file) the first stage starts from: ``--from``, the previous stage's file, or (None, None)."""
    from engine.checkpoint import load_checkpoint

    first = cfg.stages[0]
    if start_from is None:
        if first == "pretrain":
            return None, None
        previous = STAGE_NAMES[STAGE_NAMES.index(first) - 1]
        start_from = cfg.output / CHECKPOINT_NAME[previous]
        weights, sidecar = checkpoint_paths(start_from)
        if not sidecar.exists():
            raise ConfigError(f"{TITLE[first]} starts from the {previous} stage's model, and '{weights}' does "
                              "not exist.", f"Run the {previous} stage first, or name a model with --from.")
    model = load_checkpoint(start_from)
    if first == "pretrain":
        if model.stage != STAGE_PRETRAINING:
            raise ConfigError(f"'{start_from}' is a model from {model.stage} tuning; pretraining can only "
                              "continue a pretrained model.", "Name a pretrained model with --from.")
        if model.step >= cfg.pretrain.total_steps:
            raise ConfigError(f"The model in '{start_from}' has already taken {model.step} steps, and "
                              f"pretrain.total_steps is {cfg.pretrain.total_steps}.",
                              f"Set pretrain.total_steps above {model.step} to train it further.")
    if first == "prefer" and model.stage not in (STAGE_INSTRUCTION, STAGE_PREFERENCE):
        raise ConfigError(f"'{start_from}' is a {model.stage} model; preference tuning starts from an "
                          "instruction-tuned one.", "Run the instruct stage first, or name its model with --from.")
    return model, start_from


def _corpus(cfg: CliConfig):
    """The pretraining text, made exactly as the Data tab makes it (load, curate, name)."""
    from engine.data.curation import curate, curated_corpus
    from engine.data.sources import load_source

    source = load_source(cfg.source)
    documents = curate(list(source.documents), cfg.curation)
    name = source.title if cfg.curation == CurationSettings() else f"{source.title}, curated"
    return curated_corpus(documents, name, f"data:{cfg.source.kind}")


def _tuning_data(cfg: CliConfig) -> dict:
    from engine.data.tuning_data import bundled_instructions, bundled_preferences, load_instructions, load_preferences

    data = {}
    if "instruct" in cfg.stages:
        path = cfg.instruct.data
        data["instruct"] = load_instructions(path) if path else bundled_instructions()
    if "prefer" in cfg.stages:
        path = cfg.prefer.data
        data["prefer"] = load_preferences(path) if path else bundled_preferences()
    return data


def _check_before_training(cfg: CliConfig, base, corpus, data: dict) -> None:
    """Everything that could stop a stage after earlier ones have run, checked before the first:
    the text's length, the tuning data's size and characters, and memory."""
    from engine.config import RUNTIME_BYTES
    from engine.tokenizer import check_length, preview
    from engine.data.tuning_data import check_enough_pairs, check_tokenizer

    tokenizer, model = (base.tokenizer, base.model_config) if base is not None else (None, cfg.model)
    needs = []  # (stage, bytes of memory its training needs)
    if "pretrain" in cfg.stages:
        if base is None:
            tokenized = preview(corpus, cfg.tokenizer)  # cached: the run reuses it
            tokenizer, n_tokens = tokenized.tokenizer, len(tokenized.tokens)
            model = replace(cfg.model, vocab_size=tokenizer.vocab_size)
        else:
            n_tokens = len(tokenizer.encode(corpus.text))
        check_length(n_tokens, model.context_length, cfg.pretrain.val_fraction)
        needs.append(("pretrain", estimate_memory_bytes(model, cfg.pretrain) + 2 * n_tokens * 4))
    for stage, fields in (("instruct", ("prompt", "completion")), ("prefer", ("prompt", "chosen", "rejected"))):
        if stage in data:
            rows = data[stage]
            check_enough_pairs(len(rows), TITLE[stage])
            check_tokenizer(tokenizer, (getattr(row, f) for row in rows for f in fields))
            sequences = len(fields) - 1  # a preference pair's model reads two answers per example
            settings = getattr(cfg, stage)
            if settings.method == METHOD_LORA:  # the run checks the rank against the model's width
                validated(stage, lambda: settings.lora.validate(model))
            train = settings.train
            needs.append((stage, estimate_memory_bytes(model, replace(train, batch_size=sequences * train.batch_size))))
    stage, needed = max(needs, key=lambda n: n[1])
    hint = "Choose a smaller model.preset, or lower n_layers, d_model, context_length or batch_size."
    free = available_memory_bytes()
    if free is not None and needed > free:
        raise ConfigError(f"{TITLE[stage]} would need about {needed / 2**30:.1f} GB of memory, and this "
                          f"computer has {free / 2**30:.1f} GB free.", hint)
    import jax

    device = jax.devices()[0]
    if device.platform != "cpu":  # on an accelerator the model's arrays live in its own memory
        limit = (device.memory_stats() or {}).get("bytes_limit")
        if limit and needed - RUNTIME_BYTES > limit:
            raise ConfigError(f"{TITLE[stage]} would need about {(needed - RUNTIME_BYTES) / 2**30:.1f} GB on "
                              f"the {device.device_kind}, which has {limit / 2**30:.1f} GB.", hint)


def _make_run(stage: str, cfg: CliConfig, base, corpus, data: dict, control: RunControl, mesh):
    from engine.stages.instruction_tuning import InstructionTuningRun
    from engine.stages.preference_tuning import PreferenceTuningRun
    from engine.stages.pretraining import PretrainingRun

    if stage == "pretrain":
        return PretrainingRun(corpus, cfg.tokenizer, cfg.model, cfg.pretrain, control=control, resume=base, mesh=mesh)
    settings = getattr(cfg, stage)
    named = {"data_name": settings.data.name} if settings.data else {}  # else the stage's own name for its set
    if stage == "instruct":
        return InstructionTuningRun(base, data[stage], settings.train, method=settings.method, lora=settings.lora,
                                    control=control, **named)
    return PreferenceTuningRun(base, data[stage], settings.train, cfg.preference, method=settings.method,
                               lora=settings.lora, control=control, **named)


def _run_stage(stage: str, run, bar: ProgressBar) -> dict:
    """Iterate a run to its end, drawing its events; returns its metrics (the JSON line's fields)."""
    started = time.perf_counter()
    metrics: dict = {"stage": stage, "reason": "", "final_train_loss": None, "final_val_loss": None}
    for event in run.events():
        if isinstance(event, TrainProgress):
            bar.update(event)
            metrics["final_train_loss"] = round(event.losses[-1], 5)
        elif isinstance(event, Status) and event.phase in ("preparing", "compiling"):
            bar.note(event.message)
        elif isinstance(event, ValidationLoss):
            metrics["final_val_loss"] = round(event.loss, 5)
            bar.note(f"held-out loss at step {event.step}: {event.loss:.4f}")
        elif isinstance(event, PreferenceMetrics):
            metrics.update(reward_margin=round(event.reward_margin, 4), preference_accuracy=round(event.accuracy, 4))
            bar.note(f"held-out reward margin {event.reward_margin:.3f}, preference accuracy {event.accuracy:.0%}")
        elif isinstance(event, Sample):
            shown = visible(event.prompt + event.text)
            bar.note(f"sample at step {event.step}: {shown[:100]}{'…' if len(shown) > 100 else ''}")
        elif isinstance(event, Diverged):
            bar.note(event.message)
        elif isinstance(event, Finished):
            metrics["reason"] = event.reason
    bar.close()
    metrics.update(seconds=round(time.perf_counter() - started, 2),
                   compile_seconds=None if run.compile_seconds is None else round(run.compile_seconds, 2),
                   tokens_per_second=round(run.tokens_per_second, 1))
    return metrics


# When a model cannot be saved where asked (a full disk, a folder that went away), it is saved to these
# folders instead, and when none of them takes it, every place is tried again this often, this many times.
SAVE_RETRY_SECONDS = 30.0
SAVE_RETRIES = 20


def _fallback_folders() -> list[Path]:
    """Other places a model can go: the app's own models folder (what *Open model…* shows first), then
    the system's temporary folder (often another disk, or memory)."""
    import tempfile

    from engine.user_paths import models_dir

    folders = []
    try:
        folders.append(models_dir())
    except OSError:
        pass
    folders.append(Path(tempfile.gettempdir()))
    return folders


def save_model(model, path: Path, say) -> Path:
    """Save a stage's model to ``path``; returns its weights file. Minutes of training are never thrown
    away because one folder cannot take them: if the save fails (no space left, no permission), the model
    is saved under a new name in another folder and ``say`` tells where; if no folder takes it, every
    place is tried again every ``SAVE_RETRY_SECONDS`` (freeing some space lets it through) before a
    ``CheckpointError`` gives up. The model stays in memory all the while."""
    from engine import checkpoint

    try:
        return checkpoint.save_checkpoint(model, path)
    except PlainError as err:
        failure = err
    say(f"{failure.message} Saving it somewhere else instead…")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(SAVE_RETRIES + 1):
        if attempt:
            time.sleep(SAVE_RETRY_SECONDS)
            try:
                return checkpoint.save_checkpoint(model, path)
            except PlainError:
                pass
        for folder in _fallback_folders():
            candidate, n = folder / f"{path.name}-{stamp}", 1
            while any(p.exists() for p in checkpoint_paths(candidate)):  # never replace another model
                candidate, n = folder / f"{path.name}-{stamp}-{n}", n + 1
            try:
                weights = checkpoint.save_checkpoint(model, candidate)
            except PlainError:
                continue
            say(f"The model was saved to '{weights}' instead (with its '{checkpoint_paths(weights)[1].name}'). "
                "Move both files where you want them; the app's Open model… opens them from there.")
            return weights
        if attempt == 0:
            say(f"No other folder could take it either. Free some disk space: every place is tried again every "
                f"{SAVE_RETRY_SECONDS:g} seconds, {SAVE_RETRIES} times (Ctrl+C gives up and loses this model).")
    raise CheckpointError(f"{failure.message} No other folder could take it either, so this stage's model "
                          "is lost.", "Free some disk space, then run the stage again.")


def run_pipeline(cfg: CliConfig, start_from: Path | None = None, devices: int | None = None,
                 overwrite: bool = False, as_json: bool = False, check_only: bool = False,
                 stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the config's stages in order; returns the exit code. Raises ``PlainError`` (exit 2) for
    any mistake found before training, and ``KeyboardInterrupt`` on a second Ctrl+C."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr

    def say(message: str) -> None:
        print(message, file=stderr, flush=True)

    _check_outputs(cfg, start_from, overwrite, make=not check_only)
    data = _tuning_data(cfg)
    base, base_path = _starting_model(cfg, start_from)
    corpus = _corpus(cfg) if "pretrain" in cfg.stages else None
    _check_before_training(cfg, base, corpus, data)
    mesh, n_devices = choose_devices(devices, cfg, say)
    if check_only:
        say(f"The config is fine: it would run {', '.join(cfg.stages)} and save to '{cfg.output}'.")
        return EXIT_OK
    if base is not None:
        say(f"Starting from the {base.stage} model in '{checkpoint_paths(base_path)[0]}' (step {base.step}).")

    with StopOnCtrlC(stderr) as ctrl_c:
        model = base
        for stage in cfg.stages:
            control = RunControl()
            run = _make_run(stage, cfg, model, corpus, data, control, mesh if stage == "pretrain" else None)
            first_step = model.step if stage == "pretrain" and model is not None else 0
            ctrl_c.control = control
            metrics = _run_stage(stage, run, ProgressBar(stage, stderr))
            ctrl_c.control = None
            trained = run.trained
            steps_run = trained.step - first_step if trained is not None else 0
            metrics.update(steps=trained.step if trained else first_step, steps_run=steps_run,
                           devices=n_devices if stage == "pretrain" else 1, checkpoint=None)
            if steps_run > 0:  # a stage stopped before its first step made nothing worth keeping
                weights = save_model(trained, cfg.output / CHECKPOINT_NAME[stage], say)
                metrics["checkpoint"] = str(weights)
                say(f"{stage}: saved the model (step {trained.step}) to '{weights}'.")
            if as_json:
                print(json.dumps(metrics), file=stdout, flush=True)
            if metrics["reason"] == "stopped":
                say(f"Stopped during {stage}." + ("" if steps_run else " No step was taken, so nothing was saved."))
                return EXIT_INTERRUPTED
            if metrics["reason"] == "diverged":
                say(f"{TITLE[stage]} went wrong, so the stages after it were not run.")
                return EXIT_DIVERGED
            model = trained
    return EXIT_OK


# --- the command line -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="training-explorer-cli",
        description="Run Training Explorer's stages (pretrain, instruct, prefer) without the window, "
                    "from a TOML config file. The models it saves open in the app.",
        epilog="Exit codes: 0 done, 1 a stage's loss blew up (its last good model is saved), "
               "2 a mistake in the config or the data, 130 stopped with Ctrl+C (the model so far is saved).")
    parser.add_argument("config", nargs="?", help="the TOML config file")
    parser.add_argument("--write-example-config", metavar="FILE", help="write a commented example config and exit")
    parser.add_argument("--stages", help="replaces the config's stages: pretrain, instruct, prefer or all "
                                         "(several joined by commas, e.g. instruct,prefer)")
    parser.add_argument("--from", dest="start_from", metavar="CHECKPOINT",
                        help="start the first stage from this saved model (pretraining continues it)")
    parser.add_argument("--output", metavar="FOLDER", help="replaces the config's output folder")
    parser.add_argument("--devices", type=int, metavar="N",
                        help="devices for pretraining (default: 1 on a CPU, all on a GPU machine)")
    parser.add_argument("--json", action="store_true", help="print one JSON line of metrics per stage on stdout")
    parser.add_argument("--overwrite", action="store_true", help="replace models an earlier run saved")
    parser.add_argument("--check", action="store_true",
                        help="check the config, data and memory, then exit without training")
    return parser


def write_example_config(path: str | Path) -> Path:
    path = Path(path)
    if path.exists():
        raise ConfigError(f"'{path}' already exists.", "Choose a new file name, so nothing is overwritten.")
    try:
        write_atomically(path, EXAMPLE_CONFIG.read_bytes())
    except OSError as err:
        raise ConfigError(f"'{path}' cannot be written: {err.strerror or err}.") from None
    return path


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the problem
        return int(exit_.code or 0)
    try:
        if args.write_example_config:
            written = write_example_config(args.write_example_config)
            print(f"Wrote an example config to '{written}'. Edit it, then run: training-explorer-cli {written}",
                  file=sys.stderr)
            return EXIT_OK
        if not args.config:
            parser.print_usage(sys.stderr)
            print("training-explorer-cli: give a config file, or write one with --write-example-config FILE.",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        cfg = load_config(args.config, args.output, args.stages)
        return run_pipeline(cfg, Path(args.start_from) if args.start_from else None, args.devices,
                            args.overwrite, args.json, args.check)
    except PlainError as err:
        print(f"training-explorer-cli: {err}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\nStopped at once; the stage that was running was not saved.", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
