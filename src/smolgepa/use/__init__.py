"""Using what a run optimized: the run read back (`optimized`), a classifier (`classifier`,
`smolgepa.load`), the label scores behind each answer (`score_tap`), and JSONL in, JSONL out
(`predict_stream`)."""
