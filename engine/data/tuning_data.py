"""The data of the tuning stages: loading, checking, exporting and tokenizing prompt/answer rows.

- **Instruction tuning** reads ``prompt``/``completion`` rows (``fictional_world_instructions.jsonl``);
- **preference tuning** reads ``prompt``/``chosen``/``rejected`` rows (``…_preferences.jsonl``);
- the evaluation helpers read the benchmark and red-team sets.

Every malformed or incomplete row stops the load with ``"file.jsonl:LINE: the problem"`` and never
the row itself, which may be long or private. So does a field longer than ``MAX_FIELD_CHARS``: far more
than a model that reads a few hundred tokens at a time can use, and tokenizing a megabyte-long answer
took seconds and gigabytes. Rows typed into the app's tables are held to the same limit when a run
starts (``check_row_lengths``), before anything is tokenized. Before any training, ``check_enough_pairs`` and
``check_tokenizer`` refuse a set that is too small to hold pairs back, or that uses characters the
model's tokenizer cannot write (a character-level model knows only its pretraining text's letters).

Tokenizing an example means *response-only loss*: the prompt and the answer are tokenized separately
and joined, and only the answer's tokens (plus ``END_OF_ANSWER``, which ends the turn) count in the
loss, so the model learns to answer, and to stop, rather than to ask more questions. Every answer
starts with a space, so byte-level BPE splits it into the same pieces as the same words in running
text (see ``sample_corpora/README.md``).
Nothing in this file imports JAX.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from engine.data.corpus import SAMPLE_CORPORA_DIR, _kind, _normalise
from engine.errors import NotEnoughPairs, TokenizerMismatch, TuningDataError
from engine.tokenizer import Tokenizer, visible

# How the model ends its answer: by handing the turn back, i.e. writing the start of the next user turn
# (the prompt template's "User:"). It is part of the answer's loss, and generation stops at it
# (``engine.behaviour``). A plain line break would not do: the pretrained model already ends a forum
# answer with one, and then goes on writing more questions; what instruction tuning teaches is to stop.
# It needs no new characters, because every prompt of the bundled template already contains them.
END_OF_ANSWER = "\nUser:"
# Fewer pairs than this cannot teach a pattern and still leave a few held back to check it with.
MIN_PAIRS = 16
MAX_TUNING_FILE_BYTES = 20 * 2**20  # far more pairs than a CPU can tune on in minutes
# The longest prompt or answer a pair may have, in characters. The bundled ones are under 110; the
# largest context a model can have is 4,096 tokens, and the presets read 64 to 128, so a longer field
# would only be cut off. (A 1 MB answer froze the window for 39 s and took 2.6 GB to tokenize.)
MAX_FIELD_CHARS = 4_000
# Sequence lengths are rounded up to a multiple of this, so similar sets reuse one compiled program.
LENGTH_STEP = 16

INSTRUCTION_FIELDS = ("prompt", "completion")
PREFERENCE_FIELDS = ("prompt", "chosen", "rejected")
BENCHMARK_FIELDS = ("question", "answer", "split")
RED_TEAM_FIELDS = ("prompt", "kind", "expected")


@dataclass(frozen=True)
class InstructionExample:
    """One question and the answer the model should learn to give."""

    prompt: str  # e.g. "User: What is the capital of Lamlar?\nAssistant:"
    completion: str  # e.g. " Chafo." (starts with a space, ends with a full stop)
    meta: dict = field(default_factory=dict, compare=False)  # the row's other fields (answer, topic…)


@dataclass(frozen=True)
class PreferencePair:
    """One prompt with a preferred and a rejected answer."""

    prompt: str
    chosen: str  # the answer to move towards
    rejected: str  # the answer to move away from
    meta: dict = field(default_factory=dict, compare=False)  # "kind", "harmful" and any other fields

    @property
    def kind(self) -> str:
        return str(self.meta.get("kind", ""))


# --- reading ----------------------------------------------------------------------------------------


def _read_rows(path: str | os.PathLike, required: Sequence[str], what: str, example: str,
               check_row: Callable[[str, dict], None] | None = None) -> list[tuple[str, dict]]:
    """(``file:line``, row) for every non-blank line; every ``required`` field must be non-empty text.

    ``check_row(where, row)`` may raise for a loader's own rule; it runs line by line with the
    shape checks, so the message always names the first bad line (fuzzing found a later line
    reported first when the rule ran after the whole file had been read)."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise TuningDataError(f"The file '{name}' does not exist (any more).", "Choose another file.")
    try:
        size = path.stat().st_size
        if size > MAX_TUNING_FILE_BYTES:  # refused before it is read
            raise TuningDataError(f"The file '{name}' is {size / 2**20:.0f} MB, more than the "
                                  f"{MAX_TUNING_FILE_BYTES // 2**20} MB {what} can use.", "Use a smaller file.")
        raw = path.read_bytes()
    except OSError as err:  # no permission, a vanished disk, a folder where a file was
        raise TuningDataError(f"The file '{name}' could not be read: {err.strerror or err}.",
                              "Check that it is a file you may open, or copy it somewhere else.") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise TuningDataError(f"{name}:{line}: this line is not UTF-8 text, which JSONL files must be.",
                              "Save the file as UTF-8 and open it again.") from err
    shape = f"Each line must be one JSON object, such as {example}."
    rows = []
    for number, line in enumerate(_normalise(text).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as err:
            # JSONDecodeError is a ValueError; so is a whole number of more than 4300 digits, which
            # Python refuses to convert (found by fuzzing); RecursionError is nesting thousands deep.
            if isinstance(err, json.JSONDecodeError):
                detail = f" ({err.msg} at column {err.colno})"
            elif isinstance(err, RecursionError):
                detail = " (it is nested too deeply)"
            else:
                detail = " (a number on it has too many digits)"
            raise TuningDataError(f"{where}: this line is not valid JSON{detail}.", shape) from err
        if not isinstance(row, dict):
            raise TuningDataError(f"{where}: this line is {_kind(row)}, not a JSON object.", shape)
        for key in required:
            if key not in row:
                raise TuningDataError(f"{where}: the '{key}' field is missing.",
                                      f"{what.capitalize()} needs the fields {', '.join(required)}.")
            value = row[key]
            if not isinstance(value, str):
                raise TuningDataError(f"{where}: the '{key}' field is {_kind(value)}, not text.")
            if not value.strip():
                raise TuningDataError(f"{where}: the '{key}' field is empty.",
                                      "Fill it in, or delete the line.")
            _check_length(where, key, value)
        if check_row is not None:
            check_row(where, row)
        rows.append((where, row))
    if not rows:
        raise TuningDataError(f"'{name}' has no rows.", shape)
    return rows


def _check_length(where: str, key: str, value: str) -> None:
    if len(value) > MAX_FIELD_CHARS:
        raise TuningDataError(
            f"{where}: the '{key}' field is {len(value):,} characters long, more than the {MAX_FIELD_CHARS:,} a "
            "field may have (the models read a few hundred tokens at a time, so the rest could never be used).",
            "Shorten it, or delete the line.")


def check_row_lengths(items: Sequence[InstructionExample | PreferencePair], start: int = 1) -> None:
    """Refuse a pair with a field longer than ``MAX_FIELD_CHARS``, naming the pair and the field.

    For pairs that did not come through a loader (typed or pasted into a table): a run calls this
    before it tokenizes anything, and so does the Instruction tab's token view. ``start`` is the number
    of the first item's row."""
    for number, item in enumerate(items, start=start):
        fields = INSTRUCTION_FIELDS if isinstance(item, InstructionExample) else PREFERENCE_FIELDS
        for key in fields:
            _check_length(f"Row {number} of the pairs", key, getattr(item, key))


def _meta(row: dict, skip: Sequence[str]) -> dict:
    return {k: v for k, v in row.items() if k not in skip}


def load_instructions(path: str | os.PathLike) -> list[InstructionExample]:
    """Prompt/completion rows from a JSONL file (extra fields are kept in ``meta``)."""
    rows = _read_rows(path, INSTRUCTION_FIELDS, "instruction tuning",
                      '{"prompt": "User: ...\\nAssistant:", "completion": " ..."}')
    return [InstructionExample(r["prompt"], r["completion"], _meta(r, INSTRUCTION_FIELDS)) for _, r in rows]


def load_preferences(path: str | os.PathLike) -> list[PreferencePair]:
    """Prompt/chosen/rejected rows from a JSONL file; a pair whose two answers are equal is refused."""
    def answers_differ(where: str, r: dict) -> None:
        if r["chosen"].strip() == r["rejected"].strip():
            raise TuningDataError(f"{where}: the chosen and the rejected answer are the same, so there is "
                                  "nothing to prefer.", "Change one of them, or delete the line.")

    rows = _read_rows(path, PREFERENCE_FIELDS, "preference tuning",
                      '{"prompt": "User: ...\\nAssistant:", "chosen": " ...", "rejected": " ..."}', answers_differ)
    return [PreferencePair(r["prompt"], r["chosen"], r["rejected"], _meta(r, PREFERENCE_FIELDS)) for _, r in rows]


def load_benchmark(path: str | os.PathLike | None = None) -> list[dict]:
    """Benchmark rows (question, exact answer, ``train``/``held_out`` split); the bundled set by default."""
    path = path or SAMPLE_CORPORA_DIR / "fictional_world_benchmark.jsonl"
    return [r for _, r in _read_rows(path, BENCHMARK_FIELDS, "the benchmark",
                                     '{"question": "...", "answer": "...", "split": "held_out"}')]


def load_red_team(path: str | os.PathLike | None = None) -> list[dict]:
    """Red-team rows (prompt, kind, expected behaviour); the bundled set by default."""
    path = path or SAMPLE_CORPORA_DIR / "fictional_world_red_team.jsonl"
    return [r for _, r in _read_rows(path, RED_TEAM_FIELDS, "the red-team set",
                                     '{"prompt": "...", "kind": "harmful", "expected": "refuse"}')]


def bundled_instructions() -> list[InstructionExample]:
    return load_instructions(SAMPLE_CORPORA_DIR / "fictional_world_instructions.jsonl")


def bundled_preferences() -> list[PreferencePair]:
    return load_preferences(SAMPLE_CORPORA_DIR / "fictional_world_preferences.jsonl")


def export_jsonl(items: Iterable[InstructionExample | PreferencePair], path: str | os.PathLike) -> Path:
    """Write examples or pairs as JSONL that ``load_instructions``/``load_preferences`` read back.

    Written atomically, so an interrupted export never leaves half a file where a good one was.
    """
    from engine.checkpoint import write_atomically

    lines = []
    for item in items:
        if isinstance(item, InstructionExample):
            row = {"prompt": item.prompt, "completion": item.completion}
        else:
            row = {"prompt": item.prompt, "chosen": item.chosen, "rejected": item.rejected}
        row.update({k: v for k, v in item.meta.items() if k not in row})
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    path = Path(path)
    try:
        write_atomically(path, "".join(lines).encode("utf-8"))
    except OSError as err:
        raise TuningDataError(f"'{path.name}' could not be written: {err.strerror or err}.",
                              "Choose another folder, or free some disk space.") from err
    return path


# --- checks before training -------------------------------------------------------------------------


def check_enough_pairs(n_pairs: int, what: str = "Instruction tuning", minimum: int = MIN_PAIRS) -> None:
    """Refuse a set too small to learn from while still holding some pairs back for checking."""
    if n_pairs < minimum:
        raise NotEnoughPairs(
            f"{what} needs at least {minimum} pairs: enough to learn a pattern from, with a few held back "
            f"to check the model on pairs it never trained on. This set has {n_pairs}.",
            "Add more pairs, or use the bundled set.")


def check_tokenizer(tokenizer: Tokenizer, texts: Iterable[str]) -> None:
    """Refuse data the model cannot read: characters its tokenizer has no token for.

    Only a character-level tokenizer can be missing a character (byte-level BPE writes any text). Its
    letters come from the pretraining text, so the fix is a model pretrained on text that has them.
    """
    missing: set[str] = set(tokenizer.unknown(END_OF_ANSWER))
    for text in texts:
        missing |= tokenizer.unknown(text)
    if missing:
        shown = " ".join(f"'{visible(c)}'" for c in sorted(missing)[:12])
        more = f" and {len(missing) - 12} more" if len(missing) > 12 else ""
        raise TokenizerMismatch(
            f"This model cannot read the data: its characters come from its pretraining text, which had no "
            f"{shown}{more}. The data uses {'it' if len(missing) == 1 else 'them'}.",
            "Start from a model pretrained on text with these characters, or with BPE tokens "
            "(they can write any character), or remove the characters from the data.")


def split_held_out(items: Sequence, val_fraction: float, seed: int) -> tuple[list, list]:
    """(training items, held-out items): a fixed random share of the pairs, at least 2, never trained on."""
    order = np.random.default_rng(seed).permutation(len(items))
    n_val = min(max(2, round(len(items) * val_fraction)), len(items) - 1)
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


# --- tokenizing with a response-only loss mask ------------------------------------------------------


def encode_example(tokenizer: Tokenizer, prompt: str, answer: str) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of the prompt, and of the answer followed by ``END_OF_ANSWER``.

    Encoded separately, so no token can straddle the boundary and the answer's tokens are exactly the
    ones whose loss counts; with answers that start with a space they split as in running text.
    """
    return tokenizer.encode(prompt), tokenizer.encode(answer + END_OF_ANSWER)


def _fit(prompt_ids: np.ndarray, answer_ids: np.ndarray, context: int) -> tuple[np.ndarray, int, bool]:
    """(ids of at most ``context + 1`` tokens, how many of them are prompt, whether anything was cut).

    A long answer loses its end; a long prompt loses its *beginning*, because the words just before the
    answer (the question and "Assistant:") are what the model must see to answer.
    """
    n_answer = min(len(answer_ids), context)
    n_prompt = min(len(prompt_ids), context + 1 - n_answer)
    ids = np.concatenate([prompt_ids[len(prompt_ids) - n_prompt:], answer_ids[:n_answer]])
    return ids, n_prompt, n_answer < len(answer_ids) or n_prompt < len(prompt_ids)


@dataclass(frozen=True)
class TokenizedExamples:
    """Examples as padded arrays for training, with a mask of the positions that count in the loss."""

    inputs: np.ndarray = field(repr=False)  # (N, L) int32: the tokens the model reads, 0-padded
    targets: np.ndarray = field(repr=False)  # (N, L) int32: the next token at each position
    weights: np.ndarray = field(repr=False)  # (N, L) float32: 1 where the target is an answer token
    truncated: int  # how many examples were longer than the context and were cut


def tokenize_examples(tokenizer: Tokenizer, prompts: Sequence[str], answers: Sequence[str],
                      context_length: int, length: int | None = None) -> TokenizedExamples:
    """Inputs, targets and response-only weights for (prompt, answer) pairs.

    ``length`` L defaults to the longest example rounded up to ``LENGTH_STEP``, at most the context:
    the bundled questions are ~20 tokens, and padding them to a context of 128 would make every step
    several times slower for nothing. Position t of a row predicts ``targets[t]`` from ``inputs[:t+1]``;
    ``weights[t]`` is 1 exactly when ``targets[t]`` is a token of the answer (or its end).
    """
    fitted = [_fit(*encode_example(tokenizer, p, a), context_length) for p, a in zip(prompts, answers)]
    longest = max((len(ids) - 1 for ids, _, _ in fitted), default=1)
    if length is None:
        length = min(context_length, -(-max(longest, 1) // LENGTH_STEP) * LENGTH_STEP)
    n = len(fitted)
    inputs = np.zeros((n, length), np.int32)  # (N, L)
    targets = np.zeros((n, length), np.int32)  # (N, L)
    weights = np.zeros((n, length), np.float32)  # (N, L)
    for row, (ids, n_prompt, _) in enumerate(fitted):
        t = len(ids) - 1  # predictions in this example
        inputs[row, :t] = ids[:-1]
        targets[row, :t] = ids[1:]
        # targets[j] is ids[j + 1]: an answer token exactly when j + 1 >= n_prompt.
        weights[row, max(n_prompt - 1, 0):t] = 1.0
    return TokenizedExamples(inputs, targets, weights, sum(cut for _, _, cut in fitted))


@dataclass(frozen=True)
class TokenPiece:
    """One token of an example, for the view that highlights which tokens the model learns from."""

    text: str  # what the token writes (may be part of a character for unusual text)
    label: str  # the same with spaces and line breaks made visible ("␣Chafo", "⏎")
    in_loss: bool  # True for the answer's tokens: the only ones the model is graded on
    in_context: bool  # False for tokens cut off because the example is longer than the context


def token_pieces(tokenizer: Tokenizer, prompt: str, answer: str,
                 context_length: int | None = None) -> list[TokenPiece]:
    """Every token of one example (prompt, answer, ``END_OF_ANSWER``) and whether it counts in the loss.

    The first token is never predicted (nothing comes before it), so it is never in the loss; every
    answer token is, unless the context cut it off.
    """
    prompt_ids, answer_ids = encode_example(tokenizer, prompt, answer)
    ids = np.concatenate([prompt_ids, answer_ids])
    kept = np.ones(len(ids), bool)
    if context_length is not None:
        _, n_prompt, _ = _fit(prompt_ids, answer_ids, context_length)
        n_answer = min(len(answer_ids), context_length)
        kept[: len(prompt_ids) - n_prompt] = False
        kept[len(prompt_ids) + n_answer:] = False
    first = int(np.argmax(kept)) if kept.any() else 0  # the first token the model reads: never predicted
    pieces = []
    for i, token in enumerate(ids.tolist()):
        counted = i >= len(prompt_ids) and bool(kept[i]) and i > first
        pieces.append(TokenPiece(tokenizer.decode([token]), tokenizer.token_label(token), counted, bool(kept[i])))
    return pieces
