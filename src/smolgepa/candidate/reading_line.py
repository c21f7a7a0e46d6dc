"""How the student's answer is read, as a part of the candidate GEPA evolves.

An instruction may start with one line `Reading: <method>` naming a scoring method (direct label
scores, noisy channel, kNN over training anchors, a one-demo-per-pass ensemble, each optionally
calibrated). The line never reaches the model: a scoring student takes it off the system message
and reads that candidate's answer with the method it names (the embedded student and llama.cpp
servers all of them; other servers those their kind supports, `smolgepa.lm.servers.payloads.server_readings`; a kind answers `StudentKind.readings()`).
So a proposer can change how the answer is read the way it changes the examples block, and the run
records which reading won.

The method names are the study's decode values (`knn`, `scored+calibrate-train`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.reading import Reading, reading_name  # noqa: F401 - reading_name re-exported
from smolgepa.candidate.header import split_header, take_header, with_header_value
from smolgepa.candidate.label_words import LABEL_WORDS_PREFIX

READING_PREFIX = "Reading:"  # one of smolgepa.candidate.header.HEADER_PREFIXES
# Every scoring method a candidate may name, with (decode, calibrate, calibration).
READINGS: dict[str, tuple[str, bool, str]] = {
    "scored": ("scored", False, "content-free"),
    "scored+calibrate": ("scored", True, "content-free"),
    "scored+calibrate-train": ("scored", True, "train"),
    "channel": ("channel", False, "content-free"),
    "channel+calibrate-train": ("channel", True, "train"),
    "knn": ("knn", False, "content-free"),
    "probe": ("probe", False, "content-free"),
    "hidden": ("hidden", False, "content-free"),
    "stack": ("stack", False, "content-free"),
    "hidden-figures": ("hidden-figures", False, "content-free"),
    "ensemble": ("ensemble", False, "content-free"),
    "ensemble+calibrate-train": ("ensemble", True, "train"),
}
# The readings a proposer offers, in the order it tries them: the methods that moved the 135M most on
# validation first. `hidden` before `probe`: validation 74.2% against 72.5% on sentiment-extended, 50.0%
# against 41.7% on agent_monitor-extended (summary rendering). The ensemble is not offered: at k passes
# per answer it is the costliest reading to screen (~1 s an answer, a third of the demo's screen), and
# it read 15-20 points below `hidden` on every task measured (docs/measurements/); `--decode` keeps it.
# `hidden-figures` is offered on trace tasks rendered with the evidence figures only (`OptimizeConfig.offered_readings`).
PROPOSAL_ORDER = ("hidden", "probe", "stack", "hidden-figures", "knn", "channel", "scored+calibrate-train",
                  "scored+calibrate", "scored")


def reading(name: str) -> Reading:
    """The Reading a method name stands for, or a clear error naming the choices."""
    key = "".join(name.split())
    if key not in READINGS:
        raise SmolgepaError(f"Unknown reading {name!r} in a '{READING_PREFIX}' line. Use one of: {', '.join(READINGS)}.")
    return Reading(*READINGS[key])


def split_reading(instruction: str) -> tuple[str | None, str]:
    """(the method the instruction's header names or None, the instruction without that line; any
    other header line stays)."""
    values, _ = split_header(instruction)
    if READING_PREFIX not in values:
        return None, instruction
    return reading(values[READING_PREFIX]).name, with_header_value(instruction, READING_PREFIX, None)


def with_reading(instruction: str, name: str | None) -> str:
    """The instruction with its reading line set to `name` (removed for None)."""
    return with_header_value(instruction, READING_PREFIX, None if name is None else reading(name).name)


def take_reading(messages: Sequence[Mapping[str, str]]) -> tuple[str | None, list[dict[str, str]]]:
    """The reading named in the system message's header, and the messages without that line (any
    other header line stays)."""
    result = [dict(message) for message in messages]
    if result and result[0].get("role") == "system":
        name, body = split_reading(result[0].get("content") or "")
        if name is not None:
            result[0]["content"] = body
            return name, result
    return None, result


def check_server_reading(name: str, supported: Sequence[str], where: str) -> None:
    """A server student reads answers the ways its server kind supports (`smolgepa.lm.servers.payloads.server_readings`; a kind answers `StudentKind.readings()`);
    a candidate naming another reading is an error."""
    if name not in supported:
        raise SmolgepaError(
            f"{where} cannot read answers as the instruction's '{READING_PREFIX} {name}' asks; it can read them as: "
            f"{', '.join(supported) or 'none (it gives no token log-probabilities)'}. Remove the line, or use "
            "--student embedded or a llama.cpp server (llamacpp:URL), which read all of them."
        )


def reading_moves(instruction: str, own: str, offered: Sequence[str]) -> list[tuple[str, str]]:
    """Proposals that change only how `instruction` is read: (move description, new text) for each
    offered method other than the one in force (`own` when the instruction names none)."""
    current, _ = split_reading(instruction)
    current = current or own
    moves = []
    for name in offered:
        if name != current:
            text = with_reading(instruction, None if name == own else name)
            moves.append((f"read the answer with {name} (was {current})", text))
    return moves


def take_server_reading(messages: Sequence[Mapping[str, str]], where: str) -> tuple[str | None, list[dict[str, str]]]:
    """`take_reading` for a server student, which scores the task's label names only: a candidate
    with a `Label words:` line is refused in one line."""
    values, _ = take_header(messages)
    if LABEL_WORDS_PREFIX in values:
        raise SmolgepaError(
            f"{where} cannot use the candidate's '{LABEL_WORDS_PREFIX}' line: label words run only on the "
            "embedded student. Remove the line, or use --student embedded."
        )
    return take_reading(messages)
