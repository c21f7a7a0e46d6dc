"""The verifier's bookkeeping without a model: lenient reading of replies, junk counts, the audit's verdict
keys, data label's input file and agreement check, the run cache. A scripted backend stands in for the model
here only; `test_verifier_server.py` asks a real llama.cpp server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolgepa.data.audit import Audit, Suspect, audit_text
from smolgepa.data.labelling import Agreement, check_agreement, read_unlabelled
from smolgepa.data.verdicts import verify_suspects
from smolgepa.errors import SmolgepaError
from smolgepa.optimize.cache import JsonlCache, ReflectionReply
from smolgepa.optimize.rundir import Redactor
from smolgepa.tasks import load_task
from smolgepa.verifier.verifier_model import Verifier, VerifierFailed, check_verifier
from smolgepa.verifier.verifier_replies import NO_LABEL, OUTSIDE, read_reply

LABELS = ["positive", "negative", "neutral"]


@pytest.mark.parametrize(("text", "label", "reason"), [
    ("positive - the writer loves it", "positive", "the writer loves it"),
    ("**Negative**: it broke.", "negative", "it broke."),
    ("Label: neutral\nIt only states a fact.", "neutral", "It only states a fact."),
    ("The answer is negative, because it broke", "negative", "because it broke"),
    ("NEUTRAL", "neutral", ""),
])
def test_a_label_word_then_a_reason(text: str, label: str, reason: str) -> None:
    reply = read_reply(text, LABELS)
    assert (reply.label, reply.reason, reply.junk) == (label, reason, None)


@pytest.mark.parametrize(("text", "junk", "word"), [
    ("", NO_LABEL, ""),
    ("The text is positive.", NO_LABEL, ""),  # a label, but not first: not read
    ("positively great", NO_LABEL, ""),
    ("mixed - some of both", OUTSIDE, "mixed"),
    ("The answer is: sarcastic.", OUTSIDE, "sarcastic"),
])
def test_junk_replies(text: str, junk: str, word: str) -> None:
    reply = read_reply(text, LABELS)
    assert (reply.label, reply.junk, reply.word) == (None, junk, word)


class Scripted:
    """Replies in order; records the prompts it was asked."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> ReflectionReply:
        self.prompts.append(prompt)
        text = self.replies.pop(0)
        return ReflectionReply(error=text[6:]) if text.startswith("ERROR:") else ReflectionReply(text=text, seconds=0.1)


def test_audit_verdicts_junk_and_corrections() -> None:
    task = load_task("sentiment")
    ids = [e.id for e in task.split("train")[:4]]
    given = {e.id: e.label for e in task.examples}
    audit = Audit("sentiment", "tfidf", 16, tuple(Suspect(i, given[i], "neutral", 0.5, "train") for i in ids))
    other = next(label for label in LABELS if label != given[ids[1]])
    backend = Scripted(f"{given[ids[0]]} - fits", f"{other}: it does not fit", "I cannot tell", "sarcastic - hm")
    checked = verify_suspects(audit, task, Verifier("llamacpp:http://x/v1", backend))
    assert [s.verdict for s in checked.suspects] == ["agree", "relabel", "junk", "junk"]
    assert checked.corrections() == {ids[1]: other}  # agreed and junk suspects keep their label
    data = checked.to_json()
    assert all({"verdict", "reason"} <= set(s) for s in data["suspects"])
    assert data["verifier"]["junk"] == 2 and data["verifier"]["outside"] == 1
    table = audit_text(checked)
    assert f"-> {other}" in table and "Verifier junk: 2 of 4 replies" in table and "'sarcastic'" in table
    assert all("Text:" in prompt and "was labelled" in prompt for prompt in backend.prompts)


def test_a_failed_call_raises_and_is_not_cached(tmp_path: Path) -> None:
    cache = JsonlCache(tmp_path / "verifier.jsonl", Redactor())
    verifier = Verifier("llamacpp:http://x/v1", Scripted("ERROR:timed out", "positive - ok"), cache)
    with pytest.raises(VerifierFailed, match="--verifier"):
        verifier.ask("p", LABELS)
    assert len(cache) == 0
    assert verifier.ask("p", LABELS).label == "positive"
    again = Verifier("llamacpp:http://x/v1", Scripted(), JsonlCache(tmp_path / "verifier.jsonl", Redactor()))
    assert again.ask("p", LABELS).label == "positive"  # from the cache: the scripted model has nothing left
    assert (again.tally.calls, again.tally.cached) == (1, 1)


def test_a_shorter_reply_length_is_asked_for_and_kept_apart_in_the_cache(tmp_path: Path) -> None:
    cache = JsonlCache(tmp_path / "verifier.jsonl", Redactor())
    Verifier("llamacpp:http://x/v1", Scripted("positive - ok"), cache).ask("p", LABELS)
    short = Verifier("llamacpp:http://x/v1", Scripted("negative - short"), cache, max_tokens=8)
    assert short.ask("p", LABELS).label == "negative"  # asked again: a reply of 8 tokens is another answer
    default = Verifier("llamacpp:http://x/v1", Scripted(), cache)
    assert default.ask("p", LABELS).label == "positive"  # the default length keeps the keys it always had
    assert Verifier.from_spec("llamacpp:http://127.0.0.1:1/v1", max_tokens=8).backend.settings.max_tokens == 8
    with pytest.raises(SmolgepaError, match="--verifier-max-tokens 0"):
        Verifier.from_spec("llamacpp:http://127.0.0.1:1/v1", max_tokens=0)


def test_offline_specs_are_refused() -> None:
    for spec in ("fewshot", "rules", "", "nonsense:x"):
        with pytest.raises(SmolgepaError, match="--verifier"):
            check_verifier(spec)
    assert check_verifier(" llamacpp:http://127.0.0.1:1/v1 ") == "llamacpp:http://127.0.0.1:1/v1"


def test_unlabelled_inputs_and_their_errors(tmp_path: Path) -> None:
    task = load_task("sentiment")
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "text": "Nice."}\n\n{"text": "Bad."}\n')
    assert [(u.id, u.text) for u in read_unlabelled(path, task)] == [("a", "Nice."), ("line3", "Bad.")]
    for body, message in [('{"id": "a"}\n', "in.jsonl:1"), ('{"text": "x"\n', "malformed JSON"),
                          ('{"id": 1, "text": "x"}\n{"id": 1, "text": "y"}\n', "duplicate id"), ("\n", "no inputs")]:
        path.write_text(body)
        with pytest.raises(SmolgepaError, match=message):
            read_unlabelled(path, task)


def test_agreement_with_its_interval_and_the_refusal() -> None:
    agreement = Agreement(n=30, agreed=12, junk=5)
    assert agreement.text == "40.0% (12/30, 95% CI 24.6-57.7%)"
    assert json.dumps(agreement.to_json())
    check_agreement(agreement, 0.4, "spec")
    check_agreement(agreement, None, "spec")
    with pytest.raises(SmolgepaError, match=r"below --min-agreement 0.5: nothing labelled"):
        check_agreement(agreement, 0.5, "spec")
