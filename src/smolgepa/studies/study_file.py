"""Studies: a grid of tasks × students (× reflections, decode modes, budgets) × seeds, each cell a
normal optimization run directory, then one report across the grid.

A study file (YAML):

    name: sentiment-offline
    tasks: [sentiment]                 # built-in names or task YAML paths (relative to this file)
    students: [embedded]
    reflection: fewshot                # one value, or `reflections: [...]` for several
    seeds: [0, 1, 2]
    budget: 60                         # or `budgets: [...]`
    decodes: [free, scored+calibrate]  # optional: free, constrained, scored, scored+calibrate, channel, knn,
                                       # ensemble, and scored/channel/ensemble+calibrate-train
    renders: [plain, summary]          # optional, trace tasks: plain, annotated, summary (the report
                                       # then shows which rendering won, per label)
    settings:                          # any other `smolgepa optimize` setting, for every cell
      max_proposals: 3
      eval_every_proposal: true
    out: studies/sentiment-offline     # optional, relative to the current directory; --out wins

Each grid axis is written as a single value (`task:`) or a list (`tasks:`). Cells run one after
another; a finished cell is skipped, an interrupted one is resumed (`smolgepa optimize --resume`),
so running the same study again continues where it stopped.

Server students take `student_timeout`, `student_retries`, `student_backoff` and `student_api_key_env`
under `settings:` (`--timeout`, `--retries`, `--backoff`, `--api-key-env` of `smolgepa optimize`; `threads` is the requests in
flight); cells with an in-process student leave them out. They may change between runs of a study.
`model_format` (`--model-format`) pins the re-encoding an in-process student answers from; server cells
leave it out.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from smolgepa.errors import SmolgepaError
from smolgepa.candidate.reading_line import READINGS, reading
from smolgepa.studies.study_renders import check_render, check_render_tasks
from smolgepa.optimize.config import IN_PROCESS_SETTINGS, SERVER_SETTINGS, OptimizeConfig

# plural key -> OptimizeConfig field, in cell-name order
AXES = {"tasks": "task", "students": "student", "reflections": "reflection", "decodes": "decode",
        "renders": "render", "budgets": "budget", "seeds": "seed"}
ALWAYS_NAMED = ("task", "student", "seed")  # parts of every cell's directory name
NOT_SETTINGS = {"run_dir", "resume", *AXES.values()}
EXTENDABLE = ("budget", "max_proposals", "patience")  # a finished cell with more of these is continued
TOP_KEYS = {"name", "description", "settings", "out", *AXES, *AXES.values()}
@dataclass(frozen=True)
class Cell:
    """One run of the study: its directory name, its grid values and its configuration."""

    name: str
    values: dict[str, Any]
    config: OptimizeConfig


@dataclass(frozen=True)
class Study:
    """A study file, validated: every cell's configuration has been built once."""

    name: str
    path: Path
    axes: tuple[str, ...]
    cells: tuple[Cell, ...]
    out: Path | None


