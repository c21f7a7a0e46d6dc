"""The one exception type for errors a user can cause."""


class SmolgepaError(Exception):
    """A problem the user can fix: the message says what was wrong, where, and what to do.

    The CLI prints it as one line without a traceback (set SMOLGEPA_DEBUG=1 for the traceback).
    """
