"""The configuration of one optimization run: a frozen dataclass validated once, at construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.reading import SCORING_MODES
from smolgepa.lm.kinds.base import parse_model_spec
from smolgepa.lm.options import check_model_format
from smolgepa.student_settings import StudentSettings
from smolgepa.verifier.limits import MAX_TOKENS as VERIFIER_MAX_TOKENS, TIMEOUT as VERIFIER_TIMEOUT

TEMPLATES = ("tiny", "gepa")
CANDIDATE_SELECTION = ("pareto", "current_best")
FEWSHOT = "fewshot"
RULES = "rules"
OFFLINE_PROPOSERS = (FEWSHOT, RULES)  # built in, no LLM
TEXT_MOVE_RULES = ("minibatch", "evidence")  # smolgepa.optimize.evidence.acceptance.TEXT_RULES
# Settings that may change when a run is resumed: they decide when to stop, or how to reach the
# student's server (not what it answers).
SERVER_SETTINGS = ("student_timeout", "student_retries", "student_backoff", "student_api_key_env")
RESUMABLE_CHANGES = frozenset({"budget", "max_proposals", "patience", "resume", "threads", "run_dir", "response_cache",
                               "verifier_timeout", "verifier_key_env", *SERVER_SETTINGS})
IN_PROCESS_SETTINGS = ("model_format",)  # which re-encoding of an in-process student's file answers


@dataclass(frozen=True)
class OptimizeConfig:
    """Everything that decides what an optimization run does. Holds no secrets: API keys stay in
    the environment (`reflection_key_env` names the variable, never the key).

    `reflection` None means a built-in proposer (no LLM needed): `rules` for agent-trace tasks,
    `fewshot` for text tasks (see `offline_proposer`).
    `budget` counts metric calls (one student answer scored = one call), as GEPA does.
    """

    task: str
    student: str = "embedded"
    reflection: str | None = None
    reflection_template: str = "tiny"
    budget: int = 120
    max_proposals: int | None = None
    patience: int | None = None
    max_instruction_tokens: int = 300
    eval_every_proposal: bool = False
    seed: int = 0
    minibatch_size: int = 3
    run_dir: str | None = None
    resume: bool = False
    candidate_selection: str = "pareto"
    threads: int = 1
    render: str | None = None
    student_max_tokens: int | None = None
    decode: str = "free"  # the student's decode mode: free, constrained, scored, channel, knn, ensemble
    calibrate: bool = False  # calibration of the label scores (smolgepa.lm.readings.reading)
    calibration: str = "content-free"  # with calibrate: content-free (scored) or train (scored, channel, ensemble)
    knn_k: int = 12  # with decode knn: neighbours that vote (DEFAULT_KNN_K)
    reflection_timeout: float = 300.0
    reflection_max_tokens: int = 2048
    reflection_temperature: float = 0.7
    reflection_key_env: str | None = None
    student_timeout: float | None = None  # server students: --timeout (None: ServerSettings' default)
    student_retries: int | None = None  # server students: --retries
    student_backoff: float | None = None  # server students: --backoff (seconds before the first retry)
    student_api_key_env: str | None = None  # server students: --api-key-env (the variable's name, never the key)
    readings: bool = False  # built-in proposers may also change how the answer is read (smolgepa.candidate.reading_line)
    reading_choices: tuple[str, ...] = ()  # with `readings`: only these may be proposed (empty: every one offered)
    text_moves: str = "minibatch"  # how text moves are accepted: GEPA's minibatch or the paired test (evidence)
    label_words: bool = False  # built-in proposers may also change the label words (smolgepa.candidate.label_words)
    exact_model: bool = False  # the model file as given (embedded: the shipped Q4_1), not the faster re-encoding
    fast_model: bool = False  # deprecated: re-encode a gguf:PATH student too (embedded: the default already)
    model_format: str | None = None  # the re-encoding's format, instead of this CPU's probe's choice
    response_cache: bool = False  # also the disk response cache (smolgepa.lm.response_cache) under the run's own cache
    verifier: str | None = None  # a model that explains each minibatch failure in the feedback (smolgepa.verifier)
    verifier_timeout: float = VERIFIER_TIMEOUT
    verifier_max_tokens: int = VERIFIER_MAX_TOKENS
    verifier_key_env: str | None = None

    def __post_init__(self) -> None:
        _positive("budget", self.budget)
        _positive("minibatch_size", self.minibatch_size)
        _positive("max_instruction_tokens", self.max_instruction_tokens)
        _positive("threads", self.threads)
        _positive("reflection_max_tokens", self.reflection_max_tokens)
        if self.max_proposals is not None:
            _positive("max_proposals", self.max_proposals)
        if self.patience is not None:
            _positive("patience", self.patience)
        if self.student_max_tokens is not None:
            _positive("student_max_tokens", self.student_max_tokens)
        if not self.reflection_timeout > 0:
            raise SmolgepaError(f"reflection_timeout must be more than 0 seconds, got {self.reflection_timeout}.")
        if not 0 <= self.reflection_temperature <= 2:
            raise SmolgepaError(f"reflection_temperature must be between 0 and 2, got {self.reflection_temperature}.")
        if self.reflection_template not in TEMPLATES:
            raise SmolgepaError(
                f"Unknown reflection template {self.reflection_template!r}. Available: {', '.join(TEMPLATES)}."
            )
        if self.candidate_selection not in CANDIDATE_SELECTION:
            raise SmolgepaError(
                f"Unknown candidate selection {self.candidate_selection!r}. Available: {', '.join(CANDIDATE_SELECTION)}."
            )
        _check_decode(self.student, self.decode, self.calibrate, self.calibration, self.knn_k)
        check_model_format(self.model_format, self.exact_model)
        if any(getattr(self, name) is not None for name in SERVER_SETTINGS):
            self.student_server_settings()  # raises for bad values, or for an in-process student
        if not self.task.strip():
            raise SmolgepaError("No task given: pass a built-in task name or the path to a task YAML file.")
        if self.resume and not self.run_dir:
            raise SmolgepaError("--resume needs --run-dir: the directory of the run to continue.")
        if self.readings and (self.decode not in SCORING_MODES or _server_kind(self.student) not in (None, "llamacpp")):
            raise SmolgepaError(
                "--readings lets proposers change how the student's answer is scored: use it with "
                "--student embedded (or gguf:PATH, or a llama.cpp server, llamacpp:URL) and a scoring --decode "
                f"({', '.join(SCORING_MODES)})."
            )
        self._check_reading_choices()
        if self.text_moves not in TEXT_MOVE_RULES:
            raise SmolgepaError(f"Unknown --text-moves rule {self.text_moves!r}. Available: {', '.join(TEXT_MOVE_RULES)}.")
        if self.label_words and (self.decode not in SCORING_MODES or _server_kind(self.student) is not None):
            raise SmolgepaError(
                "--label-words lets proposers change the words the student is scored on: use it with "
                f"--student embedded (or gguf:PATH) and a scoring --decode ({', '.join(SCORING_MODES)})."
            )
        if self.reflection is not None and not self.reflection.strip():
            raise SmolgepaError("--reflection is empty: pass a model spec, cmd:\"COMMAND\", fewshot or rules.")
        if self.verifier is not None:
            from smolgepa.verifier.verifier_model import check_verifier

            check_verifier(self.verifier)
        if not self.verifier_timeout > 0:
            raise SmolgepaError(f"verifier_timeout must be more than 0 seconds, got {self.verifier_timeout}.")
        if self.verifier_max_tokens < 1:
            raise SmolgepaError(f"verifier_max_tokens must be at least 1, got {self.verifier_max_tokens}.")

    def _check_reading_choices(self) -> None:
        from smolgepa.candidate.reading_line import PROPOSAL_ORDER, READINGS

        if self.reading_choices and not self.readings:
            raise SmolgepaError("reading_choices names the readings --readings may propose: give it with --readings.")
        unknown = [name for name in self.reading_choices if name not in READINGS]
        if unknown:
            raise SmolgepaError(f"--readings: unknown reading {', '.join(unknown)}; choose from "
                                f"{', '.join(PROPOSAL_ORDER)} (comma-separated), or give --readings alone for all.")

    @property
    def reflection_spec(self) -> str:
        """The reflection spec in force (`fewshot` when none was given)."""
        return (self.reflection or FEWSHOT).strip()

    @property
    def uses_fewshot(self) -> bool:
        return self.reflection_spec == FEWSHOT

    def offline_proposer(self, input_format: str) -> str | None:
        """The built-in proposer in force for a task with `input_format` (`rules` or `fewshot`), or
        None when a reflection model was given."""
        if self.reflection is None:
            return RULES if input_format == "trace" else FEWSHOT
        spec = self.reflection.strip()
        return spec if spec in OFFLINE_PROPOSERS else None

    def offered_readings(self, task: Any = None) -> tuple[str, ...]:
        """The readings a built-in proposer may write into a candidate (none unless `readings`): those
        the student can score with (a llama.cpp server has no `probe`). With the run's `task`, those that
        read the evidence figures (`hidden-figures`) only on a trace task rendered with them (summary,
        annotated); named in `reading_choices` for another task, they are refused in one line."""
        from smolgepa.candidate.reading_line import PROPOSAL_ORDER
        from smolgepa.lm.kinds import student_kind

        if not self.readings:
            return ()
        kind = _server_kind(self.student)
        order = PROPOSAL_ORDER if not self.reading_choices else tuple(
            [r for r in PROPOSAL_ORDER if r in self.reading_choices]
            + [r for r in self.reading_choices if r not in PROPOSAL_ORDER])
        if task is not None:
            order = _figure_readings_for(task, order, self.reading_choices)
        return order if kind is None else tuple(r for r in order if r in student_kind(kind).readings())

    def own_reading(self) -> str:
        """The reading of a candidate without a `Reading:` line: the student's decode settings."""
        from smolgepa.lm.readings.reading import reading_name

        return reading_name(self.decode, self.calibrate, self.calibration)

    def student_settings(self) -> StudentSettings:
        """The run's student settings (the same ones `eval` takes as flags)."""
        return StudentSettings(
            student=self.student,
            max_tokens=self.student_max_tokens,
            decode=self.decode,
            calibrate=self.calibrate,
            calibration=self.calibration,
            knn_k=self.knn_k,
            timeout=self.student_timeout,
            retries=self.student_retries,
            backoff=self.student_backoff,
            api_key_env=self.student_api_key_env,
            threads=self.threads,
            cache=self.response_cache,
            exact_model=self.exact_model,
            fast_model=self.fast_model,
            model_format=self.model_format,
        )

    def student_server_settings(self) -> dict[str, Any]:
        """ServerSettings overrides for the student (empty for an in-process student); `threads` is
        the number of requests in flight (see smolgepa.lm.student)."""
        return self.student_settings().server()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OptimizeConfig:
        if "exact_model" not in data:  # saved before the re-encoded default: it answered from the file as given
            data = {**data, "exact_model": not data.get("fast_model", False)}
        if "reading_choices" in data:  # a JSON list
            data = {**data, "reading_choices": tuple(data["reading_choices"] or ())}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SmolgepaError(f"Unknown settings in a saved run configuration: {', '.join(unknown)}.")
        return cls(**data)

    def with_changes(self, **changes: Any) -> OptimizeConfig:
        return replace(self, **changes)


