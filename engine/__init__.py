"""Training Explorer's engine: a small GPT trained with JAX and optax, with no Qt in sight.

One file per concept: a flat core that every stage uses, and a folder per part of the pipeline.

Core:

- ``config``         frozen dataclasses for the model and the run, presets, every setting's range, size arithmetic
- ``tokenizer``      characters or byte-level BPE (Hugging Face ``tokenizers``)
- ``model``          the decoder-only transformer as pure functions over a parameter pytree
- ``train``          the optax optimiser, the immutable ``TrainState`` and the jitted ``train_step``
- ``sampling``       next-token probabilities and text generation
- ``behaviour``      greedy answers with a key/value cache, token probabilities, and verdicts on them
- ``trained_model``  what a stage hands the next: parameters, configs, tokenizer, history, stage
- ``checkpoint``     safetensors + JSON sidecar, checked before reading, written atomically
- ``events``         the small plain events every long job yields, and the run control (pause, stop)
- ``errors``         errors whose message a non-programmer can act on
- ``shipped_models`` the models bundled in ``assets/models/``
- ``machine_speed``, ``runtime``, ``parallel``, ``user_paths``  this computer: its speed, allocator, devices, folders
- ``cli``            ``training-explorer-cli``: any stage or the whole chain, headless, from a TOML file
  (``cli_config``: the config's schema and checks; ``cli_progress``: the bar on stderr and Ctrl+C)

``data/``: the text and the sets made from it (world, documents, corpus, sources, curation, stage sets,
tuning rows, batches). ``stages/``: the training loop and the stages that use it (pretraining,
instruction tuning, preference tuning, LoRA); it imports nothing from ``evaluation/``.
``evaluation/``: benchmark, ratings, red teaming and the lessons. ``session/``: each stage's state
and the session file. Each folder's ``__init__`` lists its files.

The GUI, the tests and headless scripts all consume the same generators.
"""

from engine.runtime import tune_allocator

# XLA maps and unmaps large temporary buffers every step; glibc's defaults give them back to the
# kernel and fault them in again, which cost 28-45% of a training step on 2 cores. This must run
# before jax allocates anything, so it runs as soon as anything from the engine is imported.
tune_allocator()
