"""The server student against a real llama.cpp server on 127.0.0.1 (with the embedded GGUF)."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import dspy
import pytest
from dspy.lm15 import Config, Message, Request
from support.llama_server import free_port
from support.proxy import FaultPlan

from smolgepa.errors import ContextOverflowError, SmolgepaError
from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings, server_identity
from support.sentiment_chat import INSTRUCTION
from support.sentiment_chat import TEXTS as SENTIMENT_TEXTS

TEXTS = SENTIMENT_TEXTS[:6]
SENTINEL = "sk-smolgepa-sentinel-7f3a9c"


def chat(text: str, max_tokens: int = 8, **config: object) -> Request:
    return Request(
        model="smolgepa/server",
        messages=(Message.user(text),),
        system=INSTRUCTION,
        config=Config(temperature=0.0, max_tokens=max_tokens, stop=("\n",), **config),  # type: ignore[arg-type]
    )


def engine_for(base_url: str, **overrides: object) -> ServerEngine:
    settings = {"timeout": 30.0, "retries": 5, "backoff": 0.05, **overrides}
    return ServerEngine(ServerSettings(base_url=base_url, model="default", flavour="llamacpp", **settings))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def reference(llama_server) -> dict[str, str]:  # noqa: ANN001
    """Completions of TEXTS straight from the server (no proxy), for comparisons."""
    engine = engine_for(llama_server.base_url)
    try:
        return {text: engine.complete(chat(text)).text for text in TEXTS}
    finally:
        engine.close()


def test_server_predictions_equal_embedded(embedded_engine, reference) -> None:  # noqa: ANN001
    embedded = {text: embedded_engine.complete(chat(text)).text for text in TEXTS}
    assert embedded == reference
    assert len(set(reference.values())) > 1  # real, varied completions, not one canned string


def test_repetitive_output_matches_embedded(embedded_engine, llama_server) -> None:  # noqa: ANN001
    # llama-cpp-python's server applies repeat_penalty 1.1 unless told otherwise; the embedded student uses 1.0.
    request = Request(
        model="smolgepa/server",
        messages=(Message.user("Repeat this exactly: yes yes yes yes yes yes yes yes yes yes"),),  # 12-24 yeses
        system="You are a helpful assistant.",
        config=Config(temperature=0.0, max_tokens=24),
    )
    engine = engine_for(llama_server.base_url)
    served = engine.complete(request).text
    engine.close()
    assert served == embedded_engine.complete(request).text
    assert served.lower().count("yes") >= 5


def test_works_as_a_dspy_lm(recording_proxy, reference) -> None:  # noqa: ANN001
    lm = dspy.LM("smolgepa/server", engine=engine_for(recording_proxy.base_url), cache=False,
                 temperature=0.0, max_tokens=8, stop=["\n"])
    request = chat(TEXTS[0])
    assert lm(request).text == reference[TEXTS[0]]
    restored = ServerEngine.load_state(json.loads(json.dumps(lm.engine.dump_state())))
    assert restored.settings == lm.engine.settings


def test_no_request_ever_carries_json_object(recording_proxy) -> None:  # noqa: ANN001
    mark = recording_proxy.mark()
    engine = engine_for(recording_proxy.base_url)
    engine.complete(chat(TEXTS[1], response_format={"type": "json_object"}))
    lm = dspy.LM("smolgepa/server", engine=engine, cache=False, temperature=0.0, max_tokens=8)
    lm(chat(TEXTS[2], response_format={"type": "json_object"}))

    class Sentiment(dspy.Signature):
        """Classify the sentiment."""

        text: str = dspy.InputField()
        label: str = dspy.OutputField()

    # DSPy's default ChatAdapter falls back to its JSONAdapter when a tiny model ignores the format.
    with dspy.context(lm=lm):
        try:
            dspy.Predict(Sentiment)(text=TEXTS[3])
        except Exception:  # noqa: BLE001 - a 135M model often fails DSPy's own formats; only the wire matters
            pass
    ours = recording_proxy.bodies(since=mark)
    assert len(ours) >= 3
    assert all(body["messages"][0]["role"] == "system" and body["cache_prompt"] is True for body in ours)
    everything = [body for body in recording_proxy.bodies() if body is not None]  # the session so far
    assert not [body for body in everything if "response_format" in body]


def test_concurrent_results_equal_sequential_in_order(make_proxy, reference) -> None:  # noqa: ANN001
    proxy = make_proxy()
    engine = engine_for(proxy.base_url, concurrency=2)
    texts = TEXTS * 2
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = [response.text for response in pool.map(lambda t: engine.complete(chat(t)), texts)]
    assert parallel == [reference[text] for text in texts]
    # Counted where the slot is held: requests did overlap, and never more than `concurrency`.
    assert engine.peak_in_flight == 2
    # Counted on the wire, from a request's arrival to the moment its answer is decided (before it is
    # written, so a client's next request cannot be seen overlapping one it has already read).
    assert proxy.max_inflight == 2


def test_unreachable_url_fails_fast_naming_the_url() -> None:
    """A server never reached in this process that refuses: one line within the grace period, not
    the retries with back-off (8 of them took 73 s), whatever --retries says."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    engine = engine_for(url, retries=8, backoff=5.0, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(SmolgepaError) as caught:
        engine.complete(chat("hello"))
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert url in message and "connection refused" in message and "not answered since this process started" in message
    assert "llama_cpp.server" in message and "ollama serve" in message and "1234" in message
    assert "student server" in message and "--student" in message


