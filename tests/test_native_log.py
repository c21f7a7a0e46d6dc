"""llama.cpp's log lines at their own levels (smolgepa.lm.local.native_log), through the real library:
warnings stay off stderr, errors are logged as errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from smolgepa.lm.local.native_log import native_line, route_native_logs


def test_levels_follow_ggml_numbering(capsys, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG, logger="smolgepa.llama_cpp")
    native_line(3, "a warning\n")
    native_line(5, "...its continuation\n")
    native_line(4, "an error: ")
    native_line(5, "the rest of it\n")
    native_line(2, "some info\n")
    assert capsys.readouterr().err == "an error: the rest of it\n"
    assert [r.getMessage() for r in caplog.records] == [
        "[WARNING] a warning", "[WARNING] ...its continuation", "[ERROR] an error: ", "[ERROR] the rest of it",
        "[INFO] some info"]
    assert all(r.levelno == logging.DEBUG for r in caplog.records)  # never shown unless asked for


def test_a_freed_context_prints_nothing_and_llama_cpp_s_errors_are_logged_as_errors(
        embedded_path: Path, tmp_path: Path, capsys, caplog) -> None:  # noqa: ANN001
    from llama_cpp import Llama

    route_native_logs()
    llama = Llama(model_path=str(embedded_path), n_ctx=256, n_threads=1, verbose=False)
    llama.close()  # llama.cpp reports the freed compute buffer at its warning level
    assert capsys.readouterr().err == ""
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    caplog.set_level(logging.DEBUG, logger="smolgepa.llama_cpp")
    with pytest.raises(ValueError):
        Llama(model_path=str(broken), verbose=False)  # (llama-cpp-python silences stderr while loading)
    assert any(r.getMessage().startswith("[ERROR]") and "failed to load model" in r.getMessage()
               for r in caplog.records)


def test_the_cli_shows_no_llama_cpp_warning_for_the_hidden_reading(embedded_spec: str) -> None:
    """Through the CLI, where no logging is configured (Python then prints any logger's warnings)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "smolgepa.cli", "eval", "--task", "sentiment", "--decode", "hidden",
                             "--split", "val", "--no-cache", "--student", embedded_spec],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pooling_type" not in result.stderr and "llama_" not in result.stderr, result.stderr


def test_counting_tokens_with_the_vocabulary_alone_prints_nothing(embedded_path: Path) -> None:
    """A vocabulary-only model makes llama.cpp warn that it has no training context: expected, not shown."""
    import subprocess
    import sys

    code = ("import sys; from smolgepa.lm.kinds.embedded_kinds import GgufTokenCounter; "
            "print(GgufTokenCounter(sys.argv[1])('hello world'))")
    result = subprocess.run([sys.executable, "-c", code, str(embedded_path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and int(result.stdout) > 0, result.stderr
    assert result.stderr == ""
