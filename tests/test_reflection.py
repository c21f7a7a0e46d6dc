"""Reflection output cleaning and the cmd: backend with real child processes."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.optimize.cleaning import clean_reflection, strip_thinking
from smolgepa.optimize.command import CommandBackend, parse_command
from smolgepa.optimize.reflection import ReflectionSettings, make_backend

SCRIPT = Path(__file__).parent / "scripts" / "reflector.py"


def cmd(*args: str) -> list[str]:
    return [sys.executable, str(SCRIPT), *args]


# ---------------------------------------------------------------- cleaning


def test_fenced_block_is_extracted_with_language_tag_removed() -> None:
    cleaned = clean_reflection("Sure! Here it is:\n```text\nClassify the text.\nAnswer with a label.\n```\nHope it helps")
    assert cleaned.instruction == "Classify the text.\nAnswer with a label."


def test_last_nonempty_block_wins() -> None:
    text = "Old:\n```\nold instruction\n```\nNew:\n```\nnew instruction\n```\n```\n```"
    assert clean_reflection(text).instruction == "new instruction"


def test_think_blocks_are_stripped_even_when_they_contain_fences() -> None:
    text = "<think>maybe ```\nnot this\n``` hmm</think>\n```\nthe real one\n```"
    assert clean_reflection(text).instruction == "the real one"


def test_think_only_and_unclosed_think_are_rejected() -> None:
    assert clean_reflection("<think>I am still thinking").instruction is None
    assert "thinking only" in clean_reflection("<think>I am still thinking").reason
    assert "thinking only" in clean_reflection("<think>all thought</think>   ").reason


def test_answer_after_cut_off_opening_tag_is_used() -> None:
    body, unclosed = strip_thinking("reasoning without opening tag</think>\n```\nX\n```")
    assert "reasoning" not in body and not unclosed
    assert clean_reflection("reasoning</think>```\nX\n```").instruction == "X"


@pytest.mark.parametrize(
    ("text", "finish", "reason"),
    [
        ("", "stop", "empty answer"),
        ("   \n ", "stop", "empty answer"),
        ("Classify the text carefully.", "stop", "no ``` block"),
        ("Here:\n```\nClassify the text and then", "stop", "truncated"),
        ("Here is my long analysis of the failures", "length", "truncated"),
        ("```\n\n```", "stop", "empty ``` block"),
    ],
)
def test_broken_answers_are_rejected_with_a_reason(text: str, finish: str, reason: str) -> None:
    cleaned = clean_reflection(text, finish)
    assert cleaned.instruction is None
    assert reason in cleaned.reason


def test_complete_block_survives_a_length_finish() -> None:
    assert clean_reflection("```\nDone.\n```\nAnd some trailing tal", "length").instruction == "Done."


def test_inline_fence_is_accepted() -> None:
    assert clean_reflection("Use ```Classify the text.``` as the instruction").instruction == "Classify the text."


# ---------------------------------------------------------------- cmd: backend


def test_command_answers_on_stdout() -> None:
    reply = CommandBackend(cmd("answer", "Label the text."), timeout=30)("the prompt")
    assert reply.error is None
    assert clean_reflection(reply.text).instruction == "Label the text."


def test_hanging_command_is_killed_at_the_timeout() -> None:
    started = time.monotonic()
    reply = CommandBackend(cmd("hang"), timeout=1.0)("the prompt")
    elapsed = time.monotonic() - started
    assert reply.error is not None and "timed out after 1s" in reply.error
    assert elapsed < 10


def test_failing_command_reports_status_and_stderr() -> None:
    reply = CommandBackend(cmd("fail"), timeout=30)("the prompt")
    assert reply.error is not None
    assert "status 3" in reply.error and "no API key configured" in reply.error
    assert reply.text == ""


def test_non_utf8_output_is_decoded_with_a_note() -> None:
    reply = CommandBackend(cmd("binary"), timeout=30)("the prompt")
    assert reply.error is None
    assert any("not valid UTF-8" in note for note in reply.notes)
    assert clean_reflection(reply.text).instruction == "Classify the text."


def test_enormous_output_is_cut_without_breaking_a_character() -> None:
    limit = 1002  # after the 27-byte fenced block, an odd cut lands inside a two-byte character
    reply = CommandBackend(cmd("enormous", "20"), timeout=60, max_output_bytes=limit)("the prompt")
    assert reply.error is None
    assert len(reply.text.encode("utf-8")) <= limit
    assert any("cut to" in note and "20000027 bytes" in note for note in reply.notes)
    assert not any("UTF-8" in note for note in reply.notes)  # the split character is dropped, not "invalid"
    assert clean_reflection(reply.text).instruction == "Classify the text."


def test_failure_shows_the_end_of_a_long_stderr() -> None:
    reply = CommandBackend(cmd("noisy-fail", "3"), timeout=60)("the prompt")
    assert reply.error is not None and "status 4" in reply.error
    assert "the real reason" in reply.error


def test_a_command_that_never_reads_a_long_prompt_still_answers() -> None:
    reply = CommandBackend(cmd("deaf"), timeout=30)("x" * 2_000_000)  # far more than a pipe holds
    assert reply.error is None
    assert clean_reflection(reply.text).instruction == "Answer without reading."


def test_a_command_that_never_reads_cannot_hold_us_past_the_timeout() -> None:
    replies = []
    call = threading.Thread(target=lambda: replies.append(CommandBackend(cmd("hang"), timeout=1.0)("x" * 2_000_000)))
    call.start()
    call.join(30)  # writing the prompt in this thread would block until the child read it: never
    assert not call.is_alive(), "the prompt write blocked past the timeout"
    assert replies[0].error is not None and "timed out after 1s" in replies[0].error


def test_command_runs_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    # with a shell, `;` would run a second command; without one it is just an argument
    reply = CommandBackend([*cmd("answer", f"x; touch {marker}")], timeout=30)("p")
    assert reply.error is None
    assert not marker.exists()
    assert f"x; touch {marker}" in reply.text


def test_parse_command_quoting_and_errors() -> None:
    assert parse_command(f'"{sys.executable} -c pass"') == [sys.executable, "-c", "pass"]
    assert parse_command(f"{sys.executable} -c 'print(1)'") == [sys.executable, "-c", "print(1)"]
    with pytest.raises(SmolgepaError, match="not found"):
        parse_command("no-such-reflector-binary --flag")
    with pytest.raises(SmolgepaError, match="needs a command"):
        parse_command("   ")


def test_unknown_reflection_spec_lists_forms() -> None:
    with pytest.raises(SmolgepaError, match="Available: fewshot, rules, embedded"):
        make_backend("bogus:thing", ReflectionSettings())
