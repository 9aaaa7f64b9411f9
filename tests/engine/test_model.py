import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engine.config import ModelConfig, flops_per_token, param_count
from engine.errors import ConfigError
from engine.model import count_params, forward, init_params, loss_fn


@pytest.mark.parametrize("cfg", [ModelConfig(vocab_size=65), ModelConfig(vocab_size=300, n_layers=2, n_heads=3, d_model=48, context_length=16)])
def test_param_count_formula_matches_the_real_pytree(cfg):
    params = init_params(cfg, jax.random.PRNGKey(0))
    assert count_params(params) == param_count(cfg)


def test_nanogpt_recipe_has_the_well_known_size():
    # nanoGPT's shakespeare_char CPU recipe without biases: 0.80 M parameters.
    assert param_count(ModelConfig(vocab_size=65)) == 804_096
    assert flops_per_token(ModelConfig(vocab_size=65)) > 6 * 790_000


def test_forward_shapes_and_initial_loss_is_near_uniform():
    cfg = ModelConfig(vocab_size=50, n_layers=2, n_heads=2, d_model=32, context_length=16)
    params = init_params(cfg, jax.random.PRNGKey(1))
    tokens = jax.random.randint(jax.random.PRNGKey(2), (3, 16), 0, 50)
    logits = forward(params, tokens, cfg)
    assert logits.shape == (3, 16, 50)
    targets = jax.random.randint(jax.random.PRNGKey(5), (3, 16), 0, 50)
    loss = float(loss_fn(params, tokens, targets, cfg))
    assert abs(loss - np.log(50)) < 0.2  # an untrained model guesses almost uniformly


def test_attention_is_causal():
    cfg = ModelConfig(vocab_size=20, n_layers=2, n_heads=2, d_model=16, context_length=8)
    params = init_params(cfg, jax.random.PRNGKey(3))
    a = jnp.array([[1, 2, 3, 4, 5, 6, 7, 8]])
    b = a.at[0, 6:].set(0)  # change only the last two tokens
    la, lb = forward(params, a, cfg), forward(params, b, cfg)
    np.testing.assert_array_equal(np.asarray(la[0, :6]), np.asarray(lb[0, :6]))
    assert not np.allclose(np.asarray(la[0, 6:]), np.asarray(lb[0, 6:]))


def test_weighted_loss_counts_only_selected_positions():
    cfg = ModelConfig(vocab_size=20, n_layers=1, n_heads=2, d_model=16, context_length=8)
    params = init_params(cfg, jax.random.PRNGKey(4))
    x = jnp.arange(8)[None, :]
    weights = jnp.zeros((1, 8)).at[0, 3].set(1.0)
    per_position = forward(params, x, cfg)[0, 3]
    expected = -jax.nn.log_softmax(per_position)[x[0, 3]]
    assert float(loss_fn(params, x, x, cfg, weights)) == pytest.approx(float(expected), rel=1e-5)


def test_width_must_divide_among_heads():
    with pytest.raises(ConfigError, match="divide evenly"):
        ModelConfig(d_model=30, n_heads=4).validate()


def test_learning_rate_schedule_matches_optax():
    import optax

    from engine.config import TrainConfig
    from engine.train import learning_rate_at

    cfg = TrainConfig(learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=100, total_steps=2000)
    reference = optax.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 2000, 1e-4)
    for step in (0, 1, 50, 99, 100, 101, 1000, 1999, 2000, 2500):
        assert learning_rate_at(cfg, step) == pytest.approx(float(reference(step)), rel=1e-5, abs=1e-9)
