"""The records of a run directory as typed data, and the one reader of them.

`summary.json` is a `RunSummary`; the events in `events.jsonl` that reports read are `SeedEvaluated`,
`IterationEvent` and `TestEvaluated`. Both files carry `schema_version`; files written before a field
existed (or before the version was written at all) read with that field's default, and a version newer
than this one is refused. `optimize/tables.py` (`smolgepa show`) and `report/` read runs only here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from smolgepa.callcounts import Calls, read_calls
from smolgepa.errors import SmolgepaError
from smolgepa.evaluation.evaluate import Prediction
from smolgepa.jsonfiles import read_jsonl

SCHEMA_VERSION = 1
TOOL = "smolgepa"  # config.json's `tool` (run directories written before 2026-12-01 have none)


@dataclass(frozen=True)
class Evaluation:
    """One instruction evaluated on one split, as kept in summaries (no per-example answers)."""

    n: int = 0
    correct: int = 0
    accuracy: float = 0.0
    ci95: tuple[float, float] = (0.0, 0.0)
    text: str = ""
    distribution: dict[str, int] = field(default_factory=dict)
    unparsed: int = 0
    decode: str = "free"
    findings: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Evaluation | None:
        if not data:
            return None
        low, high = (list(data.get("ci95") or (0.0, 0.0)) + [0.0, 0.0])[:2]
        return cls(int(data.get("n", 0)), int(data.get("correct", 0)), float(data.get("accuracy", 0.0)),
                   (low, high), str(data.get("text", "")), dict(data.get("distribution") or {}),
                   int(data.get("unparsed") or 0), str(data.get("decode") or "free"),
                   tuple(data.get("findings") or ()))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ci95=list(self.ci95), findings=list(self.findings))
        return data


@dataclass(frozen=True)
class Candidate:
    """An instruction GEPA kept (index 0: the seed), with its validation result."""

    idx: int = 0
    parent: int | None = None
    iteration: int = 0
    instruction: str = ""
    instruction_sha: str = ""
    tokens: int | None = None
    val: Evaluation | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Candidate | None:
        if not data:
            return None
        return cls(int(data.get("idx", 0)), data.get("parent"), int(data.get("iteration", 0)),
                   str(data.get("instruction") or ""), str(data.get("instruction_sha") or ""),
                   data.get("tokens"), Evaluation.from_json(data.get("val")))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "val": self.val.to_json() if self.val else None}


@dataclass
class Iteration:
    """One GEPA iteration: the proposal it made (or why none), its scores and its fate. The run's
    journal fills one in as the iteration goes (`smolgepa.optimize.journal`) and writes it with
    `to_json` (events.jsonl with `val_examples`, summary.json without); readers get it back with
    `from_json` (sequences as tuples, `val` as an `Evaluation`)."""

    iteration: int
    parent: int | None = None
    parent_sha: str | None = None
    minibatch_ids: Sequence[str] = ()
    before: Sequence[float] | None = None
    after: Sequence[float] | None = None
    status: str | None = None  # accepted | rejected | failed | duplicate | too_long | invalid | exhausted | skipped
    reason: str = ""
    text: str | None = None
    instruction_sha: str | None = None
    tokens: int | None = None
    candidate_idx: int | None = None
    val: Evaluation | None = None
    val_examples: list[dict[str, Any]] | None = None  # written to events.jsonl only (`recorded_example`)
    new_best: bool = False
    proposer: str = ""
    move: str | None = None
    parts: Sequence[str] = ()  # the parts of its parent the proposal changed (smolgepa.candidate.candidate_parts)
    reflection: dict[str, Any] | None = None
    screen: Sequence[dict[str, Any]] | None = None  # structural options screened from the parent (optimize.evidence)
    evidence: dict[str, Any] | None = None  # a structural proposal's paired verdict against its parent
    metric_calls: int = 0  # used by the run when this iteration ended
    seconds: float = 0.0  # wall time of the iteration when it was first run
    started: float = field(default=0.0, repr=False)  # never written

    @property
    def is_proposal(self) -> bool:
        """Whether the iteration got as far as asking for a proposal (skipped ones did not)."""
        return self.status not in (None, "skipped")

    def note(self) -> str:
        """What the iteration's table row says: for a scored proposal, the parts it changed and its move
        (`[examples] add failed example (negative) first`); otherwise why nothing was scored."""
        if self.status not in ("accepted", "rejected"):
            return self.reason
        changed = f"[{', '.join(self.parts)}] " if self.parts else ""
        return changed + (self.move or "")

    def to_json(self, with_examples: bool = True) -> dict[str, Any]:
        """The record as written: events.jsonl `with_examples`, summary.json without them (and without
        the reflection's raw answer). A `val` given as its JSON is written as given."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "started"}
        data.update(minibatch_ids=list(self.minibatch_ids), parts=list(self.parts),
                    before=None if self.before is None else list(self.before),
                    after=None if self.after is None else list(self.after),
                    val=self.val.to_json() if isinstance(self.val, Evaluation) else self.val,
                    screen=None if self.screen is None else list(self.screen))
        # screen and evidence are absent, not null, when there was none: older records stay alike
        data = {k: v for k, v in data.items() if v is not None or k not in ("screen", "evidence")}
        if not with_examples:
            data.pop("val_examples")
            if data.get("reflection"):
                data["reflection"] = {k: v for k, v in data["reflection"].items() if k != "raw"}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Iteration:
        before, after = data.get("before"), data.get("after")
        return cls(
            iteration=int(data["iteration"]), parent=data.get("parent"), parent_sha=data.get("parent_sha"),
            minibatch_ids=tuple(data.get("minibatch_ids") or ()), before=None if before is None else tuple(before),
            after=None if after is None else tuple(after), status=data.get("status"),
            reason=str(data.get("reason") or ""), text=data.get("text"), instruction_sha=data.get("instruction_sha"),
            tokens=data.get("tokens"), candidate_idx=data.get("candidate_idx"), val=Evaluation.from_json(data.get("val")),
            new_best=bool(data.get("new_best")), proposer=str(data.get("proposer") or ""), move=data.get("move"),
            parts=tuple(data.get("parts") or ()), reflection=data.get("reflection"),
            screen=tuple(data["screen"]) if data.get("screen") else None, evidence=data.get("evidence"),
            metric_calls=int(data.get("metric_calls") or 0), seconds=float(data.get("seconds") or 0.0),
        )


@dataclass(frozen=True)
class Counts:
    metric_calls: int = 0
    gepa_metric_calls: int = 0
    extra_metric_calls: int = 0
    budget: int | None = None  # None: not recorded
    proposals: int = 0
    iterations: int = 0


@dataclass(frozen=True)
class Capacity:
    capacity_problem: bool = False
    text: str = ""
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskInfo:
    name: str = ""
    labels: tuple[str, ...] = ()
    n: dict[str, int] = field(default_factory=dict)  # examples per split

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "labels": list(self.labels), "n": dict(self.n)}


