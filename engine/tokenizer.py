"""Turning text into token ids and back: one id per character, or byte-level BPE word pieces.

Characters are the simplest story to tell (the model must learn to spell); BPE, trained on the
corpus with Hugging Face ``tokenizers``, packs a fact into a few tokens, which is what lets a tiny
model memorise facts in minutes. Both share one small interface so the rest of the engine does not
care which is in use. Nothing here imports JAX.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from engine.data.corpus import Corpus
from engine.errors import ConfigError, CorpusTooShort

_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}
# Byte-level BPE can split one letter (é, an emoji) into several tokens; a text that stops, or a model
# that wrote a byte, inside such a letter has bytes that are no whole character. Decoding makes each run
# of them U+FFFD ("�"), which reads as a broken program; shown text puts this mark there instead.
PARTIAL_CHARACTER = "▯"
PARTIAL_CHARACTER_MEANING = (
    "A box ▯ marks part of a letter: the model wrote some of the pieces a letter (é, an emoji) is made "
    "of, but not a whole letter."
)
MIN_BPE_VOCAB = 260  # the 256 byte values plus a few merges; below that BPE is pointless
MAX_BPE_VOCAB = 32768
_ENCODE_BATCH_CHARS = 64 * 1024  # text per call to the Rust encoder


@dataclass(frozen=True)
class TokenizerSpec:
    """Which tokenizer to build from a corpus."""

    kind: str = "char"  # "char" (one token per character) or "bpe" (word pieces)
    vocab_size: int = 512  # BPE only: how many distinct pieces to learn

    def validate(self) -> None:
        if self.kind not in ("char", "bpe"):
            raise ConfigError(f"Unknown tokenizer '{self.kind}'.")
        if self.kind == "bpe" and not MIN_BPE_VOCAB <= self.vocab_size <= MAX_BPE_VOCAB:
            raise ConfigError(f"The BPE vocabulary must be between {MIN_BPE_VOCAB} and {MAX_BPE_VOCAB} pieces.")


def readable(text: str) -> str:
    """``text`` as it may be shown: bytes that were no whole character (U+FFFD) become ``PARTIAL_CHARACTER``.

    Also for texts saved before samples were decoded with ``display`` (a saved model's time-lapse).
    """
    return text.replace("\ufffd", PARTIAL_CHARACTER)


def visible(text: str) -> str:
    """Make spaces and line breaks visible, for token displays."""
    return "".join(_VISIBLE.get(ch, ch) for ch in text)


class CharTokenizer:
    """One token per distinct character of the corpus, in code-point order."""

    kind = "char"

    def __init__(self, chars: list[str]):
        self.chars = sorted(set(chars))
        self._codepoints = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        self._index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def train(cls, text: str) -> "CharTokenizer":
        return cls(list(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Ids of ``text``; characters the corpus never had are skipped (see ``unknown``)."""
        # Vectorised: a 1 MB corpus encodes in milliseconds instead of a second of Python looping. A
        # million characters at a time: the whole text at once held about 30 bytes per character.
        parts, step = [np.zeros(0, dtype=np.int32)], _ENCODE_BATCH_CHARS * 16
        for start in range(0, len(text), step):
            points = np.frombuffer(text[start:start + step].encode("utf-32-le"), dtype=np.uint32)
            ids = np.searchsorted(self._codepoints, points)
            ids = np.minimum(ids, len(self._codepoints) - 1)
            known = self._codepoints[ids] == points
            parts.append(ids[known].astype(np.int32))
        return np.concatenate(parts)

    def unknown(self, text: str) -> set[str]:
        return {c for c in text if c not in self._index}

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids if 0 <= int(i) < len(self.chars))

    def display(self, ids) -> str:
        """The text of ``ids`` for a person to read (see ``readable``)."""
        return readable(self.decode(ids))

    def token_label(self, token_id: int) -> str:
        return visible(self.display([token_id]))

    def pieces(self, text: str) -> list[str]:
        """``text`` cut where the tokens are: one character each (ones the corpus never had are left out)."""
        return [c for c in text if c in self._index]

    def to_json(self) -> dict:
        return {"kind": "char", "chars": self.chars}


