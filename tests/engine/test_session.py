"""Sessions: every kind of content round-trips (models bit for bit), autosave is found and replaced,
a failed save keeps the old file, and every kind of unsafe or damaged session file is refused in words.

The forging helpers here (``forge``, ``manifest_for``) build session zips by hand, entry by entry,
so that a test can break exactly one rule; ``tests/reliability/test_fuzz_session.py`` uses them too.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import pickle
import re
import stat
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jax
import numpy as np
import pytest

from engine.checkpoint import load_checkpoint, save_checkpoint, settings_sha256
from engine.config import ModelConfig, TrainConfig
from engine.errors import PlainError, SessionError
from engine.model import init_params
from engine.session.archive import (MANIFEST, MAX_ENTRIES, WEIGHTS_KIND, SessionContents, SessionInfo, _compression, autosave,
                            autosave_path, checkpoint_from_bytes, checkpoint_to_bytes, discard_autosave,
                            find_autosave, open_session, save_session, session_bytes, session_info)
from engine.tokenizer import TokenizerSpec, build_tokenizer
from engine.train import make_optimizer
from engine.trained_model import LossHistory, TrainedModel
from tests.reliability.file_access import files_opened

TEXT = "the cat sat on a mat and the dog ran to the red house by the sea.\n" * 40


def tiny_model(seed: int = 0, tokenizer_kind: str = "bpe", stage: str = "instruction") -> TrainedModel:
    """A 1-layer model with a BPE tokenizer, AdamW moments and stage details; every array distinct.

    The arrays are numpy random numbers in the shapes ``init_params`` and the optimiser give: a round
    trip must keep any values, and numpy builds them without compiling anything.
    """
    tokenizer = build_tokenizer(TEXT, TokenizerSpec(tokenizer_kind, 270))
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, n_layers=1, n_heads=2, d_model=32, context_length=16)
    train = TrainConfig(batch_size=4, total_steps=20, warmup_steps=2)
    rng = np.random.default_rng(seed)

    def filled(spec):
        if np.issubdtype(spec.dtype, np.floating):
            return rng.standard_normal(spec.shape).astype(spec.dtype)
        return rng.integers(0, 100, spec.shape).astype(spec.dtype)

    shapes = jax.eval_shape(lambda k: init_params(cfg, k), jax.ShapeDtypeStruct((2,), np.uint32))
    params = jax.tree.map(filled, shapes)
    opt_state = jax.tree.map(filled, jax.eval_shape(make_optimizer(train).init, shapes))
    return TrainedModel(
        params=params, opt_state=opt_state, model_config=cfg, train_config=train,
        tokenizer=tokenizer, step=1, history=LossHistory([0, 1], [5.5, 5.25], [1], [5.4]),
        corpus_name="cats and dogs é", corpus_fingerprint="ab" * 32, stage=stage,
        details={"method": "full", "beta": 0.1, "base_stage": "pretraining", "lora_rank": None},
    )


def foreign_reads(read: list[str], path: Path) -> list[str]:
    """Files read other than the session, free memory, and Python's own installation (JAX finds its plugins)."""
    import sys

    python = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix})
    return [r for r in read if r not in (str(path), "/proc/meminfo") and not os.path.realpath(r).startswith(python)]


def leaf_arrays(model) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves((model.params, model.opt_state))]


