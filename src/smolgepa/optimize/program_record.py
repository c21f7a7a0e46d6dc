"""The run directory of `smolgepa.gepa(...)` on a user's own DSPy program: what was tried and how it scored.

Layout (JSON written atomically, `schema_version` in each JSON file):
    summary.json      seed and best validation score (mean, n, and a Wilson 95% CI when every score
                      is 0 or 1), metric calls, the best candidate's instructions
    candidates.jsonl  one line per candidate: index, parents, validation score, instructions
    proposals.jsonl   one line per reflection: predictor, instruction proposed (or null) and why not
    diagnostics.json  when the program's answer is a label: echo, label bias, collapse and confusions
                      of the best program on the validation set (`program_diagnostics.py`)
    tables.md         the tables above and those findings, for reading
    program.json      the best program, saved by DSPy (`program.load(path)`)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dspy

from smolgepa.evaluation.diagnostics import Diagnostics
from smolgepa.jsonfiles import Redactor, dumps, write_json_atomic, write_text_atomic
from smolgepa.optimize.plain_proposer import ProposalRecord
from smolgepa.runrecord import SCHEMA_VERSION
from smolgepa.evaluation.stats import format_accuracy, wilson_interval


def instructions_of(program: dspy.Module) -> dict[str, str]:
    """{predictor name: instruction} of a program."""
    return {name: predictor.signature.instructions for name, predictor in program.named_predictors()}


def score_summary(scores: Sequence[float]) -> dict[str, Any]:
    """Mean score with n; for 0/1 scores also the correct count and a Wilson 95% interval."""
    n = len(scores)
    summary: dict[str, Any] = {"mean": sum(scores) / n if n else None, "n": n}
    if n and all(score in (0, 1) for score in scores):
        correct = int(sum(scores))
        summary.update(correct=correct, ci95=list(wilson_interval(correct, n)), text=format_accuracy(correct, n))
    else:
        summary["text"] = f"{summary['mean']:.3f} (n={n})" if n else "n/a (n=0)"
    return summary


def candidate_rows(results: Any) -> list[dict[str, Any]]:
    """One record per candidate of a `DspyGEPAResult`."""
    rows = []
    for index, program in enumerate(results.candidates):
        scores = [float(score) for score in results.val_subscores[index].values()]
        rows.append({"index": index, "parents": list(results.parents[index] or []),
                     "val": score_summary(scores), "metric_calls_at_discovery": results.discovery_eval_counts[index],
                     "instructions": instructions_of(program)})
    return rows


def render_tables(rows: list[dict[str, Any]], proposals: Sequence[ProposalRecord]) -> str:
    """Markdown tables of the candidates and the proposals."""
    lines = ["## Candidates", "", "| # | parents | validation | changed |", "|---|---|---|---|"]
    seed = rows[0]["instructions"] if rows else {}
    for row in rows:
        changed = [name for name, text in row["instructions"].items() if text != seed.get(name)]
        parents = ", ".join(str(parent) for parent in row["parents"] if parent is not None) or "-"
        lines.append(f"| {row['index']} | {parents} | {row['val']['text']} | {', '.join(changed) or '-'} |")
    lines += ["", "## Proposals", "", "| predictor | outcome |", "|---|---|"]
    for record in proposals:
        outcome = "proposed" if record.instruction is not None else f"none: {record.reason}"
        lines.append(f"| {record.component} | {outcome.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def write_program_run(path: str | Path, best: dspy.Module, proposals: Sequence[ProposalRecord],
                      diagnostics: Diagnostics | None = None) -> Path:
    """Write the run directory of a compiled program (`best.detailed_results` from `track_stats=True`)
    and, when given, the findings on its validation answers."""
    directory, redact = Path(path), Redactor()
    directory.mkdir(parents=True, exist_ok=True)
    results = best.detailed_results
    rows = candidate_rows(results)
    write_text_atomic(directory / "candidates.jsonl", "".join(dumps(row, redact) + "\n" for row in rows))
    write_text_atomic(directory / "proposals.jsonl",
                      "".join(dumps(record.to_json(), redact) + "\n" for record in proposals))
    write_json_atomic(directory / "summary.json", {
        "schema_version": SCHEMA_VERSION,
        "seed_val": rows[0]["val"] if rows else None,
        "best_val": rows[results.best_idx]["val"] if rows else None,
        "best_index": results.best_idx,
        "candidates": len(rows),
        "proposals": len(proposals),
        "proposals_made": sum(record.instruction is not None for record in proposals),
        "metric_calls": results.total_metric_calls,
        "best_instructions": instructions_of(best),
    }, redact)
    tables = render_tables(rows, proposals)
    if diagnostics is not None:
        write_json_atomic(directory / "diagnostics.json", {"schema_version": SCHEMA_VERSION, "split": "val",
                                                           **diagnostics.to_json()}, redact)
        findings = diagnostics.summary_lines() or ["nothing notable"]
        tables += "\n## Findings on the validation answers (best program)\n\n" + "".join(f"- {line}\n" for line in findings)
    write_text_atomic(directory / "tables.md", tables)
    best.save(str(directory / "program.json"))
    return directory
