"""The Preference tuning stage: human feedback, DPO, and what it changes (refusals, honesty, accuracy).

- **Your votes:** the instruction-tuned model writes two answers to a question and the user picks the
  better one (or "both bad"). Each vote becomes a pair in the table, so votes can be reviewed and
  deleted like any pair; they are saved (atomically) in the user's data folder and come back next
  time the app opens.
- **Pairs:** the bundled pairs (helpful, safety refusals, honest "I don't know") plus the votes.
- **DPO** with the instruction-tuned model as the frozen reference: β and the weight of learning
  the chosen answers directly, each with one plain sentence. Live plots: the loss above, the
  reward margin and the preference accuracy on held-out pairs on their own page.
- **Before and after** on held-out red-team prompts: refusals of harmful requests, over-refusal of
  harmless look-alikes, "I don't know" about things not in the world, and accuracy on facts.
"""

from __future__ import annotations

import math

from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from engine.errors import PlainError
from engine.events import AlignmentTax, PreferenceMetrics
from engine.session.state import VOTE_KIND, PreferenceState
from engine.trained_model import STAGE_INSTRUCTION
from engine.data.tuning_data import (
    MIN_PAIRS,
    PreferencePair,
    bundled_preferences,
    check_enough_pairs,
    export_jsonl,
    load_benchmark,
    load_preferences,
    load_red_team,
)
from engine.user_paths import data_dir
from gui.background import BackgroundTask
from gui.bindings import Bindings, SpinSetting
from gui.training_controller import plain_message
from gui.tuning_tab import TuningTab
from gui.widgets.comparison_table import ComparedRow, ComparisonTable
from gui.widgets.pairs_table import PairsTable
from gui.widgets.vote_panel import VotePanel
from gui.widgets.zoomed_plot import ZoomedPlotWidget
from gui.zoom import ZoomController
from gui.widgets.group_box import group_box

VOTES_FILE = "votes.jsonl"
VOTING_FACT_QUESTIONS = 4  # taught facts offered first on the voting page
ROWS_PER_KIND = 8  # red-team prompts of each kind shown side by side (the rates use all of them)
HOPED = {"harmful": "refuse", "benign": "answer", "unknown": "say “I don't know”"}
TAX_NOTE = ("Each point is the model at one check of the run: how many harmful requests it refuses, and how many "
            "held-out facts it still answers exactly right.")

# DPO's settings: each field of PreferenceState and PreferenceConfig, its label and its engine range, once.
DPO_SETTINGS = (
    SpinSetting("beta", "β (beta)", "preference", accessible_name="Beta", step=0.05, decimals=2, cap=5.0),
    SpinSetting("nll_weight", "Learn the chosen answers", "preference",
                accessible_name="Weight of learning the chosen answers", step=0.25, decimals=2, cap=5.0),
    SpinSetting("anchor_weight", "Keep the pretraining text", "preference",
                accessible_name="Weight of keeping the pretraining text", step=0.5, decimals=2, cap=20.0),
)

def votes_path() -> Path:
    return data_dir() / VOTES_FILE


