"""The verifier flags shared by `data audit`, `data label` and `optimize`: `--verifier SPEC` (any
`--reflection` model spec), `--verifier-timeout`, `--verifier-key-env`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smolgepa.verifier.verifier_model import Verifier

VERIFIER_HELP = ("a verifier model: any --reflection model spec (llamacpp:URL, openai:MODEL@URL, lmstudio:MODEL, "
                 "litellm:MODEL, ...), asked in plain text which label fits")


def add_verifier_flags(parser: argparse.ArgumentParser, required: bool = False, help_text: str = VERIFIER_HELP,
                       unset: bool = False) -> None:
    """Add `--verifier` and its connection flags (`unset`: no defaults, for `optimize --resume`)."""
    parser.add_argument("--verifier", metavar="SPEC", required=required, help=help_text)
    parser.add_argument("--verifier-timeout", type=float, default=None if unset else 120.0, metavar="SECONDS",
                        help="seconds before a verifier call is given up (default 120)")
    parser.add_argument("--verifier-key-env", metavar="NAME", help="environment variable holding the verifier's API key")


def verifier_from_args(args: argparse.Namespace) -> Verifier:
    """The verifier the flags name (nothing is contacted yet)."""
    from smolgepa.verifier.verifier_model import Verifier

    return Verifier.from_spec(args.verifier, timeout=args.verifier_timeout, key_env=args.verifier_key_env)
