"""A corrected copy of a task: its YAML and JSONL written anew, with some labels replaced.

The copy keeps every row of the task's data file as it was (other fields, traces, order), gives each
row its split explicitly (so the copy's splits are the task's, even where the task assigned them), and
marks a replaced label with `relabelled_from`. Nothing is overwritten: an existing file is an error.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

from smolgepa.errors import SmolgepaError
from smolgepa.jsonfiles import write_text_atomic
from smolgepa.tasks.model import Task


def corrected_paths(path: Path) -> tuple[Path, Path]:
    """The task YAML to write and its JSONL beside it (`clean.yaml` -> `clean.jsonl`)."""
    if path.suffix not in (".yaml", ".yml"):
        raise SmolgepaError(f"{path}: --write names the task YAML file to write (ending .yaml); its data goes "
                            "beside it with .jsonl.")
    return path, path.with_suffix(".jsonl")


def refuse_existing(*paths: Path) -> None:
    """One clear error when any of `paths` exists: the data commands never overwrite."""
    for path in paths:
        if path.exists():
            raise SmolgepaError(f"{path} already exists: smolgepa never overwrites a data file. "
                                "Choose another name or remove it first.")


def source_rows(task: Task) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The task's YAML mapping and its data file's rows, as written."""
    spec_path = Path(task.source)
    try:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8-sig"))
        data_path = spec_path.parent / str(spec["data"])
        text = data_path.read_text(encoding="utf-8-sig")
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise SmolgepaError(f"{spec_path}: cannot read the task's files again to copy them ({exc}).") from None
    rows = [json.loads(line) for line in text.split("\n") if line.strip()]
    return spec, rows


def write_task_files(spec: dict[str, Any], rows: list[dict[str, Any]], yaml_path: Path, data_path: Path,
                     note: tuple[str, str]) -> tuple[Path, Path]:
    """Write `rows` to `data_path` and the task YAML `spec` (renamed after `yaml_path`, naming the data file,
    with `note` = (key, text) added to its `source`) to `yaml_path`. Returns both paths."""
    spec = dict(spec, name=yaml_path.stem, data=data_path.name)
    spec["source"] = {**(spec.get("source") or {}), note[0]: note[1]}
    write_text_atomic(data_path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    write_text_atomic(yaml_path, yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return yaml_path, data_path


def write_corrected(task: Task, corrections: Mapping[str, str], path: Path, note: str,
                    dropped: Collection[str] = ()) -> tuple[Path, Path]:
    """Write the task with `corrections` (id -> new label) applied and the rows of `dropped` ids left out,
    to `path` (YAML) and its JSONL; `note` says how (kept in the YAML's `source`). Returns both paths."""
    yaml_path, data_path = corrected_paths(path)
    refuse_existing(yaml_path, data_path)
    unknown = sorted(set(corrections.values()) - set(task.labels))
    if unknown:
        raise SmolgepaError(f"Corrections use labels the task does not declare: {', '.join(unknown)}.")
    spec, rows = source_rows(task)
    splits = {example.id: example.split for example in task.examples}
    written = []
    for number, row in enumerate(rows, start=1):
        row = dict(row)
        example_id = str(row.get("id", f"line{number}"))
        if example_id in dropped:
            continue
        row["split"] = splits.get(example_id, row.get("split", ""))
        if example_id in corrections and corrections[example_id] != row.get("label"):
            row["relabelled_from"] = row.get("label")
            row["label"] = corrections[example_id]
        written.append(row)
    return write_task_files(spec, written, yaml_path, data_path, ("relabelled", note))
