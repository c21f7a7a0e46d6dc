"""Task files: the built-in tasks, user task files, splits, and the errors a user can cause."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from smolgepa.errors import SmolgepaError
from smolgepa.tasks import SPLITS, Task, builtin_task_names, load_task

SENTIMENT_LABELS = {
    "positive": "The writer is pleased.",
    "negative": "The writer is unhappy.",
    "neutral": "No opinion either way.",
}


def write_task(
    folder: Path,
    rows: list[Any] | str,
    *,
    labels: Any = None,
    data: Any = "examples.jsonl",
    **spec: Any,
) -> Path:
    """Write a task YAML and its JSONL file into `folder`; return the YAML path.

    `rows` is a list of JSON values (one per line) or the raw text of the JSONL file.
    """
    document = {"name": "my-task", "description": "A test task.", "input": "text", "data": data}
    document["labels"] = SENTIMENT_LABELS if labels is None else labels
    document.update(spec)
    yaml_path = folder / "task.yaml"
    yaml_path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    text = rows if isinstance(rows, str) else "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    data_file = data if isinstance(data, str) and data.strip() else "examples.jsonl"
    (folder / data_file).write_text(text, encoding="utf-8")
    return yaml_path


def rows_for(counts: dict[str, int], split: str | None = None) -> list[dict[str, Any]]:
    """Rows with `counts[label]` examples of each label, optionally all in one split."""
    rows = []
    for label, count in counts.items():
        for index in range(count):
            row: dict[str, Any] = {"id": f"{label}-{index}", "text": f"{label} example number {index}", "label": label}
            if split:
                row["split"] = split
            rows.append(row)
    return rows


def error_of(path: Path | str) -> str:
    with pytest.raises(SmolgepaError) as info:
        load_task(path)
    return str(info.value)


# --- built-in tasks -------------------------------------------------------------------------------


def test_builtin_names_include_the_sentiment_tasks() -> None:
    names = builtin_task_names()
    assert {"sentiment", "sentiment-extended"} <= set(names)
    assert names == sorted(names)


# Labelled real data: a rare state may be missing from a split (agent_monitor-real has 2 api_confusion windows).
REAL_SPARSE_TASKS = {"agent_monitor-real"}


@pytest.mark.parametrize("name", builtin_task_names())
def test_every_builtin_task_loads_with_unique_ids_and_every_label_in_every_split(name: str) -> None:
    task = load_task(name)
    assert task.name == name
    ids = [example.id for example in task.examples]
    assert len(ids) == len(set(ids))
    for split, counts in task.label_counts().items():
        missing = [label for label, count in counts.items() if count == 0]
        if name in REAL_SPARSE_TASKS:  # real data holds as many of a state as it holds (provenance file)
            assert counts and sum(counts.values()), f"{name}: split {split} is empty"
            continue
        assert not missing, f"{name}: split {split} has no examples of {missing}"
    if name in REAL_SPARSE_TASKS:
        overall = {label: sum(c[label] for c in task.label_counts().values()) for label in task.labels}
        assert all(overall.values()), f"{name}: a label with no example at all: {overall}"
    assert all(example.split in SPLITS for example in task.examples)
    assert all(example.input.strip() == example.input and example.input for example in task.examples)
    assert all(description for description in task.labels.values()), "every label has a one-line description"


def test_sentiment_has_22_clear_examples_split_10_6_6() -> None:
    task = load_task("sentiment")
    assert task.labels == SENTIMENT_LABELS
    assert len(task.examples) == 22
    assert {split: len(task.split(split)) for split in SPLITS} == {"train": 10, "val": 6, "test": 6}
    assert task.label_counts()["val"] == {"positive": 2, "negative": 2, "neutral": 2}
    inputs = {example.input: example.label for example in task.examples}
    assert inputs["I absolutely love this product!"] == "positive"
    assert inputs["This is terrible, it broke after one use."] == "negative"


def test_sentiment_extended_is_large_balanced_and_states_its_decision_rule() -> None:
    task = load_task("sentiment-extended")
    assert len(task.examples) >= 150
    assert len(task.split("test")) >= 50
    assert len(task.split("val")) >= 30
    assert len(task.split("train")) >= 50
    for split, counts in task.label_counts().items():
        assert max(counts.values()) <= 1.25 * min(counts.values()), f"{split} is unbalanced: {counts}"
    texts = [example.input for example in task.examples]
    assert len(texts) == len(set(texts)), "no text appears twice (it could leak between splits)"
    assert "decision rule" in task.description.lower()
    lengths = sorted(len(text.split()) for text in texts)
    assert lengths[0] <= 3 and lengths[-1] >= 60, "short and long inputs"


def test_sentiment_extended_has_220_per_label_split_100_40_80_and_no_text_in_two_splits() -> None:
    task = load_task("sentiment-extended")
    per_label = {"train": 100, "val": 40, "test": 80}
    assert task.label_counts() == {split: {label: n for label in task.labels} for split, n in per_label.items()}
    splits_of: dict[str, set[str]] = {}
    for example in task.examples:
        key = " ".join(re.sub(r"[^a-z0-9 ]", " ", example.input.lower()).split())
        splits_of.setdefault(key, set()).add(example.split)
    assert len(splits_of) == len(task.examples), "no text appears twice, even with case and punctuation changed"
    assert all(len(splits) == 1 for splits in splits_of.values())
    # Tests that run val through the model take its first 42, the val split before it grew.
    assert [e.id for e in task.split("val")[:42]] == [f"ext{n:03d}" for n in range(61, 103)]


def test_sentiment_extended_labels_follow_the_decision_rule_on_its_own_examples() -> None:
    """The examples the YAML description quotes carry the label it gives them."""
    task = load_task("sentiment-extended")
    by_text = {example.input: example.label for example in task.examples}
    assert by_text["Not bad at all, honestly better than I expected for the price."] == "positive"
    assert by_text["Can't complain."] == "positive"
    assert by_text["Not impressed."] == "negative"
    assert by_text["Oh fantastic, the update deleted all my saved playlists. Just what I wanted."] == "negative"
    assert by_text["Lovely design, shame it overheats after ten minutes of use."] == "negative"
    assert by_text["Not bad, not great. Just fine."] == "neutral"
    assert by_text["The price went up from 9.99 to 11.99 this month."] == "neutral"


@pytest.mark.parametrize("name", builtin_task_names())
def test_descriptions_do_not_quote_val_or_test_examples(name: str) -> None:
    """A task description may reach the prompt; quoting a held-out example would leak its label."""
    task = load_task(name)
    quotes = [q for q in re.findall(r'"([^"]+)"', task.description) if len(q.split()) >= 2]
    held_out = [example.input.lower() for example in task.examples if example.split in ("val", "test")]
    leaked = [quote for quote in quotes if any(quote.lower().rstrip(".?!") in text for text in held_out)]
    assert not leaked, f"{name}: the description quotes held-out examples: {leaked}"


def test_builtin_splits_are_fixed_in_the_data_file() -> None:
    """Built-in tasks give every example an explicit split, so no code change can move test examples."""
    data = resources.files("smolgepa.tasks") / "data"
    for name in ("sentiment", "sentiment-extended", *PUBLIC_TASKS):
        lines = (data / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert all(json.loads(line)["split"] in SPLITS for line in lines)


# --- built-in tasks from public data ----------------------------------------------------------------

# name -> examples per label in (train, val, test); see scripts/import_public_tasks.py
PUBLIC_TASKS = {
    "financial_phrasebank": ({"positive", "negative", "neutral"}, (100, 40, 100)),
    "clinc_domains": ({"banking", "food", "home", "car", "travel", "utility"}, (50, 20, 50)),
}


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


@pytest.mark.parametrize("name", sorted(PUBLIC_TASKS))
def test_public_tasks_load_balanced_with_the_promised_split_sizes(name: str) -> None:
    labels, (train, val, test) = PUBLIC_TASKS[name]
    task = load_task(name)
    assert set(task.labels) == labels
    assert {split: len(task.split(split)) for split in SPLITS} == {
        "train": train * len(labels),
        "val": val * len(labels),
        "test": test * len(labels),
    }
    assert len(task.split("train")) >= 300 and len(task.split("val")) >= 120 and len(task.split("test")) >= 300
    per_label = dict(zip(SPLITS, (train, val, test)))
    assert task.label_counts() == {split: {label: n for label in task.labels} for split, n in per_label.items()}
    assert all(len(example.input) <= 400 for example in task.examples), "inputs are short"


@pytest.mark.parametrize("name", sorted(PUBLIC_TASKS))
def test_public_tasks_have_no_text_twice_nor_in_two_splits(name: str) -> None:
    task = load_task(name)
    splits_of: dict[str, set[str]] = {}
    for example in task.examples:
        splits_of.setdefault(_key(example.input), set()).add(example.split)
    assert len(splits_of) == len(task.examples), "no text appears twice, even with case and punctuation changed"
    assert all(len(splits) == 1 for splits in splits_of.values())


@pytest.mark.parametrize("name", sorted(PUBLIC_TASKS))
def test_public_tasks_record_source_commit_licence_and_that_test_is_never_tuned_on(name: str) -> None:
    task = load_task(name)
    source = task.meta["provenance"]
    assert source["repository"].startswith("https://github.com/")
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert source["licence"].startswith("CC BY")
    assert source["citation"] and source["dataset"] and source["path"]
    provenance = Path(task.source).parent / source["provenance"]
    assert provenance.name == f"{name}.provenance.md"
    text = provenance.read_text(encoding="utf-8")
    assert source["commit"] in text and source["repository"] in text
    assert source["licence"].split(" (")[0] in text
    assert "test split is never used to tune anything" in text
    for split, n in zip(SPLITS, PUBLIC_TASKS[name][1]):
        assert re.search(rf"\| {split} \| {n} \|", text), f"the provenance gives the {split} counts"


def test_tasks_command_lists_the_public_tasks_with_their_source(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from smolgepa.cli.tasks import cmd_tasks

    cmd_tasks(argparse.Namespace(json=True))
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    for name in PUBLIC_TASKS:
        assert listed[name]["source"]["commit"] == load_task(name).meta["provenance"]["commit"]
    assert "source" not in listed["sentiment"], "tasks smolgepa wrote carry no source block"
    cmd_tasks(argparse.Namespace(json=False))
    out = capsys.readouterr().out
    assert "financial_phrasebank" in out and "CC BY-NC-SA 3.0" in out and "clinc/oos-eval" in out


def test_a_source_block_is_read_into_the_task(tmp_path: Path) -> None:
    rows = rows_for({"positive": 2, "negative": 2, "neutral": 2})
    source = {"dataset": "Some corpus", "commit": "a" * 40, "licence": "CC BY 4.0"}
    task = load_task(write_task(tmp_path, rows, source=source))
    assert task.meta["provenance"] == source
    assert "provenance" not in load_task(write_task(tmp_path, rows)).meta


@pytest.mark.parametrize("source", [["a list"], "a string", {"licence": ["CC BY"]}, {"licence": True}])
def test_a_malformed_source_block_is_refused(tmp_path: Path, source: Any) -> None:
    message = error_of(write_task(tmp_path, rows_for({"positive": 2, "negative": 2}), source=source))
    assert "'source'" in message and "task.yaml" in message


# --- user task files ------------------------------------------------------------------------------


def test_a_user_task_file_loads_like_a_builtin(tmp_path: Path) -> None:
    data = resources.files("smolgepa.tasks") / "data"
    for suffix in ("yaml", "jsonl"):
        shutil.copyfile(str(data / f"sentiment.{suffix}"), tmp_path / f"sentiment.{suffix}")
    builtin = load_task("sentiment")
    for reference in (tmp_path / "sentiment.yaml", str(tmp_path / "sentiment.yaml")):
        user = load_task(reference)
        assert user.examples == builtin.examples
        assert (user.name, user.labels, user.description) == (builtin.name, builtin.labels, builtin.description)
        assert user.source == str(tmp_path / "sentiment.yaml")


def test_a_user_task_with_its_own_labels_and_input_field(tmp_path: Path) -> None:
    rows = [
        {"id": 1, "question": "Is the sky green?", "label": "no", "split": "train"},
        {"id": 2, "question": "Is water wet?", "label": "yes", "split": "train"},
        {"id": 3, "question": "  Do fish swim?  ", "label": "yes", "split": "test"},
    ]
    path = write_task(tmp_path, rows, labels={"yes": "True.", "no": "False."}, input="question")
    task = load_task(path)
    assert task.labels == {"yes": "True.", "no": "False."}
    assert task.input_field == "question"
    assert [example.id for example in task.examples] == ["1", "2", "3"]
    assert task.split("test")[0].input == "Do fish swim?"
    assert task.split("val") == []


# --- errors a user can cause ----------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text("name: broken\nlabels:\n  positive: ok\n  negative: [unclosed\ndata: x.jsonl\n")
    message = error_of(path)
    assert re.search(re.escape(str(path)) + r":\d+: malformed YAML", message), message


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text("- just\n- a list\n")
    assert "YAML mapping" in error_of(path)


def test_malformed_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    good = json.dumps({"id": "a", "text": "fine", "label": "positive"})
    path = write_task(tmp_path, f"{good}\n\n{{\"id\": \"b\", \"text\": oops}}\n")
    message = error_of(path)
    assert f"{tmp_path / 'examples.jsonl'}:3: malformed JSON" in message, message


def test_a_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write_task(tmp_path, [{"id": "a", "text": "fine", "label": "positive"}, ["a", "list"]])
    assert f"{tmp_path / 'examples.jsonl'}:2: each line must be a JSON object" in error_of(path)


def test_undeclared_label_names_file_line_and_declared_labels(tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "fine", "label": "positive"}, {"id": "b", "text": "meh", "label": "mixed"}]
    message = error_of(write_task(tmp_path, rows))
    assert f"{tmp_path / 'examples.jsonl'}:2: label 'mixed' is not declared" in message
    assert "positive, negative, neutral" in message


@pytest.mark.parametrize("label", [None, 3, ["positive"], {"positive": 1}])
def test_a_label_of_the_wrong_type_is_an_undeclared_label(tmp_path: Path, label: Any) -> None:
    rows = [{"id": "a", "text": "fine", "label": label}]
    assert f"{tmp_path / 'examples.jsonl'}:1: label" in error_of(write_task(tmp_path, rows))


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_input_names_file_and_line(tmp_path: Path, text: str) -> None:
    rows = [{"id": "a", "text": "fine", "label": "positive"}, {"id": "b", "text": text, "label": "negative"}]
    assert f"{tmp_path / 'examples.jsonl'}:2: empty input" in error_of(write_task(tmp_path, rows))


def test_missing_input_field_and_wrong_input_type(tmp_path: Path) -> None:
    message = error_of(write_task(tmp_path, [{"id": "a", "body": "fine", "label": "positive"}]))
    assert f"{tmp_path / 'examples.jsonl'}:1: missing the input field 'text'" in message
    message = error_of(write_task(tmp_path, [{"id": "a", "text": 42, "label": "positive"}]))
    assert f"{tmp_path / 'examples.jsonl'}:1: the input 'text' must be a string" in message


def test_empty_data_file(tmp_path: Path) -> None:
    assert "no examples" in error_of(write_task(tmp_path, "\n  \n"))


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": "one", "label": "positive"},
        {"id": "b", "text": "two", "label": "negative"},
        {"id": "a", "text": "three", "label": "neutral"},
    ]
    message = error_of(write_task(tmp_path, rows))
    assert f"{tmp_path / 'examples.jsonl'}:3: duplicate id 'a' (first on line 1)" in message


def test_missing_data_file_names_the_path(tmp_path: Path) -> None:
    path = write_task(tmp_path, [], data="there.jsonl")
    (tmp_path / "there.jsonl").unlink()
    message = error_of(path)
    assert str(tmp_path / "there.jsonl") in message and "not found" in message


def test_unknown_task_name_lists_the_builtins() -> None:
    message = error_of("no-such-task")
    assert "Unknown task 'no-such-task'" in message
    assert "sentiment, sentiment-extended" in message or all(n in message for n in builtin_task_names())


@pytest.mark.parametrize("name", ["x" * 5000, "bad\0name"])
def test_a_name_the_os_cannot_look_up_is_an_unknown_task(name: str) -> None:
    assert "Unknown task" in error_of(name)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"labels": {"only": "One label."}}, "at least two label names"),
        ({"labels": {"two words": "x", "b": "y"}}, "must be a single word"),
        ({"labels": {"a": ["not", "a", "string"], "b": "y"}}, "description of label 'a' must be a string"),
        ({"labels": {"a": "x", " a ": "y"}}, "declared twice"),
        ({"name": ""}, "'name' is required"),
        ({"input_format": "audio"}, "'input_format' must be one of text, trace"),
        ({"render": "fancy"}, "'render' must be one of plain, annotated"),
        ({"max_input_tokens": 3}, "'max_input_tokens' must be a whole number"),
        ({"max_input_tokens": "lots"}, "'max_input_tokens' must be a whole number"),
        ({"input": 7}, "'input' must be a string"),
        ({"data": None}, "'data' is required"),
        ({"data": "  "}, "'data' is required"),
    ],
)
def test_bad_task_fields_are_explained(tmp_path: Path, spec: dict[str, Any], expected: str) -> None:
    rows = [{"id": "a", "text": "fine", "label": "a"}]
    labels = spec.pop("labels", {"a": "A.", "b": "B."})
    message = error_of(write_task(tmp_path, rows, labels=labels, **spec))
    assert expected in message and str(tmp_path / "task.yaml") in message, message


def test_unquoted_yes_no_labels_get_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text("name: t\nlabels:\n  yes: It is.\n  no: It is not.\ndata: d.jsonl\n")
    (tmp_path / "d.jsonl").write_text('{"text": "x", "label": "yes"}\n')
    assert "quote it" in error_of(path)


def test_an_impossible_date_in_yaml_is_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text("name: t\ncreated: 2024-02-30\nlabels: [a, b]\ndata: d.jsonl\n")
    assert "malformed YAML" in error_of(path)


def test_deeply_nested_yaml_and_json_are_errors_not_crashes(tmp_path: Path) -> None:
    path = write_task(tmp_path, "[" * 5000 + "]" * 5000 + "\n")
    assert f"{tmp_path / 'examples.jsonl'}:1: malformed JSON" in error_of(path)
    path.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "malformed YAML" in error_of(path)


def test_a_huge_number_in_jsonl_is_malformed_json(tmp_path: Path) -> None:
    path = write_task(tmp_path, '{"id": ' + "9" * 5000 + ', "text": "x", "label": "positive"}\n')
    assert f"{tmp_path / 'examples.jsonl'}:1: malformed JSON" in error_of(path)


def test_undecodable_files_are_errors(tmp_path: Path) -> None:
    path = write_task(tmp_path, [])
    (tmp_path / "examples.jsonl").write_bytes(b'{"text": "\xff\xfe", "label": "positive"}\n')
    assert "cannot read the data file" in error_of(path)
    path.write_bytes(b"name: \xff\n")
    assert "cannot read the task file" in error_of(path)


def test_an_input_longer_than_the_budget_is_rejected_with_its_line(tmp_path: Path) -> None:
    rows = [
        {"id": "ok", "text": "short", "label": "positive"},
        {"id": "long", "text": "word " * 400, "label": "neutral"},
    ]
    message = error_of(write_task(tmp_path, rows, max_input_tokens=100))
    assert f"{tmp_path / 'examples.jsonl'}:2: input of example 'long'" in message and "max_input_tokens" in message
    assert len(load_task(write_task(tmp_path, rows, max_input_tokens=1000)).examples) == 2


# --- file format details --------------------------------------------------------------------------


def test_unicode_line_separators_inside_a_json_string_stay_in_the_example(tmp_path: Path) -> None:
    """A JSONL line ends at \\n only; U+2028, form feed and friends inside strings are content."""
    text = "first part\u2028second part\x0cthird\x1dfourth\x85fifth"
    rows = [{"id": "a", "text": text, "label": "positive"}, {"id": "b", "text": "plain", "label": "negative"}]
    path = write_task(tmp_path, rows)
    assert "\u2028" in (tmp_path / "examples.jsonl").read_text(encoding="utf-8"), "written unescaped"
    task = load_task(path)
    assert [example.input for example in task.examples] == [text, "plain"]


def test_byte_order_marks_and_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "one", "label": "positive"}, {"id": "b", "text": "two", "label": "negative"}]
    path = write_task(tmp_path, rows)
    for file in (path, tmp_path / "examples.jsonl"):
        content = file.read_text(encoding="utf-8").replace("\n", "\r\n")
        file.write_bytes(b"\xef\xbb\xbf" + content.encode("utf-8"))
    task = load_task(path)
    assert task.name == "my-task" and [example.input for example in task.examples] == ["one", "two"]


def test_ids_default_to_the_line_number(tmp_path: Path) -> None:
    rows = [{"text": "one", "label": "positive"}, {"text": "two", "label": "negative"}]
    task = load_task(write_task(tmp_path, rows))
    assert [example.id for example in task.examples] == ["line1", "line2"]


# --- splits ---------------------------------------------------------------------------------------


def test_unsplit_data_gets_fixed_seeded_stratified_splits(tmp_path: Path) -> None:
    counts = {"positive": 10, "negative": 20, "neutral": 7}
    path = write_task(tmp_path, rows_for(counts))
    first, second = load_task(path), load_task(path)
    assert [(e.id, e.split) for e in first.examples] == [(e.id, e.split) for e in second.examples]
    assert first.label_counts() == {
        "train": {"positive": 4, "negative": 8, "neutral": 3},
        "val": {"positive": 3, "negative": 6, "neutral": 2},
        "test": {"positive": 3, "negative": 6, "neutral": 2},
    }
    # Seeded, not simply file order: the first 4 positives are not all in train.
    positives = [e.split for e in first.examples if e.label == "positive"]
    assert positives != sorted(positives, key=SPLITS.index)


def test_splits_do_not_depend_on_other_labels_or_file_location(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    task_one = load_task(write_task(one, rows_for({"positive": 10, "negative": 10})))
    task_two = load_task(write_task(two, rows_for({"positive": 10, "negative": 10}), name="other"))
    assert [(e.id, e.split) for e in task_one.examples] == [(e.id, e.split) for e in task_two.examples]


def test_explicit_splits_are_kept_and_only_the_rest_is_assigned(tmp_path: Path) -> None:
    rows = rows_for({"positive": 10, "negative": 10})
    for row in rows[:3]:
        row["split"] = "test"
    task = load_task(write_task(tmp_path, rows))
    assert [e.split for e in task.examples[:3]] == ["test", "test", "test"]
    explicit = {"positive-0", "positive-1", "positive-2"}
    assigned = Counter(e.split for e in task.examples if e.label == "positive" and e.id not in explicit)
    assert assigned == {"train": 3, "val": 2, "test": 2}


def test_an_unknown_split_name_is_an_error(tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "one", "label": "positive", "split": "dev"}]
    assert f"{tmp_path / 'examples.jsonl'}:1: split 'dev' must be one of train, val, test" in error_of(
        write_task(tmp_path, rows)
    )


def test_task_split_accepts_all_and_rejects_unknown_names() -> None:
    task: Task = load_task("sentiment")
    assert task.split("all") == list(task.examples)
    with pytest.raises(SmolgepaError, match="Unknown split"):
        task.split("dev")
