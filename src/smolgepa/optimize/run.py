"""`optimize(config) -> RunResult`: run dspy.GEPA on a one-predictor program for a tiny student."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dspy

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.errors import DiskFullError, RunDirReplacedError, SmolgepaError
from smolgepa.evaluation.evaluate import EvalReport, evaluate
from smolgepa.lm.async_engine import async_engine_for
from smolgepa.lm.student import Student
from smolgepa.lm.options import train_pairs
from smolgepa.optimize.cache import CachedReflector, JsonlCache, RunCache
from smolgepa.optimize.modelfile import check_model_file_record, started_format
from smolgepa.optimize.evidence.acceptance import EvidenceAcceptance, evidence_reason, is_structural
from smolgepa.optimize.evidence.final_pick import pick_final
from smolgepa.optimize.evidence.screen import EvidenceJudge
from smolgepa.optimize.config import RULES, OptimizeConfig, check_resume_compatible, load_saved_config
from smolgepa.optimize.feedback import Explainer, make_metric
from smolgepa.optimize.fewshot import FewshotProposer
from smolgepa.optimize.fit_export import save_best_fit
from smolgepa.machine import cpu_description
from smolgepa.optimize.iteration import report_examples, report_summary
from smolgepa.optimize.journal import Journal
from smolgepa.optimize.label_word_search import LabelWordSearch
from smolgepa.optimize.run_summary import RunFacts
from smolgepa.optimize.offline_proposer import ProposalGate, ReflectionProposer
from smolgepa.optimize.reflection import ReflectionSettings, describe_reflection, make_backend
from smolgepa.optimize.rules_proposer import RulesProposer
from smolgepa.optimize.rundir import Redactor, RunDir
from smolgepa.locks import RunLock
from smolgepa.optimize.tables import render_run
from smolgepa.adapter.program import make_program, seed_instruction
from smolgepa.jsonfiles import disk_full_errors
from smolgepa.progress import Progress
from smolgepa.runrecord import RunSummary
from smolgepa.tasks import load_task
from smolgepa.tasks.model import Example, Task

if TYPE_CHECKING:  # smolgepa.verifier imports the reflection backends of this package
    from smolgepa.optimize.verifier_feedback import VerifierFeedback

FEWSHOT_NOTE = "No reflection model given: using the built-in fewshot proposer (labelled examples, no LLM)."
RULES_NOTE = (
    "No reflection model given: using the built-in rules proposer for agent traces "
    "(counting rules fitted on train, no LLM)."
)


@dataclass(frozen=True)
class RunResult:
    """What a run produced; everything is also in `run_dir`. `summary` is summary.json as written."""

    run_dir: Path
    summary: dict[str, Any]

    @property
    def record(self) -> RunSummary:
        """The summary as typed data."""
        return RunSummary.from_json(self.summary)

    @property
    def best_instruction(self) -> str:
        best = self.record.best
        return best.instruction if best else ""

    @property
    def seed_instruction(self) -> str:
        seed = self.record.seed
        return seed.instruction if seed else ""

    def tables(self) -> str:
        return render_run(self.record, str(self.run_dir))

    def to_json(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), **self.summary}


def show(run_dir: str | Path) -> RunResult:
    """The tables and summary of a run directory, finished or not."""
    directory = RunDir(run_dir)
    return RunResult(directory.path, directory.read_summary())


def default_run_dir(task: str) -> str:
    name = Path(task).stem if task.endswith((".yaml", ".yml")) else task
    return str(Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")


def task_fingerprint(task: Task) -> str:
    """A hash of what the run learns from: labels, description and every example with its split."""
    data = {
        "labels": task.labels,
        "description": task.description,
        "examples": [[e.id, e.input, e.label, e.split] for e in task.examples],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()



def _dspy_examples(examples: list[Example]) -> list[dspy.Example]:
    return [dspy.Example(input=e.input, label=e.label).with_inputs("input") for e in examples]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide DSPy's per-call warnings and the progress bars of GEPA and of DSPy's trace capture
    (both hard-coded on); the journal prints one line per iteration instead."""
    import gepa.core.engine as engine_module
    from dspy.teleprompt import bootstrap_trace

    original_evaluate = bootstrap_trace.Evaluate
    loggers = [logging.getLogger(name) for name in ("dspy", "gepa")]
    levels = [logger.level for logger in loggers]
    original_tqdm = getattr(engine_module, "tqdm", None)
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    if original_tqdm is not None:
        engine_module.tqdm = lambda *args, **kwargs: original_tqdm(*args, **{**kwargs, "disable": True})
    bootstrap_trace.Evaluate = lambda *args, **kwargs: original_evaluate(*args, **{**kwargs, "display_progress": False})
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if original_tqdm is not None:
            engine_module.tqdm = original_tqdm
        bootstrap_trace.Evaluate = original_evaluate