def _check_decode(student: str, decode: str, calibrate: bool, calibration: str, knn_k: int) -> None:
    """The decode mode is known, --calibrate comes with a mode that takes it, and the student's kind can
    do it (smolgepa.lm.readings.reading.check_decode, as for every student; the labels and training examples are
    checked with the task)."""
    from smolgepa.lm.kinds import student_kind
    from smolgepa.lm.readings.reading import check_decode

    check_decode(decode, None, calibrate, calibration, counts={"--knn-k": knn_k})
    kind = _student_kind(student)[0]
    if kind is not None:
        student_kind(kind).check_decode(decode, calibrate, calibration)


def _student_kind(student: str) -> tuple[str | None, bool]:
    """(the student spec's kind, whether it is a server); (None, False) for a spec reported elsewhere,
    where the student is built, with the forms that exist."""
    try:
        spec = parse_model_spec(student)
    except SmolgepaError:
        return None, False
    return spec.kind, spec.is_server


def _server_kind(student: str) -> str | None:
    """The server kind of a student spec (None: in-process, or a spec reported elsewhere)."""
    kind, is_server = _student_kind(student)
    return kind if is_server else None


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SmolgepaError(f"{name} must be a whole number of at least 1, got {value!r}.")


def load_saved_config(run_dir: str | Path) -> OptimizeConfig:
    """The configuration a run directory was started with (refused if another tool or schema wrote it)."""
    from smolgepa.runrecord import run_config_json

    return OptimizeConfig.from_json(run_config_json(run_dir)["config"])


