"""The server student's async engine: chat completions on httpx's async client, same answers as sync.

It wraps a `ServerEngine` and shares its request body, reply checks, backoff and error messages; only
the sending differs (`await`, `asyncio.sleep`, an `asyncio.Semaphore` of the same size per event
loop). Scoring modes send several requests per answer through the sync engine's readers, so they run
in a worker thread instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

import httpx
from dspy.lm15 import Request, Response, response_to_events

from smolgepa.lm.readings.reading import SCORING_MODES
from smolgepa.lm.servers.reach import mark_reached
from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings, _Retryable
from smolgepa.lm.servers.server_scoring import constrained_response

log = logging.getLogger(__name__)


class AsyncServerEngine:
    """`async complete(Request)` for a `ServerEngine`'s server (one client and slot pool per event loop)."""

    def __init__(self, engine: ServerEngine) -> None:
        self.engine = engine
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, asyncio.Semaphore]]
        self._pools = weakref.WeakKeyDictionary()

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    def _pool(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if loop not in self._pools:
            settings = self.engine.settings
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=settings.max_concurrency),
            )
            self._pools[loop] = (client, asyncio.Semaphore(settings.max_concurrency))
        return self._pools[loop]

    async def complete(self, request: Request) -> Response:
        engine = self.engine
        settings = engine.settings
        if settings.decode in SCORING_MODES:
            return await asyncio.to_thread(engine.complete, request)
        # An `openai:` student with a label constraint probes its server once: not on the event loop.
        probing = settings.flavour == "openai" and settings.decode != "free"
        body = await asyncio.to_thread(engine.request_body, request) if probing else engine.request_body(request)
        response = engine._response(await self.post(body))
        if settings.decode == "constrained":
            return constrained_response(response, engine.kind(), settings.labels, engine.where())
        return response

    async def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """One chat-completions body, with the sync engine's retries and backoff; the reply's JSON."""
        engine = self.engine
        headers = engine._headers()
        attempts = engine.settings.retries + 1
        started = time.monotonic()
        last = _Retryable("no attempt was made")
        client, slots = self._pool()
        url = engine.settings.endpoint
        attempt = 0
        while attempt < attempts:
            try:
                async with slots:
                    with engine._counted_in_flight(), engine.transport_errors():
                        reply = await client.post(url, json=body, headers=headers)
                    mark_reached(url)
                    return engine.checked(reply)
            except _Retryable as failure:
                last = failure
                pause = engine.never_up_pause(failure, url)  # a never-reached server: no back-off
                if pause is not None:
                    await asyncio.sleep(pause)
                    continue
                attempt += 1
                if attempt < attempts:
                    delay = engine._delay(attempt - 1, failure.retry_after)
                    log.warning("%s: %s; retry %d/%d in %.2fs", engine.settings.endpoint, failure.what,
                                attempt, engine.settings.retries, delay)
                    await asyncio.sleep(delay)
        raise engine._give_up(last, attempts, time.monotonic() - started)

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        """The whole response replayed as events."""
        for event in response_to_events(await self.complete(request)):
            yield event

    async def aclose(self) -> None:
        """Close this event loop's client (the sync engine keeps its own)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool[0].aclose()

    def dump_state(self) -> dict[str, Any]:
        return self.engine.dump_state()

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> AsyncServerEngine:
        return cls(ServerEngine(ServerSettings(**state)))