def assert_same_model(a: TrainedModel, b: TrainedModel) -> None:
    """Bit for bit: every array's dtype, shape and bytes, the tree shapes, and every other field."""
    for x, y in zip(leaf_arrays(a), leaf_arrays(b), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
    assert jax.tree.structure(a.params) == jax.tree.structure(b.params)
    assert jax.tree.structure(a.opt_state) == jax.tree.structure(b.opt_state)
    assert a.tokenizer.to_json() == b.tokenizer.to_json()
    for name in ("model_config", "train_config", "step", "history", "corpus_name", "corpus_fingerprint", "stage",
                 "details"):
        assert getattr(a, name) == getattr(b, name), name


def assert_same_session(a: SessionContents, b: SessionContents) -> None:
    for name in ("curation", "metrics", "votes", "ratings", "seeds", "tabs"):
        assert json.dumps(getattr(a, name)) == json.dumps(getattr(b, name)), name  # also the order of keys
    assert set(a.checkpoints) == set(b.checkpoints)
    for name in a.checkpoints:
        assert_same_model(a.checkpoints[name], b.checkpoints[name])


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    jax.devices()  # start JAX here: finding its devices reads /sys, which is JAX's doing, not opening's
    return tiny_model()


def full_contents(model) -> SessionContents:
    return SessionContents(
        curation={"cutoff_year": 1950, "topics": ["weather", "trains"], "mix": {"news": 0.5, "forum": 0.25},
                  "dedupe": True, "note": None},
        checkpoints={"pretraining": tiny_model(1, "char", "pretraining"), "instruction": model},
        metrics={"pretraining": {"train_steps": [0, 5, 10], "train_losses": [4.1, 3.2, float("nan")],
                                 "best": float("inf")}},
        votes=({"prompt": "Où est le chat?", "chosen": " Là.", "rejected": " 🙂", "meta": {"kind": "vote"}},
               {"prompt": "2", "chosen": "a\nb", "rejected": "\x00"}),
        ratings=({"prompt": "p", "model": "instruction", "answer": "a", "score": 4},),
        seeds={"data": 7, "pretraining": 2**62, "negative": -3},
        tabs={"data": {"source": "world", "undo": [[1, [2, [3, []]]]], "empty": {}},
              "pretraining": {"zoom": 1.5, "visible": False, "z": 0, "a": -1}},  # key order kept: z before a
    )


# --- round trips ------------------------------------------------------------------------------------


def test_every_kind_of_content_round_trips_and_models_bit_for_bit(model, tmp_path):
    contents = full_contents(model)
    path = save_session(contents, tmp_path / "lesson.tesession")
    assert sorted(os.listdir(tmp_path)) == ["lesson.tesession"]  # no temporary file left
    with files_opened() as opened:
        reopened = open_session(path)
    assert opened.written == [], "opening a session wrote files"
    assert foreign_reads(opened.read, path) == []  # and read nothing but the session itself
    assert_same_session(contents, reopened)
    assert list(reopened.tabs["pretraining"]) == ["zoom", "visible", "z", "a"]
    assert np.isnan(reopened.metrics["pretraining"]["train_losses"][2])
    # Open, save, open again: still the same, and the model still the one we started with.
    again = open_session(save_session(reopened, tmp_path / "again.tesession"))
    assert_same_session(contents, again)


def test_an_empty_session_round_trips(tmp_path):
    reopened = open_session(save_session(SessionContents(), tmp_path / "empty.tesession"))
    assert_same_session(SessionContents(), reopened)
    assert reopened.checkpoints == {} and reopened.votes == ()


def test_tuples_come_back_as_lists(tmp_path):
    contents = SessionContents(tabs={"data": {"pair": (1, (2, 3))}}, votes=[{"a": 1}])
    assert open_session(save_session(contents, tmp_path / "t.tesession")).tabs == {"data": {"pair": [1, [2, 3]]}}


def test_a_sessions_model_is_exactly_the_checkpoint_files_save_checkpoint_writes(model, tmp_path):
    """The in-memory copies of save/load_checkpoint agree with engine.checkpoint byte for byte."""
    weights_path = save_checkpoint(model, tmp_path / "m")
    weights, description = checkpoint_to_bytes(model, "m.safetensors")
    assert weights == weights_path.read_bytes()
    on_disk = json.loads((tmp_path / "m.json").read_text())
    in_session = json.loads(description)
    assert {k: v for k, v in in_session.items() if k != "saved_at"} == \
           {k: v for k, v in on_disk.items() if k != "saved_at"}
    # What a session holds can be written out as a checkpoint, and load_checkpoint opens it.
    (tmp_path / "x.safetensors").write_bytes(weights)
    (tmp_path / "x.json").write_bytes(description)
    assert_same_model(load_checkpoint(tmp_path / "x"), checkpoint_from_bytes(weights, description, "x.safetensors"))
    assert_same_model(model, checkpoint_from_bytes(weights, description, "x.safetensors"))


def test_the_manifest_lists_every_entry_last_with_its_size_and_hash(model, tmp_path):
    path = save_session(full_contents(model), tmp_path / "s.tesession")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert infos[-1].filename == MANIFEST and max(i.header_offset for i in infos) == infos[-1].header_offset
        manifest = json.loads(archive.read(MANIFEST))
        assert manifest["format"] == "training-explorer-session" and manifest["version"] == 1
        assert isinstance(manifest["app_version"], str) and manifest["app_version"]
        saved_at = datetime.fromisoformat(manifest["saved_at"])
        assert abs(saved_at - datetime.now().astimezone()) < timedelta(minutes=1)
        assert set(manifest["entries"]) == {i.filename for i in infos[:-1]}
        for info in infos[:-1]:
            entry = manifest["entries"][info.filename]
            data = archive.read(info)
            assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert manifest["entries"]["checkpoints/instruction.safetensors"]["kind"] == "checkpoint-weights"
        assert manifest["entries"]["votes.jsonl"]["kind"] == "votes"
        assert archive.read("votes.jsonl").decode().count("\n") == 2  # JSONL: one vote per line
    info = session_info(path)
    assert info.checkpoint_names == ("instruction", "pretraining") and info.saved_at == saved_at


def test_very_repetitive_state_is_stored_so_that_it_never_looks_like_a_zip_bomb(tmp_path):
    contents = SessionContents(tabs={"data": {"zeros": [0] * 400_000}})
    path = save_session(contents, tmp_path / "z.tesession")
    assert open_session(path).tabs == contents.tabs


NOT_PLAIN_JSON = [
    {"tabs": {"data": {"array": np.zeros(3)}}},
    {"tabs": {"data": {"set": {1, 2}}}},
    {"tabs": {"data": {1: "a key that is not text"}}},
    {"tabs": {"data": "a tab state that is not an object"}},
    {"tabs": {"data": {"deep": json.loads("[" * 40 + "]" * 40)}}},
    {"metrics": {"run": {"big": 10**30}}},
    {"seeds": {"data": 1.5}},
    {"seeds": {"data": True}},
    {"curation": ["not", "an", "object"]},
    {"votes": ({"ok": 1}, "not an object")},
    {"checkpoints": {"../escape": None}},
    {"checkpoints": {"pretraining": "not a model"}},
]


def test_state_that_is_not_plain_json_is_refused_in_words_and_nothing_is_written(tmp_path):
    for bad in NOT_PLAIN_JSON:
        with pytest.raises(SessionError) as info:
            save_session(SessionContents(**bad), tmp_path / "s.tesession")
        assert "\n" not in str(info.value) and "Traceback" not in str(info.value), bad
        assert os.listdir(tmp_path) == [], bad


# --- atomic saves and autosave ----------------------------------------------------------------------


def test_a_save_that_fails_keeps_the_old_session_and_leaves_nothing_visible(model, tmp_path, monkeypatch):
    path = save_session(SessionContents(seeds={"version": 1}), tmp_path / "s.tesession")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(SessionError, match="No space left on device") as info:
        save_session(SessionContents(seeds={"version": 2}), path)
    assert isinstance(info.value, PlainError)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["s.tesession"]
    assert open_session(path).seeds == {"version": 1}


def test_a_killed_saves_leftovers_are_hidden_and_cleared_by_the_next_save(tmp_path):
    path = save_session(SessionContents(seeds={"version": 1}), tmp_path / "s.tesession")
    leftover = tmp_path / ".s.tesession.ab12cd_9.partial"  # what a save killed mid-write leaves
    leftover.write_bytes(session_bytes(SessionContents(seeds={"version": 2}))[:1000])
    others = [tmp_path / ".other.tesession.ab12cd_9.partial", tmp_path / ".s.tesession.notours.partial"]
    for other in others:
        other.write_bytes(b"not ours to delete")
    assert sorted(p.name for p in tmp_path.glob("*.tesession")) == ["s.tesession"]  # never listed
    assert open_session(path).seeds == {"version": 1}
    save_session(SessionContents(seeds={"version": 3}), path)
    assert not leftover.exists() and all(o.exists() for o in others)
    assert open_session(path).seeds == {"version": 3}


def test_autosave_is_found_with_its_time_replaced_and_discarded(model):
    discard_autosave()
    assert find_autosave() is None
    before = datetime.now().astimezone().replace(microsecond=0)
    path = autosave(SessionContents(seeds={"version": 1}, checkpoints={"pretraining": model}))
    assert path == autosave_path() and path.parent.name == "data" and path.suffix == ".tesession"
    info = find_autosave()
    assert info is not None and info.path == path and info.checkpoint_names == ("pretraining",)
    assert before <= info.saved_at <= datetime.now().astimezone()
    assert info.time_in_words() == info.saved_at.astimezone().strftime("%H:%M")
    autosave(SessionContents(seeds={"version": 2}))  # the next autosave replaces it
    assert sorted(p.name for p in path.parent.iterdir() if p.suffix == ".tesession") == [path.name]
    assert find_autosave().checkpoint_names == () and open_session(path).seeds == {"version": 2}
    discard_autosave()
    assert find_autosave() is None and not path.exists()


def test_a_damaged_autosave_is_not_offered(tmp_path):
    data = session_bytes(SessionContents(seeds={"version": 1}))
    autosave_path().write_bytes(data[: len(data) // 2])
    assert find_autosave() is None
    autosave_path().write_bytes(data)
    assert find_autosave() is not None
    discard_autosave()


def test_time_in_words_names_the_day_when_it_was_not_today():
    saved = datetime(2024, 6, 8, 10, 42, tzinfo=timezone.utc).astimezone()
    info = SessionInfo(Path("x"), saved, "1", ())
    assert info.time_in_words(now=saved + timedelta(minutes=5)) == saved.strftime("%H:%M")
    assert info.time_in_words(now=saved + timedelta(days=2)) == f"{saved.strftime('%H:%M')} on {saved.day} June"


# --- forging session files ---------------------------------------------------------------------------


def manifest_for(items: list[tuple[str, bytes]], **changes) -> bytes:
    """A correct manifest for the entries ``items`` (kinds from their names), with top-level ``changes`` applied."""
    kinds = {"curation.json": "curation", "tabs.json": "tabs", "metrics.json": "metrics", "seeds.json": "seeds",
             "votes.jsonl": "votes", "ratings.jsonl": "ratings"}

    def kind(name):
        if name in kinds:
            return kinds[name]
        return "checkpoint-weights" if name.endswith(".safetensors") else "checkpoint-description"

    manifest = {"format": "training-explorer-session", "version": 1, "app_version": "test",
                "saved_at": "2024-06-08T10:42:00+02:00",
                "entries": {n: {"kind": kind(n), "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                            for n, d in items if n != MANIFEST}}
    manifest.update(changes)
    return json.dumps(manifest).encode()


def entries_of(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(i.filename, archive.read(i)) for i in archive.infolist() if i.filename != MANIFEST]


def forge(entries: list[tuple[str, bytes]], manifest: bytes | None = None, *, mode: int = stat.S_IFREG | 0o644,
          modes: dict | None = None, deflate: bool | None = True, with_manifest: bool = True) -> bytes:
    """A zip of ``entries`` then (unless told not to) ``manifest`` (by default a correct one).

    ``deflate=None`` packs each entry as ``save_session`` would (very repetitive ones stored).
    """
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests want
        with zipfile.ZipFile(buffer, "w") as archive:
            items = entries + ([(MANIFEST, manifest if manifest is not None else manifest_for(entries))]
                               if with_manifest else [])
            for name, data in items:
                info = zipfile.ZipInfo(name, date_time=(2024, 6, 8, 10, 42, 0))
                info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
                if deflate is None:
                    info.compress_type = _compression(WEIGHTS_KIND if name.endswith(".safetensors") else "json", data)
                info.create_system = 3
                info.external_attr = (modes or {}).get(name, mode) << 16
                archive.writestr(info, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def good_entries(model) -> list[tuple[str, bytes]]:
    return entries_of(session_bytes(SessionContents(checkpoints={"instruction": model}, seeds={"data": 1},
                                                    tabs={"data": {"a": 1}})))


def refused(tmp_path: Path, data: bytes, match: str | None = None, case: str = "") -> SessionError:
    """Open ``data`` as a session: it must be refused in one plain line (matching ``match``), after
    writing nothing and reading nothing but the file. ``case`` names the case in a failure."""
    path = tmp_path / "forged.tesession"
    path.write_bytes(data)
    before = sorted(os.listdir(tmp_path))
    with files_opened() as opened:
        try:
            open_session(path)
        except SessionError as err:
            error = err
        else:
            pytest.fail(f"{case or 'forged session'}: opened without complaint")
    assert opened.written == [] and sorted(os.listdir(tmp_path)) == before, case
    assert foreign_reads(opened.read, path) == [], case
    message = str(error)
    assert message.strip() and "\n" not in message and "Traceback" not in message, case
    assert match is None or re.search(match, message), f"{case}: {message}"
    return error


def test_the_forging_helpers_make_sessions_that_open(good_entries, tmp_path):
    path = tmp_path / "ok.tesession"
    path.write_bytes(forge(good_entries))
    assert open_session(path).seeds == {"data": 1}


# --- refusals ----------------------------------------------------------------------------------------


ESCAPING_NAMES = ["../evil.json", "/etc/evil.json", "C:/evil.json", "c:evil.json", "checkpoints\\..\\evil.json",
                  "checkpoints/../../evil.json", "./tabs.json", "checkpoints//x.json", "checkpoints/x.json/",
                  "checkpoints/../seeds.json"]


def test_names_that_escape_the_folder_are_refused(good_entries, tmp_path):
    for name in ESCAPING_NAMES:
        refused(tmp_path, forge(good_entries + [(name, b"{}")]), "outside the session", case=name)
        # Also when it replaces a real entry, so that nothing else is wrong with the file.
        renamed = [(name if n == "seeds.json" else n, d) for n, d in good_entries]
        refused(tmp_path, forge(renamed), "outside the session", case=name)
    assert not (tmp_path.parent / "evil.json").exists()


def test_a_name_this_version_does_not_know_is_refused(good_entries, tmp_path):
    refused(tmp_path, forge(good_entries + [("notes.json", b"{}")]), "does not know")
    refused(tmp_path, forge(good_entries + [("checkpoints/x.pkl", b"{}")]), "does not know")


def test_a_duplicate_name_is_refused(good_entries, tmp_path):
    refused(tmp_path, forge(good_entries + [("tabs.json", b'{"data": {}}')]), "appears twice")


def test_a_link_is_refused(good_entries, tmp_path):
    link = stat.S_IFLNK | 0o777
    refused(tmp_path, forge(good_entries, modes={"tabs.json": link}), "is a link")
    refused(tmp_path, forge(good_entries, modes={MANIFEST: link}), "is a link")
    refused(tmp_path, forge(good_entries, modes={"tabs.json": stat.S_IFIFO | 0o644}), "not a plain file")


def test_an_entry_not_in_the_manifest_and_a_listed_entry_missing_are_refused(good_entries, tmp_path):
    extra = good_entries + [("checkpoints/extra.json", b"{}")]
    refused(tmp_path, forge(extra, manifest_for(good_entries)), "not in its list of contents")
    refused(tmp_path, forge(good_entries[1:], manifest_for(good_entries)), "missing")
    no_tabs = [(n, d) for n, d in good_entries if n != "tabs.json"]
    refused(tmp_path, forge(no_tabs), "'tabs.json' is missing")
    half_model = [(n, d) for n, d in good_entries if not n.endswith(".safetensors")]
    refused(tmp_path, forge(half_model), "half of the model")


def test_a_hash_or_size_that_does_not_match_the_manifest_is_refused(good_entries, tmp_path):
    changed = [(n, b'{"data": {"a": 2}}' if n == "tabs.json" else d) for n, d in good_entries]
    refused(tmp_path, forge(changed, manifest_for(good_entries)), "does not describe|does not match")
    same_size = [(n, b'{"data": {"a": 2}}' if n == "tabs.json" else d) for n, d in good_entries]
    manifest = json.loads(manifest_for(good_entries))
    manifest["entries"]["tabs.json"]["size"] = len(same_size[[n for n, _ in same_size].index("tabs.json")][1])
    refused(tmp_path, forge(same_size, json.dumps(manifest).encode()), "does not match its list of contents")


WRONG_MANIFESTS = [
    ({"format": "something-else"}, "not a Training Explorer session"),
    ({"version": 3}, "newer version"),  # (version 2 names shipped models: tests/engine/test_session_shipped.py)
    ({"saved_at": "yesterday"}, "saving time"),
    ({"entries": []}, "incomplete"),
    ({"app_version": None}, "incomplete"),
]


def test_a_wrong_manifest_is_refused(good_entries, tmp_path):
    for changes, match in WRONG_MANIFESTS:
        refused(tmp_path, forge(good_entries, manifest_for(good_entries, **changes)), match, case=str(changes))


def test_a_manifest_that_is_missing_unreadable_or_not_last_is_refused(good_entries, tmp_path):
    refused(tmp_path, forge(good_entries, with_manifest=False), "not saved completely")
    refused(tmp_path, forge(good_entries, b'{"format": "training-explorer-session", "format": 1}'), "unreadable")
    refused(tmp_path, forge(good_entries, b"\xff\xfe not json"), "unreadable")
    manifest_first = forge([(MANIFEST, manifest_for(good_entries))] + good_entries, with_manifest=False)
    refused(tmp_path, manifest_first, "not saved completely")


def test_files_that_are_not_sessions_at_all_are_refused(tmp_path):
    for data in [b"", b"PK", b"PK\x05\x06" + b"\x00" * 18, b"\x80\x04\x95 a pickle", b"SQLite format 3\x00",
                 b"just some text\n", b"PK\x03\x04" + b"\x00" * 100]:
        refused(tmp_path, data, case=repr(data[:20]))


def test_a_session_with_data_before_its_first_entry_is_refused(good_entries, tmp_path):
    refused(tmp_path, b"PK\x03\x04 hidden" + forge(good_entries))
    refused(tmp_path, b"#!/bin/sh\n" + forge(good_entries), "does not start like a session")


def test_truncated_sessions_are_refused(good_entries, tmp_path):
    data = forge(good_entries)
    for cut in (len(data) - 1, len(data) - 22, len(data) - 200, len(data) // 2, 100, 4):
        refused(tmp_path, data[:cut])


def test_flipped_bytes_in_an_entry_are_refused(good_entries, tmp_path):
    data = bytearray(forge(good_entries, deflate=False))
    start = data.index(b'{"data": {"a": 1}}')  # the tabs' JSON, stored as it is
    data[start + 10] ^= 0x01
    refused(tmp_path, bytes(data), "damaged")


def test_a_missing_file_or_a_folder_is_refused_in_words(tmp_path):
    with pytest.raises(SessionError, match="does not exist"):
        open_session(tmp_path / "nowhere.tesession")
    with pytest.raises(SessionError, match="not a file"):
        open_session(tmp_path)


def test_a_session_without_read_permission_says_so(tmp_path, monkeypatch):
    """Not 'the file may be damaged'. (Simulated: tests may run as root, whom chmod 000 does not stop.)"""
    import engine.session.archive

    path = save_session(SessionContents(seeds={"version": 1}), tmp_path / "theirs.tesession")

    def open_(file, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(file))

    monkeypatch.setattr(engine.session.archive, "open", open_, raising=False)  # the module's own open()
    with pytest.raises(SessionError) as info:
        open_session(path)
    message = str(info.value)
    assert "'theirs.tesession' cannot be read: you do not have permission to open it." in message
    assert "damaged" not in message and "\n" not in message


@pytest.mark.skipif(os.name != "posix", reason="Unix permissions")
def test_a_saved_session_follows_the_umask_and_the_autosave_stays_private(tmp_path):
    old = os.umask(0o022)
    try:
        saved = save_session(SessionContents(), tmp_path / "lesson.tesession")
        assert oct(os.stat(saved).st_mode & 0o777) == oct(0o644)  # the class can open it
        os.chmod(saved, 0o660)
        save_session(SessionContents(seeds={"version": 2}), saved)  # replacing it keeps its permissions
        assert oct(os.stat(saved).st_mode & 0o777) == oct(0o660)
        private = autosave(SessionContents())
        assert oct(os.stat(private).st_mode & 0o777) == oct(0o600)  # in the user's own data folder
    finally:
        os.umask(old)
        discard_autosave()


def test_a_zip_bomb_is_refused_from_its_declared_sizes_before_anything_is_unpacked(good_entries, tmp_path,
                                                                                    monkeypatch):
    bomb = [(n, (b" " * 30_000_000 + b'{"data": {}}') if n == "tabs.json" else d) for n, d in good_entries]
    data = forge(bomb)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("tabs.json").compress_size < 40_000  # 30 MB of spaces pack into ~30 kB
    opened_entries = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: (opened_entries.append(name),
                                                                             real_open(self, name, *a, **k))[1])
    refused(tmp_path, data, "zip bomb")
    assert opened_entries == []


def central_records(data: bytes) -> dict[str, int]:
    """Entry name → offset of its record in the zip's central directory (where its sizes and flags are)."""
    records, at = {}, data.index(b"PK\x01\x02")
    while data[at:at + 4] == b"PK\x01\x02":
        name_len, extra, comment = (int.from_bytes(data[at + o:at + o + 2], "little") for o in (28, 30, 32))
        records[data[at + 46:at + 46 + name_len].decode()] = at
        at += 46 + name_len + extra + comment
    return records


def test_an_entry_longer_than_its_declared_size_is_never_read_past_that_size(good_entries, tmp_path):
    big = b'{"data": {"x": "' + b"y" * 5000 + b'"}}'
    entries = [(n, big if n == "tabs.json" else d) for n, d in good_entries]
    manifest = json.loads(manifest_for(entries))  # the manifest agrees with the forged size and its bytes
    manifest["entries"]["tabs.json"].update(size=100, sha256=hashlib.sha256(big[:100]).hexdigest())
    data = bytearray(forge(entries, json.dumps(manifest).encode()))
    at = central_records(bytes(data))["tabs.json"]
    data[at + 24:at + 28] = (100).to_bytes(4, "little")  # uncompressed size: 100 bytes
    refused(tmp_path, bytes(data), "not readable|damaged")  # only the 100 bytes were read: cut-off JSON
    stored = bytearray(forge(entries, json.dumps(manifest).encode(), deflate=False))
    at = central_records(bytes(stored))["tabs.json"]
    stored[at + 24:at + 28] = (100).to_bytes(4, "little")
    refused(tmp_path, bytes(stored), "inconsistent sizes")


def test_too_many_entries_and_overlapping_entries_are_refused(good_entries, tmp_path, monkeypatch):
    many = forge(good_entries + [(f"checkpoints/m{i}.json", b"{}") for i in range(MAX_ENTRIES)])
    end = bytearray(forge(good_entries))
    end[-14:-10] = (60_000).to_bytes(2, "little") * 2  # entries on this disk, and in all
    zip64 = bytearray(forge(good_entries))
    zip64[-42:-38] = b"PK\x06\x07"  # a zip64 locator where the zip module looks for one
    comment = forge(good_entries) + b"a comment"
    # All refused from the end record, before the zip module builds an object per directory record.
    with monkeypatch.context() as patched:
        patched.setattr(zipfile, "ZipFile", None)
        refused(tmp_path, many, "parts, more than a session ever holds")
        refused(tmp_path, bytes(end), "parts, more than a session ever holds")
        refused(tmp_path, comment, "does not end like a session")
        refused(tmp_path, bytes(zip64), "zip64")
    # Two directory records pointing at the same bytes: the trick of non-recursive zip bombs.
    data = bytearray(forge(good_entries))
    records = list(central_records(bytes(data)).values())
    data[records[1] + 42:records[1] + 46] = data[records[0] + 42:records[0] + 46]  # local header offset
    refused(tmp_path, bytes(data), "overlaps")


def test_an_encrypted_entry_is_refused(good_entries, tmp_path):
    data = bytearray(forge(good_entries))
    data[central_records(bytes(data))["tabs.json"] + 8] |= 0x01  # general purpose flag bit 0: encrypted
    refused(tmp_path, bytes(data), "encrypted")


class _RunsCodeWhenUnpickled:
    """Unpickling this calls os.mkdir(marker): proof that code ran, harmless otherwise."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_pickle_anywhere_is_refused_and_never_run(good_entries, tmp_path):
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):  # text, the oldest binary, the newest
        refuse_pickle_everywhere(good_entries, tmp_path, protocol)


def refuse_pickle_everywhere(good_entries, tmp_path: Path, protocol: int) -> None:
    marker = tmp_path.parent / f"code-ran-{protocol}"
    payload = pickle.dumps(_RunsCodeWhenUnpickled(str(marker)), protocol=protocol)
    weights_name = "checkpoints/instruction.safetensors"
    description = json.loads(dict(good_entries)["checkpoints/instruction.json"])
    description["weights_sha256"] = hashlib.sha256(payload).hexdigest()  # the description vouches for it
    as_weights = [(n, payload if n == weights_name else
                   json.dumps(description).encode() if n == "checkpoints/instruction.json" else d)
                  for n, d in good_entries]
    refused(tmp_path, forge(as_weights), "not a valid safetensors", case=f"protocol {protocol}")
    for target in ("curation.json", "tabs.json", "metrics.json", "seeds.json", "votes.jsonl", "ratings.jsonl",
                   "checkpoints/instruction.json"):
        refused(tmp_path, forge([(n, payload if n == target else d) for n, d in good_entries]), case=target)
    refused(tmp_path, forge(good_entries + [("checkpoints/model.pkl", payload)]), "does not know")
    refused(tmp_path, forge(good_entries, payload), case="manifest")  # as the manifest itself
    assert not marker.exists()


def test_a_damaged_model_inside_is_refused_naming_it(good_entries, tmp_path):
    description = json.loads(dict(good_entries)["checkpoints/instruction.json"])
    description["model_config"]["n_layers"] = 999  # within its range (engine.config.RANGES), not the weights

    def with_description() -> list:
        return [(n, json.dumps(description).encode() if n == "checkpoints/instruction.json" else d)
                for n, d in good_entries]

    error = refused(tmp_path, forge(with_description()), "The model 'instruction'")
    assert "changed after the model was saved" in str(error)  # the settings' hash no longer matches
    description["settings_sha256"] = settings_sha256(description)  # a forger who knows the format
    error = refused(tmp_path, forge(with_description()), "The model 'instruction'")
    assert "does not fit its own settings" in str(error)


BAD_JSON_PARTS = [
    ("tabs.json", b'{"data": ' * 5000 + b"1" + b"}" * 5000, "not readable|nested"),
    ("tabs.json", b'{"data": {"n": ' + b"9" * 5000 + b"}}", "not readable"),
    ("tabs.json", b'{"data": [1, 2]}', "not a set of named values"),
    ("seeds.json", b'{"data": "seven"}', "not a whole number"),
    ("votes.jsonl", b'{"ok": 1}\n[1, 2]\n', "votes.jsonl:2"),
    ("ratings.jsonl", b"\xff\xfe\n", "ratings.jsonl:1"),
    ("curation.json", b"null", "not a set of named values"),
    ("metrics.json", b'{"run": 3}', "not a set of named values"),
    ("seeds.json", b'{"data": 1e400}', "not a whole number"),
]


def test_json_parts_that_are_not_what_they_should_be_are_refused(good_entries, tmp_path):
    for target, data, match in BAD_JSON_PARTS:
        entries = [(n, data if n == target else d) for n, d in good_entries]
        refused(tmp_path, forge(entries), match, case=f"{target}: {data[:30]!r}")
