"""The tables a run prints, rendered from its summary (so `smolgepa show` needs only the run dir)."""

from __future__ import annotations

from typing import Any

from smolgepa.display import shorten, table

STUDY_COLUMNS = 12  # iterations shown in the study-style one-row table


def _accuracy(val: dict[str, Any] | None) -> str:
    return val["text"] if val else "-"


def _percent(val: dict[str, Any] | None) -> str:
    return f"{100 * val['accuracy']:.1f}%" if val else "-"


def minibatch_text(record: dict[str, Any]) -> str:
    """'1/3 -> 2/3': minibatch score before and after a proposal."""
    before, after = record.get("before"), record.get("after")
    if before is None:
        return "-"
    text = f"{sum(before):g}/{len(before)}"
    return f"{text} -> {sum(after):g}/{len(after)}" if after is not None else text


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    if not before or not after or not before["n"] or not after["n"]:
        return "-"
    points = 100 * (after["accuracy"] - before["accuracy"])
    return f"{points:+.1f} pts" if abs(points) >= 0.05 else "no change"


def iteration_table(summary: dict[str, Any]) -> str:
    """One row per GEPA iteration: parent, fate, minibatch scores, validation accuracy, length."""
    seed = summary.get("seed") or {}
    rows: list[list[object]] = [["seed", "-", "seed", "-", _accuracy(seed.get("val")), seed.get("tokens", "-"), ""]]
    for record in summary.get("iterations", []):
        status = record["status"]
        if status == "accepted" and record.get("new_best"):
            status = "accepted (new best)"
        note = record.get("move") or ""
        if status not in ("accepted", "accepted (new best)", "rejected"):
            note = record.get("reason", "")
        rows.append([
            record["iteration"],
            "-" if record.get("parent") is None else record["parent"],
            status,
            minibatch_text(record),
            _accuracy(record.get("val")),
            "-" if record.get("tokens") is None else record["tokens"],
            shorten(note, 70),
        ])
    return table(["iter", "parent", "status", "minibatch", "val accuracy", "tokens", "note"], rows)


def study_table(summary: dict[str, Any]) -> str:
    """The study's per-iteration table: validation accuracy for Baseline, Iter 1, Iter 2, ..."""
    proposals = [r for r in summary.get("iterations", []) if r["status"] != "skipped"]
    records = proposals[:STUDY_COLUMNS]
    headers = ["Baseline", *(f"Iter {r['iteration']}" for r in records)]
    cells = [_percent((summary.get("seed") or {}).get("val"))]
    for record in records:
        cells.append(_percent(record.get("val")) if record.get("val") else f"({record['status']})")
    more = f"\n({len(proposals) - len(records)} later iterations in the table below)" if len(proposals) > len(records) else ""
    return table(headers, [cells]) + more


def summary_table(summary: dict[str, Any]) -> str:
    """Baseline | After | Change on validation and test, each accuracy with n and a 95% interval."""
    seed, best = summary.get("seed") or {}, summary.get("best") or {}
    test = summary.get("test") or {}
    rows = [["val", _accuracy(seed.get("val")), _accuracy(best.get("val")), _change(seed.get("val"), best.get("val"))]]
    if test:
        rows.append(["test", _accuracy(test.get("seed")), _accuracy(test.get("best")),
                     _change(test.get("seed"), test.get("best"))])
    else:
        rows.append(["test", "(after the run)", "(after the run)", "-"])
    return table(["split", "Baseline (seed)", "After (best)", "Change"], rows)


def decode_text(config: dict[str, Any]) -> str:
    """A run configuration's decode mode as printed (`free` for runs from before the setting existed)."""
    from smolgepa.lm.decode import describe_decode

    decode = str(config.get("decode") or "free")
    return describe_decode(decode, bool(config.get("calibrate")), str(config.get("calibration") or "content-free"))


def render_run(summary: dict[str, Any], run_dir: str = "") -> str:
    """Everything `optimize` prints at the end and `show` prints at any time."""
    config = summary.get("config") or {}
    counts = summary.get("counts") or {}
    calls = summary.get("calls") or {}
    best = summary.get("best") or {}
    lines = [
        f"task {config.get('task', '?')} | student {config.get('student', '?')} | decode {decode_text(config)} | "
        f"proposer {summary.get('proposer', '?')} | status {summary.get('status', '?')}",
    ]
    if summary.get("proposer_note"):
        lines.append(summary["proposer_note"])
    lines += ["", "Per iteration (validation accuracy):", study_table(summary), "", iteration_table(summary), ""]
    lines += ["Summary:", summary_table(summary), ""]
    if best:
        origin = "the seed instruction" if best.get("idx") == 0 else f"iteration {best.get('iteration')}"
        lines.append(f"Best instruction ({origin}, candidate {best.get('idx')}, {best.get('tokens')} tokens):")
        lines += ["    " + line for line in (best.get("instruction") or "").splitlines()]
        lines.append("")
    if summary.get("stop_reason"):
        lines.append(f"Stopped: {summary['stop_reason']}.")
    lines.append(
        f"Metric calls: {counts.get('metric_calls', 0)} of a budget of {counts.get('budget', '?')} "
        f"({counts.get('extra_metric_calls', 0)} for evaluating rejected proposals); "
        f"proposals: {counts.get('proposals', 0)}; Pareto front: {summary.get('pareto_front', [])}."
    )
    student, reflection = calls.get("student") or {}, calls.get("reflection") or {}
    if student:
        lines.append(
            f"Student calls: {student.get('calls', 0)} ({student.get('cached', 0)} answered from the run cache, "
            f"the others took {student.get('seconds', 0):.1f}s); reflection calls: {reflection.get('calls', 0)} "
            f"({reflection.get('cached', 0)} from the cache, the others took {reflection.get('seconds', 0):.1f}s)."
        )
    if student.get("context_overflows"):
        lines.append(
            f"Prompts too long for the student's context window: {student['context_overflows']} "
            "(each counted as a wrong answer; shorten the inputs or the instruction limit)."
        )
    capacity = summary.get("capacity") or {}
    if capacity.get("capacity_problem"):
        lines.append(f"Verdict: {capacity['text']}.")
    if summary.get("machine"):
        lines.append(f"Measured on: {summary['machine']} (answers at near ties can differ on another CPU).")
    if run_dir:
        lines.append(f"Run directory: {run_dir}")
    return "\n".join(lines)