# --------------------------------------------------------------------------- the study file


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    """1-based line of each key of a YAML mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 1 for key, _ in node.value}


def _read(path: Path) -> tuple[dict[str, Any], dict[str, int], dict[str, int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SmolgepaError(f"The study file {path} does not exist. Pass the path to a study YAML file.") from None
    except OSError as exc:
        raise SmolgepaError(f"Cannot read the study file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError as exc:
        raise SmolgepaError(f"{path}: not UTF-8 text (byte {exc.start}). Save the study file as UTF-8.") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = " ".join(str(exc.problem).split())
        raise SmolgepaError(f"{path}{line}: not valid YAML ({problem}). Fix the file's syntax.") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise SmolgepaError(f"{path}: not valid YAML ({' '.join(str(exc).split())}). Fix the file's syntax.") from None
    if not isinstance(data, dict):
        raise SmolgepaError(f"{path}: a study file is a YAML mapping (name:, tasks:, students:, seeds:, ...).")
    lines = _key_lines(node)
    settings_node = next((v for k, v in node.value if k.value == "settings"), None) if node else None
    return data, lines, _key_lines(settings_node)


def _where(path: Path, lines: dict[str, int], key: str) -> str:
    return f"{path}:{lines[key]}" if key in lines else str(path)


def _axis(data: dict[str, Any], plural: str, path: Path, lines: dict[str, int]) -> list[Any] | None:
    singular = AXES[plural]
    if plural in data and singular in data:
        raise SmolgepaError(f"{_where(path, lines, singular)}: give either {singular}: or {plural}:, not both.")
    if plural in data:
        values = data[plural]
        if not isinstance(values, list) or not values:
            raise SmolgepaError(f"{_where(path, lines, plural)}: {plural}: must be a non-empty list.")
        if len({repr(v) for v in values}) != len(values):
            raise SmolgepaError(f"{_where(path, lines, plural)}: {plural}: lists a value twice.")
        return values
    if singular in data:
        return [data[singular]]
    return None


def _resolve_task(value: Any, base: Path, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SmolgepaError(f"{where}: a task is a built-in name or a task YAML path, got {value!r}.")
    from smolgepa.tasks import builtin_task_names, load_task

    text = value.strip()
    if text.endswith((".yaml", ".yml")) and not Path(text).is_absolute():
        text = str((base / text).resolve())
    try:
        load_task(text)
    except SmolgepaError as exc:
        raise SmolgepaError(f"{where}: task {value!r}: {exc}") from None
    if not text.endswith((".yaml", ".yml")) and text not in builtin_task_names():
        raise SmolgepaError(f"{where}: unknown task {value!r}. Built-in: {', '.join(builtin_task_names())}.")
    return text


def _check_student(value: Any, where: str) -> str:
    from smolgepa.lm.kinds.base import parse_model_spec

    if not isinstance(value, str):
        raise SmolgepaError(f"{where}: a student is a spec such as embedded or lmstudio:MODEL, got {value!r}.")
    try:
        parse_model_spec(value)
    except SmolgepaError as exc:
        raise SmolgepaError(f"{where}: {exc}") from None
    return value.strip()


def _check_reflection(value: Any, where: str) -> str | None:
    from smolgepa.optimize.reflection import check_reflection, reflection_forms

    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SmolgepaError(f"{where}: reflection must be a spec ({', '.join(reflection_forms())}), got {value!r}.")
    try:
        return check_reflection(value)
    except SmolgepaError as exc:
        raise SmolgepaError(f"{where}: {exc}") from None


DECODE_VALUES = ("free", "constrained", *READINGS)


def _check_decode(value: Any, where: str) -> str:
    text = "".join(str(value).split()) if isinstance(value, str) else value
    if text not in DECODE_VALUES:
        raise SmolgepaError(f"{where}: unknown decode mode {value!r}. Available: {', '.join(DECODE_VALUES)}.")
    return text


def _config_values(values: dict[str, Any]) -> dict[str, Any]:
    """A cell's grid values as OptimizeConfig fields (`scored+calibrate` is decode scored, calibrate on;
    `channel+calibrate-train` is decode channel, calibrate on, calibration train)."""
    result = dict(values)
    if result.get("decode") in READINGS:
        chosen = reading(result["decode"])
        result.update(decode=chosen.mode, calibrate=chosen.calibrate, calibration=chosen.calibration)
    return result


def _student_settings(settings: dict[str, Any], student: str) -> dict[str, Any]:
    """The study's settings for a cell of `student`: the server settings (SERVER_SETTINGS: timeout,
    retries, backoff, API key variable) are left out for an in-process student, and the in-process
    model file's format (`model_format`) for a server student."""
    from smolgepa.lm.kinds.base import parse_model_spec

    left_out = IN_PROCESS_SETTINGS if parse_model_spec(student).is_server else SERVER_SETTINGS
    return {key: value for key, value in settings.items() if key not in left_out}


