""""Why does AI do that?": the questions people ask most about chat assistants, answered in plain words.

Each answer is two or three sentences, and each has a button that opens the place in this app where
the effect can be seen happening to its own small models: one of the Evaluation stage's lessons
(``engine.evaluation.lessons``; the lessons page is ``EvaluationTab.lessons_page``) or one of the Data tab's
charts. The panel is a non-modal window (Help → Why does AI do that?, F1), so the answer stays
readable next to the lesson it opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.evaluation.lessons import lesson
from gui.presentation import name_unnamed_controls


@dataclass(frozen=True)
class Place:
    """Where in the app an answer can be seen: a lesson, or a chart of the Data tab."""

    label: str  # the button's text
    lesson: str = ""  # a key of engine.evaluation.lessons.LESSONS, or ""
    data_chart: str = ""  # an attribute of DataTab naming a chart, or ""


@dataclass(frozen=True)
class WhyQuestion:
    """One common question and its answer."""

    key: str  # stable name (tests, and the button's object name)
    question: str
    answer: str  # two or three plain sentences
    places: tuple[Place, ...]  # the first is the main one: the lesson that measures it


def _lesson_place(key: str) -> Place:
    return Place(f"Show me: lesson “{lesson(key).title.split('. ', 1)[-1]}”", lesson=key)


QUESTIONS: tuple[WhyQuestion, ...] = (
    WhyQuestion(
        "hallucination", "Why does it make things up?",
        "A language model does not look facts up: it writes the words that most often came next in its "
        "training text. Asked about something that text never mentioned, it still writes a likely-sounding "
        "answer, just as confidently. Saying “I don't know” is something it has to be taught.",
        (_lesson_place("hallucination"),),
    ),
    WhyQuestion(
        "outdated", "Why are its answers out of date?",
        "A model knows only the text it was trained on, and that text was collected up to some date: its "
        "knowledge cutoff. About anything later it has nothing to go on, yet it answers as surely as about "
        "what it did read.",
        (_lesson_place("cutoff"), Place("See it in the data: documents per year", data_chart="year_histogram")),
    ),
    WhyQuestion(
        "context", "Why does it help to put the facts in my question?",
        "What you write in the prompt is text the model reads while it answers. Copying a fact from right in "
        "front of it is far easier than recalling it from training, so with the fact in the question its "
        "answers are right much more often.",
        (_lesson_place("context"),),
    ),
    WhyQuestion(
        "tools", "Why do different AI tools give different answers?",
        "Every model is trained on different text, from a different random start, and tuned toward different "
        "people's preferences. Even two models trained on exactly the same text from different random seeds "
        "disagree on many questions, and a model repeats the leanings of the text it read.",
        (_lesson_place("agreement"), _lesson_place("bias")),
    ),
    WhyQuestion(
        "topics", "Why is it better at some topics than others?",
        "A model learns most about what its text talks about most. Topics that fill many pages it knows "
        "well; topics mentioned only now and then it often gets wrong.",
        (_lesson_place("coverage"), Place("See it in the data: coverage per topic", data_chart="coverage_chart")),
    ),
)


def open_place(window, place: Place) -> None:
    """Bring the lesson or chart ``place`` names to the front of ``window``."""
    if place.lesson:
        window.show_stage("evaluation")
        tab = window.evaluation_tab
        tab.show_page("Lessons")
        tab.lessons_page.select_lesson(place.lesson)
        tab.lessons_page.run_button.setFocus()  # one key (Space) away from running it
    else:
        window.show_stage("data")
        chart = getattr(window.data_tab, place.data_chart)
        window.data_tab.scroll_to_chart(chart)


class WhyAiDoesThatPanel(QDialog):
    """The five questions with their answers and "Show me" buttons, in a scrollable, non-modal window."""

    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Why does AI do that?")
        self.setAccessibleName("Why does AI do that?")
        self.setModal(False)
        self.buttons: dict[str, list[QPushButton]] = {}  # question key → its "Show me" buttons, in order

        intro = QLabel("The questions people ask most about AI chat assistants. Each answer has a button that "
                       "shows the same thing happening to this app's small models.")
        intro.setWordWrap(True)
        content = QWidget()
        column = QVBoxLayout(content)
        for number, item in enumerate(QUESTIONS):
            if number:
                line = QFrame()
                line.setFrameShape(QFrame.Shape.HLine)
                column.addWidget(line)
            question = QLabel(f"<b>{item.question}</b>")
            question.setWordWrap(True)
            answer = QLabel(item.answer)
            answer.setWordWrap(True)
            answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            column.addWidget(question)
            column.addWidget(answer)
            self.buttons[item.key] = []
            for place in item.places:
                button = QPushButton(place.label)
                button.setAutoDefault(False)
                button.setObjectName(f"why-{item.key}-{place.lesson or place.data_chart}")
                button.setToolTip("Open it in the app; this window stays open.")
                button.clicked.connect(lambda _checked=False, p=place: open_place(window, p))
                # One per line: side by side they widened the page past the window at 200 % zoom.
                column.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
                self.buttons[item.key].append(button)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(close)
        self._fit(window)
        name_unnamed_controls(self)

    def _fit(self, window) -> None:
        """About 60 characters wide at the current zoom, and no bigger than the window it belongs to."""
        metrics = self.fontMetrics()
        width = metrics.horizontalAdvance("x" * 62) + 4 * metrics.height()
        height = metrics.lineSpacing() * 34
        if window.isVisible():
            width = min(width, max(window.width() - 40, 300))
            height = min(height, max(window.height() - 40, 300))
        self.resize(width, height)


def show_why_panel(window) -> WhyAiDoesThatPanel:
    """Show the panel (one per window: an open one is brought to the front)."""
    panel = window.findChild(WhyAiDoesThatPanel)
    if panel is None:
        panel = WhyAiDoesThatPanel(window)
    panel.show()
    panel.raise_()
    panel.activateWindow()
    return panel


def question(key: str) -> WhyQuestion:
    return next(q for q in QUESTIONS if q.key == key)

