#!/usr/bin/env python3
"""Rebuild the built-in task `agent_monitor-real` from real, published agent trajectories.

    python scripts/build_agent_monitor_real.py windows \
        --mini-swe-agent /work/.mirror/SWE-agent+mini-swe-agent/repo \
        --swe-agent /work/.mirror/SWE-agent+SWE-agent/repo \
        --openagents /work/.mirror/OpenAgentsInc+openagents/repo \
        --gemini /work/.mirror/gruckion+mini-swe-agent/repo \
        --reflexion /work/.mirror/noahshinn+reflexion/repo > windows.jsonl
    python scripts/build_agent_monitor_real.py screen --windows windows.jsonl   # the gem windows to label
    python scripts/build_agent_monitor_real.py screen --windows windows.jsonl --source hqa   # the ReAct ones
    python scripts/build_agent_monitor_real.py build --windows windows.jsonl
    python scripts/build_agent_monitor_real.py packet --out pass3/   # a blind labeller's folder
    python scripts/build_agent_monitor_real.py agreement --second pass3/labels.jsonl

`windows` reads every trajectory at the pinned commits below with `git show`, imports it through
`smolgepa traces import`'s converters, and cuts it into windows of at most WINDOW_CALLS tool calls that
do not overlap (a window starts at a tool call; a last piece with fewer than MIN_CALLS calls is left
out; a ReAct log holds many episodes, each a trace, and an episode met again is kept once); long tool
outputs and thoughts are clipped with a marker. `build` joins the windows with the
hand labels in scripts/agent_monitor_real_labels.jsonl (`{"id", "label", "reason"}`; the labelling
guide is docs/agent-labelling.md), splits them train/val/test stratified by label with a fixed seed,
and writes src/smolgepa/tasks/data/agent_monitor-real.jsonl and its provenance file (windows already
shipped keep their split; the ids of the 50 windows of the second, independent labelling pass are
written only when that file is missing, and so are the ids of the third pass's sample of ReAct
windows). `screen` prints the Gemini windows chosen for the second labelling session (see `screened`),
or with `--source hqa` the ReAct HotPotQA windows chosen for the third (see `screened_hqa`). `packet`
writes a folder for a blind second labeller (instructions, the guide, the windows without labels);
`agreement` compares a second pass's labels with the first (raw agreement with its 95% interval,
Cohen's kappa, the confusion). Needs git.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from smolgepa.evaluation.stats import wilson_interval  # noqa: E402
from smolgepa.traces.importers import import_traces  # noqa: E402
from smolgepa.traces.react_log import question_of  # noqa: E402
from smolgepa.traces.trace_model import Message, ToolCall, ToolResult, Trace, UserMessage  # noqa: E402

DATA = ROOT / "src" / "smolgepa" / "tasks" / "data"
LABELS = ROOT / "scripts" / "agent_monitor_real_labels.jsonl"
SECOND_PASS = ROOT / "scripts" / "agent_monitor_real_second_pass_ids.txt"
SEED = 20261205
WINDOW_CALLS = 10
MIN_CALLS = 4
OUTPUT_CAP = 300
THOUGHT_CAP = 4000
TASK_CAP = 800
ARGS_CAP = 300
SPLIT_SHARE = {"train": 0.5, "val": 0.2, "test": 0.3}
SOURCES = {
    "msa": {
        "repository": "https://github.com/SWE-agent/mini-swe-agent",
        "commit": "ec0e8e849fea5b1619deb1753007201000904672",
        "glob": "output/",
        "suffix": ".traj.json",
        "format": "openai-chat",
        "licence": "MIT (LICENSE.md at that commit)",
        "what": "mini-swe-agent 2.2.7 runs of DeepSeek-chat and DeepSeek-reasoner on SWE-bench Lite/dev "
                "instances (tool-calling bash agent), committed by a contributor (XieZhiliang-code) as "
                "'DeepSeek evaluation artifacts'",
    },
    "swe": {
        "repository": "https://github.com/SWE-agent/SWE-agent",
        "commit": "3ea751c087f32b16e039a2233dd6eefecef325d5",
        "glob": "",
        "suffix": ".traj",
        "format": "swe-agent",
        "licence": "MIT (LICENSE at that commit)",
        "what": "trajectories shipped with SWE-agent: its test data (GPT-4 runs on SWE-bench and a test "
                "repository) and its demonstrations (CTF challenges and a SWE-bench issue, curated by the "
                "SWE-agent authors as examples for the model; the marshmallow-1867 demonstration replayed "
                "under several interface configurations, so those windows are near-duplicates)",
    },
    "oa": {
        "repository": "https://github.com/OpenAgentsInc/openagents",
        "commit": "c526259e8742c0adce7feca87639b8439a2b49d7",
        "glob": "results/trajectories/",
        "suffix": "trajectory.json",
        "format": "atif",
        "licence": "MIT (LICENSE of the repository)",
        "what": "a Claude Code run on the Terminal-Bench task regex-log, logged as ATIF 1.4",
    },
    "gem": {
        "repository": "https://github.com/gruckion/mini-swe-agent",
        "commit": "d12a71affd95403b036b2bdbd827349b77bfffb9",
        "glob": "swebench_results/20251118_gemini-3-pro-74pct/trajs/",
        "suffix": ".traj.json",
        "format": "mini-swe-agent",
        "licence": "MIT (LICENSE.md at that commit: the mini-swe-agent licence, the repository being a fork of it)",
        "what": "mini-swe-agent 1.15 runs of Gemini 3 Pro Preview on all 500 SWE-bench Verified instances (text "
                "actions: a bash block in the reply), the bash-only leaderboard submission "
                "20251118_mini-v1.15.0_gemini-3-pro-preview-20251118, committed to a fork of mini-swe-agent",
    },
    "hqa": {
        "repository": "https://github.com/noahshinn/reflexion",
        "commit": "218cf0ef1df84b05ce379dd4a8e47f17766733a0",
        "glob": "hotpotqa_runs/root/ReAct/",
        "suffix": ".txt",
        "format": "react",
        "licence": "MIT (LICENSE at that commit, Copyright (c) 2023 Noah Shinn)",
        "what": "text logs of GPT ReAct agents answering 100 HotPotQA questions with a Wikipedia environment "
                "(Search[entity], Lookup[keyword], Finish[answer]; at most 6 steps, then the run is halted), "
                "plain ReAct and ReAct with Reflexion's self-reflections between trials, published with the "
                "Reflexion paper (Shinn et al., 2023) in `base/` and `reflexion/`; a question-answering agent, not "
                "a coding agent. The logs repeat runs (the 7-trial log holds the 5-trial log's trials, plain "
                "ReAct repeats its episode in each trial), so an episode met again (same question, same steps) "
                "is kept once",
    },
}
HQA_RUNS = {"base/100_questions_5_trials": "base5", "base/base_react_thought_log": "base1",
            "reflexion/100_questions_5_trials": "rfx5", "reflexion/100_questions_7_trials": "rfx7",
            "reflexion/100_questions_trials_6_to_7": "rfx67", "reflexion/50_sample_react_reflect_correct": "rfx50"}


def git(repo: Path, *args: str) -> bytes:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True).stdout


def source_files(repo: Path, spec: dict[str, str]) -> list[str]:
    names = git(repo, "ls-tree", "-r", "--name-only", spec["commit"]).decode().splitlines()
    return sorted(n for n in names if n.startswith(spec["glob"]) and n.endswith(spec["suffix"]))


def run_id(source: str, path: str, episode: str = "") -> str:
    parts = Path(path).parts
    if source == "hqa":  # hotpotqa_runs/root/ReAct/<agent>/<log>.txt, episode "<log>-trial<k>-<n>"
        log = "/".join(parts[-2:]).removesuffix(".txt")
        return f"hqa-{HQA_RUNS.get(log, Path(path).stem)}-{episode.removeprefix(Path(path).stem + '-')}"
    if source == "msa":  # output/<run set>/<instance>/<instance>.traj.json
        return f"msa-{parts[1].replace('deepseek_', 'ds-')}-{parts[2]}"
    if source == "oa":
        return f"oa-{parts[2]}"
    if source == "gem":  # swebench_results/<submission>/trajs/<instance>/<instance>.traj.json
        return f"gem-{parts[3]}"
    if "demonstrations/replay" not in path:
        return "swe-" + Path(path).stem
    variant = parts[-2].split("marshmallow-1867__", 1)[-1]  # the configuration the demonstration was replayed with
    return "swe-replay-mm1867-" + re.sub(r"[^A-Za-z0-9]+", "-", variant).strip("-")


def clipped(trace_turns: list[Any]) -> list[Any]:
    result = []
    for turn in trace_turns:
        if isinstance(turn, ToolResult) and len(turn.output) > OUTPUT_CAP:
            turn = ToolResult(turn.name, cut(turn.output, OUTPUT_CAP), turn.error)
        elif isinstance(turn, ToolCall) and len(turn.thought) > THOUGHT_CAP:
            turn = ToolCall(turn.tool, turn.args, cut(turn.thought, THOUGHT_CAP))
        if isinstance(turn, ToolCall) and len(json.dumps(turn.args)) > ARGS_CAP:
            turn = ToolCall(turn.tool, {k: cut(str(v), ARGS_CAP) if len(str(v)) > ARGS_CAP else v
                                        for k, v in turn.args.items()}, turn.thought)
        result.append(turn)
    return result


def short_task(task: str) -> str:
    """The issue text alone: mini-swe-agent's PR wrapper and its instructions, and SWE-agent's
    instance prompt around the issue, are left out; then clipped to TASK_CAP."""
    if "<pr_description>" in task:
        task = task.split("</pr_description>")[0].split("<pr_description>")[-1]
        task = task.replace("Consider the following PR description:", "")
    if "ISSUE:" in task and "INSTRUCTIONS:" in task:
        task = task.split("ISSUE:", 1)[1].split("INSTRUCTIONS:", 1)[0]
    if "INSTRUCTIONS:" in task:
        task = task.split("INSTRUCTIONS:", 1)[0]
    task = question_of(task)  # a ReAct task: the question, Reflexion's reflections on earlier trials left out
    return cut(task, TASK_CAP) if len(task) > TASK_CAP else task


def cut(text: str, cap: int) -> str:
    return f"{text[:cap].rstrip()} [... {len(text) - cap} more characters]"


def windows_of(trace: Trace) -> list[tuple[int, list[Any]]]:
    """Non-overlapping windows of at most WINDOW_CALLS calls, each starting at a call (or a message)."""
    starts = [i for i, turn in enumerate(trace.turns) if isinstance(turn, (ToolCall, Message))
              and (i == 0 or not isinstance(trace.turns[i - 1], ToolCall))]
    calls_seen, pieces, begin = 0, [], 0
    for i in starts:
        calls_in = sum(isinstance(t, ToolCall) for t in trace.turns[begin:i])
        if calls_in >= WINDOW_CALLS:
            pieces.append((begin, list(trace.turns[begin:i])))
            begin = i
    pieces.append((begin, list(trace.turns[begin:])))
    return [(b, turns) for b, turns in pieces if sum(isinstance(t, ToolCall) for t in turns) >= MIN_CALLS]


def cmd_windows(args: argparse.Namespace) -> None:
    repos = {"msa": args.mini_swe_agent, "swe": args.swe_agent, "oa": args.openagents, "gem": args.gemini,
             "hqa": args.reflexion}
    out = sys.stdout
    seen: set[str] = set()  # ReAct episodes already cut (the logs repeat runs)
    with tempfile.TemporaryDirectory() as scratch:
        for source, spec in SOURCES.items():
            repo = Path(repos[source])
            for path in source_files(repo, spec):
                try:
                    text = git(repo, "show", f"{spec['commit']}:{path}")
                except subprocess.CalledProcessError:
                    print(f"skipped (not in the clone): {path}", file=sys.stderr)
                    continue
                if not text.strip():
                    continue
                local = Path(scratch) / Path(path).name  # a ReAct episode's id is named after its file
                local.write_bytes(text)
                try:
                    items = import_traces(local, spec["format"])
                    if spec["format"] != "react" and len(items) != 1:
                        raise ValueError(f"{len(items)} trajectories in one file")
                except Exception as exc:  # a run where the agent did nothing, or a demo without a task
                    print(f"skipped {path}: {str(exc)[:120]}", file=sys.stderr)
                    continue
                for item in items:
                    task = short_task(item.trace.task)
                    if spec["format"] == "react":
                        episode = json.dumps(Trace(task, item.trace.turns).to_dict(), sort_keys=True)
                        if episode in seen:
                            continue
                        seen.add(episode)
                    run = run_id(source, path, item.id)
                    for number, (begin, turns) in enumerate(windows_of(item.trace), start=1):
                        window = Trace(task, tuple(clipped(turns)))
                        row = {"id": f"{run}-w{number}", "source": source, "path": path,
                               "first_turn": begin + 1, "trace": window.to_dict()}
                        out.write(json.dumps(row, ensure_ascii=False) + "\n")


SCREEN_SEED = 20261206
SCREEN_SOURCES = ("gem",)


def screen_signals(window: dict[str, Any]) -> dict[str, float]:
    """What the screen looks at in a window: the most repeated command, failed calls, later user
    messages (mini-swe-agent's format errors), and words of thought per call."""
    turns = window["trace"]["turns"]
    calls = [turn for turn in turns if turn["role"] == "assistant" and "tool" in turn]
    repeats = Counter(json.dumps(call["args"], sort_keys=True) for call in calls)
    answered = Counter(json.dumps([call["args"], result["output"]], sort_keys=True)
                       for call, result in zip(turns, turns[1:])
                       if call["role"] == "assistant" and "tool" in call and result["role"] == "tool")
    return {"repeat": max(repeats.values(), default=0), "same_answer": max(answered.values(), default=0),
            "failed": sum(1 for turn in turns if turn["role"] == "tool" and turn["error"]),
            "user": sum(1 for turn in turns if turn["role"] == "user"),
            "words": sum(len(call.get("thought", "").split()) for call in calls) / max(1, len(calls))}


def screened(windows: list[dict[str, Any]]) -> list[str]:
    """The windows of SCREEN_SOURCES chosen for labelling (the second labelling session, 2026-12-06):
    every window with three or more format errors (user messages after the request) or a command
    repeated four or more times; then seeded random draws (SCREEN_SEED, in this order, each from the
    windows not yet chosen) of 12 windows with four or more failed calls, 8 with a command repeated
    three times, 10 with at least 80 words of thought per call, and 15 of the rest; last, every window
    not yet chosen in which one call gets the identical output three or more times (added after a
    first reading found few loops). The screen only chooses what to read; the labels come from reading."""
    rng = random.Random(SCREEN_SEED)
    pool = sorted((w for w in windows if w["source"] in SCREEN_SOURCES), key=lambda w: w["id"])
    signals = {w["id"]: screen_signals(w) for w in pool}
    chosen = [key for key, sig in signals.items() if sig["user"] >= 3 or sig["repeat"] >= 4]
    draws = ((12, lambda sig: sig["failed"] >= 4), (8, lambda sig: sig["repeat"] == 3),
             (10, lambda sig: sig["words"] >= 80), (15, lambda sig: True))
    for size, test in draws:
        candidates = [key for key, sig in signals.items() if key not in chosen and test(sig)]
        chosen += rng.sample(candidates, min(size, len(candidates)))
    chosen += [key for key, sig in signals.items() if key not in chosen and sig["same_answer"] >= 3]
    return sorted(chosen)


HQA_SCREEN_SEED = 20261207
HQA_PER_QUESTION = 2
HQA_UNFLAGGED = 10


def react_signals(window: dict[str, Any]) -> dict[str, int]:
    """What the `hqa` screen looks at: how often the most repeated action (tool and argument) occurs, and
    how many observations are a search miss ("Could not find ...")."""
    turns = window["trace"]["turns"]
    actions = Counter(json.dumps([turn["tool"], turn["args"]], sort_keys=True)
                      for turn in turns if turn["role"] == "assistant" and "tool" in turn)
    misses = sum(1 for turn in turns if turn["role"] == "tool" and turn["output"].startswith("Could not find"))
    return {"repeat": max(actions.values(), default=0), "misses": misses}


def flagged_hqa(window: dict[str, Any]) -> bool:
    """An action repeated, or two or more search misses: what the `hqa` screen reads first."""
    signals = react_signals(window)
    return signals["repeat"] >= 2 or signals["misses"] >= 2


def screened_hqa(windows: list[dict[str, Any]]) -> list[str]:
    """The `hqa` windows chosen for labelling (the third labelling session, 2026-12-07). Flagged: a window
    with an action repeated (the same tool and argument twice or more) or two or more "Could not find"
    observations. For each question (a task), its flagged windows in a seeded random order (seed
    HQA_SCREEN_SEED), the first HQA_PER_QUESTION of them: the logs hold several runs of each question
    (trials, plain ReAct and Reflexion), and the split keeps a question's windows together, so without a
    cap a few questions' near-repeat windows would fill a split. Then HQA_UNFLAGGED seeded draws of
    unflagged windows, one each from questions that have no window yet. The screen only chooses what
    to read; the labels come from reading."""
    rng = random.Random(HQA_SCREEN_SEED)
    pool = sorted((w for w in windows if w["source"] == "hqa"), key=lambda w: w["id"])
    by_question: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for window in pool:
        by_question[window["trace"]["task"]].append(window)
    chosen: list[str] = []
    for question in sorted(by_question):
        flagged = [w["id"] for w in by_question[question] if flagged_hqa(w)]
        rng.shuffle(flagged)
        chosen += flagged[:HQA_PER_QUESTION]
    covered = {w["trace"]["task"] for w in pool if w["id"] in chosen}
    open_questions = [question for question in sorted(by_question) if question not in covered]
    for question in rng.sample(open_questions, min(HQA_UNFLAGGED, len(open_questions))):
        chosen.append(rng.choice([w["id"] for w in by_question[question]]))
    return sorted(chosen)


def cmd_screen(args: argparse.Namespace) -> None:
    windows = [json.loads(line) for line in Path(args.windows).open(encoding="utf-8")]
    for key in (screened_hqa(windows) if args.source == "hqa" else screened(windows)):
        print(key)


def stratified_splits(rows: list[dict[str, Any]], rng: random.Random,
                      pinned: dict[str, str] | None = None) -> dict[str, str]:
    """Split by label with fixed shares; all windows of one task (every run on it) go to one split.
    A task with a window in `pinned` (window id -> split: the splits already shipped) keeps that split;
    the other tasks are split among themselves by the same rule."""
    pinned = pinned or {}
    split_of_run = {row["trace"]["task"]: pinned[row["id"]] for row in rows if row["id"] in pinned}
    runs_by_label: dict[str, list[str]] = defaultdict(list)
    label_of_run: dict[str, str] = {}
    for row in rows:  # a task's runs are placed by the rarest label among their windows
        run = row["trace"]["task"]
        if run in split_of_run:
            continue
        current = label_of_run.get(run)
        if current is None or RARITY[row["label"]] < RARITY[current]:
            label_of_run[run] = row["label"]
    for run, label in sorted(label_of_run.items()):
        runs_by_label[label].append(run)
    for label, runs in sorted(runs_by_label.items()):
        rng.shuffle(runs)
        n = len(runs)  # a label on two tasks goes to train and test; on three or more, to every split
        n_test = max(1, round(n * SPLIT_SHARE["test"])) if n >= 2 else 0
        n_val = max(1, round(n * SPLIT_SHARE["val"])) if n >= 3 else 0
        for index, run in enumerate(runs):
            split_of_run[run] = "test" if index < n_test else "val" if index < n_test + n_val else "train"
    return {row["id"]: split_of_run[row["trace"]["task"]] for row in rows}


RARITY = {"verbose_thinking": 0, "api_confusion": 1, "doom_loop": 2, "making_progress": 3}


def cmd_build(args: argparse.Namespace) -> None:
    windows = {json.loads(line)["id"]: json.loads(line) for line in Path(args.windows).open(encoding="utf-8")}
    labels = [json.loads(line) for line in LABELS.open(encoding="utf-8") if line.strip()]
    rows = []
    for entry in labels:
        window = windows[entry["id"]]
        rows.append({"id": entry["id"], "label": entry["label"], "reason": entry["reason"],
                     "source": window["source"], "path": window["path"], "first_turn": window["first_turn"],
                     "trace": window["trace"]})
    shipped = DATA / "agent_monitor-real.jsonl"  # the windows already shipped keep their splits
    pinned = ({row["id"]: row["split"] for row in map(json.loads, shipped.open(encoding="utf-8"))}
              if shipped.exists() else {})
    rng = random.Random(SEED)
    splits = stratified_splits(rows, rng, pinned)
    rows = [{**row, "split": splits[row["id"]]} for row in rows]
    rows.sort(key=lambda row: ("train val test".split().index(row["split"]), row["id"]))
    ordered = [{key: row[key] for key in ("id", "label", "split", "reason", "source", "path", "first_turn", "trace")}
               for row in rows]
    (DATA / "agent_monitor-real.jsonl").write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ordered), encoding="utf-8")
    if not SECOND_PASS.exists():  # the second pass was done on this sample; later windows do not change it
        sample = second_pass_sample(rows)
        SECOND_PASS.write_text("".join(f"{key}\n" for key in sample), encoding="utf-8")
    if not SECOND_PASS3.exists():  # likewise the third session's blind pass, on `hqa` windows
        SECOND_PASS3.write_text("".join(f"{key}\n" for key in second_pass3_sample(rows)), encoding="utf-8")
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        counts[row["split"]][row["label"]] += 1
    by_source = Counter(row["source"] for row in rows)
    per_source = Counter(w["source"] for w in windows.values())
    hqa_labels = Counter(row["label"] for row in rows if row["source"] == "hqa")
    hqa_questions = len({row["trace"]["task"] for row in rows if row["source"] == "hqa"})
    flagged = [row for row in rows if row["source"] == "hqa" and flagged_hqa(row)]
    hqa_flagged = (len(flagged), sum(row["label"] == "making_progress" for row in flagged))
    (DATA / "agent_monitor-real.provenance.md").write_text(
        provenance(counts, by_source, len(windows), per_source, hqa_labels, hqa_questions, hqa_flagged),
        encoding="utf-8")
    for split in ("train", "val", "test"):
        print(split, dict(counts[split]), sum(counts[split].values()))
    print("by source", dict(by_source))


