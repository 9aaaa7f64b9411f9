"""Sessions that refer to the app's shipped models by name: they round-trip, stay small, and a name that
is unknown, or a shipped model missing from the installation, is refused in words before anything is read.

The example session (``assets/example_session.tesession``, ``scripts/make_example_session.py``) is one.
"""

from __future__ import annotations

import json
import zipfile

import jax
import numpy as np
import pytest

import engine.shipped_models as shipped_models
from engine.errors import CheckpointError, SessionError
from engine.session.archive import (MANIFEST, SHIPPED_FORMAT_VERSION, SHIPPED_KEY, SessionContents, open_session,
                            save_session, session_bytes, session_info)
from engine.shipped_models import (EXAMPLE_SESSION_PATH, SHIPPED_NAMES, example_session_available, load_shipped,
                                   load_shipped_named, shipped_stages)
from engine.trained_model import STAGE_INSTRUCTION, STAGE_PREFERENCE, STAGE_PRETRAINING
from tests.engine.test_session import entries_of, forge, manifest_for, refused, tiny_model

ALL_SHIPPED = set(shipped_stages()) == {STAGE_PRETRAINING, STAGE_INSTRUCTION, STAGE_PREFERENCE}
needs_shipped = pytest.mark.skipif(not ALL_SHIPPED, reason="the shipped models are not in this checkout")
REFERENCES = {"pretraining": "pretrained", "instruction": "instruction_tuned", "preference": "preference_tuned"}


def _same_weights(a, b) -> bool:
    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True))


@pytest.fixture(scope="module")
def reference_session(tmp_path_factory):
    path = tmp_path_factory.mktemp("shipped") / "refers.tesession"
    save_session(SessionContents(shipped=dict(REFERENCES), seeds={"data": 1}, tabs={"data": {"a": 1}}), path)
    return path


@needs_shipped
def test_a_session_refers_to_shipped_models_by_name_and_opens_them(reference_session):
    with zipfile.ZipFile(reference_session) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(MANIFEST))
    assert not any(name.startswith("checkpoints/") for name in names)  # no weights inside
    assert manifest["version"] == SHIPPED_FORMAT_VERSION and manifest[SHIPPED_KEY] == REFERENCES
    assert reference_session.stat().st_size < 10_000  # instead of three 3.6 MB models

    opened = open_session(reference_session)
    assert opened.shipped == REFERENCES and set(opened.checkpoints) == set(REFERENCES)
    for name, shipped_name in REFERENCES.items():
        model, stage = opened.checkpoints[name], SHIPPED_NAMES[shipped_name]
        expected = load_shipped(stage)
        assert model.stage == stage and model.step == expected.step and model.history == expected.history
        assert _same_weights(model, expected)
    assert session_info(reference_session).checkpoint_names == tuple(sorted(REFERENCES))


@needs_shipped
def test_an_opened_session_saves_back_to_the_same_references(reference_session, tmp_path):
    opened = open_session(reference_session)
    again = tmp_path / "again.tesession"
    save_session(opened, again)  # the models it opened are the shipped ones: stored by name again
    with zipfile.ZipFile(again) as archive:
        assert not any(name.startswith("checkpoints/") for name in archive.namelist())
    assert again.stat().st_size < 10_000 and open_session(again).shipped == REFERENCES


@needs_shipped
def test_saving_refuses_unknown_names_and_models_that_are_not_the_shipped_one(tmp_path):
    for shipped in ({"pretraining": "gpt-4"}, {"pretraining": "../models/pretrained"}, {"bad name!": "pretrained"}):
        with pytest.raises(SessionError) as caught:
            save_session(SessionContents(shipped=shipped), tmp_path / "x.tesession")
        assert "\n" not in str(caught.value)
    wrong_stage = {"pretraining": tiny_model(stage="instruction")}
    with pytest.raises(SessionError, match="is not the shipped model"):
        save_session(SessionContents(checkpoints=wrong_stage, shipped={"pretraining": "pretrained"}),
                     tmp_path / "x.tesession")
    assert not (tmp_path / "x.tesession").exists()


def _forged(manifest_changes: dict, entries) -> bytes:
    return forge(entries, manifest_for(entries, **manifest_changes))


