"""Scoring on several KV sequences (lm/sequences.py) on the real embedded SmolLM2-135M: the batched
paths (labels branching off the prompt, ensemble and channel prompts kept in their own sequences)
give the scores of the one-at-a-time path, and llama-cpp-python's bookkeeping stays right after them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.lm.readings.channel import channel_messages, text_reply
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.local.label_scorer import LabelScorer
from smolgepa.lm.local.sequences import KEPT, sequence_count
from smolgepa.lm.readings.turns import make_turn, read_prompt
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task
from smolgepa.tasks.loader import rendered
from support.fresh_answer import fresh_answer
from support.near_tie import NEAR_TIE_NATS

pytestmark = pytest.mark.numerics  # scores come from model arithmetic, compared with a tolerance

# Batch composition moves a log-prob a little (kernels see other batch shapes); a bug (another
# position, another sequence's cells) moves a summed label score by nats.
TOLERANCE = NEAR_TIE_NATS


@pytest.fixture(scope="module")
def monitor():
    return rendered(load_task("agent_monitor-extended", render="plain"), "summary")


@pytest.fixture(scope="module")
def sentiment():
    return load_task("sentiment-extended")


@pytest.fixture(scope="module")
def engine(embedded_path: Path) -> Iterator[EmbeddedEngine]:
    eng = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path)))
    yield eng
    eng.close()


def messages_for(task, text: str) -> list[dict[str, str]]:
    return PlainTextAdapter().format(make_program(task, None).signature, [], {"input": text})


def one_by_one(scorer: LabelScorer, run):
    """`run()` on the one-sequence path (what a plain Llama gets)."""
    scorer.branching = False
    try:
        return run()
    finally:
        scorer.branching = True


def assert_close(got: dict[str, float], expected: dict[str, float]) -> None:
    assert got.keys() == expected.keys()
    for label in got:
        assert got[label] == pytest.approx(expected[label], abs=TOLERANCE), label


def test_the_embedded_context_has_the_sequences(engine) -> None:
    scorer = engine._label_scorer()  # noqa: SLF001
    assert sequence_count(engine.llama()) > max(KEPT) and scorer.branching


def test_multi_token_labels_in_one_batch_match_one_at_a_time(engine, monitor) -> None:
    scorer = engine._label_scorer()  # noqa: SLF001
    assert max(len(scorer.text_tokens(label)) for label in monitor.labels) >= 3
    for example in monitor.split("val")[:3]:
        messages = messages_for(monitor, example.input)
        batched = scorer.score(messages, monitor.labels)
        assert_close(batched, one_by_one(scorer, lambda: scorer.score(messages, monitor.labels)))


def ensemble_prompts(task, text: str) -> list[list[dict[str, str]]]:
    prompt = read_prompt(messages_for(task, text), "ensemble")
    shots = task.split("train")[:4]
    return [prompt.with_demos([(make_turn(prompt.query, e.input), e.label)]) for e in shots]


def test_kept_prompts_match_one_at_a_time_and_are_reused(engine, sentiment, monitor) -> None:
    """score_many twice (the second reuses the kept demo prompts), with a free answer in between
    that truncates the kept sequences: every time the one-at-a-time scores."""
    scorer = engine._label_scorer()  # noqa: SLF001
    for text in [e.input for e in sentiment.split("val")[:2]]:
        batch = ensemble_prompts(sentiment, text)
        expected = one_by_one(scorer, lambda: [scorer.score(m, sentiment.labels) for m in batch])
        for got, want in zip(scorer.score_many(batch, sentiment.labels), expected):
            assert_close(got, want)
        assert len(scorer._kept.tokens) == len(batch)  # noqa: SLF001 - the demo prompts stayed
    engine.llama().create_chat_completion(messages=messages_for(monitor, "x"), max_tokens=4, temperature=0.0)
    batch = ensemble_prompts(monitor, monitor.split("val")[0].input)
    expected = one_by_one(scorer, lambda: [scorer.score(m, monitor.labels) for m in batch])
    for got, want in zip(scorer.score_many(batch, monitor.labels), expected):
        assert_close(got, want)


def test_channel_replies_together_match_one_at_a_time(engine, sentiment) -> None:
    scorer = engine._label_scorer()  # noqa: SLF001
    for example in sentiment.split("val")[:2]:
        prompt = read_prompt(messages_for(sentiment, example.input), "channel")
        given, text = text_reply(prompt.query)
        batch = [channel_messages(prompt, label) for label in sentiment.labels]
        together = scorer.reply_logprobs(batch, given, text)
        alone = one_by_one(scorer, lambda: [scorer.reply_logprob(m, given, text) for m in batch])
        assert together == pytest.approx(alone, abs=TOLERANCE)
        # the whole reply, not its first token: a label's score is the sum over ~10 tokens
        assert min(together) < -15


def channel_together(scorer: LabelScorer, task, text: str) -> list[float]:
    prompt = read_prompt(messages_for(task, text), "channel")
    given, reply = text_reply(prompt.query)
    return scorer.reply_logprobs([channel_messages(prompt, label) for label in task.labels], given, reply)


def test_scores_do_not_depend_on_what_was_scored_before(embedded_path: Path, sentiment, monitor) -> None:
    """Multi-token labels scored in batches, then the channel's label turns together, then the first
    prompt again: a fresh engine's scores every time. The cells a call left behind (sequence 0's
    last prompt, kept prompts) used to move where the next batch's cells went in the unified KV
    buffer, and llama.cpp's attention rounds by cell index: the channel scores came out ~1 nat off."""
    texts = [e.input for e in sentiment.split("val")[:2]]
    monitored = [messages_for(monitor, e.input) for e in monitor.split("val")[:2]]
    eng = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path)))
    try:
        # each expectation from a freshly loaded model (close: the next call loads it again)
        expected_channel = [channel_together(eng._label_scorer(), sentiment, text) for text in texts]  # noqa: SLF001
        eng.close()
        expected_labels = eng._label_scorer().score(monitored[0], monitor.labels)  # noqa: SLF001
        eng.close()
        scorer = eng._label_scorer()  # noqa: SLF001
        for messages in monitored:
            scorer.score(messages, monitor.labels)
        for text, want in zip(texts, expected_channel):
            assert channel_together(scorer, sentiment, text) == pytest.approx(want, abs=TOLERANCE)
        assert_close(scorer.score(monitored[0], monitor.labels), expected_labels)
    finally:
        eng.close()