def second_pass_sample(rows: list[dict], size: int = 50) -> list[str]:
    """The windows of the second labelling pass: every window not labelled making_progress (a random 50
    would hold two or three, too few to measure agreement on the rare states) and a seeded random draw of
    making_progress windows up to `size`, in a seeded order."""
    rng = random.Random("second-pass-2026-12-05")
    rare = [row for row in rows if row["label"] != "making_progress"]
    common = [row for row in rows if row["label"] == "making_progress"]
    chosen = rare + rng.sample(common, max(0, min(size - len(rare), len(common))))
    rng.shuffle(chosen)
    return [row["id"] for row in chosen]


SECOND_PASS3 = ROOT / "scripts" / "agent_monitor_real_second_pass3_ids.txt"
LABEL_NAMES = ("doom_loop", "api_confusion", "verbose_thinking", "making_progress")


def second_pass3_sample(rows: list[dict], size: int = 60) -> list[str]:
    """The windows of the third blind pass: every `hqa` window not labelled making_progress and a seeded
    random draw of its making_progress windows up to `size`, in a seeded order."""
    rng = random.Random("second-pass3-2026-12-07")
    hqa = sorted((row for row in rows if row["source"] == "hqa"), key=lambda row: row["id"])
    rare = [row for row in hqa if row["label"] != "making_progress"]
    common = [row for row in hqa if row["label"] == "making_progress"]
    chosen = rare + rng.sample(common, max(0, min(size - len(rare), len(common))))
    rng.shuffle(chosen)
    return [row["id"] for row in chosen]


