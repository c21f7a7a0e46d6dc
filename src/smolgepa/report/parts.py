"""What a report says, as plain data: sections of paragraphs, tables, images, code and diffs.

`runreport.py` and `studyreport.py` build it once; `markdown.py` and `html.py` only render it, so
both formats always hold the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from smolgepa.evaluation.stats import mean_and_spread


@dataclass(frozen=True)
class Paragraph:
    text: str  # may hold `code` spans


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    name: str = ""  # a stable id for tests and links


@dataclass(frozen=True)
class Image:
    name: str  # file stem when written next to Markdown
    title: str
    png: bytes


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Diff:
    lines: tuple[str, ...]  # unified diff lines without the file header


Part = Union[Paragraph, Bullets, Table, Image, Code, Diff]


@dataclass(frozen=True)
class Section:
    title: str
    level: int
    parts: tuple[Part, ...]
    anchor: str


@dataclass(frozen=True)
class Report:
    title: str
    sections: tuple[Section, ...]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def mean_spread(values: Sequence[float], unit: str = "%") -> str:
    """'61.1% ± 9.6': mean and sample standard deviation (in percentage points) of accuracies."""
    if not values:
        return "-"
    mean, spread = mean_and_spread([100 * v for v in values])
    sign = "+" if unit == " pts" and mean > 0 else ""
    if len(values) == 1:
        return f"{sign}{mean:.1f}{unit}"
    return f"{sign}{mean:.1f}{unit} ± {spread:.1f}"