def compare_on_red_team(base, tuned) -> tuple[list[ComparedRow], str]:
    """Both models on every red-team prompt and held-out fact; rows for a few of each kind, and the rates."""
    from engine.behaviour import as_hoped, benchmark_rates, red_team_rates  # imports jax: worker thread only

    rows = load_red_team()
    before, after = red_team_rates(base, rows), red_team_rates(tuned, rows)
    facts = load_benchmark()
    exact_before = benchmark_rates(base, facts, "held_out")["exact_rate"]
    exact_after = benchmark_rates(tuned, facts, "held_out")["exact_rate"]
    compared, shown = [], {kind: 0 for kind in HOPED}
    for row, b, a in zip(rows, before["verdicts"], after["verdicts"]):
        kind = row["kind"]
        if shown.get(kind, ROWS_PER_KIND) >= ROWS_PER_KIND:
            continue
        shown[kind] += 1
        question = row["prompt"].removeprefix("User: ").removesuffix("\nAssistant:")
        helpful = row.get("answer")
        compared.append(ComparedRow(question, HOPED[kind], b.answer, as_hoped(kind, b, helpful), a.answer,
                                    as_hoped(kind, a, helpful)))
    summary = (f"Refuses harmful requests: {before['refusal_rate']:.0%} → {after['refusal_rate']:.0%}.  "
               f"Refuses harmless look-alikes (over-refusal): {before['over_refusal_rate']:.0%} → "
               f"{after['over_refusal_rate']:.0%}.  Says “I don't know” about things not in the world: "
               f"{before['idk_rate']:.0%} → {after['idk_rate']:.0%}.  Exactly right on held-out facts: "
               f"{exact_before:.0%} → {exact_after:.0%}.")
    return compared, summary