@dataclass(frozen=True)
class RunSummary:
    """summary.json: the state of a run, rewritten after every iteration. `config` is the run's
    configuration as saved (`OptimizeConfig.to_json()`); `test` holds `seed` and `best` once run."""

    schema_version: int = SCHEMA_VERSION
    status: str = "?"
    stop_reason: str | None = None
    seed: Candidate | None = None
    best: Candidate | None = None
    iterations: tuple[Iteration, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    pareto_front: tuple[int, ...] = ()
    counts: Counts = field(default_factory=Counts)
    capacity: Capacity = field(default_factory=Capacity)
    config: dict[str, Any] = field(default_factory=dict)
    task: TaskInfo = field(default_factory=TaskInfo)
    proposer: str | None = None
    proposer_note: str = ""
    token_count: str = ""
    machine: str = ""
    model_file: dict[str, Any] | None = None  # path, format, size, sha256 of the GGUF file that answered
    calls: Calls = field(default_factory=Calls)
    test: dict[str, Evaluation] = field(default_factory=dict)
    final_pick: dict[str, Any] | None = None  # the pick among the Pareto front, with its evidence

    @property
    def student(self) -> str:
        return str(self.config.get("student", "?"))

    @property
    def task_name(self) -> str:
        return self.task.name or str(self.config.get("task", "?"))

    def to_json(self) -> dict[str, Any]:
        """summary.json as written. The run's facts (config to test) are written only with a
        configuration (a journal used on its own has none); `model_file` and `test` only when known."""
        data: dict[str, Any] = {
            "schema_version": self.schema_version,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "seed": self.seed.to_json() if self.seed else None,
            "best": self.best.to_json() if self.best else None,
            "iterations": [record.to_json(with_examples=False) for record in self.iterations],
            "candidates": [candidate.to_json() for candidate in self.candidates],
            "pareto_front": list(self.pareto_front),
            "counts": asdict(self.counts),
            "capacity": {**asdict(self.capacity), "evidence": list(self.capacity.evidence)},
        }
        if self.config:
            data.update(config=self.config, task=self.task.to_json(), proposer=self.proposer,
                        proposer_note=self.proposer_note, token_count=self.token_count, machine=self.machine)
            if self.model_file:
                data["model_file"] = self.model_file
            data["calls"] = self.calls.to_json()
            if self.test:
                data["test"] = {which: result.to_json() for which, result in self.test.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSummary:
        return cls(
            schema_version=int(data.get("schema_version") or SCHEMA_VERSION),
            status=str(data.get("status", "?")),
            stop_reason=data.get("stop_reason"),
            seed=Candidate.from_json(data.get("seed")),
            best=Candidate.from_json(data.get("best")),
            iterations=tuple(Iteration.from_json(r) for r in data.get("iterations") or ()),
            candidates=tuple(c for c in map(Candidate.from_json, data.get("candidates") or ()) if c),
            pareto_front=tuple(data.get("pareto_front") or ()),
            counts=_known(Counts, data.get("counts")),
            capacity=_capacity(data.get("capacity")),
            config=dict(data.get("config") or {}),
            task=_task(data.get("task")),
            proposer=data.get("proposer"),
            proposer_note=str(data.get("proposer_note") or ""),
            token_count=str(data.get("token_count") or ""),
            machine=str(data.get("machine") or ""),
            model_file=data.get("model_file"),
            calls=read_calls(data.get("calls")),
            test={k: e for k, e in ((k, Evaluation.from_json(v)) for k, v in (data.get("test") or {}).items()) if e},
            final_pick=data.get("final_pick"),
        )


def _known(cls: Any, data: dict[str, Any] | None) -> Any:
    """A dataclass from the keys it knows (a record from an older or newer writer may have others)."""
    names = set(cls.__dataclass_fields__)
    return cls(**{k: v for k, v in (data or {}).items() if k in names})


def _capacity(data: dict[str, Any] | None) -> Capacity:
    data = data or {}
    return Capacity(bool(data.get("capacity_problem")), str(data.get("text") or ""), tuple(data.get("evidence") or ()))


def _task(data: dict[str, Any] | None) -> TaskInfo:
    data = data or {}
    return TaskInfo(str(data.get("name") or ""), tuple(data.get("labels") or ()), dict(data.get("n") or {}))


@dataclass(frozen=True)
class SeedEvaluated:
    """The seed instruction evaluated on validation."""

    candidate: Candidate
    val_examples: tuple[Prediction, ...]


@dataclass(frozen=True)
class IterationEvent:
    """An iteration's full record, with the per-example validation answers when it was evaluated."""

    iteration: Iteration
    val_examples: tuple[Prediction, ...]


@dataclass(frozen=True)
class TestEvaluated:
    """The seed or the best instruction (`which`) evaluated on the held-out test split."""

    which: str
    candidate: int
    result: Evaluation | None
    examples: tuple[Prediction, ...]


@dataclass(frozen=True)
class RunEvents:
    """The events of events.jsonl that reports read (the first of each; a resumed run writes none twice)."""

    seed: SeedEvaluated | None = None
    iterations: tuple[IterationEvent, ...] = ()
    tests: dict[str, TestEvaluated] = field(default_factory=dict)

    def iteration(self, number: int) -> IterationEvent | None:
        return next((e for e in self.iterations if e.iteration.iteration == number), None)

    def of_candidate(self, index: int) -> IterationEvent | None:
        return next((e for e in self.iterations if e.iteration.candidate_idx == index), None)


def recorded_example(prediction: Prediction) -> dict[str, Any]:
    """A prediction as events keep it (the input stays in the task file)."""
    p = prediction
    return {"id": p.id, "label": p.label, "predicted": p.predicted, "raw": p.raw, "parse_method": p.parse_method}


def _predictions(examples: list[dict[str, Any]] | None, inputs: dict[str, str]) -> tuple[Prediction, ...]:
    return tuple(
        Prediction(str(e.get("id")), inputs.get(str(e.get("id")), ""), str(e.get("label")), e.get("predicted"),
                   str(e.get("raw") or ""), str(e.get("parse_method") or ""))
        for e in examples or []
    )


def parse_events(records: list[dict[str, Any]], inputs: dict[str, str] | None = None) -> RunEvents:
    """The typed events of raw events.jsonl records; `inputs` (example id -> text) fills each prediction's input."""
    inputs = inputs or {}
    seed, iterations, tests = None, [], {}
    for record in records:
        _check_version(record.get("schema_version", SCHEMA_VERSION), "events.jsonl")
        kind = record.get("event")
        if kind == "seed_evaluated" and seed is None:
            candidate = Candidate.from_json(record.get("candidate")) or Candidate()
            seed = SeedEvaluated(candidate, _predictions(record.get("val_examples"), inputs))
        elif kind == "iteration":
            iterations.append(IterationEvent(Iteration.from_json(record), _predictions(record.get("val_examples"), inputs)))
        elif kind == "test_evaluated" and record.get("which") not in tests:
            tests[str(record.get("which"))] = TestEvaluated(
                str(record.get("which")), int(record.get("candidate") or 0), Evaluation.from_json(record.get("result")),
                _predictions(record.get("examples"), inputs))
    return RunEvents(seed, tuple(iterations), tests)


def read_events(run_dir: str | Path, inputs: dict[str, str] | None = None) -> RunEvents:
    """The events of a run directory (a partial last line, left by a killed run, is skipped)."""
    return parse_events(read_jsonl(Path(run_dir) / "events.jsonl"), inputs)


def run_config_json(run_dir: str | Path) -> dict[str, Any]:
    """config.json of a run directory as written, after checking it is a smolgepa run of this schema version."""
    path = Path(run_dir) / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SmolgepaError(
            f"{path} does not exist: {Path(run_dir)} is not a smolgepa run directory, or its run stopped before "
            "writing its configuration (start that run again, without --resume)."
        ) from None
    except (OSError, ValueError) as exc:
        raise SmolgepaError(
            f"Cannot read {path} ({exc}): {Path(run_dir)} is not a readable smolgepa run directory."
        ) from None
    tool = data.get("tool", TOOL) if isinstance(data, dict) else None
    if tool != TOOL or not isinstance(data.get("config"), dict):
        raise SmolgepaError(
            f"{path} was not written by smolgepa (tool {tool!r}, no run configuration): {Path(run_dir)} is another "
            "tool's directory. Choose another --run-dir."
        )
    _check_version(data.get("schema_version", SCHEMA_VERSION), path)
    return data


def summary_json(run_dir: str | Path) -> dict[str, Any]:
    """summary.json of a run directory as written, after checking it can be read."""
    path = Path(run_dir) / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SmolgepaError(
            f"{path} does not exist: {Path(run_dir)} is not a smolgepa run directory, "
            "or its run has not finished evaluating the seed instruction yet."
        ) from None
    except ValueError as exc:
        raise SmolgepaError(f"{path} is not valid JSON ({exc}).") from None
    _check_version(data.get("schema_version", SCHEMA_VERSION) if isinstance(data, dict) else None, path)
    return data


def _check_version(version: Any, where: str | Path) -> None:
    """Records without a version are from before it was written (version 1); others must be this one."""
    if version != SCHEMA_VERSION:
        raise SmolgepaError(
            f"{where} has schema_version {version!r}; this smolgepa reads version {SCHEMA_VERSION}. "
            "Use the smolgepa version that wrote it, or start a new run directory."
        )


def read_summary(run_dir: str | Path) -> RunSummary:
    """summary.json of a run directory, finished or not, as a RunSummary."""
    return RunSummary.from_json(summary_json(run_dir))