def check_resume_compatible(saved: OptimizeConfig, requested: OptimizeConfig) -> None:
    """A resumed run must do the same thing as the saved one; only stopping settings may change."""
    differences = [
        f"{f.name}: saved {getattr(saved, f.name)!r}, requested {getattr(requested, f.name)!r}"
        for f in fields(OptimizeConfig)
        if f.name not in RESUMABLE_CHANGES and getattr(saved, f.name) != getattr(requested, f.name)
    ]
    if differences:
        raise SmolgepaError(
            f"Cannot resume {requested.run_dir} with different settings ({'; '.join(differences)}). "
            f"Only {', '.join(sorted(RESUMABLE_CHANGES - {'resume'}))} may change; "
            "start a new run directory for other settings."
        )


def _figure_readings_for(task: Any, order: tuple[str, ...], named: tuple[str, ...]) -> tuple[str, ...]:
    """`order` without the readings of the evidence figures unless `task` is a trace task whose training
    inputs carry them; one `named` explicitly there is refused in one line."""
    from smolgepa.candidate.reading_line import READINGS
    from smolgepa.lm.readings.hidden_figures import check_figures
    from smolgepa.lm.readings.reading import FIGURE_MODES

    figure_readings = [name for name in order if READINGS.get(name, ("",))[0] in FIGURE_MODES]
    if not figure_readings:
        return order
    try:
        if task.input_format != "trace":
            raise SmolgepaError(f"task {task.name!r} is not a trace task")
        check_figures([(e.input, e.label) for e in task.split("train")])
    except SmolgepaError as exc:
        refused = [name for name in figure_readings if name in named]
        if refused:
            raise SmolgepaError(f"--readings {', '.join(refused)}: it reads the evidence figures of a rendered trace, "
                                f"which this task's inputs do not carry ({exc}).") from None
        return tuple(name for name in order if name not in figure_readings)
    return order
