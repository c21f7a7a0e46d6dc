"""Label scoring on an in-process llama.cpp model: log P(label tokens | chat prompt), with KV reuse.

The prompt is the exact token sequence `create_chat_completion` would feed the model (the chat
template up to and including the assistant prefix). It is evaluated once, reusing the longest
prefix already in the KV cache (the instruction, from the previous example). The first token of
every label is scored from the prompt's last logits; a label of k tokens then costs one batched
decode of its first k-1 tokens on top of the cached prompt (none for one-token labels). The
prompt is never re-evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from smolgepa.errors import ContextOverflowError, SmolgepaError
from smolgepa.lm.kv import REEVALUATED_TAIL


class _Captured(Exception):
    def __init__(self, tokens: list[int]) -> None:
        super().__init__("prompt captured")
        self.tokens = tokens


def chat_prompt_tokens(llama: Any, messages: Sequence[Mapping[str, str]]) -> list[int]:
    """The prompt tokens `llama.create_chat_completion(messages)` would evaluate, ending with the
    assistant prefix (for SmolLM2: `<|im_start|>assistant\\n`).

    Runs the model's own chat handler and stops it where it hands the tokens to `create_completion`,
    so the template, special tokens and BOS handling are exactly those of free and constrained decoding.
    The caller must hold the engine's lock.
    """

    def capture(prompt: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(prompt, str):
            prompt = llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        raise _Captured([int(token) for token in prompt])

    llama.create_completion = capture  # shadows the method on this instance only
    try:
        llama.create_chat_completion(messages=list(messages), max_tokens=1)
    except _Captured as captured:
        return captured.tokens
    finally:
        del llama.create_completion
    raise SmolgepaError("The model's chat handler did not produce a prompt; scored decoding cannot run on it.")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities from raw logits (float64 for stable sums)."""
    values = logits.astype(np.float64)
    top = values.max()
    return values - top - np.log(np.exp(values - top).sum())


