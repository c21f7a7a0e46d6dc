"""The new decode modes as settings: cache keys, validation in one place, CLI and study errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolgepa.cli import main
from smolgepa.errors import SmolgepaError
from smolgepa.lm import StudentOptions
from smolgepa.lm.response_cache import engine_extras
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.optimize.config import OptimizeConfig
from smolgepa.studies.study_file import load_study

LABELS = ("positive", "negative", "neutral")
TRAIN = (("great", "positive"), ("awful", "negative"), ("it is blue", "neutral"))


def extras(tmp_path: Path, **settings) -> dict:
    return engine_extras(EmbeddedEngine(EmbeddedSettings(path=str(tmp_path / "m.gguf"), labels=LABELS, **settings)))


def test_cache_keys_differ_across_modes_and_keep_the_old_ones(tmp_path: Path) -> None:
    variants = [
        {"decode": "scored"},
        {"decode": "scored", "calibrate": True},
        {"decode": "scored", "calibrate": True, "calibration": "train", "train_examples": TRAIN},
        {"decode": "channel"},
        {"decode": "channel", "calibrate": True, "calibration": "train", "train_examples": TRAIN},
        {"decode": "knn", "train_examples": TRAIN},
        {"decode": "knn", "train_examples": TRAIN, "knn_k": 3},
        {"decode": "knn", "train_examples": TRAIN[:2]},
        {"decode": "ensemble", "train_examples": TRAIN},
        {"decode": "ensemble", "train_examples": TRAIN, "ensemble_k": 3},
    ]
    keys = [repr(sorted(extras(tmp_path, **v).items())) for v in variants]
    assert len(set(keys)) == len(keys)
    # Settings a mode does not use stay out of its key: scored keys are those from before knn existed,
    # whatever the training split holds.
    old_fields = {"n_ctx", "seed", "decode", "labels", "calibrate", "content_free"}
    assert set(extras(tmp_path, decode="scored", calibrate=True)) == old_fields
    assert extras(tmp_path, decode="scored", train_examples=TRAIN) == extras(tmp_path, decode="scored")


@pytest.mark.parametrize("settings,message", [
    ({"decode": "knn", "calibrate": True}, "--calibrate does not work with --decode knn"),
    ({"decode": "channel", "calibrate": True}, "--calibrate does not work with --decode channel"),
    ({"decode": "knn", "calibrate": True, "calibration": "train"}, "--calibrate train does not work with --decode knn"),
    ({"decode": "knn"}, "--decode knn needs the task's training examples"),
    ({"decode": "scored", "calibrate": True, "calibration": "train"}, "--calibrate train needs the task's training"),
    ({"decode": "knn", "train_examples": TRAIN, "knn_k": 0}, "--knn-k must be a whole number"),
    ({"decode": "knn", "train_examples": (("x", "maybe"),)}, "outside the label set: maybe"),
    ({"decode": "scored", "calibration": "sideways"}, "Unknown calibration 'sideways'"),
])
def test_bad_combinations_are_refused_in_one_place(settings: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(SmolgepaError, match=message):
        StudentOptions(labels=LABELS, **settings)
    with pytest.raises(SmolgepaError, match=message):
        EmbeddedSettings(path=str(tmp_path / "m.gguf"), labels=LABELS, **settings)


@pytest.mark.parametrize("argv,message", [
    (["eval", "--task", "sentiment", "--decode", "knn", "--calibrate"], "--calibrate does not work with --decode knn"),
    (["eval", "--task", "sentiment", "--decode", "knn", "--knn-k", "0"], "--knn-k must be a whole number"),
    (["eval", "--task", "sentiment", "--decode", "channel", "--student", "lmstudio:some-model"],
     "--decode channel is not available for lmstudio students"),
    (["eval", "--task", "sentiment", "--decode", "scored", "--calibrate", "train", "--student",
      "vllm:m@http://127.0.0.1:9/v1"], "--calibrate train is not available for vllm students"),
    (["optimize", "--task", "sentiment", "--decode", "ensemble", "--student", "ollama:smollm2"],
     "--decode ensemble is not available for ollama students"),
    (["optimize", "--task", "sentiment", "--decode", "knn", "--calibrate", "train"],
     "--calibrate train does not work with --decode knn"),
])
def test_cli_errors_are_one_line_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_optimize_config_takes_the_new_settings() -> None:
    config = OptimizeConfig(task="sentiment", decode="channel", calibrate=True, calibration="train")
    assert OptimizeConfig.from_json(config.to_json()) == config
    old = {k: v for k, v in OptimizeConfig(task="sentiment").to_json().items() if k not in ("calibration", "knn_k")}
    assert OptimizeConfig.from_json(old).calibration == "content-free"  # runs saved before these settings


def test_study_decode_values_map_to_settings(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("tasks: [sentiment]\nstudents: [embedded]\n"
                    "decodes: [scored+calibrate, scored+calibrate-train, channel, knn, ensemble+calibrate-train]\n"
                    "settings:\n  knn_k: 5\n", encoding="utf-8")
    cells = load_study(path).cells
    assert [(c.config.decode, c.config.calibrate, c.config.calibration) for c in cells] == [
        ("scored", True, "content-free"), ("scored", True, "train"), ("channel", False, "content-free"),
        ("knn", False, "content-free"), ("ensemble", True, "train")]
    assert {c.config.knn_k for c in cells} == {5}
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: [sentiment]\nstudents: [embedded]\ndecodes: [knn+calibrate-train]\n", encoding="utf-8")
    with pytest.raises(SmolgepaError, match=r"bad.yaml:3: unknown decode mode 'knn\+calibrate-train'"):
        load_study(bad)


@pytest.mark.slow
def test_optimize_with_knn_decode_records_it_and_reads_every_answer(tmp_path: Path) -> None:
    """The training split reaches the engine from `optimize` (kNN cannot run without it)."""
    import json
    import subprocess
    import sys

    from smolgepa.optimize.rundir import read_jsonl

    run_dir = tmp_path / "run"
    smolgepa = [sys.executable, "-m", "smolgepa.cli"]
    out = subprocess.run(
        [*smolgepa, "optimize", "--task", "sentiment", "--decode", "knn", "--knn-k", "3", "--budget", "12",
         "--max-proposals", "1", "--run-dir", str(run_dir), "--quiet", "--json"],
        capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["decode"] == "knn" and config["knn_k"] == 3
    assert result["seed"]["val"]["decode"] == "knn" and result["seed"]["val"]["unparsed"] == 0
    answers = {record["text"] for record in read_jsonl(run_dir / "cache" / "student.jsonl")}
    assert answers and answers <= set(LABELS)
    resumed = subprocess.run([*smolgepa, "optimize", "--resume", "--run-dir", str(run_dir), "--knn-k", "5"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 2 and "knn_k: saved 3, requested 5" in resumed.stderr
