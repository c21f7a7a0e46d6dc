"""Which servers this process has reached, and what a refused connection means.

A server that has accepted a connection in this process and then refuses one is restarting: the
engine waits for it with its retries and back-off. A server that has never been reached in this
process and refuses (or whose host name does not resolve) was never started or is a wrong URL: the
engine gives it `NEVER_UP_GRACE` seconds (a server just starting) and then stops with one line
(`ServerNotUpError`), instead of retrying with back-off for a minute.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from smolgepa.errors import SmolgepaError

NEVER_UP_GRACE = 1.0  # seconds a never-reached server may refuse before the run stops
NEVER_UP_PAUSE = 0.25  # seconds between attempts within the grace period

_reached: set[str] = set()
_first_refused: dict[str, float] = {}  # server root -> monotonic time of its first refusal in this process
_lock = threading.Lock()


class ServerNotUpError(SmolgepaError):
    """A server that has not answered in this process refused the connection or has an unknown host."""


def root_of(url: str) -> str:
    """`scheme://host:port` of a URL: what identifies a server here."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def mark_reached(url: str) -> None:
    """Remember that the server of `url` accepted a connection in this process."""
    with _lock:
        _reached.add(root_of(url))


def ever_reached(urls: Iterable[str]) -> bool:
    """Whether any of the servers of `urls` has accepted a connection in this process."""
    roots = {root_of(url) for url in urls}
    with _lock:
        return bool(roots & _reached)


def refused_for(urls: Iterable[str]) -> float:
    """Seconds since the first refused connection to any of the servers of `urls` in this process
    (0.0 for this one, the first): every request to a server shares its grace period."""
    now = time.monotonic()
    with _lock:
        return now - min(_first_refused.setdefault(root_of(url), now) for url in urls)


def forget_reached() -> None:
    """Forget every server reached or refused (tests)."""
    with _lock:
        _reached.clear()
        _first_refused.clear()


def refusal(exc: BaseException) -> str | None:
    """`"refused"` or `"unknown host"` when `exc` (or what caused it) is a refused connection or a
    host name that does not resolve; None for any other failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return "refused"
        if isinstance(current, socket.gaierror):
            return "unknown host"
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    text = str(exc)
    if "Connection refused" in text or "[Errno 111]" in text:
        return "refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo failed" in text:
        return "unknown host"
    return None
