"""Label scoring on an in-process llama.cpp model: log P(label tokens | chat prompt), with KV reuse.

The prompt is the exact token sequence `create_chat_completion` would feed the model (the chat
template up to and including the assistant prefix). It is evaluated once, reusing the longest
prefix already in the KV cache (the instruction, from the previous example). The first token of
every label is scored from the prompt's last logits; the later tokens of every label are evaluated
in the same llama_decode call as the prompt, each label on its own KV sequence branching off it
(lm/sequences.py): one call per answer, whatever the labels' lengths. Several prompts at once (the
ensemble's one-shot prompts, the channel's label turns) are evaluated in one call too, each kept in
its own sequence so the next query evaluates only what follows the prefix it shares with them.
A context with one sequence (a plain `Llama`) gets the same scores one call at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from smolgepa.errors import ContextOverflowError, SmolgepaError
from smolgepa.lm.local.kv import REEVALUATED_TAIL
from smolgepa.lm.local.sequences import (
    BRANCHES,
    KEPT,
    SEQUENCES,
    DecodeFailed,
    Entry,
    Kept,
    common_length,
    decode,
    log_softmax,
    drop,
    sequence_count,
    share,
)


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


class LabelScorer:
    """Scores label continuations on a loaded `llama_cpp.Llama` (created with logits_all=False).

    Keeps the llama object's token bookkeeping (`input_ids`, `n_tokens`) in step with its KV cache,
    so free and constrained calls made afterwards reuse the cached prefix as usual.
    """

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self._continuations: dict[tuple[int, str], list[int]] = {}
        # Several sequences (the embedded engine's context): labels and prompts batched together.
        self.branching = sequence_count(llama) >= SEQUENCES
        self._kept = Kept(llama)

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
        return self.score_many([messages], labels)[0]

    def score_many(self, batch: Sequence[Sequence[Mapping[str, str]]], labels: Sequence[str]) -> list[dict[str, float]]:
        """`score` for several prompts (the ensemble's one-shot prompts), evaluated together: each
        prompt in a KEPT sequence, so the next call reuses what they share with the next prompts."""
        requests = []
        for messages in batch:
            prompt = chat_prompt_tokens(self.llama, messages)
            tokens = [self.continuation(prompt, label) for label in labels]
            if len(prompt) + max(len(t) for t in tokens) > self.llama.n_ctx():
                raise ContextOverflowError(len(prompt), self.llama.n_ctx(), " with a label after it")
            requests.append((prompt, tokens))
        if len(requests) == 1:
            results = [self._score_on_prompt(*requests[0])]
        else:
            results = self._score_kept(requests)
        return [{label: float(v.sum()) for label, v in zip(labels, values)} for values in results]

    def next_token_logprobs(self, tokens: Sequence[int]) -> np.ndarray:
        """log P(next token | tokens) over the vocabulary (the cached prefix is reused)."""
        if len(tokens) >= self.llama.n_ctx():
            raise ContextOverflowError(len(tokens), self.llama.n_ctx())
        self._drop_kept()
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
        return self._score_on_prompt(prompt, [list(tokens)])[0]

    def reply_logprob(self, messages: Sequence[Mapping[str, str]], given: str, text: str) -> float:
        """log P(text | messages, given): the summed log-probs of `text` written as the assistant's reply
        after the `given` prefix ("Text:"), which is part of the reply but not scored. The reply is
        tokenized as one string; if that does not start with the prefix's own tokens, every token counts."""
        return self.reply_logprobs([messages], given, text)[0]

    def reply_logprobs(self, batch: Sequence[Sequence[Mapping[str, str]]], given: str, text: str) -> list[float]:
        """`reply_logprob` of the same reply after each of several prompts (the channel's label
        turns), evaluated together, each prompt (with the given prefix) kept for the next call."""
        prefix = self.text_tokens(given) if given else []
        tokens = self.text_tokens(given + text)
        scored_from = len(prefix) if tokens[: len(prefix)] == prefix else 0
        if not tokens[scored_from:]:
            return [0.0 for _ in batch]
        requests = []
        for messages in batch:
            prompt = chat_prompt_tokens(self.llama, messages)
            if len(prompt) + len(tokens) > self.llama.n_ctx():
                raise ContextOverflowError(len(prompt) + len(tokens), self.llama.n_ctx())
            requests.append((prompt + tokens[:scored_from], [tokens[scored_from:]]))
        if len(requests) == 1:
            return [float(self._score_on_prompt(*requests[0])[0].sum())]
        return [float(values[0].sum()) for values in self._score_kept(requests)]

    def _score_on_prompt(self, prompt: list[int], continuations: list[list[int]]) -> list[np.ndarray]:
        """Per-token log-probs of each continuation after `prompt`, evaluated on sequence 0 (what
        llama-cpp-python's bookkeeping describes), reusing its cached prefix; the prompt and every
        continuation (each on its own BRANCHES sequence) in one batch."""
        self._drop_kept()
        if not self.branching:
            return self._score_one_by_one(prompt, continuations)
        if len(continuations) > len(BRANCHES):
            step = len(BRANCHES)
            return [v for i in range(0, len(continuations), step)
                    for v in self._score_on_prompt(prompt, continuations[i : i + step])]
        llama = self.llama
        drop(llama, 0, llama.n_tokens)  # cells past the bookkeeping (an answer forgotten) are dead
        cached = common_length(llama.input_ids[: llama.n_tokens].tolist(), prompt)
        # At least the last two prompt tokens are re-evaluated (see kv.forget_prompt_end).
        start = max(0, min(cached, len(prompt) - REEVALUATED_TAIL))
        drop(llama, 0, start)
        llama.n_tokens = start
        entries, branches = self._branch_entries(prompt, start, 0, continuations, iter(BRANCHES))
        try:
            rows = decode(llama, entries)
        except DecodeFailed as exc:
            raise SmolgepaError(f"llama.cpp could not evaluate a prompt and its labels ({exc}).") from None
        finally:
            for seq in branches:
                drop(llama, seq)
        llama.input_ids[start : len(prompt)] = prompt[start:]
        # The last logits are a label's: a free answer to this prompt must not sample from them,
        # and re-evaluates its last tokens as one batch, as after a free answer (kv.forget_prompt_end).
        llama.n_tokens = max(0, len(prompt) - REEVALUATED_TAIL)
        return self._split(rows, continuations)

    def _score_kept(self, requests: list[tuple[list[int], list[list[int]]]]) -> list[list[np.ndarray]]:
        """`_score_on_prompt` for several prompts in one batch, each in a KEPT sequence that reuses
        the longest prefix a kept prompt (or sequence 0) shares with it. Falls back to one prompt
        at a time when the context has no room for them all."""
        llama = self.llama
        total = sum(len(p) + sum(len(c) for c in conts) for p, conts in requests)
        branching = sum(len(c) > 1 for _, conts in requests for c in conts)
        if (not self.branching or len(requests) > len(KEPT) or branching > len(BRANCHES)
                or total > llama.n_ctx() - llama.n_tokens):
            return [self._score_on_prompt(p, conts) for p, conts in requests]
        drop(llama, 0, llama.n_tokens)
        held = llama.input_ids[: llama.n_tokens].tolist()
        placed, from_main_used = [], 0
        for prompt, (seq, reused) in zip([p for p, _ in requests], self._kept.assign([p for p, _ in requests])):
            from_main = common_length(held, prompt)
            shared = from_main > reused
            if shared:
                share(llama, 0, seq, from_main)
                reused = from_main
            start = max(0, min(reused, len(prompt) - REEVALUATED_TAIL))
            if shared:
                from_main_used = max(from_main_used, start)
            drop(llama, seq, start)
            self._kept.tokens[seq] = prompt
            placed.append((seq, start))
        self._only_reused([seq for seq, _ in placed], from_main_used)
        branches: list[int] = []
        try:
            placed = self._share_common_prefix([p for p, _ in requests], placed)
            entries: list[Entry] = []
            spare = iter(BRANCHES)
            for (prompt, conts), (seq, start) in zip(requests, placed):
                more, mine = self._branch_entries(prompt, start, seq, conts, spare)
                entries += more
                branches += mine
            rows = decode(llama, entries)
        except DecodeFailed:
            self._kept.clear()
            return [self._score_on_prompt(p, conts) for p, conts in requests]
        finally:
            for seq in branches:
                drop(llama, seq)
        results, offset = [], 0
        for _, conts in requests:
            results.append(self._split(rows[offset : offset + 1 + sum(len(c) - 1 for c in conts)], conts))
            offset += 1 + sum(len(c) - 1 for c in conts)
        return results

    def _drop_kept(self) -> None:
        """Before a call on sequence 0 alone: the kept prompts go (see `_only_reused`)."""
        if self._kept.tokens:
            self._kept.clear()

    def _only_reused(self, kept: list[int], main: int) -> None:
        """Drop every cell this call does not reuse before it evaluates: sequence 0 from `main` on
        (its bookkeeping cut to match) and the KEPT sequences not in `kept`. Left in the unified KV
        buffer, other cells decide where the new tokens' cells go, and llama.cpp's attention (without
        flash attention) sums over cells in SIMD lanes by cell index: shifted by a few cells, the same
        tokens score up to ~0.3 nats apart per token (~1 nat over a 12-token channel reply; on AVX2
        the offset mod 8 decides), so scores depended on what was scored before. With only reused
        cells left, a call that reuses little lays its cells out as on a fresh engine (measured: the
        channel's scores after multi-token batches equal a fresh engine's to the bit)."""
        llama = self.llama
        drop(llama, 0, main)
        llama.n_tokens = min(llama.n_tokens, main)
        for seq in KEPT:
            if seq not in kept:
                drop(llama, seq)
                self._kept.tokens.pop(seq, None)

    def _share_common_prefix(self, prompts: list[list[int]], placed: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Evaluate the prefix all `prompts` share (the system message) once, in the first prompt's
        sequence, and give it to the others that lack it: the shared cells are stored once, and
        attention in llama.cpp costs by the cells in use."""
        common = min(len(p) for p in prompts) - REEVALUATED_TAIL
        for prompt in prompts[1:]:
            common = min(common, common_length(prompts[0], prompt))
        if common <= 0 or all(start >= common for _, start in placed):
            return placed
        first, start = placed[0]
        if start < common:
            decode(self.llama, [Entry(t, start + i, (first,)) for i, t in enumerate(prompts[0][start:common])])
        shared = [(first, max(start, common))]
        for seq, start in placed[1:]:
            if start < common:
                share(self.llama, first, seq, common)
            shared.append((seq, max(start, common)))
        return shared

    def _branch_entries(
        self, prompt: list[int], start: int, seq: int, continuations: list[list[int]], spare: Iterator[int]
    ) -> tuple[list[Entry], list[int]]:
        """Batch entries for `prompt[start:]` on `seq` (every first token read at its last one) and
        for each continuation of two or more tokens, on a branch sequence holding the prompt; the
        branches."""
        longer = [cont for cont in continuations if len(cont) > 1]
        branches = [next(spare) for _ in longer]
        for branch in branches:
            share(self.llama, seq, branch, start)
        firsts = tuple(cont[0] for cont in continuations)
        last = len(prompt) - 1
        entries = [Entry(t, start + i, (seq, *branches), firsts if start + i == last else ())
                   for i, t in enumerate(prompt[start:])]
        for branch, cont in zip(branches, longer):
            entries += [Entry(t, len(prompt) + i, (branch,), (cont[i + 1],)) for i, t in enumerate(cont[:-1])]
        return entries, branches

    @staticmethod
    def _split(rows: list[np.ndarray], continuations: list[list[int]]) -> list[np.ndarray]:
        """Each continuation's per-token log-probs from what `_branch_entries` asked for: the
        prompt's last row (every first token), then each longer continuation's own rows."""
        results, index = [], 1
        for number, cont in enumerate(continuations):
            values = [float(rows[0][number])]
            for _ in cont[1:]:
                values.append(float(rows[index][0]))
                index += 1
            results.append(np.asarray(values, dtype=np.float64))
        return results

    def _score_one_by_one(self, prompt: list[int], continuations: list[list[int]]) -> list[np.ndarray]:
        """The same on a context with one sequence: the prompt, then each continuation after it."""
        first = log_softmax(self._prefill(prompt))
        step = max(1, int(getattr(self.llama, "n_batch", 512)))
        results = []
        for cont in continuations:
            values = [float(first[cont[0]])]
            rest = cont[:-1]
            for at in range(0, len(rest), step):
                rows = self._decode_rows(rest[at : at + step], len(prompt) + at)
                values += [float(log_softmax(row)[token]) for row, token in zip(rows, cont[at + 1 :])]
            results.append(np.asarray(values))
        return results

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
