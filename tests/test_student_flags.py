"""One set of student flags: eval, compare and optimize parse them alike, and an optimize run's
configuration yields the same StudentOptions as the eval flags it came from."""

from __future__ import annotations

import pytest

from smolgepa.cli import build_parser, student_options, student_settings
from smolgepa.cli.optimize import config_from_args
from smolgepa.cli.student_flags import given_student_settings
from smolgepa.errors import SmolgepaError
from smolgepa.lm.student import Student
from smolgepa.optimize.config import OptimizeConfig, check_resume_compatible

SERVER = "llamacpp:http://127.0.0.1:9/v1"
FLAGS = ["--student", SERVER, "--decode", "scored", "--calibrate", "--max-tokens", "9", "--timeout", "5",
         "--retries", "1", "--backoff", "0.25", "--api-key-env", "SOME_KEY", "--threads", "3", "--no-cache", "--fast-model"]


@pytest.mark.parametrize("command", [["eval"], ["compare"]])
def test_eval_and_compare_read_the_same_student_settings(command: list[str]) -> None:
    args = build_parser().parse_args([*command, "--task", "sentiment", *FLAGS])
    settings = student_settings(args)
    assert (settings.student, settings.decode, settings.calibrate, settings.calibration) == (
        SERVER, "scored", True, "content-free")
    assert (settings.max_tokens, settings.timeout, settings.retries, settings.backoff, settings.threads) == (
        9, 5.0, 1, 0.25, 3)
    assert settings.cache is False and settings.fast_model is True


def test_optimize_takes_the_student_flags_and_builds_the_same_options_as_eval() -> None:
    parser = build_parser()
    config = config_from_args(parser.parse_args(["optimize", "--task", "sentiment", *FLAGS[:-2], "--fast-model"]))
    assert config.fast_model is True and config.response_cache is False
    assert (config.student_timeout, config.student_retries, config.student_backoff, config.student_api_key_env) == (
        5.0, 1, 0.25, "SOME_KEY")
    from_eval = student_options(parser.parse_args(["eval", "--task", "sentiment", *FLAGS]), ["a", "b"])
    assert config.student_settings().options(["a", "b"]) == from_eval
    assert from_eval.fast_model is True and from_eval.cache_enabled is False and from_eval.max_tokens == 9


def test_optimize_uses_its_run_cache_and_the_response_cache_only_when_asked() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):  # the run directory's cache is optimize's: no --no-cache to give
        parser.parse_args(["optimize", "--task", "sentiment", "--no-cache"])
    config = config_from_args(parser.parse_args(["optimize", "--task", "sentiment"]))
    assert config.response_cache is False and config.fast_model is False
    assert config.student_settings().options(["a"]).cache_enabled is False
    assert config.with_changes(response_cache=True).student_settings().options(["a"]).cache_enabled is True


def test_resume_may_change_the_response_cache_but_not_the_fast_model() -> None:
    saved = OptimizeConfig(task="sentiment", run_dir="r")
    check_resume_compatible(saved, saved.with_changes(response_cache=True, resume=True))
    with pytest.raises(SmolgepaError, match="fast_model"):
        check_resume_compatible(saved, saved.with_changes(fast_model=True, resume=True))


def test_server_flags_for_an_in_process_student_are_refused_by_every_command() -> None:
    parser = build_parser()
    with pytest.raises(SmolgepaError, match="--timeout applies only to a student behind a server"):
        student_options(parser.parse_args(["compare", "--task", "sentiment", "--timeout", "5"]), ["a"])
    with pytest.raises(SmolgepaError, match="--timeout applies only to a student behind a server"):
        config_from_args(parser.parse_args(["optimize", "--task", "sentiment", "--timeout", "5"]))


def test_exact_model_reaches_eval_and_optimize_and_cannot_change_on_resume() -> None:
    parser = build_parser()
    assert student_settings(parser.parse_args(["eval", "--task", "sentiment", "--exact-model"])).exact_model is True
    assert student_settings(parser.parse_args(["eval", "--task", "sentiment"])).exact_model is False
    config = config_from_args(parser.parse_args(["optimize", "--task", "sentiment", "--exact-model"]))
    assert config.exact_model is True and config.student_settings().options(["a"]).exact_model is True
    with pytest.raises(SmolgepaError, match="exact_model"):
        check_resume_compatible(config.with_changes(run_dir="r"),
                                config.with_changes(run_dir="r", exact_model=False, resume=True))


def test_model_format_reaches_eval_optimize_and_predict_and_cannot_change_on_resume() -> None:
    parser = build_parser()
    given = parser.parse_args(["eval", "--task", "sentiment", "--model-format", "BF16"])
    assert student_settings(given).model_format == "BF16"
    assert student_options(given, ["a"]).model_format == "BF16"
    assert student_settings(parser.parse_args(["eval", "--task", "sentiment"])).model_format is None
    config = config_from_args(parser.parse_args(["optimize", "--task", "sentiment", "--model-format", "Q8_0"]))
    assert config.model_format == "Q8_0" and config.student_settings().options(["a"]).model_format == "Q8_0"
    assert OptimizeConfig.from_json(config.to_json()).model_format == "Q8_0"
    with pytest.raises(SmolgepaError, match="model_format"):
        check_resume_compatible(config.with_changes(run_dir="r"),
                                config.with_changes(run_dir="r", model_format="BF16", resume=True))
    predict = parser.parse_args(["predict", "runs/x", "--model-format", "BF16"])
    assert given_student_settings(predict)["model_format"] == "BF16"
    with pytest.raises(SystemExit):  # argparse: not a format the probe chooses from
        parser.parse_args(["eval", "--task", "sentiment", "--model-format", "F16"])


@pytest.mark.parametrize("flags, message", [
    (["--exact-model"], "--exact-model and --model-format contradict"),
    (["--student", SERVER], "--model-format applies to the embedded student"),
])
def test_model_format_with_what_does_not_reencode_is_one_line(flags: list[str], message: str) -> None:
    args = build_parser().parse_args(["eval", "--task", "sentiment", "--model-format", "Q8_0", *flags])
    with pytest.raises(SmolgepaError, match=message):
        Student(args.student, student_options(args, ["a"]))
    if "--exact-model" in flags:
        with pytest.raises(SmolgepaError, match=message):
            config_from_args(build_parser().parse_args(["optimize", "--task", "sentiment", "--model-format", "Q8_0",
                                                        *flags]))
