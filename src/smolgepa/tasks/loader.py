"""Load a task from a built-in name or a YAML file plus JSONL examples, with clear errors."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from smolgepa.errors import SmolgepaError
from smolgepa.tasks.model import SPLITS, Example, Task

INPUT_FORMATS = ("text", "trace")
RENDER_MODES = ("plain", "annotated", "summary")
# Without explicit splits: fraction of each label's examples in train and val; the rest is test.
SPLIT_FRACTIONS = (0.4, 0.3)
SPLIT_SEED = 0


def builtin_task_names() -> list[str]:
    """Names of the tasks shipped inside the package."""
    data = resources.files("smolgepa.tasks") / "data"
    return sorted(entry.name[: -len(".yaml")] for entry in data.iterdir() if entry.name.endswith(".yaml"))


def load_task(name_or_path: str | Path, render: str | None = None) -> Task:
    """Load a built-in task by name, or a task YAML file by path.

    `render` overrides the task's rendering of trace inputs (`plain`, `annotated` or `summary`).
    """
    text = str(name_or_path)
    path = Path(text)
    if text in builtin_task_names():
        path = Path(str(resources.files("smolgepa.tasks") / "data" / f"{text}.yaml"))
    elif not _exists(path):
        raise SmolgepaError(
            f"Unknown task {text!r}: not a built-in task and no such file. "
            f"Built-in tasks: {', '.join(builtin_task_names())}; or pass the path to a task YAML file."
        )
    return load_task_file(path, render=render)


def _exists(path: Path) -> bool:
    """Whether `path` exists; a name the OS cannot even look up (too long, NUL byte) does not."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def load_task_file(path: Path, render: str | None = None) -> Task:
    """Load a task YAML file and the JSONL examples it names."""
    spec = _read_yaml(path)
    name = _required_str(spec, "name", path)
    labels = _read_labels(spec, path)
    input_field = _optional_str(spec, "input", path, "text")
    input_format = _choice(spec, "input_format", INPUT_FORMATS, path, "text")
    render_mode = render or _choice(spec, "render", RENDER_MODES, path, "plain")
    if render_mode not in RENDER_MODES:
        raise SmolgepaError(f"Unknown rendering {render_mode!r}: use one of {', '.join(RENDER_MODES)}.")
    max_input_tokens = spec.get("max_input_tokens", 700)
    if not isinstance(max_input_tokens, int) or max_input_tokens < 50:
        raise SmolgepaError(f"{path}: 'max_input_tokens' must be a whole number of at least 50.")
    data_path = path.parent / _required_str(spec, "data", path)
    provenance = _read_provenance(spec, path)
    rows = _read_jsonl(data_path)
    task = Task(
        name=name,
        description=_optional_str(spec, "description", path, ""),
        labels=labels,
        examples=(),
        input_field=input_field,
        input_format=input_format,
        render=render_mode,
        source=str(path),
        meta={
            "max_input_tokens": max_input_tokens,
            "instruction": _optional_str(spec, "instruction", path, ""),
            **({"provenance": provenance} if provenance else {}),
        },
    )
    examples = [_example(task, row, data_path, line) for line, row in rows]
    if task.input_format == "text":
        _check_lengths(examples, rows, data_path, max_input_tokens)
    _check_unique_ids(examples, rows, data_path)
    if not examples:
        raise SmolgepaError(f"{data_path}: no examples. Add one JSON object per line.")
    return task.with_examples(_assign_splits(examples))


def rendered(task: Task, mode: str) -> Task:
    """The same task with trace inputs re-rendered in `mode` (text tasks are returned unchanged)."""
    if task.input_format != "trace" or mode == task.render:
        return task
    if mode not in RENDER_MODES:
        raise SmolgepaError(f"Unknown rendering {mode!r}: use one of {', '.join(RENDER_MODES)}.")
    from smolgepa.traces import render_trace

    budget = task.meta.get("max_input_tokens", 700)
    examples = [replace(ex, input=render_trace(ex.raw, mode=mode, max_tokens=budget)) for ex in task.examples]
    return replace(task, render=mode, examples=tuple(examples))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, ValueError) as exc:  # ValueError: undecodable bytes, NUL in the name
        raise SmolgepaError(f"{path}: cannot read the task file ({exc}).") from None
    try:
        spec = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise SmolgepaError(f"{where}: malformed YAML ({exc.problem}). Fix the file and retry.") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # PyYAML raises plain ValueError for impossible dates (2024-02-30) and RecursionError for deep nesting.
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SmolgepaError(f"{path}: malformed YAML ({problem}). Fix the file and retry.") from None
    if not isinstance(spec, dict):
        raise SmolgepaError(f"{path}: a task file is a YAML mapping with name, labels and data keys.")
    return spec


def _required_str(spec: dict[str, Any], key: str, path: Path) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SmolgepaError(f"{path}: '{key}' is required and must be a non-empty string.")
    return value.strip()


def _optional_str(spec: dict[str, Any], key: str, path: Path, default: str) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str):
        raise SmolgepaError(f"{path}: '{key}' must be a string, got {type(value).__name__}.")
    return value.strip()


def _choice(spec: dict[str, Any], key: str, choices: tuple[str, ...], path: Path, default: str) -> str:
    value = spec.get(key, default)
    if value not in choices:
        raise SmolgepaError(f"{path}: '{key}' must be one of {', '.join(choices)}, got {value!r}.")
    return value


def _read_provenance(spec: dict[str, Any], path: Path) -> dict[str, str]:
    """The optional `source` block: where the data came from (dataset, repository, commit, licence...)."""
    source = spec.get("source")
    if source is None:
        return {}
    if not isinstance(source, dict) or not all(
        isinstance(key, str) and isinstance(value, (str, int)) and not isinstance(value, bool)
        for key, value in source.items()
    ):
        raise SmolgepaError(
            f"{path}: 'source' must map field names to text, e.g. source: {{dataset: ..., licence: ...}}."
        )
    return {key: str(value).strip() for key, value in source.items()}


