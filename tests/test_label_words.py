"""Label words as a part of the candidate: the `Label words:` line, the adapter writing the words,
the embedded student scoring them and answering with label names, the search on the training split,
the proposer's moves, and which part of a candidate each proposal changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dspy.lm15 import Message, Request

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.errors import SmolgepaError
from smolgepa.candidate.header import split_header, take_header
from smolgepa.candidate.label_words import label_words_of, parse_label_words, with_label_words
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.options import train_pairs
from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings
from smolgepa.optimize.fewshot import FewshotProposer
from smolgepa.optimize.label_word_search import LabelWordSearch, model_words, synonyms, word_sets
from smolgepa.optimize.offline_proposer import ProposalGate
from smolgepa.candidate.candidate_parts import changed_parts
from smolgepa.adapter.program import make_program
from smolgepa.candidate.reading_line import split_reading, with_reading
from smolgepa.tasks import load_task
from test_optimize_units import make_journal, reflective

TASK = load_task("sentiment")
LABELS = tuple(TASK.labels)
WORDS = "Label words: positive=good, negative=bad, neutral=okay"


def messages_for(text: str, instruction: str) -> list[dict[str, str]]:
    return PlainTextAdapter().format(make_program(TASK, instruction).signature, [], {"input": text})


def test_label_words_round_trip_beside_a_reading() -> None:
    text = with_label_words(with_reading("Classify.", "knn"), {"positive": "good", "negative": "bad"})
    assert text == "Reading: knn\nLabel words: positive=good, negative=bad\n\nClassify."
    assert label_words_of(text, LABELS) == {"positive": "good", "negative": "bad"}
    assert split_reading(text) == ("knn", "Label words: positive=good, negative=bad\n\nClassify.")
    assert with_reading(text, "channel").startswith("Reading: channel\nLabel words: positive=good")
    assert with_label_words(text, None) == "Reading: knn\n\nClassify."
    assert split_header("Classify.\nReading: knn") == ({}, "Classify.\nReading: knn")  # only leading lines


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("positive good", "label=word pairs"),
        ("upbeat=good", "unknown label.*upbeat.*positive, negative, neutral"),
        ("positive=fine, negative=fine", "same word"),
        ("positive=negative", "same word"),
    ],
)
def test_bad_label_words_say_what_and_how(value: str, message: str) -> None:
    with pytest.raises(SmolgepaError, match=message):
        parse_label_words(value, LABELS)


def test_the_adapter_shows_the_words_and_reads_them_back() -> None:
    instruction = f"{WORDS}\n\nClassify.\n\nExamples:\nText: I love it\nLabel: positive"
    signature = make_program(TASK, instruction).signature
    adapter = PlainTextAdapter()
    messages = adapter.format(signature, [], {"input": "meh"})
    assert messages[0]["content"].startswith(WORDS)  # the header travels to the student, which takes it off
    assert messages[0]["content"].endswith("Answer with one label: good, bad, okay.")
    assert messages[2] == {"role": "assistant", "content": "good"}  # the example's label, as its word
    output = next(iter(signature.output_fields))
    assert adapter.parse(signature, "bad")[output] == "negative"
    assert adapter.parse(signature, "neutral")[output] == "neutral"  # a scoring student answers with names
    assert adapter.parse(signature, "okay.")[output] == "neutral"


def test_changed_parts_name_what_a_proposal_touched() -> None:
    seed = "Classify the text."
    shots = "Classify the text.\n\nExamples:\nText: a\nLabel: positive"
    assert changed_parts(seed, shots) == ["examples"]
    assert changed_parts(seed, with_reading(seed, "knn")) == ["reading"]
    assert changed_parts(seed, with_label_words(seed, {"positive": "good"})) == ["label words"]
    assert changed_parts(seed, "Label the text.") == ["instruction"]
    assert changed_parts(seed, "Classify   the\ntext.") == []
    both = with_reading(with_label_words("Say it.\n\nExamples:\nText: a\nLabel: positive", {"positive": "good"}), "knn")
    assert changed_parts(seed, both) == ["instruction", "examples", "label words", "reading"]


def test_the_gate_refuses_label_words_the_task_cannot_use(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    gate = ProposalGate(journal, journal.count_tokens, 300, LABELS)
    verdict = gate.check("Label words: upbeat=good\n\nClassify.")
    assert not verdict.ok and verdict.status == "invalid" and "upbeat" in verdict.reason
    assert not gate.check("Reading: telepathy\n\nClassify.").ok
    assert gate.check(f"{WORDS}\n\nClassify.").ok


def test_a_server_student_refuses_label_words_in_one_line() -> None:
    server = ServerEngine(ServerSettings(base_url="http://127.0.0.1:9/v1", model="m", flavour="llamacpp",
                                         decode="scored", labels=LABELS))
    request = Request(model="m", system=f"{WORDS}\n\nClassify.", messages=(Message.user("Text: x\nLabel:"),))
    with pytest.raises(SmolgepaError, match="Label words.*embedded"):
        server.request_body(request)


def test_word_sets_come_from_the_model_then_synonyms_and_never_collide() -> None:
    assert synonyms("doom_loop") == ["loop", "doom"] and synonyms("positive")[0] == "great"
    vocab = ["good", "bad", "okay", "##", "ok"]
    rows = np.log(np.array([[0.7, 0.1, 0.1, 0.05, 0.05], [0.1, 0.7, 0.1, 0.05, 0.05], [0.1, 0.1, 0.6, 0.1, 0.1]]))
    found = model_words(rows, ["positive", "negative", "neutral"], LABELS, lambda t: vocab[t], per_label=2)
    assert [found[label][0] for label in LABELS] == ["good", "bad", "okay"]  # "##" and "ok" are no words
    sets = word_sets(LABELS, found)
    assert sets[0] == ("the model's own word for every label", {"positive": "good", "negative": "bad", "neutral": "okay"})
    assert sets[1][1] == {"positive": "great", "negative": "terrible", "neutral": "okay"}
    assert all(len({w for w in words.values()}) == len(words) for _, words in sets)


def test_the_fewshot_proposer_offers_label_words_after_readings(tmp_path: Path) -> None:
    class Fixed:
        def proposals(self) -> list[tuple[str, dict[str, str]]]:
            return [("a synonym for every label", {"positive": "great", "negative": "terrible", "neutral": "okay"})]

    journal = make_journal(tmp_path)
    proposer = FewshotProposer(TASK, ProposalGate(journal, journal.count_tokens, 300, LABELS), journal,
                               ("knn",), "scored", Fixed())
    data = reflective([(e.input, "positive") for e in TASK.split("train")[:3]])
    first = proposer({"self": "Classify."}, data, ["self"])["self"]
    assert split_reading(first)[0] == "knn"
    second = proposer({"self": "Classify."}, data, ["self"])["self"]
    assert label_words_of(second) == {"positive": "great", "negative": "terrible", "neutral": "okay"}
    assert journal.current.parts == ["label words"]


def test_the_embedded_student_scores_the_words_and_answers_with_names(embedded_path: Path) -> None:
    engine = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), decode="scored", labels=LABELS,
                                             train_examples=train_pairs(TASK)))
    try:
        instruction = f"{WORDS}\n\nClassify the sentiment."
        words = {"positive": "good", "negative": "bad", "neutral": "okay"}
        for example in TASK.split("val")[:3]:
            messages = messages_for(example.input, instruction)
            system, *turns = messages
            request = Request(model="m", system=system["content"], messages=tuple(Message.user(t["content"]) for t in turns))
            by_name = engine.score_messages(take_header(messages)[1], None, words)
            assert engine.complete(request).text == by_name.label and by_name.label in LABELS
            scorer = engine._label_scorer()  # noqa: SLF001 - the scores behind the answer
            direct = scorer.score(take_header(messages)[1], list(words.values()))
            assert by_name.logprobs == pytest.approx({label: direct[words[label]] for label in LABELS}, abs=1e-4)
            names = scorer.score(take_header(messages)[1], list(LABELS))
            assert by_name.logprobs != pytest.approx(names, abs=1e-4)  # the words were scored, not the names
    finally:
        engine.close()


def test_the_search_finds_whole_words_the_model_says(embedded_engine: EmbeddedEngine) -> None:
    search = LabelWordSearch(embedded_engine, TASK, make_program(TASK).signature.instructions)
    found = search.found()
    assert set(found) == set(LABELS)
    assert all(word.isalpha() and len(word) >= 3 for words in found.values() for word in words)
    assert search.proposals() and search.proposals() is search.proposals()  # computed once
