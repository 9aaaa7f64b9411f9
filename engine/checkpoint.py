"""Saving and opening models: a safetensors file of arrays plus a JSON sidecar describing them.

``model.safetensors`` holds the parameters (``params/…``) and the optimiser state (``opt/…``).
``model.json`` holds the configs, the tokenizer, the corpus fingerprint, the step, the loss history,
the stage that made the model and how it ran (``details``), and the sha256 of the safetensors file;
a pretrained model's sidecar also holds its time-lapse (``time_lapse``, see ``engine.stages.time_lapse``), a key
written only when there are snapshots, so files without one (older ones) still open, with none.
Two files cannot be replaced in one step, so a save goes:

1. the new tensors are written atomically (temp file, fsync, os.replace, fsync of the folder) to a
   hidden *staged* file named after their hash, ``.model.safetensors.<sha256>.staged``;
2. the new sidecar is written atomically: this rename is the commit, the sidecar the completion marker;
3. the staged file is renamed onto ``model.safetensors``;
4. temporary and staged files left by earlier, interrupted saves are deleted.

Until step 2 the old pair is untouched; from step 2 on the sidecar names the new hash, and the opener
finds those bytes in ``model.safetensors`` or, after a crash between steps 2 and 3, in the staged
file. So a save killed at any moment leaves the old checkpoint or the new one, never a mix, and never
an old sidecar beside new tensors (which the hash check would refuse, losing both). Temporary files
are hidden dot-files ending in ``.partial`` and are never opened. Two processes must not save to the
same path at the same time.

Opening checks, in this order, and explains any problem in words: the sidecar (bounded size, format,
settings); the tensors file's safetensors header alone (its 8-byte length and JSON, read first), against
the file's size and against the sizes the sidecar's settings imply; the size against
``MAX_MODEL_BYTES`` and the free memory; only then are the tensors read (exactly the size the header
declares), hashed and parsed. So a huge or forged file is refused in words before it is read, never
with a MemoryError. The sidecar also holds ``settings_sha256``, a hash of the settings the weights need
(``SETTINGS_KEYS``, as canonical JSON): a sidecar edited to change ``n_heads`` alone no longer opens as a
different model. Files saved before it existed have no such hash and open with the weights' hash only.
Nothing is ever unpickled: safetensors and JSON cannot carry code.

Files are written with the permissions any editor gives a new file (``0o666`` less the user's umask),
or those of the file they replace, so a classmate can open a model saved in a shared folder; only
``write_atomically(..., private=True)`` (the session autosave) keeps a file to its owner (``0o600``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import stat
import struct
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from engine.config import ModelConfig, TrainConfig, param_count
from engine.errors import CheckpointError, ConfigError
from engine.stages.time_lapse import time_lapse_from_json, time_lapse_to_json
from engine.tokenizer import tokenizer_from_json
from engine.trained_model import LossHistory, TrainedModel

FORMAT = "training-explorer-checkpoint"
FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".safetensors"
SIDECAR_SUFFIX = ".json"
MAX_SIDECAR_BYTES = 64 * 2**20  # a sidecar is a few MB at most (BPE merges, long histories)
STAGED_SUFFIX = ".staged"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# The settings the weights need, hashed into the sidecar's ``settings_sha256`` (see above).
SETTINGS_KEYS = ("model_config", "train_config", "tokenizer", "weights_dtype", "opt_state_tensors")
SETTINGS_HASH_KEY = "settings_sha256"
MAX_HEADER_BYTES = 16 * 2**20  # a safetensors header: ~100 bytes per tensor, a few hundred tensors
# The largest model file this app opens (or saves). The largest preset ("medium", with the largest BPE
# vocabulary) is ~110 MB with its optimiser state; this is ~20 times that, far above any model a
# classroom computer trains, and far below what would exhaust its memory unannounced.
MAX_MODEL_BYTES = 2 * 2**30
MEMORY_CHECKED_FROM = 64 * 2**20  # smaller files always fit: their free-memory check is not worth a read
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(weights file, sidecar) for a path naming either of them, or neither suffix."""
    path = Path(path)
    if path.suffix in (WEIGHTS_SUFFIX, SIDECAR_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + SIDECAR_SUFFIX)


