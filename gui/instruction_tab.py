"""The Instruction tuning stage: teach a pretrained model to answer instead of merely continuing text.

The examples are instruction → response pairs in an editable table (the bundled set to begin with;
rows can be added, edited, deleted and undone; JSONL can be imported and exported). The chat
template is shown plainly, and the selected example is drawn token by token with the tokens that
count in the loss (the response) highlighted: the model is graded on the answer only. The tokens are
worked out on a worker thread (a long example takes a while), and at most ``MAX_DRAWN_TOKENS`` of
those the model reads are drawn; a row over ``MAX_FIELD_CHARS`` is not tokenized at all but named in
the view, with the limit (issue 16: a 200,000-character answer froze the window for 5.6 s).

After a run, the same held-out benchmark questions (facts the model read only in pretraining text,
never in a pair) are answered by the base model and the tuned one, side by side.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from engine.errors import PlainError
from engine.data.stage_sets import PROMPT_TEMPLATE
from engine.trained_model import STAGE_PRETRAINING
from engine.data.tuning_data import (
    MIN_PAIRS,
    InstructionExample,
    bundled_instructions,
    check_enough_pairs,
    check_row_lengths,
    export_jsonl,
    load_benchmark,
    load_instructions,
    token_pieces,
)
from engine.user_paths import models_dir
from gui.background import BackgroundTask
from gui.training_controller import plain_message
from gui.tuning_tab import TuningTab
from gui.widgets.comparison_table import ComparedRow, ComparisonTable
from gui.widgets.pairs_table import PairsTable
from gui.zoom import ZoomController

JSONL_FILTER = "JSONL files (*.jsonl);;All files (*)"
COMPARED_QUESTIONS = 24  # held-out questions shown side by side (the rates use all of them)
IN_LOSS_COLOR = "#bfe8b5"  # the answer: graded
PROMPT_COLOR = "#e6e6e6"  # the question: only read
# The most tokens the view draws: more than the presets' whole context (64 to 128 tokens); a model with a
# longer one shows the beginning and the end of what it reads, with the number left out in between.
MAX_DRAWN_TOKENS = 300


def benchmark_summary(before: dict, after: dict) -> str:
    """The before/after rates (``engine.behaviour.benchmark_rates`` of each model) in words, one per line.

    "Right" reads only the answer's first line, so a model that names the right city and then rambles
    on is right but not in the taught form: the first number can exceed the second. The third, both
    at once, is never above either, which shows how the two relate.
    """
    def change(key: str) -> str:
        return f"{before[key]:.0%} → {after[key]:.0%}"

    return (f"On {before['n']} questions about facts the model only read in pretraining text (before → after):\n"
            f"• Named the right answer: {change('exact_rate')} (counted even if it then rambled on, so this "
            "can be higher than the next line)\n"
            f"• Answered in the taught form, one short sentence and then it stops: {change('format_rate')}\n"
            f"• Both, the right answer in the taught form: {change('right_in_format_rate')}")


def compare_on_benchmark(base, tuned) -> tuple[list[ComparedRow], str]:
    """Both models on every held-out benchmark question; rows for the first few, and the rates."""
    from engine.behaviour import benchmark_rates  # imports jax: worker thread only

    rows = load_benchmark()
    before = benchmark_rates(base, rows, "held_out")
    after = benchmark_rates(tuned, rows, "held_out")
    held_out = [r for r in rows if r.get("split") == "held_out"]
    compared = [ComparedRow(r["question"], r["answer"], b.answer, bool(b.correct), a.answer, bool(a.correct))
                for r, b, a in zip(held_out[:COMPARED_QUESTIONS], before["verdicts"], after["verdicts"])]
    summary = benchmark_summary(before, after)
    return compared, summary


def _example(row: dict) -> InstructionExample:
    return InstructionExample(row.get("prompt", ""), row.get("completion", ""))


def _span(piece) -> str:
    color = IN_LOSS_COLOR if piece.in_loss else PROMPT_COLOR
    weight = "bold" if piece.in_loss else "normal"
    return (f'<span style="background-color:{color}; color:#111111; font-weight:{weight};">'
            f'{html.escape(piece.label).replace("⏎", "⏎<br>")}</span>')


def tokens_html(tokenizer, row: int, example: InstructionExample, context_length: int) -> str:
    """The example's tokens as the view draws them (worker thread: the cost grows with the example).

    A field over the length limit is refused by name before anything is tokenized; only the tokens that
    fit the context are drawn, and at most ``MAX_DRAWN_TOKENS`` of them."""
    check_row_lengths([example], start=row + 1)
    pieces = token_pieces(tokenizer, example.prompt, example.completion, context_length)
    read = [p for p in pieces if p.in_context]
    counted = sum(p.in_loss for p in pieces)
    lines = [f"<p>{counted} of {len(pieces)} tokens count in the loss:</p>"]
    if len(read) < len(pieces):
        lines.append(f"<p>{len(pieces) - len(read):,} tokens do not fit the model's context of {context_length:,} "
                     "tokens: they are cut off, and not shown.</p>")
    if len(read) > MAX_DRAWN_TOKENS:
        half = MAX_DRAWN_TOKENS // 2
        gap = f'<br><i>… {len(read) - 2 * half:,} more tokens, not drawn …</i><br>'
        spans = "".join(map(_span, read[:half])) + gap + "".join(map(_span, read[-half:]))
    else:
        spans = "".join(map(_span, read))
    return "".join(lines) + f"<p>{spans}</p>"


class InstructionTab(TuningTab):
    stage_title = "Instruction tuning"
    base_stages = (STAGE_PRETRAINING,)
    base_hint = "No pretrained model yet: train one in the Pretraining tab, or open one."

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(zoom, parent)
        self.setObjectName("instructionTab")
        self.plot_title.setText("Loss on the answers (lower is better); dashed: pairs held back for checking")

        # --- the examples page ---
        template = html.escape(PROMPT_TEMPLATE.format(question="{instruction}")).replace("\n", "⏎<br>")
        self.template_label = QLabel(
            f"Each pair is shown to the model as:<br><tt>{template}&nbsp;{{response}}⏎</tt><br>"
            "and it is graded only on the response's tokens (green below).")
        self.template_label.setWordWrap(True)
        self.pairs = PairsTable([("prompt", "Instruction (as the model sees it)"), ("completion", "Response")])
        self.import_button = QPushButton("Import JSONL…")
        self.export_button = QPushButton("Export JSONL…")
        self.export_button.setToolTip("Save the pairs as a JSONL file (one pair per line), to edit or share them.")
        self.pairs.add_file_buttons(self.import_button, self.export_button)
        self.tokens_view = QTextBrowser()
        self.tokens_view.setAccessibleName("Tokens of the selected example")
        self.tokens_view.setMaximumHeight(self.fontMetrics().height() * 6)
        examples_page = QWidget()
        examples_layout = QVBoxLayout(examples_page)
        examples_layout.addWidget(self.template_label)
        examples_layout.addWidget(self.pairs, 1)
        examples_layout.addWidget(self.tokens_view)
        self.comparison = ComparisonTable("Before (pretrained)", "After (instruction-tuned)",
                                          "Tune a model to compare its answers with the pretrained model's.",
                                          export_name="instruction-before-and-after")
        self.add_page(examples_page, "Examples")
        self.add_page(self.comparison, "Before and after")

        self._tokens_task = BackgroundTask("tokenizing the selected example", self)
        self._tokens_task.succeeded.connect(self._on_tokens)
        self._tokens_task.failed.connect(self._on_tokens_failed)
        self._tokens_asked = 0  # the latest request: an answer to an older one is ignored
        self._import_task = BackgroundTask("reading instruction pairs", self)
        self._import_task.succeeded.connect(self._on_imported)
        self._import_task.failed.connect(lambda _tag, error: self.message_bar.error(plain_message(error)))
        self._compare_task = BackgroundTask("comparing before and after", self)
        self._compare_task.succeeded.connect(lambda _tag, result: self.comparison.set_rows(*result))
        self._compare_task.failed.connect(lambda _tag, error: self.comparison.show_message(plain_message(error)))
        self.import_button.clicked.connect(self.ask_import)
        self.export_button.clicked.connect(self.ask_export)
        self.pairs.changed.connect(self._update_buttons)
        self.pairs.current_row_changed.connect(self._show_tokens)
        self.pairs.changed.connect(lambda: self._show_tokens(self.pairs.table.currentRow()))

        self.pairs.reset_rows([{"prompt": e.prompt, "completion": e.completion} for e in bundled_instructions()])
        self.finish_setup()

    # --- TuningTab ----------------------------------------------------------------------------------

    def default_train(self, method: str):
        from engine.stages.instruction_tuning import default_train

        return default_train(method)

    def check_ready(self) -> str | None:
        try:
            check_enough_pairs(self.pairs.row_count(), "Instruction tuning", MIN_PAIRS)
        except PlainError as err:
            return str(err)
        return None

    def make_run(self, base, train_config, method, control, resume=None):
        from engine.stages.instruction_tuning import InstructionTuningRun

        examples = [_example(r) for r in self.examples_snapshot]
        return InstructionTuningRun(base, examples, train_config, method, control=control, resume=resume)

    def prepare_run(self, resuming: bool) -> None:
        self.examples_snapshot = self.pairs.rows()  # the run reads these on its thread; edits go on here

    def on_base_changed(self) -> None:
        self._show_tokens(self.pairs.table.currentRow())

    def on_tuned(self, base, tuned) -> None:
        self.comparison.show_message("Asking both models the held-out questions…")
        self.show_page(self.comparison)
        self._compare_task.submit(compare_on_benchmark, base, tuned)

    # --- examples ---------------------------------------------------------------------------------

    def _show_tokens(self, row: int) -> None:
        """Ask a worker for the selected example's tokens; the view shows them when they come."""
        self._tokens_asked += 1
        if self.base_model is None:
            self.tokens_view.setPlainText("Open or train a model to see how it reads an example, token by token.")
            return
        rows = self.pairs.rows()
        if not 0 <= row < len(rows):
            row = 0
        if not rows:
            self.tokens_view.clear()
            return
        self._tokens_task.submit(tokens_html, self.base_model.tokenizer, row, _example(rows[row]),
                                 self.base_model.model_config.context_length, tag=self._tokens_asked)

    def _on_tokens(self, asked: int, text: str) -> None:
        if asked == self._tokens_asked:
            self.tokens_view.setHtml(text)

    def _on_tokens_failed(self, asked: int, error: Exception) -> None:
        if asked == self._tokens_asked:
            self.tokens_view.setPlainText(plain_message(error))

    def ask_import(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Import instruction pairs", str(models_dir()), JSONL_FILTER)
        if path:
            self.import_jsonl(path)

    def import_jsonl(self, path) -> None:
        """Replace the table with a JSONL file's pairs (undoable); a bad file changes nothing.

        The file is read and checked on a worker (up to 20 MB); the table changes when it is done."""
        self.message_bar.info(f"Reading '{Path(path).name}'…")
        self._import_task.submit(load_instructions, path)

    def _on_imported(self, _tag, examples: list[InstructionExample]) -> None:
        self.pairs.set_rows([{"prompt": e.prompt, "completion": e.completion} for e in examples],
                            f"Import {len(examples)} pairs")
        self.message_bar.info(f"Imported {len(examples):,} pairs.")

    def ask_export(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(self, "Export instruction pairs",
                                                    str(models_dir() / "instructions.jsonl"), JSONL_FILTER)
        if path:
            self.export_jsonl(path)

    def export_jsonl(self, path):
        try:
            written = export_jsonl([_example(r) for r in self.pairs.rows()], path)
        except PlainError as err:
            self.message_bar.error(str(err))
            return None
        self.message_bar.info(f"Exported {self.pairs.row_count():,} pairs to '{written.name}'.")
        return written

    @property
    def busy(self) -> bool:
        return super().busy or self._compare_task.busy or self._tokens_task.busy or self._import_task.busy

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        done = super().shutdown(timeout_s)
        return all([self._tokens_task.shutdown(timeout_s), self._import_task.shutdown(timeout_s),
                    self._compare_task.shutdown(timeout_s), done])
