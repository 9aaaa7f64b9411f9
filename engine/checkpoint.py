"""Saving and opening models: a safetensors file of arrays plus a JSON sidecar describing them.

``model.safetensors`` holds the parameters (``params/…``) and the optimiser state (``opt/…``).
``model.json`` holds the configs, the tokenizer, the corpus fingerprint, the step, the loss history
and the sha256 of the safetensors file. Both are written atomically (temp file, fsync, os.replace,
fsync of the folder), tensors first and sidecar last: the sidecar is the completion marker, so a
save interrupted at any moment leaves either the old checkpoint or the new one, never a mix.
Opening checks the hash, the format and every array's shape, and explains any problem in words.
Nothing is ever unpickled: safetensors and JSON cannot carry code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.config import ModelConfig, TrainConfig
from engine.errors import CheckpointError, ConfigError
from engine.tokenizer import tokenizer_from_json
from engine.trained_model import LossHistory, TrainedModel

FORMAT = "training-explorer-checkpoint"
FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".safetensors"
SIDECAR_SUFFIX = ".json"
MAX_SIDECAR_BYTES = 64 * 2**20  # a sidecar is a few MB at most (BPE merges, long histories)


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(weights file, sidecar) for a path naming either of them, or neither suffix."""
    path = Path(path)
    if path.suffix in (WEIGHTS_SUFFIX, SIDECAR_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + SIDECAR_SUFFIX)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either its old content or all of the new, even on a crash."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some filesystems (and Windows) cannot fsync a folder
        pass


def _named_leaves(tree, prefix: str) -> list[tuple[str, object]]:
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    named = []
    for path, leaf in leaves:
        parts = []
        for key in path:
            for attr in ("key", "idx", "name"):
                if hasattr(key, attr):
                    parts.append(str(getattr(key, attr)))
                    break
        named.append((prefix + "/" + "/".join(parts), leaf))
    return named


def save_checkpoint(model: TrainedModel, path: str | os.PathLike) -> Path:
    """Save ``model``; returns the path of the weights file. Raises CheckpointError if it cannot."""
    import jax
    from safetensors.numpy import save as save_safetensors

    weights_path, sidecar_path = checkpoint_paths(path)
    tensors: dict[str, np.ndarray] = {}
    for name, leaf in _named_leaves(model.params, "params"):
        tensors[name] = np.asarray(jax.device_get(leaf))
    opt_names = []
    if model.opt_state is not None:
        for name, leaf in _named_leaves(model.opt_state, "opt"):
            tensors[name] = np.asarray(jax.device_get(leaf))
            opt_names.append(name)
    payload = save_safetensors(tensors, metadata={"format": FORMAT})
    sidecar = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "stage": model.stage,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "weights_file": weights_path.name,
        "weights_sha256": hashlib.sha256(payload).hexdigest(),
        "model_config": dataclasses.asdict(model.model_config),
        "train_config": dataclasses.asdict(model.train_config),
        "tokenizer": model.tokenizer.to_json(),
        "corpus": {"name": model.corpus_name, "fingerprint": model.corpus_fingerprint},
        "step": int(model.step),
        "opt_state_tensors": opt_names,
        "history": model.history.to_json(),
    }
    try:
        weights_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(weights_path, payload)
        write_atomically(sidecar_path, json.dumps(sidecar, allow_nan=True).encode("utf-8"))
    except OSError as err:
        raise CheckpointError(
            f"The model could not be saved to '{weights_path.parent}': {err.strerror or err}.",
            "Choose another folder, or free some disk space.",
        ) from err
    return weights_path


def _config(cls, data, what: str):
    if not isinstance(data, dict):
        raise CheckpointError(f"The model file's {what} settings are missing.")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise CheckpointError(
            f"The model file has {what} settings this version does not know ({', '.join(sorted(unknown))}).",
            "It may come from a newer version of Training Explorer.",
        )
    try:
        cfg = cls(**data)
        cfg.validate()
    except (TypeError, ConfigError) as err:
        raise CheckpointError(f"The model file's {what} settings are invalid: {err}") from err
    return cfg


