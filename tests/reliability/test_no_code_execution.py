"""Promise 6: no file can make the app run code. Nothing is unpickled, evaluated or executed.

Two halves: checkpoints carrying pickle payloads (some of which would run code if unpickled) are
refused even when their sidecar's hash vouches for them; and the sources of the app (engine, gui,
scripts) contain no call that could turn file contents into code.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import pickle
import re
import tempfile
import tokenize
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from engine.config import ModelConfig
from engine.errors import CheckpointError
from tests.reliability.checkpoint_writer import version

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("engine", "gui", "scripts") for p in (ROOT / folder).rglob("*.py"))
SMALL = ModelConfig(vocab_size=64, n_layers=1, n_heads=2, d_model=16, context_length=8)


class _RunsCodeWhenUnpickled:
    """Unpickling this calls os.mkdir(marker): proof of code execution, harmless otherwise."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def refuse(tmp: Path, payload: bytes) -> CheckpointError:
    """Put ``payload`` where the tensors go, with a sidecar whose hash matches it, and open the pair."""
    weights, sidecar = checkpoint_paths(save_checkpoint(version(1, SMALL), tmp / "m"))
    weights.write_bytes(payload)
    meta = json.loads(sidecar.read_text())
    meta["weights_sha256"] = hashlib.sha256(payload).hexdigest()
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(weights)
    return info.value


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_that_would_run_code_is_refused_and_never_run(tmp_path, protocol):
    marker = tmp_path / "code-ran"
    payload = pickle.dumps({"params/wte": _RunsCodeWhenUnpickled(str(marker))}, protocol=protocol)
    err = refuse(tmp_path, payload)
    assert "not a valid safetensors" in str(err)
    assert not marker.exists(), "the checkpoint's pickle was executed"


def test_numpy_files_with_pickled_objects_are_refused(tmp_path):
    marker = tmp_path / "code-ran"
    buffer = io.BytesIO()
    np.save(buffer, np.array([_RunsCodeWhenUnpickled(str(marker))], dtype=object), allow_pickle=True)
    refuse(tmp_path, buffer.getvalue())
    assert not marker.exists()


PICKLABLE = st.recursive(st.none() | st.integers() | st.floats() | st.text(max_size=10) | st.binary(max_size=20),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=4), max_leaves=10)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(value=PICKLABLE, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL), prefix=st.binary(max_size=16))
def test_any_pickle_payload_is_refused(value, protocol, prefix):
    with tempfile.TemporaryDirectory() as folder:
        refuse(Path(folder), prefix + pickle.dumps(value, protocol=protocol))


# --- the sources ------------------------------------------------------------------------------------

UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "torch",
                  "jsonpickle"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}
UNSAFE_TEXT = re.compile(r"allow_pickle\s*=\s*True|torch\.load|pickle\.loads?\b|yaml\.load\(|yaml\.unsafe_load")


def test_the_sources_are_where_we_think():
    names = {p.relative_to(ROOT).as_posix() for p in SOURCES}
    assert {"engine/checkpoint.py", "engine/data/corpus.py", "gui/main_window.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_source_can_turn_file_contents_into_code(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in UNSAFE_MODULES:
            problems.append(node.module)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in UNSAFE_BUILTINS:
                problems.append(f"{node.func.id}() at line {node.lineno}")
            for keyword in node.keywords:  # np.load(..., allow_pickle=True) however it is spelled
                if keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant)
                                                         and keyword.value.value is False):
                    problems.append(f"allow_pickle at line {node.lineno}")
    # Outside strings and comments (docstrings may say "never unpickled"), no mention of unsafe loaders.
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    code = " ".join(t.string for t in tokens if t.type not in (tokenize.STRING, tokenize.COMMENT))
    problems += UNSAFE_TEXT.findall(code.replace(" . ", ".").replace(" = ", "=").replace(" (", "("))
    assert not problems, f"{path.name}: {problems}"


def test_the_source_check_catches_what_it_looks_for(tmp_path):
    """The scan above is only worth something if it fires on the real thing."""
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nimport numpy as np\nx = eval(open('f').read())\ny = np.load('a', allow_pickle=True)\n"
                   "z = pickle.loads(b'')\n")
    with pytest.raises(AssertionError) as info:
        test_no_source_can_turn_file_contents_into_code(bad)
    for expected in ("pickle", "eval()", "allow_pickle", "pickle.loads"):
        assert expected in str(info.value)
