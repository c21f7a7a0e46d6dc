"""Plain-text rendering of evaluation results for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from smolgepa.evaluation.evaluate import NO_LABEL, EvalReport


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable in a terminal and pasteable into a README)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def shorten(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def render_report(report: EvalReport, examples: bool = True) -> str:
    """Everything `smolgepa eval` prints for one evaluation."""
    parts = [
        f"task {report.task} | student {report.student} | split {report.split} | decode {report.decode_text}",
        f"accuracy: {report.accuracy_text()}",
        f"unparseable outputs: {report.unparsed}/{report.n}",
        "",
        "per-label recall:",
        table(
            ["label", "n", "recall", "95% CI"],
            [
                [label, s["n"], "-" if s["recall"] is None else f"{100 * s['recall']:.1f}%",
                 f"{100 * s['ci95'][0]:.0f}-{100 * s['ci95'][1]:.0f}%"]
                for label, s in report.per_label().items()
            ],
        ),
        "",
        "confusion (rows: gold, columns: predicted):",
        table(
            ["gold \\ predicted", *report.labels, NO_LABEL],
            [[gold, *row.values()] for gold, row in report.confusion().items()],
        ),
        "",
        "predicted-label distribution: "
        + ", ".join(f"{label} {count}" for label, count in report.predicted_distribution().items()),
    ]
    findings = report.diagnostics.summary_lines()
    if findings:
        parts += ["", "diagnostics:", *(f"- {line}" for line in findings)]
    if examples:
        parts += [
            "",
            table(
                ["id", "gold", "predicted", "ok", "input", "raw output"],
                [
                    [p.id, p.label, p.predicted or NO_LABEL, "yes" if p.correct else "no",
                     shorten(p.input, 40), shorten(repr(p.raw)[1:-1], 50)]
                    for p in report.predictions
                ],
            ),
        ]
    return "\n".join(parts)
