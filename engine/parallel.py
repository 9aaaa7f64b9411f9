"""Data parallelism with ``jax.sharding``: the same train step, its batch split across devices.

    mesh = make_data_mesh()                                  # all devices, one "data" axis
    step = make_sharded_train_step(model_cfg, train_cfg, optimizer, mesh)
    state, tokens = replicate(state, mesh), replicate(tokens, mesh)
    state, loss = step(state, tokens, key, learning_rate)    # same signature as engine.train's step

Design (why it looks like this):

- **One 1-D mesh, axis "data".** Parameters, optimiser state, the token array, the key and the
  learning rate are *replicated* on every device; only the sampled batch (B, T) is *sharded* along
  B. XLA's SPMD partitioner then runs each device's share of the forward and backward pass and
  inserts the gradient all-reduce itself, so there is no hand-written ``pmap``/``psum`` and the
  model code is untouched.
- **The batch is sampled inside the jit**, exactly as in ``engine.train.make_train_step``, from the
  replicated token array and (key, step). ``jax.lax.with_sharding_constraint`` then tells XLA that
  the (B, T) batch is split along B. Every device draws the same windows (the random bits do not
  depend on how the computation is partitioned), so N devices see exactly the batch one device
  sees, and the losses and gradients agree up to the order of floating-point sums.
- **Same code path on CPU, GPU and TPU.** Nothing here names a platform: the mesh is built from
  ``jax.devices()``. With one device the constraint is a no-op and the compiled program is the
  ordinary step (tested bit for bit in ``tests/engine/test_parallel.py``).
- **Auto axes, not Explicit.** ``jax.make_mesh`` defaults to ``AxisType.Explicit`` (sharding in
  types) in this jax; we ask for ``AxisType.Auto`` so that the unchanged model code, written for
  plain arrays, is partitioned by the compiler.

Not for CPUs: forced host devices (``XLA_FLAGS=--xla_force_host_platform_device_count=N``) on a
2-core machine made data parallelism 1.76x *slower*, and a long sharded loop once hung in the
gradient all-reduce (``../shared/notes/engine-speed.md``). Tests use it for a few steps only, to
show that sharded equals unsharded; the app never defaults to it.
"""

from __future__ import annotations

from typing import Callable

import jax
import optax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from engine.config import ModelConfig, TrainConfig
from engine.errors import ConfigError
from engine.model import loss_fn
from engine.runtime import configure_jax
from engine.train import TrainState, make_train_step

configure_jax()

DATA_AXIS = "data"  # the mesh's one axis: the batch dimension is split along it


def make_data_mesh(n_devices: int | None = None, devices=None) -> Mesh:
    """A 1-D mesh over the first ``n_devices`` devices (default: all), with one axis named "data".

    ``jax.make_mesh`` orders devices for fast collectives on TPUs and GPUs; on CPU it is the plain order.
    """
    available = list(devices) if devices is not None else jax.devices()
    n = len(available) if n_devices is None else n_devices
    if n < 1:
        raise ConfigError("Training needs at least one device.")
    if n > len(available):
        raise ConfigError(
            f"This computer has {len(available)} device(s) for training, not {n}.",
            f"Use at most {len(available)}.",
        )
    return jax.make_mesh((n,), (DATA_AXIS,), axis_types=(AxisType.Auto,), devices=available[:n])


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (parameters, optimiser state, tokens, key)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """A (B, T) array split along B: device i holds rows [i·B/N, (i+1)·B/N)."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS, None))


def replicate(tree, mesh: Mesh):
    """Copy every array of a pytree (a TrainState, the token array) onto every device of ``mesh``."""
    return jax.device_put(tree, replicated(mesh))


def check_batch_divides(batch_size: int, mesh: Mesh) -> None:
    """Each device must get the same number of rows; say so plainly when it would not."""
    n = mesh.shape[DATA_AXIS]
    if batch_size % n:
        lower = (batch_size // n) * n
        raise ConfigError(
            f"The batch size ({batch_size}) must split evenly across the {n} devices.",
            f"Pick a multiple of {n}, such as {max(lower, n)} or {lower + n}.",
        )


def make_sharded_train_step(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    optimizer: optax.GradientTransformation,
    mesh: Mesh,
    loss: Callable = loss_fn,
) -> Callable[[TrainState, jax.Array, jax.Array, float], tuple[TrainState, jax.Array]]:
    """The jitted step ``(state, tokens, key, learning_rate) -> (state, loss)`` on ``mesh``.

    ``engine.train.make_train_step`` itself, with the sampled batch constrained to be split along B:
    every device draws the whole (cheap) batch from the replicated tokens, then works on its own
    B/N rows only; XLA partitions everything downstream and all-reduces the gradients. Raises
    ``ConfigError`` when the batch size does not divide by the number of devices.
    """
    check_batch_divides(train_cfg.batch_size, mesh)
    everywhere = replicated(mesh)
    # Inputs and outputs replicated: the new state can be fed straight back in, and donating the old
    # one updates the parameters in place on every device, as the single-device step does.
    return make_train_step(
        model_cfg, train_cfg, optimizer, loss,
        batch_sharding=batch_sharded(mesh),
        jit_options={"in_shardings": (everywhere,) * 4, "out_shardings": (everywhere, everywhere)},
    )
