"""Counting rules over the evidence figures: a small decision list fitted on training traces.

A rule reads one line of the `summary` rendering and compares its number with a threshold:

    1. If "Same error repeated" is 3 or more, answer api_confusion.
    2. If "Similar call repeated" is 3 or more, answer doom_loop.
    3. Otherwise answer making_progress.

The rules are checked in order and the first that matches gives the label, so a tiny model can
check them mechanically against the summary's lines. `fit_rules` builds the list greedily on train
(each step adds the rule that most raises train accuracy); `rules_text` writes it into an
instruction and `parse_rules` reads it back, so a proposer can mutate a parent's rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from smolgepa.traces.figures import BY_KEY, BY_LINE, FIGURE_KEYS

Figures = Mapping[str, float]
RULES_HEADER = "Check these rules in order against the trace summary; the first rule that matches gives the label:"
_RULE = re.compile(r'^\s*\d+\.\s*If "(?P<line>[^"]+)" is (?P<threshold>\d+) or more, answer (?P<label>\S+?)\.?\s*$')
_DEFAULT = re.compile(r"^\s*\d+\.\s*Otherwise answer (?P<label>\S+?)\.?\s*$")


@dataclass(frozen=True)
class Rule:
    """`figure >= threshold` gives `label`."""

    figure: str
    threshold: int
    label: str

    def matches(self, values: Figures) -> bool:
        return values[self.figure] >= self.threshold


@dataclass(frozen=True)
class RuleList:
    """Rules checked in order; `default` when none matches."""

    rules: tuple[Rule, ...]
    default: str

    def predict(self, values: Figures) -> str:
        return next((rule.label for rule in self.rules if rule.matches(values)), self.default)

    def firing(self, values: Figures) -> int | None:
        """The index of the first rule that matches, or None (the default answers)."""
        return next((i for i, rule in enumerate(self.rules) if rule.matches(values)), None)

    def accuracy(self, data: Sequence[tuple[Figures, str]]) -> float:
        return sum(self.predict(values) == label for values, label in data) / max(1, len(data))

    def with_threshold(self, index: int, threshold: int) -> RuleList:
        rules = list(self.rules)
        rules[index] = replace(rules[index], threshold=max(1, threshold))
        return replace(self, rules=tuple(rules))

    def moved(self, index: int, to: int) -> RuleList:
        rules = list(self.rules)
        rules.insert(to, rules.pop(index))
        return replace(self, rules=tuple(rules))


def fit_rules(data: Sequence[tuple[Figures, str]], labels: Sequence[str], max_rules: int = 4,
              keys: Sequence[str] = FIGURE_KEYS, beam: int = 8) -> RuleList:
    """The decision list with the best accuracy on (figures, label) pairs found by a beam search:
    lists grow one rule (figure, threshold, label) at a time, the default being the majority label
    of what no rule matches; the `beam` best lists of each length are grown further. The shortest
    of the most accurate lists wins; ties go to the earlier figure, lower threshold and earlier
    label, so the fit is deterministic."""
    if not data:
        raise ValueError("fit_rules needs at least one training example")
    gold = [label for _, label in data]
    candidates = [
        Rule(key, int(threshold), label)
        for key in keys
        for threshold in sorted({int(values[key]) for values, _ in data if values[key] >= 1})
        for label in labels
    ]
    matches = {rule: [rule.matches(values) for values, _ in data] for rule in candidates}

    def scored(rules: tuple[Rule, ...]) -> tuple[int, RuleList]:
        predicted: list[str | None] = [None] * len(data)
        for rule in rules:
            hits = matches[rule]
            predicted = [p if p is not None or not hit else rule.label for p, hit in zip(predicted, hits)]
        left = [g for p, g in zip(predicted, gold) if p is None]
        default = _majority(left or gold, labels)
        correct = sum((p if p is not None else default) == g for p, g in zip(predicted, gold))
        return correct, RuleList(rules, default)

    best = scored(())
    frontier = [best]
    for _ in range(max_rules):
        grown: dict[tuple[Rule, ...], tuple[int, RuleList]] = {}
        for _, parent in frontier:
            for rule in candidates:
                rules = (*parent.rules, rule)
                if rule not in parent.rules and rules not in grown:
                    grown[rules] = scored(rules)
        # stable sort: candidates were generated in figure, threshold, label order
        frontier = sorted(grown.values(), key=lambda item: -item[0])[:beam]
        if not frontier:
            break
        if frontier[0][0] > best[0]:
            best = frontier[0]
    return best[1]


def _majority(gold: Sequence[str], labels: Sequence[str]) -> str:
    counts = Counter(gold)
    return max(labels, key=lambda label: (counts[label], -list(labels).index(label)))


def rules_text(rule_list: RuleList) -> str:
    """The rules as numbered lines naming the summary lines they check (see the module docstring)."""
    lines = [RULES_HEADER]
    for number, rule in enumerate(rule_list.rules, start=1):
        lines.append(f'{number}. If "{BY_KEY[rule.figure].line}" is {rule.threshold} or more, answer {rule.label}.')
    lines.append(f"{len(rule_list.rules) + 1}. Otherwise answer {rule_list.default}.")
    return "\n".join(lines)


def parse_rules(text: str) -> RuleList | None:
    """The rule list written by `rules_text` somewhere inside `text`, or None when there is none."""
    at = text.find(RULES_HEADER)
    if at < 0:
        return None
    rules: list[Rule] = []
    for line in text[at + len(RULES_HEADER):].strip("\n").splitlines():
        match = _RULE.match(line)
        if match and match.group("line") in BY_LINE:
            rules.append(Rule(BY_LINE[match.group("line")].key, int(match.group("threshold")), match.group("label")))
            continue
        default = _DEFAULT.match(line)
        if default:
            return RuleList(tuple(rules), default.group("label"))
        return None
    return None
