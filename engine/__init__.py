"""Training Explorer's engine: a small GPT trained with JAX and optax, with no Qt in sight.

One file per concept, in the order a run uses them:

- ``config``      frozen dataclasses for the model and the run, presets, size and memory arithmetic
- ``world``       the generated fictional world, its fact table and the documents written about it
- ``documents``   documents with their topic, year, source and quality flags
- ``curation``    cutoff, topics, mix, de-duplication and the statistics the Data stage charts
- ``stage_sets``  instruction, preference, benchmark and red-team sets generated from the world
- ``corpus``      reading text, folders and JSONL the user points at, with plain-language errors
- ``tokenizer``   characters or byte-level BPE (Hugging Face ``tokenizers``)
- ``data``        token arrays, the train/validation split, batch sampling from (seed, step)
- ``model``       the decoder-only transformer as pure functions over a parameter pytree
- ``train``       the optax optimiser, the immutable ``TrainState`` and the jitted ``train_step``
- ``sampling``    next-token probabilities and text generation
- ``checkpoint``  safetensors + JSON sidecar, written atomically
- ``training_loop`` the loop every training stage shares: steps, log points, hooks every N steps, rollback
- ``pretraining`` a whole run as a generator of small event objects (``events``)
- ``data_sources`` loading the Data stage's documents from the world, a file, a folder or JSONL
- ``tuning_data``  instruction, preference, benchmark and red-team rows: loading, checks, token masks
- ``tuning_run``   what both tuning stages share (full or LoRA, resume, the step, held-out hooks)
- ``instruction_tuning`` / ``preference_tuning``  supervised fine-tuning on answers only, and DPO
- ``lora``        low-rank adapters, and merging them back into the weights
- ``behaviour``   greedy answers with a key/value cache, token probabilities, and verdicts on them
- ``trained_model`` what a stage hands the next: parameters, configs, tokenizer, history, stage
- ``evaluation``  the Evaluation stage: benchmark grading with confidence, blind ratings, red-team pairs
- ``lessons``     seven measured lessons; ``lesson_probes`` asks the questions, ``lesson_models`` trains variants
- ``shipped_models`` the models bundled in ``assets/models/``
- ``session``     a whole session in one zip file (manifest, curation, tabs, votes, ratings, models), autosave
- ``cli``         ``training-explorer-cli``: any stage or the whole chain, headless, from a TOML file

The GUI, the tests and headless scripts all consume the same generators.
"""

from engine.runtime import tune_allocator

# XLA maps and unmaps large temporary buffers every step; glibc's defaults give them back to the
# kernel and fault them in again, which cost 28-45% of a training step on 2 cores. This must run
# before jax allocates anything, so it runs as soon as anything from the engine is imported.
tune_allocator()
