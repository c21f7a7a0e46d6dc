"""Fault injection: runs through a seeded proxy that breaks requests at random lose no results.

The proxy sits in front of the real llama.cpp server and refuses connections, answers 5xx and 429,
stalls past the client's timeout, cuts bodies and corrupts JSON. Every run must finish with exactly
the completions the server gives without faults. A second test kills and restarts the server mid-run.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dspy
import pytest
from support import tally
from support.llama_server import LlamaServer
from support.proxy import FAULT_KINDS, FaultPlan
from support.sentiment_chat import chat

from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings

TEXTS = [
    "I absolutely love this product!",
    "This is terrible, it broke after one use.",
    "The package arrived on Tuesday.",
    "Great value, works exactly as described.",
    "The screen cracked on the second day.",
    "It is blue and weighs two kilograms.",
    "Customer service was rude and unhelpful.",
    "My kids play with it every day and adore it.",
    "The box contains a charger and a cable.",
    "Not worth the price at all.",
    "Fantastic sound quality for the money.",
    "The store opens at nine.",
]
RUNS = 3
PLAN = FaultPlan(
    seed=20250611,
    schedule=FAULT_KINDS,  # every class at least once, then at random
    rates={"refuse": 0.05, "error5xx": 0.08, "ratelimit": 0.06, "timeout": 0.02, "cut": 0.06, "corrupt": 0.08,
           "slow": 0.04},
    timeout_delay=8.0,
    refuse_seconds=0.2,
    separate_repeats=True,  # a retried prompt is evaluated as in a direct run (see support/proxy.py)
)


def engine_for(base_url: str, **overrides: object) -> ServerEngine:
    settings = {"timeout": 6.0, "retries": 8, "backoff": 0.1, "concurrency": 4, **overrides}
    return ServerEngine(ServerSettings(base_url=base_url, model="default", flavour="llamacpp", **settings))  # type: ignore[arg-type]


def run_all(lm: dspy.LM, texts: list[str]) -> list[str | None]:
    """One run: every text through the LM from a thread pool; a failure is a lost result (None)."""

    def one(text: str) -> str | None:
        try:
            return lm(chat(text)).text
        except Exception:  # noqa: BLE001 - counted as lost, reported below
            return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, texts))


def count_lost(results: list[list[str | None]], expected: list[str]) -> tuple[int, int]:
    """(runs completed, results lost): a run completes when every result is the expected one."""
    lost = sum(got != want for run in results for got, want in zip(run, expected, strict=True))
    completed = sum(all(got == want for got, want in zip(run, expected, strict=True)) for run in results)
    return completed, lost


@pytest.mark.slow
def test_seeded_faults_lose_no_results(llama_server, make_proxy) -> None:  # noqa: ANN001
    direct = engine_for(llama_server.base_url)
    expected = [direct.complete(chat(text)).text for text in TEXTS]
    direct.close()

    proxy = make_proxy(PLAN)
    lm = dspy.LM("smolgepa/server", engine=engine_for(proxy.base_url), cache=False, temperature=0.0, max_tokens=6)
    results = [run_all(lm, TEXTS) for _ in range(RUNS)]
    completed, lost = count_lost(results, expected)

    tally.add("faults injected", proxy.faults_injected)
    tally.add("results lost", lost)
    print(proxy.summary(completed, lost))
    print(f"fault counts: {dict(sorted(proxy.injected.items()))}; forwarded to the server: {proxy.forwarded}")
    assert lost == 0
    assert completed == RUNS
    assert all(proxy.injected[kind] >= 1 for kind in FAULT_KINDS)
    assert proxy.faults_injected >= len(FAULT_KINDS) + 3


def test_server_restart_mid_run(embedded_path: Path, tmp_path: Path, caplog) -> None:  # noqa: ANN001
    """The server dies with a request in flight and comes back on the same port: nothing is lost."""
    caplog.set_level(logging.WARNING, logger="smolgepa.lm.servers.server_engine")
    with LlamaServer(embedded_path, tmp_path / "server.log", n_ctx=2048) as server:
        engine = engine_for(server.base_url, backoff=0.25, retries=10, timeout=30.0, concurrency=2)
        texts = TEXTS[:3]
        expected = [engine.complete(chat(text)).text for text in texts]
        port = server.port
        with ThreadPoolExecutor(max_workers=2) as pool:
            in_flight = pool.submit(engine.complete, chat(texts[0]))
            server.stop()  # killed while that request is on its way
            restarting = threading.Thread(target=server.start, args=(port,))
            restarting.start()
            after = [engine.complete(chat(text)).text for text in texts]  # sent while the server is down
            restarting.join(timeout=120)
            first = in_flight.result(timeout=120).text
        engine.close()
    assert [first, *after] == [expected[0], *expected]
    assert "retry" in caplog.text  # the engine did see the outage
