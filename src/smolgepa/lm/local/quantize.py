"""Faster prefill: a low-bit GGUF file re-encoded once (Q8_0, BF16, ...) with llama.cpp's own quantizer.

Which format the embedded student uses by default is decided per CPU by `smolgepa.lm.local.reencode`.

llama.cpp's CPU matrix kernels for Q8_0 prefill much faster than its Q4_1 ones: about 1.6-2x
here for SmolLM2-135M, with the same decode speed; the file grows from 98 to 145 MB (F16 and F32
copies prefill as fast but decode 30-50% slower). The conversion re-quantizes the already
quantized weights (dequantize, then round to 8 bits), which moves each weight by at most 1/254
of its 32-weight block's largest magnitude.

That is enough to change answers of a 135M model (the bar is accuracy, not identical answers). On the built-in
`sentiment` and `sentiment-extended` tasks (178 examples, all splits, when `sentiment-extended`
had its first 156 examples; temperature 0, seed instruction, on the 2-core AMD EPYC development
machine) the Q8_0 copy gave a different label on 33/178 examples with free decoding (accuracy
45/178 both ways) and on 17/178 with calibrated scored decoding (accuracy 76/178 before, 73/178
after). Uncalibrated scored decoding agreed on all 178, but only because it answered `positive`
for every example either way. Turning off the default KV prefix reuse, by contrast, changed no
completion at all (178/178 identical text). No conversion can be identical: even an exact F32 copy
of the Q4_1 weights changed 19/178 free-decoding labels, because Q4_1's kernels also round the
activations to 8 bits and the F32 ones do not. tests/test_quantize.py keeps the disagreement on
`sentiment` under 20%.

The converted file is kept in `<cache dir>/models/` ($SMOLGEPA_MODELS_DIR), named by the source
file's sha256 and the format; a lock file keeps concurrent processes from converting twice, the
result appears atomically, and a record beside it (`.json`: size, sha256) lets a truncated or
corrupt copy be noticed and rebuilt.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import struct
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from smolgepa.jsonfiles import write_text_atomic
from smolgepa.locks import file_lock
from smolgepa.lm.cache_home import cache_dir
from smolgepa.lm.local.model_files import check_model_file, file_digest, sha256_of

log = logging.getLogger(__name__)

FTYPE_Q8_0 = 7  # llama_ftype LLAMA_FTYPE_MOSTLY_Q8_0
MODELS_ENV = "SMOLGEPA_MODELS_DIR"
# llama_ftype values worth converting: the 4- to 6-bit legacy and K quantizations.
CONVERTIBLE_FTYPES = {
    2: "Q4_0", 3: "Q4_1", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L",
    14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 21: "Q2_K_S",
}  # fmt: skip

# GGUF metadata value types: fixed sizes (struct formats); 8 is a string, 9 an array.
_GGUF_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_GGUF_SIZES = {kind: struct.calcsize("<" + fmt) for kind, fmt in _GGUF_FIXED.items()}
_GGUF_STRING, _GGUF_ARRAY = 8, 9
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")


def gguf_file_type(path: Path) -> int | None:
    """The `general.file_type` (a llama_ftype) in a GGUF file's header, or None if absent or unreadable."""
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _header_file_type(data)
    except (OSError, struct.error, UnicodeDecodeError, ValueError):
        return None


def _header_file_type(data: mmap.mmap) -> int | None:
    """`general.file_type` from GGUF bytes; struct.error where the header runs past the end."""
    if data[:4] != b"GGUF":
        return None
    version, _tensors, kv_count = struct.unpack_from("<IQQ", data, 4)
    if version < 2:
        return None
    offset = 24
    for _ in range(kv_count):
        length = _U64.unpack_from(data, offset)[0]
        key = data[offset + 8 : offset + 8 + length].decode("utf-8")
        (value_type,) = _U32.unpack_from(data, offset + 8 + length)
        offset += 12 + length
        if key == "general.file_type" and value_type in _GGUF_FIXED:
            return int(struct.unpack_from("<" + _GGUF_FIXED[value_type], data, offset)[0])
        offset = _skip_value(data, offset, value_type)
    return None


def _skip_value(data: mmap.mmap, offset: int, value_type: int) -> int:
    """The offset just past the value of `value_type` at `offset`. Walked in memory: the tokenizer's
    arrays hold ~100,000 strings, and reading each length from the file took ~43 ms per header (11 ms here)."""
    if value_type in _GGUF_SIZES:
        return offset + _GGUF_SIZES[value_type]
    if value_type == _GGUF_STRING:
        return offset + 8 + _U64.unpack_from(data, offset)[0]
    if value_type != _GGUF_ARRAY:
        raise ValueError(f"unknown GGUF value type {value_type}")
    (item_type,), (count,) = _U32.unpack_from(data, offset), _U64.unpack_from(data, offset + 4)
    offset += 12
    if item_type in _GGUF_SIZES:
        return offset + count * _GGUF_SIZES[item_type]
    if item_type == _GGUF_STRING:
        string_length = _U64.unpack_from
        for _ in range(count):
            offset += 8 + string_length(data, offset)[0]
        return offset
    for _ in range(count):
        offset = _skip_value(data, offset, item_type)
    return offset


