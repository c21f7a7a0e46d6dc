"""Every student serves `acall`: the embedded model through a worker thread, llama.cpp servers natively
on httpx. Async answers are the sync answers; dspy.asyncify and dspy.Parallel work."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import dspy
import pytest
from support.proxy import FaultPlan

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.lm import StudentOptions, make_lm
from smolgepa.lm.async_engine import ThreadedAsyncEngine
from smolgepa.lm.local.embedded import EmbeddedEngine
from smolgepa.lm.servers.server_async import AsyncServerEngine

TEXTS = ("I absolutely love this product!", "This is terrible, it broke after one use.", "The box is brown.")


class Sentiment(dspy.Signature):
    """Classify the sentiment of the text."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField()


def _answers(results: list[dspy.Prediction]) -> list[tuple[Any, ...]]:
    return [(result.get("reasoning"), result.sentiment, result.raw) for result in results]


def _sync_and_async(lm: dspy.LM, program: dspy.Module) -> tuple[list, list]:
    with dspy.context(lm=lm, adapter=PlainTextAdapter()):
        sync = [program(text=text) for text in TEXTS]

        async def run() -> list[dspy.Prediction]:
            return [await program.acall(text=text) for text in TEXTS]

        return _answers(sync), _answers(asyncio.run(run()))


@pytest.mark.parametrize("make", [lambda: dspy.Predict(Sentiment), lambda: dspy.ChainOfThought(Sentiment)],
                         ids=["label", "chain_of_thought"])
def test_embedded_acall_answers_are_the_call_answers(make: Any) -> None:
    lm = make_lm("embedded")
    assert isinstance(lm._async_engine_spec, ThreadedAsyncEngine)
    sync, concurrent = _sync_and_async(lm, make())
    assert concurrent == sync


@pytest.mark.slow
def test_server_acall_is_native_and_answers_as_call(llama_server: Any) -> None:
    lm = make_lm(f"llamacpp:{llama_server.base_url}", StudentOptions(server={"concurrency": 2}))
    native = lm._async_engine_spec
    assert isinstance(native, AsyncServerEngine)
    sync, concurrent = _sync_and_async(lm, dspy.ChainOfThought(Sentiment))
    assert concurrent == sync

    async def together() -> list[dspy.Prediction]:
        with dspy.context(lm=lm, adapter=PlainTextAdapter()):
            return await asyncio.gather(*(dspy.Predict(Sentiment).acall(text=text) for text in TEXTS * 2))

    results = asyncio.run(together())
    assert all(result.sentiment in ("positive", "negative", "neutral", None) for result in results)
    assert 1 <= native.engine.peak_in_flight <= 2  # the concurrency limit holds for async requests too


def test_server_async_retries_a_failed_attempt(make_proxy: Any) -> None:
    proxy = make_proxy(FaultPlan(schedule=("error5xx", "ratelimit", "pass")))
    lm = make_lm(f"llamacpp:{proxy.base_url}", StudentOptions(server={"backoff": 0.01}))

    async def one() -> dspy.Prediction:
        with dspy.context(lm=lm, adapter=PlainTextAdapter()):
            return await dspy.Predict(Sentiment).acall(text=TEXTS[0])

    result = asyncio.run(one())
    assert result.raw.strip()
    assert proxy.faults_injected == 2 and proxy.forwarded == 1  # two failed attempts, then the answer


def test_asyncify_and_parallel_work_with_the_embedded_student() -> None:
    lm = make_lm("embedded")
    program = dspy.ChainOfThought("text -> sentiment: bool")
    with dspy.context(lm=lm, adapter=PlainTextAdapter()):
        direct = program(text=TEXTS[0])
        wrapped = asyncio.run(dspy.asyncify(program)(text=TEXTS[0]))
        parallel = dspy.Parallel(num_threads=2, disable_progress_bar=True)(
            [(program, {"text": text}) for text in TEXTS[:2]])
    assert wrapped.raw == direct.raw and wrapped.sentiment == direct.sentiment
    assert parallel[0].raw == direct.raw and len(parallel) == 2


def test_async_engines_save_and_load_with_the_lm() -> None:
    lm = make_lm("embedded")
    threaded = ThreadedAsyncEngine.load_state(lm._async_engine_spec.dump_state())
    assert isinstance(threaded.engine, EmbeddedEngine)
    assert threaded.engine.settings == lm._engine_spec.settings
    assert "async_engine" in lm.dump_state()