@pytest.mark.slow
def test_prompts_too_long_to_keep_together_fall_back(engine, monitor) -> None:
    """Plain traces: several of them do not fit in one context; they are scored one by one, and a
    long seq-0 prompt still fits after kept prompts took the room (a call on seq 0 drops them)."""
    plain = load_task("agent_monitor-extended", render="plain")
    scorer = engine._label_scorer()  # noqa: SLF001
    long_ones = sorted(plain.split("val"), key=lambda e: -len(e.input))[:3]
    batch = [messages_for(plain, e.input) for e in long_ones]
    expected = one_by_one(scorer, lambda: [scorer.score(m, plain.labels) for m in batch])
    for got, want in zip(scorer.score_many(batch, plain.labels), expected):
        assert_close(got, want)
    short = ensemble_prompts(monitor, monitor.split("val")[1].input)[:2]
    scorer.score_many(short, monitor.labels)  # kept: short prompts
    assert_close(scorer.score(batch[0], plain.labels), expected[0])  # the longest, alone on seq 0


@pytest.mark.slow
def test_free_answer_after_batched_scoring_is_a_fresh_engines(embedded_path: Path, engine, sentiment, monitor) -> None:
    scorer = engine._label_scorer()  # noqa: SLF001
    messages = messages_for(monitor, monitor.split("val")[2].input)
    scorer.score_many(ensemble_prompts(monitor, monitor.split("val")[2].input)[:3], monitor.labels)
    scorer.score(messages, monitor.labels)
    after = engine.llama().create_chat_completion(messages=messages, max_tokens=16, temperature=0.0)
    assert after["choices"][0]["message"]["content"] == fresh_answer(embedded_path, messages, 16)


def test_one_forward_pass_per_answer_and_kept_prompts_reused(engine, monitor, sentiment, monkeypatch) -> None:
    """The speed the sequences are for: four multi-token labels cost one llama_decode call; the second
    query over the same one-shot prompts evaluates only the query's tokens, in one call."""
    import smolgepa.lm.local.label_scorer as scoring

    calls: list[int] = []
    real = scoring.decode

    def counting(llama, entries):
        calls.append(len(entries))
        return real(llama, entries)

    monkeypatch.setattr(scoring, "decode", counting)
    scorer = engine._label_scorer()  # noqa: SLF001
    scorer.score(messages_for(monitor, monitor.split("val")[3].input), monitor.labels)
    assert len(calls) == 1
    texts = [e.input for e in sentiment.split("val")[2:4]]
    scorer.score_many(ensemble_prompts(sentiment, texts[0]), sentiment.labels)
    calls.clear()
    batch = ensemble_prompts(sentiment, texts[1])
    scorer.score_many(batch, sentiment.labels)
    query = scorer.text_tokens(texts[1])
    prompts = sum(len(scoring.chat_prompt_tokens(engine.llama(), m)) for m in batch)
    assert len(calls) == 1 and calls[0] < prompts / 2
    assert calls[0] >= len(batch) * len(query)  # the query itself is evaluated after every demo