def staged_weights_path(weights_path: Path, sha256: str) -> Path:
    """Where the tensors with this hash wait, complete, until their sidecar has landed (see above)."""
    return weights_path.with_name(f".{weights_path.name}.{sha256}{STAGED_SUFFIX}")


def _fsync_folder(folder: Path) -> None:
    try:  # make renames in the folder durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some filesystems (and Windows) cannot fsync a folder
        pass


_umask_lock = threading.Lock()


def _umask() -> int:
    """The process's umask. Linux shows it in /proc; elsewhere setting it is the only way to read it."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:  # set and restored at once: a file another thread creates meanwhile is only more private
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def new_file_mode(path: Path, private: bool = False) -> int:
    """The permissions a file written to ``path`` gets: those of the file it replaces, else what any
    editor gives a new file (``0o666`` less the umask); ``0o600`` (the owner only) if ``private``."""
    if private:
        return 0o600
    try:
        return stat.S_IMODE(path.stat().st_mode) & 0o777
    except OSError:  # no file there yet (or one we cannot look at): a new file's mode
        return 0o666 & ~_umask()


def write_atomically(path: Path, data: bytes, *, private: bool = False, mode_from: Path | None = None) -> None:
    """Write ``data`` so that ``path`` holds either its old content or all of the new, even on a crash.

    The temporary file is ``.<name>.<random>.partial``: hidden, and never opened by any loader. It is
    created for the owner only (mkstemp's 0600) and given the final file's permissions
    (``new_file_mode``; of ``mode_from`` instead of ``path`` if given: a staged file that will replace
    it) before it is renamed into place.
    """
    mode = new_file_mode(mode_from or path, private)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            else:  # Windows: only the read-only flag exists, and mkstemp's file is writable
                os.chmod(tmp, mode)
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
    _fsync_folder(path.parent)


def _remove_leftovers(weights_path: Path, sidecar_path: Path) -> None:
    """Delete the temporary and staged files of earlier saves of this pair that were interrupted.

    Called only once a save is complete, when the sidecar names no staged file any more. The patterns
    are exact (mkstemp's 8 random characters, a full sha256), so other models' files are never touched.
    """
    w, s = re.escape(weights_path.name), re.escape(sidecar_path.name)
    temp = r"\.[a-z0-9_]{8}\.partial"  # what write_atomically's mkstemp adds to a name
    staged = rf"\.{w}\.[0-9a-f]{{64}}{re.escape(STAGED_SUFFIX)}"
    leftover = re.compile(rf"\.{w}{temp}|\.{s}{temp}|{staged}|\.{staged}{temp}")
    try:
        names = os.listdir(weights_path.parent)
    except OSError:
        return
    for name in names:
        if leftover.fullmatch(name):
            try:
                os.unlink(weights_path.parent / name)
            except OSError:  # already gone: harmless
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


def model_to_parts(model: TrainedModel, weights_name: str, *, for_shipping: bool = False) -> tuple[bytes, dict]:
    """(safetensors bytes, description) of ``model``: what a model file and a session's model hold.

    Shared by ``save_checkpoint`` and session files (``engine.session.archive``), so both write the same
    bytes; ``for_shipping`` is ``save_checkpoint``'s (float16 weights, no optimiser state).
    """
    import jax
    from safetensors.numpy import save as save_safetensors

    params, opt_state = jax.device_get((model.params, None if for_shipping else model.opt_state))
    tensors = {name: np.asarray(leaf) for name, leaf in _named_leaves(params, "params")}
    if for_shipping:
        tensors = {name: t.astype(np.float16) if t.dtype == np.float32 else t for name, t in tensors.items()}
    opt_tensors = {} if opt_state is None else {name: np.asarray(leaf) for name, leaf in _named_leaves(opt_state, "opt")}
    tensors.update(opt_tensors)
    payload = save_safetensors(tensors, metadata={"format": FORMAT})
    sidecar = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "stage": model.stage,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "weights_file": weights_name,
        "weights_sha256": hashlib.sha256(payload).hexdigest(),
        "model_config": dataclasses.asdict(model.model_config),
        "train_config": dataclasses.asdict(model.train_config),
        "tokenizer": model.tokenizer.to_json(),
        "corpus": {"name": model.corpus_name, "fingerprint": model.corpus_fingerprint},
        "step": int(model.step),
        "opt_state_tensors": list(opt_tensors),
        "weights_dtype": "float16" if for_shipping else "float32",
        "history": model.history.to_json(),
        "details": _plain_details(model.details),
    }
    sidecar.update(time_lapse_entry(model))
    sidecar[SETTINGS_HASH_KEY] = settings_sha256(sidecar)
    if len(payload) > MAX_MODEL_BYTES:  # it could not be opened again: say so now, not when opening
        raise CheckpointError(
            f"This model is {len(payload) / 2**30:.1f} GB, more than the {MAX_MODEL_BYTES / 2**30:.0f} GB "
            "a model file can hold, so it cannot be saved.", "Train a smaller model.")
    return payload, sidecar


def settings_sha256(sidecar: dict) -> str:
    """The sha256 of the settings the weights need (``SETTINGS_KEYS``), as canonical JSON.

    Canonical: keys sorted, no spaces, ASCII only; JSON gives the same numbers and text back, so the
    hash of a description read from a file equals the one computed when it was written.
    """
    settings = {key: sidecar.get(key) for key in SETTINGS_KEYS}
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _check_settings_hash(sidecar: dict, weights_name: str) -> None:
    """Refuse a description whose settings were changed after saving; one without the hash (older) passes."""
    if SETTINGS_HASH_KEY not in sidecar:
        return  # saved before the settings were hashed: the weights' hash is all there is to check
    try:
        same = sidecar[SETTINGS_HASH_KEY] == settings_sha256(sidecar)
    except (TypeError, ValueError, RecursionError):  # a damaged description: values JSON cannot write back
        same = False
    if not same:
        raise CheckpointError(
            f"The description of '{weights_name}' was changed after the model was saved: its settings no "
            "longer match the ones the weights were trained with.",
            "Use an unchanged copy of the model's .json file, or save the model again.",
        )


def save_checkpoint(model: TrainedModel, path: str | os.PathLike, *, for_shipping: bool = False) -> Path:
    """Save ``model``; returns the path of the weights file. Raises CheckpointError if it cannot.

    ``for_shipping`` stores the weights as float16 and leaves out the optimiser state: a third of
    the size, for the models bundled with the app. Opening one gives float32 weights again (the
    rounding changes no answer of the bundled models: ``scripts/make_shipped_models.py`` checks),
    and training continues from it with a fresh optimiser.
    """
    weights_path, sidecar_path = checkpoint_paths(path)
    payload, sidecar = model_to_parts(model, weights_path.name, for_shipping=for_shipping)
    staged_path = staged_weights_path(weights_path, sidecar["weights_sha256"])
    try:
        weights_path.parent.mkdir(parents=True, exist_ok=True)
        # 1. the new tensors, complete, under a hidden name
        write_atomically(staged_path, payload, mode_from=weights_path)
        write_atomically(sidecar_path, json.dumps(sidecar, allow_nan=True).encode("utf-8"))  # 2. the commit
        os.replace(staged_path, weights_path)  # 3. into place; until then the opener reads the staged file
        _fsync_folder(weights_path.parent)
    except OSError as err:
        raise CheckpointError(
            f"The model could not be saved to '{weights_path.parent}': {err.strerror or err}.",
            "Choose another folder, or free some disk space.",
        ) from err
    _remove_leftovers(weights_path, sidecar_path)  # 4.
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
    # Every setting is a whole number or a finite decimal, like its default; a damaged file could hold
    # anything JSON can (null, text, lists, 1e999), which validate() alone would not all catch.
    for f in dataclasses.fields(cls):
        value = data.get(f.name, f.default)
        whole = isinstance(value, int) and not isinstance(value, bool)
        number = whole or (isinstance(value, float) and math.isfinite(value))
        if not (whole if isinstance(f.default, int) else number):
            raise CheckpointError(f"The model file's {what} setting '{f.name}' is invalid ({str(value)[:40]!r}).")
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
    except PermissionError as err:
        raise _unreadable(sidecar_path) from err
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
    weights_path, sidecar_path = checkpoint_paths(path)
    if not weights_path.exists() and not sidecar_path.exists():
        raise CheckpointError(f"'{weights_path.name}' does not exist.", "Choose a .safetensors model file.")
    sidecar = _read_sidecar(sidecar_path)
    _check_settings_hash(sidecar, weights_path.name)
    model_cfg = _config(ModelConfig, sidecar.get("model_config"), "model")  # the sizes the file must have
    payload = _read_weights(weights_path, sidecar, model_cfg)
    return model_from_parts(sidecar, payload, weights_path.name)


def model_from_parts(sidecar: dict, payload: bytes, weights_name: str) -> TrainedModel:
    """The model that a checked description (``sidecar``) and its tensors' bytes describe.

    Shared by ``load_checkpoint`` and session files (``engine.session.archive``), so a model inside a session
    gets exactly the checks a model file gets. The caller has already checked the description's
    format, version and the payload's hash. Any problem raises CheckpointError, in plain words.
    """
    import jax
    import jax.numpy as jnp
    from safetensors import SafetensorError
    from safetensors.numpy import load as load_safetensors

    from engine.model import init_params
    from engine.train import make_optimizer

    _check_settings_hash(sidecar, weights_name)
    model_cfg = _config(ModelConfig, sidecar.get("model_config"), "model")
    train_cfg = _config(TrainConfig, sidecar.get("train_config"), "training")
    # The same header checks a model file gets before it is read (cheap: the header only).
    header_bytes = _header_bytes(payload[:8], weights_name)
    check_layout(payload[8:8 + header_bytes], len(payload), model_cfg, sidecar, weights_name)
    try:
        tensors = load_safetensors(payload)
    except (SafetensorError, ValueError) as err:
        raise CheckpointError(f"'{weights_name}' is not a valid safetensors model file.") from err

    try:
        tokenizer = tokenizer_from_json(sidecar["tokenizer"])
    except Exception as err:  # the tokenizers library raises its own types for malformed JSON
        raise CheckpointError("The model's tokenizer is missing or damaged.") from err
    if tokenizer.vocab_size != model_cfg.vocab_size:
        raise CheckpointError("The model's tokenizer does not match its model settings.")
    history_data, step, corpus = sidecar.get("history") or {}, sidecar.get("step"), sidecar.get("corpus") or {}
    try:  # a damaged file can hold any JSON value in any of these places
        if not (isinstance(history_data, dict) and all(isinstance(v, list) for v in history_data.values())
                and isinstance(step, int) and not isinstance(step, bool) and step >= 0
                and isinstance(corpus, dict) and isinstance(sidecar.get("stage", ""), str)):
            raise TypeError("wrong types in the training record")
        history = LossHistory.from_json(history_data)
        details = _plain_details(sidecar.get("details") or {})
        snapshots = time_lapse_from_json(sidecar.get("time_lapse"))
    except (TypeError, ValueError, OverflowError) as err:
        raise CheckpointError("The model's training record is damaged.") from err

    # check_layout has compared the parameters' count with the settings': a damaged setting (a million
    # layers) cannot make us trace a huge model. The shapes a model of this config must have, from an
    # abstract key: a real one would compile a program (and write JAX's cache) just to learn shapes.
    # Each stored array is checked against them.
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    template = jax.eval_shape(lambda k: init_params(model_cfg, k), key)
    half = sidecar.get("weights_dtype") == "float16"  # a shipped model: widened back to float32
    params = _restore(template, "params", tensors, weights_name, widen_half=half)
    opt_state = None
    if sidecar.get("opt_state_tensors"):
        opt_template = jax.eval_shape(make_optimizer(train_cfg).init, template)
        opt_state = _restore(opt_template, "opt", tensors, weights_name)
    return TrainedModel(
        # device_put, not jnp.asarray: the same arrays, without compiling a copy program per shape
        params=jax.device_put(params),
        opt_state=None if opt_state is None else jax.device_put(opt_state),
        model_config=model_cfg,
        train_config=train_cfg,
        tokenizer=tokenizer,
        step=step,
        history=history,
        corpus_name=str(corpus.get("name", "")),
        corpus_fingerprint=str(corpus.get("fingerprint", "")),
        stage=str(sidecar.get("stage", "pretraining")),
        details=details,
        time_lapse=snapshots,
    )


def time_lapse_entry(model: TrainedModel) -> dict:
    """The sidecar's ``time_lapse`` key, or nothing for a model without snapshots.

    Left out rather than written empty, so a sidecar of a model without a time-lapse is exactly what
    earlier versions wrote (and ``engine.session.archive``, which writes the same description, agrees).
    """
    return {"time_lapse": time_lapse_to_json(model.time_lapse)} if model.time_lapse else {}


def _plain_details(details) -> dict:
    """A stage's details (``TrainedModel.details``) as a flat dict of short JSON scalars, or TypeError.

    Checked both ways: a save must not write, and an open must not accept, anything nested or huge.
    """
    if not isinstance(details, dict) or len(details) > 64:
        raise TypeError("stage details must be a small dict")
    plain = {}
    for key, value in details.items():
        scalar = value is None or isinstance(value, (bool, int, float, str))
        if isinstance(value, str) and len(value) >= 1000:
            scalar = False
        if not (isinstance(key, str) and len(key) < 100 and scalar):
            raise TypeError("stage details must map short names to numbers, text or true/false")
        plain[key] = value
    return plain


def _unreadable(path: Path) -> CheckpointError:
    """A file the user may not read (its permissions), said as such rather than as damage."""
    return CheckpointError(
        f"'{path.name}' cannot be read: you do not have permission to open it.",
        "Ask whoever saved it to share it with you (or to save it again), or copy it to a folder of your own.",
    )


def _header_bytes(prefix: bytes, weights_name: str) -> int:
    """The length of a safetensors header, from the file's first 8 bytes (little-endian)."""
    if len(prefix) < 8:
        raise CheckpointError(f"'{weights_name}' is not a valid safetensors model file.")
    (length,) = struct.unpack("<Q", prefix)
    if not 2 <= length <= MAX_HEADER_BYTES:
        raise CheckpointError(f"'{weights_name}' is not a valid safetensors model file.")
    return length


def check_layout(header: bytes, file_size: int, model_cfg: ModelConfig, sidecar: dict, weights_name: str) -> int:
    """Check a safetensors header against the file's size and the model its description describes.

    Returns the size of the tensors' data. Refuses, in words, a header that is not one, one that
    declares another size than the file has, one whose parameters do not number what the settings
    need, and a model over ``MAX_MODEL_BYTES``: all before a byte of the tensors is read.
    """
    not_safetensors = CheckpointError(f"'{weights_name}' is not a valid safetensors model file.")
    try:
        layout = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise not_safetensors from err
    if not isinstance(layout, dict):
        raise not_safetensors
    data_bytes = params = 0
    for name, entry in layout.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise not_safetensors
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(dtype, str) and dtype in _DTYPE_BYTES and isinstance(shape, list) and len(shape) <= 8
                and isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape + offsets)):
            raise not_safetensors
        count = math.prod(shape)
        if offsets[1] - offsets[0] != count * _DTYPE_BYTES[dtype]:
            raise not_safetensors
        data_bytes = max(data_bytes, offsets[1])
        if str(name).startswith("params/"):
            params += count
    if file_size != 8 + len(header) + data_bytes:
        raise CheckpointError(
            f"'{weights_name}' is damaged or incomplete: it does not match its description.",
            "It may have been cut short while copying. Save the model again or use another copy.",
        )
    needed = param_count(model_cfg)
    if params != needed:
        raise CheckpointError(
            f"'{weights_name}' does not fit its own settings (it holds {params} parameters, "
            f"its settings need {needed}).",
            "It may have been made by a different program or version.",
        )
    if needed * 4 * 3 > MAX_MODEL_BYTES or data_bytes > MAX_MODEL_BYTES:
        raise CheckpointError(
            f"'{weights_name}' describes a model of {max(needed, params) / 1e6:,.0f} million numbers "
            f"({max(data_bytes, needed * 4) / 2**30:.1f} GB or more), far larger than any model Training "
            "Explorer trains, so it is not opened.", "Choose a model saved by Training Explorer.")
    # The parameters, and at most AdamW's two moments of each plus a few counters: nothing else.
    if data_bytes > needed * 4 * 3 + 2**16:
        raise CheckpointError(
            f"'{weights_name}' holds {data_bytes / 2**20:.0f} MB, more than a model of its settings ever does.",
            "It may have been made by a different program or version.",
        )
    return data_bytes


