"""Findings in plain words, from a run's diagnostics and its per-iteration history.

Each finding has a short `key` (for counting across the runs of a study) and one or two
sentences a reader can act on: "prohibition echoed", "'positive' bias fixed by examples",
"no proposal after round 1 improved", "capacity problem, not a prompt problem".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from smolgepa.formatting import minibatch_text
from smolgepa.report.rundata import Evaluated, RunData
from smolgepa.runrecord import Evaluation, Iteration
from smolgepa.evaluation.stats import wilson_interval

SHORT = {
    "unfinished": "run not finished",
    "capacity": "capacity problem, not a prompt problem",
    "bias_fixed_by_examples": "label bias fixed by examples",
    "bias_fixed": "label bias fixed",
    "bias_reduced": "label bias reduced",
    "bias_remains": "label bias remains",
    "prohibition_echoed": "prohibition echoed",
    "no_improvement": "no proposal improved on the seed",
    "no_later_improvement": "no proposal after the first improvement helped",
    "later_worse": "later rounds made validation worse",
    "rejected_better": "a rejected proposal scored better on validation",
    "longest_worse": "the longest instruction scored below the seed",
    "confusion": "a look-alike pair stays confused",
    "within_noise": "the change is within the 95% intervals",
    "refused": "proposals refused before evaluation",
    "unreadable": "answers with no readable label",
}
_EXAMPLE_LINE = r"^\s*(?:answer|label|output|class|category|sentiment)\s*[:=]\s*{label}\s*$|(?:->|=>|→)\s*{label}\s*$"


@dataclass(frozen=True)
class Finding:
    """One observation about a run, in plain words."""

    key: str
    text: str


def example_count(instruction: str, labels: Sequence[str]) -> int:
    """How many labelled examples an instruction contains ("Answer: negative", "... -> negative")."""
    if not labels:
        return 0
    names = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    pattern = re.compile(_EXAMPLE_LINE.format(label=f"(?:{names})"), re.IGNORECASE | re.MULTILINE)
    return len(pattern.findall(instruction))


def plural(count: int, word: str) -> str:
    """'1 proposal', '3 proposals'."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _count(val: Evaluation) -> str:
    return f"{val.correct}/{val.n}"


