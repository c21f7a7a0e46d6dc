"""The embedded model's last hidden states for a prompt: what the `hidden` reading is fitted on.

A second llama.cpp context on the same GGUF file runs in embedding mode (no pooling), so every
evaluated token yields its final-layer state (after the last norm, before the output layer). A
prompt is summarised by two vectors, concatenated:
- the mean state over the input's tokens and what follows them (the cue and the assistant prefix): what
  the model read, as a contextual bag of words;
- the state at the answer position (the last prompt token): what the next-token distribution is
  computed from, before the output layer narrows it to a guess.
Where the input starts is found by comparing the prompt's tokens with those of the same prompt with an
empty input (so any chat template works). The instruction before it stays in this context's KV cache
from one prompt to the next; only the input's part is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smolgepa.errors import ContextOverflowError, SmolgepaError
from smolgepa.lm.readings.scores import calibration_key, content_free_messages
from smolgepa.lm.local.kv import REEVALUATED_TAIL
from smolgepa.lm.local.label_scorer import chat_prompt_tokens
from smolgepa.lm.local.sequences import common_length
from smolgepa.lm.local.threads import default_threads

Messages = Sequence[Mapping[str, str]]
SHARED_INPUT_TOKENS = 16  # input tokens two prompts must share before kept states are reused


class HiddenStates:
    """Final-layer states of a GGUF model, read from its own embedding-mode context (loaded on first
    use). Not thread-safe: the embedded engine calls it under its lock."""

    def __init__(self, model_path: str | Path, n_ctx: int = 2048, n_threads: int = 0,
                 keep_input_states: bool = False) -> None:
        self.model_path = str(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        # Off by default: a state reused from an earlier batch can differ in its last bits from one
        # computed afresh, and eval and optimize answer each input as if read alone.
        self.keep_input_states = keep_input_states
        self._llama: Any = None
        self._cached: list[int] = []  # the tokens whose states the KV cache holds, in order
        self._rows: np.ndarray | None = None  # with keep_input_states: the states of _cached[_rows_from:]
        self._rows_from = 0
        self.evaluated = 0  # tokens evaluated, for tests and timing
        self._input_starts: dict[tuple[Any, ...], int] = {}

    def llama(self) -> Any:
        """The embedding-mode llama_cpp.Llama."""
        if self._llama is None:
            import llama_cpp

            from smolgepa.lm.local.native_log import route_native_logs

            route_native_logs()  # llama.cpp warns that no pooling was asked for: that is the point here
            self._llama = llama_cpp.Llama(
                model_path=self.model_path, embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE,
                n_ctx=self.n_ctx, n_batch=self.n_ctx, n_ubatch=512, n_threads=self.n_threads,
                n_threads_batch=self.n_threads, verbose=False,
            )
        return self._llama

    def features(self, messages: Messages) -> np.ndarray:
        """[mean state over the input and after it, state at the answer position] for these messages."""
        tokens = chat_prompt_tokens(self.llama(), messages)
        if len(tokens) > self.n_ctx:
            raise ContextOverflowError(len(tokens), self.n_ctx)
        start = min(self.input_start(messages, tokens), len(tokens) - 1)
        rows = self._states_from(tokens, start)
        return np.concatenate([rows.mean(axis=0), rows[-1]])

    def input_start(self, messages: Messages, tokens: Sequence[int]) -> int:
        """The index of the first token where these messages' input begins (cached per instruction)."""
        key = calibration_key(messages, ())
        if key not in self._input_starts:
            empty = chat_prompt_tokens(self.llama(), content_free_messages(messages, ""))
            self._input_starts[key] = common_length(empty, tokens)
        return self._input_starts[key]

    def _states_from(self, tokens: Sequence[int], start: int) -> np.ndarray:
        """The states of tokens[start:], evaluating only what the KV cache does not already hold
        before `start` (or, with `keep_input_states`, what the kept states do not cover) (rows: one
        per token from `start`)."""
        import llama_cpp

        llama = self.llama()
        common = common_length(self._cached, tokens)
        # Kept states serve a prompt that extends the last one's input (not two inputs that merely
        # start alike, as training texts do); at least the last two tokens are evaluated as one batch (kv.py).
        kept = (self.keep_input_states and self._rows is not None and self._rows_from <= start
                and common - start >= SHARED_INPUT_TOKENS)
        reuse = max(start, min(common, len(tokens) - REEVALUATED_TAIL)) if kept else min(common, start)
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llama.ctx), -1, reuse, -1)
        self._cached = list(tokens[:reuse])
        todo = list(tokens[reuse:])
        self.evaluated += len(todo)
        batch = llama_cpp.llama_batch_init(len(todo), 0, 1)
        try:
            batch.n_tokens = len(todo)
            for i, token in enumerate(todo):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, reuse + i, 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = True  # embedding mode outputs every token
            if llama_cpp.llama_decode(llama.ctx, batch) != 0:
                self._rows = None
                raise SmolgepaError("llama.cpp could not evaluate a prompt for its hidden states (llama_decode failed).")
        finally:
            llama_cpp.llama_batch_free(batch)
        self._cached = list(tokens)
        width = llama.n_embd()
        fresh = np.stack([
            np.ctypeslib.as_array(llama_cpp.llama_get_embeddings_ith(llama.ctx, i), shape=(width,)).astype(np.float64)
            for i in range(max(0, start - reuse), len(todo))
        ])
        rows = fresh if reuse <= start else np.concatenate([self._kept_rows(start, reuse), fresh])
        if self.keep_input_states:
            self._rows, self._rows_from = rows, start
        return rows

    def _kept_rows(self, start: int, end: int) -> np.ndarray:
        """The kept states of positions start..end-1 (they are within the kept range)."""
        assert self._rows is not None
        return self._rows[start - self._rows_from : end - self._rows_from]

    def close(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None
            self._cached = []
            self._rows = None