PACKET_README = """# Labelling agent windows: instructions

You are given {n} windows of real agent runs, in `windows.jsonl` (one JSON object a line: `id`, and
`trace`: the agent's task and its turns). Each window is one episode of a ReAct agent answering a
question with a Wikipedia tool: `Search[entity]`, `Lookup[keyword]`, `Finish[answer]`; each assistant
turn is a call with its `thought`, each `tool` turn the environment's answer (`error` true when the
environment refused the action).

Label every window into one of four states, following `agent-labelling.md` (the labelling guide; its
section "ReAct question-answering windows" is the one for these windows):

- `doom_loop`: the agent repeats itself and gets nothing new from it;
- `api_confusion`: the agent uses its tools the wrong way and the errors come from the calling;
- `verbose_thinking`: deliberation, not action, makes up the window;
- `making_progress`: everything else.

Read each window whole and decide by what the agent does, not by a phrase in it. Work alone: use
nothing but this folder, and do not look for other labels of these windows. Write one JSON line per
window, in any order, to `labels.jsonl`:

    {{"id": "<the window's id>", "label": "<one of the four>", "reason": "<one line: what in the window decided it>"}}

Every id exactly once. When done, note in a few lines where the guide was unclear for you.
"""


def cmd_packet(args: argparse.Namespace) -> None:
    """A folder for a blind labeller: README.md, the guide, and the windows without labels or reasons."""
    ids = Path(args.ids).read_text(encoding="utf-8").split()
    rows = {row["id"]: row for row in map(json.loads, (DATA / "agent_monitor-real.jsonl").open(encoding="utf-8"))}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text(PACKET_README.format(n=len(ids)), encoding="utf-8")
    (out / "agent-labelling.md").write_text((ROOT / "docs" / "agent-labelling.md").read_text(encoding="utf-8"),
                                            encoding="utf-8")
    with (out / "windows.jsonl").open("w", encoding="utf-8") as handle:
        for key in ids:
            handle.write(json.dumps({"id": key, "trace": rows[key]["trace"]}, ensure_ascii=False) + "\n")
    print(f"wrote {out}: README.md, agent-labelling.md, windows.jsonl ({len(ids)} windows)")


