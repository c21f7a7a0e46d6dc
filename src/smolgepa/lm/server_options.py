"""The user's server settings for a student (`--timeout`, `--retries`, `--api-key-env`, `--threads`),
checked once and turned into `ServerSettings` overrides (`StudentOptions.server`).

They only mean something for a student behind a server; given for an in-process student
(`embedded`, `gguf:PATH`) they are an error, so that a setting never silently does nothing.
`--threads` is the one concurrency setting: for a server student it is also the number of requests
allowed in flight (`ServerSettings.concurrency`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.spec import parse_model_spec

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# option name in ServerSettings -> the flag that sets it, for messages
FLAG_NAMES = {"timeout": "--timeout", "retries": "--retries", "api_key_env": "--api-key-env"}


def server_overrides(
    student: str,
    *,
    timeout: float | None = None,
    retries: int | None = None,
    api_key_env: str | None = None,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """ServerSettings overrides for `student` from the settings a user gave (None = not given).

    Raises SmolgepaError for an invalid value, or for `timeout`, `retries` or `api_key_env` given
    with an in-process student. `concurrency` is dropped for in-process students (they answer one
    request at a time whatever the thread count). Example:
    `server_overrides("llamacpp:http://127.0.0.1:8080/v1", timeout=30, concurrency=4)`.
    """
    given = {name: value for name, value in
             (("timeout", timeout), ("retries", retries), ("api_key_env", api_key_env)) if value is not None}
    check_server_values(**given)
    if not parse_model_spec(student).is_server:
        if given:
            flags = ", ".join(FLAG_NAMES[name] for name in given)
            raise SmolgepaError(
                f"{flags} {'applies' if len(given) == 1 else 'apply'} only to a student behind a server; "
                f"{student!r} runs in-process. "
                "Remove them, or use a server student (llamacpp:URL, lmstudio:MODEL, openai:MODEL@URL, ...)."
            )
        return {}
    if concurrency is not None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise SmolgepaError(f"--threads must be a whole number of at least 1, got {concurrency!r}.")
        given["concurrency"] = concurrency
    return given


def check_server_values(
    timeout: float | None = None, retries: int | None = None, api_key_env: str | None = None
) -> None:
    """Raise SmolgepaError unless timeout > 0 seconds, retries >= 0 and api_key_env is a variable name."""
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout) \
                or timeout <= 0:
            raise SmolgepaError(f"--timeout must be a number of seconds above 0, got {timeout!r}.")
    if retries is not None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise SmolgepaError(f"--retries must be a whole number of at least 0, got {retries!r}.")
    if api_key_env is not None and not (isinstance(api_key_env, str) and ENV_NAME.fullmatch(api_key_env)):
        # Never echo the value: it may be the key itself, pasted by mistake.
        raise SmolgepaError(
            "--api-key-env takes the NAME of an environment variable (letters, digits, underscores), not the "
            "key itself: export MY_KEY=... and pass --api-key-env MY_KEY."
        )
