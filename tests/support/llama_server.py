"""Start and stop a real `python -m llama_cpp.server` on 127.0.0.1 for the server-student tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from smolgepa.lm.local.embedded import DECODE_THREADS
from smolgepa.lm.local.threads import default_threads


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port, from this interpreter."""

    def __init__(
        self,
        model_path: Path,
        log_path: Path,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.model_path = model_path
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.startup_timeout = startup_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def forget_last_prompt(self) -> None:
        """Send a one-token request, so the next prompt is not an exact repeat of the one the server
        holds in its KV cache: llama.cpp would re-evaluate only its last token, with other numerics
        (docs/cli.md, "Retries and llama.cpp's prompt cache"), and answers would depend on earlier tests."""
        reply = httpx.post(
            f"{self.base_url}/chat/completions",
            json={"messages": [{"role": "user", "content": "-"}], "max_tokens": 1, "temperature": 0.0},
            timeout=60.0,
        )
        reply.raise_for_status()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (ends in /v1)."""
        return f"{self.root_url}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            # one thread decodes, as in the embedded engine (smolgepa.lm.local.embedded.DECODE_THREADS)
            "--n_threads", str(min(DECODE_THREADS or self.n_threads, self.n_threads)),
            "--n_threads_batch", str(self.n_threads),
        ]

    def environment(self) -> dict[str, str]:
        """The server's environment. OpenMP threads sleep instead of spinning while they wait: on a
        busy 2-core machine spinning threads make decoding 10-15 times slower."""
        return {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}

    def start(self, port: int | None = None) -> LlamaServer:
        """Start the process (on `port`, else a free one) and wait (bounded) until /v1/models answers."""
        self.port = port or free_port()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=self.environment(),
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"llama_cpp.server not ready after {self.startup_timeout:g}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the process (kill it if it does not stop within 10 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self) -> None:
        """Stop the server and start it again on the same port (clients see it die, then return)."""
        port = self.port
        self.stop()
        self.start(port)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def chat_posts(server: LlamaServer) -> int:
    """How many chat requests the server has logged since it was first started."""
    return server.log_path.read_text(errors="replace").count("POST /v1/chat/completions")


def close_for_a_while(server: LlamaServer, client: subprocess.Popen[str], answered: int, seconds: float = 3.0) -> None:
    """Once the server has logged `answered` chat requests (within 300 s; `client` must still be running),
    stop it, keep its port closed for `seconds` (longer than the grace a server that was never up gets),
    check that `client` is still waiting, and start the server again on the same port."""
    deadline = time.monotonic() + 300
    while chat_posts(server) < answered:  # it has answered the client
        assert client.poll() is None, client.communicate()
        assert time.monotonic() < deadline, "no request came"
        time.sleep(0.05)
    port = server.port
    server.stop()
    time.sleep(seconds)  # connections are refused meanwhile
    assert client.poll() is None, client.communicate()  # still waiting
    server.start(port)
