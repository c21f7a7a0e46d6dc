"""Data you can trust: auditing a task's labels (`audit.py`, over out-of-fold label probabilities from
`fold_probs.py` and confident learning in `confident.py`) and writing a corrected copy (`corrected.py`).
Commands over a task, never changes to it: they write new files."""
