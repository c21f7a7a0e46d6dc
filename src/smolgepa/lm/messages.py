"""Conversions between DSPy's canonical lm15 requests/responses and plain chat messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dspy.lm15 import Message, Request, Response, TextPart, Usage, response_to_events


def request_messages(request: Request) -> list[dict[str, str]]:
    """The request as OpenAI-style chat messages, always starting with a system message."""
    system = request.system
    if system is not None and not isinstance(system, str):
        system = "".join(getattr(part, "text", "") or "" for part in system)
    messages = [{"role": "system", "content": system or ""}]
    for message in request.messages:
        role = "user" if message.role == "developer" else message.role
        text = "".join(getattr(part, "text", "") or "" for part in message.parts)
        messages.append({"role": role, "content": text})
    return messages


def text_response(
    text: str,
    model: str,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    finish_reason: str = "stop",
    provider_data: dict[str, Any] | None = None,
) -> Response:
    """A canonical response holding one text part."""
    reason = finish_reason if finish_reason in ("stop", "length", "tool_call", "content_filter", "error") else "stop"
    return Response(
        id=None,
        model=model,
        message=Message.assistant([TextPart(text)]),
        finish_reason=reason,  # type: ignore[arg-type]
        usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        provider_data=provider_data,
    )


class CompleteOnlyEngine:
    """Mixin for engines that answer whole responses: DSPy's `stream` replays `complete` as events."""

    def complete(self, request: Request) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def stream(self, request: Request) -> Iterator[Any]:
        return iter(response_to_events(self.complete(request)))
