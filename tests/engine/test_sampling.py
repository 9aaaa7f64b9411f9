import numpy as np

from engine.config import ModelConfig, TrainConfig
from engine.pretraining import PretrainingRun
from engine.sampling import generate_text, next_token_distribution
from engine.tokenizer import TokenizerSpec


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