def _quote(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return "\u201c" + (flat if len(flat) <= width else flat[: width - 1] + "\u2026") + "\u201d"


def _best_evaluated(run: RunData, evaluated: list[Evaluated]) -> Evaluated | None:
    iteration = run.best.iteration if run.best and run.best.idx else 0
    return next((e for e in evaluated if e.iteration == iteration), None)


def _rounds(run: RunData) -> list[Iteration]:
    """Iterations that asked for a proposal (GEPA skips some when the minibatch was already perfect)."""
    return [r for r in run.iterations if r.status not in (None, "skipped")]


def _bias(seed: Evaluated, best: Evaluated | None, labels: Sequence[str]) -> Finding | None:
    d = seed.diagnostics
    if d is None or d.n == 0:
        return None
    label = d.collapse_label or (d.over_predicted[0][0] if d.over_predicted else None)
    if label is None:
        return None
    said, true = d.predicted_distribution.get(label, 0), d.gold_distribution.get(label, 0)
    start = f"the seed instruction gets '{label}' for {said} of {d.n} validation answers ({true} are {label})"
    if best is None or best.iteration == 0 or best.diagnostics is None:
        return Finding("bias_remains", f"'{label}' bias remains: {start}, and no proposal did better on validation.")
    b = best.diagnostics
    seed_gap = (said - true) / d.n
    best_gap = (b.predicted_distribution.get(label, 0) - b.gold_distribution.get(label, 0)) / max(b.n, 1)
    after = f"the best instruction (iteration {best.iteration}) gets it for {b.predicted_distribution.get(label, 0)} of {b.n}"
    if b.collapse_label == label or best_gap >= seed_gap:
        return Finding("bias_remains", f"'{label}' bias remains: {start}; {after}.")
    if best_gap > seed_gap / 3:
        return Finding("bias_reduced", f"'{label}' bias reduced: {start}; {after}.")
    added = example_count(best.instruction, labels) - example_count(seed.instruction, labels)
    if added > 0:
        return Finding(
            "bias_fixed_by_examples",
            f"'{label}' bias fixed by examples: {start}; {after}, with {plural(added, 'labelled example')} "
            "added to the instruction.",
        )
    return Finding("bias_fixed", f"'{label}' bias fixed: {start}; {after}.")


def _prohibitions(evaluated: list[Evaluated]) -> list[Finding]:
    found = []
    for e in evaluated:
        d = e.diagnostics
        if d is None or not d.prohibitions_echoed:
            continue
        echoed = round(d.prohibition_echo_rate * d.n)
        found.append(Finding(
            "prohibition_echoed",
            f"Prohibition echoed: {e.name} says {_quote(d.prohibitions_echoed[0])} and {echoed} of {d.n} answers "
            "repeat it as content instead of obeying it. At this size, show examples of the wanted output "
            "instead of forbidding the unwanted one.",
        ))
    return found


def _improvement(run: RunData, evaluated: list[Evaluated]) -> list[Finding]:
    rounds = _rounds(run)
    if not rounds:
        return []
    improved = [i for i, r in enumerate(rounds, start=1) if r.new_best]
    statuses = Counter(r.status for r in rounds)
    tally = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    found = []
    last = improved[-1] if improved else 0
    later = len(rounds) - last
    if not improved:
        found.append(Finding(
            "no_improvement",
            f"No proposal improved on the seed instruction ({plural(len(rounds), 'proposal')}: {tally}).",
        ))
    elif later:
        iteration = rounds[last - 1].iteration
        where = f"round {last}" + (f" (iteration {iteration})" if iteration != last else "")
        found.append(Finding(
            "no_later_improvement",
            f"No proposal after round {last} improved: the best instruction came from {where}; "
            f"{'the ' + plural(later, 'proposal') if later > 1 else 'the proposal'} after it did not beat it on validation.",
        ))
    best = _best_evaluated(run, evaluated)
    if best is not None:
        missed = [e for e in evaluated if e.status == "rejected" and e.val.accuracy > best.val.accuracy]
        if missed:
            top = max(missed, key=lambda e: e.val.accuracy)
            record = next((r for r in rounds if r.iteration == top.iteration), None)
            gate = _minibatch_text(record)
            found.append(Finding(
                "rejected_better",
                f"A rejected proposal scored higher on validation than the best kept: {top.name} got "
                f"{_pct(top.val.accuracy)} ({_count(top.val)}) against {_pct(best.val.accuracy)} "
                f"({_count(best.val)}), but GEPA's minibatch check{gate} turned it away. With {top.val.n} "
                "validation examples this may be noise; a larger minibatch (--minibatch-size) makes the check "
                "less random.",
            ))
        worse = [e for e in evaluated if e.iteration > best.iteration and e.val.accuracy < best.val.accuracy]
        if worse and improved:
            listed = ", ".join(f"iteration {e.iteration} {_pct(e.val.accuracy)}" for e in worse[:4])
            found.append(Finding(
                "later_worse",
                f"Later rounds made things worse on validation: {listed}, against {_pct(best.val.accuracy)} "
                f"for the best ({best.name}).",
            ))
    return found


def _minibatch_text(record: Iteration | None) -> str:
    if record is None or not record.before or record.after is None:
        return ""
    return f" ({minibatch_text(record)})"


def _length(evaluated: list[Evaluated]) -> Finding | None:
    sized = [e for e in evaluated if e.tokens is not None]
    if len(sized) < 3 or sized[0].iteration != 0:
        return None
    seed = sized[0]
    longest = max(sized[1:], key=lambda e: e.tokens or 0)
    if (longest.tokens or 0) > (seed.tokens or 0) and longest.val.accuracy < seed.val.accuracy:
        return Finding(
            "longest_worse",
            f"Longer was not better: the longest instruction ({longest.name}, {longest.tokens} tokens) scored "
            f"{_pct(longest.val.accuracy)} on validation, below the seed's {_pct(seed.val.accuracy)} "
            f"({seed.tokens} tokens).",
        )
    return None


def _confusion(best: Evaluated | None) -> Finding | None:
    if best is None or best.diagnostics is None:
        return None
    d = best.diagnostics
    pairs = [(g, p, c) for g, p, c in d.confused_pairs if p != "(none)" and c >= 2]
    if not pairs:
        return None
    gold, predicted, count = pairs[0]
    return Finding(
        "confusion",
        f"Most frequent confusion with {best.name}: '{gold}' answered as '{predicted}' for {count} of "
        f"{d.gold_distribution.get(gold, 0)} '{gold}' validation examples. Look-alike classes need a rule the "
        "model can check mechanically (a count, a threshold).",
    )


def _overlap(a: Evaluation, b: Evaluation) -> bool:
    low_a, high_a = wilson_interval(a.correct, a.n)
    low_b, high_b = wilson_interval(b.correct, b.n)
    return low_a <= high_b and low_b <= high_a


def _noise(run: RunData) -> Finding | None:
    seed_val = run.seed.val if run.seed else None
    best_val = run.best.val if run.best else None
    if not seed_val or not best_val or run.best is None or run.best.idx == 0 or not seed_val.n:
        return None
    if not _overlap(seed_val, best_val):
        return None
    points = 100 * (best_val.accuracy - seed_val.accuracy)
    text = (f"The validation change ({points:+.1f} points, {_count(seed_val)} -> {_count(best_val)}) is within the noise: "
            "the 95% intervals of the seed and the best instruction overlap.")
    test_seed, test_best = run.test.get("seed"), run.test.get("best")
    if test_seed and test_best and test_seed.n:
        change = 100 * (test_best.accuracy - test_seed.accuracy)
        text += f" On the held-out test split the change is {change:+.1f} points ({_count(test_seed)} -> {_count(test_best)})."
    return Finding("within_noise", text + " More examples would tell.")


def _refused(run: RunData) -> Finding | None:
    refused = Counter(r.status for r in _rounds(run) if r.status not in ("accepted", "rejected"))
    if not refused:
        return None
    names = {"too_long": "over the instruction token cap", "duplicate": "duplicates of an earlier instruction",
             "failed": "reflection failures", "exhausted": "no new proposal possible"}
    parts = ", ".join(f"{count} {names.get(status, status)}" for status, count in refused.most_common())
    total = sum(refused.values())
    return Finding("refused", f"{plural(total, 'proposal')} never reached evaluation: {parts}.")


def _unreadable(seed: Evaluated | None, best: Evaluated | None) -> Finding | None:
    if seed is None or seed.diagnostics is None or not seed.val.unparsed:
        return None
    text = f"Answers with no readable label: {seed.val.unparsed} of {seed.val.n} with the seed instruction"
    if best is not None and best.iteration != 0:
        text += f", {best.val.unparsed} of {best.val.n} with the best"
    return Finding("unreadable", text + ".")


def run_findings(run: RunData) -> list[Finding]:
    """Everything worth saying about one run, most important first."""
    evaluated = run.evaluated()
    seed = evaluated[0] if evaluated and evaluated[0].iteration == 0 else None
    best = _best_evaluated(run, evaluated)
    found: list[Finding] = []
    if run.status != "finished":
        found.append(Finding(
            "unfinished",
            f"The run is not finished (status: {run.status}); the figures cover what it did so far. "
            f"Continue it with `smolgepa optimize --resume --run-dir {run.path}`.",
        ))
    capacity = run.summary.capacity
    if capacity.capacity_problem:
        detail = re.sub(r"^capacity problem, not a prompt problem:\s*", "", capacity.text)
        found.append(Finding(
            "capacity",
            f"Capacity problem, not a prompt problem: {detail}. A larger student is likely needed for this task.",
        ))
    if seed is not None:
        found.extend(f for f in [_bias(seed, best, run.labels)] if f)
    found.extend(_prohibitions(evaluated))
    found.extend(_improvement(run, evaluated))
    for finding in (_length(evaluated), _confusion(best), _noise(run), _refused(run), _unreadable(seed, best)):
        if finding is not None:
            found.append(finding)
    return found


def study_findings(groups: Sequence[tuple[str, Sequence[Sequence[Finding]]]]) -> list[str]:
    """Per group of runs (the seeds of one grid cell): how many runs share each kind of finding."""
    lines = []
    for name, runs in groups:
        counts = Counter(key for findings in runs for key in {f.key for f in findings})
        for key, count in sorted(counts.items(), key=lambda item: (-item[1], list(SHORT).index(item[0])
                                                                      if item[0] in SHORT else 99)):
            lines.append(f"{name}: {SHORT.get(key, key)} in {count} of {plural(len(runs), 'run')}.")
    return lines
