"""Promise 5, session files: any damaged or hostile session opens correctly or raises SessionError.

Hypothesis damages a real session (a small model with its AdamW state, and every other kind of part)
in the ways files get damaged or forged:

* truncated at any byte, or with bytes flipped anywhere, in the zip's directory or in its entries;
* with the zip's own headers rewritten field by field (signatures, sizes, offsets, name lengths,
  compression method, flags, file modes) in the local headers, the central directory and its end record;
* zip bombs: parts that unpack to 1000 times their size, sizes declared larger or smaller than the
  truth, many directory records pointing at the same bytes, more parts than a session holds, a
  zip inside a part;
* parts whose names escape the folder (``..``, absolute paths, drive letters, backslashes), listed
  in a manifest that vouches for them;
* manifests with fields changed, deleted, added or made of the wrong types;
* models whose description is damaged: there the session's in-memory loader must agree with
  ``load_checkpoint`` (the same model, or both refuse).

Each must open as exactly the session that was saved or raise ``SessionError`` with a one-line
message: no other exception, no hang (pytest-timeout), nothing written anywhere (not even in the
fuzzed file's own folder), nothing read but the file itself.
"""

from __future__ import annotations

import copy
import json
import os
import struct
import tempfile
from pathlib import Path

import jax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.checkpoint import load_checkpoint
from engine.errors import CheckpointError, SessionError
from engine.session.archive import MANIFEST, SessionContents, checkpoint_from_bytes, open_session, session_bytes
from tests.engine.test_session import (assert_same_model, assert_same_session, central_records, entries_of, forge,
                                       foreign_reads, manifest_for, tiny_model)
from tests.reliability.file_access import files_opened
from tests.reliability.test_fuzz_checkpoint import BASE_SIDECAR, BASE_WEIGHTS, mutated_sidecar

pytestmark = pytest.mark.timeout(240)

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

jax.devices()  # start JAX before any tracked open: finding its devices reads /sys, which is not the session's doing
BASE_CONTENTS = SessionContents(
    curation={"cutoff_year": 1950, "topics": ["weather"]},
    checkpoints={"instruction": tiny_model(seed=5)},
    metrics={"pretraining": {"train_losses": [4.0, 3.5]}},
    votes=({"prompt": "p", "chosen": "a", "rejected": "b"},),
    ratings=({"prompt": "p", "model": "m", "answer": "a", "score": 5},),
    seeds={"data": 7},
    tabs={"data": {"source": "world"}, "evaluation": {"page": 2}},
)
BASE = session_bytes(BASE_CONTENTS)
BASE_ENTRIES = entries_of(BASE)
STATS = {"opened": 0, "refused": 0}


def open_bytes(data: bytes):
    """Write ``data`` into a fresh folder and open it; returns the contents or the SessionError."""
    with tempfile.TemporaryDirectory(prefix="te-fuzz-session-") as folder:
        path = Path(folder) / "fuzzed.tesession"
        path.write_bytes(data)
        with files_opened() as opened:
            try:
                result = open_session(path)
            except SessionError as err:
                result = err
        assert opened.written == [], f"opening a session wrote files: {opened.written}"
        assert os.listdir(folder) == ["fuzzed.tesession"], "opening a session changed its folder"
        assert foreign_reads(opened.read, path) == [], "opening a session read other files"
    if isinstance(result, SessionError):
        STATS["refused"] += 1
        message = str(result)
        assert message.strip() and "\n" not in message and "Traceback" not in message
    else:
        STATS["opened"] += 1
    return result


def opens_as_saved_or_is_refused(data: bytes):
    result = open_bytes(data)
    if not isinstance(result, SessionError):
        assert_same_session(BASE_CONTENTS, result)
    return result


def test_the_undamaged_session_opens():
    assert_same_session(BASE_CONTENTS, open_bytes(BASE))


# --- damage to the bytes ----------------------------------------------------------------------------


@FUZZ
@given(cut=st.integers(0, len(BASE) - 1))
def test_truncated_sessions_are_refused(cut):
    assert isinstance(open_bytes(BASE[:cut]), SessionError)


@settings(FUZZ, max_examples=80)
@given(flips=st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.integers(1, 255)), min_size=1, max_size=6),
       region=st.sampled_from(["anywhere", "directory", "start"]))
def test_flipped_bytes(flips, region):
    data = bytearray(BASE)
    directory = BASE.index(b"PK\x01\x02")
    for pos, mask in flips:
        # The zip's directory and the manifest are the last few kB; the JSON parts the first few hundred bytes.
        pos = {"anywhere": pos, "directory": directory + pos % (len(BASE) - directory), "start": pos % 1500}[region]
        data[pos] ^= mask
    opens_as_saved_or_is_refused(bytes(data))