def voting_questions(red_team_rows: list[dict], fact_rows: list[dict] = ()) -> list[str]:
    """The questions offered for voting, so a class starts on a harmless question the model can answer.

    First a few questions about facts it was taught (``fact_rows``: benchmark rows of the training
    split), where two sampled answers are often one right and one wrong; then harmless requests, then
    questions about countries that do not exist, and harmful requests last.
    """
    taught = [r["question"] for r in fact_rows if r.get("split") == "train"]
    facts = taught[::max(1, len(taught) // VOTING_FACT_QUESTIONS)][:VOTING_FACT_QUESTIONS]
    order = {"benign": 0, "unknown": 1}
    rows = sorted(red_team_rows, key=lambda r: order.get(r.get("kind"), 2))  # stable: the set's order within a kind
    requests = [r["prompt"].removeprefix("User: ").removesuffix("\nAssistant:") for r in rows]
    return list(dict.fromkeys(facts + requests))


class AlignmentTaxPlot(ZoomedPlotWidget):
    """Harmful requests refused against held-out facts still right, one point per check of the run.

    Measured by asking the model at each held-out check (``engine.events.AlignmentTax``): a run that
    moves up and to the left teaches refusals and pays for them in facts, the "alignment tax".
    """

    export_name = "preference-alignment-tax"

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(zoom, parent)
        self.set_axis_title("bottom", "held-out facts right (%)")
        self.set_axis_title("left", "harmful refused (%)")
        self.path_line = self.add_line("this run, step by step", "#1f66c1", symbol="o", symbol_size=11.0)
        # One line, explained in the sentence below the plot: a legend would only cover points.
        self.legend.setVisible(False)
        self.plotItem.setXRange(0, 100, padding=0.04)
        self.plotItem.setYRange(0, 100, padding=0.04)
        self.points: list[AlignmentTax] = []
        self._labels: list = []

    def add(self, event: AlignmentTax) -> None:
        self.points.append(event)
        self._redraw()

    def truncate_after(self, step: int) -> None:
        self.points = [p for p in self.points if p.step <= step]
        self._redraw()

    def clear_points(self) -> None:
        self.points = []
        self._redraw()

    def summary(self) -> str:
        """One sentence on what the run traded, in the numbers the plot shows."""
        if len(self.points) < 2:
            return ""
        first, last = self.points[0], self.points[-1]
        return (f"From step {first.step} to {last.step}: harmful requests refused {first.refused:.0%} → "
                f"{last.refused:.0%}, held-out facts right {first.facts_right:.0%} → {last.facts_right:.0%}.")

    def minimumSizeHint(self):
        # Shares its page with a wrapped sentence below, and a page with wrapped text takes its height
        # from its parts' preferred sizes: small ones, so the page fits the pane instead of scrolling.
        return QSize(240, int(170 * self.scale))  # at 200 %, room for the axis title along the side

    def sizeHint(self):
        return QSize(480, int(240 * self.scale))

    def _redraw(self) -> None:
        import pyqtgraph as pg

        for label in self._labels:
            self.plotItem.removeItem(label)
        self._labels = []
        xs = [100 * p.facts_right for p in self.points]
        ys = [100 * p.refused for p in self.points]
        self.path_line.setData(xs, ys)
        font = self.font()
        font.setPointSizeF(self.tick_font_point_size())
        # The first and the last check only: the points in between often sit on top of each other.
        ends = self.points[:1] + self.points[1:][-1:]
        for p in ends:
            x, y = 100 * p.facts_right, 100 * p.refused
            label = pg.TextItem("start" if p.step == 0 else f"step {p.step}", color=self.ink(), anchor=(-0.1, 1.1))
            label.setFont(font)
            label.setPos(x, y)
            self.plotItem.addItem(label)
            self._labels.append(label)

    def _apply_zoom(self, _percent: int | None = None) -> None:
        super()._apply_zoom(_percent)
        if getattr(self, "points", None):
            self._redraw()

    def _apply_theme_colors(self) -> None:
        super()._apply_theme_colors()
        if getattr(self, "points", None):
            self._redraw()


def _pair(row: dict) -> PreferencePair:
    return PreferencePair(row.get("prompt", ""), row.get("chosen", ""), row.get("rejected", ""),
                          {"kind": row.get("kind", "")})


class MetricsPlot(ZoomedPlotWidget):
    """Reward margin and preference accuracy on held-out pairs, against the step."""

    export_name = "preference-margin-and-accuracy"

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(zoom, parent)
        self.set_axis_title("bottom", "step")
        self.margin_line = self.add_line("reward margin (above 0: chosen favoured)", "#1f66c1", symbol="o")
        self.accuracy_line = self.add_line("preference accuracy (0 to 1)", "#d9730d", dashed=True, symbol="s")
        self.steps: list[int] = []
        self.margins: list[float] = []
        self.accuracies: list[float] = []

    def add(self, event: PreferenceMetrics) -> None:
        self.steps.append(event.step)
        self.margins.append(event.reward_margin)
        self.accuracies.append(event.accuracy)
        self.margin_line.setData(self.steps, self.margins)
        self.accuracy_line.setData(self.steps, self.accuracies)

    def truncate_after(self, step: int) -> None:
        """Keep only the points up to ``step`` (a diverged run's kept model)."""
        keep = [i for i, s in enumerate(self.steps) if s <= step]
        self.steps = [self.steps[i] for i in keep]
        self.margins = [self.margins[i] for i in keep]
        self.accuracies = [self.accuracies[i] for i in keep]
        self.margin_line.setData(self.steps, self.margins)
        self.accuracy_line.setData(self.steps, self.accuracies)

    def clear_points(self) -> None:
        self.steps, self.margins, self.accuracies = [], [], []
        self.margin_line.setData([], [])
        self.accuracy_line.setData([], [])


class PreferenceTab(TuningTab):
    stage_title = "Preference tuning"
    state_class = PreferenceState
    base_stages = (STAGE_INSTRUCTION,)
    base_hint = "No instruction-tuned model yet: tune one in the Instruction tuning tab, or open one."

    def __init__(self, zoom: ZoomController, parent=None):
        super().__init__(zoom, parent)
        self.setObjectName("preferenceTab")
        self.plot_title.setText("DPO loss (lower is better); dashed: held-out pairs")
        from engine.stages.preference_tuning import ANCHOR_EXPLANATION, BETA_EXPLANATION, NLL_EXPLANATION, PreferenceConfig

        # DPO's settings, bound by name to PreferenceState's fields and PreferenceConfig's (gui/bindings.py).
        self.dpo_settings = Bindings()
        defaults = PreferenceConfig()
        dpo_box = QWidget()
        dpo_form = QFormLayout(dpo_box)
        dpo_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for setting, explanation in zip(DPO_SETTINGS, (BETA_EXPLANATION, NLL_EXPLANATION, ANCHOR_EXPLANATION)):
            dpo_form.addRow(setting.label, self.dpo_settings.spin(setting, getattr(defaults, setting.field)))
            dpo_form.addRow(_wrapped(explanation))
        spins = self.dpo_settings.spins
        self.beta_spin, self.nll_spin, self.anchor_spin = spins["beta"], spins["nll_weight"], spins["anchor_weight"]
        self.settings_layout.addWidget(group_box("DPO", dpo_box))
        # Made after the right-hand pages, so Qt would visit them last: put them after Steps, as shown.
        QWidget.setTabOrder(self.steps_spin, self.beta_spin)
        QWidget.setTabOrder(self.beta_spin, self.nll_spin)
        QWidget.setTabOrder(self.nll_spin, self.anchor_spin)

        self.vote_panel = VotePanel(voting_questions(load_red_team(), load_benchmark()))
        self.votes_label = QLabel()
        self.votes_label.setWordWrap(True)  # one long sentence: unwrapped, it widened the page past the window
        votes_page = QWidget()
        votes_layout = QVBoxLayout(votes_page)
        votes_layout.addWidget(self.vote_panel, 1)
        votes_layout.addWidget(self.votes_label)
        self.pairs = PairsTable([("prompt", "Prompt"), ("chosen", "Better answer"), ("rejected", "Worse answer"),
                                 ("kind", "Kind")])
        self.metrics_plot = MetricsPlot(zoom)
        self.tax_plot = AlignmentTaxPlot(zoom)
        self.tax_note = QLabel(TAX_NOTE)
        self.tax_note.setWordWrap(True)
        tax_page = QWidget()
        tax_layout = QVBoxLayout(tax_page)
        tax_layout.addWidget(self.tax_plot, 1)
        tax_layout.addWidget(self.tax_note)
        self.comparison = ComparisonTable("Before (instruction-tuned)", "After (preference-tuned)",
                                          "Tune a model to compare its behaviour with the instruction-tuned one.",
                                          export_name="preference-before-and-after")
        self.add_page(votes_page, "Your votes")
        self.add_page(self.pairs, "Pairs")
        self.add_page(self.metrics_plot, "Margin and accuracy")
        self.add_page(tax_page, "Alignment tax")
        self.add_page(self.comparison, "Before and after")

        self.both_bad_count = 0
        self._compare_task = BackgroundTask("comparing before and after", self)
        self._compare_task.succeeded.connect(lambda _tag, result: self.comparison.set_rows(*result))
        self._compare_task.failed.connect(lambda _tag, error: self.comparison.show_message(plain_message(error)))
        self.controller.preference_metrics.connect(self.metrics_plot.add)
        self.controller.alignment_tax.connect(self._on_alignment_tax)
        self.vote_panel.voted.connect(self.add_vote)
        self.vote_panel.both_bad.connect(self._on_both_bad)
        self.pairs.changed.connect(self._on_pairs_changed)

        rows = [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected, "kind": p.kind}
                for p in bundled_preferences()]
        self.pairs.reset_rows(rows + self._saved_votes())
        self.finish_setup()

    # --- votes ---------------------------------------------------------------------------------------

    def votes(self) -> list[dict]:
        return [r for r in self.pairs.rows() if r.get("kind") == VOTE_KIND]

    def add_vote(self, prompt: str, chosen: str, rejected: str) -> None:
        self.pairs.add_row({"prompt": prompt, "chosen": chosen, "rejected": rejected, "kind": VOTE_KIND})

    def _on_alignment_tax(self, event: AlignmentTax) -> None:
        self.tax_plot.add(event)
        self.tax_note.setText(f"{TAX_NOTE} {self.tax_plot.summary()}")

    def _on_both_bad(self, _prompt: str) -> None:
        self.both_bad_count += 1
        self._show_vote_count()

    def _on_pairs_changed(self) -> None:
        self._show_vote_count()
        self._save_votes()
        self._update_buttons()

    def _show_vote_count(self) -> None:
        n = len(self.votes())
        bad = f", and {self.both_bad_count} “both bad” (no pair)" if self.both_bad_count else ""
        self.votes_label.setText(f"Your votes: {n} pair{'s' if n != 1 else ''} added to the training pairs{bad}. "
                                 "Review or delete them on the Pairs page.")

    def _saved_votes(self) -> list[dict]:
        path = votes_path()
        if not path.exists():
            return []
        try:
            pairs = load_preferences(path)
        except PlainError as err:  # a damaged file costs the votes in it, never the app
            self.message_bar.warning(f"Your saved votes could not be read: {err}")
            return []
        return [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected, "kind": VOTE_KIND} for p in pairs]

    def _save_votes(self) -> None:
        votes = self.votes()
        path = votes_path()
        if not votes:  # no votes, no file (an empty JSONL file is not a valid set of pairs)
            path.unlink(missing_ok=True)
            return
        try:
            export_jsonl([_pair(r) for r in votes], path)
        except PlainError as err:
            self.message_bar.warning(f"Your votes could not be saved: {err}")

    # --- TuningTab ----------------------------------------------------------------------------------

    def default_train(self, method: str):
        from engine.stages.preference_tuning import default_train

        return default_train(method)

    def check_ready(self) -> str | None:
        try:
            check_enough_pairs(self.pairs.row_count(), "Preference tuning", MIN_PAIRS)
        except PlainError as err:
            return str(err)
        return None

    def prepare_run(self, resuming: bool) -> None:
        self.pairs_snapshot = [_pair(r) for r in self.pairs.rows()]  # the run reads these on its thread
        if not resuming:  # a continued run's figures follow the ones already drawn
            self.metrics_plot.clear_points()
            self.tax_plot.clear_points()
        self.show_page(self.metrics_plot)

    def make_run(self, base, train_config, method, control, resume=None):
        from engine.stages.preference_tuning import PreferenceConfig, PreferenceTuningRun

        preference = PreferenceConfig(**self.dpo_settings.values())
        return PreferenceTuningRun(base, self.pairs_snapshot, train_config, preference, method, control=control,
                                   resume=resume, measure_tax=True)

    def on_base_changed(self) -> None:
        self.vote_panel.set_model(self.base_model)

    def truncate_plots_after(self, step: int) -> None:
        self.metrics_plot.truncate_after(step)
        self.tax_plot.truncate_after(step)

    def on_tuned(self, base, tuned) -> None:
        self.comparison.show_message("Asking both models the held-out prompts…")
        self.show_page(self.comparison)
        self._compare_task.submit(compare_on_red_team, base, tuned)

    def own_state(self, so_far) -> dict:
        # Mid-run, the held-out figures end where the interrupted model does (later ones are a newer model's).
        plot, upto = self.metrics_plot, math.inf if so_far is None else so_far.step
        held_out = tuple(PreferenceMetrics(s, m, a) for s, m, a in zip(plot.steps, plot.margins, plot.accuracies)
                         if s <= upto)
        return dict(**self.dpo_settings.values(), both_bad=self.both_bad_count, held_out=held_out)

    def apply_state(self, state: PreferenceState) -> None:
        if state.beta is not None:  # an older session may lack DPO's settings: the tab keeps its own
            self.dpo_settings.apply(state)
            self.both_bad_count = state.both_bad
        super().apply_state(state)
        self.metrics_plot.clear_points()
        for event in state.held_out:
            self.metrics_plot.add(event)

    @property
    def busy(self) -> bool:
        return super().busy or self._compare_task.busy or self.vote_panel.busy

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        done = super().shutdown(timeout_s)
        return all([self._compare_task.shutdown(timeout_s), self.vote_panel.shutdown(timeout_s), done])


def _wrapped(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label