class LabelScorer:
    """Scores label continuations on a loaded `llama_cpp.Llama` (created with logits_all=False).

    Keeps the llama object's token bookkeeping (`input_ids`, `n_tokens`) in step with its KV cache,
    so free and constrained calls made afterwards reuse the cached prefix as usual.
    """

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self._continuations: dict[tuple[int, str], list[int]] = {}

    def continuation(self, prompt: Sequence[int], label: str) -> list[int]:
        """The tokens of `label` as the model would write it right after the prompt."""
        key = (int(prompt[-1]) if prompt else -1, label)
        if key not in self._continuations:
            tail = list(prompt[-8:])
            tail_text = self.llama.detokenize(tail, special=True)
            joined = self.llama.tokenize(tail_text + label.encode("utf-8"), add_bos=False, special=True)
            # The label's own tokens, unless the join merged across the boundary; then tokenize it alone.
            tokens = joined[len(tail):] if joined[: len(tail)] == tail else []
            if not tokens or self.llama.detokenize(tokens) != label.encode("utf-8"):
                tokens = self.llama.tokenize(label.encode("utf-8"), add_bos=False, special=False)
            if not tokens:
                raise SmolgepaError(f"The label {label!r} has no tokens; scored decoding cannot score it.")
            self._continuations[key] = tokens
        return self._continuations[key]

    def score(self, messages: Sequence[Mapping[str, str]], labels: Sequence[str]) -> dict[str, float]:
        """log P(label | messages) for each label: the sum over all of the label's tokens."""
        prompt = chat_prompt_tokens(self.llama, messages)
        if len(prompt) + max(len(self.continuation(prompt, label)) for label in labels) > self.llama.n_ctx():
            raise ContextOverflowError(len(prompt), self.llama.n_ctx(), " with a label after it")
        first = log_softmax(self._prefill(prompt))
        scores: dict[str, float] = {}
        for label in labels:
            tokens = self.continuation(prompt, label)
            total = float(first[tokens[0]])
            if len(tokens) > 1:
                # The prompt stays cached: only this label's tokens after it are evaluated.
                rows = self._decode_rows(tokens[:-1], len(prompt))
                total += sum(float(log_softmax(row)[token]) for row, token in zip(rows, tokens[1:]))
            scores[label] = total
        return scores

    def next_token_logprobs(self, tokens: Sequence[int]) -> np.ndarray:
        """log P(next token | tokens) over the vocabulary (the cached prefix is reused)."""
        if len(tokens) >= self.llama.n_ctx():
            raise ContextOverflowError(len(tokens), self.llama.n_ctx())
        return log_softmax(self._prefill(tokens))

    def answer_logprobs(self, messages: Sequence[Mapping[str, str]]) -> np.ndarray:
        """The model's log-distribution over the whole vocabulary at the answer position (kNN anchors)."""
        prompt = chat_prompt_tokens(self.llama, messages)
        if len(prompt) + 1 > self.llama.n_ctx():
            raise ContextOverflowError(len(prompt), self.llama.n_ctx(), " with an answer after it")
        return self.next_token_logprobs(prompt)

    def text_tokens(self, text: str) -> list[int]:
        """`text` as plain tokens (no BOS, special markers read as text)."""
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def continuation_logprobs(self, messages: Sequence[Mapping[str, str]], tokens: Sequence[int]) -> np.ndarray:
        """log P(token_i | messages' prompt, tokens before i) for each of `tokens`, written as the
        assistant's reply. The shared prompt prefix comes from the KV cache."""
        prompt = chat_prompt_tokens(self.llama, messages)
        if not tokens:
            return np.zeros(0)
        if len(prompt) + len(tokens) > self.llama.n_ctx():
            raise ContextOverflowError(len(prompt) + len(tokens), self.llama.n_ctx())
        values = [float(log_softmax(self._prefill(prompt))[tokens[0]])]
        step = max(1, int(getattr(self.llama, "n_batch", 512)))
        rest = list(tokens[:-1])
        for start in range(0, len(rest), step):
            rows = self._decode_rows(rest[start : start + step], len(prompt) + start)
            targets = tokens[start + 1 : start + 1 + len(rows)]
            values += [float(log_softmax(row)[token]) for row, token in zip(rows, targets)]
        return np.asarray(values)

    def reply_logprob(self, messages: Sequence[Mapping[str, str]], given: str, text: str) -> float:
        """log P(text | messages, given): the summed log-probs of `text` written as the assistant's reply
        after the `given` prefix ("Text:"), which is part of the reply but not scored. The reply is
        tokenized as one string; if that does not start with the prefix's own tokens, every token counts."""
        prefix = self.text_tokens(given) if given else []
        tokens = self.text_tokens(given + text)
        scored_from = len(prefix) if tokens[: len(prefix)] == prefix else 0
        return float(self.continuation_logprobs(messages, tokens)[scored_from:].sum())

    def _prefill(self, prompt: Sequence[int]) -> np.ndarray:
        """Evaluate `prompt`, reusing the cached prefix; the logits after its last token."""
        llama = self.llama
        cached = 0
        for a, b in zip(llama.input_ids[: llama.n_tokens].tolist(), prompt):
            if a != b:
                break
            cached += 1
        # Re-evaluate at least the last two prompt tokens as one batch: the last one's logits are what
        # we need, and a lone token would be computed with other kernels (see kv.forget_prompt_end).
        llama.n_tokens = max(0, min(cached, len(prompt) - REEVALUATED_TAIL))
        llama.eval(list(prompt[llama.n_tokens :]))
        return self._last_logits()

    def _decode_rows(self, tokens: Sequence[int], position: int) -> np.ndarray:
        """Evaluate `tokens` at `position` in one batch (dropping anything cached from there on);
        the logits after each of them, one row per token."""
        import llama_cpp

        llama = self.llama
        memory = llama_cpp.llama_get_memory(llama.ctx)
        llama_cpp.llama_memory_seq_rm(memory, -1, position, -1)
        batch = llama_cpp.llama_batch_init(len(tokens), 0, 1)
        try:
            batch.n_tokens = len(tokens)
            for i, token in enumerate(tokens):
                batch.token[i] = token
                batch.pos[i] = position + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = True
            if llama_cpp.llama_decode(llama.ctx, batch) != 0:
                raise SmolgepaError("llama.cpp could not evaluate a label's tokens (llama_decode failed).")
        finally:
            llama_cpp.llama_batch_free(batch)
        n_vocab = llama.n_vocab()
        rows = np.stack([
            np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama.ctx, i), shape=(n_vocab,))
            for i in range(len(tokens))
        ])
        # Keep the Llama object's bookkeeping in step with the KV cache (as Llama.eval does).
        llama.input_ids[position : position + len(tokens)] = tokens
        llama.n_tokens = position + len(tokens)
        return rows

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llama.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.llama.n_vocab(),)).copy()
