"""The sections that describe one run: findings, per-iteration tables, Baseline | After | Change,
plots, and the best instruction with its diff against the seed."""

from __future__ import annotations

import difflib
from typing import Any

from smolgepa.evaluation.evaluate import Prediction
from smolgepa.evaluation.stats import format_accuracy
from smolgepa.formatting import accuracy, change, decode_text, minibatch_text, percent
from smolgepa.report import plots
from smolgepa.report.findings import Finding, run_findings
from smolgepa.report.parts import Bullets, Code, Diff, Image, Paragraph, Part, Report, Section, Table, slug
from smolgepa.report.rundata import RunData
from smolgepa.runrecord import Evaluation, Iteration

MAX_ITERATION_COLUMNS = 20


def _flat(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def study_style_table(run: RunData) -> Table:
    """The study's per-iteration table: validation accuracy for Baseline, Iter 1, Iter 2, ..."""
    records = scored_rounds(run)[:MAX_ITERATION_COLUMNS]
    headers = ("Baseline", *(f"Iter {r.iteration}" for r in records))
    cells = [percent(seed_val(run))]
    cells += [percent(r.val) if r.val else f"({r.status})" for r in records]
    return Table(headers, (tuple(cells),), ROUNDS_NOTE, "per-iteration")


ROUNDS_NOTE = ("Validation accuracy of the seed instruction and of each proposal that was tried on the student "
               "(accepted, or rejected on the minibatch). A rejected proposal shows as (rejected) unless the run "
               "used --eval-every-proposal. Iterations that made no proposal are in the table below.")


def scored_rounds(run: RunData) -> list[Iteration]:
    """Iterations whose proposal the student answered (accepted or rejected), in order."""
    return [r for r in run.iterations if r.status in ("accepted", "rejected")]


def seed_val(run: RunData) -> Evaluation | None:
    """The seed instruction's validation result, if recorded."""
    return run.seed.val if run.seed else None


def best_val(run: RunData) -> Evaluation | None:
    """The best instruction's validation result, if recorded."""
    return run.best.val if run.best else None


def iteration_table(run: RunData) -> Table:
    """One row per iteration: parent, fate, minibatch scores, validation accuracy with n and CI, tokens."""
    seed_tokens = "-" if run.seed is None else str(run.seed.tokens)
    rows = [("seed", "-", "seed", "-", accuracy(seed_val(run)), seed_tokens, "")]
    for record in run.iterations:
        status = record.status or "?"
        if status == "accepted" and record.new_best:
            status = "accepted (new best)"
        note = record.note()
        rows.append((
            str(record.iteration),
            "-" if record.parent is None else str(record.parent),
            status,
            minibatch_text(record),
            accuracy(record.val),
            "-" if record.tokens is None else str(record.tokens),
            _flat(note, 80),
        ))
    return Table(("iter", "parent", "status", "minibatch", "val accuracy", "tokens", "note"), tuple(rows),
                 "Every iteration: parent candidate, fate, minibatch score before -> after, validation accuracy "
                 "with n and 95% interval, instruction length in student tokens.", "iterations")


def _measured(data: dict[str, Any] | None) -> str:
    return format_accuracy(int(data["correct"]), int(data["n"])) if data else "-"


def _verdict(data: dict[str, Any] | None) -> str:
    if not data:
        return "-"
    return f"{data['decision']} ({data['wins']} wins, {data['losses']} losses in {data['looked']} of {data['available']})"


def evidence_tables(run: RunData) -> list[Part]:
    """The screens of structural moves recorded with the proposals, and the final pick among the front
    (`optimize.evidence`), as tables; none for runs that made no structural move."""
    parts: list[Part] = []
    for record in run.summary.iterations:
        if not record.screen:
            continue
        rows = tuple((row["move"], _measured(row.get("train")), _measured(row.get("val")),
                      _verdict(row.get("verdict")), "yes" if row.get("passed") else "")
                     for row in record.screen)
        parts.append(Table(("option", "train sample", "validation", "paired test against the parent", "passed"),
                           rows, f"Screen of iteration {record.iteration}'s parent (candidate {record.parent})",
                           f"screen-{record.iteration}"))
    pick = run.summary.final_pick
    if pick:
        rows = tuple((f"candidate {row['idx']}" + (" (picked)" if row["idx"] == pick["chosen"] else ""),
                      _measured(row.get("train")), _measured(row.get("val")), _measured(row.get("pooled")))
                     for row in pick.get("rows") or ())
        noise = " The two best are within noise of each other." if pick.get("within_noise") else ""
        parts.append(Table(("candidate", "training split (out of fold)", "validation", "pooled"), rows,
                           f"Final pick among the Pareto front; against the runner-up: {_verdict(pick.get('verdict'))}.{noise}",
                           "final-pick"))
    return parts


def summary_table(run: RunData) -> Table:
    """Baseline | After | Change on validation and test, each accuracy with n and a 95% interval."""
    seed, best, test = seed_val(run), best_val(run), run.test
    rows = [("validation", accuracy(seed), accuracy(best), change(seed, best))]
    if test:
        rows.append(("test", accuracy(test.get("seed")), accuracy(test.get("best")),
                     change(test.get("seed"), test.get("best"))))
    else:
        rows.append(("test", "(not evaluated yet)", "(not evaluated yet)", "-"))
    return Table(("split", "Baseline (seed)", "After (best)", "Change"), tuple(rows),
                 "Seed instruction vs best instruction. The best is chosen on validation; test is held out.",
                 "summary")


def instruction_diff(seed: str, best: str) -> Diff:
    lines = difflib.unified_diff(seed.splitlines(), best.splitlines(), lineterm="", n=2)
    return Diff(tuple(line for line in lines if not line.startswith(("---", "+++"))))


def _best_origin(run: RunData) -> str:
    best = run.best
    if not best or best.idx == 0:
        return "the seed instruction"
    return f"iteration {best.iteration}"


def _split_for_predictions(run: RunData) -> tuple[str, tuple[Prediction, ...], tuple[Prediction, ...]]:
    """Test predictions when the run evaluated test, else validation."""
    for split in ("test", "val"):
        seed, best = run.predictions("seed", split), run.predictions("best", split)
        if seed and best:
            return split, seed, best
    return "", (), ()


def _meta(run: RunData) -> str:
    summary, config = run.summary, run.config
    counts = summary.counts
    reflection = summary.proposer or config.get("reflection") or "fewshot"
    budget = "?" if counts.budget is None else counts.budget
    parts = [f"Task `{run.task_name}`, student `{run.student}` (decode {decode_text(config)}), proposer {reflection}, "
             f"seed {config.get('seed', '?')}.",
             f"Status: {run.status}" + (f" ({summary.stop_reason})" if summary.stop_reason else "") + ".",
             f"Metric calls: {counts.metric_calls} of a budget of {budget}; proposals: {counts.proposals}.",
             f"Run directory: `{run.path}`."]
    n = summary.task.n
    if n:
        parts.insert(1, f"Examples: {n.get('train', '?')} train, {n.get('val', '?')} val, {n.get('test', '?')} test.")
    return " ".join(parts)


def run_sections(run: RunData, title: str, level: int = 1, findings: list[Finding] | None = None,
                 prefix: str = "") -> list[Section]:
    """The sections that describe one run (a whole report for `smolgepa report RUN_DIR`)."""
    findings = run_findings(run) if findings is None else findings
    anchor = slug(prefix + title)
    sub = level + 1
    sections = [
        Section(title, level, (Paragraph(_meta(run)),), anchor),
        Section("Findings", sub, (Bullets(tuple(f.text for f in findings) or ("Nothing stood out.",)),),
                anchor + "-findings"),
        Section("Validation accuracy per iteration", sub,
                (study_style_table(run), Image(anchor + "-val", "Validation accuracy per iteration",
                                               plots.val_per_iteration(run)), iteration_table(run)),
                anchor + "-iterations"),
        Section("Baseline | After | Change", sub, (summary_table(run),), anchor + "-summary"),
    ]
    evidence = evidence_tables(run)
    if evidence:
        sections.append(Section("Choosing by evidence", sub, tuple(evidence), anchor + "-evidence"))
    pictures: list[Part] = [Image(anchor + "-length", "Instruction length vs accuracy", plots.length_vs_accuracy(run))]
    split, seed_outcomes, best_outcomes = _split_for_predictions(run)
    if split:
        name = {"test": "test", "val": "validation"}[split]
        pictures.append(Image(anchor + "-confusion", f"Confusion matrices on {name}",
                              plots.confusion_pair(run.labels, seed_outcomes, best_outcomes, name, _best_origin(run))))
        pictures.append(Image(anchor + "-labels", f"Predicted-label distribution on {name}",
                              plots.label_distribution(run.labels, seed_outcomes, best_outcomes, name)))
    sections.append(Section("Plots", sub, tuple(pictures), anchor + "-plots"))
    best, seed_instruction = run.best, run.seed.instruction if run.seed else ""
    parts: list[Part] = []
    if best:
        parts.append(Paragraph(f"From {_best_origin(run)}: {best.tokens} student tokens, "
                               f"validation {accuracy(best.val)}."))
        parts.append(Code(best.instruction))
        if best.idx == 0 or best.instruction == seed_instruction:
            parts.append(Paragraph("No proposal beat the seed instruction, so there is no diff."))
        else:
            parts.append(Paragraph("Diff against the seed instruction:"))
            parts.append(instruction_diff(seed_instruction, best.instruction))
    sections.append(Section("Best instruction", sub, tuple(parts), anchor + "-best"))
    return sections


def run_title(run: RunData) -> str:
    return f"{run.task_name} × {run.student}"


def run_report(run: RunData) -> Report:
    """The report of one run directory."""
    return Report(f"smolgepa run: {run_title(run)}", tuple(run_sections(run, "Overview", level=1)))
