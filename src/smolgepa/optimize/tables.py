"""The tables a run prints, rendered from its summary (so `smolgepa show` needs only the run dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smolgepa.evaluation.display import shorten, table
from smolgepa.formatting import change, decode_text, minibatch_text, percent, recorded_accuracy
from smolgepa.optimize.evidence.paired_test import PairedVerdict
from smolgepa.optimize.evidence.screen import Measured, OptionScreen
from smolgepa.callcounts import CallCount, VerifierCount
from smolgepa.runrecord import RunSummary

STUDY_COLUMNS = 12  # iterations shown in the study-style one-row table


def iteration_table(summary: RunSummary) -> str:
    """One row per GEPA iteration: parent, fate, minibatch scores, validation accuracy, length."""
    seed = summary.seed
    seed_tokens = "-" if seed is None or seed.tokens is None else seed.tokens
    rows: list[list[object]] = [["seed", "-", "seed", "-", recorded_accuracy(seed.val if seed else None),
                                 seed_tokens, ""]]
    for record in summary.iterations:
        status = record.status
        if status == "accepted" and record.new_best:
            status = "accepted (new best)"
        note = record.note()
        rows.append([
            record.iteration,
            "-" if record.parent is None else record.parent,
            status,
            minibatch_text(record),
            recorded_accuracy(record.val),
            "-" if record.tokens is None else record.tokens,
            shorten(note, 70),
        ])
    return table(["iter", "parent", "status", "minibatch", "val accuracy", "tokens", "note"], rows)


def study_table(summary: RunSummary) -> str:
    """The study's per-iteration table: validation accuracy for Baseline, Iter 1, Iter 2, ..."""
    proposals = [r for r in summary.iterations if r.status != "skipped"]
    records = proposals[:STUDY_COLUMNS]
    headers = ["Baseline", *(f"Iter {r.iteration}" for r in records)]
    cells = [percent(summary.seed.val if summary.seed else None)]
    for record in records:
        cells.append(percent(record.val) if record.val else f"({record.status})")
    more = f"\n({len(proposals) - len(records)} later iterations in the table below)" if len(proposals) > len(records) else ""
    return table(headers, [cells]) + more


def summary_table(summary: RunSummary) -> str:
    """Baseline | After | Change on validation and test, each accuracy with n and a 95% interval."""
    seed = summary.seed.val if summary.seed else None
    best = summary.best.val if summary.best else None
    rows = [["val", recorded_accuracy(seed), recorded_accuracy(best), change(seed, best)]]
    test_seed, test_best = summary.test.get("seed"), summary.test.get("best")
    if summary.test:
        rows.append(["test", recorded_accuracy(test_seed), recorded_accuracy(test_best), change(test_seed, test_best)])
    else:
        rows.append(["test", "(after the run)", "(after the run)", "-"])
    return table(["split", "Baseline (seed)", "After (best)", "Change"], rows)


def screen_lines(summary: RunSummary) -> list[str]:
    """The screens of structural moves (a reading, label words) recorded with the proposals: each
    option on the training sample and validation, and the paired test against the parent (+ passed)."""
    lines: list[str] = []
    for record in summary.iterations:
        if not record.screen:
            continue
        lines.append(f"Screen of iteration {record.iteration}'s parent (candidate {record.parent}); "
                     "+ passed the paired test against it:")
        lines += ["    " + OptionScreen.from_json(row).line() for row in record.screen]
        lines.append("")
    return lines


def final_pick_lines(summary: RunSummary) -> list[str]:
    """How the returned candidate was picked among the Pareto front, and whether it is within noise."""
    pick = summary.final_pick
    if not pick:
        return []
    lines = ["Final pick among the Pareto front (out-of-fold training answers and validation pooled):"]
    for row in pick.get("rows") or ():
        mark = "* " if row["idx"] == pick["chosen"] else "  "
        pooled, train, val = (Measured.from_json(row[k]) for k in ("pooled", "train", "val"))
        lines.append(f"    {mark}candidate {row['idx']}: {pooled.text()} (train {train.text()}; val {val.text()})")
    verdict = PairedVerdict.from_json(pick.get("verdict"))
    if pick.get("runner_up") is not None and verdict is not None:
        judged = ("within noise of each other: the test could not show the pick better"
                  if pick.get("within_noise") else "the pick reads better")
        lines.append(f"    against the runner-up (candidate {pick['runner_up']}): {verdict.text()}; {judged}.")
    return lines + [""]


