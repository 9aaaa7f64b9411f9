"""Errors with a message a non-programmer can act on.

Every loader and check in the engine raises a subclass of ``PlainError``. Its ``str()`` is a complete
sentence meant for the message bar, never a traceback; ``hint`` says what to do next.
"""

from __future__ import annotations


class PlainError(Exception):
    """An expected problem with the user's input, explained in plain words."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class CorpusError(PlainError):
    """A text file or folder that cannot be used as a corpus."""


class EncodingProblem(CorpusError):
    """The file is text, but not UTF-8. ``suggested_encodings`` can be offered to the user."""

    def __init__(self, message: str, hint: str = "", suggested_encodings: tuple[str, ...] = ()):
        super().__init__(message, hint)
        self.suggested_encodings = suggested_encodings


class CorpusTooShort(CorpusError):
    """Fewer tokens than one training example needs."""


class TooLargeForMemory(CorpusError):
    """The file, once tokenised, would not fit in this machine's free memory."""


class TuningDataError(CorpusError):
    """An instruction or preference file with a malformed or incomplete row ("file.jsonl:LINE: problem")."""


class NotEnoughPairs(TuningDataError):
    """Too few pairs to train on and still hold some back to check the model with."""


class TokenizerMismatch(TuningDataError):
    """The model's tokenizer cannot write characters the tuning data uses."""


class CheckpointError(PlainError):
    """A model file that is missing, damaged, not ours, or from an incompatible set-up."""


class ConfigError(PlainError):
    """Settings that cannot work together (e.g. a width not divisible by the number of heads)."""


class SessionError(PlainError):
    """A session file that cannot be saved or opened: damaged, incomplete, not ours, or unsafe to unpack."""