def _read_checked(path: Path, sidecar: dict, model_cfg: ModelConfig, weights_name: str) -> bytes:
    """A tensors file's bytes, read only after its header passed ``check_layout`` and it fits in memory.

    Reads exactly the size the header declares (the file cannot grow under us to more). The bytes
    returned are the ones then hashed and parsed, so what is checked is what is opened.
    """
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        length = _header_bytes(f.read(8), weights_name)
        if 8 + length > file_size:
            raise CheckpointError(f"'{weights_name}' is not a valid safetensors model file.")
        data_bytes = check_layout(f.read(length), file_size, model_cfg, sidecar, weights_name)
        if file_size >= MEMORY_CHECKED_FROM:
            from engine.data.corpus import available_memory_bytes

            free = available_memory_bytes()
            needed = 2 * file_size  # the file's bytes, and the arrays made from them
            if free is not None and needed > free:
                raise CheckpointError(
                    f"Opening '{weights_name}' needs about {needed / 2**20:,.0f} MB of memory, and this computer "
                    f"has {free / 2**20:,.0f} MB free.", "Close other programs and try again.")
        f.seek(0)
        payload = _read_exactly(f, 8 + length + data_bytes)
    if len(payload) != file_size:
        raise CheckpointError(f"'{weights_name}' changed while it was being read.", "Try opening it again.")
    return payload


