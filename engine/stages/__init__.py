"""The training stages, and the loop they share. Nothing here imports ``engine.evaluation``.

- ``loop``               the training loop: steps, log points, hooks every N steps, the last-good rollback
- ``pretraining``        next-token prediction on a corpus, as a generator of events
- ``time_lapse``         the snapshots a pretraining run keeps (what it wrote and guessed at points of the run)
- ``tuning_run``         what both tuning stages share (full or LoRA, resume, the step, held-out hooks)
- ``instruction_tuning`` supervised fine-tuning on the answers only
- ``preference_tuning``  DPO, with its collapse guard, pretraining-text anchor and alignment tax
- ``lora``               low-rank adapters, and merging them back into the weights
"""
