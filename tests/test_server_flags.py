"""`--timeout`, `--retries`, `--backoff`, `--api-key-env` and `--threads` for server students (eval, optimize, study)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.proxy import FaultPlan

from smolgepa.cli import build_parser, student_options
from smolgepa.errors import SmolgepaError
from smolgepa.lm import make_lm
from smolgepa.optimize.config import OptimizeConfig, check_resume_compatible
from smolgepa.studies.study_run import cell_state
from smolgepa.studies.study_file import load_study

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
SERVER = "llamacpp:http://127.0.0.1:9/v1"


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMOLGEPA, *args], capture_output=True, text=True, timeout=timeout)


def test_a_stalled_server_gives_a_clear_error_in_bounded_time(make_proxy) -> None:  # noqa: ANN001
    proxy = make_proxy(FaultPlan(rates={"timeout": 1.0}, timeout_delay=30.0))
    started = time.monotonic()
    result = cli("eval", "--task", "sentiment", "--split", "val", "--no-cache", "--student",
                 f"llamacpp:{proxy.base_url}", "--timeout", "0.5", "--retries", "1", timeout=60)
    seconds = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    warning, message = result.stderr.strip().splitlines()  # the retry, then the error as one line
    assert "retry 1/1" in warning and message.startswith("smolgepa: error: No usable answer from")
    assert f"{proxy.base_url}/chat/completions" in message
    assert "after 2 attempt(s)" in message and "no response within 0.5s" in message
    assert "--timeout (now 0.5s)" in message and "--retries (now 1)" in message
    assert proxy.mark() == 2  # one request and one retry, then the run stops
    assert seconds < 30  # the default (120 s, 8 retries) would take many minutes


def test_server_flags_for_an_in_process_student_are_an_error(tmp_path: Path) -> None:
    result = cli("eval", "--task", "sentiment", "--timeout", "5", "--retries", "2")
    assert result.returncode == 2
    assert "--timeout, --retries apply only to a student behind a server; 'embedded' runs in-process" in result.stderr
    run_dir = tmp_path / "run"
    result = cli("optimize", "--task", "sentiment", "--api-key-env", "SOME_KEY", "--run-dir", str(run_dir))
    assert result.returncode == 2 and "--api-key-env applies only to a student behind a server" in result.stderr
    assert not run_dir.exists()  # refused before anything was written


def test_api_key_env_takes_a_name_and_never_echoes_a_key() -> None:
    result = cli("eval", "--task", "sentiment", "--student", SERVER, "--api-key-env", "sk-live-1234 5678")
    assert result.returncode == 2 and "NAME of an environment variable" in result.stderr
    assert "sk-live-1234" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--timeout", "0"], "--timeout must be a number of seconds above 0"),
    (["--retries", "-1"], "--retries must be a whole number of at least 0"),
    (["--backoff", "-0.1"], "--backoff must be a number of seconds of at least 0"),
    (["--backoff", "inf"], "--backoff must be a number of seconds of at least 0"),
    (["--threads", "0"], "--threads must be a whole number of at least 1"),
])
def test_bad_server_values_are_refused(args: list[str], message: str) -> None:
    parsed = build_parser().parse_args(["eval", "--task", "sentiment", "--student", SERVER, *args])
    with pytest.raises(SmolgepaError, match=message):
        student_options(parsed, ["a", "b"])


def test_eval_flags_reach_the_server_engine() -> None:
    """--threads is the one concurrency setting: it lifts the flavour's default of 4 in flight."""
    parsed = build_parser().parse_args(["eval", "--task", "sentiment", "--student", SERVER, "--timeout", "7.5",
                                        "--retries", "2", "--backoff", "0.05", "--api-key-env", "MY_SERVER_KEY",
                                        "--threads", "6"])
    options = student_options(parsed, ["a", "b"])
    assert options.server == {"timeout": 7.5, "retries": 2, "backoff": 0.05, "api_key_env": "MY_SERVER_KEY",
                              "concurrency": 6}
    settings = make_lm(SERVER, options).engine.settings
    assert (settings.timeout, settings.retries, settings.backoff, settings.api_key_env, settings.max_concurrency) == (
        7.5, 2, 0.05, "MY_SERVER_KEY", 6)
    embedded = build_parser().parse_args(["eval", "--task", "sentiment", "--threads", "3"])
    assert student_options(embedded, ["a"]).server == {}  # threads alone is fine for an in-process student


def test_optimize_records_server_settings_and_resume_may_change_them() -> None:
    saved = OptimizeConfig(task="sentiment", student=SERVER, run_dir="r", student_timeout=30.0, student_retries=3,
                           student_backoff=0.1, student_api_key_env="MY_SERVER_KEY", threads=2)
    assert saved.to_json()["student_api_key_env"] == "MY_SERVER_KEY"
    assert saved.student_server_settings() == {"timeout": 30.0, "retries": 3, "backoff": 0.1,
                                               "api_key_env": "MY_SERVER_KEY", "concurrency": 2}
    check_resume_compatible(saved, saved.with_changes(student_timeout=300.0, student_retries=9, student_backoff=2.0,
                                                      student_api_key_env=None, threads=4, resume=True))
    with pytest.raises(SmolgepaError, match="seed: saved 0, requested 1"):
        check_resume_compatible(saved, saved.with_changes(seed=1, student_timeout=1.0))
    assert OptimizeConfig.from_json({"task": "sentiment"}).student_timeout is None  # runs saved before the flags


def test_study_gives_server_settings_to_server_cells_only(tmp_path: Path) -> None:
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        f"name: flags\ntasks: [sentiment]\nstudents: [embedded, '{SERVER}']\n"
        "settings:\n  student_timeout: 30\n  student_retries: 2\n  student_backoff: 0.2\n  threads: 2\n"
        "  model_format: Q8_0\n"
    )
    study = load_study(study_file)
    by_student = {cell.config.student: cell.config for cell in study.cells}
    assert by_student["embedded"].student_timeout is None and by_student["embedded"].student_retries is None
    assert by_student["embedded"].student_backoff is None
    assert by_student["embedded"].model_format == "Q8_0" and by_student[SERVER].model_format is None
    assert by_student[SERVER].student_server_settings() == {"timeout": 30, "retries": 2, "backoff": 0.2,
                                                            "concurrency": 2}
    # A cell run before with other server settings is continued, not refused.
    server_cell = next(cell for cell in study.cells if cell.config.student == SERVER)
    run_dir = tmp_path / "cells" / server_cell.name
    run_dir.mkdir(parents=True)
    earlier = server_cell.config.with_changes(run_dir=str(run_dir), student_timeout=600.0, student_retries=None)
    (run_dir / "config.json").write_text(json.dumps({"schema_version": 1, "config": earlier.to_json()}))
    assert cell_state(run_dir, server_cell) == "partial"
