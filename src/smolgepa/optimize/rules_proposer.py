"""The built-in `rules` proposer for agent-trace tasks: counting rules fitted on train, no LLM.

The first proposal for a parent without rules appends to its instruction a decision list over the evidence figures
(`smolgepa.traces.rules`), fitted on the training split: numbered rules, each naming a line of the
`summary` rendering and a threshold ("If "Same call repeated" is 3 or more, answer doom_loop."),
that a tiny model can check in order against its input (once that text was tried, the moves below
are made from the fitted list). Later proposals read the parent's rules back and change them from
the minibatch failures GEPA passes in:

- a rule fired wrongly on a failure: raise its threshold just past the failure's figure;
- the gold label's rule did not fire: lower its threshold to the failure's figure, or move it
  ahead of the rule that fired first;
- the rules were right but the student was not: move the rule that should fire to the top;
- otherwise (or when those texts were already tried): step one threshold to the next value seen in
  train, or swap two neighbouring rules.

Candidate moves of each kind are tried best train accuracy first (the rules applied mechanically),
so runs are reproducible; the first text the gate accepts is the proposal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

from smolgepa.candidate.instruction import one_line, render_instruction, split_instruction
from smolgepa.optimize.journal import Journal
from smolgepa.optimize.evidence.screen import EvidenceJudge
from smolgepa.optimize.offline_proposer import OfflineProposer, ProposalGate
from smolgepa.tasks.model import Task
from smolgepa.traces.figures import BY_KEY, figures
from smolgepa.traces.trace_model import Trace
from smolgepa.traces.rules import RULES_HEADER, Figures, RuleList, fit_rules, parse_rules, rules_text

Failure = tuple[Figures, str, str]  # (figures, gold label, the student's answer)


def strip_rules(text: str) -> str:
    """`text` without its rules block (the header line and the numbered lines after it)."""
    at = text.find(RULES_HEADER)
    if at < 0:
        return text.rstrip()
    lines = text[at:].splitlines()[1:]
    rest = 0
    while rest < len(lines) and lines[rest].strip()[:1].isdigit():
        rest += 1
    tail = "\n".join(lines[rest:]).strip()
    return (text[:at].rstrip() + ("\n\n" + tail if tail else "")).rstrip()


def with_rules(instruction: str, rule_list: RuleList, prefix: str) -> str:
    """The instruction with its rules block replaced by `rule_list` (any examples block kept last)."""
    base, shots = split_instruction(instruction)
    body = strip_rules(base)
    return render_instruction(f"{body}\n\n{rules_text(rule_list)}" if body else rules_text(rule_list), shots, prefix)


class RulesProposer(OfflineProposer):
    """GEPA `ProposalFn` that writes and mutates counting rules in the instruction. Never raises."""

    name = "rules"
    moves_name = "rules"

    def __init__(self, task: Task, gate: ProposalGate, journal: Journal,
                 readings: Sequence[str] = (), own_reading: str = "", label_words: Any = None,
                 judge: EvidenceJudge | None = None) -> None:
        super().__init__(task, gate, journal, readings, own_reading, label_words, judge)
        train = [e for e in task.split("train") if isinstance(e.raw, Trace)]
        self.train: list[tuple[Figures, str]] = [(figures(e.raw), e.label) for e in train]
        self._by_input = {one_line(e.input): (figures(e.raw), e.label) for e in train}
        self.fitted = fit_rules(self.train, list(task.labels)) if self.train else None
        self._steps = {
            key: sorted({int(values[key]) for values, _ in self.train if values[key] >= 1}) for key in BY_KEY
        }

    def unusable_note(self) -> str:
        """Why the rules cannot help as the task is rendered ("" when they can)."""
        if self.fitted is None:
            return "The task has no training traces, so the rules proposer has nothing to fit; it will find no move."
        if self.task.render != "summary":
            return (
                f"The rules name lines of the summary rendering, but the student reads the {self.task.render} "
                "rendering, so the rules proposer proposes no rules here (only --readings and --label-words "
                "moves): pass --render summary (or set render: summary in the task YAML) for rules."
            )
        return ""

    def failures(self, examples: Sequence[Mapping[str, Any]]) -> list[Failure]:
        """The minibatch examples the parent got wrong: (figures, gold, the student's answer)."""
        found: list[Failure] = []
        for item in examples:
            inputs = item.get("Inputs", {})
            text = one_line(str(inputs.get("input", "") if isinstance(inputs, Mapping) else inputs))
            known = self._by_input.get(text)
            outputs = item.get("Generated Outputs", {})
            predicted = str(outputs.get("label") if isinstance(outputs, Mapping) else None)
            if known is not None and predicted != known[1]:
                found.append((known[0], known[1], predicted))
        return found

    def moves(self, rules: RuleList, failures: Sequence[Failure]) -> Iterator[tuple[str, RuleList]]:
        """Candidate rule lists, each with a description of the move, in order of preference."""
        targeted: list[tuple[str, RuleList]] = []
        for values, gold, _ in failures:
            fired = rules.firing(values)
            if rules.predict(values) != gold:
                if fired is not None:
                    rule = rules.rules[fired]
                    targeted.append((f"raise rule {fired + 1} ({rule.label}) to {int(values[rule.figure]) + 1}",
                                     rules.with_threshold(fired, int(values[rule.figure]) + 1)))
                for index, rule in enumerate(rules.rules):
                    if rule.label != gold:
                        continue
                    if not rule.matches(values) and values[rule.figure] >= 1:
                        targeted.append((f"lower rule {index + 1} ({gold}) to {int(values[rule.figure])}",
                                         rules.with_threshold(index, int(values[rule.figure]))))
                    if fired is not None and index > fired and rule.matches(values):
                        targeted.append((f"move rule {index + 1} ({gold}) before rule {fired + 1}",
                                         rules.moved(index, fired)))
            elif fired is not None and fired > 0:
                targeted.append((f"move rule {fired + 1} ({gold}) first: the rules were right, the student not",
                                 rules.moved(fired, 0)))
        yield from self._best_first(targeted)
        generic: list[tuple[str, RuleList]] = []
        for index, rule in enumerate(rules.rules):
            steps = self._steps.get(rule.figure, [])
            lower = [s for s in steps if s < rule.threshold]
            higher = [s for s in steps if s > rule.threshold]
            if lower:
                generic.append((f"step rule {index + 1} down to {lower[-1]}", rules.with_threshold(index, lower[-1])))
            if higher:
                generic.append((f"step rule {index + 1} up to {higher[0]}", rules.with_threshold(index, higher[0])))
            if index + 1 < len(rules.rules):
                generic.append((f"swap rules {index + 1} and {index + 2}", rules.moved(index, index + 1)))
        yield from self._best_first(generic)

    def _best_first(self, moves: list[tuple[str, RuleList]]) -> Iterator[tuple[str, RuleList]]:
        seen: set[RuleList] = set()
        for move, rule_list in sorted(moves, key=lambda item: -item[1].accuracy(self.train)):  # stable
            if rule_list not in seen:
                seen.add(rule_list)
                yield move, rule_list

    def text_moves(self, instruction: str, examples: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
        if self.fitted is None or self.task.render != "summary":  # nothing fitted, or no lines to check them on
            return
        parent = parse_rules(instruction)
        failures = self.failures(examples)
        if parent is None:  # the fitted rules first; once tried, moves from them
            fitted = (f"rules fitted on train ({100 * self.fitted.accuracy(self.train):.0f}% train accuracy "
                      "applied mechanically)", self.fitted)
            options: Iterator[tuple[str, RuleList]] = chain([fitted], self.moves(self.fitted, failures))
        else:
            options = self.moves(parent, failures)
        for move, rule_list in options:
            yield move, with_rules(instruction, rule_list, self.prefix)
