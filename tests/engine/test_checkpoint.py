"""Checkpoints round-trip bit for bit, are written atomically, and bad files get plain errors."""

import json
import os

import jax
import numpy as np
import pytest

from engine.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from engine.config import replace
from engine.errors import CheckpointError
from engine.stages.pretraining import PretrainingRun
from engine.tokenizer import TokenizerSpec


@pytest.fixture(scope="module")
def trained(request):
    from tests.engine.conftest import make_text
    from engine.config import ModelConfig, TrainConfig
    from engine.data.corpus import Corpus

    run = PretrainingRun(Corpus("c", make_text(), "test"), TokenizerSpec("bpe", 280),
                         ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32),
                         TrainConfig(batch_size=8, total_steps=12, log_every=4, eval_every=6, eval_batches=2,
                                     sample_every=0, warmup_steps=2))
    list(run.events())
    return run.trained


def leaves(model):
    return [np.asarray(x) for x in jax.tree.leaves((model.params, model.opt_state))]


def test_round_trip_is_bit_identical(trained, tmp_path):
    path = save_checkpoint(trained, tmp_path / "model")
    assert path.name == "model.safetensors" and (tmp_path / "model.json").exists()
    loaded = load_checkpoint(tmp_path / "model.json")  # either file opens the pair
    for a, b in zip(leaves(trained), leaves(loaded), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    assert jax.tree.structure(loaded.opt_state) == jax.tree.structure(trained.opt_state)
    assert loaded.history == trained.history and loaded.step == 12
    assert loaded.model_config == trained.model_config and loaded.train_config == trained.train_config
    assert loaded.tokenizer.encode("the cat sat").tolist() == trained.tokenizer.encode("the cat sat").tolist()
    assert loaded.corpus_fingerprint == trained.corpus_fingerprint


def test_saving_leaves_no_temporary_files(trained, tmp_path):
    save_checkpoint(trained, tmp_path / "a.safetensors")
    save_checkpoint(trained, tmp_path / "a.safetensors")  # overwrite in place
    assert sorted(os.listdir(tmp_path)) == ["a.json", "a.safetensors"]


def test_continuing_from_an_opened_model_keeps_going(trained, tmp_path):
    from engine.data.corpus import Corpus
    from tests.engine.conftest import make_text

    save_checkpoint(trained, tmp_path / "m")
    loaded = load_checkpoint(tmp_path / "m.safetensors")
    run = PretrainingRun(Corpus("c", make_text(), "test"), TokenizerSpec("bpe", 280), loaded.model_config,
                         replace(loaded.train_config, total_steps=16), resume=loaded)
    events = list(run.events())
    assert events[-1].step == 16 and run.trained.history.train_steps[-1] == 16
    assert run.trained.history.train_steps[:12] == list(range(1, 13))


@pytest.mark.parametrize("damage", ["truncate", "flip", "not_safetensors", "missing_sidecar", "bad_json",
                                    "wrong_shape", "unknown_setting", "sidecar_not_ours"])
def test_damaged_files_get_a_plain_error(trained, tmp_path, damage):
    weights, sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    raw = weights.read_bytes()
    meta = json.loads(sidecar.read_text())
    if damage == "truncate":
        weights.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        weights.write_bytes(raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:])
    elif damage == "not_safetensors":
        weights.write_bytes(b"this is a text file, not a model" * 10)
    elif damage == "missing_sidecar":
        sidecar.unlink()
    elif damage == "bad_json":
        sidecar.write_text("{not json")
    elif damage == "wrong_shape":
        meta["model_config"]["d_model"] = 64
        meta["model_config"]["n_heads"] = 2
        sidecar.write_text(json.dumps(meta))
    elif damage == "unknown_setting":
        meta["model_config"]["flux_capacitor"] = 1
        sidecar.write_text(json.dumps(meta))
    elif damage == "sidecar_not_ours":
        sidecar.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(weights)
    message = str(info.value)
    assert message and "Traceback" not in message and "\n" not in message


def test_a_checkpoint_whose_hash_matches_but_is_not_safetensors_is_refused(trained, tmp_path):
    """Even a consistent pair cannot smuggle in another format (e.g. a pickle)."""
    import hashlib
    import pickle

    weights, sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    payload = pickle.dumps({"params/wte": np.zeros(3)})
    weights.write_bytes(payload)
    meta = json.loads(sidecar.read_text())
    meta["weights_sha256"] = hashlib.sha256(payload).hexdigest()
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(weights)


def test_a_model_saved_for_shipping_is_half_the_size_and_opens_as_float32(trained, tmp_path):
    full = save_checkpoint(trained, tmp_path / "full")
    shipped = save_checkpoint(trained, tmp_path / "shipped", for_shipping=True)
    # float16 weights and no optimiser moments: well under a third of the full file.
    assert shipped.stat().st_size < full.stat().st_size / 3
    loaded = load_checkpoint(shipped)
    assert loaded.opt_state is None and json.loads((tmp_path / "shipped.json").read_text())["weights_dtype"] == "float16"
    for a, b in zip(jax.tree.leaves(trained.params), jax.tree.leaves(loaded.params), strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert b.dtype == np.float32 and np.array_equal(b, a.astype(np.float16).astype(np.float32))
    assert loaded.history == trained.history and loaded.step == trained.step


# --- hostile and unlucky files (issue 16) -----------------------------------------------------------


def _never_read_tensors(monkeypatch):
    """Fail the test if the tensors are read: the checks must come from the header alone."""
    from engine import checkpoint

    def read_exactly(f, size):
        raise AssertionError(f"the tensors were read ({size} bytes) before the file was refused")

    monkeypatch.setattr(checkpoint, "_read_exactly", read_exactly)


def test_a_sidecar_edited_to_change_n_heads_alone_is_refused(trained, tmp_path):
    """Same parameter count, different model: before the settings hash it opened silently."""
    weights, sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    meta = json.loads(sidecar.read_text())
    assert meta["model_config"]["n_heads"] == 2
    meta["model_config"]["n_heads"] = 4  # still divides the width: every other check passes
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="changed after the model was saved") as info:
        load_checkpoint(weights)
    assert "\n" not in str(info.value)
    meta.pop("settings_sha256")  # what an older version wrote: only the weights' hash to check
    sidecar.write_text(json.dumps(meta))
    assert load_checkpoint(weights).model_config.n_heads == 4


