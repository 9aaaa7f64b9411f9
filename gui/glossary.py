"""One glossary for the whole app: the words a newcomer meets, each explained once in plain language.

Every tab uses it without naming it: the window's event filter hands every tooltip request to
``show_tooltip_with_glossary``,
and when the pointer rests on a label, button, group or table header whose words include a glossary
term ("DPO", "LoRA", "held-out" …), the tooltip adds that term's explanation below any tooltip the
control already has. Help → Glossary (``GlossaryDialog``) lists every term, with a search field.
A text that changes while the app runs (a summary sentence) is explained as it reads now, because
the terms are looked up when the tooltip is asked for, not when the widget was made.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTextBrowser,
    QToolTip,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class Term:
    name: str  # as the glossary lists it
    meaning: str  # one or two plain sentences
    pattern: str  # a regular expression that finds the term in the app's texts (case-insensitive unless it has (?-i))


TERMS: tuple[Term, ...] = (
    Term("Token", "A piece of text the model reads and writes one at a time: a letter, or with word pieces a part of a "
         "word. The model's whole job is to guess the next token.", r"\btokens?\b"),
    Term("Tokenizer", "The rule that cuts text into tokens and turns them into numbers the model can use.",
         r"\btokeni[sz]ers?\b"),
    Term("BPE (word pieces)", "Byte-pair encoding: a tokenizer that learns common pieces of words from the text, so a "
         "frequent word is one token and a rare one is several.", r"(?-i:\bBPE\b)|\bword pieces\b"),
    Term("Corpus", "All the text a model learns from.", r"\bcorp(?:us|ora)\b"),
    Term("Pretraining", "The first stage: the model reads the corpus and learns to guess the next token. It learns "
         "language and facts, but not yet to answer questions.", r"\bpre-?training\b|\bpretrained\b"),
    Term("Loss", "How wrong the model's guesses of the next token are, on average. Lower is better; it falls as the "
         "model learns.", r"\bloss\b"),
    Term("Held-out", "Kept out of training on purpose, to test the model on text or questions it has never seen. "
         "A model that only memorised does well in training and badly here.", r"\bheld[- ](?:out|back)\b"),
    Term("Step", "One small change to the model, made after it has read one batch of examples.",
         r"\bsteps?\b"),
    Term("Learning rate", "How big each step's change to the model is. Too small learns slowly; too big can "
         "wreck the model.", r"\blearning rate\b"),
    Term("Instruction tuning", "The second stage (also called supervised fine-tuning, SFT): the model is shown "
         "questions with good answers, so it learns to answer instead of only continuing text.",
         r"\binstruction[- ]tun(?:ing|ed)\b|(?-i:\bSFT\b)"),
    Term("Preference tuning", "The third stage: the model is shown pairs of answers where people preferred one, and "
         "learns to give answers like the preferred ones (for example, refusing to help with harm).",
         r"\bpreference[- ]tun(?:ing|ed)\b"),
    Term("DPO", "Direct Preference Optimization: the way this app does preference tuning. It makes the preferred "
         "answer of each pair more likely and the other less likely, compared with the model it started from.",
         r"(?-i:\bDPO\b)"),
    Term("β (beta)", "In DPO, how far the model may move away from the model it started from. Smaller β lets it "
         "change more.", r"β|\bbeta\b"),
    Term("LoRA", "Low-rank adaptation: instead of changing every number in the model, tuning trains a few small "
         "extra tables and adds them in. It is cheaper and forgets less.", r"(?-i:\bLoRA\b)"),
    Term("The answer format", "The short, fixed form a tuned model is taught to answer in (an answer line after the "
         "question). A pretrained model rarely uses it, because it has only ever continued text.",
         r"\b(?:the|in|answer) format\b"),
    Term("Exactly right", "The model's answer is the true fact, word for word, to a question with a known answer.",
         r"\bexactly right\b"),
    Term("Refusal", "An answer that declines a harmful request instead of helping with it. Over-refusal is "
         "declining a harmless request that only sounds frightening.", r"\b(?:over-)?refus(?:al|als|ed|es|e)\b"),
    Term("Benchmark", "A fixed set of questions with known answers, asked of every model the same way, so models "
         "can be compared by their scores.", r"\bbenchmarks?\b"),
    Term("Red teaming", "Trying on purpose to make a model misbehave (for example with harmful requests in new "
         "wordings) to find its weaknesses before others do.", r"\bred[- ]team(?:ing)?\b"),
    Term("Hallucination", "A confident answer that is made up: the model writes something that sounds right but "
         "is not true, often about things it never read about.", r"\bhallucinat\w*"),
    Term("Knowledge cutoff", "The date after which nothing was in the training text. A model cannot know what "
         "happened later.", r"\bcut-?off\b"),
    Term("Confidence", "How sure the model was of its answer: the probability it gave to the tokens it wrote, "
         "in percent. Confidence is not correctness.", r"\bconfiden(?:ce|t)\b|\b\d+ ?% sure\b"),
    Term("Temperature", "How adventurous sampling is: low temperature picks the likeliest tokens, high "
         "temperature takes more chances.", r"\btemperature\b"),
    Term("Top-k", "When the model writes, it picks only among the k likeliest next tokens.", r"\btop-?k\b"),
    Term("Checkpoint", "A saved model: its numbers (weights) in one file and a description beside it, so it can "
         "be opened and trained further later.", r"\bcheckpoints?\b"),
    Term("Safetensors", "The file format the app saves a model's numbers in. It holds only numbers, so opening "
         "one can never run a program hidden inside it.", r"\bsafetensors\b"),
    Term("JSONL", "A text file with one record per line (JSON Lines). The app uses it for lists of questions and "
         "answers, and for votes.", r"(?-i:\bJSONL\b)"),
    Term("Fingerprint", "A short code computed from a file's exact contents (a hash). If even one byte changes, "
         "the fingerprint changes, so the app can tell a damaged or altered file.", r"\bfingerprint\w*"),
    Term("Weights", "The numbers inside the model that training changes. A model is its weights plus its "
         "settings.", r"\bweights\b"),
    Term("Embedding", "The list of numbers a model uses for one token. Tokens used alike end up with similar "
         "lists.", r"\bembeddings?\b"),
    Term("Attention", "The part of the model that looks back at earlier tokens to decide which ones matter for "
         "the next guess.", r"\battention\b"),
    Term("Context", "The text given to the model in its prompt. A model that reads its context can use facts it "
         "was never trained on.", r"\bcontext\b"),
    Term("Parameters", "Another word for the model's weights; their count is a model's size.",
         r"\bparameters?\b"),
    Term("Alignment tax", "What a model loses in ordinary ability (here, facts answered right) while preference "
         "tuning teaches it to refuse harm.", r"\balignment tax\b"),
)

_COMPILED = tuple((term, re.compile(term.pattern, re.IGNORECASE)) for term in TERMS)
_TAG = re.compile(r"<[^>]+>")


def terms_in(text: str) -> list[Term]:
    """The glossary terms the words of ``text`` use, in glossary order (HTML tags are ignored)."""
    words = html.unescape(_TAG.sub(" ", text or ""))
    return [term for term, pattern in _COMPILED if pattern.search(words)]


def visible_words(widget: QWidget) -> str:
    """What a person reads on the control: a label's or button's text, a group's title."""
    if isinstance(widget, QLabel):
        return widget.text()
    if isinstance(widget, QAbstractButton):
        return widget.text()
    if isinstance(widget, QGroupBox):
        return widget.title()
    return ""


