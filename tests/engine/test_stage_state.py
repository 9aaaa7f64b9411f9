"""The stages' state classes (``engine.session.state``) read every session saved so far and write it back
unchanged: the shipped example session and one saved by the app before the state moved into the engine.
A damaged part is refused in words, naming the part, before anything is used.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import SessionError
from engine.session.archive import SessionContents, open_session
from engine.shipped_models import EXAMPLE_SESSION_PATH, example_session_available
from engine.session.state import PreferenceState, SessionState, config_from_json
from engine.config import TrainConfig

OLD_SESSION = Path(__file__).resolve().parent.parent / "fixtures" / "saved_by_6fd2046.tesession"
SESSIONS = [OLD_SESSION] + ([EXAMPLE_SESSION_PATH] if example_session_available() else [])


def _same_json(a, b) -> bool:
    """Equal as JSON, with NaN equal to itself, ints and floats kept apart."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("path", SESSIONS, ids=lambda p: p.name)
def test_every_saved_session_reads_into_the_stage_states_and_writes_back_the_same(path):
    saved = open_session(path)
    state = SessionState.from_contents(saved)
    again = state.to_contents(shipped=saved.shipped)
    for part in ("tabs", "curation", "metrics", "seeds", "votes", "ratings", "shipped"):
        assert _same_json(getattr(again, part), getattr(saved, part)), part
    assert {n: id(m) for n, m in again.checkpoints.items()} == {n: id(m) for n, m in saved.checkpoints.items()}
    # The state is typed: models are the session's own, settings are configs.
    assert state.instruction.base is state.pretraining.model
    assert state.pretraining.train_config.seed == saved.seeds["pretraining"]
    assert state.preference.votes == saved.votes


def test_the_old_session_keeps_each_stage_setting():
    state = SessionState.from_contents(open_session(OLD_SESSION))
    assert state.stage == "preference" and state.data.curation.cutoff_year == 1990 and state.data.hand_on
    assert (state.instruction.method, state.instruction.steps) == ("lora", 37)
    assert (state.preference.beta, state.preference.nll_weight, state.preference.anchor_weight) == (0.35, 0.5, 2.5)
    assert [m.step for m in state.preference.held_out] == [0, 10]
    assert state.evaluation.unticked == ("Pretrained (this session)",) and len(state.evaluation.ratings) == 1


@pytest.mark.parametrize("tabs, words", [
    ({"instruction": {"steps": 0}}, "instruction tuning settings are damaged"),
    ({"preference": {"beta": "much"}}, "preference tuning settings are damaged"),
    ({"preference": {"held_out": {"steps": [1], "margins": []}}}, "preference tuning settings are damaged"),
    ({"pretraining": {"model": "nowhere"}}, "pretraining settings are damaged"),
    ({"pretraining": {"train_config": {"grad_clip": -1.0}}}, "'grad_clip'"),
    ({"evaluation": {"question_set": "all of them"}}, "evaluation settings are damaged"),
    ({"evaluation": {"results": [{"model": 3}]}}, "benchmark answers are damaged"),
    ({"data": {"source": {"kind": "telepathy"}}}, "data settings are damaged"),
])
def test_a_damaged_part_is_refused_naming_it(tabs, words):
    with pytest.raises(SessionError, match=words) as refused:
        SessionState.from_contents(SessionContents(tabs=tabs))
    assert "Your current work is unchanged" in str(refused.value)


@settings(derandomize=True, database=None, max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["beta", "nll_weight", "anchor_weight", "both_bad", "steps", "method",
                                        "rows", "comparison", "interrupted_at_step"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True),
                                 st.text(max_size=5), st.lists(st.integers(), max_size=2))))
def test_any_preference_part_is_read_or_refused_in_words(part):
    try:
        state = PreferenceState.from_json(part, {})
    except SessionError as err:
        assert "preference tuning settings are damaged" in str(err)
        return
    assert PreferenceState.from_json(state.to_json(lambda model, name: None), {}) == state


def test_a_setting_out_of_range_is_refused_naming_it():
    saved = dataclasses.asdict(TrainConfig())
    assert config_from_json(TrainConfig, saved, "training settings") == TrainConfig()
    with pytest.raises(SessionError, match="'total_steps' .* it is a huge number"):
        config_from_json(TrainConfig, {**saved, "total_steps": 10**5000}, "training settings")


@pytest.mark.skipif(not example_session_available(), reason="no example session in this checkout")
def test_the_example_session_written_from_its_state_is_the_shipped_file_byte_for_byte():
    """scripts/make_example_session.py writes a ``SessionState``: from the same state, the same bytes."""
    from datetime import datetime

    from engine.session.archive import session_bytes, session_info

    saved = open_session(EXAMPLE_SESSION_PATH)
    again = SessionState.from_contents(saved).to_contents(shipped=saved.shipped)
    saved_at = session_info(EXAMPLE_SESSION_PATH).saved_at
    assert isinstance(saved_at, datetime)
    assert session_bytes(again, saved_at=saved_at) == EXAMPLE_SESSION_PATH.read_bytes()
