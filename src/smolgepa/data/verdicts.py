"""A verifier's verdict on each suspect of an audit: does the given label fit the text, and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from smolgepa.data.audit import Audit
from smolgepa.tasks.model import Task
from smolgepa.verifier.verifier_model import Verifier
from smolgepa.verifier.verifier_prompts import judge_prompt


def verify_suspects(audit: Audit, task: Task, verifier: Verifier,
                    progress: Callable[[int, int], None] | None = None) -> Audit:
    """The audit with a verdict on every suspect: `agree` (the verifier names the given label), `relabel`
    (it names another: `verifier_label`) or `junk` (no label, or one outside the task's set)."""
    texts = {example.id: example.input for example in task.examples}
    checked = []
    for number, suspect in enumerate(audit.suspects, start=1):
        reply = verifier.ask(judge_prompt(task, texts[suspect.id], suspect.label), task.label_names)
        verdict = "junk" if reply.label is None else "agree" if reply.label == suspect.label else "relabel"
        reason = reply.reason if reply.junk is None else f"({reply.junk}) {reply.reason}".rstrip()
        checked.append(replace(suspect, verdict=verdict, verifier_label=reply.label, reason=reason))
        if progress is not None:
            progress(number, len(audit.suspects))
    return replace(audit, suspects=tuple(checked), verifier=verifier.spec, verifier_calls=verifier.tally.to_json(),
                   junk_line=verifier.tally.junk_line())
