"""Speed benchmarks of smolgepa's evaluation against bare llama-cpp-python (issue 7).

    python benchmarks/bench.py [--quick]

Prints one line per figure, `RATIO <name> <value> target <op> <value>` (or `FIGURE ...` for absolute
numbers), then a Markdown table. Every ratio compares two set-ups measured in this one process,
back to back and interleaved round by round, on the same prompts; the median round counts. Other
programs running on the machine slow both sides alike but still add noise: the load average is
printed at the start and the end. `--quick` uses fewer examples and rounds and skips the full
optimize run (under 3 minutes on an idle 2-core machine). The trace-rendering and scoring-method
figures (summary vs plain, channel/ensemble vs scored, kNN anchor reuse) live in bench_traces.py;
`--traces` runs only those. The issue-18 figures (the re-encoded default against plain
llama-cpp-python, one decoding thread against all, trace prefill efficiency, the stock DSPy pipeline) live in bench_speed.py;
`--speed` runs only those. The scale figures (two servers behind one student, a study on a local
Ray cluster) live in bench_scale.py; `--scale` runs only those (they need smolgepa[ray]). The
`smolgepa watch` figure (one update of a growing trace against reading it afresh) lives in
bench_watch.py; `--watch` runs only that. `--rounds N` sets how many interleaved rounds each ratio
takes its median of (default 5, 3 with `--quick`); the tests run one, to check the lines, not the speed.
The format probe (which model encoding this CPU reads fastest) runs once into a temporary directory,
unless SMOLGEPA_MODELS_DIR names a directory where it has already run.
"""

from __future__ import annotations

import os

# Before llama_cpp is first imported: spinning OpenMP threads stall llama.cpp on a busy machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import dspy  # noqa: E402

from smolgepa.adapter.plain_text import PlainTextAdapter  # noqa: E402
from smolgepa.evaluation.evaluate import evaluate  # noqa: E402
from smolgepa.machine import cpu_description  # noqa: E402
from smolgepa.lm import make_lm  # noqa: E402
from smolgepa.lm.cache_home import CACHE_ENV  # noqa: E402
from smolgepa.lm.response_cache import CachedEngine
from smolgepa.lm.local.model_files import embedded_model_path  # noqa: E402
from smolgepa.lm.local.quantize import MODELS_ENV  # noqa: E402
from smolgepa.lm.local.reencode import default_model_file  # noqa: E402
from smolgepa.adapter.program import make_signature, seed_instruction  # noqa: E402
from smolgepa.tasks import load_task  # noqa: E402
from smolgepa.tasks.model import Example, Task  # noqa: E402

from bench_helpers import Figure, load, median_rounds, raw_engine, say, time_per_example  # noqa: E402

GIB = 1024 * 1024 * 1024


def plain_llama(path: Path, **overrides: Any) -> Any:
    """The model loaded the plain way: llama-cpp-python's defaults, context as smolgepa's."""
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=2048, verbose=False, **overrides)


class FreshPrefill:
    """An engine that clears the KV cache before every request: the no-prefix-reuse baseline."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def complete(self, request: Any) -> Any:
        self.inner.llama().reset()
        return self.inner.complete(request)


def long_instruction(task: Task, count_tokens: Callable[[str], int], minimum: int = 420) -> str:
    """The seed instruction followed by worked examples from the train split, at least `minimum` tokens."""
    lines = [seed_instruction(task), "", "Examples:"]
    train = task.split("train")
    index = 0
    while count_tokens("\n".join(lines)) < minimum:
        example = train[index % len(train)]
        lines.append(f"Text: {example.input}\nLabel: {example.label}")
        index += 1
    return "\n".join(lines)


# --- the figures -------------------------------------------------------------------------------


def eval_overhead(task: Task, lm: dspy.LM, examples: Sequence[Example], rounds: int, work: Path) -> Figure:
    """smolgepa's evaluate() per example (disk cache on, empty) over a bare create_chat_completion loop."""
    engine = raw_engine(lm)
    llama = engine.llama()
    # The same file, threads and attention kernel as the engine: this figure is the evaluation's own overhead.
    bare = plain_llama(Path(engine.settings.path), n_threads=llama.n_threads, n_threads_batch=llama.n_threads_batch,
                       flash_attn=engine.settings.flash_attn)
    signature = make_signature(task, seed_instruction(task))
    prompts = [PlainTextAdapter().format(signature, [], {"input": example.input}) for example in examples]
    bare_texts: list[str] = []
    ours_texts: list[str] = []
    counter = iter(range(10**6))

    def run_bare() -> float:
        def loop() -> None:
            bare_texts[:] = [
                bare.create_chat_completion(
                    messages=messages, temperature=0.0, top_p=1.0, max_tokens=24, stop=["\n\n"], seed=0
                )["choices"][0]["message"]["content"]
                or ""
                for messages in prompts
            ]

        return time_per_example(loop, len(examples))

    def run_ours() -> float:
        cached = lm.copy(engine=CachedEngine(engine, directory=work / f"overhead-{next(counter)}"))

        def loop() -> None:
            report = evaluate(task, cached, examples)
            ours_texts[:] = [p.raw for p in report.predictions]

        return time_per_example(loop, len(examples))

    run_bare(), run_ours()  # warm up: both have the instruction in their KV cache from here on
    bare_time, ours_time = median_rounds(rounds, run_bare, run_ours)
    bare.close()
    same = sum(a == b for a, b in zip(bare_texts, ours_texts))
    note = (
        f"{ours_time * 1000:.0f} vs {bare_time * 1000:.0f} ms/example, n={len(examples)}; "
        f"same completion text {same}/{len(examples)}"
    )
    return Figure("RATIO", "eval_overhead", ours_time / bare_time, "<=", 1.10, note)


