"""The command line (``engine.cli``): the three stages headless, from a TOML file, into files the app opens.

One chain (pretrain → instruct → prefer) on a 1-layer model of width 32 runs once for the module and
most tests read what it left; later runs reuse its compiled programs through JAX's persistent cache
(the test home's), so they take a second or two. ``main(argv)`` runs in this process, except in the
one test that presses Ctrl+C on a real ``python -m engine.cli`` process.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from engine.checkpoint import load_checkpoint
from engine import cli
from engine.cli import EXAMPLE_CONFIG, ProgressBar, load_config, main
from engine.errors import PlainError
from engine.events import TrainProgress
from engine.user_paths import models_dir

ROOT = Path(__file__).resolve().parents[2]
COLOURS = {"sky": "blue", "grass": "green", "sun": "yellow", "snow": "white", "coal": "black", "rose": "red",
           "sea": "blue", "leaf": "green", "milk": "white", "night": "black", "fire": "red", "lime": "green",
           "salt": "white", "ink": "black", "lemon": "yellow", "blood": "red", "ice": "white", "frog": "green"}
STEPS = {"pretrain": 30, "instruct": 12, "prefer": 12}

TINY_CONFIG = """
seed = 3
output = "out"
stages = "all"

[corpus]
kind = "file"
path = "corpus.txt"

[model]
preset = "tiny"
n_layers = 1
n_heads = 2
d_model = 32
context_length = 32

[pretrain]
total_steps = {pretrain}
batch_size = 8
warmup_steps = 5
log_every = 5
eval_every = 15
eval_batches = 1
sample_every = 0

[instruct]
data = "sft.jsonl"
total_steps = {instruct}
batch_size = 8
log_every = 4
eval_every = 12
sample_every = 0