# --- the zip's own headers --------------------------------------------------------------------------

# (offset within the record, struct format) of every field after the signature.
LOCAL_FIELDS = {"signature": (0, "<I"), "version": (4, "<H"), "flags": (6, "<H"), "method": (8, "<H"),
                "crc": (14, "<I"), "compressed": (18, "<I"), "size": (22, "<I"), "name_length": (26, "<H"),
                "extra_length": (28, "<H")}
CENTRAL_FIELDS = {"signature": (0, "<I"), "made_by": (4, "<H"), "version": (6, "<H"), "flags": (8, "<H"),
                  "method": (10, "<H"), "crc": (16, "<I"), "compressed": (20, "<I"), "size": (24, "<I"),
                  "name_length": (28, "<H"), "extra_length": (30, "<H"), "comment_length": (32, "<H"),
                  "disk": (34, "<H"), "mode": (38, "<I"), "offset": (42, "<I")}
END_FIELDS = {"signature": (0, "<I"), "disk": (4, "<H"), "directory_disk": (6, "<H"), "entries_here": (8, "<H"),
              "entries": (10, "<H"), "directory_size": (12, "<I"), "directory_offset": (16, "<I"),
              "comment_length": (20, "<H")}


def _records() -> list[tuple[int, dict]]:
    central = central_records(BASE)
    local = [struct.unpack_from("<I", BASE, at + 42)[0] for at in central.values()]
    return ([(at, LOCAL_FIELDS) for at in local] + [(at, CENTRAL_FIELDS) for at in central.values()]
            + [(BASE.rindex(b"PK\x05\x06"), END_FIELDS)])


RECORDS = _records()


@st.composite
def rewritten_field(draw) -> tuple[int, str, int]:
    at, fields = draw(st.sampled_from(RECORDS))
    field = draw(st.sampled_from(sorted(fields)))
    offset, fmt = fields[field]
    top = 2 ** (8 * struct.calcsize(fmt)) - 1
    (old,) = struct.unpack_from(fmt, BASE, at + offset)
    if field == "mode":  # Unix file types in the high half: links, folders, devices, pipes
        value = draw(st.sampled_from([0o120777, 0o040755, 0o020644, 0o010644, 0o100755, 0])) << 16
    else:
        value = draw(st.one_of(st.sampled_from([0, 1, top, top - 1]), st.integers(0, top),
                               st.integers(-8, 8).map(lambda d: min(max(old + d, 0), top))))
    return at + offset, fmt, value


@settings(FUZZ, max_examples=80)
@given(changes=st.lists(rewritten_field(), min_size=1, max_size=3))
def test_rewritten_zip_headers(changes):
    data = bytearray(BASE)
    for position, fmt, value in changes:
        struct.pack_into(fmt, data, position, value)
    opens_as_saved_or_is_refused(bytes(data))


# --- zip bombs --------------------------------------------------------------------------------------


def _with(name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(n, data if n == name else d) for n, d in BASE_ENTRIES]


@settings(FUZZ, max_examples=24)
@given(kind=st.sampled_from(["ratio", "declared", "overlap", "many", "nested"]), size=st.integers(100_000, 8_000_000),
       target=st.sampled_from([n for n, _ in BASE_ENTRIES]), count=st.integers(1, 200), vouch=st.booleans())
def test_zip_bombs_are_refused(kind, size, target, count, vouch):
    if kind == "ratio":  # real data that unpacks to ~1000 times its packed size, vouched for by the manifest
        data = forge(_with("tabs.json", b" " * size + b'{"data": {}}'))
    elif kind == "declared":  # the directory claims another size than the truth (the manifest may agree)
        entries = BASE_ENTRIES
        manifest = json.loads(manifest_for(entries))
        if vouch:
            manifest["entries"][target]["size"] = size
        data = bytearray(forge(entries, json.dumps(manifest).encode()))
        struct.pack_into("<I", data, central_records(bytes(data))[target] + 24, size)
    elif kind == "overlap":  # several directory records point at one entry's bytes
        data = bytearray(BASE)
        records = list(central_records(BASE).values())
        for at in records[1:1 + count]:
            data[at + 42:at + 46] = data[records[0] + 42:records[0] + 46]
    elif kind == "many":  # more parts than any session holds, each vouched for
        data = forge(BASE_ENTRIES + [(f"checkpoints/m{i}.json", b"{}") for i in range(count)])
    else:  # a whole session where a part should be
        data = forge(_with(target, BASE))
    result = open_bytes(bytes(data))
    if not (kind == "many" and count < 2):
        assert isinstance(result, SessionError)