def prefix_reuse(task: Task, lm: dspy.LM, examples: Sequence[Example], rounds: int) -> Figure:
    """Per-example time with a 400+ token instruction: fresh prefill each time over KV prefix reuse."""
    engine = raw_engine(lm)
    llama = engine.llama()
    instruction = long_instruction(task, lambda text: len(llama.tokenize(text.encode("utf-8"), add_bos=False)))
    tokens = len(llama.tokenize(instruction.encode("utf-8"), add_bos=False))
    reuse = lm.copy(engine=engine)
    fresh = lm.copy(engine=FreshPrefill(engine))

    warm_up = task.split("train")[:1]

    def run(student: dspy.LM) -> Callable[[], float]:
        def step() -> float:
            evaluate(task, student, warm_up, instruction)  # the instruction is now in the KV cache
            return time_per_example(lambda: evaluate(task, student, examples, instruction), len(examples))

        return step

    with_reuse, without_reuse = median_rounds(rounds, run(reuse), run(fresh))
    note = (
        f"{without_reuse * 1000:.0f} vs {with_reuse * 1000:.0f} ms/example, "
        f"instruction {tokens} tokens, n={len(examples)}"
    )
    return Figure("RATIO", "prefix_reuse", without_reuse / with_reuse, ">=", 5.0, note)


def cache_rerun(task: Task, lm: dspy.LM, examples: Sequence[Example], work: Path) -> Figure:
    """The same evaluation twice with an empty disk cache: first run over second."""
    cached = lm.copy(engine=CachedEngine(raw_engine(lm), directory=work / "rerun"))
    first = time_per_example(lambda: evaluate(task, cached, examples), len(examples))
    second = time_per_example(lambda: evaluate(task, cached, examples), len(examples))
    stats = cached.engine.stats
    note = f"{first * 1000:.0f} vs {second * 1000:.1f} ms/example, n={len(examples)}, hits {stats.hits}"
    return Figure("RATIO", "cache_rerun", first / second, ">=", 20.0, note)


