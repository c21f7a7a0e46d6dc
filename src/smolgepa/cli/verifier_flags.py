"""The verifier flags shared by `data audit`, `data label` and `optimize`: `--verifier SPEC` (any
`--reflection` model spec), `--verifier-timeout`, `--verifier-max-tokens`, `--verifier-key-env`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from smolgepa.verifier.limits import MAX_TOKENS, TIMEOUT

if TYPE_CHECKING:
    from smolgepa.verifier.verifier_model import Verifier

VERIFIER_HELP = ("a verifier model: any --reflection model spec (llamacpp:URL, openai:MODEL@URL, lmstudio:MODEL, "
                 "litellm:MODEL, ...), asked in plain text which label fits")


def add_verifier_flags(parser: argparse.ArgumentParser, required: bool = False, help_text: str = VERIFIER_HELP,
                       unset: bool = False) -> None:
    """Add `--verifier` and its connection flags (`unset`: no defaults, for `optimize --resume`)."""
    parser.add_argument("--verifier", metavar="SPEC", required=required, help=help_text)
    parser.add_argument("--verifier-timeout", type=float, default=None if unset else TIMEOUT, metavar="SECONDS",
                        help=f"seconds before a verifier call is given up (default {TIMEOUT:g})")
    parser.add_argument("--verifier-max-tokens", type=int, default=None if unset else MAX_TOKENS, metavar="N",
                        help=f"tokens a verifier reply may take: a label word and one line (default {MAX_TOKENS}; "
                             "fewer for a small model that repeats itself)")
    parser.add_argument("--verifier-key-env", metavar="NAME", help="environment variable holding the verifier's API key")


def verifier_from_args(args: argparse.Namespace) -> Verifier:
    """The verifier the flags name (nothing is contacted yet)."""
    from smolgepa.verifier.verifier_model import Verifier

    return Verifier.from_spec(args.verifier, timeout=args.verifier_timeout, max_tokens=args.verifier_max_tokens,
                              key_env=args.verifier_key_env)