@pytest.fixture(scope="module")
def plain_entries():
    return entries_of(session_bytes(SessionContents(seeds={"data": 1})))


@pytest.mark.parametrize("shipped_name", ["gpt-4", "../models/pretrained", "/etc/passwd", "assets/models/pretrained",
                                          "PRETRAINED", "", 3, None, ["pretrained"]])
def test_an_unknown_shipped_name_is_refused_before_anything_is_read(plain_entries, tmp_path, shipped_name):
    data = _forged({"version": SHIPPED_FORMAT_VERSION, SHIPPED_KEY: {"pretraining": shipped_name}}, plain_entries)
    refused(tmp_path, data, r"does not come with the app", case=repr(shipped_name))


def test_shipped_references_in_the_wrong_shape_or_version_are_refused(plain_entries, tmp_path):
    cases = {
        "version 1 with references": {SHIPPED_KEY: {"pretraining": "pretrained"}},
        "not a map": {"version": SHIPPED_FORMAT_VERSION, SHIPPED_KEY: ["pretrained"]},
        "bad checkpoint name": {"version": SHIPPED_FORMAT_VERSION, SHIPPED_KEY: {"../x": "pretrained"}},
        "a version from the future": {"version": SHIPPED_FORMAT_VERSION + 1},
        "version 2 without references": {"version": SHIPPED_FORMAT_VERSION},
        "version 2 with no references": {"version": SHIPPED_FORMAT_VERSION, SHIPPED_KEY: {}},
    }
    for case, changes in cases.items():
        refused(tmp_path, _forged(changes, plain_entries), case=case)


@needs_shipped
def test_a_name_that_is_both_stored_and_shipped_is_refused(tmp_path):
    entries = entries_of(session_bytes(SessionContents(checkpoints={"pretraining": tiny_model(stage="pretraining")})))
    data = _forged({"version": SHIPPED_FORMAT_VERSION, SHIPPED_KEY: {"pretraining": "pretrained"}}, entries)
    refused(tmp_path, data, r"used twice")


def test_a_shipped_model_missing_from_the_installation_is_refused_in_words(plain_entries, tmp_path, monkeypatch):
    monkeypatch.setattr(shipped_models, "SHIPPED_MODELS_DIR", tmp_path / "no-models")
    path = tmp_path / "refers.tesession"
    path.write_bytes(_forged({"version": SHIPPED_FORMAT_VERSION, SHIPPED_KEY: {"pretraining": "pretrained"}},
                             plain_entries))
    with pytest.raises(SessionError, match="missing from this installation") as caught:
        open_session(path)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    with pytest.raises(CheckpointError, match="missing from this installation"):
        load_shipped_named("pretrained")
    with pytest.raises(SessionError, match="missing from this installation"):
        save_session(SessionContents(shipped={"pretraining": "pretrained"}), tmp_path / "x.tesession")
    assert not example_session_available()


def test_shipped_names_are_looked_up_never_used_as_paths():
    for name in ("../pretrained", "pretrained.json", "pretraining", None):
        with pytest.raises(CheckpointError, match="not one of the models that come with the app"):
            shipped_models.shipped_stage_named(name)
    assert {shipped_models.shipped_stage_named(n) for n in SHIPPED_NAMES} == {
        STAGE_PRETRAINING, STAGE_INSTRUCTION, STAGE_PREFERENCE}


@pytest.mark.skipif(not EXAMPLE_SESSION_PATH.is_file() or not ALL_SHIPPED, reason="no example session here")
def test_the_example_session_is_small_and_holds_a_whole_lesson():
    assert example_session_available()
    assert EXAMPLE_SESSION_PATH.stat().st_size < 200_000
    session = open_session(EXAMPLE_SESSION_PATH)
    assert session.shipped == REFERENCES and set(session.checkpoints) == set(REFERENCES)
    assert session.votes and session.ratings and session.curation.get("drop_duplicates") is True
    assert session.tabs["evaluation"]["results"] and session.tabs["preference"]["comparison"]["rows"]
    for name in REFERENCES:
        assert session.metrics[name]["loss"]["train_losses"]  # the curves from the models' descriptions
