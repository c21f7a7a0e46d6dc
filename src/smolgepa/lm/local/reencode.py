"""The embedded student's default model file: a re-encoding of the shipped Q4_1 file, its format
chosen once per CPU and llama.cpp build by a short timed probe.

llama.cpp's Q4_1 CPU kernels prefill slowly; other formats it can write from the same weights run
1.5-2x faster, but which one is fastest depends on the CPU (BF16 where it has native BF16 and the
build uses it, Q8_0 on a portable AVX2 build). The probe converts each of `CANDIDATES` (most faithful
first), times a prefill of `PROBE_TOKENS` tokens with each and with the shipped file, and keeps the
most faithful candidate within `SPEED_MARGIN` of the fastest one; none at all (the shipped file)
when no candidate beats the shipped file by `MIN_GAIN`. The choice, with the probe's figures and
the llama.cpp build it ran on, is recorded in `<models dir>/<name>.<sha>.choice.json` and reused
until the source file or the build changes. F16 (decodes 30-50% slower than Q8_0) and Q4_0 (less
faithful than the shipped Q4_1) are not candidates.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from smolgepa.jsonfiles import write_text_atomic
from smolgepa.lm.local.model_files import check_model_file, file_digest
from smolgepa.lm.local.threads import default_threads
from smolgepa.lm.local.quantize import (
    CONVERTIBLE_FTYPES,
    converted_path,
    gguf_file_type,
    models_dir,
    original_after_failure,
    reencoded,
)
from smolgepa.locks import file_lock


# The default flip in one line: False keeps the shipped file as the embedded default (the re-encoded
# copy is then only used with --fast-model).
REENCODE_BY_DEFAULT = True
CANDIDATES = ("BF16", "Q8_0")  # most faithful first
SPEED_MARGIN = 0.9  # a more faithful format is kept if it is at least this fraction of the fastest's speed
MIN_GAIN = 1.1  # re-encode only if the chosen format prefills at least this much faster than the shipped file
PROBE_TOKENS = 192
PROBE_ROUNDS = 3
PROBE_DECODED = 8
SHIPPED = "shipped"
CHOICE_SCHEMA = 1


@dataclass(frozen=True)
class Choice:
    """The probe's decision for one source file: `format` (a CANDIDATES name, or `shipped`) and the
    prefill and decode speeds (tokens/s) it measured for each file, keyed by format (the source: `shipped`)."""

    format: str
    speeds: dict[str, dict[str, float]]
    source_sha256: str
    build: dict[str, str]
    prompt_tokens: int = PROBE_TOKENS
    threads: int = 0
    date: str = ""


def build_identity() -> dict[str, str]:
    """The llama-cpp-python version and the kernels its llama.cpp build uses on this CPU."""
    import llama_cpp

    return {"llama_cpp_python": metadata.version("llama_cpp_python"),
            "system_info": llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip()}


def choice_path(source: Path, directory: Path | None = None) -> Path:
    return models_dir(directory) / f"{source.stem}.{file_digest(source)[:16]}.choice.json"


def read_choice(source: Path, directory: Path | None = None) -> Choice | None:
    """The recorded choice for `source`, if it was made on this build (else None: probe again)."""
    try:
        data = json.loads(choice_path(source, directory).read_text(encoding="utf-8"))
        if data.pop("schema_version", None) != CHOICE_SCHEMA:
            return None
        choice = Choice(**data)
    except (OSError, ValueError, TypeError):
        return None
    if choice.source_sha256 != file_digest(source) or choice.build != build_identity():
        return None
    return choice


def choose_format(source: Path, directory: Path | None = None) -> Choice:
    """The recorded choice for `source`, or a new one from the probe (once, under a lock)."""
    choice = read_choice(source, directory)
    if choice is not None:
        return choice
    path = choice_path(source, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_name(path.name + ".lock")):
        choice = read_choice(source, directory)
        if choice is None:
            choice = probe(source, directory)
            write_text_atomic(path, json.dumps({"schema_version": CHOICE_SCHEMA, **asdict(choice)}, indent=2) + "\n")
    return choice


def probe(source: Path, directory: Path | None = None) -> Choice:
    """Convert every candidate, time a prefill with each and with `source`, and choose (see the module)."""
    print(f"smolgepa: timing model formats for this CPU (once, about 10-30 s); the result is kept in "
          f"{models_dir(directory)}", file=sys.stderr, flush=True)
    threads = default_threads()
    files = {SHIPPED: source, **{fmt: reencoded(source, fmt, directory) for fmt in CANDIDATES}}
    speeds = {name: {k: round(v, 1) for k, v in speed.items()} for name, speed in speeds_of(files, threads).items()}
    chosen = pick(speeds)
    for fmt in CANDIDATES:
        if fmt != chosen:  # keep only the chosen copy on disk
            for leftover in (files[fmt], files[fmt].with_name(files[fmt].name + ".json")):
                leftover.unlink(missing_ok=True)
    figures = ", ".join(f"{name} {speed['prefill']:.0f}/{speed['decode']:.0f}" for name, speed in speeds.items())
    print(f"smolgepa: prefill/decode tokens/s: {figures}; using {chosen}", file=sys.stderr, flush=True)
    return Choice(chosen, speeds, file_digest(source), build_identity(), PROBE_TOKENS, threads,
                  time.strftime("%Y-%m-%d"))


def pick(speeds: dict[str, dict[str, float]]) -> str:
    """The most faithful candidate within SPEED_MARGIN of the fastest candidate's prefill and decode
    speeds, if its prefill beats the shipped file's by MIN_GAIN; else `shipped`."""
    best = {kind: max(speeds[fmt][kind] for fmt in CANDIDATES) for kind in ("prefill", "decode")}
    fit = [fmt for fmt in CANDIDATES if all(speeds[fmt][kind] >= SPEED_MARGIN * best[kind] for kind in best)]
    chosen = fit[0] if fit else max(CANDIDATES, key=lambda fmt: speeds[fmt]["prefill"])
    return chosen if speeds[chosen]["prefill"] >= MIN_GAIN * speeds[SHIPPED]["prefill"] else SHIPPED


