"""Near-misses for scripts/generate_agent_traces.py (issue 15): traces that look like another label.

- `flaky_retry` (making_progress): a check fails the same way twice, the agent re-runs it twice, the
  third run passes and the work goes on: three identical calls in a row that are not a loop.
- `one_arg` (doom_loop): the repeated call changes one argument each time (a limit, a timeout, a
  page size) and gets the same result: a loop that no exact-repeat rule sees.
- `varying_errors` (api_confusion): every wrong call gets an error in other words, so no error
  text repeats.
- `interleaved` (verbose_thinking): long deliberation between three or four real calls, so the
  trace has as many calls as a normal run.

Every function here takes the generator's TraceBuilder (duck-typed) and draws only from `rng`.
"""

from __future__ import annotations

import random
from typing import Any

import agent_trace_domains as content
from agent_trace_domains import Step

# Failures that pass on a re-run: of a test suite, and of any other check ({tool}: the tool's name).
FLAKY_TEST_FAILURES = (
    "FAILED 1 test: flaky - timed out waiting for the fixture (passed on the previous run)",
    "1 failed: intermittent AssertionError in a timing-dependent check",
    "1 failed, race detected between two test workers; the same test passed earlier today",
)
FLAKY_FAILURES = (
    "{tool}: 1 failure (known flaky, see the issue tracker)",
    "ERROR: temporary resource lock, {tool} did not finish",
    "{tool} failed: replica lag, result incomplete - safe to retry",
    "partial result from {tool}: a backend shard did not answer in time",
)
RERUN_THOUGHTS = (
    "That one is known to be flaky; run it again.",
    "Probably the flaky one again. Re-run.",
    "Flaky failure, nothing changed. Once more.",
    "Let me try that again.",
    "Retrying.",
    "",
)
# Arguments a looping agent turns while keeping the call the same: (name, values in order).
KNOBS = (
    ("limit", (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)),
    ("timeout", (30, 60, 90, 120, 180, 240, 300, 600, 900, 1200, 1800)),
    ("max_results", (5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500)),
    ("retries", (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)),
)


def flaky_retry(rng: random.Random, builder: Any, step: Step) -> None:
    """`step` fails twice with the same flaky failure, is re-run twice unchanged, then passes."""
    args = builder.args(step.args)
    failure = rng.choice(FLAKY_TEST_FAILURES if step.tool == "run_tests" else FLAKY_FAILURES).format(tool=step.tool)
    flagged = rng.random() < 0.5
    builder.call(step.tool, args, builder.thought(step))
    builder.result(step.tool, failure, error=flagged)
    for attempt in range(2):
        builder.call(step.tool, args, builder.fill(rng.choice(RERUN_THOUGHTS)))
        if attempt == 0:
            builder.result(step.tool, failure, error=flagged)
        else:
            builder.result(step.tool, builder.fill(step.output))


def one_arg_calls(rng: random.Random, args: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """`count` argument sets that differ from each other in exactly one argument (the same one)."""
    numbers = [key for key, value in args.items() if isinstance(value, int) and not isinstance(value, bool)]
    if numbers and rng.random() < 0.5:
        key = rng.choice(numbers)
        start, step = args[key], rng.choice((1, 5, 10))
        values = [start + step * index for index in range(count)]
    else:
        key, pool = rng.choice(KNOBS)
        offset = rng.randint(0, max(0, len(pool) - count))
        values = list(pool[offset:offset + count])
        if key in args:
            key = key + "_"
    return [{**args, key: value} for value in values]


def varying_errors(rng: random.Random, attempts: int, has_param: bool) -> list[tuple[str, str]]:
    """(kind, error template) for each wrong call, no template twice: kind `arg` (a wrong argument
    name) or `tool` (a tool that does not exist)."""
    pool = [("tool", text) for text in content.TOOL_ERRORS]
    if has_param:
        pool += [("arg", text) for text in content.ARG_ERRORS]
    rng.shuffle(pool)
    return pool[:attempts]


def interleaved(builder: Any, calls: list[Step], parts: list[str]) -> None:
    """Real calls, each with a long thought, and a monologue message after each result."""
    for index, step in enumerate(calls):
        builder.call(step.tool, builder.args(step.args), parts[2 * index] if 2 * index < len(parts) else "")
        builder.result(step.tool, builder.fill(step.output))
        if 2 * index + 1 < len(parts):
            builder.say(parts[2 * index + 1])
    for part in parts[2 * len(calls):]:
        builder.say(part)
