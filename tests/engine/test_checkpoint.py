"""Checkpoints round-trip bit for bit, are written atomically, and bad files get plain errors."""

import json
import os

import jax
import numpy as np
import pytest

from engine.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from engine.config import replace
from engine.errors import CheckpointError
from engine.pretraining import PretrainingRun
from engine.tokenizer import TokenizerSpec


@pytest.fixture(scope="module")
def trained(request):
    from tests.engine.conftest import make_text
    from engine.config import ModelConfig, TrainConfig
    from engine.corpus import Corpus

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
    from engine.corpus import Corpus
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