def _read_exactly(f, size: int) -> bytes:
    """``size`` bytes from ``f`` (fewer if it ends first): the one read of a model's tensors."""
    return f.read(size)


def _read_weights(weights_path: Path, sidecar: dict, model_cfg: ModelConfig) -> bytes:
    """The tensors the sidecar describes: from the weights file, or from the staged file of a save
    that was interrupted after its commit (see the module docstring). Only ever reads complete files,
    and each only after its header and size were checked (``_read_checked``)."""
    expected_sha256 = sidecar.get("weights_sha256")
    candidates = [weights_path]
    # Only a well-formed hash names a staged file: a damaged sidecar cannot point anywhere else.
    if isinstance(expected_sha256, str) and _SHA256.fullmatch(expected_sha256):
        candidates.append(staged_weights_path(weights_path, expected_sha256))
    problem = None  # what was wrong with the weights file itself, said if no staged file saves the day
    for candidate in candidates:
        try:
            payload = _read_checked(candidate, sidecar, model_cfg, weights_path.name)
        except FileNotFoundError:
            continue
        except PermissionError as err:
            problem = problem or _unreadable(weights_path)
            problem.__cause__ = err
            continue
        except IsADirectoryError:
            continue
        except OSError as err:
            problem = problem or CheckpointError(f"'{weights_path.name}' cannot be read: {err.strerror or err}.")
            continue
        except CheckpointError as err:
            problem = problem or err
            continue
        if hashlib.sha256(payload).hexdigest() == expected_sha256:
            return payload
        problem = problem or CheckpointError(
            f"'{weights_path.name}' is damaged or incomplete: it does not match its description.",
            "It may have been cut short while copying. Save the model again or use another copy.",
        )
    if problem is None:
        raise CheckpointError(f"'{weights_path.name}' does not exist.", "Choose a .safetensors model file.")
    raise problem


def _restore(template, prefix: str, tensors: dict, file_name: str, widen_half: bool = False):
    import jax

    leaves = []
    for name, spec in _named_leaves(template, prefix):
        array = tensors.get(name)
        if widen_half and array is not None and array.dtype == np.float16 and spec.dtype == np.float32:
            array = array.astype(np.float32)
        if array is None or array.shape != spec.shape or array.dtype != spec.dtype:
            raise CheckpointError(
                f"'{file_name}' does not fit its own settings (the part '{name}' is missing or has the wrong shape).",
                "It may have been made by a different program or version.",
            )
        leaves.append(array)
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)