[prefer]
data = "dpo.jsonl"
total_steps = {prefer}
batch_size = 8
log_every = 4
eval_every = 12
sample_every = 0
"""


def write_workspace(folder: Path, **steps) -> Path:
    """A tiny corpus, tuning sets and config in ``folder``; returns the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    questions = {thing: f"User: What colour is the {thing}?\nAssistant:" for thing in COLOURS}
    with open(folder / "sft.jsonl", "w", encoding="utf-8") as f:
        for thing, colour in COLOURS.items():
            f.write(json.dumps({"prompt": questions[thing], "completion": f" {colour}."}) + "\n")
    with open(folder / "dpo.jsonl", "w", encoding="utf-8") as f:
        for thing, colour in COLOURS.items():
            f.write(json.dumps({"prompt": questions[thing], "chosen": f" {colour}.", "rejected": " I do not know."})
                    + "\n")
    # Every character the tuning sets use, so the character tokenizer can write them.
    lines = [f"{questions[t]} The {t} is {c}. I do not know.\n" for t, c in COLOURS.items()] * 30
    (folder / "corpus.txt").write_text("".join(lines), encoding="utf-8")
    config = folder / "tiny.toml"
    config.write_text(TINY_CONFIG.format(**{**STEPS, **steps}), encoding="utf-8")
    return config


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``main(argv)`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def leaves(model) -> list[np.ndarray]:
    import jax

    return [np.asarray(x) for x in jax.tree.leaves(model.params)]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    config = write_workspace(folder)
    code, out, err = run_main([config, "--json"])
    models = {name: load_checkpoint(folder / "out" / name)
              for name in ("pretrained", "instruction_tuned", "preference_tuned")}
    return {"folder": folder, "config": config, "code": code, "out": out, "err": err, "models": models}


def test_the_chain_writes_one_model_per_stage_that_the_app_opens(chain):
    assert chain["code"] == 0, chain["err"]
    models = chain["models"]
    # load_checkpoint is the loader behind the app's "Open model…" (gui/pretraining_tab.py, gui/tuning_tab.py).
    assert models["pretrained"].stage == "pretraining"
    assert models["instruction_tuned"].stage == "instruction"
    assert models["preference_tuned"].stage == "preference"
    assert [m.step for m in models.values()] == [STEPS["pretrain"], STEPS["instruct"], STEPS["prefer"]]
    pretrained = models["pretrained"]
    assert pretrained.corpus_name == "corpus.txt"  # the Data tab's name for an uncurated text file
    assert pretrained.model_config.d_model == 32 and pretrained.model_config.n_layers == 1
    assert pretrained.train_config.seed == 3 and pretrained.train_config.total_steps == STEPS["pretrain"]
    assert pretrained.history.train_steps[-1] == STEPS["pretrain"] and pretrained.history.val_losses


def test_each_stage_starts_from_the_model_the_one_before_made(chain):
    pretrained, sft, dpo = chain["models"].values()
    assert sft.details["base_stage"] == "pretraining" and sft.details["base_step"] == STEPS["pretrain"]
    assert dpo.details["base_stage"] == "instruction" and dpo.details["base_step"] == STEPS["instruct"]
    assert sft.corpus_name == "sft.jsonl" and dpo.corpus_name == "dpo.jsonl"
    assert sft.tokenizer.to_json() == pretrained.tokenizer.to_json() == dpo.tokenizer.to_json()
    # Each stage trained: its parameters moved away from the ones it started from.
    for before, after in ((pretrained, sft), (sft, dpo)):
        assert any(not np.allclose(a, b) for a, b in zip(leaves(before), leaves(after)))


def test_json_prints_one_parseable_line_of_metrics_per_stage(chain):
    lines = [json.loads(line) for line in chain["out"].splitlines()]
    assert [m["stage"] for m in lines] == ["pretrain", "instruct", "prefer"]
    for metrics in lines:
        assert metrics["reason"] == "completed"
        assert metrics["steps"] == metrics["steps_run"] == STEPS[metrics["stage"]]
        assert metrics["seconds"] > 0 and metrics["tokens_per_second"] > 0 and metrics["compile_seconds"] >= 0
        assert np.isfinite(metrics["final_train_loss"]) and np.isfinite(metrics["final_val_loss"])
        assert Path(metrics["checkpoint"]).is_file() and metrics["devices"] == 1
    pretrain = lines[0]
    assert pretrain["final_train_loss"] == pytest.approx(chain["models"]["pretrained"].history.train_losses[-1],
                                                         abs=1e-5)
    assert 0.0 <= lines[2]["preference_accuracy"] <= 1.0 and "reward_margin" in lines[2]


def test_progress_goes_to_stderr_as_plain_lines_in_a_log(chain):
    err = chain["err"]
    assert "\r" not in err  # stderr is not a terminal here, so no redrawing
    bars = [line for line in err.splitlines() if line.startswith("pretrain [")]
    assert bars[-1].startswith("pretrain [" + "#" * ProgressBar.WIDTH + "] 100% 30/30 steps")
    assert all("ETA" in line and "tokens/s" in line for line in bars)
    assert len(bars) <= 11  # one line per tenth of the run, not one per log point
    assert "Traceback" not in err


def test_the_bar_redraws_in_place_on_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar("pretrain", stream, tty=True)
    progress = TrainProgress(step=50, total_steps=200, steps=(50,), losses=(2.5,), learning_rate=1e-3,
                             tokens_per_second=12345.0, elapsed_seconds=20.0, eta_seconds=65.0)
    bar.update(progress)
    bar.note("held-out loss at step 50: 2.4")
    text = stream.getvalue()
    assert text.startswith("\rpretrain [######------------------]  25% 50/200 steps  loss 2.500  12.3k tokens/s")
    assert "ETA 1m05s\npretrain: held-out loss" in text  # a note ends the bar's line first


def test_a_stage_run_alone_continues_from_the_previous_stage_file(chain, tmp_path):
    """Stages pass work on through checkpoints: instruct alone, started from the chain's pretrained file,
    makes exactly the chain's instruction-tuned model."""
    folder = chain["folder"]
    shutil.copy(folder / "out" / "pretrained.safetensors", tmp_path)
    shutil.copy(folder / "out" / "pretrained.json", tmp_path)
    code, out, err = run_main([chain["config"], "--stages", "instruct", "--output", tmp_path])
    assert code == 0, err
    assert out == ""  # metrics go to stdout only with --json
    alone = load_checkpoint(tmp_path / "instruction_tuned")
    assert alone.stage == "instruction" and alone.step == STEPS["instruct"]
    for a, b in zip(leaves(alone), leaves(chain["models"]["instruction_tuned"])):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "preference_tuned.json").exists()


def test_from_continues_pretraining_a_saved_model(chain, tmp_path):
    config = write_workspace(tmp_path, pretrain=40)
    code, out, err = run_main([config, "--stages", "pretrain", "--from", chain["folder"] / "out" / "pretrained",
                               "--json"])
    assert code == 0, err
    model = load_checkpoint(tmp_path / "out" / "pretrained")
    assert model.stage == "pretraining" and model.step == 40
    assert model.history.train_steps == list(range(1, 41))  # the saved curve, continued
    assert json.loads(out)["steps_run"] == 10


def test_a_loss_that_blows_up_keeps_the_last_good_model_and_stops_the_chain(chain, tmp_path):
    config = write_workspace(tmp_path)
    config.write_text(config.read_text().replace("warmup_steps = 5", "warmup_steps = 5\nlearning_rate = 1000.0"))
    code, out, err = run_main([config, "--json"])
    assert code == 1
    metrics = json.loads(out)  # one line: the later stages never ran
    assert metrics["stage"] == "pretrain" and metrics["reason"] == "diverged"
    model = load_checkpoint(tmp_path / "out" / "pretrained")
    assert model.step == metrics["steps"] < STEPS["pretrain"] and np.isfinite(model.history.train_losses).all()
    assert not (tmp_path / "out" / "instruction_tuned.json").exists()
    assert "Training went wrong at step" in err and "stages after it were not run" in err


def test_a_stage_with_no_model_to_start_from_says_which_file_is_missing(tmp_path):
    config = write_workspace(tmp_path)
    code, _, err = run_main([config, "--stages", "instruct,prefer"])
    assert code == 2
    assert "pretrained.safetensors' does not exist" in err and "--from" in err and "Traceback" not in err


@pytest.mark.parametrize("text, expected", [
    ("[pretrain]\ntotl_steps = 10\n",
     ["Unknown setting 'pretrain.totl_steps'", "Did you mean 'total_steps'", "batch_size, learning_rate"]),
    ("colour = 1\n", ["Unknown setting 'colour'", "seed, output, stages, corpus"]),
    ("[model]\nd_model = \"wide\"\n", ["'model.d_model' must be a whole number", '"wide"']),
    ("[corpus.curation]\ndrop_junk = 1\n", ["'corpus.curation.drop_junk' must be true or false"]),
    ("[corpus]\nkind = \"file\"\npath = \"missing.txt\"\n", ["missing.txt", "named by 'corpus.path' does not exist"]),
    ("[instruct]\ndata = \"nowhere.jsonl\"\n", ["nowhere.jsonl", "'instruct.data' does not exist"]),
    ("[model]\npreset = \"huge\"\n", ["'model.preset' cannot be \"huge\"", "tiny, small, nanogpt, medium"]),
    ("stages = [\"pretrain\", \"prefer\"]\n", ["stages must follow one another"]),
    ("[pretrain]\nlearning_rate = -1\n", ["In [pretrain]:", "'learning_rate' (the learning rate) must be a number above 0"]),
    ("[corpus]\nkind = \"world\"\n[corpus.world]\nrecency = nan\n",
     ["In [corpus.world]: 'recency'", "must be a number from 0 to 1,000; it is nan (not a number)"]),
    ("seed = \n", ["is not valid TOML", "line 1"]),
])
def test_a_mistake_in_the_config_is_named_plainly_with_exit_code_2(tmp_path, text, expected):
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    code, out, err = run_main([config])
    assert code == 2 and out == ""
    for part in expected:
        assert part in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing was made


def test_a_missing_config_file_is_named(tmp_path):
    code, _, err = run_main([tmp_path / "nothing.toml"])
    assert code == 2 and "nothing.toml' does not exist" in err and "--write-example-config" in err


def test_a_model_too_big_for_memory_is_refused_before_training(tmp_path):
    config = write_workspace(tmp_path)
    text = config.read_text().replace("d_model = 32", "d_model = 16384").replace("n_layers = 1", "n_layers = 96")
    config.write_text(text.replace("n_heads = 2", "n_heads = 64"))
    code, _, err = run_main([config, "--stages", "pretrain"])
    assert code == 2
    assert "Pretraining would need about" in err and "GB of memory" in err and "smaller" in err
    assert list((tmp_path / "out").iterdir()) == []


def test_models_saved_earlier_are_not_overwritten_unless_asked(chain):
    out = chain["folder"] / "out"
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, _, err = run_main([chain["config"]])
    assert code == 2 and "would replace models saved earlier" in err and "--overwrite" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def _full_disk(monkeypatch, full) -> list:
    """Make every save into a folder for which ``full(folder)`` is true fail as a full disk does."""
    from engine import checkpoint

    real, refused = checkpoint.write_atomically, []

    def write(path, data, **options):  # options: the file's permissions (private=, mode_from=)
        if full(path.parent):
            refused.append(path.parent)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data, **options)

    monkeypatch.setattr(checkpoint, "write_atomically", write)
    return refused


def test_a_model_that_cannot_be_saved_where_asked_is_kept_in_another_folder(tmp_path, monkeypatch):
    """A full disk at the end of a run used to throw the freshly trained model away with the message."""
    config = write_workspace(tmp_path, pretrain=10)
    out = tmp_path / "out"
    _full_disk(monkeypatch, lambda folder: folder == out)
    code, stdout, err = run_main([config, "--stages", "pretrain", "--json"])
    assert code == 0, err
    saved = Path(json.loads(stdout)["checkpoint"])
    assert saved.parent == models_dir() and saved.name.startswith("pretrained-")  # where Open model… looks
    assert "No space left on device" in err and f"saved to '{saved}' instead" in err and "Traceback" not in err
    model = load_checkpoint(saved)
    assert model.step == 10 and model.stage == "pretraining"
    assert not list(out.glob("*.json"))


def test_when_no_folder_takes_the_model_it_is_tried_again_until_space_is_freed(chain, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "SAVE_RETRY_SECONDS", 0.0)
    model, target = chain["models"]["pretrained"], tmp_path / "out" / "pretrained"
    refused = _full_disk(monkeypatch, lambda folder: len(refused) < 6)  # the first 6 saves anywhere fail
    said, elsewhere = [], set(models_dir().iterdir())
    weights = cli.save_model(model, target, said.append)
    assert weights == tmp_path / "out" / "pretrained.safetensors"  # once space was freed, where asked
    assert load_checkpoint(target).step == model.step
    assert "Free some disk space" in said[1] and "tried again" in said[1]
    assert set(models_dir().iterdir()) == elsewhere  # nothing was left half-saved elsewhere


def test_a_model_no_folder_ever_takes_is_reported_not_hidden(chain, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "SAVE_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(cli, "SAVE_RETRIES", 2)
    refused = _full_disk(monkeypatch, lambda folder: True)
    with pytest.raises(PlainError, match="No space left on device.*could take it either.*Free some disk space"):
        cli.save_model(chain["models"]["pretrained"], tmp_path / "pretrained", lambda message: None)
    # Where asked, then the app's models folder and the temporary folder; then all three twice more.
    assert set(refused) == {tmp_path, models_dir(), Path(tempfile.gettempdir())} and len(refused) == 3 + 2 * 3


def test_more_devices_than_this_computer_has_is_refused(chain, tmp_path):
    code, _, err = run_main([chain["config"], "--devices", "64", "--output", tmp_path])
    assert code == 2 and "not 64" in err and "Traceback" not in err


def test_the_example_config_is_written_and_passes_every_check(tmp_path):
    target = tmp_path / "lesson.toml"
    code, _, _ = run_main(["--write-example-config", target])
    assert code == 0 and target.read_bytes() == EXAMPLE_CONFIG.read_bytes()
    code, _, err = run_main(["--write-example-config", target])
    assert code == 2 and "already exists" in err
    cfg = load_config(target)
    assert cfg.stages == ("pretrain", "instruct", "prefer") and cfg.tokenizer.vocab_size == 768
    assert cfg.model.n_layers == 4 and cfg.pretrain.total_steps == 1200 and cfg.prefer.train.learning_rate == 1e-3
    code, _, err = run_main([target, "--check"])  # the world, BPE, the bundled sets and memory
    assert code == 0, err
    assert "The config is fine" in err and not (tmp_path / "out").exists()  # checked, nothing made


def test_ctrl_c_stops_the_real_command_and_saves_the_model_so_far(chain, tmp_path):
    """``python -m engine.cli`` (what the installed command runs): the first Ctrl+C stops at the next step."""
    config = write_workspace(tmp_path, pretrain=100_000)  # would take hours: only Ctrl+C ends it soon
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", str(config), "--stages", "pretrain", "--json"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stderr:  # wait for the first progress line: training has begun
            seen.append(line)
            if line.startswith("pretrain ["):
                break
        assert proc.poll() is None, "".join(seen)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, "".join(seen) + err
    metrics = json.loads(out)
    assert metrics["reason"] == "stopped" and 0 < metrics["steps"] < 100_000
    model = load_checkpoint(tmp_path / "out" / "pretrained")
    assert model.stage == "pretraining" and model.step == metrics["steps"]
    assert "Stopping after the current step" in err and "Traceback" not in err


def test_a_huge_config_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    config = tmp_path / "lesson.toml"
    with config.open("wb") as f:  # sparse: 2 GB that take no disk
        f.truncate(2 * 2**30)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    with pytest.raises(PlainError, match="far too large to be a config"):
        load_config(config)
