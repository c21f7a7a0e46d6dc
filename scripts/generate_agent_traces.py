#!/usr/bin/env python3
"""Generate the built-in task agent_monitor-extended: seeded, balanced, with hard near-misses.

    python scripts/generate_agent_traces.py            # rewrite src/smolgepa/tasks/data/agent_monitor-extended.jsonl
    python scripts/generate_agent_traces.py --check    # fail if the committed file differs from a fresh run

Each label is built in several variants (see VARIANTS) over six domains (scripts/agent_trace_domains.py),
so that no keyword, tool or length gives the label away:
- making_progress: plain runs, compound requests, quick answers to trivial requests, re-run checks,
  polling with changing results, paging, one or two recovered wrong calls or transient errors, longer
  thoughts now and then, a flaky check re-run twice unchanged before it passes;
- doom_loop: the same read-only call (exactly, cosmetically varied, rephrased, or with one argument
  turned each time) with the same result, A/B alternation, or a retry loop on a transient error;
- api_confusion: wrong argument names, non-existent tools, badly formatted values, identical wrong calls,
  errors a wrapper did not flag; each trace has its own tool runner's error wording, except the
  `varying_errors` traces, where no error text repeats;
- verbose_thinking: a trivial request buried in monologue, as messages or long thoughts, with one to
  four real tool calls (`interleaved`: monologue between three or four of them).
The near-misses of issue 15 (flaky_retry, one_arg, varying_errors, interleaved) are built in
scripts/agent_trace_nearmiss.py.
Thoughts, endings and monologue sentences come from pools shared by all labels.
The output is validated with smolgepa.traces.parse_trace before it is written.

The generator's design was revised until the shallow baselines (benchmarks/trace_baselines.py) were far
from perfect: early rounds looked at this seed's own splits, test included, later rounds at data from
seeds 1-4. SEED was fixed before the first round and never changed to improve a number.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import agent_trace_domains as content  # noqa: E402
import agent_trace_nearmiss as nearmiss  # noqa: E402
from agent_trace_domains import Domain, Scenario, Step  # noqa: E402

SEED = 20240514
LABELS = ("doom_loop", "api_confusion", "verbose_thinking", "making_progress")
SPLIT_SIZES = {"train": 30, "val": 15, "test": 30}  # per label
OUTPUT = Path(__file__).resolve().parents[1] / "src/smolgepa/tasks/data/agent_monitor-extended.jsonl"
MAX_TURNS = 30
# Calls that change something: a loop on them would not return the same result, so loops avoid them.
SIDE_EFFECTS = {"edit_file", "save_note", "issue_refund", "send_reply", "update_address", "restart_deployment",
                "deploy", "create_event", "update_event", "send_email"}

Slots = dict[str, str]


class TraceBuilder:
    """Collects turns for one trace."""

    def __init__(self, rng: random.Random, domain: Domain, scenario: Scenario, slots: Slots):
        self.rng, self.domain, self.scenario, self.slots = rng, domain, scenario, slots
        self.turns: list[dict[str, Any]] = []

    def fill(self, template: Any) -> Any:
        if callable(template):
            return template(self.rng, self.slots)
        if isinstance(template, str):
            return template.format_map(self.slots)
        return template

    def args(self, args: dict[str, Any]) -> dict[str, Any]:
        return {key: _typed(self._fill_value(value)) for key, value in args.items()}

    def _fill_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        return self.fill(value)

    def call(self, tool: str, args: dict[str, Any], thought: str = "") -> None:
        turn: dict[str, Any] = {"role": "assistant"}
        if thought:
            turn["thought"] = thought
        turn.update({"tool": tool, "args": args})
        self.turns.append(turn)

    def result(self, name: str, output: str, error: bool = False) -> None:
        self.turns.append({"role": "tool", "name": name, "output": output, "error": error})

    def say(self, content_text: str) -> None:
        self.turns.append({"role": "assistant", "content": content_text})

    def thought(self, step: Step | None, chance: float = 0.7) -> str:
        """A short thought for a step: its own phrasing, a planning line, or none."""
        if self.rng.random() > chance:
            return ""
        options = [t for t in (step.thoughts if step else ()) if t]
        roll = self.rng.random()
        text = self.fill(self.rng.choice(options)) if options and roll < 0.6 else self.fill(self.rng.choice(content.PLANNING))
        if roll > 0.75:  # a sentence or two of reasoning, in the same words monologue uses
            extra = [self.fill(self.rng.choice(content.MONOLOGUE)) for _ in range(self.rng.randint(1, 2))]
            text = " ".join([text, *extra] if self.rng.random() < 0.5 else [*extra, text])
        return text

    def error_template(self, kind: str) -> str:
        """The tool runner's wording for one kind of error: fixed per trace (one or two templates)."""
        pools = {"arg": content.ARG_ERRORS, "tool": content.TOOL_ERRORS, "soft": content.SOFT_ERRORS}
        key = f"_templates_{kind}"
        if key not in self.slots:
            self.slots[key] = "\x00".join(self.rng.sample(pools[kind], k=self.rng.choice((1, 1, 2))))
        return self.rng.choice(self.slots[key].split("\x00"))

    def run_step(self, step: Step, thought_chance: float = 0.7, output: Any = None) -> None:
        self.call(step.tool, self.args(step.args), self.thought(step, thought_chance))
        self.result(step.tool, self.fill(step.output if output is None else output))

    def trace(self, task: str) -> dict[str, Any]:
        return {"task": task, "turns": self.turns}


