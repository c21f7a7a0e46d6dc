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
