"""A verifier model: a stronger model (any `--reflection` model spec) asked in plain text which label
fits a text. `verifier_model.py` makes the calls (cached when a run directory keeps them) and counts
junk replies, `verifier_prompts.py` writes the three questions (label, judge a given label, explain a
gold label), `verifier_replies.py` reads a reply leniently: a label word, then a reason; `limits.py` holds
how long a reply and a call may take."""
