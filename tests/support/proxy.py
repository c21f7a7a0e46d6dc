"""A loopback HTTP proxy that records every request and can inject faults (seeded).

`Proxy(upstream)` forwards to a real server and records each request (method, path, headers, body).
With a `FaultPlan` it also breaks some exchanges on purpose, the way real servers fail:

- `refuse`: reset the connection, then stop listening for `refuse_seconds` (connections are refused,
  as when a server restarts);
- `error5xx`: answer HTTP 503 without asking the server;
- `ratelimit`: answer HTTP 429 with a `Retry-After` header;
- `timeout`: hold the request for `timeout_delay` seconds (past the client's timeout), then hang up;
- `cut`: forward, then send the real headers but only half the body and hang up;
- `corrupt`: answer 200 with a body that is not a chat completion (broken JSON, bytes that are not
  UTF-8, or valid JSON of the wrong shape);
- `slow`: forward and answer correctly after `slow_delay` seconds (within the client's timeout);
- `reshape` (only when asked for by name): answer 200 with valid JSON of the wrong shape, the third
  `corrupt` variant, on any route.

Faults are drawn per connection from `random.Random(seed)`; `schedule` fixes the first few. The proxy
answers with `Connection: close`, so every request arrives on a new connection. A CLI subprocess can
use it through `base_url`. Loopback only; every wait is bounded.

Retries and the server's prompt cache: llama.cpp servers keep the previous prompt in the KV cache.
When a client retries a request whose reply was cut or corrupted on the way, the server sees the
exact prompt it has just processed and re-evaluates only its last token, alone; llama.cpp does not
guarantee bit-identical logits across batch sizes, and with llama-cpp-python's server 18 of 156
greedy SmolLM2-135M answers changed on such a repeat (sentiment-extended when it had 156 examples,
measured 2026-11-25), while reusing an instruction prefix of any length changed none.
`FaultPlan(separate_repeats=True)` makes the proxy pass requests to the server one at a time and,
before an exact repeat of the request it forwarded last, send a one-token "spacer" chat (the same
messages with the last one replaced), so the repeat is evaluated as in a run without faults and
answers can be compared with a direct run.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

FAULT_KINDS = ("refuse", "error5xx", "ratelimit", "timeout", "cut", "corrupt")
ALL_KINDS = (*FAULT_KINDS, "slow", "auth_echo", "reshape")
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class FaultPlan:
    """Which faults to inject and how often. `rates` maps a kind to its probability per connection."""

    seed: int = 0
    rates: dict[str, float] = field(default_factory=dict)
    schedule: tuple[str, ...] = ()  # kinds for the first connections, in order ("pass": none)
    timeout_delay: float = 3.0
    refuse_seconds: float = 0.2
    retry_after: str = "0"
    slow_delay: float = 0.3
    separate_repeats: bool = False  # see the module docstring: spacer before an exact repeat

    def __post_init__(self) -> None:
        unknown = (set(self.rates) | set(self.schedule)) - {*ALL_KINDS, "pass"}
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {ALL_KINDS}")
        if sum(self.rates.values()) > 1.0:
            raise ValueError("fault rates add up to more than 1")


@dataclass(frozen=True)
class Recorded:
    """One request as the proxy received it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Proxy:
    """Forward loopback HTTP to `upstream` (e.g. http://127.0.0.1:8080), recording and maybe breaking it."""

    def __init__(self, upstream: str, plan: FaultPlan | None = None, *, upstream_timeout: float = 120.0) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
            raise ValueError(f"the proxy only forwards to a loopback host:port, got {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port
        self.plan = plan
        self.upstream_timeout = upstream_timeout
        self.port = 0
        self.requests: list[Recorded] = []
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self.spacers = 0  # spacer requests sent before exact repeats (separate_repeats)
        self.upstream_seconds = 0.0  # time the upstream server spent on forwarded requests, spacers included
        self.max_inflight = 0
        self._inflight = 0
        self._rng = random.Random(plan.seed if plan else 0)
        self._draws = 0
        self._lock = threading.Lock()
        self._upstream_lock = threading.Lock()  # one request at a time upstream (separate_repeats)
        self._last_forwarded: bytes | None = None
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []

    # -- public -------------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL to give a client (ends in /v1)."""
        return f"{self.root_url}/v1"

    @property
    def faults_injected(self) -> int:
        with self._lock:
            return sum(count for kind, count in self.injected.items() if kind != "slow")

    def summary(self, runs_completed: int, results_lost: int) -> str:
        """The fault-injection suite's closing line."""
        return f"faults injected: {self.faults_injected}, runs completed: {runs_completed}, results lost: {results_lost}"

    def bodies(self, since: int = 0) -> list[Any]:
        """JSON bodies of the recorded requests from index `since` on."""
        with self._lock:
            recorded = list(self.requests[since:])
        return [item.json() for item in recorded]

    def mark(self) -> int:
        """The number of requests recorded so far (pass to `bodies(since=...)`)."""
        with self._lock:
            return len(self.requests)

    def start(self) -> Proxy:
        self._listener = self._listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"proxy-{self.port}", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        for worker in list(self._workers):
            worker.join(timeout=2)

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- accepting ------------------------------------------------------------------------------
    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.1)
        return sock

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            listener = self._listener
            if listener is None:
                return
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            kind, variant = self._draw()
            if kind == "refuse":
                self._refuse(conn)
                continue
            worker = threading.Thread(target=self._serve, args=(conn, kind, variant), daemon=True)
            with self._lock:
                self._workers = [w for w in self._workers if w.is_alive()] + [worker]
            worker.start()
        if self._listener is not None:
            self._listener.close()

    def _draw(self) -> tuple[str, int]:
        """The fault for the next connection and a variant number (seeded, in arrival order)."""
        with self._lock:
            index, self._draws = self._draws, self._draws + 1
            plan = self.plan
            if plan is None:
                return "pass", 0
            roll, variant = self._rng.random(), self._rng.randrange(1 << 16)
            if index < len(plan.schedule):
                kind = plan.schedule[index]
            else:
                kind, edge = "pass", 0.0
                for name, rate in sorted(plan.rates.items()):
                    edge += rate
                    if roll < edge:
                        kind = name
                        break
            if kind != "pass":
                self.injected[kind] += 1
            return kind, variant

    def _refuse(self, conn: socket.socket) -> None:
        """Reset this connection and refuse new ones for a moment, like a server restarting."""
        _reset(conn)
        if self._listener is not None:
            self._listener.close()
        self._stop.wait(self.plan.refuse_seconds if self.plan else 0.2)
        for _ in range(100):
            if self._stop.is_set():
                self._listener = None
                return
            try:
                self._listener = self._listen(self.port)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"proxy could not listen on port {self.port} again")

    # -- serving --------------------------------------------------------------------------------
    def _serve(self, conn: socket.socket, kind: str, variant: int) -> None:
        conn.settimeout(30)
        try:
            request = _read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
                self._inflight += 1
                self.max_inflight = max(self.max_inflight, self._inflight)
            ended = False
            try:
                reply = self._reply(request, kind, variant)
                # The request stops counting as in flight when its answer is decided, before a byte of it
                # is written: a client that has read the answer may send its next request at once, and
                # counting until after the write would see that one overlap this one (a measuring race).
                self._end_inflight()
                ended = True
                if reply is not None:
                    _send(conn, *reply)
            finally:
                if not ended:
                    self._end_inflight()
        except OSError:
            pass  # the client went away (e.g. after its own timeout)
        finally:
            conn.close()

    def _end_inflight(self) -> None:
        with self._lock:
            self._inflight -= 1

    def _reply(self, request: Recorded, kind: str, variant: int) -> tuple | None:
        """The response to write for `request` (arguments of `_send`), or None to send nothing."""
        plan = self.plan
        if kind == "error5xx":
            return 503, "Service Unavailable", _error_json("injected: server overloaded")
        if kind == "ratelimit":
            retry_after = plan.retry_after if plan else "0"
            return 429, "Too Many Requests", _error_json("injected: rate limited"), {"Retry-After": retry_after}
        if kind == "timeout":
            self._stop.wait(plan.timeout_delay if plan else 3.0)
            return None
        if kind == "auth_echo":
            echoed = request.headers.get("authorization", "(none)")
            return 401, "Unauthorized", _error_json(f"invalid credentials: {echoed}")
        status, reason, headers, body = self._forward(request)
        if kind == "cut":
            return status, reason, body, headers, True
        if kind in ("corrupt", "reshape"):
            return 200, "OK", _corrupt(body, variant if kind == "corrupt" else 2), {"Content-Type": "application/json"}
        if kind == "slow":
            self._stop.wait(plan.slow_delay if plan else 0.3)
        return status, reason, body, headers

    def _forward(self, request: Recorded) -> tuple[int, str, dict[str, str], bytes]:
        if not (self.plan and self.plan.separate_repeats):
            return self._exchange(request)
        with self._upstream_lock:
            spacer = _spacer(request) if request.body == self._last_forwarded else None
            if spacer is not None:
                self._exchange(spacer)
                with self._lock:
                    self.spacers += 1
            self._last_forwarded = request.body
            return self._exchange(request)

    def _exchange(self, request: Recorded) -> tuple[int, str, dict[str, str], bytes]:
        """Send one request to the upstream server; its status, reason, headers and body."""
        began = time.monotonic()
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=self.upstream_timeout)
        skip = {"host", "connection", "content-length", "transfer-encoding", "keep-alive"}
        headers = {name: value for name, value in request.headers.items() if name not in skip}
        try:
            upstream.request(request.method, request.path, body=request.body or None, headers=headers)
            reply = upstream.getresponse()
            body = reply.read()
            kept = {
                name: value for name, value in reply.getheaders()
                if name.lower() not in {"connection", "content-length", "transfer-encoding", "keep-alive"}
            }
            with self._lock:
                self.forwarded += 1
            return reply.status, reply.reason, kept, body
        except (OSError, http.client.HTTPException) as exc:
            return 502, "Bad Gateway", {}, _error_json(f"proxy: upstream failed: {exc}")
        finally:
            upstream.close()
            with self._lock:
                self.upstream_seconds += time.monotonic() - began


