"""The disk response cache: keys, what is never cached, persistence, concurrency, and a real re-run."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from dspy.lm15 import Config, Message, Request

from smolgepa.errors import SmolgepaError
from smolgepa.evaluation.evaluate import evaluate
from smolgepa.lm import make_lm
from smolgepa.lm.cache_home import CACHE_ENV, cache_dir
from smolgepa.lm.response_cache import (
    DB_NAME,
    CachedEngine,
    ResponseStore,
    engine_extras,
    engine_identity,
    maybe_cached,
    request_key,
)
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.local.model_files import file_digest
from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings
from smolgepa.tasks import load_task
from smolgepa.use.score_tap import label_scores

SYSTEM = "Classify the sentiment of the text.\n\nAnswer with one label: positive, negative, neutral."


def request(text: str = "Text: I love it.\nLabel:", **config: object) -> Request:
    settings: dict[str, object] = {"temperature": 0.0, "max_tokens": 8, "stop": ("\n\n",), "seed": 0}
    settings.update(config)
    return Request(model="smolgepa/embedded", system=SYSTEM, messages=(Message.user(text),), config=Config(**settings))


def text_of(response: object) -> str:
    return "".join(part.text for part in response.message.parts)  # type: ignore[attr-defined]


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"text": "Text: I hate it.\nLabel:"},
        {"max_tokens": 9},
        {"stop": ("\n",)},
        {"seed": 1},
        {"top_p": 0.5},
    ],
)
def test_key_changes_with_messages_and_every_decode_parameter(change: dict[str, object]) -> None:
    base = request_key("model-a", request())
    settings = dict(change)
    text = settings.pop("text", "Text: I love it.\nLabel:")
    assert request_key("model-a", request(str(text), **settings)) != base
    assert request_key("model-a", request()) == base  # and is stable


def test_key_changes_with_model_identity_system_and_extras() -> None:
    base = request_key("model-a", request())
    assert request_key("model-b", request()) != base
    other_system = Request(model="x", system="Other.", messages=(Message.user("Text: I love it.\nLabel:"),))
    same_but_system = dataclasses.replace(other_system, system=SYSTEM)
    assert request_key("model-a", other_system) != request_key("model-a", same_but_system)
    assert request_key("model-a", request(), {"decode": "scored"}) != base


def test_engine_identity_is_file_digest_or_server_url(embedded_path: Path) -> None:
    embedded = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path)))
    assert file_digest(embedded_path) in engine_identity(embedded)
    server = ServerEngine(ServerSettings(base_url="http://127.0.0.1:9/v1", model="m1", flavour="llamacpp"))
    assert engine_identity(server) == "llamacpp:m1@http://127.0.0.1:9/v1"
    with pytest.raises(SmolgepaError, match="no model identity"):
        engine_identity(object())


def test_engine_settings_that_change_answers_are_in_the_key(embedded_path: Path) -> None:
    settings = EmbeddedSettings(path=str(embedded_path))
    extras = engine_extras(EmbeddedEngine(settings))
    assert extras == engine_extras(EmbeddedEngine(dataclasses.replace(settings, n_threads=1)))
    assert extras != engine_extras(EmbeddedEngine(dataclasses.replace(settings, n_ctx=4096)))
    assert "path" not in extras  # the file is in the identity, by content


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "smolgepa"


# --- the real embedded model -------------------------------------------------------------------


def test_second_identical_request_is_a_hit_with_the_same_text(embedded_engine: EmbeddedEngine, tmp_path: Path) -> None:
    cached = CachedEngine(embedded_engine, directory=tmp_path)
    first = cached.complete(request())
    second = cached.complete(request())
    assert (cached.stats.misses, cached.stats.hits) == (1, 1)
    assert text_of(second) == text_of(first) and text_of(first)
    assert second.usage.input_tokens == first.usage.input_tokens
    assert len(cached.store) == 1


def test_temperature_above_zero_is_never_cached(embedded_engine: EmbeddedEngine, tmp_path: Path) -> None:
    cached = CachedEngine(embedded_engine, directory=tmp_path)
    for _ in range(2):
        cached.complete(request(temperature=0.8))
    assert cached.stats.bypassed == 2 and cached.stats.hits == 0
    assert len(cached.store) == 0


def test_a_new_process_reads_the_cache_without_loading_the_model(
    embedded_engine: EmbeddedEngine, embedded_path: Path, tmp_path: Path
) -> None:
    answer = text_of(CachedEngine(embedded_engine, directory=tmp_path).complete(request()))
    fresh = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path)))  # never loaded
    cached = CachedEngine(fresh, directory=tmp_path)
    assert text_of(cached.complete(request())) == answer
    assert cached.stats.hits == 1 and fresh._llama is None


def test_rerun_of_an_evaluation_is_identical_and_served_from_cache(
    embedded_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "default"))  # whatever make_lm does by default stays here
    task = load_task("sentiment")
    examples = task.split("val")
    engine = CachedEngine(EmbeddedEngine(EmbeddedSettings(path=str(embedded_path))), directory=tmp_path)
    cached_lm = make_lm("embedded").copy(engine=engine)
    first = evaluate(task, cached_lm, examples)
    second = evaluate(task, cached_lm, examples)
    assert [(p.id, p.raw, p.predicted) for p in second.predictions] == [
        (p.id, p.raw, p.predicted) for p in first.predictions
    ]
    # Every answer of the rerun came from the cache, none from the model (how much faster that is
    # depends on the machine: benchmarks/bench.py prints it as the cache_rerun ratio).
    assert engine.stats.misses == len(examples) and engine.stats.hits == len(examples)


# --- the store ---------------------------------------------------------------------------------


def test_maybe_cached_off_returns_the_engine_itself(embedded_engine: EmbeddedEngine, tmp_path: Path) -> None:
    assert maybe_cached(embedded_engine, enabled=False) is embedded_engine
    assert isinstance(maybe_cached(embedded_engine, enabled=True, directory=tmp_path), CachedEngine)


def test_a_record_comes_back_in_the_order_it_was_put(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path / DB_NAME)
    record = {"text": "positive", "scores": {"probs": {"positive": 0.7, "negative": 0.2, "neutral": 0.1}}}
    store.put("k", "model-x", record)
    assert list(store.get("k")["scores"]["probs"]) == ["positive", "negative", "neutral"]  # not sorted


def test_label_scores_follow_the_task_labels_whatever_order_they_were_stored_in() -> None:
    stored = [{"scores": {"probs": {"negative": 0.2, "neutral": 0.1, "positive": 0.7}}}]  # an older cache: sorted
    assert list(label_scores(stored, ["positive", "negative", "neutral"])) == ["positive", "negative", "neutral"]
    assert label_scores(stored) == {"negative": 0.2, "neutral": 0.1, "positive": 0.7}
    assert label_scores([{"text": "free"}], ["positive"]) is None


def test_dump_and_load_state_round_trip(embedded_engine: EmbeddedEngine, tmp_path: Path) -> None:
    cached = CachedEngine(embedded_engine, identity="model-x", directory=tmp_path)
    state = json.loads(json.dumps(cached.dump_state()))
    loaded = CachedEngine.load_state(state)
    assert loaded.identity == "model-x" and loaded.directory == tmp_path
    assert loaded.inner.settings == embedded_engine.settings
    state["inner_class"] = "os:system"
    with pytest.raises(SmolgepaError, match="only smolgepa's own engines"):
        CachedEngine.load_state(state)


def test_unusable_cache_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(SmolgepaError, match="--no-cache") as error:
        ResponseStore(tmp_path / DB_NAME).get("k")
    assert str(tmp_path / DB_NAME) in str(error.value)


WRITER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from smolgepa.lm.response_cache import ResponseStore
    store, who = ResponseStore(Path(sys.argv[1])), sys.argv[2]
    failed = []
    def work(thread):
        try:
            for i in range(60):
                store.put(f"{who}-{thread}-{i}", "m", {"text": f"{who}-{thread}-{i}", "n": i})
                store.put(f"shared-{i}", "m", {"text": f"shared-{i}", "n": i})
                assert store.get(f"shared-{i}")["text"] == f"shared-{i}"
        except BaseException as exc:
            failed.append(exc)
            raise
    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for t in threads: t.start()
    for t in threads: t.join()
    sys.exit(1 if failed else 0)
    """
)