def _read_labels(spec: dict[str, Any], path: Path) -> dict[str, str]:
    labels = spec.get("labels")
    if isinstance(labels, list) and all(isinstance(label, str) for label in labels):
        labels = {label: "" for label in labels}
    if not isinstance(labels, dict) or len(labels) < 2:
        raise SmolgepaError(f"{path}: {_LABELS_HELP}")
    result: dict[str, str] = {}
    for label, description in labels.items():
        if isinstance(label, bool):
            raise SmolgepaError(
                f"{path}: label {label!r} was read as a yes/no value; quote it (e.g. \"yes\": ...)."
            )
        if not isinstance(label, str) or not label.strip() or any(ch.isspace() for ch in label.strip()):
            raise SmolgepaError(f"{path}: label {label!r} must be a single word (use _ for spaces).")
        if description is not None and not isinstance(description, str):
            raise SmolgepaError(f"{path}: the description of label {label!r} must be a string.")
        if label.strip() in result:
            raise SmolgepaError(f"{path}: label {label.strip()!r} is declared twice.")
        result[label.strip()] = (description or "").strip()
    return result


_LABELS_HELP = (
    "'labels' must map at least two label names to one-line descriptions, "
    "e.g. labels: {positive: The writer is pleased., negative: The writer is unhappy.}"
)


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SmolgepaError(f"{path}: data file not found (named by 'data' in the task YAML).") from None
    except (OSError, ValueError) as exc:  # ValueError: undecodable bytes, NUL in the name
        raise SmolgepaError(f"{path}: cannot read the data file ({exc}).") from None
    rows: list[tuple[int, Any]] = []
    # JSONL lines end at \n only: str.splitlines() would also split inside strings holding U+2028 etc.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise SmolgepaError(f"{path}:{number}: malformed JSON ({exc.msg} at column {exc.colno}).") from None
        except (ValueError, RecursionError) as exc:  # e.g. a 5000-digit number, or nesting too deep
            raise SmolgepaError(f"{path}:{number}: malformed JSON ({exc}).") from None
    return rows


def _example(task: Task, row: Any, path: Path, line: int) -> Example:
    where = f"{path}:{line}"
    if not isinstance(row, dict):
        raise SmolgepaError(f"{where}: each line must be a JSON object, got {type(row).__name__}.")
    label = row.get("label")
    if not isinstance(label, str) or label not in task.labels:
        raise SmolgepaError(
            f"{where}: label {label!r} is not declared by the task; declared: {', '.join(task.labels)}. "
            "Fix the label or add it under 'labels' in the task YAML."
        )
    split = row.get("split", "")
    if split not in ("", None, *SPLITS):
        raise SmolgepaError(f"{where}: split {split!r} must be one of {', '.join(SPLITS)} (or omitted).")
    example_id = row.get("id", f"line{line}")
    if not isinstance(example_id, (str, int)) or isinstance(example_id, bool):
        raise SmolgepaError(f"{where}: 'id' must be a string or an integer.")
    if task.input_field not in row:
        raise SmolgepaError(f"{where}: missing the input field {task.input_field!r} (set by 'input' in the YAML).")
    raw = row[task.input_field]
    if task.input_format == "trace":
        from smolgepa.traces import parse_trace, render_trace

        trace = parse_trace(raw, where)
        text = render_trace(trace, mode=task.render, max_tokens=task.meta["max_input_tokens"])
        raw = trace
    else:
        if not isinstance(raw, str):
            raise SmolgepaError(f"{where}: the input {task.input_field!r} must be a string.")
        text = raw.strip()
        if not text:
            raise SmolgepaError(f"{where}: empty input in field {task.input_field!r}. Remove the line or fill it.")
    return Example(id=str(example_id), input=text, label=label, split=split or "", raw=raw)


def _check_lengths(examples: list[Example], rows: list[tuple[int, Any]], path: Path, budget: int) -> None:
    """Refuse text inputs longer than the task's token budget (traces are shortened by their renderer)."""
    from smolgepa.lm.token_count import approx_tokens

    for example, (line, _) in zip(examples, rows):
        tokens = approx_tokens(example.input)
        if tokens > budget:
            raise SmolgepaError(
                f"{path}:{line}: input of example {example.id!r} is about {tokens} tokens, over the task's "
                f"max_input_tokens ({budget}). Shorten it, or raise max_input_tokens in the task YAML "
                "if the student's context window allows."
            )


def _check_unique_ids(examples: list[Example], rows: list[tuple[int, Any]], path: Path) -> None:
    seen: dict[str, int] = {}
    for example, (line, _) in zip(examples, rows):
        if example.id in seen:
            raise SmolgepaError(f"{path}:{line}: duplicate id {example.id!r} (first on line {seen[example.id]}).")
        seen[example.id] = line


def _assign_splits(examples: list[Example]) -> list[Example]:
    """Keep explicit splits; give the others a fixed, seeded, label-stratified split."""
    unassigned: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        if not example.split:
            unassigned[example.label].append(index)
    result = list(examples)
    rng = random.Random(SPLIT_SEED)
    for label in sorted(unassigned):
        indices = unassigned[label]
        rng.shuffle(indices)
        n_train = round(len(indices) * SPLIT_FRACTIONS[0])
        n_val = round(len(indices) * SPLIT_FRACTIONS[1])
        for position, index in enumerate(indices):
            split = "train" if position < n_train else "val" if position < n_train + n_val else "test"
            result[index] = replace(result[index], split=split)
    return result