@contextlib.contextmanager
def _failure_reported_once(engine: RunCache) -> Iterator[None]:
    """Once the student has failed (a dead server, a full disk), DSPy logs an error for every example
    that follows; the run ends with that failure in one line, so those are left out."""
    logger = logging.getLogger("dspy.utils.parallelizer")

    def keep(record: logging.LogRecord) -> bool:
        return engine.failure is None

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


@contextlib.contextmanager
def _interrupts_to(journal: Journal) -> Iterator[None]:
    """Ctrl-C and SIGTERM end the run and tell the journal first, so the iteration cut short is
    not recorded (resume redoes it): the run directory is left consistent and resumable."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        journal.interrupted = True
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _prepare(config: OptimizeConfig) -> tuple[OptimizeConfig, RunDir]:
    if config.resume:
        assert config.run_dir is not None  # validated by OptimizeConfig
        saved = load_saved_config(config.run_dir)
        check_resume_compatible(saved, config)
    else:
        config = config.with_changes(run_dir=config.run_dir or default_run_dir(config.task))
    redact = Redactor(key_envs=(config.student_api_key_env, config.reflection_key_env, config.verifier_key_env))
    run_dir = RunDir(config.run_dir or "", redact)
    run_dir.prepare(config.resume)
    return config, run_dir


def _check_task(config: OptimizeConfig, task: Task, run_dir: RunDir) -> str:
    """The task's fingerprint: written with the config of a new run, compared on resume."""
    fingerprint = task_fingerprint(task)
    if not config.resume:
        run_dir.write_config(config.to_json(), {"task_fingerprint": fingerprint})
        return fingerprint
    saved_fingerprint = json.loads(run_dir.config_file.read_text(encoding="utf-8")).get("task_fingerprint")
    if saved_fingerprint != fingerprint:
        raise SmolgepaError(
            f"Cannot resume {run_dir.path}: the task {config.task!r} has changed since the run started. "
            "Start a new run directory."
        )
    return fingerprint



def _student(config: OptimizeConfig, task: Task, run_dir: RunDir) -> tuple[Student, dspy.LM, RunCache]:
    """The student as the run uses it: every answer recorded in (and replayed from) the run directory."""
    options = config.student_settings().options(task.labels, train_pairs(task))
    student = Student(config.student, options)
    if config.resume and student.kind.reencodes(options) and (fmt := started_format(run_dir)) is not None:
        student = Student(config.student, dataclasses.replace(options, model_format=fmt))  # on any CPU
    answers = JsonlCache(run_dir.student_cache_file, run_dir.redact, run_dir.guard)
    engine = RunCache.for_student(student, answers, config.resume)
    return student, student.lm().copy(engine=engine, async_engine=async_engine_for(engine)), engine


@dataclass
class _Proposing:
    """The proposer of a run, its name and note for the summary, and its reflection model if any."""

    proposer: Any
    name: str
    note: str
    reflector: CachedReflector | None = None


def _proposing(config: OptimizeConfig, task: Task, journal: Journal, run_dir: RunDir,
               count_tokens: Callable[[str], int], student: Student, judge: EvidenceJudge) -> _Proposing:
    """The run's proposer (label words are searched with the student's own engine)."""
    gate = ProposalGate(journal, count_tokens, config.max_instruction_tokens, task.label_names)
    offline = config.offline_proposer(task.input_format)
    if offline is not None:
        words = LabelWordSearch(student.engine(), task, seed_instruction(task)) if config.label_words else None
        proposer = (RulesProposer if offline == RULES else FewshotProposer)(
            task, gate, journal, config.offered_readings(task), config.own_reading(), words, judge
        )
        default_note = RULES_NOTE if offline == RULES else FEWSHOT_NOTE
        note = default_note if config.reflection is None else ""
        return _Proposing(proposer, offline, " ".join(part for part in (note, proposer.unusable_note()) if part))
    settings = ReflectionSettings(
        timeout=config.reflection_timeout,
        max_tokens=config.reflection_max_tokens,
        temperature=config.reflection_temperature,
        key_env=config.reflection_key_env,
        seed=config.seed,
    )
    reflector = CachedReflector(
        make_backend(config.reflection_spec, settings),
        describe_reflection(config.reflection_spec),
        JsonlCache(run_dir.reflection_cache_file, run_dir.redact, run_dir.guard),
    )
    proposer = ReflectionProposer(
        task, reflector, gate, journal, config.reflection_template, student.size_class(),
        config.offered_readings(task), config.label_words,
    )
    name = f"reflection ({config.reflection_spec}, template {config.reflection_template})"
    return _Proposing(proposer, name, "", reflector)


