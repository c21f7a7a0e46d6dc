"""Task and example data: plain frozen dataclasses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Example:
    """One labelled example. `input` is the text the student reads; `raw` the value in the file."""

    id: str
    input: str
    label: str
    split: str
    raw: Any = None


@dataclass(frozen=True)
class Task:
    """A label-classification task: label names with one-line descriptions, and split examples."""

    name: str
    description: str
    labels: dict[str, str]
    examples: tuple[Example, ...]
    input_field: str = "text"
    input_format: str = "text"
    render: str = "plain"
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def label_names(self) -> list[str]:
        return list(self.labels)

    def split(self, name: str) -> list[Example]:
        """Examples of one split (`train`, `val`, `test`) or all of them (`all`)."""
        if name == "all":
            return list(self.examples)
        if name not in SPLITS:
            from smolgepa.errors import SmolgepaError

            raise SmolgepaError(f"Unknown split {name!r}: use one of {', '.join(SPLITS)} or all.")
        return [example for example in self.examples if example.split == name]

    def label_counts(self) -> dict[str, dict[str, int]]:
        """Per split, how many examples carry each label (labels in declared order)."""
        counts: dict[str, dict[str, int]] = {}
        for split in SPLITS:
            counter = Counter(example.label for example in self.split(split))
            counts[split] = {label: counter.get(label, 0) for label in self.labels}
        return counts

    def with_examples(self, examples: list[Example]) -> Task:
        return replace(self, examples=tuple(examples))