def agreement(first: dict[str, str], second: dict[str, str]) -> dict[str, Any]:
    """Raw agreement with its Wilson 95% interval, Cohen's kappa, and the confusion (first label ->
    second label counts) over the windows both passes labelled."""
    keys = sorted(set(first) & set(second))
    n = len(keys)
    agree = sum(first[key] == second[key] for key in keys)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for key in keys:
        confusion[first[key]][second[key]] += 1
    share = agree / n if n else 0.0
    low, high = wilson_interval(agree, n)
    firsts, seconds = Counter(first[key] for key in keys), Counter(second[key] for key in keys)
    chance = sum(firsts[label] * seconds[label] for label in set(firsts) | set(seconds)) / (n * n) if n else 0.0
    kappa = (share - chance) / (1 - chance) if chance < 1 else 1.0
    return {"n": n, "agree": agree, "share": share, "low": low, "high": high,
            "kappa": kappa, "confusion": confusion}


def cmd_agreement(args: argparse.Namespace) -> None:
    first = {row["id"]: row["label"] for row in map(json.loads, LABELS.open(encoding="utf-8")) if row}
    second = {}
    for number, line in enumerate(Path(args.second).open(encoding="utf-8"), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in LABEL_NAMES or row.get("id") not in first or not str(row.get("reason", "")).strip():
            sys.exit(f"{args.second}:{number}: needs a known id, one of the four labels and a reason: {line.strip()[:120]}")
        second[row["id"]] = row["label"]
    if args.ids:
        wanted = Path(args.ids).read_text(encoding="utf-8").split()
        missing = [key for key in wanted if key not in second]
        if missing:
            print(f"not labelled in {args.second}: {len(missing)} of {len(wanted)} ({', '.join(missing[:5])}...)",
                  file=sys.stderr)
    result = agreement(first, second)
    print(f"agreed on {result['agree']} of {result['n']} ({100 * result['share']:.1f}%, 95% CI "
          f"{100 * result['low']:.1f}-{100 * result['high']:.1f}%), Cohen's kappa {result['kappa']:.2f}")
    print("first \\ second: " + ", ".join(LABEL_NAMES))
    for label in LABEL_NAMES:
        row = result["confusion"].get(label, Counter())
        if sum(row.values()):
            print(f"  {label}: " + ", ".join(str(row[other]) for other in LABEL_NAMES)
                  + f"  (agree {row[label]}/{sum(row.values())})")


def provenance(counts: dict[str, Counter[str]], by_source: Counter[str], windows: int, per_source: Counter[str],
               hqa_labels: Counter[str] | None = None, hqa_questions: int = 0,
               hqa_flagged: tuple[int, int] = (0, 0)) -> str:
    """The provenance file: sources with commit and licence, selection, windows, labels and splits."""
    hqa_labels = hqa_labels or Counter()
    labels = ("doom_loop", "api_confusion", "verbose_thinking", "making_progress")
    table = ["| split | " + " | ".join(labels) + " | total |", "|---" * (len(labels) + 2) + "|"]
    for split in ("train", "val", "test"):
        per = counts[split]
        table.append(f"| {split} | " + " | ".join(str(per[label]) for label in labels) + f" | {sum(per.values())} |")
    sources = "\n".join(
        f"- `{key}`: {spec['what']}. Repository {spec['repository']}, commit {spec['commit']}, files "
        f"`{spec['glob']}**/*{spec['suffix']}`, read with `--from {spec['format']}`; licence {spec['licence']}. "
        f"Labelled windows: {by_source.get(key, 0)}."
        for key, spec in SOURCES.items())
    return PROVENANCE.format(sources=sources, table="\n".join(table), windows=windows,
                             gem_chosen=by_source.get("gem", 0), gem_windows=per_source["gem"],
                             hqa_chosen=by_source.get("hqa", 0), hqa_windows=per_source["hqa"],
                             hqa_labels=", ".join(f"{n} {label}" for label, n in hqa_labels.most_common()),
                             hqa_questions=hqa_questions, hqa_seed=HQA_SCREEN_SEED, hqa_cap=HQA_PER_QUESTION,
                             hqa_unflagged=HQA_UNFLAGGED, hqa_flagged=hqa_flagged[0],
                             hqa_flagged_progress=hqa_flagged[1],
                             window_calls=WINDOW_CALLS, min_calls=MIN_CALLS, output_cap=OUTPUT_CAP,
                             args_cap=ARGS_CAP, task_cap=TASK_CAP, seed=SEED,
                             total=sum(sum(c.values()) for c in counts.values()))


PROVENANCE = """# agent_monitor-real: provenance

Real agent trajectories that smolgepa did not write, cut into windows and labelled by hand into the
four states. Built by `scripts/build_agent_monitor_real.py` (the `windows` step reads the sources
below at their pinned commits; the `build` step joins the windows with
`scripts/agent_monitor_real_labels.jsonl` and writes `agent_monitor-real.jsonl` and this file).

## Sources

{sources}

Every source is MIT-licensed; the MIT notice of each repository covers the trajectories it ships,
and is reproduced here by naming the licence, its holders being the repositories' authors
(SWE-agent and mini-swe-agent, and the gruckion fork whose LICENSE.md keeps that notice: Kilian A.
Lieret and Carlos E. Jimenez; OpenAgents, Inc.; Noah Shinn for the Reflexion logs). The Gemini 3 Pro runs are the mini-swe-agent team's
SWE-bench bash-only submission, published on S3 by SWE-bench and committed to the fork by its owner;
they are shipped here under the fork's licence. None of the data comes from tau-bench or ToolBench,
which are kept apart for an independent check. Looked at and not used: multi-swe-bench/experiments
(SWE-agent runs of GPT-4o, DeepSeek and Doubao models on Java issues, rich in loops, but the
repository has no licence; its package.json's "ISC" is the npm default of its leaderboard scripts).

## Windows

Each trajectory is imported through `smolgepa traces import`'s converters, then cut into
non-overlapping windows of at most {window_calls} tool calls, each starting at a tool call; a last
piece with fewer than {min_calls} calls is left out. {windows} windows in all. Left out: five
DeepSeek-reasoner runs in which the agent made no call, one run file absent from the fetched clone
(django__django-13220), and SWE-agent's `function_calling_simple.traj` (a demonstration without a
trajectory). A ReAct episode (`hqa`) has at most 6 steps, so it is one window, and episodes with fewer
than {min_calls} steps (most correct answers) have none: {hqa_windows} `hqa` windows, an episode met
again in another log or trial (the same question and steps) kept once. A window keeps the run's
task (the issue text only, the agent framework's instructions left out; for `hqa` the question only,
Reflexion's reflections on earlier trials left out, because they describe another episode, "I got stuck
in a loop...", and so that every run on a question has one task; clipped to {task_cap}
characters); tool outputs longer than {output_cap} characters and argument values longer than
{args_cap} are clipped with a "[... N more characters]" marker; thoughts are kept whole (their
length is evidence of monologue).

## Selection for labelling

Not every window was labelled. Labelled: every window from the SWE-agent and OpenAgents sources;
from mini-swe-agent, every window that a screen flagged as a possible loop or misuse (the same
command three or more times in the window, four or more failed calls, or a later user message such
as "Tool call error"), a seeded random 30 of the windows with at least 80 words of thinking per call,
and a seeded random 100 of the rest (seed {seed}). This choice was made once, in the labelling
session, on a first cut of the windows that clipped tool outputs at 1500 and thoughts at 2500
characters (the screen's counts differ slightly on the shipped cut), so the chosen ids are recorded
in the labels file rather than recomputed by the script. The screen only chose what to read; every label
was given by reading the window (docs/agent-labelling.md), and the flagged windows are mostly
labelled making_progress. The label counts therefore over-represent the rare states relative to all
windows of these runs.

The `gem` windows (Gemini 3 Pro, added in a second labelling session on 2026-12-06 to get more
rare-state windows) were chosen by `build_agent_monitor_real.py screen`, which recomputes the choice
from the windows: every window with three or more format-error refusals (mini-swe-agent's "Please
always provide EXACTLY ONE action in triple backticks") or one command four or more times, then seeded
random draws (seed 20261206) of 12 windows with four or more failed calls, 8 with a command three
times, 10 with at least 80 words of thought per call and 15 of the rest, and last (added after the
first reading found few loops) every other window in which one call gets the identical output three
or more times: {gem_chosen} of {gem_windows} `gem` windows. Every one was read and labelled (nine more windows, read from a larger first draw
that was cut to fit the session, were dropped with their labels so that the labelled set is exactly
the screen's choice). Gemini 3 Pro rarely loops but often writes several bash blocks in one reply, so
most of its rare windows are api_confusion (the refusal repeated three or more times in a window).

The `hqa` windows (ReAct on HotPotQA, added in a third labelling session on 2026-12-07 to get more
real loops: the coding logs hold few) were chosen by `build_agent_monitor_real.py screen --source hqa`.
Flagged: a window in which one action (tool and argument) occurs twice or more, or with two or more
"Could not find" observations. For each question, its flagged windows in a seeded random order (seed
{hqa_seed}), the first {hqa_cap}: the logs hold many runs of each question (trials of plain ReAct and of
Reflexion, the same question up to a dozen times), and the split keeps a question's windows together,
so without a cap a few questions' near-repeat windows would fill a split. Then {hqa_unflagged} seeded draws
of unflagged windows, one each from a question that had no window yet. {hqa_chosen} of {hqa_windows}
`hqa` windows, on {hqa_questions} questions; every one was read and labelled: {hqa_labels}. Even with
the cap, two windows of one question are often near-repeats (the same loop in two trials). The
flag is not the label: {hqa_flagged_progress} of the {hqa_flagged} flagged windows read as progress
(a miss, then the right title from the Similar list), and "Could not find" appears in windows of
every state; all {hqa_unflagged} unflagged draws read as progress, so the `hqa` label counts
over-represent loops relative to all its windows. This source is a
question-answering agent with a search tool, not a coding agent; its loops (the same search again,
or rewordings of one failing search) and its misuse (several actions in one line, quoted titles)
are shorter and plainer than the coding agents' (docs/agent-labelling.md).

## Labels and splits

{total} windows, each labelled by one annotator (the AI coding agent that built this task, reading each
window in a compact view: every call, its result's first line, and the words of each thought)
following docs/agent-labelling.md, each with a one-line reason (the `reason` field). The labels are
one reading, not a consensus; the reasons let a reviewer check each one. A second, independent
pass (scripts/agent_monitor_real_second_pass_labels.jsonl, 2026-12-05: another session of the same kind
of agent, given only this guide and the 50 windows of scripts/agent_monitor_real_second_pass_ids.txt,
never the first labels) agreed on 45 of 50 (90.0%, 95% CI 78.6-95.7%), Cohen's kappa 0.76. The 50 are
every window first labelled a rare state and making_progress windows to 50, so agreement per first label:
verbose_thinking 7/7, making_progress 35/36 (the other read as verbose_thinking), api_confusion 1/2,
doom_loop 2/5 (the three others read as progress: each repeated round failed differently or probed
something new in between). doom_loop is the least settled label; the guide's "same failure" and "most
of the window" were what the second annotator found ambiguous. The first labels are kept.
The {gem_chosen} `gem` windows were labelled the same way in a second session (the same kind of agent, with
this guide, reading every window; docs/agent-labelling.md records the cases this source raised). A
blind second pass on 61 of them (scripts/agent_monitor_real_second_pass2_labels.jsonl, 2026-12-06:
every `gem` window first labelled a rare state and 14 seeded making_progress windows, listed in
scripts/agent_monitor_real_second_pass2_ids.txt, shown to another session without labels) agreed on 60
of 61 (98.4%, 95% CI 91.3-99.7%), Cohen's kappa 0.97: api_confusion 41/42 (the other read as progress:
it reads the file after each syntax error and fixes the lines), doom_loop 4/4, verbose_thinking 1/1,
making_progress 14/14. The agreement is high because the guide's refusal rule is mechanical (three or
more format-error refusals make a window api_confusion, whatever the calls between them do): the second
annotator found that rule decides almost every api_confusion window, and named as unsettled whether a
loop the agent breaks inside the window still counts, and whether long analyses inside refused replies
count as thinking.
The {hqa_chosen} `hqa` windows were labelled the same way in a third session (the same kind of agent, with
this guide and its section on ReAct windows, reading every window in a compact view: each thought and
action whole, and the first 160 characters of each observation). A blind second pass on a
sample of them (scripts/agent_monitor_real_second_pass3_ids.txt: every `hqa` window first labelled a
rare state and 23 seeded making_progress windows, shown without labels to another session that saw
only the windows, the guide and its instructions) agreed on 57 of 60 (95.0%, 95% CI 86.3-98.3%),
Cohen's kappa 0.92: doom_loop 25/26 (the other read as api_confusion: a pair of actions that each pack
several searches into one line, repeated twice), api_confusion 10/11 (the other read as a loop: one
quoted search repeated), making_progress 22/23 (the other read as a loop: reworded searches that break
out in the last steps). Both annotators are the same kind of model reading the same guide, so the
agreement measures how mechanical the guide is, not how right it is. The second annotator named as
unsettled: whether reworded misses over half of a six-step window are "most" of it, whether a run that
breaks out in the last step is still a loop, and quoted searches that are also rewordings.
Splits are stratified by label with shares 50/20/30; all windows of one task (every run on the same
issue) go to one split, so no issue text is in two splits. The windows of the first session keep the
splits they were shipped with (the build reads them from the shipped file), and so does any task
that already had a window there (four Gemini tasks are issues the DeepSeek runs also worked on); the
new tasks are split among themselves by the same rule (an `hqa` task is a question, so all of its
windows, from every trial and agent, are in one split).

{table}

The test split is never used to tune anything.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    windows = verbs.add_parser("windows", help="cut the pinned trajectories into windows (JSONL on stdout)")
    windows.add_argument("--mini-swe-agent", required=True)
    windows.add_argument("--swe-agent", required=True)
    windows.add_argument("--openagents", required=True)
    windows.add_argument("--gemini", required=True, help="a clone of gruckion/mini-swe-agent")
    windows.add_argument("--reflexion", required=True, help="a clone of noahshinn/reflexion (the ReAct HotPotQA logs)")
    windows.set_defaults(func=cmd_windows)
    screen = verbs.add_parser("screen", help="the ids of the new source's windows chosen for labelling")
    screen.add_argument("--windows", required=True)
    screen.add_argument("--source", choices=("gem", "hqa"), default="gem",
                        help="gem: the Gemini windows of the second session; hqa: the ReAct HotPotQA windows of the third")
    screen.set_defaults(func=cmd_screen)
    build = verbs.add_parser("build", help="join windows and labels into the task file")
    build.add_argument("--windows", required=True)
    build.set_defaults(func=cmd_build)
    packet = verbs.add_parser("packet", help="a folder for a blind second labeller (no labels, no reasons)")
    packet.add_argument("--ids", default=str(SECOND_PASS3), help="the windows to label (default: the third pass's)")
    packet.add_argument("--out", required=True)
    packet.set_defaults(func=cmd_packet)
    agree = verbs.add_parser("agreement", help="agreement of a second labelling pass with the first labels")
    agree.add_argument("--second", required=True, help='JSONL of {"id", "label", "reason"}')
    agree.add_argument("--ids", help="the sample the second pass was given (to report windows it left out)")
    agree.set_defaults(func=cmd_agreement)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
