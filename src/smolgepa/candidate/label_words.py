"""Label words: the words the student is shown and scored on in place of a task's label names.

A task's labels keep their names in data and reports; a candidate's `Label words:` header line
(`positive=great, negative=awful`) says which word stands for which label. The PlainTextAdapter
writes the words in the answer hint and the example turns, the embedded student scores the words
and answers with the label name, and free text is read back through the same mapping (LM-BFF,
Gao et al. 2021: a tiny model may know `great` far better than `positive`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from smolgepa.errors import SmolgepaError
from smolgepa.candidate.header import split_header, with_header_value

LABEL_WORDS_PREFIX = "Label words:"

LabelWords = dict[str, str]  # label name -> the word shown and scored for it


def parse_label_words(value: str, labels: Sequence[str] | None = None) -> LabelWords:
    """`positive=great, negative=awful` as {label: word}; with `labels`, checked against them."""
    words: LabelWords = {}
    for item in (part.strip() for part in value.split(",")):
        label, equals, word = item.partition("=")
        label, word = label.strip(), word.strip()
        if not item or not equals or not label or not word:
            raise SmolgepaError(
                f"Bad '{LABEL_WORDS_PREFIX}' entry {item!r}: write label=word pairs separated by commas, "
                "e.g. 'Label words: positive=great, negative=awful'."
            )
        words[label] = word
    if labels is not None:
        check_label_words(words, labels)
    return words


def check_label_words(words: Mapping[str, str], labels: Sequence[str]) -> None:
    """Every mapped label exists and every label ends up with its own word, not another's name."""
    unknown = [label for label in words if label not in labels]
    if unknown:
        raise SmolgepaError(
            f"'{LABEL_WORDS_PREFIX}' names unknown label(s) {', '.join(unknown)}; the task's labels are "
            f"{', '.join(labels)}."
        )
    shown = [words.get(label, label) for label in labels]
    if len({w.lower() for w in shown}) != len(shown):
        raise SmolgepaError(
            f"'{LABEL_WORDS_PREFIX}' gives two labels the same word ({', '.join(shown)}); each label needs its own."
        )


def format_label_words(words: Mapping[str, str]) -> str:
    """{label: word} as the header value (`positive=great, negative=awful`)."""
    return ", ".join(f"{label}={word}" for label, word in words.items() if word != label)


def label_words_of(instruction: str, labels: Sequence[str] | None = None) -> LabelWords:
    """The label words an instruction's header names ({} for none)."""
    values, _ = split_header(instruction)
    value = values.get(LABEL_WORDS_PREFIX)
    return parse_label_words(value, labels) if value else {}


def with_label_words(instruction: str, words: Mapping[str, str] | None) -> str:
    """The instruction with its label-words line set to `words` (removed for None or no change)."""
    value = format_label_words(words) if words else ""
    return with_header_value(instruction, LABEL_WORDS_PREFIX, value or None)


def shown(labels: Sequence[str], words: Mapping[str, str]) -> list[str]:
    """The word shown for each label, in label order."""
    return [words.get(label, label) for label in labels]


def label_of(word: str, labels: Sequence[str], words: Mapping[str, str]) -> str:
    """The label a shown word stands for (the word itself when it is no label's word)."""
    for label in labels:
        if words.get(label, label) == word:
            return label
    return word
