"""Instruction proposers (GEPA's `ProposalFn`): the plain-text reflection proposer, and the gate
every proposal passes before any evaluation (no duplicates, not over the token cap)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from dataclasses import dataclass
from typing import Any

from smolgepa.optimize.cache import CachedReflector, instruction_hash
from smolgepa.optimize.cleaning import clean_reflection
from smolgepa.optimize.evidence.screen import EvidenceJudge, OptionScreen
from smolgepa.optimize.journal import RAW_KEPT, Journal
from smolgepa.optimize.reflection_prompt import PromptContext, render_prompt
from smolgepa.adapter.program import input_prefix
from smolgepa.errors import DiskFullError, SmolgepaError
from smolgepa.candidate.label_words import label_words_of, with_label_words
from smolgepa.candidate.reading_line import reading_moves, split_reading
from smolgepa.lm.servers.reach import ServerNotUpError
from smolgepa.tasks.model import Task


@dataclass(frozen=True)
class Verdict:
    """Whether a proposed text may be evaluated; if not, the status and reason recorded."""

    ok: bool
    tokens: int
    status: str = ""
    reason: str = ""


class ProposalGate:
    """Refuses, before any evaluation, a text already evaluated in this run, longer than the cap, or
    with a header line the student cannot use (an unknown reading, label words off the `labels`)."""

    def __init__(self, journal: Journal, count_tokens: Callable[[str], int], max_tokens: int,
                 labels: Sequence[str] = ()) -> None:
        self.journal = journal
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.labels = tuple(labels)

    def check(self, text: str, looks: int = 1) -> Verdict:
        """Whether `text` may be evaluated. With `looks` > 1, a text that only minibatches have judged,
        each rejecting it, may be proposed again until `looks` minibatches have seen it."""
        tokens = self.count_tokens(text)
        try:
            split_reading(text)
            label_words_of(text, self.labels or None)
        except SmolgepaError as exc:
            return Verdict(False, tokens, "invalid", f"{exc} Not evaluated.")
        earlier = self.journal.duplicate_of(text)
        if earlier is not None and not 0 < self.journal.rejected_looks(text) < looks:
            where = "the seed instruction" if earlier == 0 else f"the proposal of iteration {earlier}"
            return Verdict(False, tokens, "duplicate", f"identical to {where}; not evaluated again")
        if tokens > self.max_tokens:
            return Verdict(
                False, tokens, "too_long", f"{tokens} student tokens, over the cap of {self.max_tokens}; not evaluated"
            )
        return Verdict(True, tokens)


READING_LOOKS = 2  # minibatches a reading move may be judged on before it is dropped


class OfflineProposer:
    """Base of the built-in proposers that need no LLM (`fewshot`, `rules`): a GEPA `ProposalFn` whose
    proposal is the first text the gate admits from a fixed sequence of moves (so runs are
    reproducible). From a parent read the student's own way: first the offered reading moves
    (`smolgepa.candidate.reading_line`), then label-word moves (`label_words`, a LabelWordSearch), then the
    proposer's own `text_moves`. From a parent that already names a reading, the text moves come
    first and reading moves last, so the examples and rules get tried on top of a better reading.
    A reading move a minibatch rejected is offered once more, on the next minibatch: readings differ
    by 20-30 points on validation, but 3 examples often cannot tell them apart (on traces one seed's
    minibatch rejected the best reading and the run ended 24 points lower on test), and no other move
    brings a dropped reading back.
    With an `EvidenceJudge` (what `smolgepa optimize` passes) the reading and label-word moves are
    screened instead (`smolgepa.optimize.evidence`): measured on the training split and validation
    against the parent, and only those the paired test accepts are proposed, best first; the screen
    is recorded with the first proposal made from that parent.
    Every failure is recorded; it never raises."""

    name = ""
    moves_name = ""  # in the exhaustion message: "no new <moves_name> move ..."

    def __init__(self, task: Task, gate: ProposalGate, journal: Journal,
                 readings: Sequence[str] = (), own_reading: str = "", label_words: Any = None,
                 judge: EvidenceJudge | None = None) -> None:
        self.task = task
        self.gate = gate
        self.journal = journal
        self.readings, self.own_reading = tuple(readings), own_reading
        self.label_words = label_words
        self.judge = judge
        self.prefix = input_prefix(task)
        self.screens: dict[str, list[OptionScreen]] = {}  # parent text -> its structural moves' screen
        self.screens_recorded: set[str] = set()

    def ordered_moves(self, instruction: str, examples: Sequence[Mapping[str, Any]]) -> Iterable[tuple[str, str, int]]:
        """Every move from this parent, in the order they are tried (see the class docstring), as
        (description, new instruction, minibatches it may be judged on)."""
        text = ((move, new, 1) for move, new in self.text_moves(instruction, examples))
        if self.judge is not None:
            structural: Iterable[tuple[str, str, int]] = self.screened_moves(instruction)
        else:
            readings = ((move, text, READING_LOOKS) for move, text in reading_moves(instruction, self.own_reading, self.readings))
            words = ((move, text, 1) for move, text in self.word_moves(instruction))
            structural = chain(readings, words)
        if split_reading(instruction)[0] is None:
            return chain(structural, text)
        return chain(text, structural)

    def screened_moves(self, instruction: str) -> Iterator[tuple[str, str, int]]:
        """The reading and label-word moves the screen passes, best first (screened once per parent)."""
        assert self.judge is not None
        options = [*reading_moves(instruction, self.own_reading, self.readings), *self.word_moves(instruction)]
        if not options:
            return
        if instruction not in self.screens:
            self.screens[instruction] = self.judge.screen(instruction, options)
        texts = {instruction_hash(text): (move, text) for move, text in options}
        for screen in self.screens[instruction]:
            if screen.passed:
                move, text = texts[screen.instruction_sha]
                yield f"{move}, screened", text, 1

    def screen_record(self, parent: str) -> list[dict[str, Any]] | None:
        """The parent's screen, for the first proposal made from it (None after that, or without one)."""
        if not self.screens.get(parent) or parent in self.screens_recorded:
            return None
        self.screens_recorded.add(parent)
        parent_screen = self.judge.parent_screen(parent) if self.judge else None
        rows = [s.to_json() for s in self.screens[parent]]
        return ([{**parent_screen.to_json(), "move": "parent"}] if parent_screen else []) + rows

    def word_moves(self, instruction: str) -> Iterator[tuple[str, str]]:
        """Label-word moves: each proposed set merged into the parent's words."""
        if self.label_words is None:
            return
        current = label_words_of(instruction, self.task.label_names)
        for description, words in self.label_words.proposals():
            yield description, with_label_words(instruction, {**current, **words})

    def text_moves(self, instruction: str, examples: Sequence[Mapping[str, Any]]) -> Iterable[tuple[str, str]]:
        """(move description, new instruction) pairs in order of preference, from the minibatch `examples`."""
        raise NotImplementedError

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        name = components_to_update[0]
        instruction = candidate[name]
        refused: list[str] = []
        try:
            for move, text, looks in self.ordered_moves(instruction, reflective_dataset.get(name, [])):
                verdict = self.gate.check(text, looks)
                if verdict.ok:
                    rejected = self.journal.rejected_looks(text)
                    if rejected:
                        move += f"; again, as minibatch {rejected + 1} of {looks} to judge it"
                    self.journal.proposal_made(text, verdict.tokens, self.name, move=move, parent=instruction,
                                               screen=self.screen_record(instruction))
                    return {name: text}
                refused.append(verdict.status)
        except DiskFullError as exc:
            self.journal.fatal = exc  # not the proposal's fault: the run stops
            return {}
        except Exception as exc:  # noqa: BLE001 - a failed proposal, never a crashed run
            self.journal.proposal_failed("failed", f"{self.name} proposer error: {type(exc).__name__}: {exc}", self.name)
            return {}
        detail = ", ".join(f"{refused.count(s)} {s}" for s in sorted(set(refused))) or "no move applies"
        self.journal.proposal_failed(
            "exhausted", f"no new {self.moves_name} move for this parent and minibatch ({detail})", self.name
        )
        return {}