def speeds_of(files: dict[str, Path], threads: int) -> dict[str, dict[str, float]]:
    """Median tokens per second of PROBE_ROUNDS fresh prefills of PROBE_TOKENS tokens (`prefill`), and of
    decoding PROBE_DECODED more one by one (`decode`), with each file; the files take turns round by
    round, so a change in the machine's load hits all alike."""
    import contextlib

    from llama_cpp import Llama

    from smolgepa.lm.local.native_log import route_native_logs

    route_native_logs()  # each freed context reports its compute buffer at llama.cpp's warning level
    with contextlib.ExitStack() as stack:
        models = {name: Llama(model_path=str(path), n_ctx=512, n_threads=threads, n_threads_batch=threads,
                              verbose=False) for name, path in files.items()}
        for llama in models.values():
            stack.callback(llama.close)
        text = " ".join(f"Sentence {i}: the review says the product works well enough." for i in range(64))
        tokens = next(iter(models.values())).tokenize(text.encode("utf-8"), add_bos=False)[:PROBE_TOKENS]
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
        for round_ in range(PROBE_ROUNDS + 1):  # the first round warms up
            for name, llama in models.items():
                llama.reset()
                started = time.perf_counter()
                llama.eval(tokens)
                prefilled = time.perf_counter()
                for token in tokens[:PROBE_DECODED]:  # one token at a time, as decoding does
                    llama.eval([token])
                if round_:
                    timings[name].append((len(tokens) / (prefilled - started),
                                          PROBE_DECODED / (time.perf_counter() - prefilled)))
        return {name: {"prefill": statistics.median(p for p, _ in values),
                       "decode": statistics.median(d for _, d in values)} for name, values in timings.items()}


def default_model_file(path: str | Path, directory: str | Path | None = None) -> Path:
    """The file a student on `path` answers from by default: the probe's re-encoding of a low-bit
    file, else `path` itself (a format not worth converting, the probe chose the shipped file, or
    the conversion failed: then with a warning)."""
    source = check_model_file(Path(path))
    if gguf_file_type(source) not in CONVERTIBLE_FTYPES:
        return source
    where = Path(directory) if directory is not None else None
    try:
        choice = choose_format(source, where)
        return source if choice.format == SHIPPED else reencoded(source, choice.format, where)
    except (OSError, RuntimeError) as exc:
        return original_after_failure(source, f"re-encode {source}", exc)


def model_file_record(path: str | Path) -> dict[str, Any]:
    """Which file answers: path, format (GGUF file type name), size and sha256, for run records."""
    file = Path(path)
    names = {**CONVERTIBLE_FTYPES, 0: "F32", 1: "F16", 7: "Q8_0", 32: "BF16"}
    file_type = gguf_file_type(file)
    return {"path": str(file), "format": names.get(file_type, str(file_type)) if file_type is not None else None,
            "size": file.stat().st_size, "sha256": file_digest(file)}

__all__ = ["REENCODE_BY_DEFAULT", "Choice", "choose_format", "converted_path", "default_model_file",
           "model_file_record", "pick", "probe"]