# Formats a copy can be re-encoded to: name -> llama_ftype (LLAMA_FTYPE_MOSTLY_*).
TARGET_FTYPES = {"F16": 1, "Q4_0": 2, "Q8_0": FTYPE_Q8_0, "BF16": 32}


def models_dir(directory: Path | None = None) -> Path:
    """Where re-encoded copies live: `<directory or the cache dir>/models`, or $SMOLGEPA_MODELS_DIR."""
    if directory is not None:
        return directory / "models"
    explicit = os.environ.get(MODELS_ENV, "").strip()
    return Path(explicit).expanduser() if explicit else cache_dir() / "models"


def converted_path(source: Path, directory: Path | None = None, fmt: str = "Q8_0") -> Path:
    """Where the `fmt` copy of `source` is kept: named by the source's sha256."""
    return models_dir(directory) / f"{source.stem}.{file_digest(source)[:16]}.{fmt}.gguf"


def fast_model_path(path: str | Path, directory: str | Path | None = None, fmt: str = "Q8_0") -> Path:
    """A faster-prefilling `fmt` copy of a low-bit GGUF file, converted on first use; else `path` itself.

    Returns `path` unchanged when its quantization is not one worth converting (Q8_0, F16, ...),
    and warns and returns it when the conversion fails (no space, read-only cache, ...).
    """
    source = check_model_file(Path(path))
    if gguf_file_type(source) not in CONVERTIBLE_FTYPES:
        return source
    try:
        return reencoded(source, fmt, Path(directory) if directory is not None else None)
    except (OSError, RuntimeError) as exc:
        return original_after_failure(source, f"convert {source} to {fmt}", exc)


def original_after_failure(source: Path, what: str, exc: Exception) -> Path:
    """`source`, after warning that `what` (the conversion) failed with `exc` and how to get the copy."""
    message = (
        f"Could not {what} for faster prefill ({exc}); using the original file. "
        "Set SMOLGEPA_CACHE_DIR to a writable directory with 300 MB free to get the faster copy."
    )
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    log.warning(message)
    return source


def reencoded(source: Path, fmt: str, directory: Path | None = None) -> Path:
    """The verified `fmt` copy of `source`, converted (once, under a lock) if absent, half-written
    or corrupt. Raises OSError or RuntimeError when the conversion fails."""
    target = converted_path(source, directory, fmt)
    if copy_is_intact(target, fmt):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_name(target.name + ".lock")):
        if not copy_is_intact(target, fmt):  # another process may have finished while we waited
            _convert(source, target, fmt)
    return target


def copy_is_intact(path: Path, fmt: str) -> bool:
    """`path` is a whole `fmt` copy: its record beside it (`.json`) matches its size and type, and
    its sha256 too whenever its modification time moved since the record was written."""
    record = _read_record(path)
    if record is None or not path.is_file() or record.get("format") != fmt:
        return False
    stat = path.stat()
    if stat.st_size != record.get("size") or gguf_file_type(path) != TARGET_FTYPES[fmt]:
        return False
    return stat.st_mtime_ns == record.get("mtime_ns") or sha256_of(path) == record.get("sha256")


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _convert(source: Path, target: Path, fmt: str) -> None:
    """Re-encode `source` as `fmt` into a temporary file, move it to `target` atomically, then write
    its record (size, sha256) beside it: a copy without a matching record is rebuilt."""
    import ctypes

    import llama_cpp

    from smolgepa.lm.local.native_log import route_native_logs

    route_native_logs()  # the per-tensor lines are llama.cpp's info: logged, not printed
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = TARGET_FTYPES[fmt]
    params.allow_requantize = True  # the source tensors are already quantized (Q4_1 and friends)
    target.with_name(target.name + ".json").unlink(missing_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temp = Path(temp_name)
    print(f"smolgepa: re-encoding {source.name} as {fmt} into {target.parent} (once)...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(temp).encode(), ctypes.byref(params))
        if status != 0 or gguf_file_type(temp) != TARGET_FTYPES[fmt]:
            raise RuntimeError(f"llama_model_quantize returned {status}")
        os.chmod(temp, 0o644)  # mkstemp creates 0600; the copy is as readable as the original
        record = {"format": fmt, "size": temp.stat().st_size, "sha256": sha256_of(temp),
                  "source": str(source), "source_sha256": file_digest(source)}
        os.replace(temp, target)
        record["mtime_ns"] = target.stat().st_mtime_ns
        write_text_atomic(target.with_name(target.name + ".json"), json.dumps(record, indent=2) + "\n")
        print(f"smolgepa: re-encoded in {time.monotonic() - started:.1f}s: {target.name}", file=sys.stderr, flush=True)
        log.info("converted %s to %s", source, target)
    finally:
        temp.unlink(missing_ok=True)
