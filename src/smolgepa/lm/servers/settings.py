"""Where an OpenAI-compatible server is and how to talk to it (`ServerSettings`), from a spec or saved state."""

from __future__ import annotations

from dataclasses import dataclass

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.scores import CONTENT_FREE_INPUTS
from smolgepa.lm.readings.reading import DEFAULT_ENSEMBLE_K, DEFAULT_KNN_K, check_decode
from smolgepa.lm.servers.payloads import check_server_decode
from smolgepa.lm.servers.pool import spread_urls

# Server flavours, their spec forms and default base URLs (None: the URL is part of the spec).
SERVER_DEFAULT_URLS: dict[str, str | None] = {
    "openai": None,
    "lmstudio": "http://localhost:1234/v1",
    "ollama": "http://localhost:11434/v1",
    "llamacpp": None,
    "vllm": None,
}
# Requests in flight at once, by server kind: llama.cpp and vLLM batch parallel slots, LM Studio
# and Ollama mostly queue, hosted APIs take more.
SERVER_ROLES = ("student", "reflection", "verifier")  # who asks: the flags error messages name
DEFAULT_CONCURRENCY: dict[str, int] = {"llamacpp": 4, "vllm": 4, "lmstudio": 2, "ollama": 2, "openai": 8}

@dataclass(frozen=True)
class ServerSettings:
    """Where the server is and how to talk to it; saved with the engine (never the API key itself).

    `api_key_env` names an environment variable holding the key; it is read at request time.
    `concurrency` of None means the default for the flavour (see DEFAULT_CONCURRENCY).
    `decode`, `labels`, `calibrate`, `content_free`, `calibration`, `train_examples`, `knn_k`,
    `ensemble_k` and `seed` (which picks the ensemble's shots) are as for the embedded student
    (`smolgepa.lm.local.embedded.EmbeddedSettings`); those the method uses are part of the disk cache key.
    """

    base_url: str
    model: str
    flavour: str = "openai"
    api_key_env: str | None = None
    timeout: float = 120.0
    retries: int = 8  # a long run must outlast a flaky server: 9 faults in a row to lose an answer
    backoff: float = 0.5
    concurrency: int | None = None
    decode: str = "free"
    labels: tuple[str, ...] = ()
    calibrate: bool = False
    content_free: tuple[str, ...] = CONTENT_FREE_INPUTS
    role: str = "student"  # or "reflection", "verifier": only changes which flags error messages name
    calibration: str = "content-free"
    train_examples: tuple[tuple[str, str], ...] = ()
    knn_k: int = DEFAULT_KNN_K
    ensemble_k: int = DEFAULT_ENSEMBLE_K
    seed: int = 0
    more_urls: tuple[str, ...] = ()  # further servers of the same model (`server_pool.py`)

    def __post_init__(self) -> None:
        base_url, more_urls = spread_urls(self.base_url, self.more_urls)  # `http://a/v1,http://b/v1`
        object.__setattr__(self, "base_url", base_url)
        object.__setattr__(self, "more_urls", more_urls)
        # Saved state comes back from JSON with lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        object.__setattr__(self, "content_free", tuple(self.content_free))
        object.__setattr__(self, "train_examples", tuple((str(t), str(y)) for t, y in self.train_examples))
        if self.role not in SERVER_ROLES:
            raise SmolgepaError(f"ServerSettings.role must be one of {', '.join(SERVER_ROLES)}, got {self.role!r}.")
        if self.flavour not in SERVER_DEFAULT_URLS:
            raise SmolgepaError(f"Unknown server flavour {self.flavour!r}. Available: {', '.join(SERVER_DEFAULT_URLS)}.")
        if not self.base_url.startswith(("http://", "https://")):
            raise SmolgepaError(f"Server base URL must start with http:// or https://, got {self.base_url!r}.")
        if self.timeout <= 0 or self.retries < 0 or self.backoff < 0:
            raise SmolgepaError(
                f"Server settings need timeout > 0, retries >= 0 and backoff >= 0; got timeout={self.timeout}, "
                f"retries={self.retries}, backoff={self.backoff}."
            )
        if self.concurrency is not None and self.concurrency < 1:
            raise SmolgepaError(f"Server concurrency must be at least 1, got {self.concurrency}.")
        check_decode(self.decode, self.labels, self.calibrate, self.calibration, self.train_examples,
                     {"--knn-k": self.knn_k, "ensemble_k": self.ensemble_k})
        check_server_decode(self.flavour, self.decode, self.calibrate, self.calibration)
        if self.calibrate and self.calibration == "content-free" and not self.content_free:
            raise SmolgepaError("Calibration needs at least one content-free input (content_free is empty).")

    @property
    def max_concurrency(self) -> int:
        """Requests allowed in flight at once."""
        return self.concurrency or DEFAULT_CONCURRENCY.get(self.flavour, 2)

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def server_identity(settings: ServerSettings) -> str:
    """The model's identity for cache keys: flavour, model and URL (no key, no timeouts)."""
    return f"{settings.flavour}:{settings.model}@{settings.base_url.rstrip('/')}"