class ReflectionProposer:
    """Asks a reflection model for a new instruction in plain text; takes it from a fenced block.

    Every failure (backend error, timeout, empty, truncated, unfenced, duplicate, too long) is
    recorded in the journal as a failed proposal and GEPA moves on: it never raises.
    """

    name = "reflection"

    def __init__(
        self,
        task: Task,
        reflector: CachedReflector,
        gate: ProposalGate,
        journal: Journal,
        template: str = "tiny",
        size_class: str = "a small local model",
        readings: Sequence[str] = (),
        label_words: bool = False,
    ) -> None:
        self.task = task
        self.reflector = reflector
        self.gate = gate
        self.journal = journal
        self.template = template
        self.size_class = size_class
        self.readings, self.label_words = tuple(readings), label_words

    def prompt(self, instruction: str, examples: Sequence[Mapping[str, Any]]) -> str:
        return render_prompt(
            self.template,
            PromptContext(
                task=self.task,
                instruction=instruction,
                examples=examples,
                diagnostics=self.journal.diagnostics_for(instruction),
                max_tokens=self.gate.max_tokens,
                size_class=self.size_class,
                readings=self.readings,
                label_words=self.label_words,
            ),
        )

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        name = components_to_update[0]
        try:
            prompt = self.prompt(candidate[name], reflective_dataset.get(name, []))
            reply, key = self.reflector(prompt)
        except (DiskFullError, ServerNotUpError) as exc:
            self.journal.fatal = exc  # not the proposal's fault: the run stops
            return {}
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal
            self.journal.proposal_failed("failed", f"reflection failed: {type(exc).__name__}: {exc}", self.name)
            return {}
        info = {
            "prompt_key": key,
            "seconds": round(reply.seconds, 3),
            "finish_reason": reply.finish_reason,
            "error": reply.error,
            "notes": list(reply.notes),
            "raw": reply.text[:RAW_KEPT],
            "raw_chars": len(reply.text),
        }
        if reply.error:
            self.journal.proposal_failed("failed", f"reflection failed: {reply.error}", self.name, reflection=info)
            return {}
        cleaned = clean_reflection(reply.text, reply.finish_reason)
        if cleaned.instruction is None:
            self.journal.proposal_failed("failed", cleaned.reason, self.name, reflection=info)
            return {}
        verdict = self.gate.check(cleaned.instruction)
        if not verdict.ok:
            self.journal.proposal_failed(
                verdict.status, verdict.reason, self.name, text=cleaned.instruction, tokens=verdict.tokens,
                reflection=info,
            )
            return {}
        self.journal.proposal_made(cleaned.instruction, verdict.tokens, self.name, reflection=info,
                                   parent=candidate[name])
        return {name: cleaned.instruction}