class BpeTokenizer:
    """Byte-level BPE (as in GPT-2) trained on the corpus with Hugging Face ``tokenizers``."""

    kind = "bpe"

    def __init__(self, hf_tokenizer):
        self._tok = hf_tokenizer

    @classmethod
    def train(cls, text: str, vocab_size: int) -> "BpeTokenizer":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        # Byte-level: every possible input is representable, so no "unknown" token is ever needed.
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=[],
            show_progress=False,
        )
        tok.train_from_iterator(_paragraphs(text), trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> np.ndarray:
        # Paragraph by paragraph: the batch call uses every core (2.5x faster on 1 MB). Runs of blank
        # lines at paragraph ends may split differently from one long call; decoding is exact either way.
        # About 64 kB of text per call, each call's ids packed into int32 at once: one call for the whole
        # text held every token's string, offsets and masks at the same time, about 140 bytes of memory
        # per byte of text at the smallest vocabulary (benchmarks/corpus_memory.py).
        parts = [np.zeros(0, dtype=np.int32)]
        for batch in _batches(text, _ENCODE_BATCH_CHARS):
            parts += [np.asarray(enc.ids, dtype=np.int32) for enc in self._tok.encode_batch_fast(batch)]
        return np.concatenate(parts)

    def unknown(self, text: str) -> set[str]:
        return set()

    def decode(self, ids) -> str:
        """The exact text of ``ids``; bytes that are no whole character come out as U+FFFD."""
        return self._tok.decode([int(i) for i in ids])

    def display(self, ids) -> str:
        """The text of ``ids`` for a person to read: a letter split across tokens and not finished
        (at the end, or a stray byte in the middle) shows as ``PARTIAL_CHARACTER``, never as "�"."""
        return readable(self.decode(ids))

    def token_label(self, token_id: int) -> str:
        # A piece may be part of a multi-byte character: it shows as the partial-letter mark.
        return visible(self.display([token_id]))

    def pieces(self, text: str) -> list[str]:
        """``text`` cut where the tokens are, for the token view; the pieces join back to ``text``.

        Byte-level BPE can split one character (an emoji, an accented letter) into several tokens
        that share its offsets; such tokens are shown as one piece, since half a character cannot
        be drawn. Use ``encode`` to count tokens.
        """
        out: list[str] = []
        base = 0  # where the current paragraph starts in ``text``
        covered = 0  # how far the pieces so far reach
        for para in _paragraphs(text):
            for start, stop in self._tok.encode(para).offsets:
                if base + start < covered:  # a second token inside the same character
                    continue
                out.append(text[base + start:base + stop])
                covered = base + stop
            base += len(para)
        return out

    def to_json(self) -> dict:
        return {"kind": "bpe", "tokenizer": json.loads(self._tok.to_str())}


Tokenizer = CharTokenizer | BpeTokenizer


def _paragraphs(text: str):
    """Split after each blank line, keeping the separators, so the pieces join back to ``text``."""
    start = 0
    while start < len(text):
        end = text.find("\n\n", start)
        if end < 0:
            yield text[start:]
            return
        end += 2
        while end < len(text) and text[end] == "\n":
            end += 1
        yield text[start:end]
        start = end


def _batches(text: str, limit: int):
    """The paragraphs of ``text`` in lists of about ``limit`` characters, for encoding a batch at a time.

    A paragraph longer than ``limit`` (a file with no blank lines is one paragraph) is cut after line
    ends, so no batch holds much more than ``limit`` unless one line does. Like the paragraphs, a cut
    can change the tokens only where the next line starts with blank space; decoding stays exact."""
    batch, size = [], 0
    for para in _paragraphs(text):
        pieces = [para] if len(para) <= limit else _lines(para, limit)
        for piece in pieces:
            if batch and size + len(piece) > limit:
                yield batch
                batch, size = [], 0
            batch.append(piece)
            size += len(piece)
    if batch:
        yield batch


def _lines(text: str, limit: int) -> list[str]:
    """``text`` cut after line ends into pieces of at most ``limit`` characters where lines allow."""
    pieces, start = [], 0
    while len(text) - start > limit:
        cut = text.rfind("\n", start, start + limit) + 1
        if cut <= start:  # one line longer than the limit: up to its end
            cut = text.find("\n", start + limit) + 1 or len(text)
        pieces.append(text[start:cut])
        start = cut
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def build_tokenizer(text: str, spec: TokenizerSpec) -> Tokenizer:
    spec.validate()
    if spec.kind == "char":
        return CharTokenizer.train(text)
    return BpeTokenizer.train(text, spec.vocab_size)


def tokenizer_from_json(data: dict) -> Tokenizer:
    """Rebuild a tokenizer saved by ``to_json`` (raises ValueError/KeyError on malformed data)."""
    kind = data["kind"]
    if kind == "char":
        chars = data["chars"]
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("malformed character list")
        return CharTokenizer(chars)
    if kind == "bpe":
        from tokenizers import Tokenizer as HfTokenizer

        return BpeTokenizer(HfTokenizer.from_str(json.dumps(data["tokenizer"])))
    raise ValueError(f"unknown tokenizer kind {kind!r}")


@dataclass(frozen=True)
class TokenizedCorpus:
    tokenizer: Tokenizer
    tokens: np.ndarray = field(repr=False)  # int32, the whole corpus


_CACHE: OrderedDict[tuple[str, TokenizerSpec], TokenizedCorpus] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def preview(corpus: Corpus, spec: TokenizerSpec) -> TokenizedCorpus:
    """Tokenize a corpus, remembering the last few results (BPE training takes about a second)."""
    key = (corpus.fingerprint, spec if spec.kind == "bpe" else TokenizerSpec("char"))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    tokenizer = build_tokenizer(corpus.text, spec)
    result = TokenizedCorpus(tokenizer, tokenizer.encode(corpus.text))
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def check_length(n_tokens: int, context_length: int, val_fraction: float = 0.1) -> None:
    """Both the training and the validation part must hold at least one example of context + 1 tokens."""
    needed = int((context_length + 1) / min(val_fraction, 1 - val_fraction)) + 1
    if n_tokens < needed:
        raise CorpusTooShort(
            f"This text is only {n_tokens} tokens long, but the model reads {context_length} at a time and "
            f"needs at least {needed} to have text for both training and checking.",
            "Use a longer text, or lower the context length in Advanced.",
        )
