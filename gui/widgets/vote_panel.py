"""Human feedback: the model writes two answers to a prompt, and the user picks the better one.

Each vote becomes a preference pair (the picked answer is "chosen", the other "rejected"); "Both
bad" is counted but makes no pair, since there is nothing to prefer. When both answers are nonsense
(a barely trained model), or both talk about something other than the request asked, the panel says
so before asking for a vote. The two answers are sampled
with some randomness on a worker thread, so they usually differ; if they come out the same, the
panel says so and asks for two more.

Laid out for a projector: the question menu shrinks (eliding a long question) rather than push
"Write two answers" off the edge, and each vote button sits under its answer, so the panel fits
beside the settings column at 200 % zoom in a 1280-pixel window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.behaviour import is_nonsense, off_the_request
from engine.data.stage_sets import PROMPT_TEMPLATE
from gui.availability import set_available
from gui.background import BackgroundTask
from gui.training_controller import plain_message

NOTHING_TO_VOTE_ON = "Nothing to vote on yet: press “Write two answers” first."
UNTRAINED_NOTE = ("Both answers are nonsense: this model is still barely trained, so neither is much better. "
                  "“Both bad” is a fair vote; or tune it for longer in the Instruction tuning tab and come back.")
OFF_TOPIC_NOTE = ("Neither answer is about the question: this model was taught to answer questions about facts, and "
                  "is not yet trained to help with requests like this one (votes and preference tuning teach that). "
                  "“Both bad” is a fair vote, or pick the one closer to helping.")
ANSWER_TOKENS = 24  # about one sentence: the bundled answers are shorter
TEMPERATURE = 1.0  # enough randomness for two different answers


def write_two_answers(model, prompt: str, seed: int) -> tuple[str, str]:
    """Two sampled answers to ``prompt``, each cut at its first line break."""
    from engine.sampling import generate_text  # imports jax: worker thread only

    answers = []
    for i in range(2):
        text = generate_text(model, prompt, ANSWER_TOKENS, TEMPERATURE, 40, seed=seed * 2 + i)
        answers.append(text.split("\n", 1)[0])
    return answers[0], answers[1]


class VotePanel(QWidget):
    """A prompt, two answers, and three buttons: A is better, B is better, both bad."""

    voted = Signal(str, str, str)  # (prompt as the model sees it, chosen answer, rejected answer)
    both_bad = Signal(str)  # the prompt

    def __init__(self, questions: list[str], parent=None):
        super().__init__(parent)
        self.model = None
        self._seed = 0
        self._prompt = ""
        self.question_combo = QComboBox()
        self.question_combo.setEditable(True)
        self.question_combo.addItems(questions)
        self.question_combo.setAccessibleName("Question to ask")
        # Sized to about 16 characters, not to the longest question; the stretch below widens it.
        self.question_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.question_combo.setMinimumContentsLength(16)
        self.write_button = QPushButton("Write two answers")
        self.answer_a = QLabel()
        self.answer_b = QLabel()
        self.a_button = QPushButton("A is better")
        self.b_button = QPushButton("B is better")
        self.bad_button = QPushButton("Both bad")
        self.status_label = QLabel("Tune a model first: the answers come from the instruction-tuned model.")
        self.status_label.setWordWrap(True)
        for button in (self.write_button, self.a_button, self.b_button, self.bad_button):
            button.setAutoDefault(False)
        ask_row = QHBoxLayout()
        ask_row.addWidget(self.question_combo, 1)
        ask_row.addWidget(self.write_button)
        # Each answer with its button under it, "Both bad" below the two: three buttons in a row were
        # wider than the page at 200 % zoom.
        answers = QGridLayout()
        answers.setColumnStretch(0, 1)
        answers.setColumnStretch(1, 1)
        for column, (label, title, button) in enumerate(((self.answer_a, "Answer A", self.a_button),
                                                         (self.answer_b, "Answer B", self.b_button))):
            label.setWordWrap(True)
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(label)
            answers.addWidget(box, 0, column)
            answers.addWidget(button, 1, column)
        answers.addWidget(self.bad_button, 2, 0, 1, 2, Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.addLayout(ask_row)
        # What to do, or why the answers are poor, above them: at 200 % zoom a line below scrolled out of view.
        layout.addWidget(self.status_label)
        layout.addLayout(answers)
        layout.addStretch(1)

        self._task = BackgroundTask("writing two answers", self)
        self._task.succeeded.connect(self._on_answers)
        self._task.failed.connect(lambda _tag, error: self.status_label.setText(plain_message(error)))
        self.write_button.clicked.connect(self.write_answers)
        self.a_button.clicked.connect(lambda: self.vote("a"))
        self.b_button.clicked.connect(lambda: self.vote("b"))
        self.bad_button.clicked.connect(lambda: self.vote("both bad"))
        self._show_buttons(False)
        set_available(self.write_button, "There is no model to write answers yet: tune one in the Instruction tuning tab, or use the shipped one.")

    def set_model(self, model) -> None:
        self.model = model
        set_available(self.write_button, None if model is not None else "There is no model to write answers yet: tune one in the Instruction tuning tab, or use the shipped one.")
        if model is not None:
            self.status_label.setText("Pick a question, then press “Write two answers”.")

    def write_answers(self) -> None:
        question = self.question_combo.currentText().strip()
        if self.model is None or not question:
            return
        self._seed += 1
        self._prompt = PROMPT_TEMPLATE.format(question=question)
        self.status_label.setText("Writing…")
        self._show_buttons(False)
        self._task.submit(write_two_answers, self.model, self._prompt, self._seed, tag=self._prompt)

    def _on_answers(self, prompt: str, answers: tuple[str, str]) -> None:
        if prompt != self._prompt:
            return
        a, b = answers
        self.answer_a.setText(a.strip() or "(nothing)")
        self.answer_b.setText(b.strip() or "(nothing)")
        self._answers = (a, b)
        if a.strip() == b.strip():
            self.status_label.setText("Both answers came out the same, so there is nothing to choose. "
                                      "Press “Write two answers” again.")
            return
        # Two nonsense answers are never offered without saying why: the model is still barely trained,
        # or (answers about something else) not yet trained to help with requests like this one.
        question = self.question_combo.currentText()
        if is_nonsense(a) and is_nonsense(b):
            note = UNTRAINED_NOTE
        elif all(is_nonsense(x) or off_the_request(question, x) for x in (a, b)):
            note = OFF_TOPIC_NOTE
        else:
            note = "Which answer is better?"
        self.status_label.setText(note)
        self._show_buttons(True)

    def vote(self, choice: str) -> None:
        a, b = self._answers
        if choice == "a":
            self.voted.emit(self._prompt, a, b)
        elif choice == "b":
            self.voted.emit(self._prompt, b, a)
        else:
            self.both_bad.emit(self._prompt)
        self._show_buttons(False)
        self.status_label.setText("Thank you. Ask another question, or the same one again.")

    def _show_buttons(self, enabled: bool) -> None:
        for button in (self.a_button, self.b_button, self.bad_button):
            set_available(button, None if enabled else NOTHING_TO_VOTE_ON)

    @property
    def busy(self) -> bool:
        return self._task.busy

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        return self._task.shutdown(timeout_s)
