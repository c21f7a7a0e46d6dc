"""Evaluation: a student on task examples (`evaluate`), reading a label out of free text (`labels`),
failure diagnostics, honest statistics, the terminal display, and the baselines an optimized
prompt is held against (`baselines` without a language model, `dspy_compare` DSPy's own few-shot
optimizers, over `tfidf`)."""
