"""Several servers behind one student: `llamacpp:http://a:8080/v1,http://b:8080/v1`.

Every request goes to the server with the fewest requests outstanding (among those not backing
off). A server whose attempt fails with a retryable error (connection, timeout, HTTP 5xx/429,
malformed body) is taken out for a back-off period that doubles with each failure in a row
(`FIRST_BACKOFF` up to `MAX_BACKOFF`) and comes back after it; the request is sent again to another
server by the engine's retry loop. The servers must serve the same model with the same settings,
so the answers do not depend on which one answered.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from smolgepa.errors import SmolgepaError
from smolgepa.lm.servers.reach import ever_reached

log = logging.getLogger(__name__)

FIRST_BACKOFF = 2.0  # seconds out after a first failure
MAX_BACKOFF = 60.0  # the longest a failing server stays out


def split_urls(base_url: str) -> tuple[str, ...]:
    """The base URLs of a comma-separated list (one URL gives a one-tuple), each checked."""
    urls = tuple(part.strip().rstrip("/") for part in base_url.split(","))
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise SmolgepaError(
                f"Server base URL {url!r} (in {base_url!r}) must start with http:// or https://; "
                "separate several servers with commas: http://a:8080/v1,http://b:8080/v1."
            )
    if len(set(urls)) != len(urls):
        raise SmolgepaError(f"The server list {base_url!r} names a server twice; list each base URL once.")
    return urls


def spread_urls(base_url: str, more_urls: tuple[str, ...] = ()) -> tuple[str, tuple[str, ...]]:
    """The first server's base URL and the others', from a comma-separated `base_url` (saved
    settings come back with `more_urls` as a list)."""
    if "," not in base_url:
        return base_url, tuple(more_urls)
    first, *more = split_urls(base_url)
    return first, (*more, *more_urls)


def root_of(url: str) -> str:
    """`http://host:port` of a URL (what a request URL is rebased on)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


@dataclass
class _Member:
    """One server of the pool and what the pool knows about it."""

    root: str
    outstanding: int = 0
    failures: int = 0  # failures in a row
    out_until: float = 0.0  # monotonic time it comes back
    sent: int = 0


class ServerPool:
    """Routes each attempt to one of several servers: least outstanding requests, failed ones out
    for a back-off period. Thread-safe; one pool per engine."""

    def __init__(
        self, urls: tuple[str, ...], retryable: type[Exception], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.primary = root_of(urls[0])
        self._members = [_Member(root_of(url)) for url in urls]
        self._retryable = retryable
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self._members)

    def sent(self) -> dict[str, int]:
        """Attempts sent so far, by server root."""
        with self._lock:
            return {member.root: member.sent for member in self._members}

    def any_ready(self) -> bool:
        """True when some server is not backing off (a retry need not wait)."""
        now = self._clock()
        with self._lock:
            return any(member.out_until <= now for member in self._members)

    @contextlib.contextmanager
    def route(self, url: str) -> Iterator[str]:
        """`url` (built on the first server) rebased on the chosen server, for one attempt. A
        retryable failure inside takes that server out; a success brings it fully back."""
        member = self._choose()
        try:
            yield member.root + url[len(self.primary):] if url.startswith(self.primary) else url
        except self._retryable as failure:
            # A server never reached that refuses is reported by the engine at once (`servers/reach.py`).
            quiet = getattr(failure, "refused", None) is not None and not ever_reached((member.root,))
            self._finish(member, failed=True, why=str(failure), quiet=quiet)
            raise
        except BaseException:
            self._finish(member, failed=False)
            raise
        else:
            self._finish(member, failed=False)

    def _choose(self) -> _Member:
        now = self._clock()
        with self._lock:
            ready = [member for member in self._members if member.out_until <= now]
            if ready:
                member = min(ready, key=lambda m: (m.outstanding, m.sent))
            else:  # all backing off: try the one that comes back first
                member = min(self._members, key=lambda m: m.out_until)
            member.outstanding += 1
            member.sent += 1
            return member

    def _finish(self, member: _Member, *, failed: bool, why: str = "", quiet: bool = False) -> None:
        with self._lock:
            member.outstanding -= 1
            if not failed:
                member.failures = 0
                member.out_until = 0.0
                return
            member.failures += 1
            pause = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (member.failures - 1))
            member.out_until = self._clock() + pause
        log.log(logging.DEBUG if quiet else logging.WARNING, "%s: %s; out of the pool for %.0fs", member.root, why, pause)


def pool_for(base_url: str, retryable: type[Exception]) -> ServerPool | None:
    """A pool for a comma-separated list of servers, or None for a single server."""
    urls = split_urls(base_url)
    return ServerPool(urls, retryable) if len(urls) > 1 else None
