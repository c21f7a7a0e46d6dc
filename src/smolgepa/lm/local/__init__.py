"""The local model: the embedded llama.cpp engine (`embedded`), label scoring in-process
(`label_scorer`) over KV sequences (`sequences`, `kv`), hidden states, and the model file and its
formats (`model_files`, `quantize`, `reencode`)."""
