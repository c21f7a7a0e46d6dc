"""JSONL in, JSONL out: one answer line per input line, written (and flushed) as soon as it is known.

An input line is a JSON object: `{"id": ..., "text": ...}`, or with the task's own input field
(`{"id": ..., "trace": {...}}` for a trace task), or for a trace task the trace object itself
(`{"id": ..., "task": ..., "turns": [...]}`); a bare JSON string is a text. Without `id`, the id is
`line<N>`. Blank lines are skipped without output.

A bad line (malformed JSON, no input field, an invalid trace, empty text, a prompt longer than the
student's context window) does not stop the stream: its output line is `{"id": ..., "line": N,
"error": "..."}` and `on_error` hears the same message. Other failures (an unreachable server) stop
it; lines already answered stay written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

from smolgepa.use.classifier import Classifier
from smolgepa.errors import ContextOverflowError, SmolgepaError, find_user_error

TEXT_FIELD = "text"


@dataclass(frozen=True)
class InputLine:
    """One non-blank input line: its number, the id written back, and the text the student reads
    (None when the line is bad, with the reason in `error`)."""

    number: int
    id: Any
    text: str | None = None
    error: str = ""


@dataclass(frozen=True)
class StreamCounts:
    """How many lines were answered and how many were bad."""

    answered: int = 0
    failed: int = 0


def read_line(classifier: Classifier, number: int, line: str) -> InputLine:
    """Parse and render one input line (never raises for a bad line)."""
    place = f"line {number}"
    try:
        row = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return InputLine(number, f"line{number}", error=f"{place}: malformed JSON ({exc}).")
    line_id = row.get("id", f"line{number}") if isinstance(row, dict) else f"line{number}"
    try:
        return InputLine(number, line_id, classifier.render(input_value(classifier, row, place), place))
    except SmolgepaError as exc:
        return InputLine(number, line_id, error=str(exc))


def input_value(classifier: Classifier, row: Any, place: str) -> Any:
    """The text or trace a line holds."""
    task = classifier.task
    if isinstance(row, str):
        return row
    if not isinstance(row, dict):
        raise SmolgepaError(f"{place}: a line is a JSON object with an input field, or a JSON string.")
    if task.input_format == "trace" and "turns" in row:
        return {key: value for key, value in row.items() if key != "id"}
    for name in dict.fromkeys((task.input_field, TEXT_FIELD)):
        if name in row:
            return row[name]
    fields = " or ".join(repr(name) for name in dict.fromkeys((task.input_field, TEXT_FIELD)))
    shape = ', or the trace object itself ({"task": ..., "turns": [...]})' if task.input_format == "trace" else ""
    raise SmolgepaError(f"{place}: no input field: give {fields}{shape}.")


def predict_lines(
    classifier: Classifier,
    lines: Iterable[str],
    write: Callable[[dict[str, Any]], None],
    *,
    threads: int = 1,
    on_error: Callable[[str], None] | None = None,
    on_answer: Callable[[], None] | None = None,
) -> StreamCounts:
    """Answer every non-blank line in order; `threads` lines at once. `write` gets each output object."""
    answered = failed = 0
    for chunk in _chunks(_numbered(lines), max(1, threads) * 4 if threads > 1 else 1):
        inputs = [read_line(classifier, number, line) for number, line in chunk]
        for item, output in zip(inputs, _answers(classifier, inputs, threads)):
            if "error" in output:
                failed += 1
                if on_error:
                    on_error(output["error"])
            else:
                answered += 1
            write(output)
            if on_answer:
                on_answer()
    return StreamCounts(answered, failed)


def _answers(classifier: Classifier, inputs: list[InputLine], threads: int) -> Iterator[dict[str, Any]]:
    if threads <= 1 or len(inputs) <= 1:
        return (_output(classifier, item) for item in inputs)
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        return iter(list(pool.map(lambda item: _output(classifier, item), inputs)))
    finally:
        pool.shutdown()


def _output(classifier: Classifier, item: InputLine) -> dict[str, Any]:
    """The output object of one input line."""
    if item.text is None:
        return {"id": item.id, "line": item.number, "error": item.error}
    try:
        answer = classifier.answer(item.text)
    except Exception as exc:
        problem = find_user_error(exc)
        if not isinstance(problem, ContextOverflowError):
            raise
        return {"id": item.id, "line": item.number, "error": f"line {item.number}: {problem}"}
    return {"id": item.id, **answer.to_json()}


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    # JSONL lines end at \n only; the caller's line iterator already splits there.
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line


def _chunks(items: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    while chunk := list(islice(items, size)):
        yield chunk
