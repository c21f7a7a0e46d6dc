"""Did a tool call fail? Read from its output, for transcripts that carry no error flag.

An output is a failure when it holds a Python traceback, a non-zero exit code or status (also
mini-swe-agent's `<returncode>1</returncode>`), a shell's "command not found" / "No such file or
directory" / "Permission denied", an HTTP 4xx/5xx status with its reason ("401 Unauthorized",
"400 Bad Request"), SWE-agent's "Your proposed edit has introduced new syntax error(s)", a JSON object
with an `error` (or `is_error: true`, `success: false`, a 4xx/5xx `status`/`status_code`), a JSON
response whose strings carry such a status or an argument check ("must be an integer", "is a required
property"), or when its first line starts with an error word ("Error", "ERROR:", "TypeError: ...",
"fatal:", "FAILED"). A word such as "error" inside ordinary output (a grep hit, a log the tool
printed) is not enough.
"""

from __future__ import annotations

import json
import re
from typing import Any

HTTP_STATUS = (r"\b[45]\d\d\s*(?:-\s*)?(?:Bad Request|Unauthori[sz]ed|Forbidden|Not Found|Method Not Allowed"
               r"|Not Acceptable|Request Timeout|Conflict|Gone|Unprocessable Entity|Too Many Requests"
               r"|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b")
ANYWHERE = re.compile(
    r"Traceback \(most recent call last\)"
    r"|\bexit(?:ed)?(?: with)? (?:code|status)[\s:=]*[1-9]\d*\b"
    r"|\bexit_code[\"']?\s*[:=]\s*[1-9]\d*\b"
    r"|<returncode>\s*-?[1-9]\d*\s*</returncode>"
    r"|returned non-zero exit status"
    r"|\bcommand not found\b"
    r"|No such file or directory"
    r"|Permission denied"
    r"|Your proposed edit has introduced new syntax error"
    r"|" + HTTP_STATUS,
    re.IGNORECASE,
)
FIRST_LINE = re.compile(
    r"^\s*(?:\[?(?:error|err|fatal|failed|failure|exception)\b[\]:!]?"
    r"|[A-Z]\w*(?:Error|Exception)\b:?"
    r"|(?:HTTP/\d(?:\.\d)? )?[45]\d\d [A-Z][A-Za-z ]+(?::|$))",
    re.IGNORECASE,
)
# Inside a JSON response's strings: an HTTP status, or an argument check of the API.
IN_JSON = re.compile(
    HTTP_STATUS + r"|\bHTTP(?: error)? [45]\d\d\b|\bstatus(?: code)?:? [45]\d\d\b"
    r"|\bmust be an? (?:integer|number|string|boolean|array|list|object|valid)\b|is a required property"
    r"|\bmissing (?:\d+ )?required (?:positional )?argument|\bunexpected keyword argument",
    re.IGNORECASE,
)
STATUS_KEYS = ("status", "status_code", "statusCode", "code", "http_status")


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
    if not text.startswith(("{", "[")):
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return _value_error(data, depth=0)


def _value_error(value: Any, depth: int) -> bool:
    """A failure flag, a 4xx/5xx status or a failure text anywhere in a decoded JSON value."""
    if depth > 4:
        return False
    if isinstance(value, dict):
        if value.get("error") or value.get("is_error") is True or value.get("success") is False:
            return True
        if any(_is_failure_status(value.get(key)) for key in STATUS_KEYS):
            return True
        return any(_value_error(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return any(_value_error(item, depth + 1) for item in value[:50])
    if isinstance(value, str):
        inner = value.strip()
        if inner.startswith(("{", "[")):
            try:
                return _value_error(json.loads(inner), depth + 1)
            except ValueError:
                pass
        return bool(IN_JSON.search(value))
    return False


def _is_failure_status(value: Any) -> bool:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599
