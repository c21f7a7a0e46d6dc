"""How the answer is read, as a part of the candidate: the `Reading:` line, the embedded student
honouring it, servers refusing what they cannot do, and the built-in proposers' reading moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from dspy.lm15 import Message, Request

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.errors import SmolgepaError
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.options import train_pairs
from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings
from smolgepa.optimize.config import OptimizeConfig
from smolgepa.optimize.fewshot import FewshotProposer, split_instruction
from smolgepa.optimize.offline_proposer import ProposalGate
from smolgepa.adapter.program import make_program
from smolgepa.candidate.reading_line import (
    PROPOSAL_ORDER,
    reading,
    reading_moves,
    reading_name,
    split_reading,
    take_reading,
    with_reading,
)
from smolgepa.tasks import load_task
from test_optimize_units import make_journal, reflective

TASK = load_task("sentiment")


def test_reading_line_round_trips_and_leaves_the_rest_alone() -> None:
    text = with_reading("Classify.\n\nExamples:\nText: a\nLabel: positive", "knn")
    assert text.startswith("Reading: knn\n\nClassify.")
    assert split_reading(text) == ("knn", "Classify.\n\nExamples:\nText: a\nLabel: positive")
    assert split_instruction(text)[1] == split_instruction(split_reading(text)[1])[1]  # examples untouched
    assert with_reading(text, None) == "Classify.\n\nExamples:\nText: a\nLabel: positive"
    assert with_reading(with_reading(text, "channel"), "channel").count("Reading:") == 1
    assert split_reading("Classify.") == (None, "Classify.")
    assert reading("scored + calibrate-train").decode == "scored" and reading("scored+calibrate-train").calibrate
    assert reading_name("scored", True, "train") == "scored+calibrate-train" and reading_name("knn", False) == "knn"


def test_an_unknown_reading_names_the_choices() -> None:
    with pytest.raises(SmolgepaError, match="Unknown reading 'telepathy'.*knn"):
        split_reading("Reading: telepathy\n\nClassify.")


def test_take_reading_strips_only_the_system_line() -> None:
    messages = [{"role": "system", "content": "Reading: channel\n\nClassify."}, {"role": "user", "content": "Text: x\nLabel:"}]
    name, rest = take_reading(messages)
    assert name == "channel" and rest[0]["content"] == "Classify." and rest[1] == messages[1]
    assert messages[0]["content"].startswith("Reading:")  # the caller's messages are not changed
    assert take_reading(rest) == (None, rest)


def test_reading_moves_offer_every_other_method_in_order() -> None:
    moves = reading_moves("Classify.", "scored", PROPOSAL_ORDER)
    assert [split_reading(text)[0] for _, text in moves] == [n for n in PROPOSAL_ORDER if n != "scored"]
    # going back to the student's own reading removes the line
    back = dict(reading_moves("Reading: knn\n\nClassify.", "scored", PROPOSAL_ORDER))
    assert "Classify." in back.values() and all("(was knn)" in move for move in back)
    assert reading_moves("Classify.", "scored", ()) == []


def messages_for(text: str, instruction: str | None = None) -> list[dict[str, str]]:
    program = make_program(TASK, instruction)
    return PlainTextAdapter().format(program.signature, [], {"input": text})


def test_the_embedded_student_reads_with_the_candidates_method(embedded_path: Path) -> None:
    labels, train = tuple(TASK.labels), train_pairs(TASK)
    scored = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), decode="scored", labels=labels, train_examples=train))
    knn = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), decode="knn", labels=labels, train_examples=train))
    seed = make_program(TASK).signature.instructions
    try:
        for example in TASK.split("val")[:3]:
            plain = messages_for(example.input)
            marked = messages_for(example.input, with_reading(seed, "knn"))
            via_line = scored.score_messages(*take_reading(marked)[::-1])
            assert via_line.probs == pytest.approx(knn.score_messages(plain).probs)  # the kNN vote shares
            assert via_line.probs != pytest.approx(scored.score_messages(plain).probs)
            system, *turns = marked
            request = Request(model="m", system=system["content"], messages=tuple(Message.user(t["content"]) for t in turns))
            assert scored.complete(request).text == via_line.label
        assert set(scored._methods) == {(None, ()), ("knn", ())}  # noqa: SLF001 - one method per reading, built once
    finally:
        scored.close()
        knn.close()


def test_a_server_student_never_sends_the_line_and_refuses_readings_its_kind_cannot_do() -> None:
    server = ServerEngine(ServerSettings(base_url="http://127.0.0.1:9/v1", model="m", flavour="vllm",
                                         decode="scored", labels=tuple(TASK.labels)))
    request = Request(model="m", system="Reading: knn\n\nClassify.", messages=(Message.user("Text: x\nLabel:"),))
    assert server.request_body(request)["messages"][0]["content"] == "Classify."
    with pytest.raises(SmolgepaError, match="cannot read answers as.*'Reading: knn'.*embedded.*llamacpp:URL"):
        server.complete(request)


def test_readings_need_an_embedded_scoring_student() -> None:
    assert OptimizeConfig(task="sentiment", decode="scored", readings=True).offered_readings() == PROPOSAL_ORDER
    assert OptimizeConfig(task="sentiment", decode="scored").offered_readings() == ()
    for changes in ({"decode": "free"}, {"decode": "scored", "student": "vllm:m@http://127.0.0.1:9/v1"}):
        with pytest.raises(SmolgepaError, match="--readings"):
            OptimizeConfig(task="sentiment", readings=True, **changes)


def test_fewshot_changes_the_reading_first_then_the_examples(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    gate = ProposalGate(journal, journal.count_tokens, 300)
    proposer = FewshotProposer(TASK, gate, journal, PROPOSAL_ORDER, "scored")
    data = reflective([(e.input, "positive") for e in TASK.split("train")[:3]])
    first = proposer({"self": "Classify."}, data, ["self"])["self"]
    assert first == f"Reading: {PROPOSAL_ORDER[0]}\n\nClassify." and f"read the answer with {PROPOSAL_ORDER[0]}" in journal.current.move
    second = proposer({"self": "Classify."}, data, ["self"])["self"]
    assert split_reading(second)[0] == PROPOSAL_ORDER[1]  # the first from this parent is taken now: the next
    from_first = proposer({"self": first}, data, ["self"])["self"]  # a parent with a reading: examples first
    assert split_reading(from_first)[0] == PROPOSAL_ORDER[0] and split_instruction(from_first)[1]
    assert journal.current.parts == ["examples"]
    plain = FewshotProposer(TASK, gate, journal)({"self": "Classify."}, data, ["self"])["self"]
    assert "Reading:" not in plain  # without readings offered, only examples move


def test_a_reading_move_a_minibatch_rejected_is_judged_on_one_more_minibatch(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    proposer = FewshotProposer(TASK, ProposalGate(journal, journal.count_tokens, 300), journal, PROPOSAL_ORDER, "scored")
    data = reflective([(e.input, "positive") for e in TASK.split("train")[:3]])

    def propose(verdict: str) -> tuple[str, str]:
        text = proposer({"self": "Classify."}, data, ["self"])["self"]
        record = journal.current
        record.before, record.after = [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        (journal.on_candidate_rejected if verdict == "rejected" else journal.on_candidate_accepted)({})
        journal.current = None
        return text, record.move

    first, _ = propose("rejected")
    again, move = propose("rejected")
    assert again == first and "again, as minibatch 2 of 2" in move
    third, move = propose("accepted")
    assert split_reading(third)[0] == PROPOSAL_ORDER[1] and "again" not in move  # two rejections drop it
    fourth, _ = propose("rejected")
    assert split_reading(fourth)[0] == PROPOSAL_ORDER[2]  # an accepted reading is not proposed again
    assert journal.fatal is None
    assert journal.rejected_looks(first) == 2 and journal.rejected_looks(third) == 0


def test_an_example_move_a_minibatch_rejected_is_not_proposed_again(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    proposer = FewshotProposer(TASK, ProposalGate(journal, journal.count_tokens, 300), journal)
    data = reflective([(e.input, "positive") for e in TASK.split("train")[:3]])
    first = proposer({"self": "Classify."}, data, ["self"])["self"]
    journal.current.before, journal.current.after = [0.0], [0.0]
    journal.on_candidate_rejected({})
    journal.current = None
    assert proposer({"self": "Classify."}, data, ["self"])["self"] != first