def _facts(config: OptimizeConfig, task: Task, token_method: str) -> RunFacts:
    """What the summary says about the run besides its records (proposer and calls come later)."""
    n = {split: len(task.split(split)) for split in ("train", "val", "test")}
    return RunFacts(config=config.to_json(), task={"name": task.name, "labels": list(task.labels), "n": n},
                    token_count=token_method, machine=cpu_description())


def _call_counts(engine: RunCache, reflector: CachedReflector | None, verifying: VerifierFeedback | None,
                 started: float) -> Callable[[], dict]:
    return lambda: {
        "student": engine.counter.to_json(),
        "reflection": reflector.counter.to_json() if reflector else {"calls": 0, "cached": 0, "seconds": 0},
        "wall_seconds_this_process": round(time.monotonic() - started, 1),
        **({"verifier": verifying.count().to_json()} if verifying else {}),
    }


def _gepa(config: OptimizeConfig, task: Task, journal: Journal, proposer: Any, judge: EvidenceJudge,
          explain: Explainer | None) -> dspy.GEPA:
    def judged(comparison: Any) -> None:
        journal.evidence_judged(comparison.parent.to_json(), comparison.option.to_json(), evidence_reason(comparison))

    return dspy.GEPA(
        metric=make_metric(task, journal.diagnostics_for, explain),
        max_metric_calls=config.budget,
        reflection_minibatch_size=config.minibatch_size,
        candidate_selection_strategy=config.candidate_selection,  # type: ignore[arg-type]
        instruction_proposer=proposer,
        add_format_failure_as_feedback=True,
        use_merge=False,
        num_threads=config.threads,
        track_stats=True,
        warn_on_score_mismatch=False,
        seed=config.seed,
        gepa_kwargs={"callbacks": [journal], "stop_callbacks": [journal],
                     "acceptance_criterion": EvidenceAcceptance(judge, judged, config.text_moves)},
    )


def _pick_final(journal: Journal, judge: EvidenceJudge, facts: RunFacts) -> None:
    """Among the Pareto front (and validation's best), the candidate with most answers right on the
    training split (out of fold) and validation together (`optimize.evidence.final_pick`), when they
    differ in reading or label words."""
    indices = sorted({*journal.pareto_front, journal.best.idx})
    kept = {c.idx: c.instruction for c in journal.tracker.kept()}
    candidates = [(i, kept[i]) for i in indices if i in kept]
    if len(candidates) < 2 or not any(is_structural(candidates[0][1], text) for _, text in candidates[1:]):
        return  # front candidates that differ only in text: validation's choice stands, as in plain GEPA
    best = kept[journal.best.idx]
    if len(candidates) == 2 and any(judge.proven(text, best) for _, text in candidates if text != best):
        return  # validation's best already won the paired test against the other: nothing left to pick
    pick = pick_final(judge, candidates, journal.best.idx)
    journal.tracker.best_idx = pick.chosen
    facts.final_pick = pick.to_json()
    journal.emit("final_pick", **pick.to_json())


def _test_best(task: Task, journal: Journal, evaluate_test: Callable[[str], EvalReport], facts: RunFacts) -> None:
    """Evaluate the seed and the best instruction on the held-out test split (when it has examples)."""
    best = journal.best
    if not task.split("test"):
        return
    for name, instruction in (("seed", journal.seed.instruction), ("best", best.instruction)):  # type: ignore[union-attr]
        report = evaluate_test(instruction)
        facts.test[name] = report_summary(report)
        journal.emit("test_evaluated", which=name, candidate=0 if name == "seed" else best.idx,
                     result=facts.test[name], examples=report_examples(report))


def optimize(config: OptimizeConfig, progress: Progress | Callable[[str], None] | None = None) -> RunResult:
    """Run GEPA as configured, recording everything in the run directory. `progress` shows the budget
    used, the best validation so far and each iteration's line (`smolgepa.progress`), or gets the lines."""
    task = load_task(config.task, render=config.render)
    train, val = task.split("train"), task.split("val")
    for name, split in (("train", train), ("val", val)):
        if not split:
            raise SmolgepaError(f"Task {task.name} has no {name} examples ({task.source}); GEPA needs train and val.")
    config.offered_readings(task)  # a reading named for a task that cannot take it: refused before the run is written
    config, run_dir = _prepare(config)
    with RunLock(run_dir.path) as lock:
        run_dir.guard = lock.check
        run_dir.remove_temporaries()
        return _optimize(config, task, run_dir, progress)


