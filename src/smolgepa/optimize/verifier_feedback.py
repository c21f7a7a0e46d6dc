"""`optimize --verifier SPEC`: for each wrong answer on a reflection minibatch, a verifier model's line on
why the expected label is right, added to the metric's feedback (`feedback.make_metric`) that reflection reads.

Each verifier reply is kept in the run directory (`cache/verifier.jsonl`) and read back on `--resume`, which
replays the run: a resumed run asks the verifier only what the interrupted one had not, and gets the same
feedback. A junk reply (no label word, or one outside the task's set) or one naming another label than the
gold one adds nothing and is counted; a failed call (a server never up, or down through its retries) stops
the run like a failed student call: that iteration is not recorded, and `--resume` continues.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smolgepa.callcounts import VerifierCount
from smolgepa.optimize.cache import JsonlCache
from smolgepa.tasks.model import Task
from smolgepa.verifier.verifier_model import Verifier
from smolgepa.verifier.verifier_prompts import explain_prompt

if TYPE_CHECKING:
    from smolgepa.optimize.config import OptimizeConfig
    from smolgepa.optimize.rundir import RunDir


class VerifierFeedback:
    """The `explain` of the run's metric: a line on why `gold` is right, or None; `failure` once a call failed."""

    def __init__(self, task: Task, verifier: Verifier) -> None:
        self.task = task
        self.verifier = verifier
        self.failure: BaseException | None = None

    def __call__(self, input_text: str, gold: str, predicted: str | None) -> str | None:
        if self.failure is not None:
            raise self.failure  # the run is stopping: no more calls
        try:
            reply = self.verifier.ask(explain_prompt(self.task, input_text, gold, predicted), self.task.label_names)
        except Exception as exc:  # noqa: BLE001 - GEPA swallows it (no proposal); the run stops on `failure`
            self.failure = exc
            raise
        if reply.label is None:
            return None
        if reply.label != gold:
            self.verifier.tally.disagreed += 1
            return None
        return f"Why '{gold}' is right, says a verifier model: {reply.reason}" if reply.reason else None

    def count(self) -> VerifierCount:
        """The verifier's calls and replies, for the summary (`calls.verifier`)."""
        tally = self.verifier.tally
        return VerifierCount(calls=tally.calls, cached=tally.cached, seconds=round(tally.seconds, 3), junk=tally.junk,
                             no_label=tally.no_label, outside=tally.outside, disagreed=tally.disagreed,
                             junk_line=tally.junk_line())


def verifier_feedback(config: OptimizeConfig, task: Task, run_dir: RunDir) -> VerifierFeedback | None:
    """The run's verifier with its answers kept in the run directory (None without --verifier)."""
    if config.verifier is None:
        return None
    cache = JsonlCache(run_dir.verifier_cache_file, run_dir.redact, run_dir.guard)
    verifier = Verifier.from_spec(config.verifier, timeout=config.verifier_timeout,
                                  max_tokens=config.verifier_max_tokens, key_env=config.verifier_key_env,
                                  seed=config.seed, cache=cache)
    return VerifierFeedback(task, verifier)
