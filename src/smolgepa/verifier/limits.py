"""How long a verifier may take: tokens per reply and seconds per call (light, for the CLI's flags)."""

MAX_TOKENS = 64  # a label word and one line (--verifier-max-tokens)
TIMEOUT = 120.0  # seconds per call (--verifier-timeout)
