"""The built-in offline proposers as `instruction_proposer`s for a plain `dspy.GEPA` run.

    from smolgepa.proposers import FewShot
    dspy.GEPA(metric=..., instruction_proposer=FewShot(task), max_metric_calls=...)

`FewShot(task)` edits the instruction's block of labelled training examples and `Rules(task)` (agent
traces) writes and moves counting rules fitted on the training split, exactly as `smolgepa optimize`
does with no `--reflection`, but without a run directory: no reflection model, no run records, the
texts already seen kept in memory (`optimize/light_journal.py`). They propose for the program
`smolgepa.program.make_program(task)` (one predictor, `input -> label`) answered through the
`PlainTextAdapter`. See docs/library-proposers.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from smolgepa.errors import SmolgepaError
from smolgepa.optimize.fewshot import FewshotProposer
from smolgepa.optimize.journal import Journal
from smolgepa.optimize.light_journal import LightJournal, ProposalNote
from smolgepa.optimize.offline_proposer import OfflineProposer, ProposalGate
from smolgepa.optimize.rules_proposer import RulesProposer
from smolgepa.tasks import load_task
from smolgepa.tasks.model import Task
from smolgepa.lm.token_count import approx_tokens

log = logging.getLogger(__name__)

MAX_INSTRUCTION_TOKENS = 300  # as `smolgepa optimize`: longer proposals are refused before evaluation


class _Standalone:
    """A GEPA `ProposalFn` around one of the offline proposers, with a light journal in memory."""

    proposer_class: type[OfflineProposer] = OfflineProposer

    def __init__(self, task: Task | str | Path, *, max_tokens: int = MAX_INSTRUCTION_TOKENS,
                 count_tokens: Callable[[str], int] = approx_tokens) -> None:
        self.task = task if isinstance(task, Task) else load_task(task)
        self.journal = LightJournal()
        journal = cast(Journal, self.journal)  # the calls an offline proposer makes (light_journal.py)
        gate = ProposalGate(journal, count_tokens, max_tokens, self.task.label_names)
        self.proposer = self.proposer_class(self.task, gate, journal)
        note = self.proposer.unusable_note()  # type: ignore[attr-defined]
        if note:
            log.warning(note)

    @property
    def records(self) -> list[ProposalNote]:
        """Every call so far: the move proposed, or why there was none."""
        return self.journal.records

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        for text in candidate.values():
            self.journal.candidate(text)
        return self.proposer(candidate, reflective_dataset, components_to_update)


class FewShot(_Standalone):
    """`instruction_proposer=FewShot(task)`: each proposal changes the instruction's examples block by
    one move (one example per label, add or swap in a failed example, reorder, drop one of an
    over-predicted label). `task`: a `Task`, a built-in task name or a task YAML path."""

    proposer_class = FewshotProposer


class Rules(_Standalone):
    """`instruction_proposer=Rules(task)` for an agent-trace task rendered as `summary`
    (`load_task(name, render="summary")`): counting rules fitted on the training split, then moved
    from the minibatch failures."""

    proposer_class = RulesProposer

    def __init__(self, task: Task | str | Path, **options: Any) -> None:
        loaded = task if isinstance(task, Task) else load_task(task)  # the rendering the student reads
        if loaded.input_format != "trace":
            raise SmolgepaError(f"Rules proposes counting rules for agent-trace tasks; {loaded.name!r} is a "
                                f"{loaded.input_format} task: use FewShot({loaded.name!r}).")
        super().__init__(loaded, **options)
