"""Reading a PlainTextAdapter prompt back into its parts: the system message, the demonstration
turns (a user input, the assistant's label) and the query; what channel and ensemble decoding rebuild."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.scores import USER_INPUT


@dataclass(frozen=True)
class Turn:
    """One user input: its prefix ("Text:"), value and output cue ("Label:"); `content` is the message."""

    content: str
    prefix: str = ""
    value: str = ""
    cue: str = ""

    @property
    def structured(self) -> bool:
        return bool(self.prefix)


@dataclass(frozen=True)
class Prompt:
    """A classification prompt: leading system messages, demos (input turn, label) and the query turn."""

    system: tuple[dict[str, str], ...]
    demos: tuple[tuple[Turn, str], ...]
    query: Turn

    def with_demos(self, demos: Sequence[tuple[Turn, str]]) -> list[dict[str, str]]:
        """Chat messages of this prompt with other demos (in direct form: input, then the label)."""
        messages = [dict(m) for m in self.system]
        for turn, label in demos:
            messages += [{"role": "user", "content": turn.content}, {"role": "assistant", "content": label}]
        messages.append({"role": "user", "content": self.query.content})
        return messages


def read_turn(content: str) -> Turn:
    match = USER_INPUT.match(content)
    if not match:
        return Turn(content)
    return Turn(content, match["prefix"], match["value"].strip(), match["cue"])


def make_turn(like: Turn, value: str) -> Turn:
    """A user turn laid out like `like` ("Text: ...\\nLabel:") with another input value."""
    if not like.structured:
        return Turn(value)
    return Turn(f"{like.prefix} {value.strip()}\n{like.cue}", like.prefix, value.strip(), like.cue)


def read_prompt(messages: Sequence[Mapping[str, str]], mode: str) -> Prompt:
    """The parts of `messages`: system messages first, then user/assistant demo pairs, then one user
    message. Raises SmolgepaError (naming `mode`) for any other layout."""
    items = [{"role": str(m.get("role", "")), "content": str(m.get("content") or "")} for m in messages]
    system = []
    while items and items[0]["role"] == "system":
        system.append(items.pop(0))
    if not items or items[-1]["role"] != "user" or len(items) % 2 != 1:
        raise _layout_error(mode)
    demos = []
    for user, assistant in zip(items[:-1:2], items[1:-1:2]):
        if user["role"] != "user" or assistant["role"] != "assistant":
            raise _layout_error(mode)
        demos.append((read_turn(user["content"]), assistant["content"].strip()))
    return Prompt(tuple(system), tuple(demos), read_turn(items[-1]["content"]))


def input_text(messages: Sequence[Mapping[str, str]]) -> str:
    """The input of the last user message (its value in the "Text: ...\\nLabel:" layout, else the whole
    message), whitespace collapsed: what leave-one-out compares with training texts."""
    for message in reversed(messages):
        if message.get("role") == "user":
            turn = read_turn(str(message.get("content") or ""))
            return same_text(turn.value if turn.structured else turn.content)
    return ""


def same_text(text: str) -> str:
    """`text` with its whitespace collapsed, for comparing inputs."""
    return " ".join(str(text).split())


def _layout_error(mode: str) -> SmolgepaError:
    return SmolgepaError(
        f"--decode {mode} reads prompts laid out as system message, demo turns (user input, assistant label) "
        "and one user input, as smolgepa's PlainTextAdapter writes them; this program sent another layout."
    )