def _part(value: Any) -> str:
    """A cell-name part: readable, filesystem-safe, unique (long values get a short hash)."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", str(value)).strip("_.") or "none"
    if len(text) > 40:
        text = text[:32] + "_" + hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:7]
    return text


def _name_part(field: str, value: Any) -> str:
    if field == "task" and isinstance(value, str) and value.endswith((".yaml", ".yml")):
        value = Path(value).stem
    if field == "seed":
        return f"seed{value}"
    if field == "budget":
        return f"budget{value}"
    return _part(value)


def load_study(path: str | Path) -> Study:
    """Read and validate a study file; every problem is reported with its file and line."""
    file = Path(path)
    data, lines, setting_lines = _read(file)
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise SmolgepaError(
            f"{_where(file, lines, unknown[0])}: unknown key {unknown[0]!r} in the study file. "
            f"Known keys: {', '.join(sorted(TOP_KEYS))}."
        )
    name = data.get("name") or file.stem
    if not isinstance(name, str):
        raise SmolgepaError(f"{_where(file, lines, 'name')}: name must be text.")
    settings = _settings(data, file, lines, setting_lines)
    grid, listed = _grid(data, file, lines)
    order = [f for f in AXES.values() if f in grid]
    cells = _cells(file, grid, order, listed, settings)
    out = data.get("out")
    if out is not None and not isinstance(out, str):
        raise SmolgepaError(f"{_where(file, lines, 'out')}: out: must be a directory path.")
    return Study(name, file, tuple(order), tuple(cells), Path(out) if out else None)


def _settings(data: dict[str, Any], file: Path, lines: dict[str, int], setting_lines: dict[str, int]) -> dict[str, Any]:
    """The study's `settings:` (optimize settings for every cell), each checked to be one."""
    known = {f.name for f in fields(OptimizeConfig)}
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise SmolgepaError(f"{_where(file, lines, 'settings')}: settings: must be a mapping of optimize settings.")
    for key in settings:
        if key in NOT_SETTINGS:
            axis = next((p for p, s in AXES.items() if s == key), None)
            hint = f"use the top-level {key}: or {axis}: key" if axis else "the study sets it for every cell"
            raise SmolgepaError(f"{_where(file, setting_lines, key)}: {key} cannot be a setting: {hint}.")
        if key not in known:
            raise SmolgepaError(
                f"{_where(file, setting_lines, key)}: unknown setting {key!r}. "
                f"Known: {', '.join(sorted(known - NOT_SETTINGS))}."
            )
    return settings


def _grid(data: dict[str, Any], file: Path, lines: dict[str, int]) -> tuple[dict[str, list[Any]], set[str]]:
    """The values of each axis (task, student, seed, ...), checked, and the axes listed with several values."""
    known = {f.name for f in fields(OptimizeConfig)}
    grid: dict[str, list[Any]] = {}
    listed: set[str] = set()
    for plural, field_name in AXES.items():
        values = _axis(data, plural, file, lines)
        if values is None:
            continue
        key = plural if plural in data else field_name
        where = _where(file, lines, key)
        if field_name not in known:
            raise SmolgepaError(
                f"{where}: {key}: is not supported by this smolgepa (`smolgepa optimize` has no {field_name} "
                "setting yet). Remove it from the study file."
            )
        if field_name == "task":
            values = [_resolve_task(v, file.parent, where) for v in values]
        elif field_name == "student":
            values = [_check_student(v, where) for v in values]
        elif field_name == "reflection":
            values = [_check_reflection(v, where) for v in values]
        elif field_name == "decode":
            values = [_check_decode(v, where) for v in values]
        elif field_name == "render":
            values = [check_render(v, where) for v in values]
        grid[field_name] = values
        if plural in data and len(values) > 1:
            listed.add(field_name)
    for required in ("task", "student"):
        if required not in grid:
            raise SmolgepaError(f"{file}: the study names no {required}s: add `{required}s: [...]`.")
    check_render_tasks(grid["task"], grid.get("render"), _where(file, lines, "renders"))
    grid.setdefault("seed", [0])
    return grid, listed


def _cells(file: Path, grid: dict[str, list[Any]], order: list[str], listed: set[str],
           settings: dict[str, Any]) -> list[Cell]:
    """One cell per combination of axis values, each a validated OptimizeConfig with a unique name."""
    named = [f for f in order if f in ALWAYS_NAMED or f in listed]
    cells: list[Cell] = []
    seen: dict[str, dict[str, Any]] = {}
    for combination in itertools.product(*(grid[f] for f in order)):
        values = dict(zip(order, combination))
        cell_name = "__".join(_name_part(f, values[f]) for f in named)
        if cell_name in seen:
            raise SmolgepaError(f"{file}: two cells would share the directory name {cell_name!r}; "
                                "give the tasks or students distinct names.")
        seen[cell_name] = values
        try:
            config = OptimizeConfig(**{**_student_settings(settings, values["student"]), **_config_values(values)})
        except SmolgepaError as exc:
            raise SmolgepaError(f"{file}: cell {cell_name}: {exc}") from None
        except TypeError as exc:
            raise SmolgepaError(f"{file}: cell {cell_name}: {exc}") from None
        cells.append(Cell(cell_name, values, config))
    return cells


# --------------------------------------------------------------------------- running


def default_out(study: Study) -> Path:
    return study.out or Path("studies") / _part(study.name)
