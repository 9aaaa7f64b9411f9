"""Data parallelism (``engine.parallel``): a few steps on 2 devices equal the same steps on 1 device.

The CPU pretends to be two devices with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``. XLA
reads that flag when jax first starts, and this pytest process has long started jax, so the
comparison runs in a child process, which prints its findings as one JSON line.

Kept to 5 steps with a timeout: a long sharded loop on forced CPU devices once hung in the gradient
all-reduce (``../shared/notes/engine-speed.md``); a hang here fails the test instead of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS = 5

CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import jax, jax.numpy as jnp

    from engine.config import ModelConfig, TrainConfig
    from engine.data.batches import TRAIN_STREAM, stream_key
    from engine.errors import ConfigError
    from engine.model import init_params
    from engine.parallel import make_data_mesh, make_sharded_train_step, replicate
    from engine.train import init_state, learning_rate_at, make_optimizer, make_train_step

    STEPS = int(sys.argv[1])
    model = ModelConfig(vocab_size=23, n_layers=1, n_heads=2, d_model=32, context_length=16)
    train = TrainConfig(batch_size=8, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=2, total_steps=STEPS)
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, model.vocab_size, 2000), jnp.int32)  # (N,)
    key = stream_key(train.seed, TRAIN_STREAM)
    optimizer = make_optimizer(train)
    params0 = init_params(model, jax.random.PRNGKey(1))

    def run(step_fn, put=lambda x: x):
        # A fresh copy each time: the steps donate their state.
        state = put(init_state(jax.tree.map(lambda x: jnp.array(x, copy=True), params0), optimizer))
        toks = put(tokens)
        losses = []
        for i in range(STEPS):
            state, loss = step_fn(state, toks, key, np.float32(learning_rate_at(train, i)))
            losses.append(float(loss))
        leaves = [np.asarray(x) for x in jax.tree.leaves(state.params)]
        return losses, leaves, int(state.step), state

    plain_losses, plain_params, _, _ = run(make_train_step(model, train, optimizer))

    mesh1 = make_data_mesh(1)
    one_losses, one_params, _, _ = run(make_sharded_train_step(model, train, optimizer, mesh1),
                                       lambda x: replicate(x, mesh1))

    mesh2 = make_data_mesh(2)
    two_losses, two_params, two_step, two_state = run(make_sharded_train_step(model, train, optimizer, mesh2),
                                                      lambda x: replicate(x, mesh2))
    leaf = jax.tree.leaves(two_state.params)[0]

    try:
        make_sharded_train_step(model, TrainConfig(batch_size=7), optimizer, mesh2)
        odd_batch = None
    except ConfigError as err:
        odd_batch = str(err)
    try:
        make_data_mesh(3)
        too_many = None
    except ConfigError as err:
        too_many = str(err)

    print(json.dumps({
        "devices": jax.device_count(),
        "mesh2_shape": dict(mesh2.shape),
        "param_devices": len(leaf.sharding.device_set),
        "param_replicated": bool(leaf.sharding.is_fully_replicated),
        "plain_losses": plain_losses,
        "one_losses": one_losses,
        "two_losses": two_losses,
        "one_equal_plain": all(np.array_equal(a, b) for a, b in zip(one_params, plain_params)),
        "two_max_abs_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(two_params, plain_params)),
        "two_allclose": all(np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(two_params, plain_params)),
        "two_step": two_step,
        "odd_batch": odd_batch,
        "too_many": too_many,
    }))
    """
)


@pytest.fixture(scope="module")
def child_result() -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD, str(STEPS)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_child_sees_two_devices_and_a_two_way_mesh(child_result):
    assert child_result["devices"] == 2
    assert child_result["mesh2_shape"] == {"data": 2}


def test_parameters_stay_replicated_on_every_device(child_result):
    assert child_result["param_devices"] == 2
    assert child_result["param_replicated"]
    assert child_result["two_step"] == STEPS


def test_one_device_mesh_is_exactly_the_ordinary_step(child_result):
    assert child_result["one_losses"] == child_result["plain_losses"]
    assert child_result["one_equal_plain"]


def test_two_devices_equal_one_device(child_result):
    plain, two = child_result["plain_losses"], child_result["two_losses"]
    assert len(two) == STEPS
    assert two == pytest.approx(plain, rel=1e-5, abs=1e-6)
    assert child_result["two_allclose"], child_result["two_max_abs_diff"]
    # Training moved: the comparison is not of two untouched models.
    assert plain[-1] < plain[0]


def test_a_batch_that_does_not_split_evenly_gets_a_plain_message(child_result):
    message = child_result["odd_batch"]
    assert message is not None
    assert "batch size (7)" in message and "2 devices" in message
    assert "Traceback" not in message


def test_asking_for_more_devices_than_there_are_gets_a_plain_message(child_result):
    assert child_result["too_many"] is not None
    assert "2 device(s)" in child_result["too_many"]


# --- the command line on two devices -----------------------------------------------------------------

CLI_CHILD = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from engine.cli import main

    config, folder = sys.argv[1], sys.argv[2]
    results = {}
    for devices in ("2", "1"):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([config, "--stages", "pretrain", "--devices", devices, "--json",
                         "--output", f"{folder}/on{devices}"])
        results[devices] = {"code": code, "metrics": out.getvalue(), "err": err.getvalue()[-2000:]}
    print(json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def cli_on_two_devices(tmp_path_factory) -> dict:
    """``training-explorer-cli CONFIG --devices 2`` and ``--devices 1`` on the same tiny pretraining."""
    from tests.engine.test_cli import write_workspace

    folder = tmp_path_factory.mktemp("cli-devices")
    config = write_workspace(folder, pretrain=10)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CLI_CHILD, str(config), str(folder)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    return {"folder": folder, **json.loads(out.stdout.strip().splitlines()[-1])}


def test_the_cli_pretrains_on_two_devices_into_a_model_the_app_opens(cli_on_two_devices):
    from engine.checkpoint import load_checkpoint

    two, one = cli_on_two_devices["2"], cli_on_two_devices["1"]
    assert two["code"] == 0 and one["code"] == 0, two["err"] + one["err"]
    metrics_two, metrics_one = json.loads(two["metrics"]), json.loads(one["metrics"])
    assert metrics_two["devices"] == 2 and metrics_one["devices"] == 1
    assert metrics_two["reason"] == "completed" and metrics_two["steps_run"] == 10
    assert metrics_two["final_train_loss"] == pytest.approx(metrics_one["final_train_loss"], rel=1e-4)
    # The checkpoint is an ordinary one: the same loader the app uses reads it, and it matches the
    # one-device model up to the order of floating-point sums.
    import jax
    import numpy as np

    folder = cli_on_two_devices["folder"]
    on_two, on_one = load_checkpoint(folder / "on2" / "pretrained"), load_checkpoint(folder / "on1" / "pretrained")
    assert on_two.step == on_one.step == 10
    for a, b in zip(jax.tree.leaves(on_two.params), jax.tree.leaves(on_one.params)):
        assert np.allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    assert on_two.history.val_losses == pytest.approx(on_one.history.val_losses, rel=1e-5)