def test_unknown_host_fails_at_once() -> None:
    engine = engine_for("http://no-such-host.invalid:8080/v1", retries=8, backoff=5.0)
    started = time.monotonic()
    with pytest.raises(SmolgepaError, match="unknown host") as caught:
        engine.complete(chat("hello"))
    assert time.monotonic() - started < 3
    assert "no-such-host.invalid" in str(caught.value) and "--student" in str(caught.value)


def test_a_never_reached_reflection_server_names_the_reflection_flag() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    engine = ServerEngine(ServerSettings(base_url=url, model="m", flavour="llamacpp", role="reflection"))
    with pytest.raises(SmolgepaError) as caught:
        engine.complete(chat("hello"))
    assert "reflection server" in str(caught.value) and "--reflection" in str(caught.value)


def test_reflection_server_errors_name_the_reflection_flags(make_proxy) -> None:  # noqa: ANN001
    proxy = make_proxy(FaultPlan(seed=1, rates={"timeout": 1.0}, timeout_delay=3.0))
    engine = ServerEngine(ServerSettings(base_url=proxy.base_url, model="m", flavour="llamacpp", retries=0,
                                         timeout=0.5, backoff=0.0, role="reflection"))
    with pytest.raises(SmolgepaError) as caught:
        engine.complete(chat("hello"))
    message = str(caught.value)
    assert "reflection server" in message and "--reflection-timeout (now 0.5s)" in message
    assert "--retries" not in message and "--threads" not in message


def test_context_overflow_is_reported_at_once_with_its_sizes(recording_proxy) -> None:  # noqa: ANN001
    mark = recording_proxy.mark()
    engine = engine_for(recording_proxy.base_url)
    with pytest.raises(ContextOverflowError) as caught:
        engine.complete(chat("word " * 3000))
    assert caught.value.n_ctx == 2048 and caught.value.prompt_tokens > 2048
    assert recording_proxy.base_url in str(caught.value) and "Shorten" in str(caught.value)
    assert recording_proxy.mark() - mark == 1  # a 4xx is not retried


def test_wrong_path_404_hints_at_v1(recording_proxy) -> None:  # noqa: ANN001
    mark = recording_proxy.mark()
    engine = engine_for(recording_proxy.root_url)  # missing /v1
    with pytest.raises(SmolgepaError, match=r"HTTP 404.*ends in /v1"):
        engine.complete(chat("hello"))
    assert recording_proxy.mark() - mark == 1


