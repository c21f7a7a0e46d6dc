"""The one exception type for errors a user can cause."""


class SmolgepaError(Exception):
    """A problem the user can fix: the message says what was wrong, where, and what to do.

    The CLI prints it as one line without a traceback (set SMOLGEPA_DEBUG=1 for the traceback).
    """


def find_user_error(exc: BaseException) -> SmolgepaError | None:
    """The SmolgepaError behind `exc`, if any: DSPy wraps engine exceptions in its own LM errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, SmolgepaError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class ContextOverflowError(SmolgepaError):
    """A prompt did not fit the student's context window: a property of this prompt, not a broken student."""

    def __init__(self, prompt_tokens: int | None, n_ctx: int | None, detail: str = "", where: str = "") -> None:
        size = f"{prompt_tokens} tokens" if prompt_tokens is not None else "too many tokens"
        window = f"context window ({n_ctx})" if n_ctx is not None else "context window"
        super().__init__(
            f"{where}The prompt has {size}, more than the student's {window} allows{detail}. "
            "Shorten the instruction or the input (a task's max_input_tokens limits its inputs)."
        )
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx


class DiskFullError(SmolgepaError):
    """A write failed because the filesystem (or the process's file size limit) is full; what was
    written before is intact, so a run stopped by it continues with --resume once there is space."""


class RunDirReplacedError(SmolgepaError):
    """The run directory was removed or replaced under a running process: nothing more is written
    there, and the run cannot simply be resumed (its records went with the directory)."""