def _optimize(config: OptimizeConfig, task: Task, run_dir: RunDir, progress: Progress | None) -> RunResult:
    """The run itself, in a run directory this process holds."""
    train, val = task.split("train"), task.split("val")
    fingerprint = _check_task(config, task, run_dir)
    student, lm, engine = _student(config, task, run_dir)
    model_file = check_model_file_record(run_dir, student.model_file(), config.resume)
    count_tokens, token_method = student.token_counter()

    def evaluate_on(split: str) -> Callable[[str], EvalReport]:
        examples = task.split(split)
        return lambda instruction: evaluate(task, lm, examples, instruction, student=config.student, split=split,
                                            threads=config.threads, decode=student.decode)

    def evaluate_set(instruction: str, examples: list[Example], split: str) -> EvalReport:
        return evaluate(task, lm, examples, instruction, student=config.student, split=split,
                        threads=config.threads, decode=student.decode)

    judge = EvidenceJudge(task, evaluate_set, seed=config.seed)
    facts = _facts(config, task, token_method)
    facts.model_file = model_file
    from smolgepa.optimize.verifier_feedback import verifier_feedback

    verifying = verifier_feedback(config, task, run_dir)  # None without --verifier
    journal = Journal(run_dir, budget=config.budget, max_proposals=config.max_proposals, patience=config.patience,
                      eval_every_proposal=config.eval_every_proposal, train=train, evaluate_val=evaluate_on("val"),
                      count_tokens=count_tokens, progress=progress,
                      student_failure=lambda: engine.failure or (verifying.failure if verifying else None),
                      facts=facts)
    proposing = _proposing(config, task, journal, run_dir, count_tokens, student, judge)
    facts.proposer, facts.proposer_note = proposing.name, proposing.note
    facts.calls = _call_counts(engine, proposing.reflector, verifying, time.monotonic())
    if config.resume:
        journal.emit("resumed", config=config.to_json())
    else:
        journal.emit("run_started", config=config.to_json(), task_fingerprint=fingerprint, proposer=proposing.name)
    if proposing.note:
        journal.progress.say(proposing.note)
    journal.progress.start("optimizing", config.budget, unit="call")
    gepa = _gepa(config, task, journal, proposing.proposer, judge, verifying)
    status = "failed"
    try:
        with (_quiet(), _failure_reported_once(engine), _interrupts_to(journal),
              dspy.context(lm=lm, adapter=PlainTextAdapter())):
            gepa.compile(make_program(task, seed_instruction(task)), trainset=_dspy_examples(train),
                         valset=_dspy_examples(val))
            failure = journal.student_failure() or journal.fatal
            if failure is not None:
                raise failure
            journal.emit("stopped", reason=journal.stop_reason, pareto_front=journal.pareto_front)
            _pick_final(journal, judge, facts)
            _test_best(task, journal, evaluate_on("test"), facts)
            export(task, journal.best.instruction, run_dir)
            save_best_fit(task, journal.best.instruction, run_dir.path, student)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        journal.stop_reason = journal.stop_reason or "interrupted (Ctrl-C or SIGTERM); continue with --resume"
        raise
    except RunDirReplacedError:
        raise  # its records went with the directory: there is nothing to resume there
    except SmolgepaError as exc:
        raise SmolgepaError(f"{exc} Everything finished is in {run_dir.path}; continue with --resume.") from None
    finally:
        _wrap_up(journal, status, engine)
    return RunResult(run_dir.path, run_dir.read_summary())


def _wrap_up(journal: Journal, status: str, engine: RunCache) -> None:
    """Record how the run ended. When it is already ending on an error and the disk is full (or the
    directory is no longer this run's), the last summary written stays and the first error is the one
    reported."""
    try:
        if journal.seed is not None:
            journal.write_summary(status)
        journal.emit(f"run_{status}", stop_reason=journal.stop_reason)
    except (DiskFullError, RunDirReplacedError):
        if status == "finished":
            raise
    finally:
        journal.progress.close()
        engine.close()


def export(task: Task, instruction: str, run_dir: RunDir) -> None:
    """Write the best instruction as text and as a DSPy program (`make_program(task).load(path)`)."""
    run_dir.write_text(run_dir.best_instruction_file, instruction + "\n")
    program = make_program(task, instruction)
    temporary = run_dir.path / ".program.json.tmp.json"
    with disk_full_errors(temporary):
        program.save(str(temporary))
    run_dir.write_text(run_dir.program_file, temporary.read_text(encoding="utf-8"))
    temporary.unlink()