def test_concurrent_processes_and_threads_write_safely(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{n}"]) for n in range(3)]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0, 0]
    store = ResponseStore(path)
    assert len(store) == 3 * 3 * 60 + 60
    for n in range(3):
        for thread in range(3):
            for i in (0, 59):
                assert store.get(f"p{n}-{thread}-{i}") == {"text": f"p{n}-{thread}-{i}", "n": i}
    assert store.get("shared-7") == {"text": "shared-7", "n": 7}


def test_opening_a_cache_another_process_is_writing_waits_instead_of_failing(tmp_path: Path) -> None:
    # A writer mid-transaction on a file not yet in WAL mode: SQLite refuses the switch to WAL at once,
    # busy timeout or not (what three processes opening one new cache hit in CI under load).
    path = tmp_path / DB_NAME
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other (x)")
    writer.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, lambda: writer.execute("COMMIT")).start()
    store = ResponseStore(path)
    store.put("key", "m", {"text": "waited"})
    assert store.get("key") == {"text": "waited"}
    writer.close()


# --- KV prefix reuse inside llama-cpp-python (the in-process cache) ---------------------------


def long_system(task_name: str = "sentiment", minimum_words: int = 320) -> str:
    """The seed instruction plus worked train examples: well over 400 tokens."""
    from smolgepa.adapter.program import seed_instruction

    task = load_task(task_name)
    lines = [seed_instruction(task), "", "Examples:"]
    for example in task.split("train") * 5:
        if sum(len(line.split()) for line in lines) >= minimum_words:
            break
        lines.append(f"Text: {example.input}\nLabel: {example.label}")
    return "\n".join(lines)


