"""The evidence figures read back from a rendered trace: the one parser of the lines that carry them.

A reading sees the prompt's text, never the `Trace` it was rendered from, so a reading that uses the
figures (`--decode hidden-figures`) reads them here. Two renderings carry them:

- `summary` prints every figure of `traces.figures` on a line of its own that starts with the
  figure's `line` name ("Same call repeated: 5"): all nine are read.
- `annotated` ends with the block `evidence.describe_evidence` writes under "Counts (whole trace):"
  ("same call in a row: 3 (read_file, turns 1-5)"): eight are read. It prints no count of distinct
  tools, and "same error repeated: no" stands for 1 when there was an error and 0 when there was none.

`plain` carries none (`read_figures` gives None). Only whole lines are read, and in `annotated` only
the block after the last "Counts (whole trace):" line, so a tool's output that happens to say
"Errors: 9" is never taken for a figure (every turn of a transcript is one line starting "N. ").
`tests/test_figure_lines.py` checks both against `figures()` on every built-in trace.
"""

from __future__ import annotations

import re

from smolgepa.traces.figures import FIGURE_KEYS, FIGURES

COUNTS_HEADER = "Counts (whole trace):"
ANNOTATED_KEYS = tuple(key for key in FIGURE_KEYS if key != "tools")  # annotated prints no distinct-tools count
_SUMMARY = {figure.key: re.compile(rf"^{re.escape(figure.line)}: (\d+)\b", re.MULTILINE) for figure in FIGURES}


def read_figures(text: str) -> dict[str, float] | None:
    """The figures `text` carries, by key: all of them from a summary, `ANNOTATED_KEYS` from an
    annotated transcript; None when it carries none (plain) or only some of a layout's lines."""
    at = text.rfind(COUNTS_HEADER)
    if at >= 0 and (at == 0 or text[at - 1] == "\n"):
        return _annotated(text[at + len(COUNTS_HEADER):].splitlines())
    found = {key: pattern.findall(text) for key, pattern in _SUMMARY.items()}
    if all(len(values) == 1 for values in found.values()):
        return {key: float(values[0]) for key, values in found.items()}
    return None


# The lines of `evidence.describe_evidence`, each read whole (an error's quoted text cannot fake a figure).
_ANNOTATED = (
    re.compile(r"^tool calls: (?P<calls>\d+), errors: (?P<errors>\d+), messages: \d+$"),
    re.compile(r"^same call in a row: (?P<same_call>\d+)\b"),
    re.compile(r"^nearly same call in a row: (?P<near_call>\d+)\b"),
    re.compile(r"^results that found nothing in a row: (?P<empty_results>\d+)$"),
    re.compile(r"^same error repeated: (?:(?P<same_error>\d+) times \(|(?P<no_repeat>no)$)"),
    re.compile(r"^words of thinking: \d+ \((?P<words_per_call>\d+) per tool call\), "
               r"messages in a row without a call: (?P<messages_in_a_row>\d+)$"),
)


def _annotated(lines: list[str]) -> dict[str, float] | None:
    """The figures of the block `describe_evidence` writes (the lines after its header), each line
    matched in its order; None when one is missing."""
    found: dict[str, str] = {}
    rest = [line.strip() for line in lines]
    for pattern in _ANNOTATED:
        match = next((m for m in map(pattern.match, rest) if m), None)
        if match is None:
            return None
        found.update({k: v for k, v in match.groupdict().items() if v is not None})
    if "no_repeat" in found:  # written for a repeat count of 0 or 1: 1 when any error was seen
        found["same_error"] = str(min(int(found["errors"]), 1))
    return {key: float(found[key]) for key in ANNOTATED_KEYS}