def _read_sidecar(sidecar_path: Path) -> dict:
    if not sidecar_path.exists():
        raise CheckpointError(
            f"'{sidecar_path.name}' is missing: a model is two files, the .safetensors and its .json description.",
            "Keep both files together in the same folder.",
        )
    try:
        if sidecar_path.stat().st_size > MAX_SIDECAR_BYTES:
            raise CheckpointError(f"'{sidecar_path.name}' is far too large to be a model description.")
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CheckpointError(f"'{sidecar_path.name}' is not a readable model description.",
                              "The file may be damaged.") from err
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise CheckpointError(f"'{sidecar_path.name}' is not a Training Explorer model description.")
    if sidecar.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"'{sidecar_path.name}' was saved in a format this version cannot open.")
    return sidecar


def load_checkpoint(path: str | os.PathLike) -> TrainedModel:
    """Open a model saved by ``save_checkpoint``. Any problem raises CheckpointError, in plain words."""
    import jax
    import jax.numpy as jnp
    from safetensors import SafetensorError
    from safetensors.numpy import load as load_safetensors

    from engine.model import init_params
    from engine.train import make_optimizer

    weights_path, sidecar_path = checkpoint_paths(path)
    if not weights_path.exists():
        raise CheckpointError(f"'{weights_path.name}' does not exist.", "Choose a .safetensors model file.")
    sidecar = _read_sidecar(sidecar_path)
    try:
        payload = weights_path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"'{weights_path.name}' cannot be read: {err.strerror}.") from err
    if hashlib.sha256(payload).hexdigest() != sidecar.get("weights_sha256"):
        raise CheckpointError(
            f"'{weights_path.name}' is damaged or incomplete: it does not match its description.",
            "It may have been cut short while copying. Save the model again or use another copy.",
        )
    try:
        tensors = load_safetensors(payload)
    except (SafetensorError, ValueError) as err:
        raise CheckpointError(f"'{weights_path.name}' is not a valid safetensors model file.") from err

    model_cfg = _config(ModelConfig, sidecar.get("model_config"), "model")
    train_cfg = _config(TrainConfig, sidecar.get("train_config"), "training")
    try:
        tokenizer = tokenizer_from_json(sidecar["tokenizer"])
    except Exception as err:  # the tokenizers library raises its own types for malformed JSON
        raise CheckpointError("The model file's tokenizer is missing or damaged.") from err
    if tokenizer.vocab_size != model_cfg.vocab_size:
        raise CheckpointError("The model file's tokenizer does not match its model settings.")
    try:
        history = LossHistory.from_json(sidecar.get("history") or {})
        step = int(sidecar["step"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError("The model file's training record is damaged.") from err

    # The shapes a model of this config must have; each stored array is checked against them.
    template = jax.eval_shape(lambda key: init_params(model_cfg, key), jax.random.PRNGKey(0))
    params = _restore(template, "params", tensors, weights_path.name)
    opt_state = None
    if sidecar.get("opt_state_tensors"):
        opt_template = jax.eval_shape(make_optimizer(train_cfg).init, template)
        opt_state = _restore(opt_template, "opt", tensors, weights_path.name)
    corpus = sidecar.get("corpus") or {}
    return TrainedModel(
        params=jax.tree.map(jnp.asarray, params),
        opt_state=None if opt_state is None else jax.tree.map(jnp.asarray, opt_state),
        model_config=model_cfg,
        train_config=train_cfg,
        tokenizer=tokenizer,
        step=step,
        history=history,
        corpus_name=str(corpus.get("name", "")),
        corpus_fingerprint=str(corpus.get("fingerprint", "")),
        stage=str(sidecar.get("stage", "pretraining")),
    )


def _restore(template, prefix: str, tensors: dict, file_name: str):
    import jax

    leaves = []
    for name, spec in _named_leaves(template, prefix):
        array = tensors.get(name)
        if array is None or array.shape != spec.shape or array.dtype != spec.dtype:
            raise CheckpointError(
                f"'{file_name}' does not fit its own settings (the part '{name}' is missing or has the wrong shape).",
                "It may have been made by a different program or version.",
            )
        leaves.append(array)
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)