def peak_rss(work: Path) -> Figure:
    """Peak resident memory of `smolgepa eval --task sentiment --split val` in its own process."""
    default_model_file(embedded_model_path())  # probe and convert beforehand: that memory is not evaluation
    env = {**os.environ, CACHE_ENV: str(work)}
    command = [sys.executable, "-m", "smolgepa.cli", "eval", "--task", "sentiment", "--split", "val", "--json"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        error = child.stderr.read().decode(errors="replace")[-300:] if child.stderr else ""
        return Figure("FIGURE", "peak_rss_mib", None, note=f"`smolgepa eval` failed: {error}")
    mib = usage.ru_maxrss / 1024  # Linux: KiB
    return Figure("FIGURE", "peak_rss_mib", mib, "<=", 1024, "embedded eval of sentiment val")


def optimize_run(work: Path) -> list[Figure]:
    """A full `smolgepa optimize --task sentiment-extended --decode scored` on the embedded default:
    wall time and metric calls per second (`optimize_throughput`, tracked, no target)."""
    try:
        import smolgepa.cli.optimize  # noqa: F401
    except ImportError as exc:
        return [Figure("FIGURE", "optimize_wall_seconds", None, note=f"no optimize command yet ({exc})")]
    run_dir = work / "optimize-run"
    env = {**os.environ, CACHE_ENV: str(work / "optimize-cache")}
    command = [sys.executable, "-m", "smolgepa.cli", "optimize", "--task", "sentiment-extended", "--decode", "scored",
               "--run-dir", str(run_dir), "--quiet", "--json"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return [Figure("FIGURE", "optimize_wall_seconds", None, note=f"optimize failed: {done.stderr[-300:]}")]
    summary = json.loads(done.stdout)
    calls = int((summary.get("counts") or {}).get("metric_calls") or 0)
    budget = (summary.get("config") or {}).get("budget")
    return [
        Figure("FIGURE", "optimize_wall_seconds", wall, "<=", 180, f"{calls} metric calls"),
        Figure("RATIO", "optimize_throughput", calls / wall,
               note=f"metric calls/s, budget {budget}, {calls} calls in {wall:.0f}s, sentiment-extended scored"),
    ]


# --- main --------------------------------------------------------------------------------------


def machine() -> str:
    return (
        f"{time.strftime('%Y-%m-%d')}, {cpu_description()}, Python {platform.python_version()}, "
        f"llama-cpp-python {metadata.version('llama_cpp_python')}"
    )


def table(figures: Sequence[Figure]) -> str:
    rows = ["| figure | value | target | met |", "|---|---|---|---|"]
    for figure in figures:
        value = "skipped" if figure.value is None else f"{figure.value:.3g}"
        target = f"{figure.op} {figure.target:g}" if figure.op is not None else ""
        met = {True: "yes", False: "NO", None: ""}[figure.ok]
        rows.append(f"| {figure.name} | {value} | {target} | {met} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer examples and rounds; skip the optimize run")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="interleaved rounds per ratio, the median counting (default 5, 3 with --quick)")
    parser.add_argument("--traces", action="store_true",
                        help="only the trace-rendering and scoring-method figures (bench_traces.py)")
    parser.add_argument("--speed", action="store_true",
                        help="only the re-encoded default, decode threads, trace prefill and stock-DSPy figures (bench_speed.py)")
    parser.add_argument("--scale", action="store_true",
                        help="only the scale figures: two servers, a study on Ray (bench_scale.py)")
    parser.add_argument("--watch", action="store_true",
                        help="only the watch figure: one update of a growing trace against reading it afresh "
                             "(bench_watch.py)")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else 3 if args.quick else 5
    if rounds < 1:
        parser.error(f"--rounds {rounds}: give at least 1")
    started = time.perf_counter()
    say(f"# {machine()}")
    say(f"# load average at start: {load()} (other programs on this machine add noise to every timing)")
    task = load_task("sentiment")
    examples = task.split("val") + task.split("test") if args.quick else list(task.examples)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="smolgepa-bench-") as directory:
        work = Path(directory)
        os.environ[CACHE_ENV] = str(work / "default-cache")  # never touch the user's cache
        os.environ.setdefault(MODELS_ENV, str(work / "models"))  # the format probe runs once, for every process here
        lm = make_lm("embedded")
        dspy.configure(lm=lm)
        from bench_speed import speed_figures
        from bench_traces import trace_figures
        from bench_watch import watch_figure

        steps: list[Callable[[], Figure | list[Figure]]] = [
            lambda: speed_figures(lm, args.quick, rounds, work),
            lambda: eval_overhead(task, lm, examples, rounds, work),
            lambda: prefix_reuse(task, lm, examples[: 3 if args.quick else 8], rounds),
            lambda: cache_rerun(task, lm, examples, work),
            lambda: peak_rss(work),
            lambda: trace_figures(args.quick, rounds),
            lambda: watch_figure(rounds),
        ]
        if args.scale:
            from bench_scale import ray_study, two_servers

            steps = [lambda: two_servers(rounds, work), lambda: ray_study(work)]
        elif args.traces:
            steps = steps[-2:-1]
        elif args.watch:
            steps = steps[-1:]
        elif args.speed:
            steps = steps[:1]
        elif not args.quick:
            steps.append(lambda: optimize_run(work))
        for step in steps:
            result = step()
            for figure in result if isinstance(result, list) else [result]:
                figures.append(figure)
                say(figure.line())
        if args.quick and not (args.traces or args.scale or args.speed or args.watch):
            say("# optimize: skipped with --quick (run without it for the full optimize of sentiment)")
    say(f"# load average at end: {load()}; bench took {time.perf_counter() - started:.0f}s")
    say("")
    say(table(figures))
    return 0 if all(figure.ok is not False for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