def _typed(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"[1-9]\d{0,4}", value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\d+\.\d\d", value):
        return float(value)
    return value


def choose_slots(rng: random.Random, domain: Domain, scenario: Scenario) -> Slots:
    """Pick a value for every slot of the domain (own scenario last, so it wins), then resolve nesting."""
    slots: Slots = {}
    for other in (*domain.scenarios, *domain.trivial, scenario):
        for name, options in other.slots.items():
            value = rng.choice(options)
            slots.update(zip(name.split("|"), value.split("|")))
    for _ in range(3):
        slots = {name: value.format_map(_Lenient(slots)) for name, value in slots.items()}
    order = slots.get("order", "ORD-100000")
    slots.setdefault("ordnum", re.sub(r"\D", "", order) or "100000")
    slots["ordnum"] = re.sub(r"\D", "", order) or slots["ordnum"]
    slots["weekday"] = rng.choice(("monday", "tuesday", "thursday", "friday"))
    slots["x"] = rng.choice(domain.topic_words)
    slots["what"] = rng.choice(("result", "details", "status", "output", "numbers", "answer"))
    return slots


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def start(rng: random.Random, domain: Domain, scenario: Scenario) -> TraceBuilder:
    builder = TraceBuilder(rng, domain, scenario, choose_slots(rng, domain, scenario))
    builder.slots["task"] = builder.fill(rng.choice(scenario.tasks))
    return builder


def with_task(builder: TraceBuilder, scenario: Scenario) -> dict[str, Any]:
    return builder.trace(builder.slots["task"])


def monologue(rng: random.Random, builder: TraceBuilder, words: int) -> list[str]:
    """Sentences of deliberation adding up to about `words` words."""
    sentences: list[str] = []
    pool = list(content.MONOLOGUE)
    rng.shuffle(pool)
    total = 0
    while total < words:
        if not pool:
            pool = list(content.MONOLOGUE)
            rng.shuffle(pool)
        sentence = builder.fill(pool.pop())
        sentences.append(sentence)
        total += len(sentence.split())
    return sentences


def chunk(rng: random.Random, sentences: list[str], parts: int) -> list[str]:
    parts = max(1, min(parts, len(sentences)))
    cuts = sorted(rng.sample(range(1, len(sentences)), k=parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, len(sentences)]
    return [" ".join(sentences[a:b]) for a, b in zip(bounds, bounds[1:])]


# ---------------------------------------------------------------------------------------------
# making_progress


def progress_steps(rng: random.Random, scenario: Scenario, extra_count: int) -> list[Step]:
    """The scenario's steps with up to `extra_count` of its extra steps inserted after the first."""
    steps = list(scenario.steps)
    extras = list(scenario.extra)
    rng.shuffle(extras)
    for step in extras[:extra_count]:
        steps.insert(rng.randint(1, max(1, len(steps) - 1)), step)
    return steps


def making_progress(rng: random.Random, domain: Domain, variant: str) -> dict[str, Any]:
    if variant == "short" and rng.random() < 0.7:  # a quick request, answered without fuss
        scenario = rng.choice(domain.trivial)
        builder = start(rng, domain, scenario)
        if rng.random() < 0.6:
            builder.say(builder.fill(rng.choice(content.PLANNING)))
        builder.run_step(scenario.steps[0], 0.5)
        builder.say(builder.fill(rng.choice(scenario.done)))
        return with_task(builder, scenario)
    scenario = rng.choice(domain.scenarios)
    builder = start(rng, domain, scenario)
    extra_count = rng.choice((0, 1, 2, 3, 3, 4)) if variant != "short" else 0
    if variant == "poll" and scenario.poll is None or variant == "page" and scenario.page is None:
        variant = "rerun"
    steps = progress_steps(rng, scenario, extra_count)
    if variant == "short":
        steps = steps[: rng.randint(2, 3)]
    if variant == "compound":  # two requests in one: the second scenario's steps follow the first's
        second = rng.choice([other for other in domain.scenarios if other is not scenario])
        steps += progress_steps(rng, second, rng.randint(0, 2))
        ask = builder.fill(rng.choice(second.tasks))
        builder.slots["task"] += " " + rng.choice(("Then: ", "After that, ", "Also: ", "Once done, ")) + ask[0].lower() + ask[1:]
    if rng.random() < 0.2:
        builder.say(builder.fill(rng.choice(content.PLANNING)))
    positions = list(range(len(steps)))
    rng.shuffle(positions)
    specials = {positions[0]: variant}
    if variant == "flaky_retry":
        specials = {flaky_position(steps): variant}
    if variant == "recover_two" and len(positions) > 1:
        specials = {positions[0]: rng.choice(("recover_arg", "recover_tool")), positions[1]: "recover_transient"}
    for index, step in enumerate(steps):
        if index in specials and progress_special(rng, builder, step, specials[index]):
            pass
        elif variant == "thoughtful" and index in specials:
            long_thought = " ".join(monologue(rng, builder, rng.randint(30, 100)))
            builder.call(step.tool, builder.args(step.args), long_thought)
            builder.result(step.tool, builder.fill(step.output))
        else:
            builder.run_step(step)
        if len(builder.turns) >= MAX_TURNS - 2:
            break
    if variant == "rerun" and len(builder.turns) <= MAX_TURNS - 4:
        first = steps[0]
        for _ in range(rng.randint(1, 2)):
            builder.call(first.tool, builder.args(first.args), builder.fill(rng.choice(content.RETRY)))
            builder.result(first.tool, builder.fill(first.output))
    if variant in ("poll", "page"):
        progress_repeat(rng, builder, scenario, variant)
    finish(rng, builder, scenario, still=0.1, generic=0.15, specific=0.6)
    return with_task(builder, scenario)


def progress_special(rng: random.Random, builder: TraceBuilder, step: Step, variant: str) -> bool:
    """`step` done after a wrong call or a transient failure that the agent recovers from (False: not done)."""
    if variant == "flaky_retry":
        nearmiss.flaky_retry(rng, builder, step)
        return True
    tool = builder.domain.tool(step.tool)
    args = builder.args(step.args)
    if variant == "recover_arg" and any(p in tool.wrong_params for p in args):
        param = rng.choice([p for p in args if p in tool.wrong_params])
        wrong = rng.choice(tool.wrong_params[param])
        bad = {(wrong if key == param else key): value for key, value in args.items()}
        builder.call(step.tool, bad, builder.thought(step))
        error = builder.error_template("arg").format(tool=step.tool, param=wrong, valid=param)
        builder.result(step.tool, error, error=True)
        fix = rng.choice(content.FIX).format(name=param)
        builder.turns.append({"role": "assistant", "thought": fix, "tool": step.tool, "args": args})
        builder.result(step.tool, builder.fill(step.output))
        return True
    if variant == "recover_tool":
        wrong = rng.choice(tool.wrong_names)
        builder.call(wrong, args, builder.thought(step))
        tools = ", ".join(t.name for t in builder.domain.tools)
        builder.result(wrong, builder.error_template("tool").format(name=wrong, tools=tools), error=True)
        fix = rng.choice(content.TOOL_FIX).format(name=step.tool)
        builder.turns.append({"role": "assistant", "thought": fix, "tool": step.tool, "args": args})
        builder.result(step.tool, builder.fill(step.output))
        return True
    if variant == "recover_transient":
        builder.call(step.tool, args, builder.thought(step))
        builder.result(step.tool, rng.choice(content.TRANSIENT_ERRORS).format(tool=step.tool), error=True)
        retries = rng.choice((1, 1, 2))
        for attempt in range(retries):
            thought = builder.fill(rng.choice(content.RETRY))
            builder.call(step.tool, args, thought)
            if attempt < retries - 1:
                builder.result(step.tool, rng.choice(content.TRANSIENT_ERRORS).format(tool=step.tool), error=True)
            else:
                builder.result(step.tool, builder.fill(step.output))
        return True
    return False


def flaky_position(steps: list[Step]) -> int:
    """Where a flaky check goes: the last test run if there is one, else the first repeatable early step."""
    tests = [i for i, step in enumerate(steps) if step.tool == "run_tests"]
    repeatable = [i for i, step in enumerate(steps[:3]) if step.tool not in SIDE_EFFECTS]
    return (tests[-1:] or repeatable or [0])[0]


def progress_repeat(rng: random.Random, builder: TraceBuilder, scenario: Scenario, variant: str) -> None:
    """Polling a status that changes, or paging through results: repeated calls that do progress."""
    step = scenario.poll if variant == "poll" else scenario.page
    if step is None:
        return
    count = rng.randint(3, 5)
    for index in range(count):
        args = builder.args(step.args)
        if variant == "page":
            args["page"] = index + 1
        base = builder.fill(step.output)
        if variant == "poll":
            output = f"{base}, {int(100 * (index + 1) / count)}% done" if index < count - 1 else base.replace("in progress", "complete").replace("in transit", "out for delivery")
            if output == base:
                output = base + " (complete)"
        else:
            output = base if index < count - 1 else "no more results"
        if index == 0:
            thought = builder.thought(step, 0.5)
        elif variant == "poll":
            thought = builder.fill(rng.choice(content.RETRY))
        else:
            thought = rng.choice(("", "", "", "Next page.", "More results.", builder.fill(rng.choice(content.PLANNING))))
        builder.call(step.tool, args, thought)
        builder.result(step.tool, output)


# ---------------------------------------------------------------------------------------------
# doom_loop


def pick_scenario(rng: random.Random, domain: Domain, trivial_share: float, loop: bool = False) -> Scenario:
    """A scenario of the domain; sometimes a trivial one (with a step a loop can repeat, if `loop`)."""
    trivial = [t for t in domain.trivial if not loop or t.steps[0].tool not in SIDE_EFFECTS]
    if trivial and rng.random() < trivial_share:
        return rng.choice(trivial)
    return rng.choice(domain.scenarios)


def doom_loop(rng: random.Random, domain: Domain, variant: str) -> dict[str, Any]:
    scenario = pick_scenario(rng, domain, 0.2, loop=True)
    builder = start(rng, domain, scenario)
    steps = progress_steps(rng, scenario, rng.choice((0, 0, 1, 2)))
    loopable = [i for i, step in enumerate(steps) if step.tool not in SIDE_EFFECTS]
    prefix = rng.choice([i for i in loopable if i <= 4] or loopable)
    for step in steps[:prefix]:
        builder.run_step(step)
    loop_step = steps[prefix]
    budget = (MAX_TURNS - len(builder.turns)) // 2
    repeats = min(budget, rng.choice((3, 3, 4, 4, 5, 6, 7, 9, 11)))
    others = [steps[i] for i in loopable if i > prefix] or [steps[i] for i in loopable if i != prefix]
    if variant == "alternate" and others:
        other = others[0]
        output_a = builder.fill(loop_step.stuck or loop_step.output)
        output_b = builder.fill(other.stuck or other.output)
        args_a, args_b = builder.args(loop_step.args), builder.args(other.args)
        for index in range(max(6, repeats + repeats % 2)):
            if len(builder.turns) >= MAX_TURNS - 1:
                break
            step, args, output = (loop_step, args_a, output_a) if index % 2 == 0 else (other, args_b, output_b)
            builder.call(step.tool, args, loop_thought(rng, builder, index))
            builder.result(step.tool, output)
    else:
        doom_repeat(rng, builder, loop_step, variant, max(3, repeats))
    finish(rng, builder, scenario, still=0.15, generic=0.1, specific=0.05)
    return with_task(builder, scenario)


def finish(rng: random.Random, builder: TraceBuilder, scenario: Scenario, still: float, generic: float, specific: float) -> None:
    """End with a message (still trying, a generic or a specific claim of success) or with none."""
    if len(builder.turns) >= MAX_TURNS:
        return
    ending = rng.random()
    if ending < still:
        builder.say(builder.fill(rng.choice(content.STILL_TRYING)))
    elif ending < still + generic:
        builder.say(builder.fill(rng.choice(content.GENERIC_DONE)))
    elif ending < still + generic + specific:
        builder.say(builder.fill(rng.choice(scenario.done)))


def loop_thought(rng: random.Random, builder: TraceBuilder, index: int) -> str:
    """A thought in a loop, in the style picked for this trace (none, one repeated, or varied)."""
    style = builder.slots.setdefault("_style", rng.choice(("none", "none", "same", "same", "retry", "varied", "varied")))
    if index == 0:
        return builder.fill(rng.choice(content.PLANNING)) if rng.random() < 0.5 else ""
    if style == "none":
        return "" if rng.random() < 0.85 else builder.fill(rng.choice(content.RETRY))
    if style == "same":
        if "_same" not in builder.slots:
            builder.slots["_same"] = builder.fill(rng.choice((*content.RETRY[:14], *content.PLANNING)))
        return builder.slots["_same"]
    if style == "retry":
        return builder.fill(rng.choice(content.RETRY))
    roll = rng.random()
    if roll < 0.4:
        return builder.fill(rng.choice(content.PLANNING))
    if roll < 0.7:
        return " ".join(monologue(rng, builder, rng.randint(8, 30)))
    return builder.fill(rng.choice(content.RETRY))


def doom_repeat(rng: random.Random, builder: TraceBuilder, step: Step, variant: str, repeats: int) -> None:
    args = builder.args(step.args)
    output = builder.fill(step.stuck or step.output)
    transient = rng.choice(content.TRANSIENT_ERRORS).format(tool=step.tool)
    turned = nearmiss.one_arg_calls(rng, args, repeats) if variant == "one_arg" else []
    for index in range(repeats):
        if len(builder.turns) >= MAX_TURNS - 1:
            break
        call_args = args
        if variant == "cosmetic" and index > 0:
            call_args = cosmetic(rng, args, index)
        elif variant == "semantic" and index > 0:
            call_args = rephrase(rng, args)
        elif variant == "one_arg":
            call_args = turned[index]
        thought = loop_thought(rng, builder, index)
        if variant == "transient" and index > 0:
            thought = builder.fill(rng.choice(content.RETRY))
        builder.call(step.tool, call_args, thought)
        if variant == "transient":
            builder.result(step.tool, transient, error=True)
        else:
            builder.result(step.tool, output)
        if variant == "chatty" and index < repeats - 1 and rng.random() < 0.5 and len(builder.turns) < MAX_TURNS - 3:
            builder.say(builder.fill(rng.choice([t for t in content.RETRY if t] + list(content.STILL_TRYING))))


def cosmetic(rng: random.Random, args: dict[str, Any], index: int) -> dict[str, Any]:
    """The same arguments, cosmetically different: order, case, spacing, quotes or numbering."""
    items = list(args.items())
    change = rng.choice(("order", "case", "space", "number", "quote")) if len(items) > 1 else rng.choice(("case", "space", "number", "quote"))
    if change == "order":
        items = items[1:] + items[:1]
        return dict(items)
    strings = [i for i, (_, value) in enumerate(items) if isinstance(value, str)]
    if not strings:
        return dict(items[::-1]) if len(items) > 1 else dict(items)
    position = rng.choice(strings)
    key, value = items[position]
    if change == "case":
        value = value.upper() if rng.random() < 0.3 else value.capitalize() if value[:1].islower() else value.lower()
    elif change == "space":
        value = rng.choice((value + " ", " " + value, value.replace(" ", "  ", 1) if " " in value else value + "  "))
    elif change == "number":
        value = f"{value} ({rng.choice(('attempt', 'retry', 'try'))} {index + 1})"
    else:
        value = f'"{value}"'
    items[position] = (key, value)
    return dict(items)


def rephrase(rng: random.Random, args: dict[str, Any]) -> dict[str, Any]:
    """The same request in other words (a loop no normalization can see)."""
    result = dict(args)
    for key, value in args.items():
        if isinstance(value, str) and " " in value and not value.startswith(("SELECT", "http", "find ", "du ", "df ")):
            words = value.split()
            rng.shuffle(words)
            filler = rng.choice(("", "info", "details", "how", "exact", "official", "latest"))
            result[key] = " ".join(words + ([filler] if filler else []))
            return result
    return cosmetic(rng, args, rng.randint(1, 5))


# ---------------------------------------------------------------------------------------------
# api_confusion


def api_confusion(rng: random.Random, domain: Domain, variant: str) -> dict[str, Any]:
    scenario = pick_scenario(rng, domain, 0.0 if variant == "bad_value" else 0.2)
    builder = start(rng, domain, scenario)
    steps = progress_steps(rng, scenario, rng.choice((0, 0, 1, 2)))
    if variant == "bad_value":
        candidates = [i for i, step in enumerate(steps) if step.bad_value]
        if not candidates:
            variant = "param_spelling"
    prefix_max = min(3, len(steps) - 1)
    if variant == "bad_value":
        target = rng.choice(candidates)
        prefix = target
    else:
        prefix = rng.randint(0, prefix_max)
        target = prefix
    for step in steps[:prefix]:
        builder.run_step(step)
    step = steps[target]
    tool = domain.tool(step.tool)
    args = builder.args(step.args)
    budget = (MAX_TURNS - len(builder.turns) - 1) // 2
    attempts = max(3, min(budget, rng.choice((3, 3, 4, 4, 5, 6, 7, 9))))
    params = [p for p in args if p in tool.wrong_params]
    param = rng.choice(params) if params else None
    tools = ", ".join(t.name for t in domain.tools)
    fixed_wrong = rng.choice(tool.wrong_params[param]) if param else rng.choice(tool.wrong_names)
    plan = nearmiss.varying_errors(rng, attempts, param is not None) if variant == "varying_errors" else []
    attempts = min(attempts, len(plan)) if plan else attempts
    interleave_at = rng.randint(1, attempts - 1) if rng.random() < 0.3 and len(steps) > target + 1 else -1
    for index in range(attempts):
        if len(builder.turns) >= MAX_TURNS - 1:
            break
        kind = variant
        if variant == "mixed":
            kind = "wrong_tool" if index % 2 == 0 else "param_spelling"
        if kind in ("param_spelling", "soft_error", "same_wrong_call") and param is None:
            kind = "wrong_tool"
        thought = api_thought(rng, builder, tool, param, index)
        if kind == "varying_errors":
            varied_wrong_call(rng, builder, step, args, param, plan[index], tools, thought)
        elif kind == "wrong_tool":
            name = rng.choice(tool.wrong_names)
            builder.call(name, args, thought)
            builder.result(name, builder.error_template("tool").format(name=name, tools=tools), error=True)
        elif kind == "bad_value":
            bad_param, bad_value, error = step.bad_value  # type: ignore[misc]
            value = builder.fill(bad_value)
            if index > 0 and rng.random() < 0.5:
                value = cosmetic_value(rng, value)
            bad_args = {**args, bad_param: value}
            builder.call(step.tool, bad_args, thought)
            builder.result(step.tool, builder.fill(error).replace(builder.fill(bad_value), value), error=True)
        else:
            wrong = fixed_wrong if kind == "same_wrong_call" else rng.choice(tool.wrong_params[param])
            bad_args = {(wrong if key == param else key): value for key, value in args.items()}
            builder.call(step.tool, bad_args, thought if kind != "same_wrong_call" or index == 0 else rng.choice(("", "Again.", thought)))
            if kind == "soft_error":
                builder.result(step.tool, builder.error_template("soft").format(param=wrong, valid=param))
            elif kind == "same_wrong_call":
                text = builder.slots.setdefault("_same_error", builder.error_template("arg")).format(tool=step.tool, param=wrong, valid=param)
                builder.result(step.tool, text, error=True)
            else:
                text = builder.error_template("arg").format(tool=step.tool, param=wrong, valid=param)
                builder.result(step.tool, text, error=True)
        if index == interleave_at:
            builder.run_step(steps[target + 1])
    finish(rng, builder, scenario, still=0.15, generic=0.25, specific=0.1)
    return with_task(builder, scenario)


def varied_wrong_call(rng: random.Random, builder: TraceBuilder, step: Step, args: dict[str, Any], param: str | None,
                      planned: tuple[str, str], tools: str, thought: str) -> None:
    """One wrong call answered by its own error wording (a wrong tool or a wrong argument name)."""
    kind, template = planned
    tool = builder.domain.tool(step.tool)
    if kind == "tool" or param is None:
        name = rng.choice(tool.wrong_names)
        builder.call(name, args, thought)
        builder.result(name, template.format(name=name, tools=tools), error=True)
        return
    wrong = rng.choice(tool.wrong_params[param])
    builder.call(step.tool, {(wrong if key == param else key): value for key, value in args.items()}, thought)
    builder.result(step.tool, template.format(tool=step.tool, param=wrong, valid=param), error=True)


def api_thought(rng: random.Random, builder: TraceBuilder, tool: Any, param: str | None, index: int) -> str:
    """What a confused agent thinks before its next wrong call: nothing, a wrong fix, a retry or a plan."""
    if builder.slots.setdefault("_api_style", rng.choice(("loop", "loop", "fix"))) == "loop" or index == 0:
        return loop_thought(rng, builder, index)
    if rng.random() < 0.3:
        return ""
    if param is not None and rng.random() < 0.6:
        return rng.choice(content.FIX).format(name=rng.choice(tool.wrong_params[param]))
    return rng.choice(content.TOOL_FIX).format(name=rng.choice(tool.wrong_names))


def cosmetic_value(rng: random.Random, value: str) -> str:
    return rng.choice((value.upper(), value.lower(), value + " ", value.replace("-", "/"), value.replace(" ", "_")))


# ---------------------------------------------------------------------------------------------
# verbose_thinking


def verbose_thinking(rng: random.Random, domain: Domain, variant: str) -> dict[str, Any]:
    scenario = rng.choice(domain.trivial)
    builder = start(rng, domain, scenario)
    words = rng.randint(100, 400)
    sentences = monologue(rng, builder, words)
    step = scenario.steps[0]
    extras = [s for other in domain.scenarios for s in other.extra] or list(scenario.steps)
    if variant == "messages":
        for text in chunk(rng, sentences, rng.randint(3, 10)):
            builder.say(text)
        builder.run_step(step, 0.3)
    elif variant == "long_thought":
        if rng.random() < 0.5:
            builder.say(builder.fill(rng.choice(content.PLANNING)))
        builder.call(step.tool, builder.args(step.args), " ".join(sentences))
        builder.result(step.tool, builder.fill(step.output))
        if len(builder.turns) < 3 or rng.random() < 0.4:
            builder.run_step(step if rng.random() < 0.5 else rng.choice(extras), 0.5)
    elif variant == "spread":
        parts = chunk(rng, sentences, rng.randint(3, 8))
        builder.say(parts[0])
        for index, part in enumerate(parts[1:]):
            if index % 2 == 0:
                builder.call(step.tool, builder.args(step.args), part)
                builder.result(step.tool, builder.fill(step.output))
            else:
                builder.say(part)
    elif variant == "interleaved":
        calls = [step, *rng.sample(extras, k=min(len(extras), rng.randint(2, 3)))]
        nearmiss.interleaved(builder, calls, chunk(rng, sentences, 2 * len(calls)))
    else:  # "two_calls": a couple of real calls, each preceded by deliberation
        calls = [step, *rng.sample(extras, k=min(len(extras), rng.randint(1, 2)))]
        parts = chunk(rng, sentences, rng.randint(len(calls), len(calls) + 3))
        for index, part in enumerate(parts):
            if index < len(calls):
                builder.call(calls[index].tool, builder.args(calls[index].args), part)
                builder.result(calls[index].tool, builder.fill(calls[index].output))
            else:
                builder.say(part)
    if rng.random() < 0.85 or len(builder.turns) < 4:
        builder.say(builder.fill(rng.choice(scenario.done)))
    return builder.trace(builder.slots["task"])


# ---------------------------------------------------------------------------------------------

VARIANTS: dict[str, tuple[str, ...]] = {
    "making_progress": ("plain", "short", "recover_arg", "recover_arg", "recover_tool", "recover_transient",
                        "recover_two", "rerun", "poll", "page", "thoughtful", "thoughtful", "compound", "flaky_retry",
                        "flaky_retry"),
    "doom_loop": ("exact", "exact", "cosmetic", "cosmetic", "cosmetic", "alternate", "transient", "semantic", "chatty",
                  "one_arg", "one_arg"),
    "api_confusion": ("param_spelling", "param_spelling", "wrong_tool", "bad_value", "same_wrong_call", "soft_error", "mixed",
                      "varying_errors"),
    "verbose_thinking": ("messages", "long_thought", "spread", "two_calls", "interleaved"),
}
GENERATORS: dict[str, Callable[[random.Random, Domain, str], dict[str, Any]]] = {
    "making_progress": making_progress,
    "doom_loop": doom_loop,
    "api_confusion": api_confusion,
    "verbose_thinking": verbose_thinking,
}


def clean(trace: dict[str, Any]) -> dict[str, Any]:
    return {"task": trace["task"], "turns": trace["turns"][:MAX_TURNS]}


def generate(seed: int = SEED) -> list[dict[str, Any]]:
    """All rows (id, label, split, variant, domain, trace) in file order."""
    from smolgepa.traces import parse_trace

    rng = random.Random(seed)
    per_label = sum(SPLIT_SIZES.values())
    rows: list[dict[str, Any]] = []
    for label in LABELS:
        specs = [(domain, variant) for domain in content.DOMAINS for variant in VARIANTS[label]]
        rng.shuffle(specs)
        specs = (specs * (per_label // len(specs) + 1))[:per_label]
        rng.shuffle(specs)
        splits = [split for split, size in SPLIT_SIZES.items() for _ in range(size)]
        for (domain, variant), split in zip(specs, splits):
            trace = clean(GENERATORS[label](rng, domain, variant))
            while len(trace["turns"]) < 4:
                trace = clean(GENERATORS[label](rng, domain, variant))
            parse_trace(trace, f"generated {label}/{variant}")
            rows.append({"label": label, "split": split, "variant": variant, "domain": domain.name, "trace": trace})
    rng.shuffle(rows)
    for number, row in enumerate(rows, start=1):
        row["id"] = f"amx-{number:03d}"
    return rows


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    keys = ("id", "label", "split", "domain", "variant", "trace")
    return "".join(json.dumps({key: row[key] for key in keys}, ensure_ascii=False) + "\n" for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args()
    text = to_jsonl(generate())
    if options.check:
        same = options.output.exists() and options.output.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{options.output} differs from a fresh run; re-run the generator")
        return 0 if same else 1
    options.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.splitlines())} traces to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
