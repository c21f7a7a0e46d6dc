"""Speed figures of issue 18 for benchmarks/bench.py: the re-encoded default against plain
llama-cpp-python, prefill efficiency on agent traces, and the stock DSPy pipeline as the yardstick.

- `prefill_speed`: prompt tokens/s of the default embedded student's model over the shipped file
  loaded plainly with llama-cpp-python (2 threads, n_batch 512), on a 450-token prompt (>= 1.5).
- `prefill_vs_raw`: the same over the default student's own (re-encoded) file loaded plainly (>= 0.9).
- `decode_threads`: milliseconds per generated token with every thread decoding over the default
  engine's one decoding thread (`smolgepa.lm.local.embedded.DECODE_THREADS`), the same file and
  prompt, greedy (>= 1.2; the two must also pick the same tokens).
- `trace_prefill_efficiency`: prompt tokens processed per second of wall time on
  `agent_monitor-extended` test with `scored` (every request's whole prompt counts, so KV reuse
  helps), over the plain prefill speed of the same file on one long trace prompt (>= 0.7).
- `vs_dspy_stock`: examples/s of smolgepa's evaluation (embedded default, `scored`) over what a DSPy
  user runs today on the same task and GGUF: `dspy.LM` through litellm to a local
  `python -m llama_cpp.server`, stock `ChatAdapter`, `dspy.Evaluate` (>= 3), with both accuracies and
  the stock pipeline's unparseable rate.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dspy

from bench_helpers import Figure, median_rounds, raw_engine
from smolgepa.evaluation.evaluate import evaluate
from smolgepa.candidate.header import take_header
from smolgepa.lm import StudentOptions, make_lm
from smolgepa.lm.messages import request_messages
from smolgepa.lm.local.model_files import embedded_model_path
from smolgepa.lm.local.label_scorer import chat_prompt_tokens
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task
from smolgepa.tasks.model import Task

TRACE_TASK = "agent_monitor-extended"
TEXT_TASK = "sentiment-extended"
THREADS = 2


def plain(path: Path | str) -> Any:
    """A file loaded the plain way, as the issue measured raw llama-cpp-python: 2 threads, n_batch 512."""
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=2048, n_threads=THREADS, n_threads_batch=THREADS, n_batch=512,
                 verbose=False)


def prefill_step(llama: Any, tokens: Sequence[int]) -> Callable[[], float]:
    """One fresh prefill of `tokens`: tokens per second."""
    def step() -> float:
        llama.reset()
        started = time.perf_counter()
        llama.eval(list(tokens))
        return len(tokens) / (time.perf_counter() - started)

    return step


def prefill_figures(lm: dspy.LM, rounds: int) -> list[Figure]:
    """`prefill_speed` and `prefill_vs_raw`, the three models timed interleaved on one 450-token prompt."""
    engine = raw_engine(lm)
    ours = engine.llama()
    shipped, same = plain(embedded_model_path()), plain(engine.settings.path)
    text = " ".join(example.input for example in load_task(TEXT_TASK).examples)
    tokens = shipped.tokenize(text.encode("utf-8"), add_bos=False)[:450]
    steps = [prefill_step(llama, tokens) for llama in (ours, shipped, same)]
    for step in steps:
        step()  # warm up
    ours_speed, shipped_speed, same_speed = median_rounds(rounds, *steps)
    shipped.close(), same.close()
    ours.reset()
    name = Path(engine.settings.path).name
    return [
        Figure("RATIO", "prefill_speed", ours_speed / shipped_speed, ">=", 1.5,
               f"{ours_speed:.0f} vs {shipped_speed:.0f} tok/s, {len(tokens)} tokens; default: {name}, "
               f"flash_attn {engine.settings.flash_attn}"),
        Figure("RATIO", "prefill_vs_raw", ours_speed / same_speed, ">=", 0.9,
               f"{ours_speed:.0f} vs {same_speed:.0f} tok/s, the same file loaded plainly"),
    ]  # fmt: skip


def decode_step(llama: Any, prompt: Sequence[int], steps: int, picked: list[list[int]]) -> Callable[[], float]:
    """A fresh prefill of `prompt`, then `steps` greedy one-token steps: milliseconds per step (the
    tokens picked go to `picked`)."""
    def step() -> float:
        llama.reset()
        llama.eval(list(prompt))
        tokens: list[int] = []
        started = time.perf_counter()
        for _ in range(steps):
            tokens.append(llama.sample(temp=0.0))
            llama.eval([tokens[-1]])
        picked.append(tokens)
        return 1000 * (time.perf_counter() - started) / steps

    return step


def decode_threads(lm: dspy.LM, rounds: int, steps: int = 48) -> Figure:
    """`decode_threads`: one-token steps with every thread over the default engine's decoding threads."""
    engine = raw_engine(lm)
    ours = engine.llama()
    every = THREADS if engine.settings.n_threads == 0 else engine.settings.n_threads
    from llama_cpp import Llama

    all_threads = Llama(model_path=engine.settings.path, n_ctx=2048, n_threads=every, n_threads_batch=every,
                        flash_attn=engine.settings.flash_attn, verbose=False)
    prompt = ours.tokenize(load_task(TEXT_TASK).examples[0].input.encode("utf-8"), add_bos=True)
    picked: tuple[list[list[int]], list[list[int]]] = ([], [])
    timed = [decode_step(ours, prompt, steps, picked[0]), decode_step(all_threads, prompt, steps, picked[1])]
    for step in timed:
        step()  # warm up
    ours_ms, all_ms = median_rounds(rounds, *timed)
    all_threads.close()
    ours.reset()
    same = picked[0] == picked[1]
    note = (f"{all_ms:.1f} vs {ours_ms:.1f} ms/token ({every} vs {ours.context_params.n_threads} threads), "
            f"{steps} steps; same tokens: {'yes' if same else 'NO'}")
    return Figure("RATIO", "decode_threads", all_ms / ours_ms if same else 0.0, ">=", 1.2, note)