def _read_request(conn: socket.socket) -> Recorded | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_HEADER_BYTES:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = min(int(headers.get("content-length", "0") or 0), MAX_BODY_BYTES)
    body = rest
    while len(body) < length:
        chunk = conn.recv(min(65536, length - len(body)))
        if not chunk:
            return None
        body += chunk
    return Recorded(method=method, path=path, headers=headers, body=body[:length])


def _send(
    conn: socket.socket,
    status: int,
    reason: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    cut: bool = False,
) -> None:
    """Write one HTTP/1.1 response; with `cut`, announce the full length but send half the body."""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if not any(line.lower().startswith("content-type:") for line in lines):
        lines.append("Content-Type: application/json")
    payload = body[: len(body) // 2] if cut else body
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)


def _reset(conn: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0) instead of an orderly shutdown."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    conn.close()


def _error_json(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "server_error"}}).encode()


def _spacer(request: Recorded) -> Recorded | None:
    """A one-token chat with `request`'s messages but a different last message (None if not a chat)."""
    try:
        body = json.loads(request.body)
        messages = [dict(message) for message in body["messages"]]
        messages[-1]["content"] = "-" if messages[-1].get("content") != "-" else "+"
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    spacer = {**body, "messages": messages, "max_tokens": 1}
    return Recorded(request.method, request.path, request.headers, json.dumps(spacer).encode())


def _corrupt(body: bytes, variant: int) -> bytes:
    """A 200 body that is not a usable chat completion (three ways, by `variant`)."""
    choice = variant % 3
    if choice == 0:
        return body[: len(body) // 2]  # truncated JSON, with a matching Content-Length
    if choice == 1:
        return b"\xff\xfe<html>\x00garbage" + body[:40]  # not UTF-8, not JSON
    return json.dumps({"object": "chat.completion", "choices": []}).encode()  # valid JSON, wrong shape