class Sleeps:
    """Records the engine's waits between attempts, and waits for real."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        time.sleep(seconds)


@pytest.mark.parametrize("kind", ["refuse", "error5xx", "ratelimit", "timeout", "cut", "corrupt"])
def test_each_fault_class_is_retried(kind: str, make_proxy, reference) -> None:  # noqa: ANN001
    # Two faults in a row (two variants for `corrupt`), then the real server answers.
    proxy = make_proxy(FaultPlan(seed=1, schedule=(kind, kind), timeout_delay=3.0, retry_after="1"))
    sleeps = Sleeps()
    engine = ServerEngine(
        ServerSettings(base_url=proxy.base_url, model="default", flavour="llamacpp",
                       timeout=1.5 if kind == "timeout" else 30.0, retries=8, backoff=0.05),
        sleep=sleeps,
    )
    assert engine.complete(chat(TEXTS[0])).text == reference[TEXTS[0]]
    assert proxy.injected[kind] == 2
    assert len(sleeps.delays) >= 2
    if kind == "ratelimit":
        assert min(sleeps.delays[:2]) >= 1.0  # Retry-After: 1 honoured


def test_persistent_5xx_gives_up_with_a_clear_error(make_proxy) -> None:  # noqa: ANN001
    proxy = make_proxy(FaultPlan(rates={"error5xx": 1.0}))
    engine = engine_for(proxy.base_url, retries=3)
    with pytest.raises(SmolgepaError) as caught:
        engine.complete(chat("hello"))
    message = str(caught.value)
    assert proxy.base_url in message and "HTTP 503" in message and "4 attempt" in message
    assert proxy.injected["error5xx"] == 4


def test_backoff_grows_exponentially_with_jitter() -> None:
    engine = engine_for("http://127.0.0.1:9/v1", backoff=1.0)
    delays = [engine._delay(attempt, None) for attempt in range(4)]
    for attempt, delay in enumerate(delays):
        assert 2**attempt / 2 <= delay <= 2**attempt
    assert engine._delay(0, 7.0) >= 7.0
    assert len({engine._delay(3, None) for _ in range(5)}) > 1


def test_api_key_is_sent_but_never_shown(make_proxy, monkeypatch, caplog) -> None:  # noqa: ANN001
    monkeypatch.setenv("SMOLGEPA_TEST_KEY", SENTINEL)
    caplog.set_level(logging.DEBUG)
    # First a 401 that echoes the credentials back, then a 503 storm that exhausts the retries.
    proxy = make_proxy(FaultPlan(schedule=("auth_echo",), rates={"error5xx": 1.0}))
    engine = engine_for(proxy.base_url, api_key_env="SMOLGEPA_TEST_KEY", retries=1)
    errors = []
    for _ in range(2):
        with pytest.raises(SmolgepaError) as caught:
            engine.complete(chat("hello"))
        errors.append(str(caught.value))
    assert proxy.requests[0].headers["authorization"] == f"Bearer {SENTINEL}"
    assert "HTTP 401" in errors[0] and "SMOLGEPA_TEST_KEY" in errors[0]
    assert "HTTP 503" in errors[1]
    lm = dspy.LM("smolgepa/server", engine=engine, cache=False, temperature=0.0, max_tokens=8)
    saved = json.dumps([engine.dump_state(), lm.dump_state(), server_identity(engine.settings), repr(engine.settings)])
    for text in [*errors, saved, caplog.text]:
        assert SENTINEL not in text


def test_missing_api_key_variable_is_named() -> None:
    engine = engine_for("http://127.0.0.1:9/v1", api_key_env="SMOLGEPA_SURELY_UNSET_KEY")
    with pytest.raises(SmolgepaError, match="SMOLGEPA_SURELY_UNSET_KEY"):
        engine.complete(chat("hello"))


def test_settings_are_validated_and_identity_is_stable() -> None:
    with pytest.raises(SmolgepaError):
        ServerSettings(base_url="localhost:1234", model="m")
    with pytest.raises(SmolgepaError):
        ServerSettings(base_url="http://x/v1", model="m", flavour="nope")
    lmstudio = ServerSettings(base_url="http://localhost:1234/v1", model="smollm2", flavour="lmstudio")
    assert lmstudio.max_concurrency == 2
    assert ServerSettings(base_url="http://h/v1", model="m", flavour="vllm").max_concurrency == 4
    assert server_identity(lmstudio) == server_identity(ServerSettings(base_url="http://localhost:1234/v1/",
                                                                       model="smollm2", flavour="lmstudio",
                                                                       timeout=5.0))
    assert server_identity(lmstudio) != server_identity(
        ServerSettings(base_url="http://localhost:1234/v1", model="other", flavour="lmstudio"))
