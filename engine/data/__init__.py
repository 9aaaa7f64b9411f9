"""The text a model learns from and the sets made from it.

- ``world``            the generated fictional world, its fact table and the documents written about it
- ``documents``        documents with their topic, year, source and quality flags; the junk rule
- ``safety_text``      stories in the world text in which people refuse to help with harm
- ``open_book``        notes-then-question documents that reward reading the context
- ``harmful_requests`` harmful requests built from an act and a framing, some held out for red teaming
- ``stage_sets``       instruction, preference, benchmark and red-team sets generated from the world
- ``corpus``           reading text files the user points at, with plain-language errors; memory checks
- ``sources``          the Data stage's sources (the world, a file, a folder, JSONL) and its state
- ``curation``         cutoff, topics, mix, de-duplication and the statistics the Data stage charts
- ``text_profile``     counts that say something true about any text (lengths, words, characters, lines)
- ``tuning_data``      instruction, preference, benchmark and red-team rows: loading, checks, token masks
- ``batches``          token arrays, the train/validation split, batch sampling from (seed, step)
"""
