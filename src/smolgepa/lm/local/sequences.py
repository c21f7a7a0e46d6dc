"""Several KV sequences in one llama.cpp context, for scoring many continuations in one forward pass.

llama-cpp-python keeps one sequence (0): the last prompt, which its `input_ids`/`n_tokens` describe.
The embedded context is made with more sequences sharing one unified KV buffer (`enable_sequences`),
so every sequence may still use the whole context and shared prefixes share their KV cells:
- BRANCHES are temporary: a label's tokens after a prompt, each label on its own sequence, all in
  the same batch as the prompt; they are removed after every call.
- KEPT sequences hold prompts between calls (ensemble demonstrations, the channel's label turns),
  so the next query only evaluates what follows their common prefix. llama-cpp-python's own `eval`
  drops every sequence's cells from its prompt's end on; `Kept.valid` notices what is left.
- Every scoring call first drops the cells it does not reuse (a call on sequence 0 alone drops the
  kept prompts; a kept batch drops sequence 0 past what it shares and the unused kept sequences):
  leftover cells decide where the new cells go, and llama.cpp's attention rounds by cell index, so
  scores would depend on what was scored before (`LabelScorer._only_reused`).
Cost: llama.cpp's attention runs over every cell in use, whichever sequence holds it (measured on the
Xeon: 18 tokens cost 10% more beside 400 other cells, 30% more beside 1000), so kept prompts store
their common prefix once (`LabelScorer._share_common_prefix`) and branches are removed at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SEQUENCES = 64
KEPT = tuple(range(1, 16))
BRANCHES = tuple(range(16, SEQUENCES))


def enable_sequences(llama: Any, count: int = SEQUENCES) -> None:
    """Remake `llama`'s (still empty) context with `count` sequences in one unified KV buffer."""
    from llama_cpp import _internals

    params = llama.context_params
    params.n_seq_max = count
    params.kv_unified = True  # one buffer: each sequence can use all n_ctx cells, shared prefixes share cells
    # llama-cpp-python sets n_seq_max only for embeddings: swap in a context made with ours.
    context = _internals.LlamaContext(model=llama._model, params=params, verbose=llama.verbose)  # noqa: SLF001
    old = llama._ctx  # noqa: SLF001
    llama._ctx = llama._stack.enter_context(contextlib.closing(context))  # noqa: SLF001
    old.close()


def sequence_count(llama: Any) -> int:
    """How many sequences the context holds (1 for a plain `Llama`)."""
    import llama_cpp

    return int(llama_cpp.llama_n_seq_max(llama.ctx))


def memory(llama: Any) -> Any:
    import llama_cpp

    return llama_cpp.llama_get_memory(llama.ctx)


def drop(llama: Any, seq: int, start: int = 0) -> None:
    """Remove sequence `seq`'s cells from position `start` on (cells other sequences share stay)."""
    import llama_cpp

    llama_cpp.llama_memory_seq_rm(memory(llama), seq, start, -1)


def share(llama: Any, source: int, target: int, length: int) -> None:
    """Make `target` hold `source`'s first `length` positions (the same cells, nothing recomputed)."""
    import llama_cpp

    drop(llama, target)
    if length > 0:
        llama_cpp.llama_memory_seq_cp(memory(llama), source, target, 0, length)


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities from raw logits (float64 for stable sums)."""
    values = logits.astype(np.float64)
    top = values.max()
    return values - top - np.log(np.exp(values - top).sum())


@dataclass
class Entry:
    """One token of a batch: its position, the sequences it belongs to, and the tokens whose
    log-probabilities are read from its logits (none: its logits are not computed)."""

    token: int
    pos: int
    seqs: tuple[int, ...]
    want: tuple[int, ...] = ()


class DecodeFailed(Exception):
    """llama_decode refused a batch (no room left in the KV cache, or an error)."""


def decode(llama: Any, entries: Sequence[Entry]) -> list[np.ndarray]:
    """Evaluate `entries` in batches of at most n_batch tokens, in order; for each entry that wants
    some, the log-probabilities of its wanted next tokens (each row is read and let go at once)."""
    import llama_cpp

    n_vocab = llama.n_vocab()
    step = max(1, int(getattr(llama, "n_batch", 512)))
    wanted: list[np.ndarray] = []
    for start in range(0, len(entries), step):
        chunk = entries[start : start + step]
        width = max(len(entry.seqs) for entry in chunk)
        batch = llama_cpp.llama_batch_init(len(chunk), 0, width)
        try:
            batch.n_tokens = len(chunk)
            for i, entry in enumerate(chunk):
                batch.token[i] = entry.token
                batch.pos[i] = entry.pos
                batch.n_seq_id[i] = len(entry.seqs)
                for j, seq in enumerate(entry.seqs):
                    batch.seq_id[i][j] = seq
                batch.logits[i] = bool(entry.want)
            status = llama_cpp.llama_decode(llama.ctx, batch)
            llama._requires_eval = True  # noqa: SLF001 - its last logits are no longer sequence 0's
            if status != 0:
                raise DecodeFailed(f"llama_decode returned {status}")
        finally:
            llama_cpp.llama_batch_free(batch)
        for i, entry in enumerate(chunk):
            if entry.want:
                row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama.ctx, i), shape=(n_vocab,))
                wanted.append(log_softmax(row)[list(entry.want)])
    return wanted


class Kept:
    """The prompts held in the KEPT sequences between calls (token lists, checked against the cache)."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.tokens: dict[int, list[int]] = {}

    def valid(self, seq: int) -> list[int]:
        """What `seq` still holds: its recorded prompt cut to the positions left in the KV cache."""
        import llama_cpp

        last = int(llama_cpp.llama_memory_seq_pos_max(memory(self.llama), seq))
        return self.tokens.get(seq, [])[: last + 1]

    def clear(self) -> None:
        for seq in KEPT:
            drop(self.llama, seq)
        self.tokens = {}

    def assign(self, prompts: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
        """A KEPT sequence for each prompt (at most len(KEPT)) and how many of its tokens are reused:
        the sequence whose kept prompt shares the longest prefix with it."""
        held = {seq: self.valid(seq) for seq in KEPT}
        chosen: list[tuple[int, int]] = []
        for prompt in prompts:
            free = [seq for seq in KEPT if seq not in {s for s, _ in chosen}]
            seq = max(free, key=lambda s: common_length(held[s], prompt))
            chosen.append((seq, common_length(held[seq], prompt)))
        return chosen