def _calls_lines(student: CallCount | None, reflection: CallCount | None,
                 verifier: VerifierCount | None = None) -> list[str]:
    if student is None:
        return []
    reflection = reflection or CallCount()
    verifier_calls = "" if verifier is None else (
        f"; verifier calls: {verifier.calls} ({verifier.cached} from the cache, the others took {verifier.seconds:.1f}s)")
    lines = [
        f"Student calls: {student.calls} ({student.cached} answered from the run cache, "
        f"the others took {student.seconds:.1f}s); reflection calls: {reflection.calls} "
        f"({reflection.cached} from the cache, the others took {reflection.seconds:.1f}s){verifier_calls}."
    ]
    if verifier is not None:  # the same after --resume: the cache answers what the first process asked
        lines.append(f"Verifier: {verifier.calls} wrong minibatch answers explained or asked about; "
                     f"{verifier.junk} junk replies, {verifier.disagreed} naming another label than the gold one "
                     "(those add nothing to the feedback).")
        lines += [verifier.junk_line] if verifier.junk_line else []
    if student.context_overflows:
        lines.append(
            f"Prompts too long for the student's context window: {student.context_overflows} "
            "(each counted as a wrong answer; shorten the inputs or the instruction limit)."
        )
    return lines


def model_file_line(record: dict[str, Any]) -> str:
    """Which GGUF file answered, and for a re-encoded copy the flag that answers from its format elsewhere."""
    from smolgepa.lm.local.reencode import CANDIDATES

    name = Path(str(record.get("path", "?"))).name
    line = f"Model file: {name} ({record.get('format') or '?'}, sha256 {str(record.get('sha256', '?'))[:12]})"
    if record.get("format") in CANDIDATES:
        line += f"; --model-format {record['format']} answers from the same format on another CPU"
    return line + "."


def render_run(summary: RunSummary | dict[str, Any], run_dir: str = "") -> str:
    """Everything `optimize` prints at the end and `show` prints at any time."""
    if isinstance(summary, dict):
        summary = RunSummary.from_json(summary)
    config, counts, best = summary.config, summary.counts, summary.best
    lines = [
        f"task {config.get('task', '?')} | student {config.get('student', '?')} | decode {decode_text(config)} | "
        f"proposer {summary.proposer or '?'} | status {summary.status}",
    ]
    if summary.proposer_note:
        lines.append(summary.proposer_note)
    lines += ["", "Per iteration (validation accuracy):", study_table(summary), "", iteration_table(summary), ""]
    lines += screen_lines(summary)
    lines += ["Summary:", summary_table(summary), ""]
    lines += final_pick_lines(summary)
    if best:
        origin = "the seed instruction" if best.idx == 0 else f"iteration {best.iteration}"
        lines.append(f"Best instruction ({origin}, candidate {best.idx}, {best.tokens} tokens):")
        lines += ["    " + line for line in best.instruction.splitlines()]
        lines.append("")
    if summary.stop_reason:
        lines.append(f"Stopped: {summary.stop_reason}.")
    lines.append(
        f"Metric calls: {counts.metric_calls} of a budget of {'?' if counts.budget is None else counts.budget} "
        f"({counts.extra_metric_calls} for evaluating rejected proposals); "
        f"proposals: {counts.proposals}; Pareto front: {list(summary.pareto_front)}."
    )
    lines += _calls_lines(summary.calls.student, summary.calls.reflection, summary.calls.verifier)
    if summary.capacity.capacity_problem:
        lines.append(f"Verdict: {summary.capacity.text}.")
    if summary.machine:
        lines.append(f"Measured on: {summary.machine} (answers at near ties can differ on another CPU).")
    if summary.model_file:
        lines.append(model_file_line(summary.model_file))
    if run_dir:
        lines.append(f"Run directory: {run_dir}")
    return "\n".join(lines)
