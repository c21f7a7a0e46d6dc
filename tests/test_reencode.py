"""The embedded default: the shipped file re-encoded in the format a CPU probe chose (recorded and
reused), rebuilt when the copy is damaged, `--exact-model` for the shipped file, and run directories
that record which file answered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.evaluation.evaluate import evaluate
from smolgepa.lm.local import reencode
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.local.model_files import embedded_model_path, file_digest
from smolgepa.lm.local.model_files import sha256_of as file_sha256
from smolgepa.lm.local.quantize import TARGET_FTYPES, converted_path, copy_is_intact, gguf_file_type, reencoded
from smolgepa.lm.student import Student
from smolgepa.lm.options import StudentOptions
from smolgepa.optimize.config import OptimizeConfig
from smolgepa.tasks import load_task

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
pytestmark = pytest.mark.skipif(not reencode.REENCODE_BY_DEFAULT, reason="the re-encoded default is turned off")


def test_the_default_student_answers_from_the_probes_choice(default_student_path: Path) -> None:
    shipped = embedded_model_path()
    choice = reencode.read_choice(shipped)
    assert choice is not None, "the probe's choice was not recorded"
    assert set(choice.speeds) == {reencode.SHIPPED, *reencode.CANDIDATES}
    assert all(speed["prefill"] > 0 and speed["decode"] > 0 for speed in choice.speeds.values())
    assert choice.build["llama_cpp_python"] and "AVX" in choice.build["system_info"]
    assert choice.format == reencode.pick(choice.speeds)
    if choice.format == reencode.SHIPPED:
        assert default_student_path == shipped
        return
    assert default_student_path == converted_path(shipped, None, choice.format)
    assert gguf_file_type(default_student_path) == TARGET_FTYPES[choice.format]
    settings = Student("embedded").engine().settings  # type: ignore[attr-defined]
    assert Path(settings.path) == default_student_path and settings.flash_attn is True


def test_the_recorded_choice_is_reused_until_the_build_changes(
    default_student_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = embedded_model_path()
    recorded = reencode.read_choice(shipped)
    assert recorded is not None

    def no_probe(*args: object) -> reencode.Choice:
        raise AssertionError("probed again although a choice was recorded")

    monkeypatch.setattr(reencode, "probe", no_probe)
    assert reencode.choose_format(shipped) == recorded
    assert reencode.default_model_file(shipped) == default_student_path
    monkeypatch.setattr(reencode, "build_identity", lambda: {"llama_cpp_python": "0.0.0", "system_info": "other"})
    assert reencode.read_choice(shipped) is None  # another llama.cpp build: probe again


def test_pick_prefers_the_most_faithful_fast_format() -> None:
    speeds = {"shipped": {"prefill": 100, "decode": 30}, "BF16": {"prefill": 190, "decode": 29},
              "Q8_0": {"prefill": 200, "decode": 30}}
    assert reencode.pick(speeds) == "BF16"
    speeds["BF16"]["decode"] = 18  # a slow decoder is not "fast" (BF16 without native BF16)
    assert reencode.pick(speeds) == "Q8_0"
    speeds["Q8_0"]["prefill"] = speeds["BF16"]["prefill"] = 105  # nothing worth converting for
    assert reencode.pick(speeds) == "shipped"


@pytest.mark.slow
def test_truncated_corrupt_or_unrecorded_copies_are_rebuilt(tmp_path: Path) -> None:
    shipped = embedded_model_path()
    copy = reencoded(shipped, "Q8_0", tmp_path)
    record = json.loads(copy.with_name(copy.name + ".json").read_text())
    assert record["size"] == copy.stat().st_size and record["source_sha256"] == file_digest(shipped)
    assert copy_is_intact(copy, "Q8_0")

    with copy.open("r+b") as handle:  # half-written: cut short
        handle.truncate(copy.stat().st_size // 2)
    assert not copy_is_intact(copy, "Q8_0")
    assert reencoded(shipped, "Q8_0", tmp_path) == copy and copy_is_intact(copy, "Q8_0")

    with copy.open("r+b") as handle:  # corrupt: same size, other bytes, a later modification time
        handle.seek(copy.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    assert not copy_is_intact(copy, "Q8_0")
    reencoded(shipped, "Q8_0", tmp_path)
    assert copy_is_intact(copy, "Q8_0") and file_sha256(copy) == record["sha256"]

    copy.with_name(copy.name + ".json").unlink()  # killed between the rename and the record
    assert not copy_is_intact(copy, "Q8_0")
    reencoded(shipped, "Q8_0", tmp_path)
    assert copy_is_intact(copy, "Q8_0")
    assert not [p for p in copy.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_exact_model_answers_from_the_shipped_file() -> None:
    shipped = embedded_model_path()
    student = Student("embedded", StudentOptions(exact_model=True))
    settings = student.engine().settings  # type: ignore[attr-defined]
    assert Path(settings.path) == shipped and settings.flash_attn is False
    assert Student(f"gguf:{shipped}").engine().settings.path == str(shipped)  # type: ignore[attr-defined]
    task = load_task("sentiment")
    examples = task.split("val")[:4]
    exact = evaluate(task, student.lm(), examples)
    plain = EmbeddedEngine(EmbeddedSettings(path=str(shipped)))
    try:
        loaded_plainly = evaluate(task, student.lm().copy(engine=plain), examples)
    finally:
        plain.close()
    assert [p.raw for p in exact.predictions] == [p.raw for p in loaded_plainly.predictions]
    with pytest.raises(SmolgepaError, match="--exact-model"):
        StudentOptions(exact_model=True, fast_model=True)


@pytest.mark.slow
def test_a_run_directory_records_the_file_and_refuses_another_on_resume(
    tmp_path: Path, default_student_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = ["optimize", "--task", "sentiment", "--budget", "6", "--max-tokens", "4", "--run-dir", str(run_dir),
            "--quiet", "--json"]
    subprocess.run([*SMOLGEPA, *args], check=True, timeout=900, capture_output=True)
    config = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    recorded = config["model_file"]
    assert Path(recorded["path"]) == default_student_path
    assert recorded["sha256"] == file_digest(default_student_path)
    assert recorded["size"] == default_student_path.stat().st_size and recorded["format"]
    assert summary["model_file"] == recorded and config["config"]["exact_model"] is False

    config["model_file"]["sha256"] = "0" * 64  # as if the run had started on another file
    (run_dir / "config.json").write_text(json.dumps(config))
    resumed = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--budget", "8", "--quiet"],
                             timeout=900, capture_output=True, text=True)
    assert resumed.returncode != 0
    lines = [line for line in resumed.stderr.splitlines() if "answers would mix two models" in line]
    assert len(lines) == 1 and "Cannot resume" in lines[0] and str(default_student_path) in lines[0]


@pytest.mark.slow
def test_a_run_resumed_where_the_probe_chooses_another_format_answers_from_its_own(
    tmp_path: Path, default_student_path: Path
) -> None:
    """Another CPU's probe may choose BF16 where this one chose Q8_0 (or the reverse): a run resumed
    there answers from the format it started with instead of being refused."""
    shipped = embedded_model_path()
    choice = reencode.read_choice(shipped)
    assert choice is not None
    if choice.format == reencode.SHIPPED:
        pytest.skip("the probe kept the shipped file on this CPU: no re-encoding to pin")
    run_dir = tmp_path / "run"
    args = ["optimize", "--task", "sentiment", "--budget", "6", "--max-tokens", "4", "--run-dir", str(run_dir),
            "--quiet", "--json"]
    subprocess.run([*SMOLGEPA, *args], check=True, timeout=900, capture_output=True)
    started = json.loads((run_dir / "config.json").read_text())["model_file"]
    assert started["format"] == choice.format

    elsewhere = tmp_path / "models-elsewhere"  # the other CPU's models directory
    elsewhere.mkdir()
    for name in (default_student_path.name, default_student_path.name + ".json"):
        shutil.copy(default_student_path.with_name(name), elsewhere / name)  # content-addressed: as converted there
    other = next(fmt for fmt in reencode.CANDIDATES if fmt != choice.format)
    (elsewhere / reencode.choice_path(shipped).name).write_text(
        json.dumps({"schema_version": reencode.CHOICE_SCHEMA, **asdict(choice), "format": other}))
    env = {**os.environ, "SMOLGEPA_MODELS_DIR": str(elsewhere)}
    assert reencode.read_choice(shipped, None) == choice  # this process still reads its own directory

    resumed = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--budget", "8",
                              "--quiet", "--json"], timeout=900, capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["status"] == "finished"
    assert json.loads((run_dir / "config.json").read_text())["model_file"]["sha256"] == started["sha256"]
    assert not (elsewhere / converted_path(shipped, None, other).name).exists()  # the other format was not built


def test_a_pinned_format_answers_from_that_re_encoding_whatever_the_probe_chose(default_student_path: Path) -> None:
    shipped = embedded_model_path()
    for fmt in reencode.CANDIDATES:
        settings = Student("embedded", StudentOptions(model_format=fmt)).engine().settings  # type: ignore[attr-defined]
        assert Path(settings.path) == converted_path(shipped, None, fmt) and settings.flash_attn is True
        assert gguf_file_type(Path(settings.path)) == TARGET_FTYPES[fmt]
    assert Student("embedded").engine().settings.path == str(default_student_path)  # type: ignore[attr-defined]


def test_a_pinned_format_is_one_the_probe_chooses_from() -> None:
    with pytest.raises(SmolgepaError, match="Model format 'F16' .* use one of BF16, Q8_0"):
        StudentOptions(model_format="F16")


def test_a_run_saved_before_the_default_changed_keeps_the_shipped_file() -> None:
    old = {key: value for key, value in OptimizeConfig(task="sentiment").to_json().items() if key != "exact_model"}
    assert OptimizeConfig.from_json(old).exact_model is True
    assert OptimizeConfig.from_json({**old, "fast_model": True}).exact_model is False
