import functools
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import ModelConfig, TrainConfig
from engine.stages.pretraining import PretrainingRun
from engine.sampling import generate_text, next_token_distribution
from engine.shipped_models import SHIPPED_MODELS_DIR
from engine.tokenizer import PARTIAL_CHARACTER, TokenizerSpec, readable


def test_next_token_bars_and_generation(tiny_corpus):
    run = PretrainingRun(tiny_corpus, TokenizerSpec("char"), ModelConfig(n_layers=1, n_heads=2, d_model=32, context_length=32),
                         TrainConfig(batch_size=8, learning_rate=1e-2, total_steps=60, warmup_steps=5, log_every=20,
                                     eval_every=60, eval_batches=2, sample_every=0))
    list(run.events())
    model = run.trained
    top = next_token_distribution(model, "the ca", top_n=10)
    probs = [p for _, _, p in top]
    assert len(top) == 10 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    assert top[0][1] == "t"  # "the ca" -> "t": the only continuation in the corpus
    full = next_token_distribution(model, "the ca", top_n=model.model_config.vocab_size)
    assert abs(sum(p for _, _, p in full) - 1.0) < 1e-5
    a = generate_text(model, "the ", max_new_tokens=40, seed=1)
    assert len(a) == 40 and a == generate_text(model, "the ", max_new_tokens=40, seed=1)
    assert a != generate_text(model, "the ", max_new_tokens=40, seed=2)
    # A prompt longer than the context window still works (only the last 32 tokens are seen).
    assert len(generate_text(model, "the cat sat on a mat " * 5, max_new_tokens=5, top_k=1)) == 5
    # Greedy generation of this corpus produces its words.
    greedy = generate_text(model, "the ", max_new_tokens=30, top_k=1)
    assert any(word in greedy for word in ("cat", "sat", "mat", "dog", "the"))
    assert np.isfinite(probs).all()


# --- what samples look like: a letter split across byte-level BPE tokens (issue 15) -----------------

@functools.lru_cache(maxsize=1)
def _shipped_bpe():
    """The tokenizer of the shipped pretrained model: byte-level BPE over the default world (768 pieces)."""
    from engine.tokenizer import tokenizer_from_json

    sidecar = json.loads((SHIPPED_MODELS_DIR / "pretrained.json").read_text(encoding="utf-8"))
    tokenizer = tokenizer_from_json(sidecar["tokenizer"])
    assert tokenizer.kind == "bpe"
    return tokenizer


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_shown_text_never_has_the_replacement_character(data):
    # Whatever a model writes, even bytes that make no letter: samples, time-lapse and answers are
    # shown through ``display``, and "�" reads as a broken program. ▯ is the mark for part of a letter.
    tokenizer = _shipped_bpe()
    byte_pieces = st.integers(0, 255)  # the first 256 ids are single bytes: the likeliest to split a letter
    ids = data.draw(st.lists(st.one_of(byte_pieces, st.integers(0, tokenizer.vocab_size - 1)), max_size=40))
    shown = tokenizer.display(ids)
    assert "\ufffd" not in shown
    assert "\ufffd" not in "".join(tokenizer.token_label(i) for i in ids)
    # Nothing else changes: where decoding gave no "�", the shown text is the decoded text.
    if "\ufffd" not in tokenizer.decode(ids):
        assert shown == tokenizer.decode(ids)


def _byte_ids(tokenizer) -> dict[int, int]:
    """Byte value → the id of the piece that is that one byte (GPT-2's byte-to-character table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return {b: tokenizer._tok.token_to_id(c) for b, c in chars.items()}


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.text(min_size=1, max_size=30))
def test_a_letter_cut_short_shows_as_the_partial_mark(text):
    tokenizer = _shipped_bpe()
    assert tokenizer.display(tokenizer.encode(text).tolist()) == readable(text)  # whole letters stay whole
    # The model wrote every byte of the text but the last, one byte per token.
    byte_ids = _byte_ids(tokenizer)
    raw = text.encode("utf-8")
    shown = tokenizer.display([byte_ids[b] for b in raw[:-1]])
    if len(text[-1].encode("utf-8")) == 1:
        assert shown == readable(text[:-1])
    else:  # it stopped inside the last letter (é, an emoji): the mark, never "�"
        assert shown == readable(text[:-1]) + PARTIAL_CHARACTER
