"""Did a tool call fail? Read from its output, for transcripts that carry no error flag.

An output is a failure when it holds a Python traceback, a non-zero exit code or status, a shell's
"command not found" / "No such file or directory" / "Permission denied", an HTTP 4xx/5xx status line,
a JSON object with an `error` (or `is_error: true`), or when its first line starts with an error word
("Error", "ERROR:", "TypeError: ...", "fatal:", "FAILED"). A word such as "error" inside ordinary
output (a grep hit, a log the tool printed) is not enough.
"""

from __future__ import annotations

import json
import re

ANYWHERE = re.compile(
    r"Traceback \(most recent call last\)"
    r"|\bexit(?:ed)?(?: with)? (?:code|status)[\s:=]*[1-9]\d*\b"
    r"|\bexit_code[\"']?\s*[:=]\s*[1-9]\d*\b"
    r"|returned non-zero exit status"
    r"|\bcommand not found\b"
    r"|No such file or directory"
    r"|Permission denied",
    re.IGNORECASE,
)
FIRST_LINE = re.compile(
    r"^\s*(?:\[?(?:error|err|fatal|failed|failure|exception)\b[\]:!]?"
    r"|[A-Z]\w*(?:Error|Exception)\b:?"
    r"|(?:HTTP/\d(?:\.\d)? )?[45]\d\d [A-Z][A-Za-z ]+(?::|$))",
    re.IGNORECASE,
)


def looks_like_error(output: str) -> bool:
    """Whether a tool's output says that the call failed."""
    text = output.strip()
    if not text:
        return False
    if _json_error(text):
        return True
    first = text.splitlines()[0]
    return bool(FIRST_LINE.match(first) or ANYWHERE.search(text))


def _json_error(text: str) -> bool:
    if not text.startswith("{"):
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    return bool(data.get("error")) or data.get("is_error") is True or data.get("success") is False
