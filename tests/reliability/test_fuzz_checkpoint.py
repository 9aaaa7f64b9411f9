"""Promise 5, checkpoints: any damaged or hostile model file opens correctly or raises CheckpointError.

Hypothesis damages a real checkpoint (a small model with its AdamW state) in the ways files get
damaged or forged:

* the tensors file truncated, bytes flipped, its safetensors header rewritten (dtype, shape, offsets,
  header length), with the sidecar's hash left alone (the hash check must catch it) or updated to
  match (so the safetensors parser and the shape checks get the damaged bytes);
* the JSON sidecar with fields set to values of the wrong type, deleted, added, nested deeply, or
  made of enormous strings; and sidecars that are not JSON objects at all.

Each must load into a consistent model or raise ``CheckpointError`` with a one-line message:
no other exception, no hang (pytest-timeout), no file written outside the app's own folders
(JAX's compilation cache), none opened outside the model's folder and those.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import struct
import tempfile
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from engine.config import ModelConfig
from engine.errors import CheckpointError
from engine.train import make_optimizer
from tests.reliability.checkpoint_writer import version
from tests.reliability.file_access import files_opened, outside

pytestmark = pytest.mark.timeout(240)

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
SMALL = ModelConfig(vocab_size=64, n_layers=1, n_heads=2, d_model=16, context_length=8)


def _base() -> tuple[bytes, dict]:
    model = version(3, SMALL)
    model.opt_state = make_optimizer(model.train_config).init(jax.tree.map(np.asarray, model.params))
    with tempfile.TemporaryDirectory() as folder:
        weights, sidecar = checkpoint_paths(save_checkpoint(model, Path(folder) / "m"))
        return weights.read_bytes(), json.loads(sidecar.read_text())


BASE_WEIGHTS, BASE_SIDECAR = _base()
STATS = {"loaded": 0, "refused": 0}


def open_pair(weights: bytes, sidecar: bytes | str | dict, rehash: bool = False):
    """Write the pair into a fresh folder and open it; returns the model or the CheckpointError."""
    if isinstance(sidecar, dict):
        if rehash:
            sidecar = dict(sidecar, weights_sha256=hashlib.sha256(weights).hexdigest())
        sidecar = json.dumps(sidecar)
    with tempfile.TemporaryDirectory(prefix="te-fuzz-ckpt-") as folder:
        path = Path(folder) / "m.safetensors"
        path.write_bytes(weights)
        (Path(folder) / "m.json").write_bytes(sidecar.encode("utf-8", "surrogatepass") if isinstance(sidecar, str)
                                              else sidecar)
        with files_opened() as opened:
            try:
                result = load_checkpoint(path)
            except CheckpointError as err:
                result = err
        stray = outside(opened.written, folder)  # JAX may cache a compiled helper in the app's folder
        assert not stray, f"opening a model wrote files outside the app's folders: {stray}"
        assert not [p for p in opened.written if p.startswith(folder)], "opening a model changed its folder"
        stray = outside([p for p in opened.read if not p.endswith(".py")], folder)
        assert not stray, f"opening a model read files outside its folder: {stray}"
    if isinstance(result, CheckpointError):
        STATS["refused"] += 1
        message = str(result)
        assert message.strip() and "\n" not in message and "Traceback" not in message
    else:
        STATS["loaded"] += 1
        check_consistent(result)
    return result


def check_consistent(model) -> None:
    """A model that opened is one the rest of the app can use: settings valid, arrays fit, record sane."""
    cfg = model.model_config
    cfg.validate()
    model.train_config.validate()
    for value in vars(cfg).values():
        assert isinstance(value, int) and not isinstance(value, bool)
    for value in vars(model.train_config).values():
        assert isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    assert model.tokenizer.vocab_size == cfg.vocab_size
    assert model.params["wte"].shape == (cfg.vocab_size, cfg.d_model)
    assert isinstance(model.step, int) and model.step >= 0
    h = model.history
    assert len(h.train_steps) == len(h.train_losses) and len(h.val_steps) == len(h.val_losses)
    assert isinstance(model.corpus_name, str) and isinstance(model.stage, str)


def test_the_undamaged_pair_loads():
    model = open_pair(BASE_WEIGHTS, BASE_SIDECAR)
    assert not isinstance(model, CheckpointError) and model.step == 3 and model.opt_state is not None


# --- the tensors file -----------------------------------------------------------------------------


def header(weights: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", weights[:8])
    return json.loads(weights[8:8 + n]), weights[8 + n:]


def with_header(head: dict, body: bytes) -> bytes:
    raw = json.dumps(head).encode()
    return struct.pack("<Q", len(raw)) + raw + body


@FUZZ
@given(cut=st.integers(0, len(BASE_WEIGHTS) - 1), rehash=st.booleans())
def test_truncated_weights(cut, rehash):
    result = open_pair(BASE_WEIGHTS[:cut], BASE_SIDECAR, rehash)
    assert isinstance(result, CheckpointError)


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, len(BASE_WEIGHTS) - 1), st.integers(1, 255)), min_size=1, max_size=8),
       near_start=st.booleans(), rehash=st.booleans())
def test_flipped_bytes_in_weights(flips, near_start, rehash):
    data = bytearray(BASE_WEIGHTS)
    # One change per position (two flips of the same bit would cancel out); the header (shapes,
    # dtypes, offsets) is in the first few hundred bytes.
    for pos, mask in {(p % 600 if near_start else p): m for p, m in flips}.items():
        data[pos] ^= mask
    result = open_pair(bytes(data), BASE_SIDECAR, rehash)
    if not rehash:
        assert isinstance(result, CheckpointError)  # the hash catches every change


TENSOR_FIELD = st.one_of(
    st.tuples(st.just("dtype"), st.sampled_from(["F16", "F64", "I32", "I8", "BOOL", "U8", "BF16", "F8_E4M3", "XX", ""])),
    st.tuples(st.just("shape"), st.lists(st.integers(-2, 2**40), max_size=4)),
    st.tuples(st.just("data_offsets"), st.lists(st.integers(-2, 2**62), max_size=3)),
    st.tuples(st.sampled_from(["dtype", "shape", "data_offsets"]), st.sampled_from([None, "x", 3.5, {}, [[]]])),
)


@FUZZ
@given(changes=st.lists(st.tuples(st.integers(0, 10**6), TENSOR_FIELD), min_size=1, max_size=3),
       extra=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=2), rehash=st.booleans())
def test_rewritten_safetensors_header(changes, extra, rehash):
    head, body = header(BASE_WEIGHTS)
    names = sorted(k for k in head if k != "__metadata__")
    for index, (field, value) in changes:
        head[names[index % len(names)]][field] = value
    head.update({k: v for k, v in extra.items() if k not in head})
    open_pair(with_header(head, body), BASE_SIDECAR, rehash)


@FUZZ
@given(length=st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 4096)), rehash=st.booleans())
def test_wrong_header_length(length, rehash):
    result = open_pair(struct.pack("<Q", length) + BASE_WEIGHTS[8:], BASE_SIDECAR, rehash)
    if length != struct.unpack("<Q", BASE_WEIGHTS[:8])[0]:
        assert isinstance(result, CheckpointError)


@pytest.mark.parametrize("weights", [b"", b"\x00" * 8, b"PK\x03\x04" + b"\x00" * 100, b"\x80\x04\x95" + b"\x00" * 50,
                                     b'{"hello": 1}', b"\xff" * 64])
def test_files_that_are_not_safetensors_at_all(weights):
    assert isinstance(open_pair(weights, BASE_SIDECAR, rehash=True), CheckpointError)


# --- the sidecar ----------------------------------------------------------------------------------

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-3, 300), st.floats(allow_nan=True),
                      st.text(max_size=20), st.sampled_from(["", "char", "bpe", "nan", "1e309", "-1"]))
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                             max_size=4), max_leaves=12)


def _paths(value, prefix=()) -> list[tuple]:
    """Every key path into the sidecar's objects (and the first items of its lists)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value[:2]):
            out += _paths(child, prefix + (i,))
    return out


