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


@pytest.mark.slow
def test_a_reply_of_the_wrong_shape_is_retried_not_read(llama_server, make_proxy) -> None:  # noqa: ANN001
    """Every other request (tokenize ones included) answered with valid JSON of the wrong shape: the
    channel scores equal a direct run's. Read as a reply, a tokenize answer without `tokens` was an
    empty token list, and the channel reply's score silently included the label's own tokens (drifts
    of 6-7 nats under the faults of test_faults_at_scale, 2026-12-01)."""
    import json
    import math
    import subprocess
    import sys

    proxy = make_proxy(FaultPlan(seed=1, schedule=("pass", "reshape") * 20, separate_repeats=True))
    reports = []
    for url in (llama_server.base_url, proxy.base_url):
        result = subprocess.run(
            [sys.executable, "-m", "smolgepa.cli", "eval", "--json", "--task", "sentiment", "--split", "val",
             "--no-cache", "--decode", "channel", "--student", f"llamacpp:{url}", "--retries", "30",
             "--backoff", "0.01", "--timeout", "60"],
            capture_output=True, text=True, timeout=900,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        reports.append(json.loads(result.stdout)["examples"])
    for direct, through in zip(*reports, strict=True):
        for label, p in direct["scores"].items():
            drift = abs(math.log(max(p, 1e-4)) - math.log(max(through["scores"][label], 1e-4)))
            assert drift < 0.1, (direct["id"], direct["scores"], through["scores"])
        assert through["predicted"] == direct["predicted"]
    assert proxy.injected["reshape"] == 20