class PromptCounter:
    """An engine wrapper that keeps each request's messages, to count prompt tokens afterwards."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[list[dict[str, str]]] = []

    def complete(self, request: Any) -> Any:
        self.seen.append(take_header(request_messages(request))[1])
        return self.inner.complete(request)


def trace_prefill_efficiency(count: int | None) -> Figure:
    """Prompt tokens/s of scored evaluation on the trace task's test split over plain prefill speed."""
    task = load_task(TRACE_TASK)
    examples = task.split("test")[:count]
    lm = make_lm("embedded", StudentOptions(decode="scored", labels=tuple(task.labels)))
    engine = raw_engine(lm)
    counter = PromptCounter(engine)
    evaluate(task, lm.copy(engine=engine), task.split("val")[:1])  # warm up: model load, instruction in the KV cache
    started = time.perf_counter()
    evaluate(task, lm.copy(engine=counter), examples)
    wall = time.perf_counter() - started
    llama = engine.llama()
    with engine._lock:  # noqa: SLF001 - the chat template runs on the loaded model
        lengths = [len(chat_prompt_tokens(llama, messages)) for messages in counter.seen]
    achieved = sum(lengths) / wall
    raw = plain(engine.settings.path)
    longest = max(counter.seen, key=lambda m: sum(len(part["content"]) for part in m))
    tokens = chat_prompt_tokens(raw, longest)
    step = prefill_step(raw, tokens)
    step()
    raw_speed = median_rounds(3, step)[0]
    raw.close()
    note = (f"{achieved:.0f} vs {raw_speed:.0f} tok/s; n={len(examples)} {TRACE_TASK} test, {sum(lengths)} prompt "
            f"tokens in {wall:.1f}s; raw: one {len(tokens)}-token prompt")
    return Figure("RATIO", "trace_prefill_efficiency", achieved / raw_speed, ">=", 0.7, note)


def vs_dspy_stock(count: int | None, work: Path) -> Figure:
    """smolgepa's scored evaluation against the stock DSPy pipeline on a llama.cpp server: examples/s."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.llama_server import LlamaServer

    task = load_task(TEXT_TASK)
    examples = task.split("test")[:count]
    lm = make_lm("embedded", StudentOptions(decode="scored", labels=tuple(task.labels)))
    lm = lm.copy(engine=raw_engine(lm))  # no disk cache
    evaluate(task, lm, task.split("val")[:1])  # warm up
    started = time.perf_counter()
    ours = evaluate(task, lm, examples)
    ours_rate = len(examples) / (time.perf_counter() - started)
    ours_correct = sum(p.correct for p in ours.predictions)
    with LlamaServer(embedded_model_path(), work / "llama_server.log", n_threads=THREADS) as server:
        stock_rate, stock_correct, unparseable = _stock_pipeline(task, examples, server.base_url)
    note = (f"{ours_rate:.2f} vs {stock_rate:.2f} examples/s, n={len(examples)} {TEXT_TASK} test; accuracy "
            f"{ours_correct}/{len(examples)} (smolgepa scored, default file) vs {stock_correct}/{len(examples)} "
            f"(DSPy stock, shipped file); stock unparseable {unparseable}/{len(examples)}")
    return Figure("RATIO", "vs_dspy_stock", ours_rate / stock_rate, ">=", 3.0, note)


def _stock_pipeline(task: Task, examples: Sequence[Any], base_url: str) -> tuple[float, int, int]:
    """What a DSPy user runs: dspy.LM via litellm, ChatAdapter, dspy.Predict, dspy.Evaluate.
    Examples/s, correct answers, unparseable answers (the adapter failed, or no known label)."""
    lm = dspy.LM("openai/smollm2", api_base=base_url, api_key="local", temperature=0.0, max_tokens=64,
                 cache=False, num_retries=0)
    program = make_program(task)
    devset = [dspy.Example(input=e.input, label=e.label).with_inputs("input") for e in examples]

    def metric(example: dspy.Example, prediction: Any, trace: Any = None) -> bool:
        return str(getattr(prediction, "label", "") or "").strip() == example.label

    with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
        try:  # warm up (litellm import, the server's prompt cache)
            program(input=examples[0].input)
        except Exception:  # noqa: BLE001 - an unparseable answer is expected from a 135M model
            pass
        started = time.perf_counter()
        result = dspy.Evaluate(devset=devset, metric=metric, num_threads=1, display_progress=False,
                               failure_score=0.0, max_errors=len(devset) + 1)(program)
        rate = len(devset) / (time.perf_counter() - started)
    correct = sum(bool(score) for _, _, score in result.results)
    # A failed parse leaves an empty prediction (dspy.Evaluate's failure_score): no label at all.
    unparseable = sum(str(getattr(p, "label", "") or "").strip() not in task.labels for _, p, _ in result.results)
    return rate, correct, unparseable


def speed_figures(lm: dspy.LM, quick: bool, rounds: int, work: Path) -> list[Figure]:
    """Every figure of this module (fewer examples with `quick`)."""
    figures = prefill_figures(lm, rounds)
    figures.append(decode_threads(lm, rounds))
    figures.append(trace_prefill_efficiency(12 if quick else None))
    figures.append(vs_dspy_stock(8 if quick else None, work))  # the stock pipeline takes ~10 s per example
    return figures

