"""The student flags, defined once for every command that runs a student (`eval`, `compare`,
`optimize`, `predict`): the spec, decoding, server settings, the response cache and the model file
(`--exact-model`, `--model-format`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from smolgepa.student_settings import StudentSettings

if TYPE_CHECKING:
    from smolgepa.lm import StudentOptions

STUDENT_HELP = "embedded (default), gguf:PATH, lmstudio:MODEL, openai:MODEL@URL, ..."
DECODE_HELP = (
    "free: parse a label from the text; constrained: output restricted to the labels; "
    "scored: the label with the highest log-likelihood; embedded student and llama.cpp servers only: "
    "channel: the label under which the input text is most likely (Min et al. 2022); "
    "knn: the vote of the nearest training examples' answer distributions (Xu et al. 2023); "
    "ensemble: scored, averaged over one-demo prompts; embedded student only: "
    "probe: a logistic regression on the answer distribution, fitted on the training examples'; "
    "hidden: the same on the model's hidden states (default free)"
)
CALIBRATE_HELP = (
    "--calibrate: with scored, contextual calibration from content-free inputs (Zhao et al. 2021); "
    "--calibrate train: with scored, channel or ensemble, per-label offsets fitted on the train split"
)
KNN_K_HELP = "with --decode knn: neighbours that vote (default 12)"
THREADS_HELP = "examples answered at once; for a server student, requests in flight (default 1)"
NO_CACHE_HELP = "bypass the disk response cache ($SMOLGEPA_CACHE_DIR or ~/.cache/smolgepa)"
EXACT_MODEL_HELP = ("answer from the model file as given: for embedded the shipped Q4_1 file, not the faster "
                    "re-encoding chosen for this CPU on first use (answers can differ slightly)")
MODEL_FORMAT_HELP = ("the re-encoding of the embedded student's shipped file to answer from, instead of the one "
                     "chosen for this CPU on first use: the same format answers most alike on every CPU")
FAST_MODEL_HELP = "deprecated: the embedded student is re-encoded by default; with gguf:PATH, re-encode that file too"


def add_student_flags(parser: argparse.ArgumentParser, unset: bool = False, response_cache: bool = True) -> None:
    """`--student`, `--max-tokens`, the decode flags, the server flags, `--threads`, `--no-cache`,
    `--exact-model`, `--model-format` and `--fast-model`. With `unset`, every flag defaults to None ("not
    given"), so that `optimize --resume` can tell the flags a user gave from the settings saved in the run directory. Without
    `response_cache` there is no `--no-cache`: `optimize` answers from its run directory's own cache
    (exact resume) and uses the disk response cache only when its `response_cache` setting says so."""
    from smolgepa.lm.readings.reading import DECODE_MODES
    from smolgepa.lm.local.reencode import CANDIDATES

    add = parser.add_argument
    flag = {"action": "store_const", "const": True, "default": None} if unset else {"action": "store_true"}
    add("--student", default=None if unset else "embedded", help=STUDENT_HELP)
    add("--max-tokens", type=int, default=None, help="completion token limit for the student")
    add("--reading", "--decode", dest="decode", choices=list(DECODE_MODES), default=None if unset else "free",
        help="how the student's answer is read (--decode is the same flag): " + DECODE_HELP)
    add("--calibrate", nargs="?", const="content-free", choices=["content-free", "train"], default=None,
        help=CALIBRATE_HELP)
    add("--knn-k", type=int, default=None, metavar="K", help=KNN_K_HELP)
    add("--threads", type=int, default=None if unset else 1, help=THREADS_HELP)
    add_server_flags(parser)
    if response_cache:
        add("--no-cache", help=NO_CACHE_HELP, **flag)
    add("--exact-model", help=EXACT_MODEL_HELP, **flag)
    add("--model-format", choices=list(CANDIDATES), default=None, help=MODEL_FORMAT_HELP)
    add("--fast-model", help=FAST_MODEL_HELP, **flag)


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """`--timeout`, `--retries`, `--backoff` and `--api-key-env` for a student behind a server (default None: not
    given). Concurrency is `--threads`; see smolgepa.lm.student."""
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="server students: seconds to wait for one answer before retrying (default 120)")
    parser.add_argument("--retries", type=int, default=None, metavar="N",
                        help="server students: retries of a failed request, with backoff (default 8)")
    parser.add_argument("--backoff", type=float, default=None, metavar="SECONDS",
                        help="server students: the first wait before a retry; each later wait doubles, with "
                             "jitter, up to 30 s (default 0.5)")
    parser.add_argument("--api-key-env", default=None, metavar="NAME",
                        help="server students: environment variable holding the API key (the key is never saved)")


def student_settings(args: argparse.Namespace) -> StudentSettings:
    """The StudentSettings of parsed student flags (the response cache is on unless `--no-cache`)."""
    return StudentSettings(
        student=args.student,
        max_tokens=args.max_tokens,
        decode=args.decode,
        calibrate=args.calibrate is not None,
        calibration=args.calibrate or "content-free",
        knn_k=args.knn_k,
        timeout=args.timeout,
        retries=args.retries,
        backoff=args.backoff,
        api_key_env=args.api_key_env,
        threads=args.threads,
        cache=not args.no_cache,
        exact_model=bool(args.exact_model),
        fast_model=bool(args.fast_model),
        model_format=args.model_format,
    )


def student_options(
    args: argparse.Namespace, labels: Sequence[str], train_examples: Sequence[tuple[str, str]] = ()
) -> StudentOptions:
    """StudentOptions from the student flags; `train_examples` feed knn, ensemble and `--calibrate train`."""
    return student_settings(args).options(labels, train_examples)


def given_student_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The StudentSettings fields of the student flags given (parsed with `unset`): the changes to
    settings saved elsewhere (a run's, for `predict`). The response cache is on unless `--no-cache`."""
    names = {"student": "student", "max_tokens": "max_tokens", "decode": "decode", "knn_k": "knn_k",
             "timeout": "timeout", "retries": "retries", "api_key_env": "api_key_env", "threads": "threads",
             "exact_model": "exact_model", "fast_model": "fast_model", "model_format": "model_format"}
    given: dict[str, Any] = {field: getattr(args, flag) for flag, field in names.items()
                             if getattr(args, flag, None) is not None}
    if args.calibrate is not None:
        given.update(calibrate=True, calibration=args.calibrate)
    given["cache"] = not getattr(args, "no_cache", None)
    return given
