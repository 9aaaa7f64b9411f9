"""Instruction and preference data: loading, plain errors per line, export, checks and the loss mask."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.errors import NotEnoughPairs, TokenizerMismatch, TuningDataError
from engine.tokenizer import CharTokenizer, TokenizerSpec, preview
from engine.data.tuning_data import (END_OF_ANSWER, MIN_PAIRS, InstructionExample, PreferencePair, bundled_instructions,
                                bundled_preferences, check_enough_pairs, check_tokenizer, encode_example,
                                export_jsonl, load_benchmark, load_instructions, load_preferences, load_red_team,
                                split_held_out, token_pieces, tokenize_examples)

SECRET = "my private note 12345"  # a row's text that must never appear in an error message


def test_the_bundled_sets_load_with_their_extra_fields():
    examples, pairs = bundled_instructions(), bundled_preferences()
    assert len(examples) == 456 and len(pairs) == 488
    assert all(e.prompt.endswith("\nAssistant:") and e.completion.startswith(" ") for e in examples)
    assert examples[0].meta["answer"] == "Groma" and examples[0].meta["relation"] == "capital"
    assert {p.kind for p in pairs} == {"helpful", "safety"}
    assert sum(p.meta["harmful"] for p in pairs) == 100
    benchmark, red_team = load_benchmark(), load_red_team()
    assert sum(r["split"] == "held_out" for r in benchmark) == 72
    assert {r["kind"] for r in red_team} == {"harmful", "benign", "unknown"}


def _write(tmp_path, lines: list[str], name: str = "pairs.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"prompt": "User: hi?\nAssistant:", "completion": " Hello."})


@pytest.mark.parametrize("bad, message", [
    ('{"prompt": "x", "completion": ' + json.dumps(SECRET), "pairs.jsonl:3: this line is not valid JSON"),
    (json.dumps([SECRET]), "pairs.jsonl:3: this line is a list, not a JSON object"),
    (json.dumps({"prompt": SECRET}), "pairs.jsonl:3: the 'completion' field is missing"),
    (json.dumps({"prompt": SECRET, "completion": 7}), "pairs.jsonl:3: the 'completion' field is a number, not text"),
    (json.dumps({"prompt": SECRET, "completion": "  "}), "pairs.jsonl:3: the 'completion' field is empty"),
])
def test_a_malformed_row_is_named_by_file_and_line_without_echoing_it(tmp_path, bad, message):
    path = _write(tmp_path, [GOOD, "", bad, GOOD])  # the blank line 2 is allowed and still counted
    with pytest.raises(TuningDataError) as err:
        load_instructions(path)
    assert str(err.value).startswith(message)
    assert SECRET not in str(err.value)


def test_other_unusable_files_are_refused_in_words(tmp_path):
    with pytest.raises(TuningDataError, match="does not exist"):
        load_instructions(tmp_path / "missing.jsonl")
    with pytest.raises(TuningDataError, match="has no rows"):
        load_instructions(_write(tmp_path, ["", "  "]))
    (tmp_path / "latin.jsonl").write_bytes(GOOD.encode() + b"\n" + '{"prompt": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(TuningDataError, match="latin.jsonl:2: this line is not UTF-8"):
        load_instructions(tmp_path / "latin.jsonl")
    same = json.dumps({"prompt": SECRET, "chosen": " Yes.", "rejected": " Yes. "})
    with pytest.raises(TuningDataError, match="prefs.jsonl:1: the chosen and the rejected answer are the same") as err:
        load_preferences(_write(tmp_path, [same], "prefs.jsonl"))
    assert SECRET not in str(err.value)
    with pytest.raises(TuningDataError, match="prefs.jsonl:1: the 'chosen' field is missing"):
        load_preferences(_write(tmp_path, [GOOD], "prefs.jsonl"))


def test_export_then_load_gives_the_same_rows_and_fields(tmp_path):
    examples = bundled_instructions()[:5] + [InstructionExample("User: é?\nAssistant:", " Ü.", {"topic": "x"})]
    back = load_instructions(export_jsonl(examples, tmp_path / "out.jsonl"))
    assert back == examples and [e.meta for e in back] == [e.meta for e in examples]
    pairs = bundled_preferences()[:5]
    back = load_preferences(export_jsonl(pairs, tmp_path / "prefs.jsonl"))
    assert back == pairs and [p.meta for p in back] == [p.meta for p in pairs]
    assert not list(tmp_path.glob(".*partial"))  # written atomically, nothing left behind


def test_too_few_pairs_block_training_naming_the_minimum():
    check_enough_pairs(MIN_PAIRS)
    with pytest.raises(NotEnoughPairs) as err:
        check_enough_pairs(MIN_PAIRS - 1, "Preference tuning")
    text = str(err.value)
    assert text.startswith(f"Preference tuning needs at least {MIN_PAIRS} pairs")
    assert f"This set has {MIN_PAIRS - 1}." in text and "held back" in text


def test_a_character_tokenizer_missing_the_datas_characters_is_refused_naming_them():
    tokenizer = CharTokenizer.train("abc :.\nUser")
    check_tokenizer(tokenizer, ["ab: c."])
    with pytest.raises(TokenizerMismatch) as err:
        check_tokenizer(tokenizer, ["ab: c.", "Z? c"])
    assert "'?'" in str(err.value) and "'Z'" in str(err.value) and "BPE" in str(err.value)
    with pytest.raises(TokenizerMismatch, match="'⏎'"):  # the end of every answer must be writable too
        check_tokenizer(CharTokenizer.train("abc"), ["abc"])


def test_the_loss_mask_covers_exactly_the_answer_tokens():
    assert END_OF_ANSWER == "\nUser:"  # the positions below are written out for this end of turn
    tokenizer = CharTokenizer.train("ab: c.\nUser:xyz")
    t = tokenize_examples(tokenizer, ["ab:", "a:"], [" c.", " ab."], context_length=64)
    assert t.inputs.shape == (2, 16) and t.truncated == 0  # the longest example rounded up to 16
    # "ab: c.\nUser:": inputs "ab: c.\nUser", targets "b: c.\nUser:"; the answer starts at target 2.
    assert tokenizer.decode(t.inputs[0, :11]) == "ab: c.\nUser"
    assert tokenizer.decode(t.targets[0, :11]) == "b: c.\nUser:"
    np.testing.assert_array_equal(t.weights[0], [0, 0] + [1] * 9 + [0] * 5)
    np.testing.assert_array_equal(t.weights[1], [0] + [1] * 10 + [0] * 5)
    assert (t.inputs[:, 11:] == 0).all() and (t.targets[:, 11:] == 0).all()  # padding


def test_a_long_prompt_loses_its_beginning_and_a_long_answer_its_end():
    tokenizer = CharTokenizer.train("abcdef: xyz.\nUser:")
    t = tokenize_examples(tokenizer, ["abcdef:"], [" c."], context_length=12)
    assert t.inputs.shape == (1, 12) and t.truncated == 1
    assert tokenizer.decode(t.inputs[0]) == "def: c.\nUser" and tokenizer.decode(t.targets[0]) == "ef: c.\nUser:"
    np.testing.assert_array_equal(t.weights[0], [0, 0, 0] + [1] * 9)
    t = tokenize_examples(tokenizer, ["ab"], [" xyz."], context_length=3)
    assert tokenizer.decode(t.inputs[0]) == "b x" and tokenizer.decode(t.targets[0]) == " xy"
    np.testing.assert_array_equal(t.weights[0], [1, 1, 1])


def test_answers_split_into_the_same_bpe_pieces_as_in_running_text():
    from engine.data.corpus import load_bundled

    tokenizer = preview(load_bundled("fictional_world"), TokenizerSpec("bpe", 768)).tokenizer
    for e in bundled_instructions()[:50]:
        prompt_ids, answer_ids = encode_example(tokenizer, e.prompt, e.completion)
        together = tokenizer.encode(e.prompt + e.completion + END_OF_ANSWER)
        np.testing.assert_array_equal(np.concatenate([prompt_ids, answer_ids]), together)
    # The bare answer " Groma." is few pieces, the same as the name in running text.
    name = tokenizer.encode(" Groma")
    assert len(name) <= 3 and tokenizer.encode(" Groma." + END_OF_ANSWER)[: len(name)].tolist() == name.tolist()


def test_token_pieces_say_which_tokens_the_model_is_graded_on():
    tokenizer = CharTokenizer.train("abcdef: xyz.\nUser")
    pieces = token_pieces(tokenizer, "ab:", " c.")
    assert "".join(p.text for p in pieces) == "ab: c.\nUser:"
    assert [p.in_loss for p in pieces] == [False] * 3 + [True] * 9
    assert [p.label for p in pieces][3:] == ["␣", "c", ".", "⏎", "U", "s", "e", "r", ":"]
    cut = token_pieces(tokenizer, "abcdef:", " c.", context_length=12)
    assert [p.in_context for p in cut] == [False] * 3 + [True] * 13
    assert [p.in_loss for p in cut] == [False] * 7 + [True] * 9


def test_held_out_pairs_are_a_fixed_disjoint_share():
    items = list(range(100))
    train, val = split_held_out(items, 0.1, seed=4)
    assert len(val) == 10 and sorted(train + val) == items
    assert split_held_out(items, 0.1, seed=4) == (train, val)
    assert len(split_held_out(items[:16], 0.05, seed=4)[1]) == 2  # never fewer than two to check on
    pairs = [PreferencePair("p", "a", "b")] * 3
    assert len(split_held_out(pairs, 0.9, seed=0)[0]) >= 1  # and always something to train on
