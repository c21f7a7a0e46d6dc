"""The renderer: deterministic, within budget, shortened in the middle with an explicit marker."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smolgepa.errors import SmolgepaError
from smolgepa.traces import Message, ToolCall, ToolResult, Trace, approx_tokens, render_trace
from smolgepa.traces.render import clip


def _loop_trace(repeats: int, output: str = "No results found.") -> Trace:
    turns: list = [Message("Let me search for it.")]
    for _ in range(repeats):
        turns += [ToolCall("web_search", {"query": "vacation policy"}), ToolResult("web_search", output)]
    return Trace(task="Find the vacation policy.", turns=tuple(turns))


def test_plain_rendering_is_one_numbered_line_per_turn() -> None:
    trace = Trace(
        task="Fix it",
        turns=(
            ToolCall("read_file", {"path": "a.py", "lines": [1, 2]}, thought="Look first."),
            ToolResult("read_file", "x = 1\ny = 2"),
            ToolResult("read_file", "boom", error=True),
            ToolResult("ls", ""),
            Message("Done."),
        ),
    )
    assert render_trace(trace) == (
        "Task: Fix it\n"
        '1. agent calls read_file(path="a.py", lines=[1, 2]) Thought: Look first.\n'
        "2. read_file returned: x = 1 y = 2\n"
        "3. read_file returned ERROR: boom\n"
        "4. ls returned nothing\n"
        "5. agent says: Done."
    )


def test_rendering_is_deterministic() -> None:
    trace = _loop_trace(12, output="word " * 80)
    first = render_trace(trace, mode="annotated", max_tokens=300)
    assert all(render_trace(trace, mode="annotated", max_tokens=300) == first for _ in range(3))


def test_over_budget_trace_is_shortened_in_the_middle_with_a_marker() -> None:
    trace = _loop_trace(20)  # 41 turns
    text = render_trace(trace, max_tokens=200)
    assert approx_tokens(text) <= 200
    marker = re.search(r"\[\.\.\. (\d+) turns omitted \(turns (\d+)-(\d+)\) \.\.\.\]", text)
    assert marker is not None, text
    omitted, first, last = map(int, marker.groups())
    assert omitted == last - first + 1
    numbers = [int(n) for n in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)]
    # the kept turns are a prefix and a suffix of the trace, and with the omitted ones they cover it all
    assert numbers == list(range(1, first)) + list(range(last + 1, 42))
    assert numbers[-1] == 41  # the end of the trace (the current state) is always shown


def test_long_fields_are_clipped_with_a_character_count_not_cut_silently() -> None:
    trace = Trace(task="t", turns=(Message("word " * 400), ToolCall("ls", {}), ToolResult("ls", "ok")))
    text = render_trace(trace, max_tokens=250)
    assert approx_tokens(text) <= 250
    clipped = re.search(r"\[\.\.\. (\d+) more characters\]", text)
    assert clipped is not None
    kept = text.split("agent says: ")[1].split(" [...")[0]
    assert len(kept) + int(clipped.group(1)) == len(("word " * 400).strip())


def test_clip_counts_the_dropped_characters() -> None:
    text = "abcdefghij " * 10
    clipped = clip(text, 40)
    body, dropped = re.match(r"(.*) \[\.\.\. (\d+) more characters\]$", clipped).groups()
    assert text.strip().startswith(body)
    assert len(body) + int(dropped) == len(text.strip())
    assert clip("short", 40) == "short"


def test_a_real_tokenizer_can_be_passed() -> None:
    calls: list[str] = []

    def words(text: str) -> int:
        calls.append(text)
        return len(text.split())

    text = render_trace(_loop_trace(30), max_tokens=120, count_tokens=words)
    assert calls, "the given counter must be used"
    assert len(text.split()) <= 120
    assert "turns omitted" in text


def test_annotated_adds_counts_from_the_whole_trace_even_when_shortened() -> None:
    text = render_trace(_loop_trace(20), mode="annotated", max_tokens=300)
    assert "turns omitted" in text
    assert "same call in a row: 20 (web_search, turns 2-40)" in text
    assert approx_tokens(text) <= 300


def test_unknown_mode_is_a_user_error() -> None:
    with pytest.raises(SmolgepaError, match="Unknown rendering 'fancy'"):
        render_trace(_loop_trace(1), mode="fancy")


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
_turn = st.one_of(
    st.builds(ToolCall, st.sampled_from(["a", "read_file", "search"]), st.dictionaries(st.sampled_from(["p", "q"]), _text, max_size=2), _text),
    st.builds(ToolResult, st.sampled_from(["a", "read_file"]), _text, st.booleans()),
    st.builds(Message, _text.filter(lambda s: s.strip() != "")),
)


@settings(max_examples=60, deadline=None)
@given(turns=st.lists(_turn, min_size=1, max_size=40), budget=st.integers(min_value=250, max_value=900))
def test_any_trace_fits_any_reasonable_budget(turns: list, budget: int) -> None:
    trace = Trace(task="Do the thing", turns=tuple(turns))
    for mode in ("plain", "annotated"):
        text = render_trace(trace, mode=mode, max_tokens=budget)
        assert approx_tokens(text) <= budget
        assert text == render_trace(trace, mode=mode, max_tokens=budget)
        shown = len(re.findall(r"^\d+\. ", text, flags=re.MULTILINE))
        omitted = re.search(r"\[\.\.\. (\d+) turns? omitted", text)
        assert shown + (int(omitted.group(1)) if omitted else 0) == len(turns)