PATHS = _paths(BASE_SIDECAR)


def _parent(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated_sidecar(draw) -> dict:
    doc = copy.deepcopy(BASE_SIDECAR)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        try:
            parent = _parent(doc, path)
            if not isinstance(parent, (dict, list)) or (isinstance(parent, list) and path[-1] >= len(parent)) \
                    or (isinstance(parent, dict) and path[-1] not in parent):
                continue
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this part
        action = draw(st.sampled_from(["set", "set", "delete", "add", "nest", "enormous"]))
        if action == "set":
            parent[path[-1]] = draw(JSON)
        elif action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(JSON)
        elif action == "nest":  # deep, but within what json.dumps can write
            value = draw(JSON)
            for _ in range(draw(st.integers(10, 400))):
                value = [value] if draw(st.booleans()) else {"x": value}
            parent[path[-1]] = value
        elif action == "enormous":
            parent[path[-1]] = draw(st.sampled_from(["x", "é", "\x00", "🙂"])) * draw(st.integers(10**5, 3 * 10**6))
    return doc


@settings(FUZZ, max_examples=250)
@given(doc=mutated_sidecar(), rehash=st.booleans())
def test_mutated_sidecar(doc, rehash):
    open_pair(BASE_WEIGHTS, doc, rehash)


@settings(FUZZ, max_examples=40)
@given(doc=JSON)
def test_sidecar_that_is_any_json_value(doc):
    assert isinstance(open_pair(BASE_WEIGHTS, json.dumps(doc)), CheckpointError)


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,  # deeper than any JSON parser's recursion
    '{"format": "training-explorer-checkpoint", "version": 1, "history": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"format": "training-explorer-checkpoint", "version": 1, "step": 1e999}',
    "\ud800",  # a lone surrogate: not UTF-8 once written
    "",
])
def test_sidecar_texts_no_parser_survives(text):
    assert isinstance(open_pair(BASE_WEIGHTS, text), CheckpointError)


def test_a_sidecar_over_the_size_limit_is_refused_unread(tmp_path):
    from engine.checkpoint import MAX_SIDECAR_BYTES

    doc = dict(BASE_SIDECAR, stage="x" * (MAX_SIDECAR_BYTES + 1))
    result = open_pair(BASE_WEIGHTS, doc)
    assert isinstance(result, CheckpointError) and "too large" in str(result)


def test_print_how_many_cases_ran():
    print(f"\ncheckpoint fuzz: {STATS}")