def test_consecutive_requests_prefill_only_what_follows_the_shared_instruction(
    embedded_engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    llama = embedded_engine.llama()
    system = long_system()
    assert len(llama.tokenize(system.encode("utf-8"), add_bos=False)) >= 400
    evaluated: list[int] = []
    original_eval = llama.eval

    def counting_eval(tokens: list[int]) -> None:
        evaluated.append(len(tokens))
        original_eval(tokens)

    monkeypatch.setattr(llama, "eval", counting_eval)
    texts = ["Text: The soup was cold and bland.\nLabel:", "Text: What a wonderful concert!\nLabel:"]
    prefills = []
    for text in texts:
        evaluated.clear()
        embedded_engine.complete(dataclasses.replace(request(text), system=system))
        prefills.append(evaluated[0])  # the first eval of a request is its prompt (the rest decode one token each)
    assert prefills[0] >= 400 or prefills[0] < 40  # a cold cache, or this instruction was already there
    assert prefills[1] < 40, f"the second request re-evaluated {prefills[1]} prompt tokens"


@pytest.mark.slow
def test_prefix_reuse_gives_the_same_completions_as_a_fresh_prefill(embedded_engine: EmbeddedEngine) -> None:
    system = long_system()
    inputs = [example.input for example in load_task("sentiment").split("val")[:3]]

    def run(fresh: bool) -> list[str]:
        texts = []
        for text in inputs:
            if fresh:
                embedded_engine.llama().reset()
            one = dataclasses.replace(request(f"Text: {text}\nLabel:", max_tokens=12), system=system)
            texts.append(text_of(embedded_engine.complete(one)))
        return texts

    assert run(fresh=False) == run(fresh=True)
