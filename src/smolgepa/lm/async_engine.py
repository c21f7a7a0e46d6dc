"""Async counterparts of the student engines, for `dspy.LM(..., async_engine=...)` and `program.acall`.

`async_engine_for(engine)` picks one: a server student's chat requests go out natively on httpx's
async client (`server_async.AsyncServerEngine`); every other engine (the embedded model, the disk
cache, scoring modes, user kinds) runs its own `complete` in a worker thread (`ThreadedAsyncEngine`),
so the engine's lock keeps the model to one request at a time and the answers are the sync ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from dspy.lm15 import Request, Response, response_to_events

from smolgepa.lm.engines import Engine


class ThreadedAsyncEngine:
    """An async engine answering with a sync engine's `complete`, run by `asyncio.to_thread`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def model_name(self) -> str:
        return str(getattr(self.engine, "model_name", type(self.engine).__name__))

    async def complete(self, request: Request) -> Response:
        return await asyncio.to_thread(self.engine.complete, request)

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        """The whole response replayed as events (as `CompleteOnlyEngine.stream` does for sync)."""
        for event in response_to_events(await self.complete(request)):
            yield event

    async def aclose(self) -> None:
        """Nothing of its own to release: the sync engine belongs to its `Student` (or `dspy.LM`)."""

    def dump_state(self) -> dict[str, Any]:
        """The sync engine's class and state (one of smolgepa's own engines)."""
        cls = type(self.engine)
        return {"inner_class": f"{cls.__module__}:{cls.__qualname__}", "inner_state": self.engine.dump_state()}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> ThreadedAsyncEngine:
        from smolgepa.lm.engines import smolgepa_class

        return cls(smolgepa_class(str(state.get("inner_class", ""))).load_state(state["inner_state"]))


def async_engine_for(engine: Engine) -> Any:
    """The async counterpart of `engine`: native httpx for a server student, else a worker thread."""
    from smolgepa.lm.servers.server_engine import ServerEngine

    if isinstance(engine, ServerEngine):
        from smolgepa.lm.servers.server_async import AsyncServerEngine

        return AsyncServerEngine(engine)
    return ThreadedAsyncEngine(engine)
