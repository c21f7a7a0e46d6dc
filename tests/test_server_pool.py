"""Several real llama.cpp servers behind one student (`smolgepa.lm.servers.pool`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.llama_server import LlamaServer

from smolgepa.errors import SmolgepaError
from smolgepa.lm.kinds.base import parse_model_spec
from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings
from smolgepa.lm.servers.pool import ServerPool, split_urls
from support.sentiment_chat import TEXTS, chat



def engine_for(base_url: str, threads: int) -> ServerEngine:
    return ServerEngine(ServerSettings(base_url=base_url, model="default", flavour="llamacpp", timeout=60.0,
                                       retries=6, backoff=0.05, concurrency=threads))


def answers(engine: ServerEngine, texts: list[str], after_each: object = None) -> dict[str, str]:
    def one(text: str) -> str:
        answer = engine.complete(chat(text)).text
        if callable(after_each):
            after_each()
        return answer

    try:
        with ThreadPoolExecutor(engine.settings.max_concurrency) as pool:
            return dict(zip(texts, pool.map(one, texts), strict=True))
    finally:
        engine.close()


def chat_requests(server: LlamaServer) -> int:
    """Chat completions the server answered, from its own (uvicorn) log."""
    return server.log_path.read_text(errors="replace").count("POST /v1/chat/completions")


@pytest.fixture
def second_server(embedded_path: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """Another real llama.cpp server with the same GGUF, started (and stopped) by this test."""
    with LlamaServer(embedded_path, tmp_path / "second.log", n_ctx=2048, n_threads=1) as server:
        yield server


@pytest.fixture
def reference(llama_server: LlamaServer) -> dict[str, str]:
    """The answers of one server alone."""
    found = answers(engine_for(llama_server.base_url, 2), TEXTS)
    llama_server.forget_last_prompt()
    return found


def test_spec_names_several_servers() -> None:
    spec = parse_model_spec("llamacpp:http://127.0.0.1:8080/v1/,http://127.0.0.1:8081/v1")
    assert spec.base_url == "http://127.0.0.1:8080/v1,http://127.0.0.1:8081/v1"
    settings = ServerSettings(base_url=spec.base_url, model="default", flavour="llamacpp")
    assert settings.base_url == "http://127.0.0.1:8080/v1"
    assert settings.more_urls == ("http://127.0.0.1:8081/v1",)
    assert ServerEngine.load_state(ServerEngine(settings).dump_state()).settings == settings
    with pytest.raises(SmolgepaError, match="twice"):
        split_urls("http://a:1/v1,http://a:1/v1")
    with pytest.raises(SmolgepaError, match="must start with http"):
        parse_model_spec("llamacpp:http://a:1/v1,a:2")


def test_pool_spreads_by_outstanding_and_backs_off() -> None:
    now = [0.0]
    pool = ServerPool(("http://a:1/v1", "http://b:2/v1"), KeyError, clock=lambda: now[0])
    with pool.route("http://a:1/v1/chat/completions") as first, pool.route("http://a:1/tokenize") as second:
        assert {first, second} == {"http://a:1/v1/chat/completions", "http://b:2/tokenize"}
    with pytest.raises(KeyError), pool.route("http://a:1/v1/x") as url:
        assert url == "http://a:1/v1/x"  # both idle and equally used: the first
        raise KeyError("down")
    for _ in range(3):  # a is out: everything goes to b
        with pool.route("http://a:1/v1/x") as url:
            assert url.startswith("http://b:2")
    now[0] = 2.5  # the back-off is over: a is tried again
    with pool.route("http://a:1/v1/x") as url:
        assert url.startswith("http://a:1")


def test_two_servers_both_answer_with_the_same_answers(llama_server, second_server, reference) -> None:  # noqa: ANN001
    before = chat_requests(llama_server), chat_requests(second_server)
    engine = engine_for(f"{llama_server.base_url},{second_server.base_url}", 2)
    assert answers(engine, TEXTS) == reference
    first, second = chat_requests(llama_server) - before[0], chat_requests(second_server) - before[1]
    assert first > 0 and second > 0, (first, second)
    assert first + second == len(TEXTS)


def test_a_server_killed_mid_evaluation(llama_server, second_server, reference) -> None:  # noqa: ANN001
    engine = engine_for(f"{second_server.base_url},{llama_server.base_url}", 2)
    done = []
    lock = threading.Lock()

    def kill_after_three() -> None:
        with lock:
            done.append(1)
            if len(done) == 3:
                second_server.stop()

    assert answers(engine, TEXTS, kill_after_three) == reference
    assert chat_requests(second_server) >= 1  # it answered before it died