# --- names that escape the folder --------------------------------------------------------------------

NAME_PARTS = st.sampled_from(["..", ".", "", "evil.json", "tabs.json", "C:", "c:evil.json", "checkpoints",
                              "..\\..\\evil.json", "\\evil.json", "x.safetensors", "~", "%2e%2e", "\u2025"])


@settings(FUZZ, max_examples=60)
@given(parts=st.lists(NAME_PARTS, min_size=1, max_size=5), absolute=st.booleans(), replace=st.booleans())
def test_names_that_escape_the_folder_are_refused(parts, absolute, replace):
    name = ("/" if absolute else "") + "/".join(parts)
    known = {n for n, _ in BASE_ENTRIES}
    if name in known or name.rstrip("/") in known and not name.endswith("/"):
        return  # a real part's own name
    entries = ([(name if n == "seeds.json" else n, d) for n, d in BASE_ENTRIES] if replace
               else BASE_ENTRIES + [(name, b'{"data": 1}')])
    result = open_bytes(forge(entries))  # the manifest lists the name, with its right size and hash
    assert isinstance(result, SessionError)
    assert not (Path(tempfile.gettempdir()) / "evil.json").exists()


# --- the manifest ------------------------------------------------------------------------------------

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                      st.sampled_from(["", "tabs", "checkpoint-weights", "0" * 64, "2024-06-08T10:42:00"]))
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                             max_size=3), max_leaves=8)
BASE_MANIFEST = json.loads(manifest_for(BASE_ENTRIES))


def _manifest_paths(value, prefix=()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _manifest_paths(child, prefix + (key,))
    return out


MANIFEST_PATHS = _manifest_paths(BASE_MANIFEST)


@settings(FUZZ, max_examples=50)
@given(changes=st.lists(st.tuples(st.sampled_from(MANIFEST_PATHS), st.sampled_from(["set", "delete", "add"]), JSON),
                        min_size=1, max_size=3))
def test_mutated_manifests(changes):
    manifest = copy.deepcopy(BASE_MANIFEST)
    for path, action, value in changes:
        parent = manifest
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or path[-1] not in parent:
            continue  # an earlier change removed or replaced this part
        if action == "set":
            parent[path[-1]] = value
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[f"{path[-1]}-extra"] = value
    result = open_bytes(forge(BASE_ENTRIES, json.dumps(manifest).encode()))
    if not isinstance(result, SessionError):
        assert_same_session(BASE_CONTENTS, result)


# --- a model inside: the same verdict as load_checkpoint ------------------------------------------------

@settings(FUZZ, max_examples=40)
@given(doc=mutated_sidecar())
def test_a_damaged_model_description_gets_the_same_verdict_as_load_checkpoint(doc):
    description = json.dumps(doc).encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory(prefix="te-fuzz-session-ckpt-") as folder:
        (Path(folder) / "m.safetensors").write_bytes(BASE_WEIGHTS)
        (Path(folder) / "m.json").write_bytes(description)
        try:
            on_disk = load_checkpoint(Path(folder) / "m")
        except CheckpointError as err:
            on_disk = err
    try:
        in_memory = checkpoint_from_bytes(BASE_WEIGHTS, description, "m.safetensors")
    except CheckpointError as err:
        in_memory = err
    assert isinstance(in_memory, CheckpointError) == isinstance(on_disk, CheckpointError), (on_disk, in_memory)
    if not isinstance(on_disk, CheckpointError):
        assert_same_model(on_disk, in_memory)
    # Inside a session, vouched for by the manifest: opened like that, or refused as a SessionError.
    entries = [("checkpoints/m.safetensors", BASE_WEIGHTS), ("checkpoints/m.json", description)]
    entries = [(n, d) for n, d in BASE_ENTRIES if not n.startswith("checkpoints/")] + entries
    result = open_bytes(forge(entries, deflate=None))  # packed as save_session packs
    assert isinstance(result, SessionError) == isinstance(on_disk, CheckpointError), result


def test_the_base_description_is_the_checkpoint_tests_own():
    assert BASE_SIDECAR["format"] == "training-explorer-checkpoint" and MANIFEST == "manifest.json"


def test_print_how_many_cases_ran():
    print(f"\nsession fuzz: {STATS}")