def tooltip_with_glossary(own_tip: str, words: str) -> str:
    """``own_tip`` followed by the meaning of each glossary term in ``words`` (or in the tip itself)."""
    terms = terms_in(f"{words}\n{own_tip}")
    if not terms:
        return own_tip
    explained = "".join(f"<p><b>{html.escape(t.name)}</b>: {html.escape(t.meaning)}</p>" for t in terms)
    if not own_tip:
        return explained
    own = own_tip if Qt.mightBeRichText(own_tip) else html.escape(own_tip).replace("\n", "<br>")
    return f"<p>{own}</p><hr>{explained}"


def show_tooltip_with_glossary(watched: QWidget, event) -> bool:
    """Answer a tooltip request on ``watched`` with its own tip plus the meaning of the glossary terms it
    shows; False (Qt's own tooltip) when it shows none. Called by the window's one event filter."""
    if isinstance(watched.parentWidget(), QHeaderView):
        return False
    words = visible_words(watched)
    if isinstance(watched, QHeaderView):
        index = watched.logicalIndexAt(event.pos())
        model = watched.model()
        if index < 0 or model is None:
            return False
        words = str(model.headerData(index, watched.orientation()) or "")
    if not words:
        return False
    tip = tooltip_with_glossary(watched.toolTip(), words)
    if not tip or tip == watched.toolTip():
        return False
    QToolTip.showText(event.globalPos(), tip, watched)
    return True


class GlossaryDialog(QDialog):
    """Help → Glossary: every term with its meaning, filtered by what is typed in the search field."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Glossary")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a word, e.g. DPO")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Find a word")
        self.text = QTextBrowser()
        self.text.setAccessibleName("Glossary")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self._show)
        self._show("")
        self.resize(640, 560)

    def shown_terms(self, query: str) -> list[Term]:
        query = query.strip().lower()
        return [t for t in sorted(TERMS, key=lambda t: t.name.lower())
                if not query or query in t.name.lower() or query in t.meaning.lower()]

    def _show(self, query: str) -> None:
        terms = self.shown_terms(query)
        if not terms:
            self.text.setHtml(f"<p>No word in the glossary matches “{html.escape(query)}”.</p>")
            return
        self.text.setHtml("".join(f"<p><b>{html.escape(t.name)}</b><br>{html.escape(t.meaning)}</p>" for t in terms))


def show_glossary(parent: QWidget) -> GlossaryDialog:
    dialog = parent.findChild(GlossaryDialog)
    if dialog is None:
        dialog = GlossaryDialog(parent)
    dialog.show()
    dialog.raise_()
    return dialog
