"""The sections that describe one run: findings, per-iteration tables, Baseline | After | Change,
plots, and the best instruction with its diff against the seed."""

from __future__ import annotations

import difflib
from typing import Any

from smolgepa.optimize.tables import decode_text, minibatch_text
from smolgepa.report import plots
from smolgepa.report.findings import Finding, run_findings
from smolgepa.report.parts import (Bullets, Code, Diff, Image, Paragraph, Part, Report, Section, Table, accuracy,
                                   change, percent, slug)
from smolgepa.report.rundata import RunData

MAX_ITERATION_COLUMNS = 20


def _flat(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def study_style_table(run: RunData) -> Table:
    """The study's per-iteration table: validation accuracy for Baseline, Iter 1, Iter 2, ..."""
    records = scored_rounds(run)[:MAX_ITERATION_COLUMNS]
    headers = ("Baseline", *(f"Iter {r['iteration']}" for r in records))
    cells = [percent(run.seed.get("val"))]
    cells += [percent(r["val"]) if r.get("val") else f"({r.get('status')})" for r in records]
    return Table(headers, (tuple(cells),), ROUNDS_NOTE, "per-iteration")


ROUNDS_NOTE = ("Validation accuracy of the seed instruction and of each proposal that was tried on the student "
               "(accepted, or rejected on the minibatch). A rejected proposal shows as (rejected) unless the run "
               "used --eval-every-proposal. Iterations that made no proposal are in the table below.")


def scored_rounds(run: RunData) -> list[dict[str, Any]]:
    """Iterations whose proposal the student answered (accepted or rejected), in order."""
    return [r for r in run.iterations if r.get("status") in ("accepted", "rejected")]


def iteration_table(run: RunData) -> Table:
    """One row per iteration: parent, fate, minibatch scores, validation accuracy with n and CI, tokens."""
    rows = [("seed", "-", "seed", "-", accuracy(run.seed.get("val")), str(run.seed.get("tokens", "-")), "")]
    for record in run.iterations:
        status = record.get("status") or "?"
        if status == "accepted" and record.get("new_best"):
            status = "accepted (new best)"
        note = record.get("move") or ""
        if not status.startswith(("accepted", "rejected")):
            note = record.get("reason", "")
        rows.append((
            str(record["iteration"]),
            "-" if record.get("parent") is None else str(record["parent"]),
            status,
            minibatch_text(record),
            accuracy(record.get("val")),
            "-" if record.get("tokens") is None else str(record["tokens"]),
            _flat(note, 80),
        ))
    return Table(("iter", "parent", "status", "minibatch", "val accuracy", "tokens", "note"), tuple(rows),
                 "Every iteration: parent candidate, fate, minibatch score before -> after, validation accuracy "
                 "with n and 95% interval, instruction length in student tokens.", "iterations")


def summary_table(run: RunData) -> Table:
    """Baseline | After | Change on validation and test, each accuracy with n and a 95% interval."""
    seed, best, test = run.seed, run.best, run.test
    rows = [("validation", accuracy(seed.get("val")), accuracy(best.get("val")), change(seed.get("val"), best.get("val")))]
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
    if not best or best.get("idx", 0) == 0:
        return "the seed instruction"
    return f"iteration {best.get('iteration')}"


def _split_for_outcomes(run: RunData) -> tuple[str, Any, Any]:
    """Test outcomes when the run evaluated test, else validation."""
    for split in ("test", "val"):
        seed, best = run.outcomes("seed", split), run.outcomes("best", split)
        if seed and best:
            return split, seed, best
    return "", (), ()


def _meta(run: RunData) -> str:
    counts = run.summary.get("counts") or {}
    config = run.config
    reflection = run.summary.get("proposer") or config.get("reflection") or "fewshot"
    parts = [f"Task `{run.task_name}`, student `{run.student}` (decode {decode_text(config)}), proposer {reflection}, "
             f"seed {config.get('seed', '?')}.",
             f"Status: {run.status}" + (f" ({run.summary['stop_reason']})" if run.summary.get("stop_reason") else "") + ".",
             f"Metric calls: {counts.get('metric_calls', 0)} of a budget of {counts.get('budget', '?')}; "
             f"proposals: {counts.get('proposals', 0)}.",
             f"Run directory: `{run.path}`."]
    n = (run.summary.get("task") or {}).get("n") or {}
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
    pictures: list[Part] = [Image(anchor + "-length", "Instruction length vs accuracy", plots.length_vs_accuracy(run))]
    split, seed_outcomes, best_outcomes = _split_for_outcomes(run)
    if split:
        name = {"test": "test", "val": "validation"}[split]
        pictures.append(Image(anchor + "-confusion", f"Confusion matrices on {name}",
                              plots.confusion_pair(run.labels, seed_outcomes, best_outcomes, name, _best_origin(run))))
        pictures.append(Image(anchor + "-labels", f"Predicted-label distribution on {name}",
                              plots.label_distribution(run.labels, seed_outcomes, best_outcomes, name)))
    sections.append(Section("Plots", sub, tuple(pictures), anchor + "-plots"))
    best, seed = run.best, run.seed
    parts: list[Part] = []
    if best:
        parts.append(Paragraph(f"From {_best_origin(run)}: {best.get('tokens', '?')} student tokens, "
                               f"validation {accuracy(best.get('val'))}."))
        parts.append(Code(best.get("instruction", "")))
        if best.get("idx", 0) == 0 or best.get("instruction") == seed.get("instruction"):
            parts.append(Paragraph("No proposal beat the seed instruction, so there is no diff."))
        else:
            parts.append(Paragraph("Diff against the seed instruction:"))
            parts.append(instruction_diff(seed.get("instruction", ""), best.get("instruction", "")))
    sections.append(Section("Best instruction", sub, tuple(parts), anchor + "-best"))
    return sections


def run_title(run: RunData) -> str:
    return f"{run.task_name} × {run.student}"


def run_report(run: RunData) -> Report:
    """The report of one run directory."""
    return Report(f"smolgepa run: {run_title(run)}", tuple(run_sections(run, "Overview", level=1)))