def test_files_saved_before_the_settings_hash_still_open(trained, tmp_path):
    weights, sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    meta = json.loads(sidecar.read_text())
    assert len(meta.pop("settings_sha256")) == 64
    sidecar.write_text(json.dumps(meta))
    assert load_checkpoint(weights).step == trained.step


def test_the_shipped_models_open_unchanged():
    """They were saved before the settings hash existed and are not re-saved."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "assets" / "models"
    for name in ("pretrained", "instruction_tuned", "preference_tuned"):
        assert "settings_sha256" not in json.loads((folder / f"{name}.json").read_text())
        assert load_checkpoint(folder / f"{name}.safetensors").params


def test_a_huge_weights_file_is_refused_before_it_is_read(trained, tmp_path, monkeypatch):
    """A 3 GB file (sparse: no disk used) beside a small model's sidecar: refused from its header and size."""
    weights, _sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    with open(weights, "r+b") as f:
        f.truncate(3 * 2**30)
    _never_read_tensors(monkeypatch)
    with pytest.raises(CheckpointError, match="damaged or incomplete"):
        load_checkpoint(weights)


def _forged_giant(tmp_path, trained, model_config):
    """A pair whose sidecar (with a correct settings hash) and header both describe ``model_config``."""
    import dataclasses
    import struct

    from engine.checkpoint import settings_sha256
    from engine.config import param_count

    weights, sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    meta = json.loads(sidecar.read_text())
    meta["model_config"] = dataclasses.asdict(model_config)
    meta["settings_sha256"] = settings_sha256(meta)
    sidecar.write_text(json.dumps(meta))
    count = param_count(model_config)
    header = json.dumps({"params/wte": {"dtype": "F32", "shape": [count], "data_offsets": [0, 4 * count]}}).encode()
    with open(weights, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + 4 * count)  # sparse: the tensors' bytes take no disk
    return weights


def test_a_model_far_larger_than_any_preset_is_refused_unread(trained, tmp_path, monkeypatch):
    from engine.checkpoint import MAX_MODEL_BYTES
    from engine.config import PRESETS, ModelConfig, param_count
    from engine.tokenizer import MAX_BPE_VOCAB

    largest = max(param_count(replace(p.model, vocab_size=MAX_BPE_VOCAB)) for p in PRESETS)
    assert 10 * largest * 4 * 3 < MAX_MODEL_BYTES  # the limit leaves room far beyond every preset
    giant = ModelConfig(vocab_size=trained.model_config.vocab_size, n_layers=24, n_heads=16, d_model=1024,
                        context_length=1024)  # 300 million numbers: 3.6 GB with its optimiser state
    weights = _forged_giant(tmp_path, trained, giant)
    _never_read_tensors(monkeypatch)
    with pytest.raises(CheckpointError, match="far larger than any model") as info:
        load_checkpoint(weights)
    assert "\n" not in str(info.value)


def test_a_model_that_does_not_fit_in_free_memory_is_refused_in_words(trained, tmp_path, monkeypatch):
    from engine import checkpoint
    from engine.data import corpus

    weights, _sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    monkeypatch.setattr(checkpoint, "MEMORY_CHECKED_FROM", 0)
    monkeypatch.setattr(corpus, "available_memory_bytes", lambda: 1000)
    _never_read_tensors(monkeypatch)
    with pytest.raises(CheckpointError, match=r"needs about .* MB of memory, and this computer has 0 MB free"):
        load_checkpoint(weights)


@pytest.mark.parametrize("which", ["weights", "sidecar"])
def test_a_model_file_without_read_permission_says_so(trained, tmp_path, monkeypatch, which):
    """Not 'the file may be damaged'. (Simulated: tests may run as root, whom chmod 000 does not stop.)"""
    import builtins
    from pathlib import Path

    from engine import checkpoint

    weights, sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    locked = weights if which == "weights" else sidecar
    real_open, real_read_text = builtins.open, Path.read_text

    def open_(file, *args, **kwargs):
        if Path(file) == locked:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def read_text(self, *args, **kwargs):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "open", open_, raising=False)  # the module's own open()
    monkeypatch.setattr(Path, "read_text", read_text)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(weights)
    message = str(info.value)
    assert f"'{locked.name}' cannot be read: you do not have permission" in message
    assert "damaged" not in message


@pytest.mark.skipif(os.name != "posix", reason="Unix permissions")
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_saved_models_follow_the_umask_like_any_editor(trained, tmp_path, umask):
    old = os.umask(umask)
    try:
        weights, sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    finally:
        os.umask(old)
    for path in (weights, sidecar):
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~umask)


@pytest.mark.skipif(os.name != "posix", reason="Unix permissions")
def test_saving_over_a_model_keeps_its_permissions(trained, tmp_path):
    weights, sidecar = checkpoint_paths(save_checkpoint(trained, tmp_path / "m"))
    for path in (weights, sidecar):
        os.chmod(path, 0o640)
    save_checkpoint(trained, tmp_path / "m")
    for path in (weights, sidecar):
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o640)
